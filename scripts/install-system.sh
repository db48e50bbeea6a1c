#!/usr/bin/env bash
# Install the Debian packages the test suite needs (scripts/system-packages.txt), when any is missing.
#
# Servers the tests start themselves (redis-server, prometheus, chromium, podman ...) come from Debian's
# registry, never from a download of our own. Nothing runs when every package is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]].*//' scripts/system-packages.txt | grep -v '^$' || true)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "== installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
