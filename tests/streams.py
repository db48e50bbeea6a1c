"""Helpers for testing stream transforms: feed events in, collect what comes out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from worker.core.ir import Event, ReasoningDelta, TextDelta


async def feed(events: Iterable[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def text_of(events: Iterable[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning_of(events: Iterable[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def cuts(text: str) -> list[list[str]]:
    """`text` cut in two at every position, and one character per chunk."""
    return [[text[:i], text[i:]] for i in range(1, len(text))] + [list(text)]
