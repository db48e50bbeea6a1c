"""Both wires, and the httpx one through real HTTP and SOCKS proxies, against real local servers: the
same seam, the same behaviour (pooling, timeouts, failures, early close, no cookies, exact bodies)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson
import pytest

from tests.proxies import Proxy
from tests.servers import LiveServer, free_port, serving
from worker.core.errors import UpstreamError, UpstreamTimeout
from worker.simulator.plumbing import answer_lifespan, read_all
from worker.upstreams.wire import drain as drain_module
from worker.upstreams.wire.aiohttp_wire import AiohttpWire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.seam import Timeouts, Wire

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUTS = Timeouts(connect=5.0, read=5.0, pool=5.0)
KINDS = ["aiohttp", "httpx", "httpx+http-proxy", "httpx+socks5-proxy"]

MakeWire = Callable[..., Wire]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_wire(kind: str) -> Iterator[MakeWire]:
    """Wires of one kind (same settings apart from `timeout`); proxies are started for the test."""
    proxies: list[Proxy] = []

    def make(timeout: Timeouts = TIMEOUTS) -> Wire:
        if kind == "aiohttp":
            return AiohttpWire(8, timeout=timeout)
        proxy = None
        if kind != "httpx":
            proxies.append(Proxy("socks5" if "socks5" in kind else "http"))
            proxies[-1].start()
            proxy = proxies[-1].url
        return HttpxWire.pooled(8, 8, timeout, proxy)

    yield make
    for started in proxies:
        started.stop()


@pytest.fixture
async def wire(make_wire: MakeWire) -> AsyncIterator[Wire]:
    made = make_wire()
    yield made
    await made.aclose()


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(150):  # a liveness bound (3 s), not a speed assertion
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_a_post_round_trips_and_its_connection_is_pooled(wire: Wire, fake_upstream: LiveServer) -> None:
    url = f"{fake_upstream.url}/v1/chat/completions"
    body = orjson.dumps(CHAT)
    for _ in range(3):
        async with wire.post(url, body, {"authorization": "Bearer up-key"}) as answer:
            assert answer.status_code == 200
            assert answer.headers.get("Content-Type", "").startswith("application/json")  # any case
            assert orjson.loads(await answer.aread())["choices"][0]["message"]["content"]
        assert wire.connection_counts() == (1, 0)  # read to its end: kept for the next request
    seen = fake_upstream.app.stats
    assert seen.headers[-1]["authorization"] == "Bearer up-key"
    assert seen.headers[-1]["content-length"] == str(len(body))  # the exact bytes, not re-encoded
    assert seen.headers[-1]["accept-encoding"] == "identity"  # the decoders read bodies as sent
    assert seen.bodies[-1] == CHAT


async def test_an_error_status_is_an_answer_not_an_exception(wire: Wire, fake_upstream: LiveServer) -> None:
    bad = {**CHAT, "messages": [{"role": "user", "content": "[sim:error-503] hi"}]}
    async with wire.post(f"{fake_upstream.url}/v1/chat/completions", orjson.dumps(bad), {}) as answer:
        assert answer.status_code == 503 and b"simulated" in await answer.aread()


async def test_leaving_early_stops_the_upstream(wire: Wire, fake_upstream: LiveServer) -> None:
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "[sim:stall] hi"}]}
    async with wire.post(f"{fake_upstream.url}/v1/chat/completions", orjson.dumps(body), {}) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        async for piece in answer.aiter_bytes():
            assert b"data:" in piece  # the first event, before the stream is over
            break
    stats = fake_upstream.app.stats
    await wait_for(lambda: stats.cancelled == 1)
    assert stats.cancelled == 1 and stats.open == 0
    assert wire.connection_counts() == (0, 0)  # dropped, not pooled


async def test_a_silent_upstream_is_a_read_timeout(make_wire: MakeWire, fake_upstream: LiveServer) -> None:
    wire = make_wire(Timeouts(connect=5.0, read=0.3, pool=5.0))
    body = {**CHAT, "messages": [{"role": "user", "content": "[sim:slow-start=5] hi"}]}
    try:
        with pytest.raises(UpstreamTimeout, match=r"timed out \(ReadTimeout\)"):
            async with wire.post(f"{fake_upstream.url}/v1/chat/completions", orjson.dumps(body), {}) as a:
                await a.aread()
    finally:
        await wire.aclose()


async def test_a_targets_own_timeout_wins_over_the_wires(wire: Wire, fake_upstream: LiveServer) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "[sim:slow-start=5] hi"}]}
    url = f"{fake_upstream.url}/v1/chat/completions"
    with pytest.raises(UpstreamTimeout):
        async with wire.post(url, orjson.dumps(body), {}, Timeouts(connect=5.0, read=0.3)) as answer:
            await answer.aread()


async def test_nobody_listening_is_an_upstream_error(wire: Wire, kind: str) -> None:
    """Direct, a refused connection; through a proxy, whatever the proxy makes of it (these test proxies
    hang up: an HTTP proxy's closed connection, a SOCKS proxy's malformed reply), never a crash."""
    expected = {
        "aiohttp": "Could not connect to the upstream",
        "httpx": "Could not connect to the upstream",
        "httpx+http-proxy": "The upstream connection failed (",  # closed or reset, as the race goes
        "httpx+socks5-proxy": "The outbound proxy refused or failed the upstream connection",
    }
    with pytest.raises(UpstreamError) as info:
        async with wire.post(f"http://127.0.0.1:{free_port()}/v1/chat/completions", b"{}", {}):
            pass
    assert info.value.message.startswith(expected[kind])


async def test_userinfo_in_the_url_is_not_sent(wire: Wire, fake_upstream: LiveServer) -> None:
    url = fake_upstream.url.replace("http://", "http://user:pw@") + "/v1/chat/completions"
    async with wire.post(url, orjson.dumps(CHAT), {"authorization": "Bearer mine"}) as answer:
        assert answer.status_code == 200
        await answer.aread()
    assert fake_upstream.app.stats.headers[-1]["authorization"] == "Bearer mine"


class CookieSetter:
    """Answers with a cookie, and records the cookies it is sent."""

    def __init__(self) -> None:
        self.cookies: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await read_all(receive)
        headers = dict(scope["headers"])
        self.cookies.append(headers[b"cookie"].decode() if b"cookie" in headers else None)
        start = {"type": "http.response.start", "status": 200, "headers": [(b"set-cookie", b"who=alice")]}
        await send(start)
        await send({"type": "http.response.body", "body": b"{}"})


async def test_an_upstreams_cookies_are_not_sent_back(wire: Wire) -> None:
    """One client's upstream cookies must never ride along on another client's request."""
    with serving(CookieSetter()) as upstream:
        for _ in range(2):
            async with wire.post(f"{upstream.url}/v1/chat/completions", b"{}", {}) as answer:
                await answer.aread()
        assert upstream.app.cookies == [None, None]


class Lingering:
    """A stream that ends with `[DONE]`, then `mode`: `end` (the body ends), `hold` (the body stays
    open), `flood` (more bytes than a drain reads, then open). Counts the clients that hung up."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.hung_up = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await read_all(receive)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        done = b'data: {"choices": []}\n\ndata: [DONE]\n\n'
        await send({"type": "http.response.body", "body": done, "more_body": self.mode != "end"})
        if self.mode == "end":
            return
        if self.mode == "flood":
            await send({"type": "http.response.body", "body": b": pad\n" * 20_000, "more_body": True})
        try:
            async with asyncio.timeout(30):
                while (await receive())["type"] != "http.disconnect":
                    pass
            self.hung_up += 1
        except TimeoutError:
            pass


