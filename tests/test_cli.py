"""The `qwq-gateway` command as a user runs it: a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NO_WRANGLER
from tests.processes import clean_env, first_answer, stop
from tests.servers import free_port


def run_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        env=clean_env(WRANGLER_TOML=str(NO_WRANGLER), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_refuses_to_start_without_keys() -> None:
    process = run_cli({})
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "No API_KEYS configured: refusing to start" in out and "Traceback" not in out


def test_bad_setting_stops_start_up_with_its_name() -> None:
    process = run_cli({"API_KEYS": "k", "PORT": "eighty"})
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "PORT" in out and "Traceback" not in out


def test_dev_flag_serves_openly_and_says_so_loudly() -> None:
    port = free_port()
    process = run_cli({"ALLOW_NO_AUTH": "1"}, "--port", str(port))
    try:
        r = first_answer(process, port)
        assert r.status_code == 200 and r.json()["response"]
    finally:
        out = stop(process)
    assert "EVERY REQUEST IS ACCEPTED" in out and "SIMULATOR" in out


def table_with_key_variable(tmp_path: Path) -> str:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.qwq-32b]\n[[models.qwq-32b.targets]]\nadapter = "openai"\n'
        'base_url = "https://upstream.example/v1"\nmodel = "Qwen/QwQ-32B"\n'
        'api_key_env = "CLI_TEST_UNSET_KEY"\n'
    )
    return str(path)


def test_a_key_variable_that_is_unset_stops_start_up_naming_it(tmp_path: Path) -> None:
    process = run_cli({"API_KEYS": "k", "MODELS_FILE": table_with_key_variable(tmp_path)})
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "Traceback" not in out
    line = out.strip()
    assert "\n" not in line
    assert "[[models.qwq-32b.targets]] #1" in line and "CLI_TEST_UNSET_KEY" in line and "unset" in line
    assert "line 6" in line  # the line of `api_key_env` in the file


def test_models_file_and_upstream_url_together_are_refused(tmp_path: Path) -> None:
    env = {"API_KEYS": "k", "MODELS_FILE": table_with_key_variable(tmp_path), "UPSTREAM_URL": "http://x/v1"}
    process = run_cli(env)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "Traceback" not in out
    assert "MODELS_FILE and UPSTREAM_URL conflict" in out.strip() and "\n" not in out.strip()


@pytest.mark.parametrize("problem", ["no keys", "unset key variable"])
def test_uvicorn_factory_prints_the_message_not_a_traceback(problem: str, tmp_path: Path) -> None:
    """`uvicorn --factory worker.app:create_app`, the way a process manager may start the gateway."""
    env = {} if problem == "no keys" else {"API_KEYS": "k", "MODELS_FILE": table_with_key_variable(tmp_path)}
    process = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "worker.app:create_app", "--port", str(free_port())],
        env=clean_env(WRANGLER_TOML=str(NO_WRANGLER), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    needle = "No API_KEYS configured" if problem == "no keys" else "CLI_TEST_UNSET_KEY"
    assert [line for line in process.stderr.splitlines() if needle in line] == [
        process.stderr.strip().splitlines()[-1]
    ]
