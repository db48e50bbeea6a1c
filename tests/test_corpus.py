"""The golden corpus: a fixed list of requests and the exact bytes the gateway answers them with.

This is a regression net for refactors. Each case below is one request (a surface, a body, headers)
sent to one of a few gateway configurations: the built-in simulator in-process, a live gateway in front
of a live simulator through the OpenAI-compatible adapter, a live gateway in front of a fake
Cloudflare (the Workers AI REST adapter), and a gateway in front of another gateway (the `gateway`
adapter). The answer's status, content type, a few stable headers and its body text are compared with
`tests/corpus/answers.json`, byte for byte, once the parts that change from run to run (request ids,
timestamps, random tool-call ids, ports) are masked. The same requests must give the same bytes.

When an answer is meant to change, re-record deliberately and review the diff of the answers file:

    RECORD_CORPUS=1 .venv/bin/pytest tests/test_corpus.py   # rewrites the file; every case then fails
    .venv/bin/pytest tests/test_corpus.py                   # must pass

Recording a subset (`-k`) updates only those entries. Only `worker.app.create_app`, the simulator
server and the test helpers are imported from the project, so the corpus survives moving modules.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.cloudflare_server import FakeCloudflare
from tests.conftest import API_KEY, AUTH, make_settings
from tests.e2e_helpers import CLOCK_NESTED, WEATHER_FLAT, WEATHER_TURN
from tests.servers import LiveServer
from worker.app import create_app
from worker.simulator.server import SimulatorServer

ANSWERS = Path(__file__).parent / "corpus" / "answers.json"
RECORDING = os.environ.get("RECORD_CORPUS") == "1"

# Every gateway of the corpus: no retries and no breakers, so a fault case gives the same answer
# whatever ran before it (a breaker opened by earlier faults would change later answers).
STEADY = {"retry_attempts": 0, "breaker_failures": 0, "simulator_token_delay": 0}
CF_TOKEN = "cf-token-corpus-0451"
CF_ACCOUNT = "acc0123"
BACK_KEY = "back-gateway-key-corpus"

# --- request pieces -------------------------------------------------------------------------------

JSON_TYPE = {"Content-Type": "application/json"}
BAD_KEY = {"Authorization": "Bearer not-a-key"}
ANTHROPIC = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
SLUG = "/qwq-32b"
CF_RUN = "/client/v4/accounts/abc/ai/run/@cf/qwen/qwq-32b"
OPENAI = "/v1/chat/completions"
MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"

WEATHER_NESTED = {"type": "function", "function": WEATHER_FLAT}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": WEATHER_FLAT["parameters"],
}
TRIP = {
    "type": "object",
    "required": ["city", "days"],
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
}
RAW_PROMPT = "<|im_start|>user\nWhat is an edge gateway?<|im_end|>\n<|im_start|>assistant\n<think>\n"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """A `/qwq-32b` or Cloudflare REST body."""
    return {"messages": user(text), "seed": 11, **extra}


def oa(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """An OpenAI chat completions body."""
    return {"model": "qwq-32b", "messages": user(text), "seed": 11, **extra}


def an(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """An Anthropic messages body."""
    return {"model": "qwq-32b", "max_tokens": 256, "messages": user(text), **extra}


def rs(given: Any = "Hello there", **extra: Any) -> dict[str, Any]:
    """An OpenAI Responses API body (`given` is its `input`)."""
    return {"model": "qwq-32b", "input": given, **extra}


WEATHER_RESPONSES = {"type": "function", **WEATHER_FLAT}
RESPONSES_WEATHER_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "type": "function_call",
        "call_id": "call000000001",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    },
    {
        "type": "function_call_output",
        "call_id": "call000000001",
        "output": '{"temperature": 21, "sky": "clear"}',
    },
]

ANTHROPIC_WEATHER_TURN = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "21 degrees, clear"},
        ],
    },
]


# --- cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request. `body` is sent as compact JSON unless `content` (raw bytes) is given."""

    name: str
    config: str
    method: str
    path: str
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))


CASES: list[Case] = []


