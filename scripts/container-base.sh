#!/usr/bin/env bash
# Build a Python base image from Debian's own packages, for machines that reach no image registry:
# `debootstrap --variant=minbase` with python3, its venv module, pip and the CA certificates, imported
# into podman's store. Prints the image's name on standard output.
#
#   bash scripts/container-base.sh            # -> localhost/qwq-base:<hash>
#   podman build --build-arg BASE_IMAGE="$(bash scripts/container-base.sh)" -t qwq-gateway .
#
# The tag is a hash of this script, so the (minutes-long) build runs once per machine and again only
# when what builds it changes. MIRROR overrides the Debian mirror (default: the first one apt uses here).
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
tag="localhost/qwq-base:$(sha256sum scripts/container-base.sh | cut -c1-12)"

if podman image exists "$tag"; then
  echo "$tag"
  exit 0
fi

mirror="${MIRROR:-}"
if [ -z "$mirror" ]; then
  # deb822 (`URIs:`) or one-line (`deb URL suite ...`) sources; the first plain http(s) Debian mirror.
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "== building $tag from $mirror ($SUITE, minbase + $PACKAGES)" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >&2
# What an image needs no copy of: apt's downloaded lists and packages, documentation.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* \
  "$root"/usr/share/man/*
tar -C "$root" -c . | podman import --change 'CMD ["python3"]' - "$tag" >&2
echo "$tag"
