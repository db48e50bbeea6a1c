from __future__ import annotations

from typing import Any

import pytest

from worker.core.errors import BadRequest
from worker.dialects.validation import DEFAULTS, validate_body


def violations(body: Any) -> list[dict[str, str]]:
    with pytest.raises(BadRequest) as info:
        validate_body(body)
    assert info.value.status == 400
    assert info.value.message.startswith("Invalid payload: ")
    detail = info.value.detail
    assert isinstance(detail, list) and detail
    return detail


def test_defaults_come_from_the_schema() -> None:
    assert DEFAULTS == {"raw": False, "stream": False, "max_tokens": 256, "temperature": 0.15}
    body = validate_body({"messages": [{"role": "user", "content": "hi"}]})
    assert body["max_tokens"] == 256 and body["temperature"] == 0.15 and body["stream"] is False


def test_given_values_win_over_defaults() -> None:
    assert validate_body({"prompt": "x", "max_tokens": 9})["max_tokens"] == 9


@pytest.mark.parametrize("body", [[], "text", 5, None, True])
def test_body_must_be_an_object(body: Any) -> None:
    [v] = violations(body)
    assert v["path"] == "/" and "JSON object" in v["message"]


def test_both_prompt_and_messages_are_refused() -> None:
    [v] = violations({"prompt": "x", "messages": [{"role": "user", "content": "y"}]})
    assert "not both" in v["message"]


def test_neither_prompt_nor_messages_is_refused() -> None:
    [v] = violations({"max_tokens": 5})
    assert "'prompt' or 'messages'" in v["message"]


def test_empty_prompt_is_refused() -> None:
    [v] = violations({"prompt": ""})
    assert v["path"] == "/prompt"


def test_every_violation_is_listed_with_its_pointer() -> None:
    found = violations(
        {"messages": [{"role": "user", "content": 5}], "temperature": 9, "top_k": 0, "stream": "yes"}
    )
    paths = {v["path"] for v in found}
    assert paths == {"/messages/0/content", "/temperature", "/top_k", "/stream"}
    by_path = {v["path"]: v["message"] for v in found}
    assert "not of type 'string', 'array', 'object'" in by_path["/messages/0/content"]
    assert "maximum of 5" in by_path["/temperature"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("top_p", 2.5),
        ("top_k", 51),
        ("seed", 0),
        ("seed", 10**10),
        ("presence_penalty", 3),
        ("max_tokens", 1.5),
        ("raw", "no"),
    ],
)
def test_out_of_range_and_wrong_types(field: str, value: Any) -> None:
    [v] = violations({"prompt": "x", field: value})
    assert v["path"] == f"/{field}"


def test_bad_tool_call_id() -> None:
    [v] = violations({"messages": [{"role": "tool", "content": "4", "tool_call_id": "abc"}]})
    assert v["path"] == "/messages/0/tool_call_id" and "9 letters or digits" in v["message"]


def test_good_tool_call_id() -> None:
    validate_body({"messages": [{"role": "tool", "content": "4", "tool_call_id": "000000001"}]})


def test_http_image_urls_are_refused() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    [v] = violations({"messages": [{"role": "user", "content": [part]}]})
    assert v["path"] == "/messages/0/content/0/image_url/url"
    assert "data: URIs" in v["message"]


def test_data_image_urls_pass() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    validate_body({"messages": [{"role": "user", "content": [{"type": "text", "text": "what"}, part]}]})


def test_missing_or_unknown_role() -> None:
    found = violations({"messages": [{"content": "x"}, {"role": "wizard", "content": "y"}]})
    assert [v["path"] for v in found] == ["/messages/0/role", "/messages/1/role"]
    assert "required" in found[0]["message"] and "'wizard'" in found[1]["message"]


def test_tools_in_both_shapes_pass() -> None:
    params = {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}}
    flat = {"name": "weather", "description": "d", "parameters": params}
    nested = {"type": "function", "function": {"name": "time", "description": "d", "parameters": params}}
    validate_body({"messages": [{"role": "user", "content": "x"}], "tools": [flat, nested]})


def test_tool_without_parameters_is_refused() -> None:
    found = violations({"messages": [{"role": "user", "content": "x"}], "tools": [{"name": "t"}]})
    assert found[0]["path"].startswith("/tools/0")


