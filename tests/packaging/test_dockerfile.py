"""The Dockerfile's shape, checked without building it: a wheel built in one stage and installed alone in
the next, on a base image given as a build argument, run as a non-root user under a health check, with
a CMD that receives `docker stop`'s SIGTERM."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(s for s in text.splitlines() if not s.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
    return out


STEPS = instructions((ROOT / "Dockerfile").read_text())
STAGES: list[list[tuple[str, str]]] = []
for step in STEPS:
    if step[0] == "FROM":
        STAGES.append([])
    if STAGES:
        STAGES[-1].append(step)
(BUILD,) = [stage for stage in STAGES if any("pip wheel" in args for key, args in stage if key == "RUN")]
FINAL = STAGES[-1]


def args_of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for key, args in stage if key == keyword]


def test_the_base_image_is_a_build_argument_of_every_stage() -> None:
    assert STEPS[0][0] == "ARG" and STEPS[0][1].startswith("BASE_IMAGE=")
    assert len(STAGES) >= 2
    for stage in STAGES:
        assert stage[0][1].split()[0] == "${BASE_IMAGE}", stage[0]


def test_a_wheel_is_built_then_installed_alone() -> None:
    assert BUILD is not FINAL
    assert any(copy.startswith("--from=") for copy in args_of(FINAL, "COPY"))
    assert not any(copy.split()[0] == "." for copy in args_of(FINAL, "COPY")), "no source tree in the image"
    installs = [run for run in args_of(FINAL, "RUN") if "pip install" in run]
    assert installs and all(".whl" in run and "--no-index" in run for run in installs)
    for _, args in STEPS:
        assert not re.search(r"pip install[^&]*\s(-e|--editable)\b", args), args
    for run in (run for _, run in STEPS if "pip " in run):
        assert "--no-cache-dir" in run, run


def test_it_runs_as_a_non_root_user_listening_on_all_addresses() -> None:
    (user,) = args_of(FINAL, "USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert any("HOST=0.0.0.0" in env.split() for env in args_of(FINAL, "ENV"))


def test_a_health_check_asks_healthz_without_curl() -> None:
    (check,) = args_of(FINAL, "HEALTHCHECK")
    assert "CMD" in check and "/healthz" in check and "urllib" in check and "curl" not in check


def test_cmd_is_exec_form_so_sigterm_reaches_the_gateway() -> None:
    (cmd,) = args_of(FINAL, "CMD")
    assert json.loads(cmd) == ["qwq-gateway"]


def test_the_build_context_leaves_out_what_the_wheel_does_not_need() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "bench-results", ".mypy_cache", "**/node_modules"} <= ignored
    assert {".worker-bundle", "docs", "deploy"} <= ignored  # the Worker's staged copy, pages, configs
    assert not {"worker", "schemas", "pyproject.toml", "setup.py", "README.md", "LICENSE"} & ignored


def test_the_dependencies_are_a_layer_of_their_own_keyed_by_pyproject() -> None:
    """A source change must not download every dependency again: the stage that installs them copies
    pyproject.toml alone, and the final stage takes its venv."""
    (deps,) = [stage for stage in STAGES if any("-r " in run for run in args_of(stage, "RUN"))]
    assert [copy.split()[0] for copy in args_of(deps, "COPY")] == ["pyproject.toml"]
    name = deps[0][1].split()[-1]
    assert any(copy.startswith(f"--from={name} ") for copy in args_of(FINAL, "COPY"))
