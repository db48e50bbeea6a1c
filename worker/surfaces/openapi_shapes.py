"""The pieces the OpenAPI description is made of: references into `components/schemas`, request
schemas moved there, and the answer and error shapes each surface really sends (used by `openapi_paths`).
"""

from __future__ import annotations

from typing import Any

COMPONENTS = "#/components/schemas/"


def relocated(node: Any, prefix: str) -> Any:
    """A copy of a schema whose `#/$defs/X` references point at `components/schemas/<prefix>X`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = COMPONENTS + prefix + value.removeprefix("#/$defs/")
            elif key not in ("$defs", "$schema"):
                out[key] = relocated(value, prefix)
        return out
    if isinstance(node, list):
        return [relocated(item, prefix) for item in node]
    return node


def components_of(schema: dict[str, Any], name: str, prefix: str) -> dict[str, Any]:
    out = {name: relocated(schema, prefix)}
    for def_name, sub in schema.get("$defs", {}).items():
        out[prefix + def_name] = relocated(sub, prefix)
    return out


def ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One Server-Sent Event; `data` is JSON in the surface's chunk shape, or `[DONE]`.",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}


def answer(schema: str) -> dict[str, Any]:
    return {
        "description": "The answer; `text/event-stream` when `stream` is true.",
        "content": {
            "application/json": {"schema": ref(schema)},
            "text/event-stream": {"schema": SSE_EVENT},
        },
    }


def errors(schema: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {status: json_response(text, schema) for status, text in statuses.items()}


CLOUDFLARE_FAILURE: dict[str, Any] = {
    "type": "object",
    "required": ["result", "success", "errors", "messages"],
    "properties": {
        "result": {"type": "null"},
        "success": {"const": False},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
        "messages": {"type": "array"},
    },
}
CLOUDFLARE_SUCCESS: dict[str, Any] = {
    "type": "object",
    "required": ["result", "success", "errors", "messages"],
    "properties": {
        "result": ref("WorkersAnswer"),
        "success": {"const": True},
        "errors": {"type": "array", "maxItems": 0},
        "messages": {"type": "array"},
    },
}
OPENAI_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
MODEL_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "object", "created", "owned_by"],
                "properties": {
                    "id": {"type": "string"},
                    "object": {"const": "model"},
                    "created": {"type": "integer"},
                    "owned_by": {"type": "string"},
                },
            },
        },
    },
}
ANTHROPIC_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"],
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": {"type": "string"},
        "content": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["text", "thinking", "tool_use"]}},
            },
        },
        "stop_reason": {"enum": ["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"]},
        "stop_sequence": {"type": ["string", "null"]},
        "usage": {
            "type": "object",
            "required": ["input_tokens", "output_tokens"],
            "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
        },
    },
}
OPENAI_MODEL: dict[str, Any] = MODEL_LIST["properties"]["data"]["items"]
ANTHROPIC_MODEL: dict[str, Any] = {
    "type": "object",
    "required": ["type", "id", "display_name", "created_at"],
    "properties": {
        "type": {"const": "model"},
        "id": {"type": "string"},
        "display_name": {"type": "string"},
        "created_at": {"type": "string"},
    },
}
ANTHROPIC_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["data", "has_more", "first_id", "last_id"],
    "properties": {
        "data": {"type": "array", "items": ANTHROPIC_MODEL},
        "has_more": {"type": "boolean"},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
    },
}
COUNT_TOKENS: dict[str, Any] = {
    "type": "object",
    "required": ["input_tokens"],
    "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
}
ANTHROPIC_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}

RESPONSES_ANSWER: dict[str, Any] = {
    "type": "object",
    "description": "A response (`store` says whether it was kept: docs/responses.md). Streamed as typed "
    "events ending in `response.completed`, `response.incomplete` or `response.failed`, each carrying it.",
    "required": ["id", "object", "created_at", "status", "model", "output", "usage", "incomplete_details"],
    "properties": {
        "id": {"type": "string", "pattern": "^resp_"},
        "object": {"const": "response"},
        "created_at": {"type": "integer"},
        "status": {"enum": ["completed", "incomplete", "failed", "in_progress"]},
        "model": {"type": "string"},
        "store": {"type": "boolean"},
        "output": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id"],
                "properties": {"type": {"enum": ["reasoning", "message", "function_call"]}},
            },
        },
        "incomplete_details": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {"reason": {"enum": ["max_output_tokens", "content_filter"]}},
                },
            ]
        },
        "usage": {
            "type": ["object", "null"],
            "required": ["input_tokens", "output_tokens", "total_tokens"],
            "properties": {
                "input_tokens": {"type": "integer"},
                "output_tokens": {"type": "integer"},
                "total_tokens": {"type": "integer"},
                "input_tokens_details": {"type": "object"},
                "output_tokens_details": {"type": "object"},
            },
        },
    },
}


DELETED: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "deleted"],
    "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
}
ITEMS: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data", "first_id", "last_id", "has_more"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": {"type": "object"}},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}


# A path under a surface that no route serves answers 404 in that surface's shape (worker.surfaces.routes).
EITHER_ERROR = {"anyOf": [OPENAI_ERROR, ANTHROPIC_ERROR, CLOUDFLARE_FAILURE]}