def test_tool_parameter_without_description_points_at_it() -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}}
    tool = {"name": "weather", "description": "d", "parameters": params}
    found = violations({"messages": [{"role": "user", "content": "x"}], "tools": [tool]})
    assert found[0]["path"] == "/tools/0/parameters/properties/city"
    assert "'description' is a required property" in found[0]["message"]


def test_flat_tool_missing_its_description_is_explained_as_a_flat_tool() -> None:
    params = {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}}
    found = violations(
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"name": "t", "parameters": params}]}
    )
    assert found == [{"path": "/tools/0", "message": "'description' is a required property"}]


def test_tool_names_may_not_be_empty() -> None:
    params = {"type": "object", "properties": {}}
    flat = {"name": "", "description": "d", "parameters": params}
    nested = {"type": "function", "function": {"name": "", "description": "d", "parameters": params}}
    found = violations({"messages": [{"role": "user", "content": "x"}], "tools": [flat, nested]})
    assert [v["path"] for v in found] == ["/tools/0/name", "/tools/1/function/name"]


def test_tools_in_the_prompt_form_follow_the_messages_rules() -> None:
    """Found by schemathesis: the Prompt branch leaves `tools` unconstrained."""
    found = violations({"prompt": "x", "tools": [{"function": {}}]})
    assert all(v["path"].startswith("/tools/0") for v in found)
    params = {"type": "object", "properties": {}}
    validate_body({"prompt": "x", "tools": [{"name": "t", "description": "d", "parameters": params}]})


def test_raw_prompts_refuse_tools_and_guided_json() -> None:
    params = {"type": "object", "properties": {}}
    tool = {"name": "t", "description": "d", "parameters": params}
    found = violations({"prompt": "x", "raw": True, "tools": [tool], "guided_json": {"type": "object"}})
    assert found == [
        {"path": "/tools", "message": "'tools' cannot be combined with 'raw': true"},
        {"path": "/guided_json", "message": "'guided_json' cannot be combined with 'raw': true"},
    ]
    validate_body({"prompt": "x", "raw": False, "tools": [tool]})


@pytest.mark.parametrize("limit", [0, -5])
def test_max_tokens_below_one_is_refused(limit: int) -> None:
    assert violations({"prompt": "x", "max_tokens": limit}) == [
        {"path": "/max_tokens", "message": "max_tokens must be at least 1"}
    ]


# The accept path (jsonschema-rs) and the reporting path (jsonschema) must agree on every verdict, or a
# body could be accepted by one and explained as wrong by the other.
AGREEMENT_BODIES: list[Any] = [
    {"prompt": "hi"},
    {"prompt": ""},
    {"prompt": "hi", "temperature": 9},
    {"prompt": "hi", "top_k": 51},
    {"prompt": "hi", "seed": 0},
    {"prompt": "hi", "seed": 10**30},
    {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True},
    {"messages": [{"role": "user", "content": 5}]},
    {"messages": "hi"},
    {"messages": [{"role": "tool", "content": "42", "tool_call_id": "000000001"}]},
    {"messages": [{"role": "tool", "content": "42", "tool_call_id": "short"}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"}]}]},
    {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}],
            }
        ]
    },
    {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
        ]
    },
    {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "f", "description": "d", "parameters": {}}],
    },
    {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    },
    {"messages": [{"role": "user", "content": "hi"}], "guided_json": {"type": "object"}},
    {"messages": [{"role": "user", "content": "hi"}], "guided_json": "not an object"},
]


@pytest.mark.parametrize("body", AGREEMENT_BODIES)
def test_fast_and_reporting_validators_agree(body: Any) -> None:
    from worker.dialects import validation

    has_prompt = "prompt" in body
    fast = validation._FAST_PROMPT if has_prompt else validation._FAST_MESSAGES
    slow = validation._PROMPT if has_prompt else validation._MESSAGES
    assert fast.is_valid(body) == slow.is_valid(body)
    assert validation._FAST_FULL.is_valid(body) == validation._FULL.is_valid(body)


def test_a_body_the_fast_path_accepts_gets_the_defaults_too() -> None:
    body = validate_body({"messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert body["stream"] is True and body["max_tokens"] == 256
