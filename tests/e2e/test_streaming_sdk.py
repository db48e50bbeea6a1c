"""The `choices` stream read by the official OpenAI SDK: keep-alive comments, the finish chunk and the
usage chunk parse as `ChatCompletionChunk`s, and an error after the first byte surfaces as an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai import Stream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import API_KEY
from tests.servers import LiveServer

CHOICES = {"X-Response-Shape": "choices"}


def sdk_stream(gateway: LiveServer, content: str, **extra: Any) -> Stream[ChatCompletionChunk]:
    client = openai.OpenAI(
        base_url=gateway.url, api_key=API_KEY, max_retries=0, timeout=15, default_headers=CHOICES
    )
    body = {"messages": [{"role": "user", "content": content}], "stream": True, "seed": 3, **extra}
    return client.post(
        "/qwq-32b",
        body=body,
        cast_to=ChatCompletion,
        stream=True,
        stream_cls=Stream[ChatCompletionChunk],
    )


def test_the_sdk_reads_a_stream_with_keepalives(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1", keepalive_interval=0.1)
    chunks = list(sdk_stream(gateway, "Hello [sim:slow-start=0.5]"))
    assert all(isinstance(c, ChatCompletionChunk) and c.model == "qwq-32b" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "</think>" in text
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None and usage.completion_tokens > 0


def test_an_error_after_the_first_byte_is_an_error_for_the_sdk(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIError):
        for chunk in sdk_stream(gateway, "Hello [sim:disconnect]"):
            seen.append(chunk)
    assert len(seen) > 3  # it failed mid-answer, after real content: not a clean, shorter answer
