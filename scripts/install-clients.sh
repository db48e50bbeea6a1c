#!/usr/bin/env bash
# Install the real client packages the suite drives (tests/clients/package.json, pinned by its lock file)
# into tests/clients/node_modules (gitignored). Nothing runs when the installed tree matches the lock.
# `install-clients.sh DIR` does the same for another pinned folder of the repository (scripts/wrangler).
set -euo pipefail
cd "$(dirname "$0")/../${1:-tests/clients}"
stamp=node_modules/.qwq-clients-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "== installing client packages (npm ci, ${1:-tests/clients})"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" >"$stamp"
