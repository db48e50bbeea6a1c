from __future__ import annotations

import orjson

from worker.core.ir import ChatRequest, Message, SamplingParams, ToolChoice, ToolSpec
from worker.core.stand_in import split_tokens
from worker.simulator.engine import THINK_CLOSE, argument_pieces, example_for, find_fault, generate, pieces

WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 2}}},
)


def chat(text: str = "Hello there", **kwargs: object) -> ChatRequest:
    return ChatRequest(model="qwq-32b", messages=(Message("user", text),), **kwargs)  # type: ignore[arg-type]


def test_output_is_qwq_raw_form_and_deterministic() -> None:
    first, second = generate(chat()), generate(chat())
    assert first == second
    text = "".join(first.tokens)
    assert not text.startswith("<think>") and f"\n{THINK_CLOSE}\n\n" in text
    assert first.reasoning_text + f"\n{THINK_CLOSE}\n\n" + first.answer_text == text
    assert first.usage.completion_tokens == len(first.tokens) and first.finish_reason == "stop"


def test_seed_changes_the_output() -> None:
    a = generate(chat(params=SamplingParams(seed=1)))
    b = generate(chat(params=SamplingParams(seed=2)))
    assert a.tokens != b.tokens


def test_max_tokens_cuts_with_length() -> None:
    g = generate(chat(params=SamplingParams(max_tokens=5)))
    assert len(g.tokens) == 5 and g.finish_reason == "length" and g.usage.completion_tokens == 5


def test_tokens_rejoin_to_the_text() -> None:
    text = 'Hi,  there!\n\n{"a": [1, 2]} ok'
    assert "".join(split_tokens(text)) == text


def test_tool_call_then_answer_from_the_tool_result() -> None:
    g = generate(chat(tools=(WEATHER,)))
    [call] = g.tool_calls
    assert call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "example", "days": 2}
    assert g.finish_reason == "tool_calls" and g.answer_text == ""
    history = (
        Message("user", "weather?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "sunny, 21C", tool_call_id=call.id),
    )
    after = generate(ChatRequest(model="qwq-32b", messages=history, tools=(WEATHER,)))
    assert after.tool_calls == () and after.answer_text == "The tool returned: sunny, 21C"


def test_tool_choice_none_and_named() -> None:
    other = ToolSpec("get_time", "", {"type": "object", "properties": {}})
    assert generate(chat(tools=(WEATHER,), tool_choice=ToolChoice("none"))).tool_calls == ()
    named = generate(chat(tools=(WEATHER, other), tool_choice=ToolChoice("function", "get_time")))
    assert named.tool_calls[0].name == "get_time"


def test_structured_output_follows_the_schema() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "ok": {"type": "boolean"}}}
    g = generate(chat(response_schema=schema))
    assert orjson.loads(g.answer_text) == {"name": "example", "ok": True}
    bad = generate(chat("give json [sim:bad-json]", response_schema=schema))
    assert bad.answer_text.startswith('{"this is"')


def test_reasoning_as_a_field_drops_the_tag() -> None:
    g = generate(chat())
    parts = pieces(g, reasoning_field=True)
    reasoning = "".join(t for k, t in parts if k == "reasoning")
    text = "".join(t for k, t in parts if k == "text")
    assert reasoning == g.reasoning_text and text == g.answer_text and THINK_CLOSE not in reasoning + text
    assert all(k == "text" for k, _ in pieces(g, reasoning_field=False))


def test_faults_are_found_in_user_messages() -> None:
    assert find_fault(chat("x [sim:error-503]")).status == 503  # type: ignore[union-attr]
    assert find_fault(chat("x [sim:slow-start=1.5]")).delay == 1.5  # type: ignore[union-attr]
    assert find_fault(chat("x [sim:stall]")).kind == "stall"  # type: ignore[union-attr]
    assert find_fault(chat("plain")) is None


