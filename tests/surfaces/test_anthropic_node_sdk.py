"""The Node Anthropic SDK (`@anthropic-ai/sdk`, pinned in tests/clients) against a live gateway.

Each scenario is a function of `tests/clients/anthropic_sdk.mjs`, run by `node` in its own process;
it prints what it saw as one JSON object. `node` and the package are installed by
`scripts/install-clients.sh` (part of `install.sh dev`): without them these tests fail, they never skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import API_KEY
from tests.servers import LiveServer

SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "anthropic_sdk.mjs"


def run(gateway: LiveServer, scenario: str) -> Any:
    env = {**os.environ, "GATEWAY_URL": gateway.url, "GATEWAY_KEY": API_KEY}
    done = subprocess.run(
        ["node", str(SCRIPT), scenario], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{scenario}: {done.stdout}\n{done.stderr}"
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def test_plain_answer(gateway: LiveServer) -> None:
    seen = run(gateway, "plain")
    assert seen["stop"] == "end_turn" and seen["text"]
    assert seen["usage"]["input_tokens"] > 0 and seen["usage"]["output_tokens"] > 0


def test_stream(gateway: LiveServer) -> None:
    seen = run(gateway, "stream")
    assert seen["text"] and seen["text"] == seen["final"] and seen["stop"] == "end_turn"


def test_tool_round_trip(gateway: LiveServer) -> None:
    for scenario in ("tools", "streamed_tools"):
        seen = run(gateway, scenario)
        assert seen == {
            "first_stop": "tool_use",
            "tool": "get_weather",
            "input": {"city": "example"},
            "final": "The tool returned: 21 C",
        }, scenario


def test_upstream_failure_mid_stream_is_an_error(gateway: LiveServer) -> None:
    seen = run(gateway, "mid_stream_error")
    assert seen["raised"] is True and "mid-answer" in seen["message"]


def test_tool_runner_with_default_settings(gateway: LiveServer) -> None:
    """`toolRunner` asks for a server-side thread first; the gateway's `thread_unsupported_request`
    makes it fall back to running the loop itself, and the loop completes."""
    seen = run(gateway, "tool_runner")
    assert seen["runs"] == [{"city": "example"}]
    assert seen["final"] == "The tool returned: 21 C" and seen["stop"] == "end_turn"
    assert seen["sent"] == [
        {"thread": True, "status": 400},
        {"thread": False, "status": 200},
        {"thread": False, "status": 200},
    ]


@pytest.mark.parametrize("scenario", ["structured_zod", "structured_zod_stream", "structured_json_schema"])
def test_structured_output_parsed_by_the_sdk(gateway: LiveServer, scenario: str) -> None:
    """`messages.parse` / `messages.stream` with `output_config.format` from the SDK's `zodOutputFormat`
    (nested objects in an array, an enum, an optional field) or `jsonSchemaOutputFormat`: the SDK sends
    a `json_schema` format, the simulator answers with JSON that meets it, and the SDK's `parsed_output`
    (validated by zod for the zod helper) is that JSON."""
    seen = run(gateway, scenario)
    assert seen["status"] == 200 and seen["stop"] == "end_turn"
    form = seen["format"]
    assert form["type"] == "json_schema"
    Draft202012Validator(form["schema"]).validate(seen["parsed"])
    assert orjson.loads(seen["text"]) == seen["parsed"]
    if scenario.startswith("structured_zod"):
        trip = seen["parsed"]
        assert trip["mode"] in ("train", "car") and trip["stops"] and trip["stops"][0]["nights"] >= 1
        assert set(form["schema"]["properties"]) == {"title", "mode", "stops", "note"}
    else:
        assert set(seen["parsed"]) == {"name", "age", "tags"} and isinstance(seen["parsed"]["age"], int)
