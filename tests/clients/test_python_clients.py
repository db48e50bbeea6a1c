"""Python clients against a live gateway, unmodified, each pointed at it by its base-URL setting: the
official `openai` package, `langchain-openai` (`ChatOpenAI`: `bind_tools`, `with_structured_output`) and
LiteLLM's SDK as a client (`litellm.completion` with the `openai/` prefix and `api_base`).

Every client runs the same scenarios through one small driver each (`DRIVERS`), which returns what the
client handed back; the assertions are shared. Against `failing_gateway` the upstream fails mid-stream:
each client must raise, never return the half answer as a whole one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Literal

import openai
import pydantic
import pytest

from tests.clients.conftest import ANSWER_START, REASONING_START, UPSTREAM_FAILURE
from tests.conftest import API_KEY
from tests.servers import LiveServer

# LiteLLM would otherwise fetch its model price list from the network when imported.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ASK = "What is an edge gateway?"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Stop(pydantic.BaseModel):
    name: str
    nights: int = pydantic.Field(ge=1)


class Trip(pydantic.BaseModel):
    """pydantic writes `$defs`/`$ref` for `Stop`, and `anyOf` with null for the optional note."""

    title: str
    mode: Literal["train", "car"]
    stops: list[Stop]
    note: str | None = None


Result = dict[str, Any]
Driver = Callable[[str, str], Result]


# --- the official openai package ------------------------------------------------------------------


def _openai(base: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=API_KEY, base_url=base, max_retries=0, timeout=20)


def openai_text(base: str, scenario: str) -> Result:
    client = _openai(base)
    ask: Any = [{"role": "user", "content": ASK}]
    if scenario == "text":
        answer = client.chat.completions.create(model="qwq-32b", messages=ask)
        message = answer.choices[0].message
        reasoning = (message.model_extra or {}).get("reasoning_content", "")
        return {"text": message.content, "reasoning": reasoning, "finish": answer.choices[0].finish_reason}
    text, reasoning = "", ""
    for chunk in client.chat.completions.create(model="qwq-32b", messages=ask, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            reasoning += (chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
    return {"text": text, "reasoning": reasoning}


def openai_tools(base: str, stream: bool) -> Result:
    client = _openai(base)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        call: dict[str, Any] = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        chunks: Any = client.chat.completions.create(
            model="qwq-32b", messages=messages, tools=[WEATHER], stream=True
        )
        for chunk in chunks:
            for delta in (chunk.choices and chunk.choices[0].delta.tool_calls) or ():
                call["id"] += delta.id or ""
                call["function"]["name"] += (delta.function and delta.function.name) or ""
                call["function"]["arguments"] += (delta.function and delta.function.arguments) or ""
    else:
        first = client.chat.completions.create(model="qwq-32b", messages=messages, tools=[WEATHER])
        call = first.choices[0].message.tool_calls[0].model_dump()  # type: ignore[index]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature": 21}'},
    ]
    answer = client.chat.completions.create(model="qwq-32b", messages=messages, tools=[WEATHER])
    name, arguments = call["function"]["name"], json.loads(call["function"]["arguments"])
    return {"call": (name, arguments), "answer": answer.choices[0].message.content}


def openai_object(base: str) -> Result:
    parsed = _openai(base).chat.completions.parse(
        model="qwq-32b", messages=[{"role": "user", "content": "Plan a trip"}], response_format=Trip
    )
    trip = parsed.choices[0].message.parsed
    assert trip is not None
    return {"object": trip}


# --- langchain-openai -----------------------------------------------------------------------------


def _langchain(base: str) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="qwq-32b", base_url=base, api_key=API_KEY, max_retries=0, timeout=20)  # type: ignore[arg-type]


def langchain_text(base: str, scenario: str) -> Result:
    llm = _langchain(base)
    if scenario == "text":
        return {"text": llm.invoke(ASK).content}
    return {"text": "".join(str(chunk.content) for chunk in llm.stream(ASK))}


def langchain_tools(base: str, stream: bool) -> Result:
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = _langchain(base).bind_tools([WEATHER])
    messages: list[Any] = [HumanMessage("Weather in Paris?")]
    if stream:
        first: Any = None
        for chunk in llm.stream(messages):
            first = chunk if first is None else first + chunk
    else:
        first = llm.invoke(messages)
    [call] = first.tool_calls
    messages += [first, ToolMessage('{"temperature": 21}', tool_call_id=call["id"])]
    return {"call": (call["name"], call["args"]), "answer": llm.invoke(messages).content}


def langchain_object(base: str, method: str) -> Result:
    """`json_schema` sends pydantic's schema as `response_format`; `function_calling` sends it as a tool
    and forces it with `tool_choice`."""
    structured = _langchain(base).with_structured_output(Trip, method=method)
    return {"object": structured.invoke("Plan a trip")}


# --- LiteLLM's SDK as a client --------------------------------------------------------------------


def _litellm(base: str, **request: Any) -> Any:
    import litellm

    return litellm.completion(
        model="openai/qwq-32b", api_base=base, api_key=API_KEY, max_retries=0, timeout=20, **request
    )


def litellm_text(base: str, scenario: str) -> Result:
    ask = [{"role": "user", "content": ASK}]
    if scenario == "text":
        message = _litellm(base, messages=ask).choices[0].message
        return {"text": message.content, "reasoning": getattr(message, "reasoning_content", "")}
    text, reasoning = "", ""
    for chunk in _litellm(base, messages=ask, stream=True):
        text += chunk.choices[0].delta.content or ""
        reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
    return {"text": text, "reasoning": reasoning}


def litellm_tools(base: str, stream: bool) -> Result:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        import litellm

        chunks = list(_litellm(base, messages=messages, tools=[WEATHER], stream=True))
        first: Any = litellm.stream_chunk_builder(chunks, messages=messages)
    else:
        first = _litellm(base, messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'},
    ]
    answer = _litellm(base, messages=messages, tools=[WEATHER]).choices[0].message.content
    return {"call": (call.function.name, json.loads(call.function.arguments)), "answer": answer}


def litellm_object(base: str) -> Result:
    answer = _litellm(base, messages=[{"role": "user", "content": "Plan a trip"}], response_format=Trip)
    return {"object": Trip.model_validate_json(answer.choices[0].message.content)}


# --- the matrix -----------------------------------------------------------------------------------

DRIVERS: dict[str, dict[str, Driver]] = {
    "openai": {
        "text": openai_text,
        "stream": openai_text,
        "tools": lambda base, _: openai_tools(base, False),
        "tools_stream": lambda base, _: openai_tools(base, True),
        "object": lambda base, _: openai_object(base),
    },
    "langchain": {
        "text": langchain_text,
        "stream": langchain_text,
        "tools": lambda base, _: langchain_tools(base, False),
        "tools_stream": lambda base, _: langchain_tools(base, True),
        "object": lambda base, _: langchain_object(base, "json_schema"),
        "object_tool": lambda base, _: langchain_object(base, "function_calling"),
    },
    "litellm": {
        "text": litellm_text,
        "stream": litellm_text,
        "tools": lambda base, _: litellm_tools(base, False),
        "tools_stream": lambda base, _: litellm_tools(base, True),
        "object": lambda base, _: litellm_object(base),
    },
}
CASES = [(client, scenario) for client, drivers in DRIVERS.items() for scenario in drivers]


@pytest.mark.parametrize(("client", "scenario"), CASES)
def test_client_scenario(sim_gateway: LiveServer, client: str, scenario: str) -> None:
    result = DRIVERS[client][scenario](f"{sim_gateway.url}/v1", scenario)
    if scenario in ("text", "stream"):
        assert result["text"].startswith(ANSWER_START) and "</think>" not in result["text"]
        if "reasoning" in result:  # LangChain's ChatOpenAI does not hand out `reasoning_content`
            assert result["reasoning"].startswith(REASONING_START)
    elif scenario.startswith("tools"):
        assert result["call"] == ("get_weather", {"city": "example"})
        assert result["answer"] == 'The tool returned: {"temperature": 21}'
    else:
        trip = result["object"]
        assert isinstance(trip, Trip) and trip.mode == "train" and trip.stops[0].nights >= 1


@pytest.mark.parametrize("client", list(DRIVERS))
@pytest.mark.parametrize("scenario", ["text", "stream", "tools_stream"])
def test_an_upstream_failure_is_an_error_to_the_client(
    failing_gateway: LiveServer, client: str, scenario: str
) -> None:
    with pytest.raises(Exception) as raised:
        DRIVERS[client][scenario](f"{failing_gateway.url}/v1", scenario)
    assert UPSTREAM_FAILURE in str(raised.value)
