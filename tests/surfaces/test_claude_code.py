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

from tests.conftest import API_KEY
from tests.servers import LiveServer

CLAUDE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / ".bin" / "claude"


def claude(gateway: LiveServer, prompt: str, workdir: Path) -> subprocess.CompletedProcess[str]:
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
