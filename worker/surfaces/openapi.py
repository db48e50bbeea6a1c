"""The OpenAPI 3.1 description served at `GET /openapi.json`.

Request bodies are the vendored Workers AI schema itself, combined (`allOf`) with the few rules the
gateway adds (see `worker.dialects.validation`), so that a contract tester generates exactly what we accept.
Every error response is described with the shape it really has.
"""

from __future__ import annotations

from typing import Any, get_args

from worker.config.models import ModelTable
from worker.core.ir import ReasoningMode, ResponseShape
from worker.dialects.limits import INT_MAX
from worker.dialects.validation import IMAGE_PREFIX, INPUT_SCHEMA, RAW_EXCLUDES, ROLES, SHARED_FIELDS
from worker.surfaces.admin_openapi import ADMIN_SCHEMAS, admin_paths
from worker.surfaces.openapi_paths import (
    SECURITY_SCHEMES,
    SHAPE_RULE,
    WINDOW_RULE,
    surface_paths,
    surface_schemas,
)

GATEWAY_RULES: dict[str, Any] = {
    "description": "Rules the gateway adds to the published schema (see docs/surfaces.md, 'Validation').",
    "allOf": [
        SHARED_FIELDS,
        {
            "if": {"required": ["raw"], "properties": {"raw": {"const": True}}},
            "then": {"not": {"anyOf": [{"required": [name]} for name in RAW_EXCLUDES]}},
        },
    ],
    "not": {"required": ["prompt", "messages"]},
    "properties": {
        "messages": {
            "items": {
                "required": ["role"],
                "properties": {
                    "role": {"enum": sorted(ROLES)},
                    "content": {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/ContentPart"}},
                            {"$ref": "#/components/schemas/ContentPart"},
                        ]
                    },
                },
            }
        },
        "functions": False,
        # Every number of a body fits a signed 64-bit integer (worker/dialects/limits.py).
        "max_tokens": {"minimum": 1, "maximum": INT_MAX},
        "tools": {
            "items": {
                "if": {"required": ["name"]},
                "then": {"properties": {"name": {"minLength": 1}}},
                "else": {"properties": {"function": {"properties": {"name": {"minLength": 1}}}}},
            }
        },
    },
}

CONTENT_PART: dict[str, Any] = {
    "type": "object",
    "description": "A text part, or an image part whose image_url.url is a data:image/ URI.",
    "properties": {"image_url": {"properties": {"url": {"pattern": f"^{IMAGE_PREFIX}"}}}},
    "if": {"properties": {"type": {"const": "image_url"}}, "required": ["type"]},
    "then": {"required": ["image_url"], "properties": {"image_url": {"required": ["url"]}}},
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, for a person."},
        "detail": {"description": "Violations (path and message) or other specifics."},
    },
}

USAGE: dict[str, Any] = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "completion_tokens_details": {"type": "object"},
        "estimated": {"type": "boolean"},
        "estimated_cost": {
            "type": "number",
            "minimum": 0,
            "description": "US dollars at the model's prices per million tokens (docs/keys.md).",
        },
    },
}

WORKERS_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["response", "usage"],
    "properties": {
        "response": {"type": "string"},
        "reasoning": {"type": "string", "description": "QwQ's reasoning, in reasoning mode `separate`."},
        "usage": {"$ref": "#/components/schemas/Usage"},
        "tool_calls": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "arguments"],
                "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
            },
        },
    },
}

CHOICES_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices", "usage"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "chat.completion"},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": {"type": "object", "required": ["index", "message", "finish_reason"]},
        },
        "usage": {"$ref": "#/components/schemas/Usage"},
    },
}


STREAM_EVENT: dict[str, Any] = {
    "type": "object",
    "description": 'One Server-Sent Event. `data` is JSON: `{"response": delta}` (Workers shape) or a '
    "`chat.completion.chunk` (choices shape), then a usage event; `[DONE]` ends a clean stream, an "
    '`{"error", "detail"}` event ends a failed one.',
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}


