#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install the gateway into it (editable); `install.sh dev` adds the test tools.
#
# A stamp in .venv records what was installed (a hash of the files that define the install, and the
# mode), so a second run with nothing changed does not run pip at all: quiet, and instant for serve.sh.
# It reinstalls when the venv is missing, pyproject.toml or setup.py changed, or `dev` is asked of a
# runtime-only install. `install.sh --check [dev]` only answers: status 0 when the install is current.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
STAMP=.venv/.qwq-gateway-install

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
mode="${1:-runtime}"
case "$mode" in
  runtime | dev) ;;
  *)
    echo "usage: install.sh [--check] [dev]" >&2
    exit 2
    ;;
esac

digest() {
  # Editable installs see source edits at once; only these files change what pip would install.
  if command -v sha256sum >/dev/null; then
    cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1
  else
    cat pyproject.toml setup.py | shasum -a 256 | cut -d' ' -f1
  fi
}

current() {
  # A `dev` install holds everything a runtime install does, so it serves both.
  [ -x .venv/bin/python ] && [ -x .venv/bin/qwq-gateway ] && [ -f "$STAMP" ] || return 1
  local hash="" installed=""
  read -r hash installed <"$STAMP" || true
  [ "$hash" = "$(digest)" ] && { [ "$installed" = "$mode" ] || [ "$installed" = dev ]; }
}

dev_extras() {
  # What only the test suite needs: Debian's servers and the real client packages, each script a no-op when current.
  [ "$mode" = dev ] || return 0
  bash scripts/install-system.sh
  bash scripts/install-clients.sh
  bash scripts/install-clients.sh scripts/wrangler
}

if current; then
  [ "$check" = 1 ] || dev_extras
  exit 0
elif [ "$check" = 1 ]; then
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
extra=""
[ "$mode" = dev ] && extra="[dev]"
rm -f "$STAMP"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
echo "$(digest) $mode" >"$STAMP"
dev_extras
