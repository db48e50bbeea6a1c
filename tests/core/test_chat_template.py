"""QwQ-32B's chat template, rendered as its Jinja template renders the same conversation."""

from __future__ import annotations

from worker.core.chat_template import render, render_messages
from worker.core.ir import ChatRequest, Message, ToolCall, ToolSpec

WEATHER = ToolSpec(
    "get_weather",
    "Current weather",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def test_system_and_user_turns_then_the_generation_prompt() -> None:
    text = render_messages([Message("system", "Be brief."), Message("user", "Hi")])
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )


def test_tools_are_listed_in_the_system_turn() -> None:
    text = render_messages([Message("system", "Be brief."), Message("user", "Weather?")], [WEATHER])
    assert text == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the "
        "user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "get_weather", "description": "Current weather", '
        '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, '
        '"required": ["city"]}}}\n'
        "</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
        "<args-json-object>}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\nWeather?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )
    # without a system message the tools' system turn opens with the list itself
    assert render_messages([Message("user", "Weather?")], [WEATHER]).startswith(
        "<|im_start|>system\n\n\n# Tools\n"
    )


def test_earlier_reasoning_is_dropped_and_calls_and_results_are_tagged() -> None:
    messages = [
        Message("user", "Weather in Paris and Rome?"),
        Message(
            "assistant",
            "I should look.</think>\n\nLet me check.",
            tool_calls=(
                ToolCall("c1", "get_weather", '{"city":"Paris"}'),
                ToolCall("c2", "get_weather", "not json"),
            ),
        ),
        Message("tool", "21 C", tool_call_id="c1"),
        Message("tool", "18 C", tool_call_id="c2"),
        Message("assistant", "Thinking...</think>\n\nParis 21, Rome 18."),
        Message("system", "Later instructions."),
    ]
    assert render_messages(messages) == (
        "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        "<|im_start|>assistant\nLet me check."
        '\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        '\n<tool_call>\n{"name": "get_weather", "arguments": "not json"}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n21 C\n</tool_response>"
        "\n<tool_response>\n18 C\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nParis 21, Rome 18.<|im_end|>\n"
        "<|im_start|>system\nLater instructions.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )


def test_a_call_without_text_opens_its_turn_with_the_call() -> None:
    call = Message("assistant", "", tool_calls=(ToolCall("c1", "f", "{}"),))
    assert render_messages([call]).startswith(
        '<|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call><|im_end|>\n'
    )


def test_a_raw_prompt_is_read_as_it_is() -> None:
    raw = ChatRequest("qwq-32b", prompt="<|im_start|>user\nHi", raw=True)
    assert render(raw) == "<|im_start|>user\nHi"
    assert render(ChatRequest("qwq-32b", (Message("user", "Hi"),), tools=(WEATHER,))).count("<tools>") == 2


def test_tool_parameters_of_any_shape_render() -> None:
    """The template writes whatever the client declared; a value JSON cannot hold is still counted."""
    odd = ToolSpec("f", "", [[True, "x"]])  # type: ignore[arg-type]
    assert '"parameters": [[true, "x"]]' in render_messages([Message("user", "Hi")], [odd])
    huge = ToolSpec("g", "", {"n": 10**5000})
    assert "<tools>" in render_messages([Message("user", "Hi")], [huge])
