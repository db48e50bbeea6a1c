"""`/v1/messages` as real clients send it, `count_tokens`, `GET /v1/models/{id}` and the 404 of an unknown
path, each in its surface's shape; through the app in-process."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import API_KEY

ANTHROPIC = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,no-such-beta-2099-01-01",
}
OPENAI = {"Authorization": f"Bearer {API_KEY}"}
SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def claude_code_body(**overrides: Any) -> dict[str, Any]:
    """The shape of Claude Code 2.1's first request (its tools cut to two, its texts shortened)."""
    cached = {"type": "ephemeral"}
    body: dict[str, Any] = {
        "model": "qwq-32b",
        "max_tokens": 8192,  # CLAUDE_CODE_MAX_OUTPUT_TOKENS of docs/claude-code.md (its default: 32000)
        "stream": True,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {"type": "text", "text": "You are a coding agent.", "cache_control": cached},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
                    {"type": "text", "text": "Say hello [sim:no-call]", "cache_control": cached},
                ],
            },
            {
                "role": "system",
                "content": [{"type": "text", "text": "# Environment\nlinux", "cache_control": cached}],
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": {
                    "$schema": SCHEMA,
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": ["command"],
                    "additionalProperties": False,
                },
            },
            {
                "name": "DeferredToolPlaceholder",
                "description": "",
                "defer_loading": True,
                "input_schema": {"type": "object", "properties": {}},
            },
        ],
        "metadata": {"user_id": '{"device_id":"d","session_id":"s"}'},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }
    body.update(overrides)
    return body


async def test_claude_code_first_request_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages?beta=true", json=claude_code_body(), headers=ANTHROPIC)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-gateway-ignored-fields"] == (
        "context_management, output_config.effort, cache_control"
    )
    kinds = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "error" not in kinds
    # `display: omitted`: the reasoning is left out, only the answer's text comes back
    assert '"type":"thinking"' not in response.text and '"type":"text_delta"' in response.text


async def test_claude_code_default_max_tokens_is_refused_as_claude_code_can_read_it(
    client: httpx.AsyncClient,
) -> None:
    """Claude Code's default `max_tokens` (32,000) does not fit a 24,000-token window: the 400 carries
    the figures in the API's wording, which Claude Code parses to send again with a smaller one."""
    response = await client.post(
        "/v1/messages?beta=true", json=claude_code_body(max_tokens=32000), headers=ANTHROPIC
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    # Claude Code 2.1's own pattern for this error
    found = re.fullmatch(
        r"input length and `max_tokens` exceed context limit: (\d+) \+ (\d+) > (\d+).*", error["message"]
    )
    assert found, error["message"]
    prompt, asked, window = (int(n) for n in found.groups())
    assert (asked, window) == (32000, 24000) and prompt > 0
    again = await client.post(
        "/v1/messages?beta=true", json=claude_code_body(max_tokens=window - prompt), headers=ANTHROPIC
    )
    assert again.status_code == 200, again.text


async def test_later_turns_with_thinking_and_tool_results(client: httpx.AsyncClient) -> None:
    body = claude_code_body(stream=False)
    body["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me run it.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "ZW5j"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "README.md"}],
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]
    response = await client.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert response.status_code == 200, response.text
    assert response.json()["content"] == [{"type": "text", "text": "The tool returned: README.md"}]


async def test_documents_search_results_and_server_tools(client: httpx.AsyncClient) -> None:
    content = [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Notes."},
            "title": "N",
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {
            "type": "search_result",
            "source": "https://example.com",
            "title": "Example",
            "content": [{"type": "text", "text": "An example."}],
            "citations": {"enabled": True},
        },
        {"type": "text", "text": "Summarise. [sim:no-call]"},
    ]
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "bash_20250124", "name": "bash"},
    ]
    body = {
        "model": "qwq-32b",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": content}],
        "tools": tools,
        "service_tier": "auto",
        "container": "container_1",
        "mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "m"}],
        "thinking": {"type": "enabled", "budget_tokens": 128},
    }
    response = await client.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-ignored-fields"] == (
        "service_tier, container, mcp_servers, thinking.budget_tokens, "
        "tools.web_search_20250305, content.document"
    )
    assert [b["type"] for b in response.json()["content"]] == ["thinking", "text"]


async def test_thread_is_refused_with_the_code_the_tool_runners_know(client: httpx.AsyncClient) -> None:
    body = claude_code_body(thread={"type": "create"})
    response = await client.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("thread: ")
    assert error["details"] == {"error_code": "thread_unsupported_request", "unsupported": ["thread"]}