def case(
    config: str,
    name: str,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    CASES.append(
        Case(
            f"{config}/{name}",
            config,
            method,
            path,
            body,
            content,
            dict(AUTH if headers is None else headers),
        )
    )


def slug_cases(config: str) -> None:
    """The `/qwq-32b` surface on the built-in simulator: shapes, streams, tools, JSON, reasoning, errors."""
    for shape in ("workers", "choices"):
        q = f"{SLUG}?shape={shape}"
        case(config, f"{shape}/plain", q, chat())
        case(config, f"{shape}/plain-stream", q, chat(stream=True))
        case(config, f"{shape}/prompt", q, {"prompt": "What is an edge gateway?", "max_tokens": 64})
        for mode in ("separate", "hidden"):
            case(config, f"{shape}/reasoning-{mode}-stream", f"{q}&reasoning={mode}", chat(stream=True))
        case(config, f"{shape}/reasoning-separate", f"{q}&reasoning=separate", chat())
        case(config, f"{shape}/tools-flat", q, chat("Weather in Paris?", tools=[WEATHER_FLAT]))
        case(
            config,
            f"{shape}/tools-nested-stream",
            q,
            chat("What time is it?", tools=[CLOCK_NESTED], tool_choice="required", stream=True),
        )
        case(
            config,
            f"{shape}/tool-result",
            q,
            {"messages": WEATHER_TURN, "tools": [WEATHER_NESTED], "seed": 5},
        )
        case(config, f"{shape}/guided-json", f"{q}&reasoning=hidden", chat("Plan a trip", guided_json=TRIP))
        case(config, f"{shape}/guided-json-stream", q, chat("Plan a trip", guided_json=TRIP, stream=True))
        case(
            config,
            f"{shape}/fault-bad-args-stream",
            q,
            chat("hi [sim:bad-args]", tools=[WEATHER_FLAT], stream=True),
        )
        case(config, f"{shape}/fault-disconnect-stream", q, chat("hi [sim:disconnect]", stream=True))
    case(config, "workers/reasoning-inline", f"{SLUG}?reasoning=inline", chat("Inline, please"))
    case(config, "workers/reasoning-hidden", f"{SLUG}?reasoning=hidden", chat())
    case(config, "choices/length", f"{SLUG}?shape=choices", chat(max_tokens=12))
    case(config, "choices/length-stream", f"{SLUG}?shape=choices", chat(max_tokens=12, stream=True))
    case(
        config,
        "choices/tools-parallel-stream",
        f"{SLUG}?shape=choices",
        chat("Weather and time [sim:parallel]", tools=[WEATHER_FLAT, CLOCK_NESTED], stream=True),
    )
    case(
        config,
        "workers/headers-choices-separate",
        SLUG,
        chat(),
        headers={**AUTH, "X-Response-Shape": "choices", "X-Reasoning-Mode": "separate"},
    )
    case(config, "workers/tool-choice-none", SLUG, chat("Weather?", tools=[WEATHER_FLAT], tool_choice="none"))
    case(
        config,
        "workers/tool-choice-named",
        f"{SLUG}?shape=choices",
        chat(
            "Time?",
            tools=[WEATHER_FLAT, CLOCK_NESTED],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        ),
    )
    # errors
    case(config, "err/no-key", SLUG, chat(), headers={})
    case(config, "err/bad-key", SLUG, chat(), headers=BAD_KEY)
    case(config, "err/unknown-model", "/gpt-9", chat())
    case(config, "err/get-slug-405", SLUG, method="GET")
    case(config, "err/post-healthz-405", "/healthz", {})
    case(config, "err/no-route-404", "/no/such/route", method="GET")
    case(
        config,
        "err/form-415",
        SLUG,
        content=b"prompt=x",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    case(config, "err/too-large-413", SLUG, {"prompt": "x" * 4_200_000})
    case(config, "err/bad-json", SLUG, content=b'{"messages": [', headers={**AUTH, **JSON_TYPE})
    case(config, "err/empty-body", SLUG, content=b"", headers={**AUTH, **JSON_TYPE})
    case(config, "err/schema", SLUG, {"messages": "nope", "max_tokens": "many"})
    case(config, "err/prompt-and-messages", SLUG, {"prompt": "a", "messages": user("b")})
    case(config, "err/functions", SLUG, chat(functions=[{"name": "f", "code": "return 1"}]))
    case(config, "err/raw-with-tools", SLUG, {"prompt": "hi", "raw": True, "tools": [WEATHER_FLAT]})
    case(config, "err/bad-guided-json", SLUG, chat(guided_json={"type": "no-such-type"}))
    case(config, "err/bad-shape", f"{SLUG}?shape=xml", chat())
    case(config, "err/bad-reasoning", f"{SLUG}?reasoning=loud", chat())
    case(
        config,
        "err/http-image",
        SLUG,
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ]
        },
    )
    # simulated upstream faults, not streamed
    for fault in ("error-503", "error-400", "error-429", "malformed"):
        case(config, f"fault/{fault}", SLUG, chat(f"hi [sim:{fault}]"))
    case(config, "fault/bad-json", SLUG, chat("Plan [sim:bad-json]", guided_json=TRIP))
    case(config, "fault/bad-json-stream", SLUG, chat("Plan [sim:bad-json]", guided_json=TRIP, stream=True))
    case(config, "fault/bad-args", SLUG, chat("hi [sim:bad-args]", tools=[WEATHER_FLAT]))
    case(config, "fault/error-503-stream", SLUG, chat("hi [sim:error-503]", stream=True))


