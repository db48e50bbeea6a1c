#!/usr/bin/env bash
# Check the Cloudflare Python Worker configuration and bundle offline: `wrangler deploy --dry-run`.
# Wrangler 4 needs Node 22; Debian's and this machine's Node is 20, so wrangler 3 (which still bundles
# Python Workers) is installed into .wrangler-cli/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .wrangler-cli/node_modules/.bin/wrangler ]; then
  mkdir -p .wrangler-cli
  (cd .wrangler-cli && npm install --silent --no-audit --no-fund wrangler@3 >/dev/null)
fi
out=$(mktemp -d)
.wrangler-cli/node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
echo "bundle written to $out"
