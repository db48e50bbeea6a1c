"""Tools offered through the prompt, for upstreams without native tool calling (`tool_mode = "prompt"`).

The request sent upstream carries no `tools` field. Instead the tools go, one compact JSON line each,
into the system text, with the instruction to answer in the tagged form that `worker.answer.tool_tags`
parses back. The form and the `<tool_response>` wrapping of results follow the chat template that
Qwen2.5 and QwQ-32B ship with (Qwen's `tokenizer_config.json`), so the model meets the layout it was
trained on. History is rewritten the same way: an assistant turn's calls become tagged text, and a
`tool` result becomes a user turn (a server without tool support may refuse the `tool` role).
"""

from __future__ import annotations

import dataclasses

import orjson

from worker.answer.tool_tags import CLOSE, OPEN
from worker.core.ir import ChatRequest, Message, ToolChoice, ToolSpec


def _tool_line(tool: ToolSpec) -> str:
    spec = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return orjson.dumps(spec).decode()


def _choice_rule(choice: ToolChoice | None) -> str:
    if choice is not None and choice.mode == "function":
        return f"You must call the function `{choice.name}` now."
    if choice is not None and choice.mode == "required":
        return "You must call at least one function now."
    return "Call functions only when they help to answer."


def tools_system_text(tools: tuple[ToolSpec, ...], choice: ToolChoice | None) -> str:
    lines = "\n".join(_tool_line(t) for t in tools)
    return (
        "# Tools\n\nYou may call functions to help with the user's request. "
        f"The functions, one JSON object per line:\n<tools>\n{lines}\n</tools>\n\n"
        "To call a function, write a JSON object with its name and arguments between tags, "
        f'one call per pair of tags:\n{OPEN}\n{{"name": <function-name>, "arguments": <arguments-object>}}\n'
        f"{CLOSE}\n{_choice_rule(choice)}"
    )


def _call_json(name: str, arguments: str) -> str:
    return f'{{"name": {orjson.dumps(name).decode()}, "arguments": {arguments.strip() or "{}"}}}'


def _history(message: Message) -> Message:
    if message.role == "assistant" and message.tool_calls:
        calls = "".join(f"\n{OPEN}\n{_call_json(c.name, c.arguments)}\n{CLOSE}" for c in message.tool_calls)
        return Message(role="assistant", content=(message.text() + calls).lstrip("\n"))
    if message.role == "tool":
        return Message(role="user", content=f"<tool_response>\n{message.text()}\n</tool_response>")
    return message


def prompt_tools_request(request: ChatRequest) -> ChatRequest:
    """The request as sent to an upstream that takes tools through the prompt."""
    if not request.tools or (request.tool_choice is not None and request.tool_choice.mode == "none"):
        history = tuple(_history(m) for m in request.messages)
        return dataclasses.replace(request, messages=history, tools=(), tool_choice=None)
    text = tools_system_text(request.tools, request.tool_choice)
    messages = [_history(m) for m in request.messages]
    if messages and messages[0].role == "system":
        first = messages[0]
        messages[0] = Message(role="system", content=f"{first.text()}\n\n{text}")
    else:
        messages.insert(0, Message(role="system", content=text))
    return dataclasses.replace(request, messages=tuple(messages), tools=(), tool_choice=None)
