"""The README's model-table examples (DeepInfra, Cloudflare, vLLM) are valid configuration files."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from tests.conftest import make_settings
from worker.config.models import load_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
SECTION = README.split("## Upstreams, routing and resilience", 1)[1].split("\n## ", 1)[0]
ENV = {
    "DEEPINFRA_API_KEYS": "key-a,key-b",
    "DEEPINFRA_API_KEY": "key-c",
    "CLOUDFLARE_ACCOUNT_ID": "acc",
    "CLOUDFLARE_API_TOKEN": "tok",
}


def test_the_three_examples_load(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", SECTION, flags=re.S)
    assert len(blocks) == 3
    adapters = []
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.toml"
        path.write_text(block)
        entry = load_table(make_settings(models_file=str(path)), environ=ENV).entries["qwq-32b"]
        adapters.append([t.adapter for t in entry.targets])
    assert adapters == [["openai"], ["workers-ai", "openai"], ["openai", "openai"]]


def test_the_readyz_example_is_json() -> None:
    block = re.findall(r"```json\n(.*?)```", SECTION, flags=re.S)[0]
    assert orjson.loads(block)["status"] == "ready"
