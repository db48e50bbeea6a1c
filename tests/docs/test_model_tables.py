"""The model tables in the docs are valid configuration files, and every field of the format is documented."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from tests.conftest import make_settings
from tests.docs.pages import DOCS, ROOT, all_blocks, text_of
from worker.config.models import load_table

EXAMPLES = sorted((DOCS / "examples").glob("*.toml"))
ENV = {
    "DEEPINFRA_API_KEYS": "key-a,key-b",
    "DEEPINFRA_API_KEY": "key-c",
    "CLOUDFLARE_ACCOUNT_ID": "acc",
    "CLOUDFLARE_API_TOKEN": "tok",
}


def load(path: Path) -> list[tuple[str, tuple[str, ...], str]]:
    """(adapter, keys, account id) of each target of the file's `qwq-32b`."""
    entry = load_table(make_settings(models_file=str(path)), environ=ENV).entries["qwq-32b"]
    return [(t.adapter, t.keys, t.account_id) for t in entry.targets]


def test_the_example_files_load_with_their_keys() -> None:
    assert {p.name for p in EXAMPLES} == {
        "models-deepinfra.toml",
        "models-workers-ai.toml",
        "models-failover.toml",
        "models-vllm.toml",
    }
    assert load(DOCS / "examples" / "models-deepinfra.toml") == [("openai", ("key-a", "key-b"), "")]
    assert load(DOCS / "examples" / "models-workers-ai.toml") == [("workers-ai", ("tok",), "acc")]
    assert load(DOCS / "examples" / "models-failover.toml") == [
        ("workers-ai", ("tok",), "acc"),
        ("openai", ("key-c",), ""),
    ]
    assert load(DOCS / "examples" / "models-vllm.toml") == [("openai", (), ""), ("openai", (), "")]


def test_every_example_file_is_shown_whole_in_upstreams_md() -> None:
    shown = [b.code for b in all_blocks() if b.page == "docs/upstreams.md" and b.lang == "toml"]
    for path in EXAMPLES:
        assert path.read_text() in shown, f"{path.name} is not shown as it is in docs/upstreams.md"


def test_every_model_table_block_loads(tmp_path: Path) -> None:
    blocks = [b for b in all_blocks() if b.lang == "toml" and "[models." in b.code]
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        path = tmp_path / f"block{i}.toml"
        path.write_text(block.code)
        assert load(path), block.code


def test_every_field_of_the_format_is_documented_and_exists() -> None:
    source = (ROOT / "worker" / "config" / "models.py").read_text()
    read = set(re.findall(r'(?:_field|_non_negative|_choice)\(\s*\w+,\s*\w+,\s*"(\w+)"', source))
    assert {"adapter", "tool_mode", "weight", "strategy", "account_id_env"} <= read
    page = text_of(DOCS / "configuration.md")
    section = page.split("## The model table", 1)[1]
    rows = re.findall(r"^\| (`.*?) \|", section, flags=re.M)
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    assert read - documented == set(), "fields of the model table missing from docs/configuration.md"
    assert documented - read == set(), "docs/configuration.md documents fields the model table does not read"


def test_the_readyz_example_is_a_ready_answer() -> None:
    block = next(b for b in all_blocks() if b.page == "docs/upstreams.md" and b.lang == "json")
    body = orjson.loads(block.code)
    assert body["status"] == "ready"
    assert {t["adapter"] for t in body["models"]["qwq-32b"]["targets"]} == {"workers-ai", "openai"}
