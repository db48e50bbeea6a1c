"""The simulator as a model without native tool support, taught tools through its prompt.

When a request carries no `tools` but its system text holds a `<tools>` block (as the gateway's
prompt-mode tools write it, see `worker.answer.tool_prompt`), the simulator reads the tools from there and,
like Qwen, writes its calls as `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` text. A tool
result comes back as a user turn wrapped in `<tool_response>`.
"""

from __future__ import annotations

import re

import orjson

from worker.core.ir import ChatRequest, ToolChoice, ToolSpec

_TOOLS = re.compile(r"<tools>\n(.*?)\n</tools>", re.S)
_NAMED = re.compile(r"You must call the function `([^`]+)`")
TOOL_RESPONSE = "<tool_response>"


def prompt_tools(request: ChatRequest) -> tuple[tuple[ToolSpec, ...], ToolChoice | None]:
    """Tools (and a named choice) found in the system text; nothing when there is no `<tools>` block."""
    system = next((m.text() for m in request.messages if m.role == "system"), "")
    block = _TOOLS.search(system)
    if block is None:
        return (), None
    tools = []
    for line in block.group(1).splitlines():
        spec = orjson.loads(line)
        tools.append(ToolSpec(spec["name"], spec.get("description", ""), spec.get("parameters", {})))
    named = _NAMED.search(system)
    return tuple(tools), ToolChoice("function", named.group(1)) if named else None


def tagged_call(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": {orjson.dumps(name).decode()}, "arguments": {arguments}}}\n</tool_call>'
