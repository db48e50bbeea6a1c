#!/usr/bin/env bash
# The benchmark in one command: install what it needs, then measure every contender in one run.
# wrk and nginx come from Debian; LiteLLM's proxy goes into scripts/bench/.venv-peers and Portkey's
# gateway into scripts/bench/node-peers (both gitignored, never into the project's .venv).
# Arguments go to the runner: `--quick` (short cells, a smoke test), `--only NAME`, `--baseline DIR` (another
# checkout of the gateway, e.g. a git worktree of an older commit, measured side by side in the same run).
# See docs/performance.md for how to read the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=scripts/bench
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null
fi
bash scripts/install.sh
if [ ! -x "$BENCH/.venv-peers/bin/litellm" ]; then
  python3 -m venv "$BENCH/.venv-peers"
  "$BENCH/.venv-peers/bin/pip" install --quiet --disable-pip-version-check \
    'litellm[proxy]' || echo "bench: LiteLLM could not be installed; its row will say so"
fi
if [ ! -f "$BENCH/node-peers/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
  mkdir -p "$BENCH/node-peers"
  [ -f "$BENCH/node-peers/package.json" ] || echo '{"name": "bench-peers", "private": true}' > "$BENCH/node-peers/package.json"
  (cd "$BENCH/node-peers" && npm install --silent --no-audit --no-fund @portkey-ai/gateway) \
    || echo "bench: Portkey's gateway could not be installed; its row will say so"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1,000 open streams need 2,000+ descriptors in the proxy
exec taskset -c 1 .venv/bin/python "$BENCH/run.py" "$@"
