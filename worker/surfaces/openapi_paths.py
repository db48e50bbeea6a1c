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
from worker.surfaces.openapi_shapes import (
    ANTHROPIC_ERROR,
    ANTHROPIC_LIST,
    ANTHROPIC_MESSAGE,
    ANTHROPIC_MODEL,
    CLOUDFLARE_FAILURE,
    CLOUDFLARE_SUCCESS,
    COUNT_TOKENS,
    DELETED,
    EITHER_ERROR,
    ITEMS,
    MODEL_LIST,
    OPENAI_ERROR,
    OPENAI_MODEL,
    RESPONSES_ANSWER,
    answer,
    components_of,
    errors,
    ref,
)

ACCOUNT = {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string"}}
COMMON_ERRORS = {
    "401": "Missing or invalid API key",
    "413": "Body larger than MAX_BODY_BYTES",
    "415": "Content-Type is not application/json",
    "429": "The upstream is rate limiting; see Retry-After",
    "500": "Upstream model error or unexpected failure",
}


def _responses_operations(names: list[str]) -> dict[str, Any]:
    create = {
        "operationId": "createResponse",
        "summary": "OpenAI Responses API (reasoning as a `reasoning` item; stored unless `store` is false)",
        "security": [{"bearer": []}],
        "requestBody": _body("OpenAIResponsesRequest", names),
        "responses": {
            "200": answer("ResponsesAnswer"),
            **errors(
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
                **errors(
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
        ref(component),
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
            "200": answer("ChoicesAnswer"),
            **errors(
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
                "content": {"application/json": {"schema": {"anyOf": [ref("ModelList"), ANTHROPIC_LIST]}}},
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
            **errors("AnthropicError", {"400": "Invalid request", "404": "No such model", **COMMON_ERRORS}),
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
            "content": {"application/json": {"schema": ref("RunInput")}},
        },
        "responses": {
            "200": answer("CloudflareSuccess"),
            **errors(
                "CloudflareFailure",
                {
                    "400": "5006 bad input (every violation), or 5007 no such model",
                    "408": "3007 the upstream did not answer in time",
                    **COMMON_ERRORS,
                },
            ),
            "404": {
                "description": "No route: an account id or model that decodes to a '/' leaves the route",
                "content": {"application/json": {"schema": ref("CloudflareFailure")}},
            },
        },
    }
    messages = {
        "operationId": "anthropicMessages",
        "summary": "Anthropic Messages (thinking blocks when `thinking` is enabled)",
        "security": [{"bearer": []}, {"apiKey": []}],
        "requestBody": _body("AnthropicMessagesRequest", names),
        "responses": {
            "200": answer("AnthropicMessage"),
            **errors("AnthropicError", {"400": "Invalid request", "404": "No such model", **COMMON_ERRORS}),
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
        **components_of(OPENAI_CHAT_SCHEMA, "OpenAIChatRequest", "OpenAIIn"),
        **components_of(ANTHROPIC_MESSAGES_SCHEMA, "AnthropicMessagesRequest", "AnthropicIn"),
        **components_of(OPENAI_RESPONSES_SCHEMA, "OpenAIResponsesRequest", "ResponsesIn"),
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
