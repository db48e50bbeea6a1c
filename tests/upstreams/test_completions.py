"""Raw prompts on OpenAI-compatible servers: the text-completion payload and answers."""

from __future__ import annotations

import orjson
import pytest

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse, UpstreamError
from worker.core.ir import ChatRequest, Finish, SamplingParams, TextDelta, Usage, UsageEvent
from worker.upstreams.completions import completion_payload, text_chunk_events, text_completion_events

TARGET = Target("openai", "http://up/v1", "Qwen/QwQ-32B")


def test_payload_is_the_prompt_verbatim_with_sampling() -> None:
    request = ChatRequest(
        model="qwq-32b",
        prompt="<|im_start|>user\nhi",
        raw=True,
        stream=True,
        params=SamplingParams(max_tokens=9, stop=("x",)),
    )
    assert completion_payload(request, TARGET) == {
        "model": "Qwen/QwQ-32B",
        "prompt": "<|im_start|>user\nhi",
        "max_tokens": 9,
        "stop": ["x"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_whole_answer() -> None:
    body = {
        "choices": [{"text": "Hello", "finish_reason": "length"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1},
    }
    assert list(text_completion_events(orjson.dumps(body))) == [
        TextDelta("Hello"),
        Finish("length"),
        UsageEvent(Usage(2, 1)),
    ]


@pytest.mark.parametrize("body", [b"nope", b'{"choices": []}', b'{"choices": [{"message": {}}]}'])
def test_bad_answers_are_upstream_errors(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        list(text_completion_events(body))


def test_chunks() -> None:
    assert list(text_chunk_events({"choices": [{"text": "a", "finish_reason": None}]})) == [TextDelta("a")]
    assert list(
        text_chunk_events({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    ) == [UsageEvent(Usage(1, 2))]
    with pytest.raises(UpstreamError, match="mid-stream: boom"):
        list(text_chunk_events({"error": {"message": "boom"}}))
