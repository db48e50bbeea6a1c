"""The context window, end to end: a live gateway in front of real local upstreams that count what they
receive. A prompt that fits no target's window is refused with a 400 `context_length_exceeded` in each
surface's shape and no upstream sees a request; a target whose window is too small is skipped for one
whose window is large enough."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import API_KEY, AUTH
from tests.servers import FaultServer, LiveServer, free_port
from worker.core.tokenizer import count

Gateways = Callable[..., LiveServer]
SMALL = "Answer from the small window."
LARGE = "Answer from the large window."
ANTHROPIC = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}


def words(n: int) -> str:
    """`n` tokens of text (" hello" is one token of QwQ's vocabulary)."""
    return "hello" + " hello" * (n - 1)


@pytest.fixture
def upstreams() -> Iterator[Callable[[str], tuple[LiveServer, FaultServer]]]:
    started: list[LiveServer] = []

    def start(answer: str) -> tuple[LiveServer, FaultServer]:
        fault = FaultServer(["ok"], answer)
        server = LiveServer(fault)
        server.start()
        started.append(server)
        return server, fault

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def two_windows(
    tmp_path: Path,
    live_gateway_factory: Gateways,
    upstreams: Callable[[str], tuple[LiveServer, FaultServer]],
) -> tuple[LiveServer, FaultServer, FaultServer]:
    """`qwq-32b` (window 24,000) first on a target with a 1,000-token window, then on one with 32,768."""
    small, small_fault = upstreams(SMALL)
    large, large_fault = upstreams(LARGE)
    table = '[models.qwq-32b]\ncloudflare_id = "@cf/qwen/qwq-32b"\ncontext_window = 24000\n'
    for server, window in ((small, 1000), (large, 32768)):
        table += (
            f'[[models.qwq-32b.targets]]\nadapter = "openai"\nbase_url = "{server.url}/v1"\n'
            f'model = "Qwen/QwQ-32B"\ncontext_window = {window}\n'
        )
    path = tmp_path / f"models-{free_port()}.toml"
    path.write_text(table)
    gateway = live_gateway_factory(models_file=str(path), retry_attempts=0, breaker_failures=0)
    return gateway, small_fault, large_fault


def chat(gateway: LiveServer, text: str, max_tokens: int = 100, stream: bool = False) -> httpx.Response:
    body = {
        "model": "qwq-32b",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH, timeout=30)


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_too_large_for_the_first_target_goes_to_one_that_fits(
    two_windows: tuple[LiveServer, FaultServer, FaultServer], stream: bool
) -> None:
    gateway, small, large = two_windows
    response = chat(gateway, words(5000), stream=stream)
    assert response.status_code == 200, response.text
    assert "large" in response.text and "small" not in response.text
    assert (small.attempts, large.attempts) == (0, 1)
    # a short prompt still goes to the first target
    assert chat(gateway, "Say hello", stream=stream).status_code == 200
    assert (small.attempts, large.attempts) == (1, 1)


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_no_window_holds_is_refused_and_nothing_is_forwarded(
    two_windows: tuple[LiveServer, FaultServer, FaultServer], stream: bool
) -> None:
    gateway, small, large = two_windows
    text = words(40000)
    response = chat(gateway, text, max_tokens=100, stream=stream)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    prompt = count(f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n<think>\n")
    assert error == {
        "message": f"This model's maximum context length is 32768 tokens. However, you requested "
        f"{prompt + 100} tokens ({prompt} in the messages, 100 in the completion). Please reduce the "
        "length of the messages or completion.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    assert (small.attempts, large.attempts) == (0, 0)


def test_max_tokens_alone_can_make_a_request_not_fit(
    two_windows: tuple[LiveServer, FaultServer, FaultServer],
) -> None:
    gateway, small, large = two_windows
    response = chat(gateway, "Say hello", max_tokens=40000)
    assert response.status_code == 400 and response.json()["error"]["code"] == "context_length_exceeded"
    assert (small.attempts, large.attempts) == (0, 0)


def test_a_three_megabyte_prompt_is_refused_without_an_upstream_request(
    two_windows: tuple[LiveServer, FaultServer, FaultServer],
) -> None:
    gateway, small, large = two_windows
    response = chat(gateway, words(500_000))  # 3 MB, 500,000 tokens
    assert response.status_code == 400, response.text
    # the user turn's ChatML and the generation prompt are 10 more tokens
    assert "(500010 in the messages, 100 in the completion)" in response.json()["error"]["message"]
    assert (small.attempts, large.attempts) == (0, 0)


@pytest.mark.parametrize("stream", [False, True])
def test_each_surface_refuses_in_its_own_shape(
    two_windows: tuple[LiveServer, FaultServer, FaultServer], stream: bool
) -> None:
    gateway, small, large = two_windows
    text = words(40000)

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = AUTH) -> httpx.Response:
        return httpx.post(
            f"{gateway.url}{path}", json={**body, "stream": stream}, headers=headers, timeout=30
        )

    anthropic = post(
        "/v1/messages",
        {"model": "qwq-32b", "max_tokens": 100, "messages": [{"role": "user", "content": text}]},
        ANTHROPIC,
    )
    assert anthropic.status_code == 400
    body = anthropic.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert re.fullmatch(
        r"input length and `max_tokens` exceed context limit: \d+ \+ 100 > 32768, decrease input length "
        r"or `max_tokens` and try again",
        body["error"]["message"],
    )

    slug = post("/qwq-32b", {"messages": [{"role": "user", "content": text}], "max_tokens": 100})
    assert slug.status_code == 400
    assert slug.json()["detail"]["param"] == "messages" and slug.json()["detail"]["context_window"] == 32768
    assert slug.json()["error"].startswith("This model's maximum context length is 32768 tokens.")

    cloudflare = post(
        "/client/v4/accounts/abc/ai/run/@cf/qwen/qwq-32b",
        {"messages": [{"role": "user", "content": text}], "max_tokens": 100},
    )
    assert cloudflare.status_code == 400
    failure = cloudflare.json()
    assert failure["success"] is False and failure["errors"][0]["code"] == 5006
    assert "maximum context length is 32768 tokens" in failure["errors"][0]["message"]

    responses = post("/v1/responses", {"model": "qwq-32b", "input": text, "max_output_tokens": 100})
    assert responses.status_code == 400
    assert responses.json()["error"]["code"] == "context_length_exceeded"
    assert responses.json()["error"]["param"] == "messages"
    assert (small.attempts, large.attempts) == (0, 0)


def test_responses_history_counts_toward_the_window(
    two_windows: tuple[LiveServer, FaultServer, FaultServer],
) -> None:
    """A follow-up is measured with the stored conversation it continues, as it would be sent."""
    gateway, small, large = two_windows

    def respond(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{gateway.url}/v1/responses",
            json={"model": "qwq-32b", "max_output_tokens": 100, "store": True, **body},
            headers=AUTH,
            timeout=30,
        )

    first = respond({"input": words(20000)})
    assert first.status_code == 200, first.text
    assert large.attempts == 1
    alone = words(15000)  # fits on its own, not after the first turn
    follow = respond({"input": alone, "previous_response_id": first.json()["id"]})
    assert follow.status_code == 400, follow.text
    assert follow.json()["error"]["code"] == "context_length_exceeded"
    assert large.attempts == 1 and small.attempts == 0
    assert respond({"input": alone}).status_code == 200


def test_count_tokens_and_the_refusal_agree(
    two_windows: tuple[LiveServer, FaultServer, FaultServer],
) -> None:
    gateway, _, _ = two_windows
    body = {"model": "qwq-32b", "messages": [{"role": "user", "content": words(40000)}]}
    counted = httpx.post(f"{gateway.url}/v1/messages/count_tokens", json=body, headers=ANTHROPIC, timeout=30)
    refused = httpx.post(
        f"{gateway.url}/v1/messages", json={**body, "max_tokens": 7}, headers=ANTHROPIC, timeout=30
    )
    prompt = orjson.loads(counted.content)["input_tokens"]
    assert f": {prompt} + 7 > 32768" in refused.json()["error"]["message"]
