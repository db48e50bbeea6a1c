"""`wrangler.toml` stays a valid Python Worker configuration whose `[vars]` are real settings."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tomllib
from pathlib import Path

from worker.config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "wrangler.toml").read_text())


def test_python_worker_entry() -> None:
    assert "python_workers" in CONFIG["compatibility_flags"]
    assert CONFIG["compatibility_date"] and CONFIG["name"]
    assert CONFIG["ai"]["binding"] == "AI"
    # `main` is staged by the build command, from the package's own entry point.
    assert CONFIG["main"] == ".worker-bundle/entry.py"
    assert CONFIG["build"]["command"] == "python3 scripts/worker_bundle.py"
    entry = (ROOT / "worker" / "entry.py").read_text()
    assert "class Default(WorkerEntrypoint)" in entry and "asgi.fetch(" in entry


def test_the_bundle_builds_offline(tmp_path: Path) -> None:
    """`wrangler deploy --dry-run`: the configuration is valid, the build command stages the sources,
    and the bundle holds the main module, the `worker` package and its schemas (as data)."""
    out = tmp_path / "bundle"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-worker-bundle.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1", "WRANGLER_SEND_METRICS": "false"},
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "--dry-run: exiting now." in log
    assert "from worker.entry import Default" in (out / "entry.py").read_text()
    for name in ("app.py", "entry.py", "upstreams/workers_binding.py", "dialects/validation.py"):
        assert (out / "worker" / name).is_file(), name
    assert sorted(p.name for p in (out / "worker" / "schemas").glob("*.json")) == sorted(
        p.name for p in (ROOT / "schemas").glob("*.json")
    )
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in log.splitlines()
        if line.count("│") >= 3
    }
    # The modules beside the main one (entry.py): Python, and the schemas as data ("buffer").
    assert rows["worker/entry.py"] == "python" and rows["worker/upstreams/workers_binding.py"] == "python"
    assert rows["worker/schemas/qwq-32b.input.schema.json"] == "buffer"
    assert "- AI:" in log  # the binding is declared
    assert not any(name.startswith(("tests/", "scripts/", ".venv/")) for name in rows)


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
