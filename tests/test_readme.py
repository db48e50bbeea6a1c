"""The README stays true: its configuration table lists every setting, and its curl examples work."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.servers import LiveServer
from worker.config.settings import SETTINGS_DOC

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
README_URL = "http://127.0.0.1:8787"
README_KEY = "change-me"


def curl_examples() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [b for b in blocks if b.lstrip().startswith("curl")]


def test_every_setting_is_in_the_configuration_table() -> None:
    for name, default, doc in SETTINGS_DOC:
        row = re.search(rf"^\| `{name}` \| (.*?) \| (.*) \|$", README, flags=re.M)
        assert row, f"{name} is missing from the README's configuration table"
        assert row.group(1) == (f"`{default}`" if default else "(empty)")
        assert row.group(2) == doc


def test_readme_curl_examples_run(live_gateway_factory: Callable[..., LiveServer]) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's examples"
    gateway = live_gateway_factory(api_keys=README_KEY)
    examples = curl_examples()
    assert len(examples) >= 4
    surfaces = set()
    for example in examples:
        command = example.replace(README_URL, gateway.url)
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, (example, out.stderr)
        surfaces.add(check_success_shape(example, out.stdout.strip()))
    assert surfaces == {"workers", "cloudflare", "openai", "models", "anthropic"}


def check_success_shape(example: str, text: str) -> str:
    """Assert that `text` is a success in the shape of the surface `example` calls; return its name."""
    stream = '"stream": true' in example
    if "/v1/messages" in example:
        if stream:
            assert text.startswith("event: message_start\n"), example
            assert text.endswith('event: message_stop\ndata: {"type":"message_stop"}'), example
        else:
            body = orjson.loads(text)
            assert body["type"] == "message" and body["content"] and body["stop_reason"], example
        return "anthropic"
    if "/v1/models" in example:
        body = orjson.loads(text)
        assert body["object"] == "list" and body["data"], example
        return "models"
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
            assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"], example
        return "openai"
    if not stream:
        body = orjson.loads(text)
        assert "error" not in body and ("response" in body or "choices" in body), example
    return "workers"