def surface_cases(config: str) -> None:
    """Cloudflare REST, OpenAI and Anthropic on the built-in simulator."""
    case(config, "cf/plain", CF_RUN, chat(max_tokens=64))
    case(config, "cf/stream", CF_RUN, {"prompt": "Hello", "stream": True, "max_tokens": 24})
    case(config, "cf/tools", CF_RUN, chat("Weather in Paris?", tools=[WEATHER_FLAT]))
    case(config, "cf/guided-json", CF_RUN, chat("Plan a trip", guided_json=TRIP))
    case(config, "cf/no-key", CF_RUN, chat(), headers={})
    case(config, "cf/unknown-model", "/client/v4/accounts/abc/ai/run/@cf/meta/llama-9", chat())
    case(config, "cf/schema", CF_RUN, {"messages": [{"content": 3}]})
    case(config, "cf/bad-json", CF_RUN, content=b"{not json", headers={**AUTH, **JSON_TYPE})
    case(config, "cf/fault-error-503", CF_RUN, chat("hi [sim:error-503]"))
    case(config, "cf/fault-error-429", CF_RUN, chat("hi [sim:error-429]"))
    case(config, "cf/fault-disconnect-stream", CF_RUN, chat("hi [sim:disconnect]", stream=True))

    case(config, "openai/plain", OPENAI, oa())
    case(config, "openai/stream", OPENAI, oa(stream=True))
    case(
        config,
        "openai/stream-usage",
        OPENAI,
        oa(stream=True, stream_options={"include_usage": True}, max_tokens=16),
    )
    case(
        config,
        "openai/cloudflare-path",
        "/client/v4/accounts/abc/ai/v1/chat/completions",
        {"model": "@cf/qwen/qwq-32b", "messages": user("Hello"), "max_tokens": 64},
    )
    case(
        config,
        "openai/tools",
        OPENAI,
        oa("Weather in Paris?", tools=[WEATHER_NESTED], tool_choice="required"),
    )
    case(config, "openai/tools-stream", OPENAI, oa("Weather in Paris?", tools=[WEATHER_NESTED], stream=True))
    case(
        config,
        "openai/tool-result",
        OPENAI,
        {"model": "qwq-32b", "messages": WEATHER_TURN, "tools": [WEATHER_NESTED]},
    )
    case(
        config,
        "openai/json-schema",
        OPENAI,
        oa(
            "Plan a trip",
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "trip", "schema": TRIP, "strict": True},
            },
        ),
    )
    case(
        config,
        "openai/json-object-stream",
        OPENAI,
        oa("Give JSON", response_format={"type": "json_object"}, stream=True),
    )
    case(config, "openai/stop", OPENAI, oa(stop=["user"]))
    case(config, "openai/stop-stream", OPENAI, oa(stop=["the", "edge"], stream=True))
    case(
        config,
        "openai/ignored-fields",
        OPENAI,
        oa(
            reasoning_effort="low",
            logprobs=False,
            parallel_tool_calls=True,
            max_completion_tokens=20,
            max_tokens=99,
        ),
    )
    case(
        config,
        "openai/developer-turn",
        OPENAI,
        {
            "model": "Qwen/QwQ-32B",
            "messages": [{"role": "developer", "content": "Be brief."}, *user("Hello")],
            "seed": 2,
        },
    )
    case(config, "openai/n-2", OPENAI, oa(n=2))
    case(config, "openai/unknown-field", OPENAI, oa(frobnicate=True))
    case(config, "openai/unknown-model", OPENAI, {**oa(), "model": "gpt-9"})
    case(config, "openai/fault-error-429", OPENAI, oa("hi [sim:error-429]"))
    case(config, "openai/fault-error-503-stream", OPENAI, oa("hi [sim:error-503]", stream=True))
    case(config, "openai/fault-bad-args", OPENAI, oa("hi [sim:bad-args]", tools=[WEATHER_NESTED]))

    case(config, "anthropic/plain", MESSAGES, an(), headers=ANTHROPIC)
    case(config, "anthropic/bearer", MESSAGES, an("Hello bearer"))
    case(
        config,
        "anthropic/thinking",
        MESSAGES,
        an(thinking={"type": "enabled", "budget_tokens": 128}),
        headers=ANTHROPIC,
    )
    case(config, "anthropic/stream", MESSAGES, an(stream=True, max_tokens=64), headers=ANTHROPIC)
    case(
        config,
        "anthropic/thinking-stream",
        MESSAGES,
        an(stream=True, thinking={"type": "enabled", "budget_tokens": 128}),
        headers=ANTHROPIC,
    )
    case(
        config,
        "anthropic/system",
        MESSAGES,
        an(system=[{"type": "text", "text": "Be brief."}]),
        headers=ANTHROPIC,
    )
    case(
        config,
        "anthropic/tools",
        MESSAGES,
        an("Weather in Paris?", tools=[WEATHER_ANTHROPIC]),
        headers=ANTHROPIC,
    )
    case(
        config,
        "anthropic/tools-stream",
        MESSAGES,
        an("Weather in Paris?", tools=[WEATHER_ANTHROPIC], tool_choice={"type": "any"}, stream=True),
        headers=ANTHROPIC,
    )
    case(
        config,
        "anthropic/tool-result",
        MESSAGES,
        {
            "model": "qwq-32b",
            "max_tokens": 128,
            "messages": ANTHROPIC_WEATHER_TURN,
            "tools": [WEATHER_ANTHROPIC],
        },
        headers=ANTHROPIC,
    )
    case(
        config, "anthropic/stop-sequences", MESSAGES, an(stop_sequences=["never", "clear"]), headers=ANTHROPIC
    )
    case(
        config,
        "anthropic/stop-sequences-stream",
        MESSAGES,
        an(stop_sequences=["simple"], stream=True),
        headers=ANTHROPIC,
    )
    case(config, "anthropic/no-key", MESSAGES, an(), headers={"anthropic-version": "2023-06-01"})
    case(config, "anthropic/bad-key", MESSAGES, an(), headers={**ANTHROPIC, "x-api-key": "nope"})
    case(config, "anthropic/unknown-model", MESSAGES, {**an(), "model": "claude-9"}, headers=ANTHROPIC)
    case(config, "anthropic/unknown-field", MESSAGES, an(frobnicate=1), headers=ANTHROPIC)
    case(
        config,
        "anthropic/no-max-tokens",
        MESSAGES,
        {"model": "qwq-32b", "messages": user("hi")},
        headers=ANTHROPIC,
    )
    case(config, "anthropic/fault-error-503", MESSAGES, an("hi [sim:error-503]"), headers=ANTHROPIC)
    case(config, "anthropic/fault-error-429", MESSAGES, an("hi [sim:error-429]"), headers=ANTHROPIC)
    case(
        config,
        "anthropic/fault-disconnect-stream",
        MESSAGES,
        an("hi [sim:disconnect]", stream=True),
        headers=ANTHROPIC,
    )


