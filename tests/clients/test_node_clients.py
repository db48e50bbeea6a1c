"""Node clients against a live gateway: the official `openai` package (chat completions) and the Vercel
AI SDK (`ai` with `@ai-sdk/openai-compatible`, zod 4 schemas). Each script (`openai_node.mjs`,
`vercel_ai.mjs`) drives its client through every scenario in one `node` process and reports what it
saw; the assertions are here. zod 4 writes draft-07 schemas with tuples as `"items": [...]`, so the
Vercel object scenarios are also the end-to-end test of draft-aware schema checks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.conftest import ANSWER_START, REASONING_START, failed, run_node
from tests.servers import LiveServer

SCENARIOS = ["text", "stream", "tools", "tools_stream", "object", "object_stream"]
SCRIPTS = ["openai_node.mjs", "vercel_ai.mjs"]


@pytest.fixture(scope="module", params=SCRIPTS)
def verdicts(request: pytest.FixtureRequest, sim_gateway: LiveServer) -> dict[str, Any]:
    result = run_node(request.param, sim_gateway, SCENARIOS)
    result["script"] = request.param
    return result


@pytest.fixture(scope="module", params=SCRIPTS)
def failures(request: pytest.FixtureRequest, failing_gateway: LiveServer) -> dict[str, Any]:
    return run_node(request.param, failing_gateway, ["text", "stream", "tools_stream"])


def test_plain_answer_with_reasoning_and_usage(verdicts: dict[str, Any]) -> None:
    text = verdicts["text"]
    assert text["ok"], text
    assert text["text"].startswith(ANSWER_START) and "</think>" not in text["text"]
    assert text["reasoning"].startswith(REASONING_START)
    assert text["finish"] == "stop"
    usage = text["usage"]
    total = usage.get("total_tokens", usage.get("totalTokens"))
    assert total > 0


def test_stream_gives_the_same_answer(verdicts: dict[str, Any]) -> None:
    stream = verdicts["stream"]
    assert stream["ok"], stream
    assert stream["text"] == verdicts["text"]["text"] and stream["finish"] == "stop"
    assert stream["usage"], "the usage chunk reached the client"


@pytest.mark.parametrize("scenario", ["tools", "tools_stream"])
def test_tool_round_trip(verdicts: dict[str, Any], scenario: str) -> None:
    verdict = verdicts[scenario]
    assert verdict["ok"], verdict
    if verdicts["script"] == "vercel_ai.mjs":  # the SDK ran the tool and asked again itself
        assert verdict["steps"] == 2 and verdict["calls"][0]["name"] == "weather"
        assert verdict["calls"][0]["input"]["city"] == "example"
        assert verdict["text"].startswith("The tool returned:") and "21" in verdict["text"]
    else:
        assert verdict["call"] == {"name": "get_weather", "arguments": {"city": "example"}}
        assert verdict["answer"] == 'The tool returned: {"temperature":21}'
    assert verdict["finish"] == "stop"


@pytest.mark.parametrize("scenario", ["object", "object_stream"])
def test_structured_output_fits_the_clients_schema(verdicts: dict[str, Any], scenario: str) -> None:
    """The clients parse (and the AI SDK validates with zod) what comes back: nested objects, a
    tuple, formats, an enum, `$defs`."""
    verdict = verdicts[scenario]
    assert verdict["ok"], verdict
    value = verdict["object"]
    assert value["stops"] and value["stops"][0]["nights"] >= 1
    assert len(value["position"]) == 2 and all(isinstance(n, int | float) for n in value["position"])
    if verdicts["script"] == "vercel_ai.mjs":
        assert value["mode"] in ("train", "car") and "@" in value["contact"]
        assert value["when"].startswith("2026-")
    else:
        assert value["id"].count("-") == 4


@pytest.mark.parametrize("scenario", ["text", "stream", "tools_stream"])
def test_an_upstream_failure_is_an_error_to_the_client(failures: dict[str, Any], scenario: str) -> None:
    """Mid-stream on the wire to the gateway; for a stream also mid-stream to the client: either way
    the client raises, it never returns the half answer as if it were whole."""
    assert failed(failures[scenario]), failures[scenario]
