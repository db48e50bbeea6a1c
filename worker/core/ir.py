"""The one intermediate representation every dialect parses into and every adapter reads from.

With N client dialects and M upstream adapters this keeps the translators at N + M instead of N * M.
Requests are frozen dataclasses: once a dialect has validated and parsed a body, nothing downstream may
change it by accident. Answers travel as a stream of small event objects; a non-streamed answer is the
aggregate of the same events (see `worker.core.aggregate`), so the two paths cannot drift apart.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ReasoningMode = Literal["inline", "separate", "hidden"]
"""Where QwQ's reasoning goes: before `</think>` in the text, in a field of its own, or nowhere."""
ResponseShape = Literal["workers", "choices"]
"""The answer shape of `POST /:modelSlug`: Workers AI's `{"response"}` or OpenAI's `choices`."""
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


def new_tool_call_id() -> str:
    """The id the gateway gives a tool call that came without one (Workers AI's calls, calls parsed from
    Qwen's tagged text). It satisfies the Workers schema's `tool_call_id` pattern (9 letters or digits
    in a row), so a client can send it straight back with the tool's result."""
    return "call" + secrets.token_hex(6)


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image given inline as a `data:` URI (the Workers schema refuses HTTP URLs)."""

    url: str


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made. `arguments` is the JSON text exactly as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str | tuple[ContentPart, ...]
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    name: str | None = None

    def text(self) -> str:
        """The message's text with image parts left out (for token estimates and prompt rendering)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`auto`, `none`, `required`, or one named function (`mode == "function"`)."""

    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling fields; `None` means "not given": adapters send only what is set."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat (or raw completion) request, independent of the dialect it arrived in.

    `model` is the model table slug the request resolved to. `prompt` is set only for raw completions
    (`raw=True`); a non-raw `prompt` form is turned into a single user message by the dialect.
    """

    model: str
    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    raw: bool = False
    stream: bool = False
    params: SamplingParams = field(default_factory=SamplingParams)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    response_schema: Mapping[str, Any] | None = None
    schema_field: str = "guided_json"
    """The request field `response_schema` came from, as the client wrote it (for error messages)."""
    json_mode: bool = False
    reasoning: ReasoningMode | None = None
    user: str | None = None
    prompt_tokens: int | None = field(default=None, init=False, repr=False, compare=False)
    """The prompt's tokens once `worker.core.tokenizer` has counted them: a memo, so the limits, the
    context-window check and the usage estimate count a request once. `dataclasses.replace` resets it."""


# --- answer events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call. The first piece of call `index` carries `id` and `name`; later pieces
    carry only argument text, exactly as OpenAI streams them."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None = None
    estimated: bool = False
    cost: float | None = None
    """US dollars at the model's prices (`worker.core.cost`), sent as `estimated_cost` as DeepInfra does."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.reasoning_tokens is not None:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        if self.estimated:
            out["estimated"] = True
        if self.cost is not None:
            out["estimated_cost"] = self.cost
        return out


@dataclass(frozen=True, slots=True)
class UsageEvent:
    usage: Usage


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


@dataclass(frozen=True, slots=True)
class ReasoningEnd:
    """Where the reasoning ended: QwQ's `</think>`, or the end of an upstream's separate reasoning field.
    Made by the reasoning split (`worker.answer.reasoning`) and consumed by its presenter, which writes
    it as the tag (inline) or trims the white space around it (separate, hidden); encoders never see it."""


UpstreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | UsageEvent | Finish
"""What an upstream adapter yields."""
Event = UpstreamEvent | ReasoningEnd
"""What flows from the router through the answer path to the encoders."""
