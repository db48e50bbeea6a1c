"""The simulator's model: deterministic text in QwQ's raw form, counted in real tokens.

Like QwQ behind Workers AI, the output is `reasoning ... </think>\n\nanswer` with the opening `<think>`
missing (the chat template opens it). The same request and seed always give the same tokens. The
output is cut at `max_tokens`, which makes the finish reason `length`.

Fault modes are asked for in-band, so that they work through every client dialect: a user message
containing `[sim:error-503]`, `[sim:slow-start=1.5]`, `[sim:stall]`, `[sim:malformed]` or
`[sim:disconnect]` makes the simulator fail that way (see `Fault`); `[sim:bad-json]` makes its
structured output invalid JSON, `[sim:bad-args]` its tool-call arguments, `[sim:no-call]` makes it
answer in text although tools are offered;
`[sim:args={"cmd": "ls"}]` makes its tool calls carry that JSON object as their arguments
instead of an example made from the schema (to drive a real agent's tool, such as Codex's `exec_command`);
their `-once` forms (`[sim:bad-json-once]`, `[sim:no-call-once]`) do so only on the first try
(`first_try=False` on a repeated request), to test the gateway's retry.

Offered tools are called (arguments made from the tool's parameter schema) while the last turn is the
user's; after a tool result it answers in text. `[sim:parallel]` makes it call two tools at once (the
first two offered, or the only one twice); `[sim:call=NAME]` calls the tool of that name instead of the
first, and `[sim:call=NAME {"arg": "value"}]` with those arguments (`[sim:args={...}]` gives whichever
tool is called those arguments). A system turn after the user's does not end the user's turn. Tools
offered only through the prompt (`<tools>` in the system text, see `worker.simulator.tagged`) are called
in Qwen's tagged text form; a forced `tool_choice` (`required` or a named function) is a call after a tool
result too. With `guided_json` the answer is an instance of the schema (`worker.simulator.instances`); in
JSON mode, a small non-empty object.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from worker.core.ir import ChatRequest, FinishReason, Message, ToolCall, ToolChoice, ToolSpec, Usage
from worker.core.stand_in import split_tokens
from worker.core.tokenizer import count, prompt_tokens
from worker.simulator.instances import instance
from worker.simulator.tagged import TOOL_RESPONSE, prompt_tools, tagged_call

THINK_CLOSE = "</think>"
_FAULT = re.compile(
    r"\[sim:(error-(\d{3})|slow-start=([0-9.]+)|stall|malformed|disconnect|bad-json-once|bad-json"
    r"|no-call-once|no-call|bad-args)\]"
)
PARALLEL = "[sim:parallel]"
ARGS = "[sim:args="
CALL = re.compile(r"\[sim:call=([A-Za-z0-9_-]{1,128})(?: (\{.*?\}))?\]", re.DOTALL)

_REASONING = (
    "Let me think about what is being asked here.",
    "First, I should identify the key points.",
    "Hmm, there may be more than one way to read this.",
    "I should keep the answer short and accurate.",
    "Let me check that against what I know.",
    "That seems consistent, so I can write the answer now.",
    "Wait, I should double-check the details once more.",
)
_ANSWER = (
    "Here is a concise answer.",
    "The main idea is simple once the terms are clear.",
    "In short, it depends on the constraints you care about most.",
    "A good first step is to measure before changing anything.",
    "Edge deployments trade raw capacity for lower latency near users.",
    "This keeps the system predictable and easy to operate.",
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "error", "slow-start", "stall", "malformed", "disconnect"
    status: int = 0
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Generation:
    """`tokens[:answer_start]` is the reasoning (with its `</think>`), the rest the answer."""

    tokens: tuple[str, ...]
    answer_start: int
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    usage: Usage

    @property
    def reasoning_text(self) -> str:
        """The reasoning without the closing tag, as a reasoning parser would hand it out."""
        text = "".join(self.tokens[: self.answer_start])
        return text.split("\n" + THINK_CLOSE, 1)[0]

    @property
    def answer_text(self) -> str:
        return "".join(self.tokens[self.answer_start :])


def find_fault(request: ChatRequest) -> Fault | None:
    texts = [m.text() for m in request.messages if m.role == "user"]
    if request.prompt is not None:
        texts.append(request.prompt)
    for text in texts:
        match = _FAULT.search(text)
        if match is None:
            continue
        if match.group(2):
            return Fault("error", status=int(match.group(2)))
        if match.group(3):
            return Fault("slow-start", delay=float(match.group(3)))
        return Fault(match.group(1))
    return None


def _seed(request: ChatRequest) -> int:
    if request.params.seed is not None:
        return request.params.seed
    last = (
        request.prompt
        if request.prompt is not None
        else (request.messages[-1].text() if request.messages else "")
    )
    return int.from_bytes(hashlib.blake2b(last.encode(), digest_size=8).digest(), "big")


def example_for(schema: Any) -> Any:
    """A small instance of a JSON schema (`worker.simulator.instances`)."""
    return instance(schema)


def _active(fault: Fault | None, kind: str, first_try: bool) -> bool:
    if fault is None:
        return False
    return fault.kind == kind or (fault.kind == f"{kind}-once" and first_try)


def _last_turn(request: ChatRequest) -> Message | None:
    """The last turn that is not a system note: a system turn sent after the user's (as Claude Code
    sends its environment) does not make it the system's turn to be answered."""
    return next((m for m in reversed(request.messages) if m.role != "system"), None)


