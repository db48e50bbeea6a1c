"""The simulator's model: deterministic text in QwQ's raw form, counted in real tokens.

Like QwQ behind Workers AI, the output is `reasoning ... </think>\n\nanswer` with the opening `<think>`
missing (the chat template opens it). The same request and seed always give the same tokens. The
output is cut at `max_tokens`, which makes the finish reason `length`.

Fault modes are asked for in-band, so that they work through every client dialect: a user message
containing `[sim:error-503]`, `[sim:slow-start=1.5]`, `[sim:stall]`, `[sim:malformed]` or
`[sim:disconnect]` makes the simulator fail that way (see `Fault`).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from worker.ir import ChatRequest, FinishReason, Usage
from worker.tokens import count_prompt_tokens, count_tokens, split_tokens

THINK_CLOSE = "</think>"
_FAULT = re.compile(r"\[sim:(error-(\d{3})|slow-start=([0-9.]+)|stall|malformed|disconnect)\]")

_REASONING = (
    "Let me think about what is being asked here.",
    "First, I should identify the key points.",
    "Hmm, there may be more than one way to read this.",
    "I should keep the answer short and accurate.",
    "Let me check that against what I know.",
    "That seems consistent, so I can write the answer now.",
    "Wait, I should double-check the details once more.",
)
_ANSWER = (
    "Here is a concise answer.",
    "The main idea is simple once the terms are clear.",
    "In short, it depends on the constraints you care about most.",
    "A good first step is to measure before changing anything.",
    "Edge deployments trade raw capacity for lower latency near users.",
    "This keeps the system predictable and easy to operate.",
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "error", "slow-start", "stall", "malformed", "disconnect"
    status: int = 0
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Generation:
    tokens: tuple[str, ...]
    finish_reason: FinishReason
    usage: Usage
    reasoning_token_count: int


def find_fault(request: ChatRequest) -> Fault | None:
    texts = [m.text() for m in request.messages if m.role == "user"]
    if request.prompt is not None:
        texts.append(request.prompt)
    for text in texts:
        match = _FAULT.search(text)
        if match is None:
            continue
        if match.group(2):
            return Fault("error", status=int(match.group(2)))
        if match.group(3):
            return Fault("slow-start", delay=float(match.group(3)))
        return Fault(match.group(1))
    return None


def _seed(request: ChatRequest) -> int:
    if request.params.seed is not None:
        return request.params.seed
    last = (
        request.prompt
        if request.prompt is not None
        else (request.messages[-1].text() if request.messages else "")
    )
    return int.from_bytes(hashlib.blake2b(last.encode(), digest_size=8).digest(), "big")


def generate(request: ChatRequest) -> Generation:
    rng = random.Random(_seed(request))
    question = (
        request.prompt
        if request.prompt is not None
        else next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
    )
    topic = " ".join(question.split()[:8]) or "the question"
    reasoning = f'Okay, the user asks: "{topic}". ' + " ".join(rng.sample(_REASONING, 4))
    answer = " ".join(rng.sample(_ANSWER, 3))
    reasoning_tokens = split_tokens(reasoning)
    tokens = [*reasoning_tokens, "\n", THINK_CLOSE, "\n\n", *split_tokens(answer)]
    limit = request.params.max_tokens
    finish: FinishReason = "stop"
    if limit is not None and len(tokens) > limit:
        tokens = tokens[:limit]
        finish = "length"
    if request.prompt is not None and request.raw:
        prompt_tokens = count_tokens(request.prompt)
    else:
        prompt_tokens = count_prompt_tokens(request.messages)
    reasoning_count = min(len(tokens), len(reasoning_tokens) + 2)
    return Generation(
        tokens=tuple(tokens),
        finish_reason=finish,
        usage=Usage(prompt_tokens, len(tokens), reasoning_count),
        reasoning_token_count=reasoning_count,
    )