def test_examples_and_pieces() -> None:
    assert example_for({"enum": ["a", "b"]}) == "a"
    assert example_for({"type": "array", "items": {"type": "number"}}) == [1.0]
    assert "".join(argument_pieces('{"city": "Paris"}')) == '{"city": "Paris"}'
    assert len(argument_pieces('{"city": "Paris"}')) == 3


def test_parallel_marker_calls_two_tools() -> None:
    other = ToolSpec("get_time", "", {"type": "object", "properties": {}})
    two = generate(chat("both [sim:parallel]", tools=(WEATHER, other)))
    assert [c.name for c in two.tool_calls] == ["get_weather", "get_time"]
    assert two.tool_calls[0].id != two.tool_calls[1].id
    twice = generate(chat("twice [sim:parallel]", tools=(WEATHER,)))
    assert [c.name for c in twice.tool_calls] == ["get_weather", "get_weather"]


def test_tools_offered_in_the_prompt_are_called_as_tagged_text() -> None:
    system = 'x\n<tools>\n{"name": "get_weather", "parameters": {"type": "object"}}\n</tools>\n'
    request = ChatRequest(model="q", messages=(Message("system", system), Message("user", "weather?")))
    g = generate(request)
    assert g.tool_calls == () and g.finish_reason == "stop"
    assert g.answer_text == '<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>'
    result = Message("user", "<tool_response>\nsunny\n</tool_response>")
    after = generate(ChatRequest(model="q", messages=(*request.messages, result)))
    assert after.answer_text == "The tool returned: sunny"


def test_once_faults_apply_only_on_the_first_try() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    request = chat("json [sim:bad-json-once]", response_schema=schema)
    assert generate(request).answer_text.startswith('{"this is"')
    assert orjson.loads(generate(request, first_try=False).answer_text) == {"n": 1}
    no_call = chat("x [sim:no-call-once]", tools=(WEATHER,))
    assert generate(no_call).tool_calls == () and generate(no_call, first_try=False).tool_calls
    assert generate(chat("x [sim:no-call]", tools=(WEATHER,)), first_try=False).tool_calls == ()


def test_a_forced_tool_choice_is_honoured_after_a_tool_turn_too() -> None:
    call = generate(chat(tools=(WEATHER,))).tool_calls[0]
    history = (
        Message("user", "weather?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "sunny, 21C", tool_call_id=call.id),
    )
    for forced in (ToolChoice("function", "get_weather"), ToolChoice("required")):
        again = generate(ChatRequest(model="qwq-32b", messages=history, tools=(WEATHER,), tool_choice=forced))
        assert again.tool_calls[0].name == "get_weather"
    auto = generate(
        ChatRequest(model="qwq-32b", messages=history, tools=(WEATHER,), tool_choice=ToolChoice("auto"))
    )
    assert auto.tool_calls == ()


def test_json_mode_answers_a_non_empty_object() -> None:
    value = orjson.loads(generate(chat(json_mode=True)).answer_text)
    assert isinstance(value, dict) and value and isinstance(value["answer"], str)


def test_a_named_call_picks_the_tool_and_its_arguments() -> None:
    from worker.core.ir import ChatRequest, Message, ToolSpec
    from worker.simulator.engine import generate

    tools = (
        ToolSpec("Agent", "", {"type": "object", "properties": {"task": {"type": "string"}}}),
        ToolSpec("Read", "", {"type": "object", "properties": {"file_path": {"type": "string"}}}),
    )
    ask = 'Read it [sim:call=Read {"file_path": "/tmp/x"}]'
    # a system note after the user's turn (as Claude Code sends its environment) is still the user's turn
    messages = (Message(role="user", content=ask), Message(role="system", content="Env"))
    [call] = generate(ChatRequest(model="m", messages=messages, tools=tools)).tool_calls
    assert (call.name, call.arguments) == ("Read", '{"file_path":"/tmp/x"}')
    plain = (Message(role="user", content="Read it [sim:call=Read]"),)
    [call] = generate(ChatRequest(model="m", messages=plain, tools=tools)).tool_calls
    assert (call.name, call.arguments) == ("Read", '{"file_path":"example"}')