async def read_to_done(wire: Wire, url: str) -> None:
    async with wire.post(url, b"{}", {}) as answer:
        async for piece in answer.aiter_bytes():
            if b"[DONE]" in piece:
                answer.finish_in_background()
                break


async def test_a_body_that_ends_after_done_is_drained_and_its_connection_pooled(wire: Wire) -> None:
    with serving(Lingering("end")) as upstream:
        await read_to_done(wire, f"{upstream.url}/v1/chat/completions")
        await wait_for(lambda: wire.connection_counts() == (1, 0))
        assert wire.connection_counts() == (1, 0)


@pytest.mark.parametrize("mode", ["hold", "flood"])
async def test_a_body_kept_open_after_done_is_closed_in_the_background(
    wire: Wire, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving at `[DONE]` does not wait for the body (the upstream holds it 30 s); the drain gives up
    after its time or its bytes, and the connection is closed, not pooled with the old answer in it."""
    monkeypatch.setattr(drain_module, "DRAIN_SECONDS", 0.5)
    with serving(Lingering(mode)) as upstream:
        await read_to_done(wire, f"{upstream.url}/v1/chat/completions")
        assert upstream.app.hung_up == 0  # the context was left while the upstream still held the body
        await wait_for(lambda: upstream.app.hung_up == 1)
        assert upstream.app.hung_up == 1 and drain_module.draining() == 0
        assert wire.connection_counts() == (0, 0)


class Gzipped:
    """Answers a gzipped JSON body, whatever it was offered."""

    body = b'{"choices": [{"message": {"content": "zipped"}}]}'

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await read_all(receive)
        packed = gzip.compress(self.body)
        headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": packed})


async def test_a_compressed_body_comes_through_raw(wire: Wire) -> None:
    """Neither library decompresses (the exchange does, bounded, the same on both wires): read whole or
    in pieces, the bytes are the upstream's."""
    with serving(Gzipped()) as upstream:
        async with wire.post(f"{upstream.url}/v1/chat/completions", b"{}", {}) as answer:
            assert answer.headers["content-encoding"] == "gzip"
            assert gzip.decompress(await answer.aread()) == Gzipped.body
        async with wire.post(f"{upstream.url}/v1/chat/completions", b"{}", {}) as answer:
            raw = b"".join([piece async for piece in answer.aiter_bytes()])
            assert gzip.decompress(raw) == Gzipped.body
