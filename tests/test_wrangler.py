"""`wrangler.toml` stays a valid Python Worker configuration whose `[vars]` are real settings."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from worker.config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "wrangler.toml").read_text())


def test_python_worker_entry() -> None:
    assert (ROOT / CONFIG["main"]).is_file()
    assert "python_workers" in CONFIG["compatibility_flags"]
    assert CONFIG["compatibility_date"] and CONFIG["name"]
    assert CONFIG["ai"]["binding"] == "AI"
    entry = (ROOT / CONFIG["main"]).read_text()
    assert "class Default(WorkerEntrypoint)" in entry and "asgi.fetch(" in entry


def test_vars_are_known_settings_and_hold_no_secrets() -> None:
    known = {f.name.upper(): f for f in dataclasses.fields(Settings)}
    for name in CONFIG["vars"]:
        assert name in known, f"[vars] {name} is not a setting"
        assert not known[name].metadata["secret"], f"{name} is a secret and belongs in `wrangler secret put`"
    load_settings({}, wrangler_toml=ROOT / "wrangler.toml")  # every value converts


def test_built_in_defaults_equal_the_vars() -> None:
    """An installed gateway started away from a checkout has no wrangler.toml to read: its built-in
    defaults must be what the repository's [vars] say, or the two deployments would differ silently."""
    with_vars = load_settings({}, wrangler_toml=ROOT / "wrangler.toml")
    without = load_settings({}, wrangler_toml=ROOT / "no-such-wrangler.toml")
    assert with_vars == without
    defaults = {f.name.upper(): f.default for f in dataclasses.fields(Settings)}
    for name, value in CONFIG["vars"].items():
        assert value == defaults[name], f"[vars] {name} = {value!r}, built in: {defaults[name]!r}"
