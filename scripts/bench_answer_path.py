"""Cost of the answer path's stream transforms (reasoning split and presentation, tagged-call parsing,
checks) per event, in-process, without any network: `python scripts/bench_answer_path.py`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from worker.answer.path import answer_events
from worker.config.models import Target
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    Message,
    ReasoningMode,
    TextDelta,
    ToolSpec,
    Usage,
    UsageEvent,
)
from worker.core.stand_in import split_tokens

TOKENS = [*split_tokens("Let me think about this carefully, step by step. " * 2000), "\n", "</think>", "\n\n"]
TOKENS += split_tokens("Here is the answer, written out in full. " * 500)


async def upstream(_: ChatRequest) -> AsyncIterator[Event]:
    for token in TOKENS:
        yield TextDelta(token)
    yield Finish("stop")
    yield UsageEvent(Usage(10, len(TOKENS)))


async def plain(_: ChatRequest) -> AsyncIterator[Event]:
    async for event in upstream(_):
        yield event


async def measure(label: str, events: AsyncIterator[Event]) -> None:
    started = time.perf_counter()
    count = 0
    async for _ in events:
        count += 1
    elapsed = time.perf_counter() - started
    per_token = elapsed * 1e6 / len(TOKENS)
    print(f"{label:<34} {len(TOKENS) / elapsed / 1e3:8.0f} k tokens/s  ({per_token:.2f} us/token)")


async def main() -> None:
    request = ChatRequest(model="m", messages=(Message("user", "hi"),), stream=True)
    tools = ChatRequest(
        model="m", messages=request.messages, stream=True, tools=(ToolSpec("f", "", {"type": "object"}),)
    )
    await measure("baseline (one generator)", plain(request))
    modes: tuple[ReasoningMode, ...] = ("inline", "separate", "hidden")
    for mode in modes:
        await measure(f"answer path, {mode}", answer_events(request, Target("openai"), upstream, mode))
    await measure(
        "answer path, prompt tools, inline",
        answer_events(tools, Target("openai", tool_mode="prompt"), upstream, "inline"),
    )


if __name__ == "__main__":
    asyncio.run(main())
