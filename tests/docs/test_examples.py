"""Every example in the README and `docs/` works as written.

Each `curl` block runs twice: parsed and sent to the app in-process (a fresh app per example, so one
example's failures cannot open a breaker for the next), and as the real `curl` against a live gateway (so
the shell quoting is right too). An example followed by an ```http block must get that status, those
headers and that JSON body; any other example must succeed in the shape of the surface it calls. Every
```python block runs against a live gateway, and every ```json block is JSON unless it says `...`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from tests.conftest import make_settings
from tests.docs.pages import EXAMPLE_KEY, EXAMPLE_URL, ROOT, Block, all_blocks, curl_blocks
from tests.servers import LiveServer
from worker.app import create_app


@dataclass
class Curl:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: str | None = None


@dataclass
class Expected:
    status: int
    headers: list[tuple[str, str]]
    body: object | None


def parse_curl(command: str) -> Curl:
    """The request a documented curl command sends. Flags it does not know fail the test, so an example
    can never use one whose effect this parser would miss."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl", command
    method, url, headers, data = None, None, [], None
    rest = iter(words[1:])
    for word in rest:
        if word in ("-H", "--header"):
            name, _, value = next(rest).partition(":")
            headers.append((name.strip(), value.strip()))
        elif word in ("-d", "--data"):
            data = next(rest)
        elif word == "-X":
            method = next(rest)
        elif word.startswith("-") and not word.startswith("--") and set(word[1:]) <= set("sNi"):
            continue  # silent, no buffering, include headers: output options only
        elif not word.startswith("-") and url is None:
            url = word
        else:
            raise AssertionError(f"the doc tests' curl parser does not know {word!r} in {command}")
    assert url is not None, command
    if data is not None and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))  # what curl -d sends
    return Curl(method or ("POST" if data is not None else "GET"), url, headers, data)


def expected_of(block: Block) -> Expected | None:
    """The status, headers and body an ```http answer block states; None: the example must succeed."""
    if block.answer is None or block.answer.lang != "http":
        return None
    head, _, body = block.answer.code.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    assert status_line.startswith("HTTP/1.1 "), block.answer.code
    headers = [(n.strip().lower(), v.strip()) for n, _, v in (h.partition(":") for h in header_lines)]
    return Expected(int(status_line.split()[1]), headers, orjson.loads(body) if body.strip() else None)


def check_expected(expected: Expected, status: int, headers: httpx.Headers, body: bytes, where: str) -> None:
    assert status == expected.status, (where, body)
    for name, value in expected.headers:
        assert headers.get(name) == value, (where, name, headers.get(name))
    if expected.body is not None:
        assert orjson.loads(body) == expected.body, (where, body)


def check_success_shape(example: str, text: str) -> str:
    """Assert that `text` is a success in the shape of the surface `example` calls; return its name."""
    stream = '"stream": true' in example
    if "/v1/messages/count_tokens" in example:
        assert set(orjson.loads(text)) == {"input_tokens"}, example
        return "anthropic"
    if "/v1/models/" in example:  # one model, in OpenAI's or (for an Anthropic client) Anthropic's shape
        body = orjson.loads(text)
        assert body["id"] and "model" in (body.get("type"), body.get("object")), example
        return "models"
    if "/v1/messages" in example:
        if stream:
            assert text.startswith("event: message_start\n"), example
            assert text.endswith('event: message_stop\ndata: {"type":"message_stop"}'), example
        else:
            body = orjson.loads(text)
            assert body["type"] == "message" and body["content"] and body["stop_reason"], example
        return "anthropic"
    if "/v1/responses" in example:
        if stream:
            assert text.startswith("event: response.created\n"), example
            assert text.rsplit("\n", 1)[-1].startswith('data: {"type":"response.completed"'), example
        else:
            body = orjson.loads(text)
            assert body["object"] == "response" and body["status"] == "completed" and body["output"], example
        return "responses"
    if "/v1/models" in example:
        body = orjson.loads(text)
        assert body["object"] == "list" and body["data"], example
        return "models"
    if "/admin/v1/" in example:
        if "format=csv" in example:
            assert text.startswith("key_id,model,period,"), example
        else:
            assert "error" not in orjson.loads(text), example
        return "admin"
    if "/healthz" in example:
        assert orjson.loads(text) == {"status": "ok"}, example
        return "health"
    if stream:
        assert text.startswith("data: ") and text.endswith("data: [DONE]"), example
    if "/ai/run/" in example:
        if not stream:
            body = orjson.loads(text)
            assert body["success"] is True and body["errors"] == [] and "response" in body["result"], example
        return "cloudflare"
    if "/chat/completions" in example:
        if not stream:
            body = orjson.loads(text)
            assert body["object"] == "chat.completion" and body["choices"][0]["message"], example
        return "openai"
    if not stream:
        body = orjson.loads(text)
        assert "error" not in body and ("response" in body or "choices" in body), example
    return "workers"


