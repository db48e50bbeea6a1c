"""End to end: raw prompts, images, and the reasoning modes, over real sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH
from tests.e2e_helpers import chunk_deltas, gateway_with_table, post, sse_events
from tests.servers import LiveServer, serving
from worker.simulator.server import SimulatorServer

RAW_PROMPT = "<|im_start|>user\nWhat is an edge gateway?<|im_end|>\n<|im_start|>assistant\n<think>\n"
IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAAB"
    "JRU5ErkJggg=="
)
PICTURE = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": IMAGE}},
            ],
        }
    ]
}


@pytest.fixture
def gateway(fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")


@pytest.fixture
def field_upstream() -> Iterator[LiveServer]:
    """An upstream that hands reasoning out in `reasoning_content`, as vLLM's reasoning parser does."""
    with serving(SimulatorServer(reasoning_field=True)) as server:
        yield server


# --- raw prompts ---------------------------------------------------------------------------------


def test_raw_prompt_goes_to_the_completions_endpoint(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, {"prompt": RAW_PROMPT, "raw": True, "max_tokens": 40, "seed": 3})
    assert r.status_code == 200
    sent = fake_upstream.app.stats.bodies[-1]
    assert sent["prompt"] == RAW_PROMPT and "messages" not in sent
    assert (sent["max_tokens"], sent["seed"]) == (40, 3)
    body = r.json()
    assert body["response"] and body["usage"]["completion_tokens"] == 40
    choices = post(
        gateway, {"prompt": RAW_PROMPT, "raw": True, "max_tokens": 40, "seed": 3}, "?shape=choices"
    )
    answer = choices.json()["choices"][0]
    assert answer["message"]["content"] == body["response"] and answer["finish_reason"] == "length"


@pytest.mark.parametrize("shape", ["workers", "choices"])
def test_raw_prompt_streams(gateway: LiveServer, shape: str) -> None:
    whole = post(gateway, {"prompt": RAW_PROMPT, "raw": True}).json()["response"]
    events = sse_events(post(gateway, {"prompt": RAW_PROMPT, "raw": True, "stream": True}, f"?shape={shape}"))
    assert events[-1] == "[DONE]"
    if shape == "workers":
        text = "".join(e["response"] for e in events[:-1])
    else:
        text = "".join(d.get("content") or "" for d in chunk_deltas(events))
    assert text == whole and "</think>" in text  # raw output is raw: no reasoning split