def _named_call(text: str, tools: tuple[ToolSpec, ...]) -> tuple[ToolSpec, dict[str, Any] | None] | None:
    """`[sim:call=NAME]` or `[sim:call=NAME {json}]` in the user's turn: the tool to call, and its
    arguments when given (else they are made from the tool's schema)."""
    match = CALL.search(text)
    if match is None:
        return None
    tool = next((t for t in tools if t.name == match.group(1)), None)
    if tool is None:
        return None
    try:
        arguments = orjson.loads(match.group(2)) if match.group(2) else None
    except orjson.JSONDecodeError:
        arguments = None
    return tool, arguments if isinstance(arguments, dict) else None


def _tools_to_call(
    request: ChatRequest, tools: tuple[ToolSpec, ...], choice: ToolChoice | None
) -> tuple[ToolSpec, ...]:
    """The simulator calls a tool when tools are offered, the choice allows it, and the last turn is
    the user's (after a tool result it answers in text instead). `auto` behaves like `required`; a
    forced choice (`required`, or a named function) is a call whatever the last turn, as a provider
    that enforces it does: clients rely on it for structured output through a tool."""
    last = _last_turn(request)
    if not tools or last is None or (choice is not None and choice.mode == "none"):
        return ()
    forced = choice is not None and choice.mode in ("function", "required")
    if not forced and (last.role != "user" or last.text().startswith(TOOL_RESPONSE)):
        return ()
    first = tools[0]
    if choice is not None and choice.mode == "function":
        first = next((t for t in tools if t.name == choice.name), tools[0])
    elif (named := _named_call(last.text(), tools)) is not None:
        first = named[0]
    if PARALLEL in last.text():
        return (first, next((t for t in tools if t is not first), first))
    return (first,)


def _arguments(request: ChatRequest, tool: ToolSpec) -> str:
    last = _last_turn(request)
    named = _named_call(last.text(), (tool,)) if last is not None else None
    if named is not None and named[1] is not None:
        return orjson.dumps(named[1]).decode()
    return orjson.dumps(_object_example(tool.parameters)).decode()


def _answer(request: ChatRequest, rng: random.Random, fault: Fault | None, first_try: bool) -> str:
    if request.response_schema is not None or request.json_mode:
        if _active(fault, "bad-json", first_try):
            return '{"this is": not json'
        if request.response_schema is None:  # JSON mode: some object, not an empty one
            return orjson.dumps({"answer": " ".join(rng.sample(_ANSWER, 2))}).decode()
        return orjson.dumps(example_for(request.response_schema)).decode()
    last = request.messages[-1] if request.messages else None
    if last is not None and (last.role == "tool" or last.text().startswith(TOOL_RESPONSE)):
        body = last.text().removeprefix(TOOL_RESPONSE).removesuffix("</tool_response>").strip()
        return f"The tool returned: {body[:200]}"
    return " ".join(rng.sample(_ANSWER, 3))


