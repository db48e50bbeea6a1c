"""The context window: whether a request's prompt and completion fit a target, decided before sending.

A target's window is its own `context_window`, else its model's. A request fits when its prompt's
tokens (QwQ's chat template included, `worker.core.tokenizer`) plus the completion it may ask for stay
within the window, and at least one token is left to generate. The completion is the request's
`max_tokens`, else the model's `default_max_tokens`, else nothing (the upstream then gives the answer
what the window leaves).

Most requests are far from any window, so the prompt is measured only as far as the decision needs:
every token is at least one byte, so a prompt whose UTF-8 length plus the completion fits is let
through without tokenizing; only one that might not fit is counted, once per request, a long one in a
worker thread.
"""

from __future__ import annotations

from worker.config.models import ModelEntry, Target
from worker.core.errors import ContextLengthExceeded
from worker.core.ir import ChatRequest
from worker.core.tokenizer import most_tokens, prompt_text, prompt_tokens_soon


def window_of(target: Target, entry: ModelEntry) -> int:
    return target.context_window or entry.context_window


def completion_of(request: ChatRequest, entry: ModelEntry) -> int:
    """The completion tokens the request may use, as the gateway will ask the upstream for them."""
    return request.params.max_tokens or entry.default_max_tokens or 0


class PromptFit:
    """One request's prompt against the windows of its targets, measured lazily (see the module)."""

    __slots__ = ("_bound", "_text", "completion", "largest_refused", "request")

    def __init__(self, request: ChatRequest, entry: ModelEntry) -> None:
        self.request = request
        self.completion = completion_of(request, entry)
        self.largest_refused = 0
        """The largest window the request did not fit (0: none refused)."""
        self._bound: int | None = None
        self._text: str | None = None

    async def fits(self, window: int) -> bool:
        if window <= 0:
            return True
        if self._bound is None:
            known = self.request.prompt_tokens
            if known is None:
                self._text = prompt_text(self.request)
                known = most_tokens(self._text)
            self._bound = known
        if _fits(self._bound, self.completion, window):
            return True
        prompt = await prompt_tokens_soon(self.request, self._text)
        self._text = None
        self._bound = prompt
        if _fits(prompt, self.completion, window):
            return True
        self.largest_refused = max(self.largest_refused, window)
        return False

    def refusal(self) -> ContextLengthExceeded:
        """The 400 when no target's window was large enough (call after `fits` said no)."""
        prompt = self.request.prompt_tokens or 0
        return ContextLengthExceeded(self.largest_refused, prompt, self.completion)


def _fits(prompt: int, completion: int, window: int) -> bool:
    return prompt + max(completion, 1) <= window
