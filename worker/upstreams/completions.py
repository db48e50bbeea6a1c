"""Raw prompts (`raw: true`) on OpenAI-compatible servers: the legacy text-completion endpoint.

`POST {base}/completions` takes the prompt as is, with no chat template, which is what `raw` means in
the Workers schema. The answer is `choices[0].text` (streamed: `choices[0].text` per chunk). Tools and
structured output do not apply to a raw prompt; sampling fields pass through as for chat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse, UpstreamError
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    FinishReason,
    SamplingParams,
    TextDelta,
    Usage,
    UsageEvent,
)

FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "eos": "stop"}
SAMPLING = SamplingParams.__dataclass_fields__


def completion_payload(request: ChatRequest, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": target.model, "prompt": request.prompt or ""}
    for name in SAMPLING:
        value = getattr(request.params, name)
        if value is not None and value != ():
            payload[name] = list(value) if isinstance(value, tuple) else value
    if request.stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None


def _choice_events(choice: Any) -> Iterator[Event]:
    if not isinstance(choice, dict):
        raise UpstreamBadResponse("The upstream sent a completion choice that is not an object")
    text = choice.get("text")
    if text is not None and not isinstance(text, str):
        raise UpstreamBadResponse("The upstream answered with 'text' that is not a string")
    if text:
        yield TextDelta(text)
    reason = choice.get("finish_reason")
    if isinstance(reason, str):
        yield Finish(FINISH.get(reason, "stop"))


def text_completion_events(body: bytes) -> Iterator[Event]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The upstream answered with a body that is not JSON") from exc
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBadResponse("The upstream answered 200 without 'choices'")
    if not isinstance(choices[0].get("text"), str):
        raise UpstreamBadResponse("The upstream answered a completion without 'text'")
    yield from _choice_events(choices[0])
    usage = _usage(data.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)


def text_chunk_events(data: Any) -> Iterator[Event]:
    if not isinstance(data, dict):
        raise UpstreamBadResponse("The upstream sent a stream chunk that is not an object")
    if "error" in data:
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise UpstreamError(f"The upstream failed mid-stream: {str(message)[:500]}")
    for choice in data.get("choices") or ():
        yield from _choice_events(choice)
    usage = _usage(data.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)
