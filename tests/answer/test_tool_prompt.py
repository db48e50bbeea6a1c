"""Prompt-mode tools: what an upstream without native tool support is sent."""

from __future__ import annotations

import orjson

from worker.answer.tool_prompt import prompt_tools_request
from worker.core.ir import ChatRequest, Message, ToolCall, ToolChoice, ToolSpec
from worker.simulator.tagged import prompt_tools

WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {}}})
CLOCK = ToolSpec("get_time", "Time in a zone", {"type": "object"})


def request(*messages: Message, choice: ToolChoice | None = None) -> ChatRequest:
    return ChatRequest(model="m", messages=messages, tools=(WEATHER, CLOCK), tool_choice=choice)


def test_tools_go_into_a_new_system_message_one_compact_line_each() -> None:
    sent = prompt_tools_request(request(Message("user", "Weather in Paris?")))
    assert sent.tools == () and sent.tool_choice is None
    system = sent.messages[0]
    assert system.role == "system" and sent.messages[1] == Message("user", "Weather in Paris?")
    text = system.text()
    assert (
        orjson.dumps(
            {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER.parameters}
        ).decode()
        in text
    )
    assert "<tool_call>" in text and "</tool_call>" in text
    assert prompt_tools(sent) == ((WEATHER, CLOCK), None)  # the simulator reads back what we wrote


def test_existing_system_text_is_kept_and_the_choice_is_said() -> None:
    sent = prompt_tools_request(
        request(
            Message("system", "Be brief."), Message("user", "hi"), choice=ToolChoice("function", "get_time")
        )
    )
    assert len(sent.messages) == 2 and sent.messages[0].text().startswith("Be brief.\n\n# Tools")
    assert "You must call the function `get_time`" in sent.messages[0].text()
    assert prompt_tools(sent)[1] == ToolChoice("function", "get_time")
    required = prompt_tools_request(request(Message("user", "hi"), choice=ToolChoice("required")))
    assert "You must call at least one function" in required.messages[0].text()


def test_history_calls_and_results_become_tagged_text() -> None:
    history = (
        Message("user", "Weather?"),
        Message("assistant", "", tool_calls=(ToolCall("call000000001", "get_weather", '{"city": "Paris"}'),)),
        Message("tool", "sunny", tool_call_id="call000000001"),
    )
    sent = prompt_tools_request(request(*history))
    assistant, tool = sent.messages[2], sent.messages[3]
    assert assistant == Message(
        "assistant", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )
    assert tool == Message("user", "<tool_response>\nsunny\n</tool_response>")


def test_choice_none_offers_no_tools() -> None:
    sent = prompt_tools_request(request(Message("user", "hi"), choice=ToolChoice("none")))
    assert sent.messages == (Message("user", "hi"),) and sent.tools == ()
