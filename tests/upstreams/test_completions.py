"""Raw prompts on OpenAI-compatible servers: the text-completion payload and answers."""

from __future__ import annotations

import orjson
import pytest

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import ChatRequest, Finish, SamplingParams, TextDelta, Usage, UsageEvent
from worker.upstreams.completions import TextChunks, completion_payload, text_completion_events

TARGET = Target("openai", "http://up/v1", "Qwen/QwQ-32B")


def test_payload_is_the_prompt_verbatim_with_sampling() -> None:
    request = ChatRequest(
        model="qwq-32b",
        prompt="<|im_start|>user\nhi",
        raw=True,
        stream=True,
        params=SamplingParams(max_tokens=9, stop=("x",)),
    )
    payload = completion_payload(request, TARGET)
    assert list(payload) == ["model", "prompt", "max_tokens", "stop", "stream", "stream_options"]
    assert payload == {
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


def test_a_prompt_without_prompt_text_sends_an_empty_one() -> None:
    payload = completion_payload(ChatRequest(model="m", raw=True), TARGET)
    assert payload == {"model": "Qwen/QwQ-32B", "prompt": ""}


def test_chunks() -> None:
    """(Mid-stream errors are found before any decoder sees a chunk: `wire/test_decode.py`.)"""
    chunks = TextChunks()
    assert chunks.decode({"choices": [{"text": "a", "finish_reason": None}]}) == [TextDelta("a")]
    assert not chunks.finished
    assert chunks.decode({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}) == [
        UsageEvent(Usage(1, 2))
    ]
    assert chunks.decode({"choices": [{"text": "", "finish_reason": "eos"}]}) == [Finish("stop")]
    assert chunks.finished  # a finish reason came: the stream may end without [DONE]