READINESS: dict[str, Any] = {
    "type": "object",
    "required": ["status", "models"],
    "properties": {
        "status": {"enum": ["ready", "unavailable"]},
        "models": {
            "type": "object",
            "description": "Per slug: `ready` and its targets (name, adapter, origin, model, breaker state).",
            "additionalProperties": {
                "type": "object",
                "required": ["ready", "targets"],
                "properties": {
                    "ready": {"type": "boolean"},
                    "targets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "adapter", "state"],
                            "properties": {
                                "state": {"enum": ["closed", "open", "half_open"]},
                                "consecutive_failures": {"type": "integer"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(table: ModelTable) -> dict[str, Any]:
    slug_operation: dict[str, Any] = {
        "operationId": "runModel",
        "summary": "Run a model (Workers AI input; `{response}` or OpenAI `choices` output)",
        "security": [{"bearer": []}],
        "parameters": [
            {
                "name": "modelSlug",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": sorted(table.entries)},
            },
            {
                "name": "shape",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(get_args(ResponseShape))},
                "description": "Answer shape; the deployment's RESPONSE_SHAPE when absent.",
            },
            {
                "name": "X-Response-Shape",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": list(get_args(ResponseShape))},
                "description": "The same choice as `shape`, as a header (the query parameter wins).",
            },
            {
                "name": "reasoning",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(get_args(ReasoningMode))},
                "description": "Where reasoning goes (or `X-Reasoning-Mode`); REASONING_MODE when absent.",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunInput"}}},
        },
        "responses": {
            "200": {
                "description": "The answer; `text/event-stream` when `stream` is true.",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/WorkersAnswer"},
                                {"$ref": "#/components/schemas/ChoicesAnswer"},
                            ]
                        }
                    },
                    "text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}},
                },
            },
            "400": _error("Invalid payload: every violation with its JSON pointer"),
            "401": _error("Missing or invalid API key"),
            "404": _error("No such model"),
            "413": _error("Body larger than MAX_BODY_BYTES"),
            "415": _error("Content-Type is not application/json"),
            "429": _error("The upstream is rate limiting; see Retry-After"),
            "499": _error("The client closed the request (logged only; the client never sees it)"),
            "500": _error("Upstream model error or unexpected failure"),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "qwq-gateway",
            "version": "0.1.0",
            "description": "An edge gateway for QwQ-32B speaking the Workers AI `POST /:modelSlug` contract.",
        },
        "paths": {
            "/{modelSlug}": {"post": slug_operation},
            **surface_paths(table),
            **admin_paths(table),
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "The process is alive",
                    "responses": {"200": {"description": "Alive", "content": {"application/json": {}}}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Configuration loaded; every model has a target its breaker lets through",
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {"application/json": {"schema": READINESS}},
                        },
                        "503": {
                            "description": "A model has no usable target (every circuit breaker open)",
                            "content": {"application/json": {"schema": READINESS}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (docs/operations.md); bearer METRICS_KEY when set",
                    "responses": {
                        "200": {"description": "Prometheus text format", "content": {"text/plain": {}}},
                        "401": _error("METRICS_KEY is set and the request does not carry it"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, **SECURITY_SCHEMES},
            "schemas": {
                "RunInput": {
                    "allOf": [INPUT_SCHEMA, GATEWAY_RULES],
                    "description": f"Also checked (400 when broken): {WINDOW_RULE} {SHAPE_RULE}",
                },
                "ContentPart": CONTENT_PART,
                "Error": ERROR,
                "Usage": USAGE,
                "StreamEvent": STREAM_EVENT,
                "WorkersAnswer": WORKERS_ANSWER,
                "ChoicesAnswer": CHOICES_ANSWER,
                **surface_schemas(),
                **ADMIN_SCHEMAS,
            },
        },
    }
