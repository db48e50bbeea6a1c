"""Requests crafted against the gateway's edges, on a real socket: forged log lines, a forged Host on a
trailing slash, and two different credentials in one request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import API_KEY, AUTH
from tests.servers import LiveServer
from worker.web.logformat import LineFormatter, escape


def logged(lines: list[str], part: str) -> str:
    """The first line holding `part`; the access line is written just after the answer is sent."""
    deadline = time.monotonic() + 5
    while not any(part in line for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.01)
    return next(line for line in lines if part in line)


CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def test_a_line_break_in_the_path_cannot_forge_a_log_line(
    live_gateway_factory: Callable[..., LiveServer], log_lines: list[str]
) -> None:
    gateway = live_gateway_factory()
    forged = "/x%0a2026-01-01%2000:00:00,000%20INFO%20worker.access:%20POST%20/admin%20200%0d%1b[2J%5c"
    r = httpx.post(f"{gateway.url}{forged}", json=CHAT, headers=AUTH, timeout=10)
    assert r.status_code == 404
    line = logged(log_lines, "/x")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "/x\\x0a2026-01-01 00:00:00,000 INFO worker.access: POST /admin 200\\x0d\\x1b[2J\\\\" in line


def test_the_formatter_keeps_every_record_on_one_line() -> None:
    record = logging.LogRecord("worker.x", logging.INFO, __file__, 0, "a %s b", ("\n\u2028\x85",), None)
    line = LineFormatter().format(record)
    assert line.endswith("a \\x0a\\u2028\\x85 b")
    assert escape("/qwq-32b") == "/qwq-32b"
    assert escape("a\\x0a") == "a\\\\x0a"  # a typed backslash is never taken for an escape


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_trailing_slash_is_served_without_a_redirect_to_the_host_header(
    live_gateway_factory: Callable[..., LiveServer], method: str
) -> None:
    gateway = live_gateway_factory()
    path = "/qwq-32b/" if method == "POST" else "/healthz/"
    headers = {**AUTH, "Host": "evil.example"}
    r = httpx.request(method, f"{gateway.url}{path}", json=CHAT, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert "location" not in r.headers
    openai = httpx.post(
        f"{gateway.url}/v1/chat/completions/",
        json={"model": "qwq-32b", **CHAT},
        headers=headers,
        timeout=10,
    )
    assert openai.status_code == 200 and openai.json()["object"] == "chat.completion"


def test_two_trailing_slashes_are_not_found_rather_than_redirected(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()
    r = httpx.post(f"{gateway.url}/qwq-32b//", json=CHAT, headers={**AUTH, "Host": "evil.example"})
    assert r.status_code == 404 and "location" not in r.headers


SURFACES = [
    ("/qwq-32b", CHAT, "authorization"),
    ("/v1/chat/completions", {"model": "qwq-32b", **CHAT}, "authorization"),
    ("/v1/messages", {"model": "qwq-32b", **CHAT}, "authorization"),
    ("/v1/messages", {"model": "qwq-32b", **CHAT}, "x-api-key"),
]


@pytest.mark.parametrize(("path", "body", "name"), SURFACES)
def test_two_different_credentials_are_refused(
    live_gateway_factory: Callable[..., LiveServer], path: str, body: object, name: str
) -> None:
    gateway = live_gateway_factory()
    good = f"Bearer {API_KEY}" if name == "authorization" else API_KEY
    for second in ("Bearer someone-else", "someone-else"):
        headers = [(name, good), (name, second)]
        r = httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=10)
        assert r.status_code == 401, r.text
        assert "more than one" in r.text
    same = httpx.post(f"{gateway.url}{path}", json=body, headers=[(name, good), (name, good)], timeout=10)
    assert same.status_code == 200, same.text
