"""Token counts the gateway reports or reserves: text, a streamed answer in pieces, an estimated usage.

All of them count with QwQ's tokenizer (`worker.core.tokenizer`; its stand-in where it is missing). A
usage the gateway had to work out itself (the upstream sent none, or the gateway cut the answer) is
marked `estimated`: the prompt is counted exactly as the chat template renders it, the completion is the
text the client received, which may differ by a token or two from what the model sampled.
"""

from __future__ import annotations

from worker.core import tokenizer
from worker.core.ir import ChatRequest, Usage
from worker.core.stand_in import StandInTally

count_tokens = tokenizer.count

# How much text a `TokenTally` holds before it counts: one tokenizer call per ~64 KiB, not one per
# streamed chunk, and memory that does not grow with the answer.
TALLY_HOLD = 64 * 1024
# Held text with no safe place to cut (see `_cut`) is cut anyway once it is this long, keeping this
# much: the count can then be off by a token at that cut, and memory stays bounded.
TALLY_FORCE = 4 * TALLY_HOLD
FORCED_KEEP = 1024
# How many spaces `_cut` looks at, from the end, for one that follows a letter.
CUT_TRIES = 256


def _cut(text: str) -> int:
    """Where `text` can be split so that the tokens of both parts add up to the tokens of the whole:
    before a space that follows a letter. No pre-tokenizer piece of Qwen2's pattern holds a letter and
    then a space (letters run in `\\p{L}+`, spaces in the white-space alternatives), so a piece ends
    there whatever comes after, and BPE never merges across pieces. 0 when there is none near the end."""
    end = len(text)
    for _ in range(CUT_TRIES):
        at = text.rfind(" ", 1, end)
        if at <= 0:
            return 0
        if text[at - 1].isalpha():
            return at
        end = at
    return 0


class TokenTally:
    """Tokens of text that arrives in pieces (a streamed answer), in bounded memory.

    Pieces are held until there are `TALLY_HOLD` characters, then all but the end after the last safe
    cut are counted and dropped. Exact as long as a safe cut comes along every `TALLY_FORCE` characters
    (any prose does); the vocabulary is loaded on the first fold, not when a stream starts."""

    __slots__ = ("_counted", "_limit", "_parts", "_size", "_stand_in")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._counted = 0
        self._limit = TALLY_HOLD
        self._stand_in: StandInTally | None = None

    def add(self, text: str) -> None:
        if self._stand_in is not None:
            self._stand_in.add(text)
            return
        self._parts.append(text)
        self._size += len(text)
        if self._size > self._limit:
            self._fold()

    def _fold(self) -> None:
        text = "".join(self._parts)
        if not tokenizer.exact():
            self._stand_in = StandInTally()
            self._stand_in.add(text)
            self._parts.clear()
            return
        cut = _cut(text)
        if cut == 0 and len(text) > TALLY_FORCE:
            cut = len(text) - FORCED_KEEP
        if cut == 0:  # look again once another `TALLY_HOLD` has come
            self._parts = [text]
            self._limit = len(text) + TALLY_HOLD
            return
        self._counted += tokenizer.count(text[:cut])
        rest = text[cut:]
        self._parts = [rest]
        self._size = len(rest)
        self._limit = TALLY_HOLD

    def total(self) -> int:
        if self._stand_in is not None:
            return self._stand_in.total()
        text = "".join(self._parts)
        return self._counted + (tokenizer.count(text) if text else 0)


def estimate_usage(request: ChatRequest, completion_text: str) -> Usage:
    """The usage of an answer whose upstream sent none (or that the gateway cut), marked as estimated."""
    return estimate_counted(request, count_tokens(completion_text))


def estimate_counted(request: ChatRequest, completion_tokens: int) -> Usage:
    """`estimate_usage` for an answer whose tokens were tallied as it streamed (`TokenTally`)."""
    return Usage(tokenizer.prompt_tokens(request), completion_tokens, estimated=True)