EXAMPLES = curl_blocks()


def test_the_pages_have_examples_of_every_surface() -> None:
    pages = {block.page for block in EXAMPLES}
    assert {"README.md", "docs/surfaces.md", "docs/errors.md"} <= pages
    assert sum(expected_of(block) is not None for block in EXAMPLES) >= 8  # the errors page's examples


@pytest.mark.parametrize("block", EXAMPLES, ids=[f"{b.page}:{i}" for i, b in enumerate(EXAMPLES)])
async def test_curl_example_in_process(block: Block) -> None:
    call = parse_curl(block.code)
    assert call.url.startswith(EXAMPLE_URL), block.code
    app = create_app(make_settings(api_keys=EXAMPLE_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=EXAMPLE_URL) as client:
        response = await client.request(
            call.method,
            call.url,
            headers=call.headers,
            content=call.data.encode() if call.data is not None else None,
        )
    expected = expected_of(block)
    if expected is not None:
        check_expected(expected, response.status_code, response.headers, response.content, block.code)
    else:
        created = call.method == "POST" and call.url.endswith("/admin/v1/keys")  # 201 Created
        assert response.status_code == (201 if created else 200), (block.code, response.text)
        check_success_shape(block.code, response.text.strip())


def test_curl_examples_with_curl(live_gateway_factory: Callable[..., LiveServer]) -> None:
    assert shutil.which("curl"), "curl is needed to run the documentation's examples"
    gateway = live_gateway_factory(api_keys=EXAMPLE_KEY)
    surfaces = set()
    for block in EXAMPLES:
        command = block.code.replace(EXAMPLE_URL, gateway.url)
        out = subprocess.run(["bash", "-c", command], capture_output=True, timeout=60)
        assert out.returncode == 0, (block.code, out.stderr)
        stdout = out.stdout.decode()  # bytes first: text mode would turn the header lines' CRLF into LF
        expected = expected_of(block)
        if expected is None:
            surfaces.add(check_success_shape(block.code, stdout.strip()))
            continue
        head, _, body = stdout.partition("\r\n\r\n")
        status_line, *lines = head.split("\r\n")
        headers = httpx.Headers([(n, v) for n, _, v in (line.partition(": ") for line in lines)])
        check_expected(expected, int(status_line.split()[1]), headers, body.encode(), block.code)
    assert surfaces == {
        "workers",
        "cloudflare",
        "openai",
        "models",
        "anthropic",
        "health",
        "responses",
        "admin",
    }


PYTHON = [b for b in all_blocks() if b.lang == "python"]


def test_python_examples_run(live_gateway_factory: Callable[..., LiveServer]) -> None:
    gateway = live_gateway_factory(api_keys=EXAMPLE_KEY)
    assert {"openai", "anthropic", "cloudflare"} <= {b.code.split()[1] for b in PYTHON}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and not k.endswith("_proxy")}
    for block in PYTHON:
        assert EXAMPLE_URL in block.code, f"a Python example that talks to no gateway: {block.code}"
        code = block.code.replace(EXAMPLE_URL, gateway.url)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
        )
        assert out.returncode == 0, (block.code, out.stderr[-2000:])
        assert out.stdout.strip(), block.code


def test_json_blocks_are_json() -> None:
    checked = 0
    for block in all_blocks():
        if block.lang == "json" and "..." not in block.code:
            orjson.loads(block.code)
            checked += 1
    assert checked >= 1


def test_the_parser_reads_what_curl_sends() -> None:
    call = parse_curl("curl -si http://127.0.0.1:8787/x --data '{\"a\": 1}'")
    assert (call.method, call.data) == ("POST", '{"a": 1}')
    assert call.headers == [("Content-Type", "application/x-www-form-urlencoded")]
    with pytest.raises(AssertionError, match="does not know"):
        parse_curl("curl -o /dev/null http://127.0.0.1:8787/x")
