"""The client matrix's gateways: real uvicorn on real sockets, one per kind of upstream.

`sim_gateway` serves from the built-in simulator (reasoning in its own field, as vLLM sends it);
`failing_gateway` sits in front of a real local upstream that starts every answer (reasoning, then some
text) and fails in the middle of it with an error event: a client must see an error there, never a
clean, shorter answer. Both live for the whole session: the clients' tests only read from them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, make_settings
from tests.scripted import Reply, ScriptedUpstream, chunk
from tests.servers import LiveServer, serving
from worker.app import create_app

CLIENTS = Path(__file__).parent
STEADY = {"retry_attempts": 0, "breaker_failures": 0, "simulator_token_delay": 0}

UPSTREAM_FAILURE = "the model crashed"
# Reasoning and a first piece of text reach the client; then the upstream reports a failure.
MID_STREAM_FAILURE = Reply(
    pieces=(
        b"data: " + chunk({"role": "assistant", "reasoning_content": "Thinking it over."}) + b"\n\n",
        b"data: " + chunk({"content": "The first half of an answer"}) + b"\n\n",
        b'data: {"error": {"message": "the model crashed", "type": "server_error"}}\n\n',
    )
)


class _EveryMessage(dict[str, Reply]):
    """The same reply whatever the last message says (the clients word their own requests)."""

    def __getitem__(self, key: Any) -> Reply:
        return MID_STREAM_FAILURE


def failing_midway() -> ScriptedUpstream:
    """A real local upstream whose every answer fails in the middle (`MID_STREAM_FAILURE`); also used by
    the CLI clients' tests (Claude Code, Codex), which run against a gateway of their own."""
    return ScriptedUpstream(_EveryMessage())


@pytest.fixture(scope="session")
def sim_gateway() -> Iterator[LiveServer]:
    with serving(create_app(make_settings(simulator_reasoning_field=1, **STEADY))) as server:
        yield server


@pytest.fixture(scope="session")
def failing_upstream() -> Iterator[LiveServer]:
    with serving(failing_midway()) as server:
        yield server


@pytest.fixture(scope="session")
def failing_gateway(failing_upstream: LiveServer) -> Iterator[LiveServer]:
    settings = make_settings(upstream_url=f"{failing_upstream.url}/v1", **STEADY)
    with serving(create_app(settings)) as server:
        yield server


def run_node(script: str, gateway: LiveServer, scenarios: list[str]) -> dict[str, Any]:
    """Run one of this folder's client scripts against `gateway`; its JSON verdict per scenario.
    A missing `node` or client package is a failure (scripts/install-clients.sh installs them)."""
    node = shutil.which("node")
    assert node is not None, "node is not installed: run scripts/install.sh dev"
    assert (CLIENTS / "node_modules").is_dir(), "client packages missing: run scripts/install-clients.sh"
    done = subprocess.run(
        [node, str(CLIENTS / script), f"{gateway.url}/v1", API_KEY, *scenarios],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def failed(verdict: dict[str, Any]) -> bool:
    """A scenario that ended in an error the client raised, carrying the upstream's own message (what
    a failing upstream must cause)."""
    return verdict["ok"] is False and UPSTREAM_FAILURE in verdict["error"]


# Every client asks the simulator the same things, so it answers them the same way.
ANSWER_START = "Edge deployments trade raw capacity"
REASONING_START = 'Okay, the user asks: "What is an edge gateway?"'
