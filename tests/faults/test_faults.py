"""Every upstream fault, through a live gateway process, on every client surface, streamed and not.

The fault upstream (`tests.faults.upstream`) is a real socket server that breaks on cue; the gateway is
`python -m worker` as a user runs it, with short timeouts and no retries, so each request meets its
fault once. Whatever the fault, a client never gets a silent success (a 200 without the answer), never
two answers (an error and a clean end, or anything after either), and gets the status or the error
event docs/errors.md promises; and the gateway's memory stays bounded through a 200 MiB stream and a
200 MiB body.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.faults.harness import SURFACES, GatewayProcess, Outcome, UpstreamThread, ask, model_table, request
from tests.proxies import Proxy

ANSWERED = "Hello from the fault upstream, all in one piece."
# A timeout's status on each surface: the `/:modelSlug` contract has no 504, Cloudflare's REST API
# answers its own timeout code with 408.
TIMEOUT = {"workers": 500, "cloudflare": 408, "openai": 504, "anthropic": 500}


@dataclass(frozen=True)
class Expect:
    status: int | None = None  # None: a success; 0: the surface's timeout status
    message: str = ""  # a pattern the error message matches
    may_start: bool = False  # the stream may have begun (200 and an error event) before the fault


SUCCESS = Expect()
FAULTS: dict[str, Expect] = {
    "ok": SUCCESS,
    "gzip": SUCCESS,
    "deflate": SUCCESS,
    "br": SUCCESS,
    "zstd": SUCCESS,
    "open-after-done": SUCCESS,
    "refused": Expect(500, "Could not connect to the upstream"),
    "reset-early": Expect(500, r"The upstream connection failed \("),
    "reset-late": Expect(500, r"The upstream connection failed \(", may_start=True),
    "slow-headers": Expect(0, "sent nothing for 1.5 s before its first event"),
    "stall": Expect(0, "sent nothing for 1.5 s before its first event"),
    "trickle": Expect(0, "sent nothing for 1.5 s before its first event"),
    "429": Expect(429, "The upstream is rate limiting requests: slow down"),
    "500": Expect(500, "The upstream answered 500: the model fell over"),
    "503-html": Expect(500, "^The upstream answered 503$"),
    "shape": Expect(500, "The upstream answered 200 without 'choices'"),
    "html": Expect(500, "body that is not JSON"),
    "truncated-json": Expect(500, "body that is not JSON"),
    "missing-done": Expect(500, "ended before the answer was finished", may_start=True),
    "unknown-encoding": Expect(500, "content encoding the gateway cannot decode: 'compress'"),
    "huge-event": Expect(500, "stream event too large|larger than UPSTREAM_MAX_BODY_BYTES"),
    "done-only": Expect(500, "without any content or finish: no answer"),
    "no-choices": Expect(500, "without any content or finish: no answer"),
    "role-only": Expect(500, "without any content or finish: no answer"),
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamThread]:
    started = UpstreamThread().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def gateway(upstream: UpstreamThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    table = model_table(tmp_path_factory.mktemp("faults") / "models.toml", upstream.port)
    started = GatewayProcess(table)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def proxied_gateway(
    upstream: UpstreamThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """The same gateway through an outbound SOCKS5 proxy: the other wire (httpx's), which splices the
    upstream's bytes through untouched."""
    proxy = Proxy("socks5")
    proxy.start()
    table = model_table(tmp_path_factory.mktemp("proxied") / "models.toml", upstream.port)
    started = GatewayProcess(table, UPSTREAM_PROXY=proxy.url)
    yield started
    started.stop()
    proxy.stop()


def check(seen: Outcome, expect: Expect, surface: str, stream: bool) -> None:
    if expect.status is None:
        assert seen.status == 200 and not seen.errors, seen.raw
        assert ANSWERED in seen.text, seen.raw
        assert seen.ends == (1 if stream else 0) and seen.after_end == 0, seen.raw
        return
    assert len(seen.errors) == 1, seen.raw  # an error, and only one: never a silent success
    assert re.search(expect.message, seen.errors[0].strip()), seen.errors
    assert seen.ends == 0 and seen.after_end == 0, seen.raw  # no clean end besides the error
    if seen.status == 200:  # the stream had begun: the error is its last event
        assert stream and expect.may_start, seen.raw
    else:
        assert seen.status == (expect.status or TIMEOUT[surface]), seen.raw


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_fault_on_every_surface(
    gateway: GatewayProcess, fault: str, surface: str, stream: bool
) -> None:
    model = "qwq-refused" if fault == "refused" else "qwq-32b"
    seen = ask(gateway, surface, f"fault:{fault}", stream, model)
    check(seen, FAULTS[fault], surface, stream)
    if fault == "429":
        assert seen.headers["retry-after"] == "7"


# What the wire decides (decoding, the body cap, the end at `[DONE]`), on the proxy wire too.
ON_BOTH_WIRES = ["ok", "gzip", "deflate", "br", "zstd", "unknown-encoding", "done-only", "huge-event"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", ON_BOTH_WIRES)
def test_the_proxy_wire_meets_the_same_faults_alike(
    proxied_gateway: GatewayProcess, fault: str, stream: bool
) -> None:
    check(ask(proxied_gateway, "openai", f"fault:{fault}", stream), FAULTS[fault], "openai", stream)


@pytest.mark.parametrize(("wire", "surface"), [*(("aiohttp", s) for s in SURFACES), ("proxy", "openai")])
def test_the_end_does_not_wait_for_a_body_kept_open_after_done(
    request: pytest.FixtureRequest, upstream: UpstreamThread, wire: str, surface: str
) -> None:
    """The client has its whole answer while the upstream still holds its body open (it would for
    30 s); the gateway then closes that connection in the background instead of pooling it."""
    gateway = request.getfixturevalue("gateway" if wire == "aiohttp" else "proxied_gateway")
    seen = ask(gateway, surface, "fault:open-after-done", True)
    still_open = upstream.upstream.held_open
    check(seen, SUCCESS, surface, True)
    assert still_open == 1
    for _ in range(100):  # a liveness bound (10 s) for the background drain, not a speed assertion
        if upstream.upstream.held_open == 0:
            break
        time.sleep(0.1)
    assert upstream.upstream.held_open == 0


@pytest.mark.parametrize("surface", SURFACES)
def test_an_endless_stream_flows_until_the_client_leaves(
    gateway: GatewayProcess, upstream: UpstreamThread, surface: str
) -> None:
    """An upstream that never ends is not cut by the gateway (it is answering), never ends cleanly,
    and stops when the client goes."""
    path, body, headers = request(surface, "fault:drip", True)
    received = b""
    give_up = time.monotonic() + 30  # a liveness bound: keep-alives would keep a read timeout away
    with httpx.stream("POST", f"{gateway.url}{path}", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        for piece in response.iter_bytes():
            received += piece
            if received.count(b"drip") >= 10 or time.monotonic() > give_up:
                break
    assert received.count(b"drip") >= 10
    assert b"[DONE]" not in received and b"message_stop" not in received
    for _ in range(100):  # liveness bound, as above
        if upstream.upstream.dripping == 0:
            break
        time.sleep(0.1)
    assert upstream.upstream.dripping == 0


def test_a_200_mib_stream_and_a_200_mib_body_leave_memory_bounded(gateway: GatewayProcess) -> None:
    """The gateway holds neither: the stream passes through (its usage estimate and reasoning split
    keep a bounded tail), the body is refused at UPSTREAM_MAX_BODY_BYTES. Peak RSS (VmHWM) is read
    from /proc; the bound is generous, a fraction of what holding either answer would take."""
    ask(gateway, "openai", "fault:ok", True)
    before = gateway.memory()
    path, body, headers = request("openai", "fault:huge:200", True)
    size = 0
    tail = b""
    with httpx.stream("POST", f"{gateway.url}{path}", json=body, headers=headers, timeout=300) as response:
        assert response.status_code == 200
        for piece in response.iter_bytes():
            size += len(piece)
            tail = (tail + piece)[-4096:]
    assert size > 200 * 1024 * 1024 and tail.endswith(b"data: [DONE]\n\n")
    seen = ask(gateway, "openai", "fault:huge:200", False, timeout=120)
    check(seen, FAULTS["huge-event"], "openai", False)
    after = gateway.memory()
    grown_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    assert grown_mib < 64, (before, after)
