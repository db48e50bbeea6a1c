"""Tagged tool calls parsed out of the answer stream, whatever the chunking."""

from __future__ import annotations

import orjson
import pytest

from tests.streams import collect, cuts, feed, text_of
from worker.answer.tool_tags import TaggedCallParser, decode_call, parse_tagged_calls
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import Event, Finish, ReasoningDelta, ReasoningEnd, TextDelta, ToolCallDelta

CALL_A = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris <3"}}\n</tool_call>'
CALL_B = '<tool_call>{"name": "get_time", "arguments": "{\\"zone\\": \\"CET\\"}"}</tool_call>'
ANSWER = f"Let me look. <tool_ < not a tag\n{CALL_A}\n{CALL_B}\n"


async def parse(chunks: list[str], reason: str = "stop") -> list[Event]:
    events: list[Event] = [TextDelta(c) for c in chunks]
    return await collect(parse_tagged_calls(feed([*events, Finish(reason)])))  # type: ignore[arg-type]


def calls_of(events: list[Event]) -> list[tuple[int, str, dict[str, object]]]:
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            if e.name:
                names[e.index] = e.name
            arguments[e.index] = arguments.get(e.index, "") + e.arguments
    return [(i, names[i], orjson.loads(arguments[i])) for i in sorted(names)]


async def test_calls_and_text_at_every_cut() -> None:
    for chunks in cuts(ANSWER):
        out = await parse(chunks)
        assert text_of(out) == "Let me look. <tool_ < not a tag\n"
        assert calls_of(out) == [
            (0, "get_weather", {"city": "Paris <3"}),
            (1, "get_time", {"zone": "CET"}),
        ]
        assert out[-1] == Finish("tool_calls")
        assert "<tool_call" not in text_of(out)


async def test_first_delta_of_each_call_has_id_and_name_then_only_arguments() -> None:
    out = [e for e in await parse([ANSWER]) if isinstance(e, ToolCallDelta)]
    assert [(e.index, e.name is not None, e.id is not None) for e in out] == [
        (0, True, True),
        (0, False, False),
        (1, True, True),
        (1, False, False),
    ]
    first_id = out[0].id
    assert first_id is not None and first_id.isalnum() and len(first_id) >= 9
    assert out[0].id != out[2].id


async def test_a_held_tag_prefix_is_text_when_the_answer_ends() -> None:
    out = await parse(["The end <tool_c"])
    assert text_of(out) == "The end <tool_c" and out[-1] == Finish("stop")


async def test_reasoning_and_the_think_marker_pass_untouched() -> None:
    events: list[Event] = [ReasoningDelta(CALL_A), ReasoningEnd(), TextDelta("plain"), Finish("stop")]
    out = await collect(parse_tagged_calls(feed(events)))
    assert out == events


async def test_unclosed_call_with_whole_json_is_accepted() -> None:
    out = await parse(['<tool_call>{"name": "f", "arguments": {}}'])
    assert calls_of(out) == [(0, "f", {})]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('<tool_call>{"name": "f", "arguments": {</tool_call>', "not valid JSON"),
        ('<tool_call>{"arguments": {}}</tool_call>', "without a function name"),
        ('<tool_call>{"name": "f", "arguments": [1]}</tool_call>', "not an object"),
        ('<tool_call>{"name": "f", "arguments": "{oops"}</tool_call>', "not valid JSON"),
        ('<tool_call>{"name": "f", "argu', "not valid JSON"),
    ],
)
async def test_broken_calls_are_upstream_errors(body: str, needle: str) -> None:
    with pytest.raises(UpstreamBadResponse, match=needle):
        await parse([body])


def test_a_call_that_never_ends_is_refused_instead_of_buffered() -> None:
    parser = TaggedCallParser()
    list(parser.feed("<tool_call>"))
    with pytest.raises(UpstreamBadResponse, match="never ends"):
        for _ in range(300):
            list(parser.feed("x" * 1024))


def test_decode_call_keeps_arguments_as_json_text() -> None:
    assert decode_call('{"name": "f", "parameters": {"a": 1}}') == ("f", '{"a":1}')
