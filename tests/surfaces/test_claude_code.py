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
from pathlib import Path

import orjson

from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer
from worker.app import create_app

CLAUDE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / ".bin" / "claude"


def claude(
    gateway: LiveServer, prompt: str, workdir: Path, **settings: str
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
    )
    env.update(settings)
    return subprocess.run(
        [str(CLAUDE), "-p", prompt],
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


def test_a_max_tokens_too_large_for_the_window_is_lowered_by_claude_code(tmp_path: Path) -> None:
    """Its prompt (about 11,600 tokens) and 20,000 output tokens do not fit the 24,000-token window: the
    gateway refuses before forwarding (docs/tokens.md), in words Claude Code reads, and Claude Code
    sends the request again with a `max_tokens` that fits."""
    gateway = LiveServer(create_app(make_settings()))
    refusals: list[str] = []
    gateway.app.sinks.append(lambda r: refusals.append(r.error_code) if r.status == 400 else None)
    gateway.start()
    try:
        done = claude(gateway, "Say hello [sim:no-call]", tmp_path, CLAUDE_CODE_MAX_OUTPUT_TOKENS="20000")
    finally:
        gateway.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() and "API Error" not in done.stdout + done.stderr
    assert refusals == ["context_length_exceeded"]
