"""`qwq-gateway keys ...` and `qwq-gateway usage` as a user runs them: real processes on a real store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import NO_WRANGLER
from tests.processes import clean_env


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(WRANGLER_TOML=str(NO_WRANGLER), STATE_URL=f"sqlite:///{state}")
    return subprocess.run(
        [sys.executable, "-m", "worker", *args], env=env, capture_output=True, text=True, timeout=60
    )


def out(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


def test_keys_create_list_rotate_revoke_and_usage(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    made = out(
        cli(
            state, "keys", "create", "--name", "boot", "--role", "admin", "--models", "qwq-32b", "--rpm", "10"
        )
    )
    assert made["key"].startswith(f"qwq_{made['id']}_") and made["role"] == "admin" and made["rpm"] == 10
    listed = out(cli(state, "keys", "list"))
    assert [k["id"] for k in listed["data"]] == [made["id"]]
    assert made["key"].split("_", 2)[2] not in str(listed)  # the secret
    rotated = out(cli(state, "keys", "rotate", made["id"], "--overlap", "30"))
    assert rotated["key"] != made["key"] and rotated["previous_secret_valid_until"]
    assert out(cli(state, "keys", "revoke", made["id"]))["status"] == "revoked"
    assert out(cli(state, "usage", "--group-by", "key")) == {"data": []}
    csv = cli(state, "usage", "--format", "csv")
    assert csv.returncode == 0 and csv.stdout.startswith("key_id,model,period,requests")


def test_mistakes_are_one_line_and_status_2(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    for args, says in [
        (("keys", "revoke", "ffffffffffff"), "No key with id 'ffffffffffff'"),
        (("keys", "create", "--name", "x", "--models", "gpt-9"), "Unknown model(s) in 'models': gpt-9"),
        (("keys", "create", "--name", "x", "--metadata", "[1]"), "'metadata' must be a JSON object"),
        (("usage", "--from", "someday"), "'from' must be an ISO 8601 time"),
    ]:
        done = cli(state, *args)
        assert done.returncode == 2 and done.stderr.startswith("qwq-gateway: ") and says in done.stderr, (
            done.stderr
        )
