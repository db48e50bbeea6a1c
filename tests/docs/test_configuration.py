"""The settings the docs describe are the settings the gateway reads, with the stated defaults."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.docs.pages import DOCS, ROOT, text_of
from worker.config.settings import SETTINGS_DOC, Settings, SettingsError, load_settings

DEFAULTS = {name: default for name, default, _ in SETTINGS_DOC}
SECRETS = {f.name.upper() for f in dataclasses.fields(Settings) if f.metadata["secret"]}
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| (.*?) \| (.*) \|$", flags=re.M)
ENV_EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
NO_WRANGLER = Path("/nonexistent/wrangler.toml")


def shown(default: str) -> str:
    return f"`{default}`" if default else "(empty)"


def test_configuration_md_lists_every_setting_once_with_its_default() -> None:
    rows = ROW.findall(text_of(DOCS / "configuration.md"))
    names = [name for name, _, _ in rows]
    assert sorted(names) == sorted(DEFAULTS), "docs/configuration.md and Settings list different settings"
    for name, default, meaning in rows:
        assert default == shown(DEFAULTS[name]), (
            f"{name}: the docs say {default}, Settings {DEFAULTS[name]!r}"
        )
        assert len(meaning) > 10, f"{name} has no meaning in docs/configuration.md"


def test_the_readme_table_agrees_with_settings() -> None:
    rows = ROW.findall(text_of(ROOT / "README.md"))
    assert len(rows) >= 8
    for name, default, _ in rows:
        assert name in DEFAULTS, f"the README names a setting that does not exist: {name}"
        assert default == shown(DEFAULTS[name]), f"README: {name} defaults to {DEFAULTS[name]!r}"


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def test_env_example_names_every_setting_and_only_known_variables() -> None:
    text = ENV_EXAMPLE.read_text()
    named = {m.group(1) for line in env_example_lines() if (m := ASSIGNMENT.match(line))}
    read_by_tables = set()
    for path in (DOCS / "examples").glob("*.toml"):
        read_by_tables |= set(re.findall(r'_env = "([A-Z_]+)"', path.read_text()))
    assert set(DEFAULTS) <= named, f"settings missing from .env.example: {set(DEFAULTS) - named}"
    assert named <= set(DEFAULTS) | read_by_tables, (
        f"unknown variables: {named - set(DEFAULTS) - read_by_tables}"
    )
    assert "MODELS_FILE=docs/examples/" in text


def test_every_env_example_variable_has_a_comment_and_a_valid_value() -> None:
    lines = env_example_lines()
    for i, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match is None:
            assert not line or line.startswith("#"), f".env.example line {i + 1} is neither: {line!r}"
            continue
        above = lines[i - 1]
        assert above.startswith("# ") and not ASSIGNMENT.match(above), f"{match.group(1)} has no comment"
        name, value = match.groups()
        assert not re.search(r"[\"' $`]", value), f"{name}: no quotes, spaces or shell syntax in values"
        if name in DEFAULTS:
            try:
                load_settings({name: value}, wrangler_toml=NO_WRANGLER)
            except SettingsError as exc:
                raise AssertionError(f".env.example {name}={value}: {exc}") from exc
        if name in SECRETS or name.endswith(("_TOKEN", "_KEY", "_KEYS")):
            assert re.fullmatch(r"(change-me|your-[a-z-]+|)", value), f"{name} looks like a real secret"


def test_env_example_loads_the_way_the_readme_says() -> None:
    script = "set -a; . ./.env.example; set +a; env"
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, env={})
    assert out.returncode == 0, out.stderr
    exported = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert exported["API_KEYS"] == "change-me"
    assert load_settings(exported, wrangler_toml=NO_WRANGLER).api_keys == ("change-me",)


def test_the_gateway_reads_no_env_file(tmp_path: Path) -> None:
    """The docs say a `.env` file must be loaded by the shell; the settings loader must not read one."""
    (tmp_path / ".env").write_text("PORT=9999\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert load_settings({}, wrangler_toml=NO_WRANGLER).port == 8787
    finally:
        os.chdir(cwd)


def test_the_documented_bad_setting_message() -> None:
    message = re.search(r"`(qwq-gateway: setting PORT: [^`]+)`", text_of(DOCS / "configuration.md"))
    assert message, "docs/configuration.md shows no start-up error"
    env = {"PATH": os.environ["PATH"], "PORT": "eighty", "API_KEYS": "k", "WRANGLER_TOML": str(NO_WRANGLER)}
    out = subprocess.run(
        [sys.executable, "-m", "worker"], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT
    )
    assert out.returncode == 2
    assert out.stderr.strip() == message.group(1)