def responses_cases(config: str) -> None:
    """The OpenAI Responses API on the built-in simulator: items, typed streams, tools, formats, errors."""
    case(config, "responses/plain", RESPONSES, rs(instructions="Be brief."))
    case(config, "responses/plain-stream", RESPONSES, rs(stream=True, reasoning={"summary": "auto"}))
    case(
        config,
        "responses/tools-stream",
        RESPONSES,
        rs("Weather in Paris?", tools=[WEATHER_RESPONSES, {"type": "web_search"}], stream=True),
    )
    case(config, "responses/tool-result", RESPONSES, rs(RESPONSES_WEATHER_TURN, tools=[WEATHER_RESPONSES]))
    trip = {"format": {"type": "json_schema", "name": "trip", "schema": TRIP, "strict": True}}
    case(config, "responses/json-schema", RESPONSES, rs("Plan a trip", text=trip))
    case(config, "responses/length-stream", RESPONSES, rs(max_output_tokens=12, stream=True))
    case(config, "responses/store-true", RESPONSES, rs(store=True, metadata={"run": "1"}))
    case(config, "responses/previous-response-id", RESPONSES, rs(previous_response_id="resp_1"))
    case(config, "responses/unknown-parameter", RESPONSES, rs(n=2))
    case(config, "responses/no-key", RESPONSES, rs(), headers={})
    case(config, "responses/get-stored", f"{RESPONSES}/resp_1", method="GET")
    case(config, "responses/fault-disconnect-stream", RESPONSES, rs("hi [sim:disconnect]", stream=True))


