#!/usr/bin/env bash
# Install the gateway and serve it on its embedded defaults (simulator upstream, 127.0.0.1:8787).
# Set API_KEYS (comma separated) first; see the README's configuration table for the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/qwq-gateway "$@"
