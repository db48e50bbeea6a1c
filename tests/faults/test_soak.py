"""`scripts/soak.py` runs: a few seconds of its mixed traffic, and the figures it prints (whether they
stay flat is for a real soak of minutes, docs/performance.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.processes import clean_env

SOAK = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"


def test_the_soak_script_runs_and_reports_what_the_gateway_holds() -> None:
    done = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "0.05", "--clients", "2"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in ("rss_mib", "fds", "tasks", "pool_open", "pool_busy", "draining"):
        assert re.search(rf"^  {figure} +start +[\d.]+ +end +[\d.]+$", done.stdout, re.M), done.stdout
    assert re.search(r"^ +\d+  answered$", done.stdout, re.M)
    assert "silent" not in done.stdout