# The built-in simulator in-process. In every configuration /readyz comes first: its counters (attempts,
# failures) must not depend on which cases ran before it, also when only some cases are selected.
case("sim", "healthz", "/healthz", method="GET", headers={})
case("sim", "readyz", "/readyz", method="GET", headers={})
case("sim", "openapi", "/openapi.json", method="GET", headers={})
case("sim", "models", "/v1/models", method="GET")
case("sim", "models-no-key", "/v1/models", method="GET", headers={})
slug_cases("sim")
surface_cases("sim")
responses_cases("sim")

# A body limit of 300 bytes, on every surface.
for _path, _body, _headers in [
    (SLUG, chat("x" * 400), AUTH),
    (CF_RUN, chat("x" * 400), AUTH),
    (OPENAI, oa("x" * 400), AUTH),
    (MESSAGES, an("x" * 400), ANTHROPIC),
    (RESPONSES, rs("x" * 400), AUTH),
]:
    case("small", f"too-large{_path.replace('/', '-')}", _path, _body, headers=_headers)

# A live gateway in front of a live simulator through the OpenAI-compatible adapter.
case("live", "readyz", "/readyz", method="GET", headers={})
case("live", "workers/plain", SLUG, chat())
case("live", "workers/plain-stream", SLUG, chat(stream=True))
case("live", "choices/plain-stream", f"{SLUG}?shape=choices", chat(stream=True))
case("live", "workers/separate-stream", f"{SLUG}?reasoning=separate", chat(stream=True))
case("live", "workers/raw", SLUG, {"prompt": RAW_PROMPT, "raw": True, "max_tokens": 40, "seed": 3})
case(
    "live",
    "choices/raw",
    f"{SLUG}?shape=choices",
    {"prompt": RAW_PROMPT, "raw": True, "max_tokens": 40, "seed": 3},
)
case(
    "live", "workers/raw-stream", SLUG, {"prompt": RAW_PROMPT, "raw": True, "stream": True, "max_tokens": 40}
)
case(
    "live", "choices/raw-stream", f"{SLUG}?shape=choices", {"prompt": RAW_PROMPT, "raw": True, "stream": True}
)
case("live", "workers/tools-flat", SLUG, chat("Weather in Paris?", tools=[WEATHER_FLAT]))
case(
    "live",
    "choices/tools-nested-stream",
    f"{SLUG}?shape=choices",
    chat("Weather and time [sim:parallel]", tools=[WEATHER_NESTED, CLOCK_NESTED], stream=True),
)
case("live", "workers/tool-result", SLUG, {"messages": WEATHER_TURN, "tools": [WEATHER_NESTED], "seed": 5})
case("live", "workers/guided-json", SLUG, chat("Plan a trip", guided_json=TRIP))
case("live", "openai/stream-usage", OPENAI, oa(stream=True, stream_options={"include_usage": True}))
case(
    "live",
    "responses/tools-stream",
    RESPONSES,
    rs("Weather in Paris?", tools=[WEATHER_RESPONSES], stream=True),
)
case("live", "openai/json-object", OPENAI, oa("Give JSON", response_format={"type": "json_object"}))
case(
    "live",
    "anthropic/thinking-stream",
    MESSAGES,
    an(stream=True, thinking={"type": "enabled", "budget_tokens": 128}),
    headers=ANTHROPIC,
)
case("live", "cf/plain", CF_RUN, chat(max_tokens=64))
for _fault in ("error-503", "error-400", "error-429", "error-401", "malformed", "garbage"):
    case("live", f"fault/{_fault}", SLUG, chat(f"hi [sim:{_fault}]"))
