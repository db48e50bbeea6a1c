"""The stand-in counter's `StandInTally`: the same count as its `count_tokens` over the whole text,
whatever the pieces, in memory that does not grow with the text."""

from __future__ import annotations

import random

import pytest

from worker.core import stand_in
from worker.core.stand_in import StandInTally, count_tokens

PIECES = ["a", "b", " ", "  ", "\n", ".", "!", "é", "_", "1", "\t", "xyz", " w", "<", "</think>"]


@pytest.mark.parametrize("hold", [1, 5, 64 * 1024])
def test_a_tally_counts_what_count_tokens_counts(hold: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stand_in, "TALLY_HOLD", hold)
    rng = random.Random(7)
    cases = [["a" * 300] * 5 + [" b"], [" " * 300, "x"], ["", ""], []]
    for _ in range(2000):
        cases.append(["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))) for _ in range(9)])
    for pieces in cases:
        tally = StandInTally()
        for piece in pieces:
            tally.add(piece)
        assert tally.total() == count_tokens("".join(pieces)), pieces


def test_a_tally_holds_a_bounded_tail_of_a_long_answer() -> None:
    tally = StandInTally()
    word = "w" * 10_000  # a run that never ends a token: still not held whole
    for _ in range(1000):
        tally.add(word)
        tally.add(" and more text, ")
    held = sum(len(part) for part in tally._parts) + len(tally._tail)
    assert held <= stand_in.TALLY_HOLD + len(word) + 64
    assert tally.total() == count_tokens((word + " and more text, ") * 1000)
