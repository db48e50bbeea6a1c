"""Which parts of an Anthropic Messages body the gateway acts on, which it accepts and ignores, and
which it refuses.

Real clients send the whole public Messages API, beta fields included (Claude Code's first request
carries `context_management`, `output_config`, `thinking: {"type": "adaptive"}`, `cache_control` on
blocks and tools with a `$schema`). Refusing any of them would stop the client before its first answer,
so every field the API defines is accepted; what the gateway cannot do (prompt caching, server-side
tools, containers, MCP servers, a reasoning budget) is named in `X-Gateway-Ignored-Fields` instead.
A top-level field the API does not define gets the API's own 400 (`<field>: Extra inputs are not
permitted`), so a typo is still caught. `thread` is the one defined field refused: the SDKs' tool
runner asks for a server-side thread and falls back to plain requests on exactly this refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from worker.core.errors import BadRequest

# Accepted and not acted upon, whatever their value: named in the ignored-fields header when present.
IGNORED_FIELDS = (
    "service_tier",
    "context_management",
    "container",
    "mcp_servers",
    "inference_geo",
    "speed",
    "diagnostics",
    "compaction",
    "fallbacks",
    "billing_policy",
)
# Every top-level field of the public Messages API (and its betas) this gateway accepts.
KNOWN_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",
        "cache_control",
        *IGNORED_FIELDS,
    }
)
# The error the SDKs' tool runner recognises as "no threads here, run without one".
THREAD_UNSUPPORTED = {"error_code": "thread_unsupported_request", "unsupported": ["thread"]}

# Tools whose input the API defines (the client runs them): offered to the model as ordinary tools with
# that input, by the prefix of their `type`. Server-side tools (web search, code execution...) are not.
_BASH = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The shell command to run"},
        "restart": {"type": "boolean", "description": "Restart the shell instead of running a command"},
    },
}
_TEXT_EDITOR = {
    "type": "object",
    "properties": {
        "command": {"enum": ["view", "create", "str_replace", "insert"]},
        "path": {"type": "string", "description": "Absolute path of the file or directory"},
        "file_text": {"type": "string", "description": "Content of the file to create"},
        "old_str": {"type": "string", "description": "Exact text to replace"},
        "new_str": {"type": "string", "description": "Replacement or inserted text"},
        "insert_line": {"type": "integer", "description": "Line after which to insert new_str"},
        "view_range": {"type": "array", "items": {"type": "integer"}, "description": "[first, last] line"},
    },
    "required": ["command", "path"],
}
_MEMORY = {
    "type": "object",
    "properties": {
        "command": {"enum": ["view", "create", "str_replace", "insert", "delete", "rename"]},
        "path": {"type": "string"},
        "file_text": {"type": "string"},
        "old_str": {"type": "string"},
        "new_str": {"type": "string"},
        "insert_line": {"type": "integer"},
        "insert_text": {"type": "string"},
        "old_path": {"type": "string"},
        "new_path": {"type": "string"},
    },
    "required": ["command"],
}
CLIENT_TOOLS: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "bash_": ("Run a command in a bash shell", _BASH),
    "text_editor_": ("View, create and edit text files", _TEXT_EDITOR),
    "memory_": ("Read and write files in the /memories directory", _MEMORY),
}


def refuse_unknown(body: Any) -> None:
    """Raise the API's 400 for `thread`, and for a top-level field the API does not define."""
    if not isinstance(body, dict):
        return
    if "thread" in body:
        raise BadRequest(
            "thread: message threads are not supported by this gateway; send the request without 'thread'",
            dict(THREAD_UNSUPPORTED),
        )
    extra = sorted(name for name in body if name not in KNOWN_FIELDS)
    if extra:
        raise BadRequest(f"{extra[0][:64]}: Extra inputs are not permitted")


def client_tool(kind: str) -> tuple[str, Mapping[str, Any]] | None:
    """(description, input schema) of an Anthropic-defined client tool, or None for any other kind."""
    for prefix, spec in CLIENT_TOOLS.items():
        if kind.startswith(prefix):
            return spec
    return None


def _has_cache_control(body: Mapping[str, Any]) -> bool:
    """Whether the body asks for prompt caching anywhere (top level, system, messages, blocks, tools)."""
    if body.get("cache_control") is not None:
        return True
    system = body.get("system")
    blocks: list[Any] = [*(system if isinstance(system, list) else ()), *body.get("tools", ())]
    for message in body["messages"]:
        if "cache_control" in message:
            return True
        if isinstance(message["content"], list):
            blocks.extend(message["content"])
    return any("cache_control" in block for block in blocks)


def ignored_fields(body: Mapping[str, Any], dropped: Iterable[str]) -> tuple[str, ...]:
    """The names for `X-Gateway-Ignored-Fields`: fields present but not acted upon, then `dropped`
    (the tools and content blocks the parser left out), each once, in a stable order."""
    names = [name for name in IGNORED_FIELDS if body.get(name) is not None]
    if (body.get("thinking") or {}).get("budget_tokens") is not None:
        names.append("thinking.budget_tokens")
    if (body.get("output_config") or {}).get("effort") is not None:
        names.append("output_config.effort")
    if (body.get("tool_choice") or {}).get("disable_parallel_tool_use") is not None:
        names.append("tool_choice.disable_parallel_tool_use")
    if _has_cache_control(body):
        names.append("cache_control")
    for name in dropped:
        if name not in names:
            names.append(name)
    return tuple(names)