case("live", "fault/bad-json", SLUG, chat("Plan [sim:bad-json]", guided_json=TRIP))
case("live", "fault/bad-args", f"{SLUG}?shape=choices", chat("hi [sim:bad-args]", tools=[WEATHER_FLAT]))
case("live", "fault/error-503-stream", SLUG, chat("hi [sim:error-503]", stream=True))
case("live", "fault/malformed-stream", SLUG, chat("hi [sim:malformed]", stream=True))
# (No `[sim:disconnect]` here: how much of the stream arrives before the reset depends on TCP timing.)
case(
    "live",
    "fault/bad-args-stream",
    f"{SLUG}?shape=choices",
    chat("hi [sim:bad-args]", tools=[WEATHER_FLAT], stream=True),
)
case("live", "fault/no-usage-stream", SLUG, chat("hi [sim:no-usage]", stream=True))

# A live gateway in front of a fake Cloudflare through the Workers AI REST adapter.
case("cloudflare", "readyz", "/readyz", method="GET", headers={})
case("cloudflare", "workers/plain", SLUG, chat("Capital of France?", top_k=5))
case("cloudflare", "workers/plain-stream", SLUG, chat("Capital of France?", stream=True))
case(
    "cloudflare",
    "choices/separate-stream",
    f"{SLUG}?shape=choices&reasoning=separate",
    chat("Capital of France?", stream=True),
)
case("cloudflare", "workers/tools", SLUG, chat("Weather?", tools=[WEATHER_FLAT]))
case(
    "cloudflare",
    "choices/tools-stream",
    f"{SLUG}?shape=choices",
    chat("Weather?", tools=[WEATHER_NESTED], stream=True),
)
case("cloudflare", "workers/raw", SLUG, {"prompt": "<|im_start|>user\nhi<|im_end|>", "raw": True})
case("cloudflare", "openai/plain", OPENAI, oa("Capital of France?"))
case("cloudflare", "responses/plain-stream", RESPONSES, rs("Capital of France?", stream=True))
case("cloudflare", "anthropic/stream", MESSAGES, an("Capital of France?", stream=True), headers=ANTHROPIC)
for _marker in ("capacity", "timeout", "too-large", "bad-input", "no-envelope", "unsuccessful"):
    case("cloudflare", f"fault/{_marker}", SLUG, chat(f"hi [cf:{_marker}]"))
case("cloudflare", "fault/capacity-cf-surface", CF_RUN, chat("hi [cf:capacity]"))
case("cloudflare", "fault/cut-stream", SLUG, chat("hi [cf:cut]", stream=True))

# A gateway in front of another gateway (the `gateway` adapter).
case("chain", "readyz", "/readyz", method="GET", headers={})
case("chain", "workers/plain", SLUG, chat("Tell me about gateways", seed=3))
case("chain", "responses/plain", RESPONSES, rs("Tell me about gateways", reasoning={"summary": "auto"}))
case("chain", "workers/plain-stream", SLUG, chat("Tell me about gateways", seed=3, stream=True))
case("chain", "choices/separate", f"{SLUG}?shape=choices&reasoning=separate", chat("Tell me about gateways"))
case(
    "chain",
    "choices/tools-stream",
    f"{SLUG}?shape=choices",
    chat("Weather in Paris?", tools=[WEATHER_FLAT], stream=True),
)
case("chain", "workers/guided-json", SLUG, chat("Plan a trip", guided_json=TRIP))
case("chain", "anthropic/plain", MESSAGES, an("Tell me about gateways"), headers=ANTHROPIC)
for _fault in ("error-400", "error-503", "error-429"):
    case("chain", f"fault/{_fault}", SLUG, chat(f"hi [sim:{_fault}]"))