def _given_arguments(request: ChatRequest) -> str | None:
    """The JSON object of a `[sim:args={...}]` marker in the last user turn, re-serialized; None if
    there is no marker or it does not hold a JSON object followed by `]`."""
    text = next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
    start = text.find(ARGS)
    if start < 0:
        return None
    try:
        value, end = json.JSONDecoder().raw_decode(text, start + len(ARGS))
    except ValueError:
        return None
    if not isinstance(value, dict) or text[end : end + 1] != "]":
        return None
    return orjson.dumps(value).decode()


def _object_example(parameters: Any) -> dict[str, Any]:
    """Tool arguments are always a JSON object, whatever odd schema the tool declares."""
    example = example_for(dict(parameters)) if isinstance(parameters, Mapping) else None
    return example if isinstance(example, dict) else {}


def generate(request: ChatRequest, first_try: bool = True) -> Generation:
    rng = random.Random(_seed(request))
    fault = find_fault(request)
    question = (
        request.prompt
        if request.prompt is not None
        else next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
    )
    topic = " ".join(question.split()[:8]) or "the question"
    reasoning = f'Okay, the user asks: "{topic}". ' + " ".join(rng.sample(_REASONING, 4))
    reasoning_tokens = [*split_tokens(reasoning), "\n", THINK_CLOSE, "\n\n"]
    tools, choice, tagged = request.tools, request.tool_choice, False
    if not tools:
        tools, choice = prompt_tools(request)
        tagged = bool(tools)
    chosen = () if _active(fault, "no-call", first_try) else _tools_to_call(request, tools, choice)
    given = _given_arguments(request) if chosen else None
    calls: tuple[ToolCall, ...] = tuple(
        ToolCall(
            f"call{rng.randrange(16**9):09x}",
            tool.name,
            given or _arguments(request, tool),
        )
        for tool in chosen
    )
    if calls and _active(fault, "bad-args", first_try):
        calls = tuple(ToolCall(c.id, c.name, c.arguments[:-1]) for c in calls)  # cut short: not JSON
    if tagged and calls:  # a model without native tools writes its calls as text
        answer_tokens = split_tokens("\n".join(tagged_call(c.name, c.arguments) for c in calls))
        calls = ()
    elif calls:
        answer_tokens = []
    else:
        answer_tokens = split_tokens(_answer(request, rng, fault, first_try))
    tokens = [*reasoning_tokens, *answer_tokens]
    finish: FinishReason = "tool_calls" if calls else "stop"
    call_tokens = sum(count(c.name) + count(c.arguments) for c in calls)
    limit = request.params.max_tokens
    if limit is not None and len(tokens) + call_tokens > limit:
        tokens = tokens[:limit]
        calls = ()
        call_tokens = 0
        finish = "length"
    answer_start = min(len(tokens), len(reasoning_tokens))
    return Generation(
        tokens=tuple(tokens),
        answer_start=answer_start,
        tool_calls=calls,
        finish_reason=finish,
        usage=Usage(prompt_tokens(request), len(tokens) + call_tokens, answer_start),
    )


def pieces(generation: Generation, reasoning_field: bool) -> list[tuple[str, str]]:
    """The output as (kind, text) pieces, `kind` being "text" or "reasoning".

    Inline (as QwQ behind Workers AI): every token is text, `</think>` included. As a field (as vLLM's
    reasoning parser hands it out): the reasoning tokens without the closing tag, then the answer.
    """
    if not reasoning_field:
        return [("text", token) for token in generation.tokens]
    tokens = generation.tokens
    start = generation.answer_start
    closed = start >= 3 and tokens[start - 2] == THINK_CLOSE
    reasoning_end = start - 3 if closed else start
    out = [("reasoning", t) for t in tokens[:reasoning_end]]
    out.extend(("text", t) for t in tokens[start:])
    return out


def argument_pieces(arguments: str, count: int = 3) -> list[str]:
    """Tool-call arguments cut into a few pieces, the way upstreams stream them."""
    size = max(1, -(-len(arguments) // count))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
