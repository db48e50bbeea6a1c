"""QwQ's reasoning: exact splitting at `</think>` under any chunking, and the three presentations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.streams import collect, cuts, feed, reasoning_of, text_of
from worker.answer.reasoning import MAX_HELD_SPACE, held_prefix, present_reasoning, split_reasoning
from worker.core.closing import close
from worker.core.ir import (
    Event,
    Finish,
    ReasoningDelta,
    ReasoningEnd,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from worker.core.tokens import count_tokens

INLINE = "Let me think.\nYes, 2+2=4 (not </thin>).\n</think>\n\nThe answer is 4."
OPENED = "<think>\n" + INLINE
END: list[Event] = [Finish("stop"), UsageEvent(Usage(5, 20))]


async def through(chunks: list[str] | list[Event], mode: str) -> list[Event]:
    events: list[Event] = [TextDelta(c) if isinstance(c, str) else c for c in chunks]
    return await collect(present_reasoning(split_reasoning(feed([*events, *END])), mode))  # type: ignore[arg-type]


def test_held_prefix() -> None:
    assert held_prefix("abc</th", "</think>") == 4
    assert held_prefix("abc<", "</think>") == 1
    assert held_prefix("abc", "</think>") == 0
    assert held_prefix("</think", "</think>") == 7


@pytest.mark.parametrize("text", [INLINE, OPENED])
async def test_inline_is_byte_identical_at_every_cut(text: str) -> None:
    for chunks in cuts(text):
        out = await through(chunks, "inline")
        assert text_of(out) == text and not reasoning_of(out)


@pytest.mark.parametrize("text", [INLINE, OPENED])
async def test_separate_splits_exactly_at_every_cut(text: str) -> None:
    for chunks in cuts(text):
        out = await through(chunks, "separate")
        assert reasoning_of(out) == "Let me think.\nYes, 2+2=4 (not </thin>)."
        assert text_of(out) == "The answer is 4."
        assert not any(isinstance(e, ReasoningEnd) for e in out)


async def test_hidden_drops_the_reasoning_at_every_cut() -> None:
    for chunks in cuts(OPENED):
        out = await through(chunks, "hidden")
        assert text_of(out) == "The answer is 4." and not reasoning_of(out)


async def test_split_marks_the_tag_and_keeps_order() -> None:
    out = await collect(split_reasoning(feed([TextDelta("a </thi"), TextDelta("nk>b"), *END])))
    assert out[:3] == [ReasoningDelta("a "), ReasoningEnd(), TextDelta("b")]
    assert isinstance(out[-1], UsageEvent) and out[-1].usage.reasoning_tokens == 2  # "a", " "


async def test_text_without_the_tag_is_all_reasoning_and_never_gets_a_tag() -> None:
    out = await through(["cut off while thi", "nking </thi"], "inline")
    assert text_of(out) == "cut off while thinking </thi"
    out = await through(["cut off while thi", "nking </thi"], "separate")
    assert reasoning_of(out) == "cut off while thinking </thi" and text_of(out) == ""


async def test_reasoning_from_a_field_is_rendered_inline_like_qwq() -> None:
    events: list[Event] = [ReasoningDelta("Hmm."), ReasoningDelta(" Fine."), TextDelta("Answer.")]
    assert text_of(await through(events, "inline")) == "Hmm. Fine.\n</think>\n\nAnswer."
    out = await through(events, "separate")
    assert (reasoning_of(out), text_of(out)) == ("Hmm. Fine.", "Answer.")
    # a field upstream that keeps QwQ's own separators is not given a second set
    kept: list[Event] = [ReasoningDelta("Hmm.\n"), TextDelta("\n\nAnswer.")]
    assert text_of(await through(kept, "inline")) == "Hmm.\n</think>\n\nAnswer."


async def test_field_reasoning_before_a_tool_call_is_closed() -> None:
    events: list[Event] = [ReasoningDelta("Call it."), ToolCallDelta(0, "{}", "call123456789", "f")]
    out = await through(events, "inline")
    assert text_of(out) == "Call it.\n</think>"
    assert any(isinstance(e, ToolCallDelta) for e in out)


async def test_usage_reasoning_tokens_kept_when_the_upstream_told() -> None:
    told: list[Event] = [
        TextDelta("a b c</think>d"),
        Finish("stop"),
        UsageEvent(Usage(1, 9, reasoning_tokens=7)),
    ]
    out = await collect(split_reasoning(feed(told)))
    usage = out[-1]
    assert isinstance(usage, UsageEvent) and usage.usage.reasoning_tokens == 7
    counted: list[Event] = [TextDelta("a b c</think>d"), Finish("stop"), UsageEvent(Usage(1, 9))]
    usage = (await collect(split_reasoning(feed(counted))))[-1]
    assert isinstance(usage, UsageEvent) and usage.usage.reasoning_tokens == 3
    assert usage.usage.as_dict()["completion_tokens_details"] == {"reasoning_tokens": 3}


async def test_a_json_answer_without_reasoning_is_all_answer() -> None:
    for chunks in cuts(' \n{"a": [1]}'):
        events: list[Event] = [TextDelta(c) for c in chunks]
        out = await collect(
            present_reasoning(split_reasoning(feed([*events, *END]), json_answer=True), "hidden")
        )
        assert text_of(out) == ' \n{"a": [1]}' and not reasoning_of(out)
    thinking = await collect(split_reasoning(feed([TextDelta("Hmm </think>{}"), *END]), json_answer=True))
    assert (reasoning_of(thinking), text_of(thinking)) == ("Hmm ", "{}")
    fielded: list[Event] = [ReasoningDelta("Hmm"), TextDelta('{"a": 1}'), *END]
    inline = await collect(present_reasoning(split_reasoning(feed(fielded), json_answer=True), "inline"))
    assert text_of(inline) == 'Hmm\n</think>\n\n{"a": 1}'


async def test_separate_keeps_a_reasoning_that_only_looked_like_a_tag() -> None:
    out = await through(["  <th"], "separate")
    assert reasoning_of(out) == "<th" and text_of(out) == ""


FUSED_CASES: list[list[Event]] = [
    [ReasoningDelta("Hmm."), ReasoningDelta(" Fine."), TextDelta("Answer.")],
    [ReasoningDelta("Hmm.\n"), TextDelta(""), TextDelta("\n\nAnswer.")],
    [ReasoningDelta("Call it."), ToolCallDelta(0, "{}", "call123456789", "f")],
    [TextDelta(""), TextDelta("a </thi"), TextDelta(""), TextDelta("nk>"), TextDelta(""), TextDelta("b")],
    [TextDelta("cut off while thi"), TextDelta("nking </thi")],
]


@pytest.mark.parametrize("json_answer", [False, True])
async def test_the_one_stage_inline_split_equals_split_then_present(json_answer: bool) -> None:
    """`split_reasoning(inline=True)` must give event for event what the two stages give."""
    cases: list[list[Event]] = list(FUSED_CASES)
    for text in (OPENED, ' {"a": 1}'):
        cases += [[TextDelta(c) for c in chunks] for chunks in cuts(text)]
    for case in cases:
        fused = await collect(split_reasoning(feed([*case, *END]), json_answer, inline=True))
        staged = await collect(present_reasoning(split_reasoning(feed([*case, *END]), json_answer), "inline"))
        assert fused == staged, case


async def test_the_one_stage_inline_split_passes_an_upstream_chunk_on_as_it_came() -> None:
    chunk = TextDelta("thinking, no tag in sight")
    out = await collect(split_reasoning(feed([chunk, *END]), inline=True))
    assert out[0] is chunk
    assert isinstance(out[-1], UsageEvent) and out[-1].usage.reasoning_tokens == count_tokens(chunk.text)


async def test_white_space_is_never_held_without_bound() -> None:
    """An answer of blanks (before a JSON answer's first character, or trailing reasoning) is passed on
    once there is more than `MAX_HELD_SPACE` of it, not held until the stream ends."""
    consumed = 0

    async def blanks(first: Event) -> AsyncIterator[Event]:
        nonlocal consumed
        yield first
        for _ in range(100_000):
            consumed += 1
            yield TextDelta(" ") if isinstance(first, TextDelta) else ReasoningDelta(" ")

    consumed = 0
    split = split_reasoning(blanks(TextDelta(" ")), json_answer=True)
    assert isinstance(await anext(split), ReasoningDelta) and consumed <= MAX_HELD_SPACE + 1
    await close(split)
    consumed = 0
    shown = present_reasoning(blanks(ReasoningDelta("Let me think.")), "separate")
    assert await anext(shown) == ReasoningDelta("Let me think.")
    blank = await anext(shown)
    assert isinstance(blank, ReasoningDelta) and blank.text.isspace() and consumed <= MAX_HELD_SPACE + 2
    await close(shown)
