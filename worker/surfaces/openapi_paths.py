"""The OpenAPI description of the Cloudflare REST, OpenAI (chat, Responses) and Anthropic surfaces
(merged into `openapi`).

Request bodies are the vendored request schemas themselves (their `$defs` moved into
`components/schemas` under a prefix, references rewritten), so the document describes exactly what
the gateway validates. Every error response is described in the shape its surface really answers.
"""

from __future__ import annotations

from typing import Any

from worker.config.models import ModelTable
from worker.dialects.limits import MAX_DEPTH, MAX_ITEMS
from worker.dialects.schemas import ANTHROPIC_MESSAGES_SCHEMA, OPENAI_CHAT_SCHEMA, OPENAI_RESPONSES_SCHEMA

COMPONENTS = "#/components/schemas/"


def _relocate(node: Any, prefix: str) -> Any:
    """A copy of a schema whose `#/$defs/X` references point at `components/schemas/<prefix>X`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = COMPONENTS + prefix + value.removeprefix("#/$defs/")
            elif key not in ("$defs", "$schema"):
                out[key] = _relocate(value, prefix)
        return out
    if isinstance(node, list):
        return [_relocate(item, prefix) for item in node]
    return node


def _components(schema: dict[str, Any], name: str, prefix: str) -> dict[str, Any]:
    out = {name: _relocate(schema, prefix)}
    for def_name, sub in schema.get("$defs", {}).items():
        out[prefix + def_name] = _relocate(sub, prefix)
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One Server-Sent Event; `data` is JSON in the surface's chunk shape, or `[DONE]`.",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}


def _answer(schema: str) -> dict[str, Any]:
    return {
        "description": "The answer; `text/event-stream` when `stream` is true.",
        "content": {
            "application/json": {"schema": _ref(schema)},
            "text/event-stream": {"schema": SSE_EVENT},
        },
    }


def _errors(schema: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {status: _json(text, schema) for status, text in statuses.items()}


ACCOUNT = {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}
COMMON_ERRORS = {
    "401": "Missing or invalid API key",
    "413": "Body larger than MAX_BODY_BYTES",
    "415": "Content-Type is not application/json",
    "429": "The upstream is rate limiting; see Retry-After",
    "500": "Upstream model error or unexpected failure",
}

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
        "result": _ref("WorkersAnswer"),
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


def _responses_operations(names: list[str]) -> dict[str, Any]:
    create = {
        "operationId": "createResponse",
        "summary": "OpenAI Responses API (reasoning as a `reasoning` item; stored unless `store` is false)",
        "security": [{"bearer": []}],
        "requestBody": _body("OpenAIResponsesRequest", names),
        "responses": {
            "200": _answer("ResponsesAnswer"),
            **_errors(
                "OpenAIError",
                {
                    "400": "Invalid request (param names the field), an unknown parameter, or "
                    "`previous_response_not_found`",
                    "404": "No such model",
                    "503": "The state store holding `previous_response_id` cannot be reached",
                    "504": "The upstream did not answer in time",
                    **COMMON_ERRORS,
                },
            ),
        },
    }
    path: dict[str, dict[str, Any]] = {"/v1/responses": {"post": create}}
    ident: list[dict[str, Any]] = [
        {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    query: list[dict[str, Any]] = [
        {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
        {"name": "limit", "in": "query", "schema": {"type": "string"}},
        {"name": "after", "in": "query", "schema": {"type": "string"}},
    ]
    operations = (
        ("/v1/responses/{response_id}", "get", "retrieveResponse", "A stored response", RESPONSES_ANSWER),
        ("/v1/responses/{response_id}", "delete", "deleteResponse", "Delete a stored response", DELETED),
        ("/v1/responses/{response_id}/input_items", "get", "listInputItems", "Its input items", ITEMS),
    )
    for where, method, operation, summary, schema in operations:
        path.setdefault(where, {})[method] = {
            "operationId": operation,
            "summary": f"{summary} (the key's own; 404 `response_not_found` otherwise)",
            "security": [{"bearer": []}],
            "parameters": ident + (query if operation == "listInputItems" else []),
            "responses": {
                "200": {"description": summary, "content": {"application/json": {"schema": schema}}},
                **_errors(
                    "OpenAIError",
                    {
                        "401": "Missing or invalid API key",
                        "404": "No stored response with that id for this key",
                        "503": "The state store cannot be reached",
                    },
                ),
            },
        }
    return path


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


def model_names(table: ModelTable) -> list[str]:
    """Every name the model table resolves: slugs, Cloudflare ids and upstream model names."""
    names = set(table.entries)
    for entry in table.entries.values():
        names.update(n for n in (entry.cloudflare_id, *(t.model for t in entry.targets)) if n)
    return sorted(names)


# The shape limits every body is held to (worker/dialects/limits.py), in prose: they hold for every
# value at any depth, which only a schema referring to itself can say, and merged with the request
# schemas such a schema leaves request generators (schemathesis) unable to build some arrays.
SHAPE_RULE = (
    f"Every number is within the signed 64-bit range; arrays and objects nest at most {MAX_DEPTH} "
    f"levels deep and hold at most {MAX_ITEMS} entries each."
)

WINDOW_RULE = (
    "The prompt's tokens (QwQ's chat template, tools included) plus `max_tokens` fit the model's context "
    "window (`context_length_exceeded`; not checked by `count_tokens`)."
)


# The rules beyond each vendored schema that JSON Schema states plainly; the ones it cannot (they relate
# two values of the body, which a request generator cannot follow) are in CROSS_FIELD_RULES, stated in
# prose in the request body's description.
OPENAI_RULES: dict[str, Any] = {
    "properties": {"n": {"enum": [1, None], "description": "Only one choice is served."}}
}
ANTHROPIC_RULES: dict[str, Any] = {}
CROSS_FIELD_RULES: dict[str, list[str]] = {
    "OpenAIChatRequest": [
        "A `tool_choice` of `required` or naming a function needs a non-empty `tools`.",
        "A `tool_choice` naming a function names one of `tools`.",
        "Each `tools[].function.parameters` and `response_format.json_schema.schema` is a valid JSON "
        "Schema (under the draft its `$schema` names; 2020-12 when it names none).",
    ],
    "OpenAIResponsesRequest": [
        "A `previous_response_id` names a response this gateway stored for the same key.",
        "An `input` given as items holds at least one message.",
        "A `tool_choice` of `required` or naming a function needs a function in `tools` (built-in tool "
        "kinds such as `web_search` are not offered to the model).",
        "A `tool_choice` naming a function names one of the function `tools`.",
        "Each function tool's `parameters` and `text.format.schema` is a valid JSON Schema (under the "
        "draft its `$schema` names; 2020-12 when it names none).",
    ],
    "AnthropicMessagesRequest": [
        "A `tool_choice` of type `any` or `tool` needs a tool the model is offered: one of type `custom` "
        "(or none), or an Anthropic-defined client tool (`bash_*`, `text_editor_*`, `memory_*`); server "
        "tools are not offered to the model.",
        "A `tool_choice` of type `tool` names one of `tools`.",
        "With a `thinking.budget_tokens`, `max_tokens` is greater than it.",
        "Each `tools[].input_schema` is a valid JSON Schema (under the draft its `$schema` names; 2020-12 "
        "when it names none).",
    ],
}
SURFACE_RULES = {
    "OpenAIChatRequest": OPENAI_RULES,
    "AnthropicMessagesRequest": ANTHROPIC_RULES,
    "OpenAIResponsesRequest": {},
}


def _body(component: str, names: list[str]) -> dict[str, Any]:
    """A request body whose `model` must be one the table serves (any other is a 404), with the rules
    the gateway adds to the vendored schema; those JSON Schema cannot state are in the description."""
    parts = [
        _ref(component),
        {"properties": {"model": {"enum": names}}},
        SURFACE_RULES[component],
    ]
    rules = " ".join([*CROSS_FIELD_RULES[component], WINDOW_RULE, SHAPE_RULE])
    return {
        "required": True,
        "description": f"Also checked (400 when broken): {rules}",
        "content": {"application/json": {"schema": {"allOf": parts}}},
    }


def _chat_operation(operation_id: str, parameters: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": "OpenAI chat completions (model in the body; reasoning in `reasoning_content`)",
        "security": [{"bearer": []}],
        "parameters": parameters,
        "requestBody": _body("OpenAIChatRequest", names),
        "responses": {
            "200": _answer("ChoicesAnswer"),
            **_errors(
                "OpenAIError",
                {
                    "400": "Invalid request (param names the first bad field), or n other than 1",
                    "404": "No such model",
                    "504": "The upstream did not answer in time",
                    **COMMON_ERRORS,
                },
            ),
        },
    }


def _models_operation(operation_id: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": "The served models, in OpenAI's list shape (Anthropic's for an Anthropic client)",
        "security": [{"bearer": []}, {"apiKey": []}],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "The model table's slugs (Anthropic's list shape for an Anthropic client)",
                "content": {"application/json": {"schema": {"anyOf": [_ref("ModelList"), ANTHROPIC_LIST]}}},
            },
            "401": {
                "description": "Missing or invalid API key",
                "content": {"application/json": {"schema": EITHER_ERROR}},
            },
        },
    }


def _model_operation(operation_id: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    model_id = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "operationId": operation_id,
        "summary": "One model, in OpenAI's shape (Anthropic's when `anthropic-version`/`x-api-key` is sent)",
        "security": [{"bearer": []}, {"apiKey": []}],
        "parameters": [*parameters, model_id],
        "responses": {
            "200": {
                "description": "The model, named by its slug",
                "content": {"application/json": {"schema": {"anyOf": [OPENAI_MODEL, ANTHROPIC_MODEL]}}},
            },
            **{
                status: {"description": text, "content": {"application/json": {"schema": EITHER_ERROR}}}
                for status, text in (("401", "Missing or invalid API key"), ("404", "No such model"))
            },
        },
    }


def _count_tokens_operation(names: list[str]) -> dict[str, Any]:
    return {
        "operationId": "anthropicCountTokens",
        "summary": 'Anthropic token counting: `{"input_tokens": N}` (`max_tokens` may be left out)',
        "security": [{"bearer": []}, {"apiKey": []}],
        "requestBody": _body("AnthropicMessagesRequest", names),
        "responses": {
            "200": {
                "description": "The prompt's tokens, as the gateway counts them for usage",
                "content": {"application/json": {"schema": COUNT_TOKENS}},
            },
            **_errors("AnthropicError", {"400": "Invalid request", "404": "No such model", **COMMON_ERRORS}),
        },
    }


def surface_paths(table: ModelTable) -> dict[str, Any]:
    names = model_names(table)
    model = {
        "name": "model",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": names},
        "description": "A Cloudflare id (`@cf/qwen/qwq-32b`, slashes allowed), slug or upstream model name.",
    }
    run = {
        "operationId": "cloudflareRun",
        "summary": "Cloudflare Workers AI REST: Workers AI input, answer in Cloudflare's envelope",
        "security": [{"bearer": []}],
        "parameters": [ACCOUNT, model],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("RunInput")}},
        },
        "responses": {
            "200": _answer("CloudflareSuccess"),
            **_errors(
                "CloudflareFailure",
                {
                    "400": "5006 bad input (every violation), or 5007 no such model",
                    "408": "3007 the upstream did not answer in time",
                    **COMMON_ERRORS,
                },
            ),
            "404": {
                "description": "No route: an account id or model that decodes to a '/' leaves the route",
                "content": {"application/json": {"schema": _ref("CloudflareFailure")}},
            },
        },
    }
    messages = {
        "operationId": "anthropicMessages",
        "summary": "Anthropic Messages (thinking blocks when `thinking` is enabled)",
        "security": [{"bearer": []}, {"apiKey": []}],
        "requestBody": _body("AnthropicMessagesRequest", names),
        "responses": {
            "200": _answer("AnthropicMessage"),
            **_errors("AnthropicError", {"400": "Invalid request", "404": "No such model", **COMMON_ERRORS}),
        },
    }
    accounts = "/client/v4/accounts/{account_id}/ai"
    return {
        f"{accounts}/run/{{model}}": {"post": run},
        f"{accounts}/v1/chat/completions": {
            "post": _chat_operation("cloudflareChatCompletions", [ACCOUNT], names)
        },
        f"{accounts}/v1/models": {"get": _models_operation("cloudflareListModels", [ACCOUNT])},
        "/v1/chat/completions": {"post": _chat_operation("chatCompletions", [], names)},
        "/v1/openai/chat/completions": {"post": _chat_operation("deepinfraChatCompletions", [], names)},
        "/v1/models": {"get": _models_operation("listModels", [])},
        "/v1/openai/models": {"get": _models_operation("deepinfraListModels", [])},
        "/v1/messages": {"post": messages},
        **_responses_operations(names),
        "/v1/messages/count_tokens": {"post": _count_tokens_operation(names)},
        f"{accounts}/v1/models/{{model_id}}": {"get": _model_operation("cloudflareGetModel", [ACCOUNT])},
        "/v1/models/{model_id}": {"get": _model_operation("getModel", [])},
        "/v1/openai/models/{model_id}": {"get": _model_operation("deepinfraGetModel", [])},
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            }
        },
    }


def surface_schemas() -> dict[str, Any]:
    requests = {
        **_components(OPENAI_CHAT_SCHEMA, "OpenAIChatRequest", "OpenAIIn"),
        **_components(ANTHROPIC_MESSAGES_SCHEMA, "AnthropicMessagesRequest", "AnthropicIn"),
        **_components(OPENAI_RESPONSES_SCHEMA, "OpenAIResponsesRequest", "ResponsesIn"),
    }
    return {
        **requests,
        "CloudflareSuccess": CLOUDFLARE_SUCCESS,
        "CloudflareFailure": CLOUDFLARE_FAILURE,
        "OpenAIError": OPENAI_ERROR,
        "ModelList": MODEL_LIST,
        "AnthropicMessage": ANTHROPIC_MESSAGE,
        "AnthropicError": ANTHROPIC_ERROR,
        "ResponsesAnswer": RESPONSES_ANSWER,
    }


SECURITY_SCHEMES = {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
