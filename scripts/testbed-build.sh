#!/usr/bin/env bash
# Build the upstream binaries used by kerf's test environment (crates/kerf-testenv):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm.
#
# Versions are pinned by the Go modules under tools/testbed/ (go.mod + go.sum).
# Binaries go to a per-machine cache OUTSIDE the clone:
#
#   ${KERF_TESTBED_DIR:-$HOME/.cache/kerf/testbed/<key>}/bin
#
# where <key> is the first 16 hex digits of a sha256 over the files of
# tools/testbed/ and this script (see testbed_key below; kerf-testenv computes
# the same key in Rust). A fresh clone with the same pins reuses the cache, and
# when everything is built this script returns in well under a second.
#
# Usage:
#   scripts/testbed-build.sh            build what is missing; last stdout line = bin dir
#   scripts/testbed-build.sh --print    only print the bin dir (no build, no checks)
#
# Progress goes to stderr; the LAST line of stdout is always the bin dir.
# Any build failure exits non-zero with the reason. Requires Go >= 1.26.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTBED_SRC="$ROOT/tools/testbed"
SCRIPT_REL="scripts/testbed-build.sh"

# Binaries and the module (tools/testbed/<module>) + package that builds each.
BINARIES=(
  "kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl kubernetes k8s.io/kubernetes/cmd/kubectl"
  "etcd etcd ./cmd/etcd"
  "kwok kwok sigs.k8s.io/kwok/cmd/kwok"
  "helm helm helm.sh/helm/v3/cmd/helm"
)

die() {
  echo "testbed-build: ERROR: $*" >&2
  exit 1
}

# sha256 over "<sha256>  <path>\n" lines (sha256sum format) of every file of
# tools/testbed/ plus this script, paths relative to the repo root, sorted
# bytewise. Must stay in sync with kerf_testenv::binaries::testbed_key.
testbed_key() {
  (
    cd "$ROOT"
    { find tools/testbed -type f -print; echo "$SCRIPT_REL"; } | LC_ALL=C sort |
      while IFS= read -r f; do sha256sum -- "$f"; done | sha256sum | cut -c1-16
  )
}

if [[ -n "${KERF_TESTBED_DIR:-}" ]]; then
  DIR="$KERF_TESTBED_DIR"
else
  [[ -n "${HOME:-}" ]] || die "neither KERF_TESTBED_DIR nor HOME is set"
  DIR="$HOME/.cache/kerf/testbed/$(testbed_key)"
fi
BIN="$DIR/bin"

if [[ "${1:-}" == "--print" ]]; then
  echo "$BIN"
  exit 0
fi
[[ $# -eq 0 ]] || die "unknown argument: $1 (usage: $0 [--print])"

all_built() {
  [[ -f "$DIR/.complete" ]] || return 1
  local entry name
  for entry in "${BINARIES[@]}"; do
    name="${entry%% *}"
    [[ -x "$BIN/$name" ]] || return 1
  done
}

# Fast path: nothing to do.
if all_built; then
  echo "$BIN"
  exit 0
fi

GO="$(command -v go || true)"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || die "go not found in PATH nor at /usr/local/go/bin/go (Go >= 1.26 is required)"
GOVER="$("$GO" env GOVERSION)" || die "'$GO env GOVERSION' failed"
if [[ ! "$GOVER" =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 26)); then
  die "Go >= 1.26 is required (kwok v0.8 needs it), found $GOVER at $GO"
fi

mkdir -p "$BIN"
# Serialize concurrent builds of the same cache dir.
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  echo "testbed-build: another build holds $DIR/.lock; waiting..." >&2
  flock 9
fi
if all_built; then
  echo "$BIN"
  exit 0
fi

export GOTOOLCHAIN=local    # never download a toolchain
export GOFLAGS=-mod=readonly # go.mod/go.sum are the pins; never rewrite them
export CGO_ENABLED=0         # static binaries, like upstream releases
export GOMAXPROCS="${GOMAXPROCS:-2}"
JOBS="${KERF_TESTBED_JOBS:-2}"

# Version stamps that upstream release builds inject with -X (without them
# kube-apiserver's /version and kubectl report v0.0.0-master, and helm v3.x).
module_ldflags() {
  local module="$1" version
  case "$module" in
    kubernetes)
      version="$(cd "$TESTBED_SRC/kubernetes" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)" ||
        die "cannot read the k8s.io/kubernetes version from tools/testbed/kubernetes/go.mod"
      [[ "$version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "unexpected k8s.io/kubernetes version $version"
      local pkg
      for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        printf ' -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
          "$pkg" "$version" "$pkg" "${BASH_REMATCH[1]}" "$pkg" "${BASH_REMATCH[2]}" "$pkg"
      done
      ;;
    helm)
      version="$(cd "$TESTBED_SRC/helm" && "$GO" list -m -f '{{.Version}}' helm.sh/helm/v3)" ||
        die "cannot read the helm version from tools/testbed/helm/go.mod"
      printf ' -X helm.sh/helm/v3/internal/version.version=%s' "$version"
      ;;
  esac
}

echo "testbed-build: building into $BIN with $GOVER (logs: $DIR/build.log)" >&2
: >"$DIR/build-times.txt"
total_start=$(date +%s)
for entry in "${BINARIES[@]}"; do
  read -r name module pkg <<<"$entry"
  if [[ -x "$BIN/$name" ]]; then
    echo "testbed-build: $name already built" >&2
    continue
  fi
  echo "testbed-build: building $name ($pkg, module tools/testbed/$module)..." >&2
  ldflags="-s -w$(module_ldflags "$module")"
  start=$(date +%s)
  if ! (cd "$TESTBED_SRC/$module" &&
    nice -n 10 "$GO" build -p "$JOBS" -trimpath -ldflags="$ldflags" \
      -o "$BIN/.$name.tmp" "$pkg") >>"$DIR/build.log" 2>&1; then
    rm -f "$BIN/.$name.tmp"
    echo "---- last lines of $DIR/build.log ----" >&2
    tail -n 30 "$DIR/build.log" >&2 || true
    die "building $name ($pkg in tools/testbed/$module) failed; see $DIR/build.log"
  fi
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  secs=$(($(date +%s) - start))
  echo "$name ${secs}s" >>"$DIR/build-times.txt"
  echo "testbed-build: built $name in ${secs}s" >&2
done

all_built_now=1
for entry in "${BINARIES[@]}"; do
  name="${entry%% *}"
  [[ -x "$BIN/$name" ]] || all_built_now=0
done
((all_built_now)) || die "internal error: some binaries are missing from $BIN after the build"
{
  echo "go $GOVER"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) total $(($(date +%s) - total_start))s"
} >"$DIR/.complete"
echo "testbed-build: all binaries ready in $BIN" >&2
echo "$BIN"
