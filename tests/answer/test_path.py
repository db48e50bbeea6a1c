"""The answer path's checks and single retry, driven by scripted upstream answers (pure logic)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.streams import collect, reasoning_of, text_of
from worker.answer.path import ToolCallMissing, answer_events
from worker.answer.structured import StructuredOutputMismatch
from worker.config.models import Target
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    Message,
    TextDelta,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    Usage,
    UsageEvent,
)

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
TOOL = ToolSpec("f", "a function", {"type": "object", "properties": {}})


class Script:
    """Answers each call with the next text, and records what was sent and what was closed."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.sent: list[ChatRequest] = []
        self.closed = 0

    async def run(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.sent.append(request)
        text = self.answers.pop(0)
        try:
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                yield TextDelta(piece)
            yield Finish("stop")
            yield UsageEvent(Usage(1, 2))
        finally:
            self.closed += 1


def chat(stream: bool = False, **extra: object) -> ChatRequest:
    return ChatRequest(model="m", messages=(Message("user", "hi"),), stream=stream, **extra)  # type: ignore[arg-type]


async def test_valid_json_passes_in_one_try() -> None:
    script = Script('Hmm.</think>{"n": 1}')
    out = await collect(answer_events(chat(response_schema=SCHEMA), Target("openai"), script.run, "hidden"))
    assert (
        text_of(out) == '{"n": 1}'
        and len(script.sent) == 1
        and out[-2:] == [Finish("stop"), UsageEvent(Usage(1, 2, 2))]
    )


async def test_invalid_json_is_retried_once_and_the_first_try_is_closed() -> None:
    script = Script("Hmm.</think>nope", 'Hmm.</think>{"n": 2}')
    out = await collect(answer_events(chat(response_schema=SCHEMA), Target("openai"), script.run, "inline"))
    assert text_of(out) == 'Hmm.</think>{"n": 2}' and len(script.sent) == 2 and script.closed == 2


async def test_two_mismatches_raise() -> None:
    script = Script('</think>{"n": "x"}', '</think>{"n": "y"}')
    with pytest.raises(StructuredOutputMismatch, match="at /n"):
        await collect(answer_events(chat(response_schema=SCHEMA), Target("openai"), script.run, "inline"))
    assert len(script.sent) == 2


async def test_a_stream_that_showed_text_is_not_retried() -> None:
    script = Script("Thinking aloud</think>nope", '</think>{"n": 2}')
    seen: list[Event] = []
    with pytest.raises(StructuredOutputMismatch):
        async for event in answer_events(
            chat(True, response_schema=SCHEMA), Target("openai"), script.run, "inline"
        ):
            seen.append(event)
    assert text_of(seen).startswith("Thinking") and len(script.sent) == 1
    assert not any(isinstance(e, Finish) for e in seen)  # the error comes instead of the finish


async def test_prompt_mode_required_call_is_retried_and_sent_without_native_tools() -> None:
    script = Script("</think>no call here", '</think><tool_call>{"name": "f", "arguments": {}}</tool_call>')
    request = chat(tools=(TOOL,), tool_choice=ToolChoice("required"))
    out = await collect(answer_events(request, Target("openai", tool_mode="prompt"), script.run, "hidden"))
    assert [s.tools for s in script.sent] == [(), ()] and script.sent[0].messages[0].role == "system"
    assert out[-2] == Finish("tool_calls") and text_of(out) == ""


async def test_prompt_mode_required_call_missing_twice_raises() -> None:
    script = Script("</think>no", "</think>still no")
    request = chat(tools=(TOOL,), tool_choice=ToolChoice("function", "f"))
    with pytest.raises(ToolCallMissing):
        await collect(answer_events(request, Target("openai", tool_mode="prompt"), script.run, "hidden"))


async def test_native_mode_leaves_tags_alone_and_never_retries() -> None:
    script = Script('</think><tool_call>{"name": "f"}</tool_call>')
    request = chat(tools=(TOOL,), tool_choice=ToolChoice("required"))
    out = await collect(answer_events(request, Target("openai"), script.run, "hidden"))
    assert "<tool_call>" in text_of(out) and script.sent == [request]


async def test_raw_requests_are_not_split() -> None:
    script = Script("a</think>b")
    request = ChatRequest(model="m", prompt="p", raw=True)
    out = await collect(answer_events(request, Target("openai"), script.run, "hidden"))
    assert text_of(out) == "a</think>b"


async def test_reasoning_and_tagged_calls_at_every_cut_through_the_whole_path() -> None:
    text = 'Use f.\n</think>\n\nSure.<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    request = chat(True, tools=(TOOL,))

    for cut in range(1, len(text)):
        pieces = (text[:cut], text[cut:])

        async def run(_: ChatRequest, pieces: tuple[str, str] = pieces) -> AsyncIterator[Event]:
            for piece in pieces:
                yield TextDelta(piece)
            yield Finish("stop")
            yield UsageEvent(Usage(1, 2))

        out = await collect(answer_events(request, Target("openai", tool_mode="prompt"), run, "separate"))
        assert (reasoning_of(out), text_of(out)) == ("Use f.", "Sure."), cut
        calls = [e for e in out if isinstance(e, ToolCallDelta)]
        assert [(c.index, c.name, c.arguments) for c in calls] == [(0, "f", ""), (0, None, '{"a":1}')]
        assert out[-2] == Finish("tool_calls")