case("chain", "fault/disconnect-stream", SLUG, chat("hi [sim:disconnect]", stream=True))

CASE_BY_NAME = {c.name: c for c in CASES}
assert len(CASE_BY_NAME) == len(CASES), "case names must be unique"


# --- the gateways ---------------------------------------------------------------------------------


@dataclass
class Raw:
    status: int
    headers: httpx.Headers
    body: bytes


Send = Callable[[Case], Raw]


def _content(c: Case) -> tuple[bytes | None, dict[str, str]]:
    """The body bytes and headers: JSON bodies are serialized here (compact, by orjson), so the bytes
    sent do not depend on how an HTTP client serializes."""
    if c.content is not None:
        return c.content, c.headers
    if c.body is None:
        return None, c.headers
    return orjson.dumps(c.body), {**JSON_TYPE, **c.headers}


class InProcess:
    """An app called through httpx's ASGI transport, on one event loop of its own (no lifespan, as in
    the `client` fixture of conftest)."""

    def __init__(self, **overrides: Any) -> None:
        self.app = create_app(make_settings(**STEADY, **overrides))
        self.loop = asyncio.new_event_loop()

    def __call__(self, c: Case) -> Raw:
        return self.loop.run_until_complete(self._send(c))

    async def _send(self, c: Case) -> Raw:
        content, headers = _content(c)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            r = await client.request(c.method, c.path, content=content, headers=headers, timeout=15)
            return Raw(r.status_code, r.headers, r.content)

    def close(self) -> None:
        self.loop.close()


def over_http(server: LiveServer) -> Send:
    def send(c: Case) -> Raw:
        content, headers = _content(c)
        with httpx.Client(base_url=server.url, timeout=15) as client:
            r = client.request(c.method, c.path, content=content, headers=headers)
            return Raw(r.status_code, r.headers, r.content)

    return send


