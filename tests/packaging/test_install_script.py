"""`scripts/install.sh` runs pip only when the install is not current, so `serve.sh`'s second start is quiet.

The script runs for real, in a copy of the files it reads, over a venv whose `python` only writes down
how it was called: what is checked is the decision to run pip, not pip itself.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../calls.log"
touch "$(dirname "$0")/qwq-gateway" && chmod +x "$(dirname "$0")/qwq-gateway"
"""


def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("scripts/install.sh", "pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, root / name)
    for helper in ("install-system.sh", "install-clients.sh"):  # `dev`'s Debian and npm parts: not tested here
        (root / "scripts" / helper).write_text("exit 0\n")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def install(root: Path, *args: str) -> tuple[int, str, list[str]]:
    """Exit status, output, and the pip commands the run made."""
    log = root / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", str(root / "scripts" / "install.sh"), *args], capture_output=True, text=True, timeout=30
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, done.stdout + done.stderr, calls


def test_a_current_install_runs_no_pip_and_says_nothing(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    status, _, calls = install(root)
    assert status == 0 and any("pip install" in c and c.endswith("-e .") for c in calls), calls
    assert install(root, "--check") == (0, "", [])
    started = time.monotonic()
    assert install(root) == (0, "", [])  # the second start: no pip, no output
    assert time.monotonic() - started < 2


def test_a_changed_project_or_a_wider_mode_installs_again(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    install(root)
    status, _, calls = install(root, "dev")  # a runtime install lacks the test tools
    assert status == 0 and any(c.endswith("-e .[dev]") for c in calls), calls
    assert install(root) == (0, "", [])  # while a dev install serves a runtime start as well
    with (root / "pyproject.toml").open("a") as fh:
        fh.write("\n# a new dependency, say\n")
    assert install(root, "--check", "dev")[0] == 1
    assert any(c.endswith("-e .[dev]") for c in install(root, "dev")[2])
    assert install(root, "dev") == (0, "", [])


def test_a_failed_install_is_not_taken_for_current(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    python = root / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON + 'case "$*" in *"-e ."*) exit 1 ;; esac\n')
    assert install(root)[0] != 0
    python.write_text(FAKE_PYTHON)
    assert install(root, "--check")[0] == 1
    assert install(root)[2], "pip must run again after a failure"
