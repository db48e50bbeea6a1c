"""Raw prompts (`raw: true`) on OpenAI-compatible servers: the legacy text-completion endpoint.

`POST {base}/completions` takes the prompt as is, with no chat template, which is what `raw` means in
the Workers schema. The answer is `choices[0].text` (streamed: `choices[0].text` per chunk). Tools and
structured output do not apply to a raw prompt; sampling fields pass through as for chat.
"""

from __future__ import annotations

from typing import Any

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import ChatRequest, Finish, FinishReason, TextDelta, UpstreamEvent, UsageEvent
from worker.upstreams.params import SAMPLING, Param, ParamMap, map_params, true_or_absent
from worker.upstreams.wire.decode import StreamEnd, WireFormat, json_body, usage
from worker.upstreams.wire.status import error_for_status

FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "eos": "stop"}


def _include_usage(stream: bool) -> dict[str, bool] | None:
    """Ask for the usage chunk at the end of a stream (OpenAI sends none unless asked)."""
    return {"include_usage": True} if stream else None


# The fields of a streamed request, shared with the chat map (`openai_compat.CHAT_PARAMS`).
STREAM_PARAMS: ParamMap = {
    "stream": Param("stream", transform=true_or_absent),
    "stream_options": Param("stream", transform=_include_usage),
}
COMPLETION_PARAMS: ParamMap = {"prompt": Param("prompt", default=""), **SAMPLING, **STREAM_PARAMS}


def completion_payload(request: ChatRequest, target: Target) -> dict[str, Any]:
    return {"model": target.model, **map_params(request, COMPLETION_PARAMS)}


def _choice_events(choice: Any, events: list[UpstreamEvent]) -> bool:
    """Append a choice's events; True if it carried a finish reason."""
    if not isinstance(choice, dict):
        raise UpstreamBadResponse("The upstream sent a completion choice that is not an object")
    text = choice.get("text")
    if text is not None and not isinstance(text, str):
        raise UpstreamBadResponse("The upstream answered with 'text' that is not a string")
    if text:
        events.append(TextDelta(text))
    reason = choice.get("finish_reason")
    if isinstance(reason, str):
        events.append(Finish(FINISH.get(reason, "stop")))
        return True
    return False


def text_completion_events(body: bytes) -> list[UpstreamEvent]:
    data = json_body(body)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBadResponse("The upstream answered 200 without 'choices'")
    if not isinstance(choices[0].get("text"), str):
        raise UpstreamBadResponse("The upstream answered a completion without 'text'")
    events: list[UpstreamEvent] = []
    _choice_events(choices[0], events)
    counted = usage(data.get("usage"))
    if counted is not None:
        events.append(UsageEvent(counted))
    return events


class TextChunks:
    """The chunk decoder of a streamed text completion."""

    __slots__ = ("finished",)

    def __init__(self) -> None:
        self.finished = False

    def decode(self, data: dict[str, Any]) -> list[UpstreamEvent]:
        events: list[UpstreamEvent] = []
        for choice in data.get("choices") or ():
            if _choice_events(choice, events):
                self.finished = True
        counted = usage(data.get("usage"))
        if counted is not None:
            events.append(UsageEvent(counted))
        return events


# Shared with chat: several OpenAI-compatible servers end a stream without `[DONE]` once finished.
OPENAI_END = StreamEnd("The upstream stream ended before the answer was finished", finish_suffices=True)
COMPLETIONS = WireFormat(error_for_status, text_completion_events, TextChunks, OPENAI_END)
