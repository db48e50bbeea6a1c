"""A small, deterministic token counter standing in for Qwen's tokenizer where it is not installed.

It counts tokens the way BPE vocabularies mostly fall out for English text: a word with its leading
space is one token, each punctuation mark is one, runs of white space are one. Two users: the simulator
generates its answers in exactly these pieces (one piece a streamed token), and `worker.core.tokenizer`
falls back to it where QwQ's vocabulary cannot be loaded (the Cloudflare Python Worker).
"""

from __future__ import annotations

import re

TOKEN_PATTERN = re.compile(r" ?\w+| ?[^\w\s]|\s+")


def split_tokens(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    # `findall` builds its list in C; counting a generator over `finditer` was 3x slower on the answer path.
    return len(TOKEN_PATTERN.findall(text))


# How much text a `TokenTally` holds before it counts: large enough that counting stays one C-level
# `findall` per ~64 KiB (not a regex scan per streamed chunk), small enough that a stream's memory does
# not grow with its answer.
TALLY_HOLD = 64 * 1024
# A last token longer than this is kept as its first two characters and its last one: what decides how
# the text after it is split is only whether it started with a space and what kind of run it is.
TAIL_KEEP = 64


class StandInTally:
    """`count_tokens` of text that arrives in pieces, exactly, in bounded memory.

    The pattern's matches cover every character and are contiguous, and each match but the last ended
    because the next character could not extend it; more text can only extend or re-split the last one.
    So all matches but the last are final once seen: they are counted and dropped, and the last is kept
    (shortened when long: a 200 MB answer without a space holds three characters, not 200 MB)."""

    __slots__ = ("_counted", "_parts", "_size", "_tail")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._counted = 0
        self._tail = ""

    def add(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size > TALLY_HOLD:
            self._fold()

    def _fold(self) -> None:
        tokens = TOKEN_PATTERN.findall(self._tail + "".join(self._parts))
        self._parts.clear()
        self._size = 0
        if not tokens:
            self._tail = ""
            return
        self._counted += len(tokens) - 1
        last = tokens[-1]
        self._tail = last if len(last) <= TAIL_KEEP else last[:2] + last[-1]

    def total(self) -> int:
        self._fold()
        return self._counted + (1 if self._tail else 0)
