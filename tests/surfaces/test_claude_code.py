"""Claude Code (`@anthropic-ai/claude-code`, pinned in tests/clients) pointed at a live gateway.

It runs as a user would script it: `claude -p "<prompt>"`, no TTY, a fresh HOME and config directory,
no telemetry or update checks, the gateway as `ANTHROPIC_BASE_URL` and the model named by
`ANTHROPIC_MODEL` (docs/claude-code.md). The gateway runs on the simulator, steered by the prompt:
`[sim:no-call]` answers in text although Claude Code offers its tools, `[sim:call=Read {...}]` calls
its Read tool; Claude Code runs the tool and sends the result back, and the answer to that is printed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from tests.clients.conftest import UPSTREAM_FAILURE, failing_midway
from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer, serving
from worker.app import create_app

CLAUDE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / ".bin" / "claude"


def claude(
    gateway: LiveServer, prompt: str, workdir: Path, *options: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    keep = ("PATH", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_API_KEY=API_KEY,
        ANTHROPIC_MODEL="qwq-32b",
        ANTHROPIC_SMALL_FAST_MODEL="qwq-32b",
        CLAUDE_CODE_MAX_CONTEXT_TOKENS="32768",
        CLAUDE_CODE_MAX_OUTPUT_TOKENS="8192",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        CLAUDE_CODE_MAX_RETRIES="0",  # a failure must show at once, not after minutes of back-off
    )
    env.update(settings)
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, *options],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prints_the_answer(gateway: LiveServer, tmp_path: Path) -> None:
    done = claude(gateway, "Say hello [sim:no-call]", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip(), done.stderr
    assert "API Error" not in done.stdout + done.stderr
    # the context window it was given is used: no warning about an unknown model's window
    assert "assumes a context window" not in done.stderr


def test_a_tool_call_completes_the_round_trip(gateway: LiveServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The secret word is pumpernickel.\n")
    arguments = orjson.dumps({"file_path": str(notes)}).decode()
    done = claude(gateway, f"[sim:call=Read {arguments}] What does notes.txt say?", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # Claude Code read the file with its Read tool and sent the contents back; the answer to that
    # (the simulator quotes the tool result) is what it printed
    assert "The tool returned:" in done.stdout and "pumpernickel" in done.stdout, done.stdout + done.stderr


def test_structured_output_with_a_json_schema(gateway: LiveServer, tmp_path: Path) -> None:
    """`--json-schema`: Claude Code offers a `StructuredOutput` tool whose input schema is the one given
    (the prompt steers the simulator to call that tool rather than the first one offered); the
    simulator's call carries an instance of it, which Claude Code hands back as `structured_output`."""
    schema: Any = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "langs": {"type": "array", "items": {"enum": ["en", "fr"]}},
            "home": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
        "required": ["name", "age", "langs", "home"],
    }
    done = claude(
        gateway,
        "Describe a person [sim:call=StructuredOutput]",
        tmp_path,
        "--output-format",
        "json",
        "--json-schema",
        orjson.dumps(schema).decode(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = orjson.loads(done.stdout)
    assert result["is_error"] is False and result["subtype"] == "success", result
    Draft202012Validator(schema).validate(result["structured_output"])
    assert result["structured_output"]["langs"] and result["structured_output"]["home"]["city"]


def test_an_upstream_failure_mid_stream_is_an_error(
    live_gateway_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """The upstream sends reasoning and half an answer, then fails: Claude Code reports an API error and
    exits non-zero, never printing the half answer as if it were the whole one."""
    with serving(failing_midway()) as upstream:
        failing = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1", retry_attempts=0, breaker_failures=0
        )
        done = claude(failing, "Say hello", tmp_path)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "API Error" in done.stdout and UPSTREAM_FAILURE in done.stdout, done.stdout + done.stderr
    assert "The first half of an answer" not in done.stdout


def test_a_max_tokens_too_large_for_the_window_is_lowered_by_claude_code(tmp_path: Path) -> None:
    """Its prompt (about 11,600 tokens) and 20,000 output tokens do not fit the 24,000-token window: the
    gateway refuses before forwarding (docs/tokens.md), in words Claude Code reads, and Claude Code
    sends the request again with a `max_tokens` that fits."""
    gateway = LiveServer(create_app(make_settings()))
    refusals: list[str] = []
    gateway.app.sinks.append(lambda r: refusals.append(r.error_code) if r.status == 400 else None)
    gateway.start()
    try:
        # Claude Code lowers `max_tokens` on its retry path, so this run allows it retries.
        done = claude(
            gateway,
            "Say hello [sim:no-call]",
            tmp_path,
            CLAUDE_CODE_MAX_OUTPUT_TOKENS="20000",
            CLAUDE_CODE_MAX_RETRIES="2",
        )
    finally:
        gateway.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() and "API Error" not in done.stdout + done.stderr
    assert refusals == ["context_length_exceeded"]
