#!/usr/bin/env bash
# Build crane (github.com/google/go-containerregistry/cmd/crane), the tool
# scripts/image.sh assembles, pushes and exports kerf's container image with:
# no Docker engine needed. The version is pinned by tools/image/go.mod and go.sum.
#
#   scripts/image-tools.sh    build if missing; the last stdout line is crane's path
#
# The binary goes to ${KERF_CACHE_DIR:-$HOME/.cache/kerf}/image-tools/<key>/crane,
# <key> a hash of tools/image/ and this script, so a fresh clone with the same
# pins reuses it. Requires Go >= 1.26.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
die() { echo "image-tools: ERROR: $*" >&2; exit 1; }

key="$(cd "$ROOT" && { find tools/image -type f -print; echo scripts/image-tools.sh; } |
  LC_ALL=C sort | while IFS= read -r f; do sha256sum -- "$f"; done | sha256sum | cut -c1-16)"
DIR="$CACHE/image-tools/$key"
CRANE="$DIR/crane"
if [[ -x "$CRANE" ]]; then
  echo "$CRANE"
  exit 0
fi

GO="$(command -v go || true)"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || die "go not found in PATH nor at /usr/local/go/bin/go (Go >= 1.26 is required)"
mkdir -p "$DIR"
echo "image-tools: building crane into $DIR" >&2
(
  cd "$ROOT/tools/image"
  GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    nice -n 10 "$GO" build -trimpath -ldflags="-s -w" -o "$DIR/.crane.tmp" \
    github.com/google/go-containerregistry/cmd/crane
) >&2 || { rm -f "$DIR/.crane.tmp"; die "building crane in tools/image failed (output above)"; }
mv -f "$DIR/.crane.tmp" "$CRANE"
echo "$CRANE"
