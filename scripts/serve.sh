#!/usr/bin/env bash
# Install the gateway (once: install.sh skips pip while the install is current) and serve it on its
# embedded defaults (simulator upstream, 127.0.0.1:8787), reading this checkout's wrangler.toml.
# Set API_KEYS (comma separated) first; see the README's configuration table for the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/qwq-gateway "$@"
