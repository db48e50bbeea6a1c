#!/usr/bin/env bash
# Install the pinned wrangler (scripts/wrangler/package.json and its lock) into scripts/wrangler/node_modules
# (gitignored); nothing runs when the installed tree matches the lock.
set -euo pipefail
cd "$(dirname "$0")/wrangler"
stamp=node_modules/.qwq-wrangler-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "== installing wrangler (npm ci, scripts/wrangler)" >&2
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" >"$stamp"