def test_raw_prompt_is_a_400_where_the_upstream_has_no_completions(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    gateway = gateway_with_table(live_gateway_factory, tmp_path, fake_upstream, raw_completions=False)
    r = post(gateway, {"prompt": RAW_PROMPT, "raw": True})
    assert r.status_code == 400 and "Raw prompts" in r.json()["error"]
    assert fake_upstream.app.stats.received == 0
    assert post(gateway, {"prompt": "not raw"}).status_code == 200


# --- images --------------------------------------------------------------------------------------


def test_image_parts_pass_through_exactly(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, PICTURE)
    assert r.status_code == 200
    assert fake_upstream.app.stats.bodies[-1]["messages"] == PICTURE["messages"]


def test_an_upstream_that_refuses_images_gives_a_400_naming_why(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    with serving(SimulatorServer(accept_images=False)) as text_only:
        gateway = live_gateway_factory(upstream_url=f"{text_only.url}/v1")
        r = post(gateway, PICTURE)
        assert r.status_code == 400
        assert "not a multimodal model" in r.json()["error"]
        assert post(gateway, {"prompt": "text is fine"}).status_code == 200


def test_http_image_urls_are_refused_by_validation(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
        ]
    }
    r = post(gateway, body)
    assert r.status_code == 400 and "data: URIs" in r.json()["error"]
    assert fake_upstream.app.stats.received == 0


# --- reasoning ------------------------------------------------------------------------------------

HELLO = {"messages": [{"role": "user", "content": "Hello there"}], "seed": 11}


def test_inline_is_byte_identical_to_an_inline_upstream(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")
    upstream = httpx.post(
        f"{fake_upstream.url}/v1/chat/completions", json={**HELLO, "max_tokens": 256}
    ).json()
    expected = upstream["choices"][0]["message"]["content"]
    assert post(gateway, HELLO).json()["response"] == expected
    events = sse_events(post(gateway, {**HELLO, "stream": True}))
    assert "".join(e["response"] for e in events[:-1]) == expected


@pytest.mark.parametrize("upstream_kind", ["inline", "field"])
def test_separate_mode_in_both_shapes_streamed_and_not(
    fake_upstream: LiveServer,
    field_upstream: LiveServer,
    live_gateway_factory: Callable[..., LiveServer],
    upstream_kind: str,
) -> None:
    upstream = fake_upstream if upstream_kind == "inline" else field_upstream
    gateway = live_gateway_factory(upstream_url=f"{upstream.url}/v1", reasoning_mode="separate")
    workers = post(gateway, HELLO).json()
    assert workers["reasoning"].startswith('Okay, the user asks: "Hello there".')
    assert "</think>" not in workers["response"] and "</think>" not in workers["reasoning"]
    assert workers["response"] == workers["response"].strip()
    reasoning_tokens = workers["usage"]["completion_tokens_details"]["reasoning_tokens"]
    if upstream_kind == "field":  # the upstream said how many: passed on as it is
        direct = httpx.post(f"{upstream.url}/v1/chat/completions", json={**HELLO, "max_tokens": 256}).json()
        assert reasoning_tokens == direct["usage"]["completion_tokens_details"]["reasoning_tokens"]
    else:  # counted from the split
        assert 0 < reasoning_tokens < workers["usage"]["completion_tokens"]
    choices = post(gateway, HELLO, "?shape=choices").json()["choices"][0]["message"]
    assert (choices["reasoning_content"], choices["content"]) == (workers["reasoning"], workers["response"])
    events = sse_events(post(gateway, {**HELLO, "stream": True}))
    assert "".join(e.get("reasoning", "") for e in events[:-1]) == workers["reasoning"]
    assert "".join(e["response"] for e in events[:-1]) == workers["response"]
    deltas = chunk_deltas(sse_events(post(gateway, {**HELLO, "stream": True}, "?shape=choices")))
    assert "".join(d.get("reasoning_content", "") for d in deltas) == workers["reasoning"]
    assert "".join(d.get("content") or "" for d in deltas) == workers["response"]


def test_inline_mode_from_a_field_upstream_looks_like_workers_ai(
    field_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{field_upstream.url}/v1")
    text = post(gateway, HELLO).json()["response"]
    reasoning, answer = text.split("\n</think>\n\n")
    assert reasoning.startswith("Okay, the user asks") and answer and "</think>" not in answer
    streamed = sse_events(post(gateway, {**HELLO, "stream": True}))
    assert "".join(e["response"] for e in streamed[:-1]) == text


def test_hidden_mode_and_per_request_overrides(gateway: LiveServer) -> None:
    inline = post(gateway, HELLO).json()["response"]
    hidden = post(gateway, HELLO, "?reasoning=hidden").json()
    assert hidden["response"] == inline.split("</think>\n\n")[1] and "reasoning" not in hidden
    assert hidden["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    by_header = post(gateway, HELLO, **{"X-Reasoning-Mode": "separate"}).json()
    assert by_header["response"] == hidden["response"] and by_header["reasoning"]
    events = sse_events(post(gateway, {**HELLO, "stream": True}, "?reasoning=hidden&shape=choices"))
    assert "".join(d.get("content") or "" for d in chunk_deltas(events)) == hidden["response"]
    bad = httpx.post(f"{gateway.url}/qwq-32b?reasoning=loud", json=HELLO, headers=AUTH)
    assert bad.status_code == 400 and "reasoning mode" in bad.json()["error"]


async def test_the_built_in_simulator_honours_the_modes_too(app_factory: Callable[..., object]) -> None:
    app = app_factory(simulator_reasoning_field=True, reasoning_mode="separate")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        body = (await client.post("/qwq-32b", json=HELLO, headers=AUTH)).json()
        assert body["reasoning"].startswith("Okay") and "</think>" not in body["response"] + body["reasoning"]
        inline = (await client.post("/qwq-32b?reasoning=inline", json=HELLO, headers=AUTH)).json()
        assert inline["response"] == f"{body['reasoning']}\n</think>\n\n{body['response']}"
