"""The upstream SSE decoder against the WHATWG event-stream rules, split at every possible byte."""

from __future__ import annotations

import pytest

from worker.upstreams.wire.sse import ServerSentEvent, SSEDecoder, SSETooLarge

# A realistic upstream stream: a comment, an `event:` line, multi-line data, both `data:` spellings,
# every line end, multi-byte UTF-8 (2, 3 and 4 bytes), an empty event, then [DONE].
REALISTIC = (
    b": keep-alive\n\n"
    b'data: {"choices":[{"delta":{"content":"caf\xc3\xa9"}}]}\n\n'
    b'data:{"choices":[{"delta":{"content":"\xe2\x82\xac \xf0\x9f\xa4\x94"}}]}\r\n\r\n'
    b"event: progress\rdata: line one\rdata: line two\r\r"
    b"id: 7\nretry: 100\nunknown: field\ndata\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent('{"choices":[{"delta":{"content":"café"}}]}'),
    ServerSentEvent('{"choices":[{"delta":{"content":"€ 🤔"}}]}'),
    ServerSentEvent("line one\nline two", "progress"),
    ServerSentEvent(""),
    ServerSentEvent("[DONE]"),
]


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.close()


def test_a_realistic_stream_in_one_read() -> None:
    assert decode(REALISTIC) == EXPECTED


@pytest.mark.parametrize("split", range(1, len(REALISTIC)))
def test_split_at_every_byte(split: int) -> None:
    assert decode(REALISTIC[:split], REALISTIC[split:]) == EXPECTED


def test_split_at_every_pair_of_bytes() -> None:
    """Three reads: every (i, j) cut, which covers a `\\r` and `\\n` or a UTF-8 character cut apart."""
    for i in range(1, len(REALISTIC) - 1):
        for j in range(i + 1, len(REALISTIC)):
            assert decode(REALISTIC[:i], REALISTIC[i:j], REALISTIC[j:]) == EXPECTED, (i, j)


def test_one_byte_at_a_time() -> None:
    assert decode(*(REALISTIC[i : i + 1] for i in range(len(REALISTIC)))) == EXPECTED


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_each_line_end(end: bytes) -> None:
    stream = b"data: a" + end + b"data:b" + end + end + b": c" + end + b"data:  d" + end + end
    assert decode(stream) == [ServerSentEvent("a\nb"), ServerSentEvent(" d")]


def test_crlf_split_between_reads_counts_as_one_line_end() -> None:
    """A `\\r` at the end of one read and a `\\n` at the start of the next must not make an empty line
    (which would dispatch the event too early and lose the second data line)."""
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("a\nb")]


def test_comments_are_counted_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": ping\n\n:\n\n") == []
    assert decoder.comments == 2


def test_event_type_resets_after_each_event() -> None:
    assert decode(b"event: error\ndata: x\n\ndata: y\n\n") == [
        ServerSentEvent("x", "error"),
        ServerSentEvent("y"),
    ]


def test_an_event_without_a_final_blank_line_is_flushed_at_the_end() -> None:
    assert decode(b'data: {"a": 1}') == [ServerSentEvent('{"a": 1}')]
    assert decode(b'data: {"a": 1}\n') == [ServerSentEvent('{"a": 1}')]


def test_a_truncated_utf8_character_at_the_end_is_replaced_not_raised() -> None:
    assert decode(b"data: caf\xc3") == [ServerSentEvent("caf\ufffd")]


def test_nothing_in_nothing_out() -> None:
    assert decode(b"") == []
    assert decode(b"\n\n\r\n") == []


def test_an_event_that_never_ends_is_refused_not_buffered() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    decoder.feed(b"data: " + b"x" * 900)
    with pytest.raises(SSETooLarge):
        decoder.feed(b"x" * 200)  # one endless line


def test_many_data_lines_of_one_event_count_together() -> None:
    decoder = SSEDecoder(max_event_chars=1000)
    with pytest.raises(SSETooLarge):
        decoder.feed(b"data: 0123456789\n" * 100)
    ok = SSEDecoder(max_event_chars=1000)
    assert len(ok.feed(b"data: 0123456789\n\n" * 100)) == 100  # dispatched events free their room
