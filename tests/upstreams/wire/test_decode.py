"""The parsers every adapter shares: usage blocks, mid-stream errors, stream events, JSON bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from worker.core.errors import UpstreamBadResponse, UpstreamError
from worker.core.ir import Usage
from worker.upstreams.wire.decode import json_body, stream_error, stream_object, usage
from worker.upstreams.wire.sse import ServerSentEvent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, Usage(3, 4)),
        (
            {
                "prompt_tokens": 3,
                "completion_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 2},
            },
            Usage(3, 4, 2),
        ),
        ({"prompt_tokens": 3, "completion_tokens": 4, "estimated": True}, Usage(3, 4, None, True)),
        ({"prompt_tokens": 3, "completion_tokens": 4, "estimated": "yes"}, Usage(3, 4)),  # only `true` marks
        ({"prompt_tokens": 3, "completion_tokens": 4, "completion_tokens_details": None}, Usage(3, 4)),
        (
            {
                "prompt_tokens": 1,
                "completion_tokens": 2,
                "completion_tokens_details": {"reasoning_tokens": "2"},
            },
            Usage(1, 2),
        ),
        ({"prompt_tokens": 3}, None),
        ({"prompt_tokens": "3", "completion_tokens": 4}, None),
        (None, None),
        ([], None),
    ],
)
def test_usage_in_every_shape(raw: Any, expected: Usage | None) -> None:
    assert usage(raw) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"error": {"message": "model crashed", "type": "server_error"}}, "model crashed"),
        ({"error": "plain words"}, "plain words"),
        ({"object": "error", "message": "out of memory", "code": 500}, "out of memory"),
        ({"errors": [{"code": 3040, "message": "over capacity"}], "success": False}, "over capacity"),
        ({"error": None, "errors": [{"message": "cf, after a null error"}], "success": False}, "cf, after"),
        ({"error": {"message": "x" * 900}}, "x" * 500),
    ],
)
def test_mid_stream_errors_in_every_shape(data: dict[str, Any], message: str) -> None:
    error = stream_error(data)
    assert isinstance(error, UpstreamError)
    assert error.message.startswith(f"The upstream failed mid-stream: {message}")
    assert len(error.message) <= len("The upstream failed mid-stream: ") + 500


@pytest.mark.parametrize(
    "data",
    [
        {"choices": [{"delta": {"content": "hi"}}], "object": "chat.completion.chunk"},
        {"response": "hi", "p": "abc"},
        {"errors": [], "success": True, "result": {}},  # a successful Cloudflare envelope
    ],
)
def test_ordinary_chunks_are_not_errors(data: dict[str, Any]) -> None:
    assert stream_error(data) is None
    assert stream_object(ServerSentEvent(orjson.dumps(data).decode())) == data


def test_a_stream_event_is_a_json_object() -> None:
    assert stream_object(ServerSentEvent('{"a": 1}')) == {"a": 1}
    with pytest.raises(UpstreamBadResponse, match="not JSON"):
        stream_object(ServerSentEvent("{nope"))
    with pytest.raises(UpstreamBadResponse, match="not an object"):
        stream_object(ServerSentEvent("[1, 2]"))
    with pytest.raises(UpstreamError, match="mid-stream: boom"):
        stream_object(ServerSentEvent('{"error": {"message": "boom"}}'))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("overloaded, try later", "overloaded, try later"),  # not JSON
        ('"a JSON string"', '"a JSON string"'),  # JSON, not an object
        ('{"detail": "no error key"}', '{"detail": "no error key"}'),  # an object without an error shape
        ('{"error": {"message": "shaped"}}', "shaped"),
    ],
)
def test_an_error_event_fails_the_stream_whatever_it_says(data: str, message: str) -> None:
    with pytest.raises(UpstreamError) as info:
        stream_object(ServerSentEvent(data, "error"))
    assert info.value.message == f"The upstream failed mid-stream: {message}"


def test_json_bodies() -> None:
    assert json_body(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(UpstreamBadResponse, match="body that is not JSON"):
        json_body(b"<html>")
