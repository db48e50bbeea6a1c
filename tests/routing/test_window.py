"""`PromptFit`: a prompt far from the window is let through without tokenizing; one near or over it is
counted once; the refusal carries the largest window refused."""

from __future__ import annotations

import pytest

from worker.config.models import ModelEntry, Target
from worker.core.errors import ContextLengthExceeded
from worker.core.ir import ChatRequest, Message, SamplingParams
from worker.core.tokenizer import prompt_tokens
from worker.routing.window import PromptFit, completion_of, window_of

ENTRY = ModelEntry("qwq-32b", (Target("simulator"),), context_window=24000, default_max_tokens=2048)


def ask(text: str, max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest("qwq-32b", (Message("user", text),), params=SamplingParams(max_tokens=max_tokens))


async def test_a_short_prompt_fits_without_being_counted() -> None:
    request = ask("Hello", 100)
    fit = PromptFit(request, ENTRY)
    assert await fit.fits(24000) and await fit.fits(200)
    assert request.prompt_tokens is None  # its bytes were enough to decide


async def test_near_the_window_the_prompt_is_counted_once() -> None:
    request = ask("hello" + " hello" * 999, 100)  # 1,010 tokens with the template, 6,000 bytes
    fit = PromptFit(request, ENTRY)
    assert await fit.fits(1110)
    assert request.prompt_tokens == 1010
    assert not await fit.fits(1109)
    assert not await fit.fits(1000)
    error = fit.refusal()
    assert isinstance(error, ContextLengthExceeded) and error.status == 400
    assert (error.window, error.prompt, error.completion) == (1109, 1010, 100)
    assert error.code == "context_length_exceeded" and error.detail["param"] == "messages"


async def test_without_max_tokens_one_token_must_be_left() -> None:
    entry = ModelEntry("qwq-32b", (Target("simulator"),), context_window=24000)
    request = ask("hello" + " hello" * 99)
    fit = PromptFit(request, entry)
    assert fit.completion == 0
    assert await fit.fits(prompt_tokens(request) + 1)
    assert not await fit.fits(prompt_tokens(request))


def test_the_window_and_completion_a_target_gets() -> None:
    assert window_of(Target("openai", context_window=131072), ENTRY) == 131072
    assert window_of(Target("openai"), ENTRY) == 24000
    assert completion_of(ask("hi", 5), ENTRY) == 5
    assert completion_of(ask("hi"), ENTRY) == 2048


@pytest.mark.parametrize("window", [0, -1])
async def test_no_window_means_no_check(window: int) -> None:
    assert await PromptFit(ask("hello " * 10, 10**9), ENTRY).fits(window)
