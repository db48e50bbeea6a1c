#!/usr/bin/env bash
# Check the Cloudflare Python Worker configuration and build its bundle offline: `wrangler deploy --dry-run`
# (which runs wrangler.toml's build command first: scripts/worker_bundle.py stages the sources).
# Wrangler 4 needs Node 22; Debian's and this machine's Node is 20, so wrangler 3.114 (which still bundles
# Python Workers) is pinned in scripts/wrangler/ and installed there (scripts/install-clients.sh) when missing.
#   check-worker-bundle.sh [OUTDIR]      (default: a new temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-clients.sh scripts/wrangler
out="${1:-$(mktemp -d)}"
scripts/wrangler/node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
echo "bundle written to $out"
