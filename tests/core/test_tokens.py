"""`TokenTally` with QwQ's tokenizer: the count of the whole text, whatever the pieces, in memory that
does not grow with the text; and the estimated usage."""

from __future__ import annotations

import random

import pytest

from worker.core import tokens
from worker.core.ir import ChatRequest, Message
from worker.core.tokenizer import count, prompt_tokens
from worker.core.tokens import TokenTally, estimate_usage

PIECES = [
    "a",
    "b",
    " ",
    "  ",
    "\n",
    ".",
    "!",
    "é",
    "e\u0301",
    "1",
    "\t",
    "xyz",
    " w",
    "<",
    "</think>",
    "你好",
    "'s",
]


@pytest.mark.parametrize("hold", [1, 7, 64 * 1024])
def test_a_tally_counts_what_count_counts(hold: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "TALLY_HOLD", hold)
    rng = random.Random(11)
    cases = [["a" * 300] * 5 + [" b"], [" " * 300, "x"], ["", ""], [], ["word "] * 50]
    for _ in range(1500):
        cases.append(["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))) for _ in range(9)])
    for pieces in cases:
        tally = TokenTally()
        for piece in pieces:
            tally.add(piece)
        assert tally.total() == count("".join(pieces)), pieces


def test_a_long_answer_is_counted_in_bounded_memory() -> None:
    tally = TokenTally()
    sentence = "The quick brown fox jumps over the lazy dog, again and again. "
    for _ in range(20_000):  # 1.2 MB
        tally.add(sentence)
        assert sum(len(part) for part in tally._parts) <= tokens.TALLY_HOLD + len(sentence)
    assert tally.total() == count(sentence * 20_000)


def test_text_without_a_place_to_cut_is_cut_anyway_and_stays_bounded() -> None:
    tally = TokenTally()
    run = "x" * 1000
    for _ in range(2000):  # 2 MB with no space
        tally.add(run)
        assert sum(len(part) for part in tally._parts) <= tokens.TALLY_FORCE + tokens.TALLY_HOLD + len(run)
    whole = count(run * 2000)
    assert abs(tally.total() - whole) <= 2000 * 1000 // tokens.TALLY_FORCE + 1


def test_an_estimate_counts_the_rendered_prompt_and_the_answer() -> None:
    request = ChatRequest("qwq-32b", (Message("system", "Be brief."), Message("user", "Hello")))
    usage = estimate_usage(request, "Hello, world!")
    assert usage.estimated is True
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens(request), 4)
    # the system turn: <|im_start|> system \n Be " brief" . <|im_end|> \n
    assert usage.prompt_tokens == 11 + 8
