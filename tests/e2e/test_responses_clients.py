"""Real Responses API clients against a live gateway on the built-in simulator: the official `openai`
Node SDK (tests/clients/responses.mjs) and OpenAI's Codex CLI (`codex exec`, a custom model provider
with `wire_api = "responses"`). Both are installed in tests/clients/node_modules by
scripts/install-clients.sh; a missing one fails these tests rather than skipping them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.clients.conftest import UPSTREAM_FAILURE, failing_midway
from tests.docs.pages import EXAMPLE_KEY, EXAMPLE_URL, all_blocks
from tests.servers import LiveServer, serving

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
CODEX = CLIENTS / "node_modules" / ".bin" / "codex"


@pytest.fixture
def gateway(live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(simulator_reasoning_field=1, api_keys=EXAMPLE_KEY)


def test_openai_node_sdk(gateway: LiveServer) -> None:
    assert (CLIENTS / "node_modules" / "openai").is_dir(), "run scripts/install-clients.sh"
    env = {**os.environ, "GATEWAY_URL": gateway.url, "GATEWAY_KEY": EXAMPLE_KEY}
    done = subprocess.run(
        ["node", str(CLIENTS / "responses.mjs")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    plain = out["plain"]
    assert plain["status"] == "completed" and plain["id"].startswith("resp_")
    assert (
        plain["text"]
        and plain["reasoning"].startswith("Okay, the user asks")
        and plain["reasoningTokens"] > 0
    )
    stream = out["stream"]
    assert (stream["first"], stream["last"]) == ("response.created", "response.completed")
    assert stream["call"] == {"name": "get_weather", "arguments": '{"city":"example"}'}
    assert stream["argumentDeltas"] == stream["call"]["arguments"]
    assert out["toolResult"] == "The tool returned: 18 C, clear"
    assert out["parsed"] == {"city": "example", "days": 1}
    assert out["previous"] == {"status": 400, "param": "previous_response_id"}


def documented_config() -> str:
    [config] = [b.code for b in all_blocks() if b.page == "docs/responses.md" and "wire_api" in b.code]
    assert config.rstrip().endswith('wire_api = "responses"'), "the provider table must come last"
    return config


def run_codex(
    gateway: LiveServer, home: Path, workdir: Path, prompt: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run `codex exec --json [options] prompt` with a provider pointing at the gateway."""
    assert CODEX.exists(), "run scripts/install-clients.sh"
    home.mkdir(exist_ok=True)
    workdir.mkdir(exist_ok=True)
    # The configuration docs/responses.md gives, pointed at this gateway, with Codex's own update checks,
    # analytics and feedback off and no retries (a failure must show at once).
    (home / "config.toml").write_text(
        "check_for_update_on_startup = false\n"
        + documented_config().replace(EXAMPLE_URL, gateway.url)
        + "request_max_retries = 0\nstream_max_retries = 0\n"
        + "[analytics]\nenabled = false\n[feedback]\nenabled = false\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CODEX_HOME": str(home),
        "QWQ_GATEWAY_KEY": EXAMPLE_KEY,
        "NO_COLOR": "1",
    }
    command = [
        str(CODEX),
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        "read-only",
        *options,
        prompt,
    ]
    return subprocess.run(
        command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


def events_of(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def codex(gateway: LiveServer, home: Path, workdir: Path, prompt: str, *options: str) -> list[dict[str, Any]]:
    """`run_codex`, which must succeed; its JSONL events."""
    done = run_codex(gateway, home, workdir, prompt, *options)
    assert done.returncode == 0, done.stdout + done.stderr
    return events_of(done)


def completed(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == kind]


def test_codex_one_turn_answer(gateway: LiveServer, tmp_path: Path) -> None:
    # Codex always offers tools, and the simulator calls one while the last turn is the user's:
    # `[sim:no-call]` makes it answer in text.
    events = codex(gateway, tmp_path / "home", tmp_path / "work", "What is an edge gateway? [sim:no-call]")
    [message] = completed(events, "agent_message")
    assert message["text"] and "</think>" not in message["text"]
    [reasoning] = completed(events, "reasoning")
    assert reasoning["text"].startswith("Okay, the user asks")
    assert not completed(events, "command_execution")
    [turn] = [e for e in events if e["type"] == "turn.completed"]
    assert turn["usage"]["output_tokens"] > 0 and turn["usage"]["reasoning_output_tokens"] > 0


def test_codex_runs_a_command_the_model_calls_and_reads_its_output(
    gateway: LiveServer, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "marker.txt").write_text("gateway-marker-7f3a\n")
    prompt = 'Show me marker.txt [sim:args={"cmd": "cat marker.txt"}]'
    events = codex(gateway, tmp_path / "home", work, prompt)
    [command] = completed(events, "command_execution")
    assert "cat marker.txt" in command["command"] and command["exit_code"] == 0
    assert "gateway-marker-7f3a" in command["aggregated_output"]
    # The second request carried the command's output back; the simulator repeats what the tool returned.
    [message] = completed(events, "agent_message")
    assert message["text"].startswith("The tool returned:") and "gateway-marker-7f3a" in message["text"]


def test_codex_structured_output_meets_the_output_schema(gateway: LiveServer, tmp_path: Path) -> None:
    """`--output-schema FILE` goes to the gateway as the Responses `text.format` json_schema; the final
    message is an instance of it."""
    schema: Any = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "pets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"kind": {"enum": ["cat", "dog"]}, "name": {"type": "string"}},
                    "required": ["kind", "name"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["name", "age", "pets"],
        "additionalProperties": False,
    }
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema))
    prompt = "Describe a person [sim:no-call]"
    events = codex(gateway, tmp_path / "home", tmp_path / "work", prompt, "--output-schema", str(schema_file))
    [message] = completed(events, "agent_message")
    value = json.loads(message["text"])
    Draft202012Validator(schema).validate(value)
    assert value["pets"] and value["pets"][0]["kind"] in ("cat", "dog")


def test_codex_reports_an_upstream_failure_mid_stream(
    live_gateway_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """The upstream sends reasoning and half an answer, then fails: Codex fails the turn with the
    upstream's message and exits non-zero; no agent message claims to be the answer."""
    with serving(failing_midway()) as upstream:
        failing = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1",
            api_keys=EXAMPLE_KEY,
            retry_attempts=0,
            breaker_failures=0,
        )
        done = run_codex(failing, tmp_path / "home", tmp_path / "work", "Say hello")
    assert done.returncode != 0, done.stdout + done.stderr
    events = events_of(done)
    [failed] = [e for e in events if e["type"] == "turn.failed"]
    assert UPSTREAM_FAILURE in failed["error"]["message"]
    assert not completed(events, "agent_message")
