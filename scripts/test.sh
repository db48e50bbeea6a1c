#!/usr/bin/env bash
# Install everything the tests need, then run the linters, the type checker and the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k stream -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
echo "== ruff"
.venv/bin/ruff check worker tests scripts
.venv/bin/ruff format --check worker tests scripts
echo "== import-linter (layer contracts)"
.venv/bin/lint-imports --no-cache
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
