"""Without jsonschema-rs (as on Pyodide, in the Cloudflare Worker) clients get the same answers, byte for
byte: the golden corpus and the dialects' validation tests run in a fresh interpreter where importing
`jsonschema_rs` fails, so every accept check goes to `jsonschema` (`worker.dialects.fast_schema`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import sys
sys.modules["jsonschema_rs"] = None  # `import jsonschema_rs` now raises ImportError
import pytest
code = pytest.main(sys.argv[1:])
from worker.dialects import fast_schema
sys.exit(code or (3 if fast_schema.ACCELERATED else 0))
"""
TESTS = ["tests/test_corpus.py", "tests/dialects", "tests/test_entry.py"]


def test_corpus_and_validation_without_jsonschema_rs() -> None:
    done = subprocess.run(
        # schemathesis's pytest plugin imports jsonschema_rs itself; these tests do not use it.
        [sys.executable, "-c", PROGRAM, "-q", "-p", "no:cacheprovider", "-p", "no:schemathesis", *TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
