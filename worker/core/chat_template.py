"""A chat request as QwQ-32B's chat template renders it: the text whose tokens are the prompt.

vLLM (and Hugging Face's `apply_chat_template`) turn a chat into one string with the model's Jinja
template, then tokenize that string with the special tokens recognised. Counting the prompt therefore
means rendering it the same way. QwQ's template is ChatML:

    <|im_start|>system\\n{system}{tools block}<|im_end|>\\n      (only with a system message or tools)
    <|im_start|>user\\n{text}<|im_end|>\\n
    <|im_start|>assistant\\n{answer after </think>}{<tool_call> blocks}<|im_end|>\\n
    <|im_start|>user\\n<tool_response>\\n{result}\\n</tool_response><|im_end|>\\n (results in a row: one turn)
    <|im_start|>assistant\\n<think>\\n               (the generation prompt opens the reasoning)

The tools block lists each tool as the JSON an OpenAI client sends (`{"type": "function", "function":
{...}}`), serialised as the template's `tojson` does (`json.dumps` with `", "` and `": "`, non-ASCII kept).
Earlier assistant turns lose their reasoning (everything up to the last `</think>`), as the template
drops it, and a tool call's arguments are parsed and serialised again, as vLLM hands them to the template
as an object. This is pure string building; `worker.core.tokenizer` counts the result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from worker.core.ir import ChatRequest, Message, ToolCall, ToolSpec

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
GENERATION_PROMPT = "<|im_start|>assistant\n<think>\n"

TOOLS_HEAD = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
    "<args-json-object>}\n</tool_call>"
)


def tojson(value: Any) -> str:
    """Jinja's `tojson` as Hugging Face's chat templates define it. A value it cannot write (a number
    past Python's digit limit, nesting too deep; no JSON body holds one) is written as `null`, so that
    counting never fails."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return "null"


def tool_json(tool: ToolSpec) -> str:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return tojson({"type": "function", "function": function})


def _arguments(call: ToolCall) -> str:
    try:
        parsed = json.loads(call.arguments)
    except ValueError:
        parsed = call.arguments  # not JSON: the template would receive (and quote) the string
    return tojson(parsed)


def _assistant(message: Message) -> str:
    text = message.text()
    answer = text.split("</think>")[-1].lstrip("\n")
    if not message.tool_calls:
        return f"{IM_START}assistant\n{answer}{IM_END}\n"
    out = [f"{IM_START}assistant"]
    if text:
        out.append("\n" + answer)
    for call in message.tool_calls:
        out.append(f'\n<tool_call>\n{{"name": "{call.name}", "arguments": {_arguments(call)}}}\n</tool_call>')
    out.append(f"{IM_END}\n")
    return "".join(out)


def render_messages(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> str:
    """The prompt of a chat, generation prompt included."""
    out: list[str] = []
    first_is_system = bool(messages) and messages[0].role == "system"
    if tools:
        out.append(f"{IM_START}system\n")
        if first_is_system:
            out.append(messages[0].text())
        out.append(TOOLS_HEAD)
        out.extend("\n" + tool_json(tool) for tool in tools)
        out.append(TOOLS_TAIL + f"{IM_END}\n")
    elif first_is_system:
        out.append(f"{IM_START}system\n{messages[0].text()}{IM_END}\n")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        role = message.role
        if role == "user" or (role == "system" and index > 0):
            out.append(f"{IM_START}{role}\n{message.text()}{IM_END}\n")
        elif role == "assistant":
            out.append(_assistant(message))
        elif role == "tool":
            if index == 0 or messages[index - 1].role != "tool":
                out.append(f"{IM_START}user")
            out.append(f"\n<tool_response>\n{message.text()}\n</tool_response>")
            if index == last or messages[index + 1].role != "tool":
                out.append(f"{IM_END}\n")
    out.append(GENERATION_PROMPT)
    return "".join(out)


def render(request: ChatRequest) -> str:
    """What the model reads for `request`: a raw completion's prompt as it is, a chat rendered."""
    if request.raw and request.prompt is not None:
        return request.prompt
    return render_messages(request.messages, request.tools)