@pytest.mark.parametrize("field", ["frobnicate", "n", "response_format"])
async def test_a_field_the_api_does_not_define_gets_its_400(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post("/v1/messages", json=claude_code_body(**{field: 1}), headers=ANTHROPIC)
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": f"{field}: Extra inputs are not permitted"},
    }


async def test_count_tokens(client: httpx.AsyncClient) -> None:
    body = claude_code_body()
    for name in ("max_tokens", "stream"):
        del body[name]
    response = await client.post("/v1/messages/count_tokens?beta=true", json=body, headers=ANTHROPIC)
    assert response.status_code == 200, response.text
    tokens = response.json()["input_tokens"]
    without_tools = {k: v for k, v in body.items() if k != "tools"}
    fewer = await client.post("/v1/messages/count_tokens", json=without_tools, headers=ANTHROPIC)
    assert 0 < fewer.json()["input_tokens"] < tokens
    assert set(response.json()) == {"input_tokens"}


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"model": "claude-nope", "messages": []}, 404, "not_found_error"),
        ({"model": "qwq-32b"}, 400, "invalid_request_error"),
        ({"model": "qwq-32b", "messages": [], "xyz": 1}, 400, "invalid_request_error"),
    ],
)
async def test_count_tokens_errors(client: httpx.AsyncClient, body: Any, status: int, kind: str) -> None:
    response = await client.post("/v1/messages/count_tokens", json=body, headers=ANTHROPIC)
    assert response.status_code == status and response.json()["error"]["type"] == kind
    anonymous = await client.post("/v1/messages/count_tokens", json=body)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "path", ["/v1/models/qwq-32b", "/v1/models/@cf/qwen/qwq-32b", "/v1/openai/models/qwq-32b"]
)
async def test_one_model_in_the_askers_shape(client: httpx.AsyncClient, path: str) -> None:
    openai = await client.get(path, headers=OPENAI)
    assert openai.json() == {"id": "qwq-32b", "object": "model", "created": 0, "owned_by": "qwq-gateway"}
    native = await client.get(path, headers=ANTHROPIC)
    assert native.json() == {
        "type": "model",
        "id": "qwq-32b",
        "display_name": "qwq-32b",
        "created_at": "1970-01-01T00:00:00Z",
    }


async def test_model_list_and_unknown_model_in_the_askers_shape(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/v1/models", headers=ANTHROPIC)).json()
    assert listed["has_more"] is False and [m["id"] for m in listed["data"]] == ["qwq-32b"]
    assert listed["first_id"] == listed["last_id"] == "qwq-32b"
    missing = await client.get("/v1/models/claude-nope", headers=ANTHROPIC)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    missing = await client.get("/v1/models/claude-nope", headers=OPENAI)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    anonymous = await client.get("/v1/models/qwq-32b", headers={"anthropic-version": "2023-06-01"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("method", "path", "headers", "shape"),
    [
        ("POST", "/v1/messages/batches", ANTHROPIC, "anthropic"),
        ("GET", "/v1/files", ANTHROPIC, "anthropic"),
        ("POST", "/v1/embeddings", OPENAI, "openai"),
        ("GET", "/v1/openai/nothing", {}, "openai"),
        ("POST", "/client/v4/accounts/acc/ai/models/search", OPENAI, "cloudflare"),
        ("GET", "/somewhere/else", OPENAI, "generic"),
    ],
)
async def test_unknown_paths_answer_in_their_surfaces_shape(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], shape: str
) -> None:
    response = await client.request(method, path, headers=headers, content=b"{}")
    assert response.status_code == 404
    body = orjson.loads(response.content)
    where = f"{method} {path}"
    expected = {
        "anthropic": {
            "type": "error",
            "error": {"type": "not_found_error", "message": f"No route for {where}"},
        },
        "openai": {
            "error": {
                "message": f"Invalid URL ({where})",
                "type": "invalid_request_error",
                "param": None,
                "code": "unknown_url",
            }
        },
        "cloudflare": {
            "result": None,
            "success": False,
            "errors": [{"code": 7000, "message": f"No route for that URI ({where})"}],
            "messages": [],
        },
        "generic": {"error": "Not found", "detail": f"No route for {where}"},
    }[shape]
    assert body == expected


async def test_a_known_path_with_another_method_is_still_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/messages", headers=ANTHROPIC)
    assert response.status_code == 405
