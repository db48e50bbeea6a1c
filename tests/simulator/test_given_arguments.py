"""`[sim:args={...}]`: the simulator's tool calls carry the given arguments instead of a schema example."""

from __future__ import annotations

import orjson
import pytest

from worker.core.ir import ChatRequest, Message, ToolSpec
from worker.simulator.engine import generate

SHELL = ToolSpec(
    "exec_command",
    "Run a command",
    {"type": "object", "properties": {"cmd": {"type": "string"}, "yield_time_ms": {"type": "number"}}},
)


def call_arguments(text: str) -> object:
    request = ChatRequest(model="qwq-32b", messages=(Message("user", text),), tools=(SHELL,))
    [call] = generate(request).tool_calls
    return orjson.loads(call.arguments)


def test_given_arguments_replace_the_example() -> None:
    assert call_arguments('List it [sim:args={"cmd": "ls -la", "tty": false}] please') == {
        "cmd": "ls -la",
        "tty": False,
    }


@pytest.mark.parametrize(
    "text",
    [
        "no marker at all",
        "[sim:args=[1, 2]]",  # not an object
        '[sim:args={"cmd": "ls"}',  # no closing bracket
        "[sim:args={not json}]",
    ],
)
def test_without_a_usable_marker_the_example_stays(text: str) -> None:
    assert call_arguments(text) == {"cmd": "example", "yield_time_ms": 1.0}