class Gateways:
    """The configurations of the corpus, each started the first time one of its cases runs."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: dict[str, Send] = {}
        self.stack: list[Callable[[], None]] = []

    def send(self, c: Case) -> Raw:
        if c.config not in self.started:
            self.started[c.config] = getattr(self, f"_start_{c.config}")()
        return self.started[c.config](c)

    def close(self) -> None:
        for stop in reversed(self.stack):
            stop()

    def _live(self, app: Any) -> LiveServer:
        server = LiveServer(app)
        server.start()
        self.stack.append(server.stop)
        return server

    def _gateway(self, **overrides: Any) -> LiveServer:
        return self._live(create_app(make_settings(**STEADY, **overrides)))

    def _in_process(self, **overrides: Any) -> Send:
        gateway = InProcess(**overrides)
        self.stack.append(gateway.close)
        return gateway

    def _start_sim(self) -> Send:
        return self._in_process()

    def _start_small(self) -> Send:
        return self._in_process(max_body_bytes=300)

    def _start_live(self) -> Send:
        upstream = self._live(SimulatorServer())
        return over_http(self._gateway(upstream_url=f"{upstream.url}/v1", upstream_api_key="sk-upstream-x"))

    def _start_cloudflare(self) -> Send:
        upstream = self._live(FakeCloudflare(CF_TOKEN, CF_ACCOUNT))
        table = self.tmp / "cloudflare.toml"
        table.write_text(
            '[models.qwq-32b]\ncloudflare_id = "@cf/qwen/qwq-32b"\n[[models.qwq-32b.targets]]\n'
            f'adapter = "workers-ai"\nbase_url = "{upstream.url}/client/v4"\naccount_id = "{CF_ACCOUNT}"\n'
            'model = "@cf/qwen/qwq-32b"\napi_key_env = "CORPUS_CF_TOKEN"\n'
        )
        return over_http(self._gateway(models_file=str(table)))

    def _start_chain(self) -> Send:
        back = self._gateway(api_keys=BACK_KEY)
        table = self.tmp / "chain.toml"
        table.write_text(
            f'[models.qwq-32b]\n[[models.qwq-32b.targets]]\nadapter = "gateway"\nbase_url = "{back.url}"\n'
            'model = "qwq-32b"\napi_key_env = "CORPUS_BACK_KEY"\n'
        )
        return over_http(self._gateway(models_file=str(table)))


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORPUS_CF_TOKEN", CF_TOKEN)
        mp.setenv("CORPUS_BACK_KEY", BACK_KEY)
        gateways = Gateways(tmp_path_factory.mktemp("corpus"))
        try:
            yield gateways
        finally:
            gateways.close()


# --- masking and comparing ------------------------------------------------------------------------

KEPT_HEADERS = ("x-gateway-ignored-fields", "retry-after", "allow", "www-authenticate", "cache-control")
MASKS = [
    # Request ids (16 hex digits, random per process) in the ids built from them.
    (re.compile(r"\b(chatcmpl-|msg_)[0-9a-f]{16}\b"), r"\1<id>"),
    (re.compile(r'("request_id": ?")[0-9a-f]{16}"'), r'\1<id>"'),
    # Tool-call ids the gateway draws at random (Workers AI calls carry none; tagged calls).
    (re.compile(r'"call[0-9a-f]{5}"'), '"call<id5>"'),
    (re.compile(r'"call[0-9a-f]{12}"'), '"call<id12>"'),
    (re.compile(r'("created": ?)\d{9,}'), r"\1<time>"),
    (re.compile(r'("created_at": ?)\d{9,}'), r"\1<time>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


def mask(text: str, request_id: str | None) -> str:
    if request_id:
        text = text.replace(request_id, "<request-id>")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def answer_of(raw: Raw) -> dict[str, Any]:
    headers = {
        name: raw.headers[name]
        for name in sorted(raw.headers.keys())
        if name in KEPT_HEADERS or name.startswith(("x-ratelimit", "ratelimit"))
    }
    return {
        "status": raw.status,
        "content_type": raw.headers.get("content-type", ""),
        "headers": headers,
        "body": mask(raw.body.decode("utf-8"), raw.headers.get("x-request-id")),
    }


def _load() -> dict[str, Any]:
    if not ANSWERS.exists():
        return {}
    data: dict[str, Any] = json.loads(ANSWERS.read_text(encoding="utf-8"))
    return data


def _record(name: str, answer: dict[str, Any]) -> None:
    answers = {**_load(), name: answer}
    ordered = {c.name: answers[c.name] for c in CASES if c.name in answers}
    ANSWERS.parent.mkdir(parents=True, exist_ok=True)
    ANSWERS.write_text(json.dumps(ordered, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _pieces(text: str) -> list[str]:
    """Lines, and long lines cut after each comma, so that a diff of one-line JSON stays readable."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(re.split(r"(?<=,)", line) if len(line) > 100 else [line])
    return out


def diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    lines = []
    for key in ("status", "content_type", "headers"):
        if expected.get(key) != actual[key]:
            lines.append(f"{key}: expected {expected.get(key)!r}, got {actual[key]!r}")
    if expected.get("body") != actual["body"]:
        lines.append("body (- recorded, + now):")
        lines.extend(
            difflib.unified_diff(
                _pieces(str(expected.get("body"))),
                _pieces(actual["body"]),
                "recorded",
                "now",
                lineterm="",
                n=2,
            )
        )
    return "\n".join(lines)


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_case(name: str, gateways: Gateways) -> None:
    actual = answer_of(gateways.send(CASE_BY_NAME[name]))
    if RECORDING:
        _record(name, actual)
        pytest.fail("recorded, rerun without RECORD_CORPUS")
    recorded = _load()
    assert name in recorded, f"no recorded answer for {name}: record it with RECORD_CORPUS=1"
    if recorded[name] != actual:
        pytest.fail(
            f"{name} answers differently from the corpus:\n{diff(recorded[name], actual)}", pytrace=False
        )


def test_no_stale_answers() -> None:
    stale = sorted(set(_load()) - set(CASE_BY_NAME))
    assert not stale, f"answers of cases that no longer exist (re-record with RECORD_CORPUS=1): {stale}"
