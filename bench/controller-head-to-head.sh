#!/usr/bin/env bash
# Whole controller, head to head: upstream Karpenter's kwok build
# (sigs.k8s.io/karpenter/kwok, pinned in bench/upstream-kwok/go.mod, its CRDs
# applied) against `kerf controller --cloud-provider kwok`, each on a fresh
# real control plane from kerf-testenv (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok), with the same NodePool and
# the same instance types (upstream's kwok instance_types.json, converted into
# a kerf catalogue). A Deployment of small pods is scaled from 0 to N; for each
# size upstream runs, then kerf as it ships (pods left to kube-scheduler), then
# kerf with --bind-pods (a third entrant, outside the goals), --runs times
# (A B C A B C ...). Then one markdown
# table of each figure's median over the runs: time from scale-up to the last
# pod Running and the last node Ready, nodes launched, fleet $/h, each
# controller's peak RSS and CPU seconds; and every run's times below it.
#
#   bench/controller-head-to-head.sh [--sizes "1000 5000"] [--runs 3] [--commit-docs] [--timeout SECS] [--prebuilt DIR]
#                                    [--scale-down-to N [--quiet-secs S]]
#
# --scale-down-to N adds disruption (issue 26): after each scale-up, the
# NodePool's consolidateAfter goes from Never to 0s and the Deployment is
# scaled down to N; the run ends when every remaining pod is Running and no
# Node was added or removed for --quiet-secs (default 120). Entrants are
# upstream and kerf (binding is not what this measures); the table of the
# scale-down phase (time to the last fleet change, final fleet $/h and nodes,
# evictions, peak RSS, CPU) goes to bench-out/disruption-head-to-head.md and,
# with --commit-docs, docs/benchmarks/disruption-head-to-head.md.
#
# --sizes (default "1000 5000"; commas or spaces) are the pod counts. --runs
# (default 3) is how many times each controller runs at each size: one run's
# time to the last pod Running varies by seconds on two cores, so the table
# reports medians. --timeout (default 1800) stops a run whose pods are not
# all Running by then (the table says "failed"). The table and the raw results
# go to bench-out/ (git-ignored); --commit-docs also writes the table to
# docs/benchmarks/controller-head-to-head.md. --prebuilt DIR skips cargo and
# uses DIR/kerf and DIR/controller_h2h as they are (the table names DIR).
#
# Builds, once: the upstream kwok binary under ~/.cache/kerf/bench (keyed by the
# module pins and the Go version), kerf's kwok build (profile dist, without the
# aws and addon features, as upstream's kwok build has no AWS provider) and the
# controller_h2h example with cargo (target dir ~/.cache/kerf/targets/<checkout key>, or
# KERF_TARGET_DIR), and the control-plane binaries (scripts/testbed-build.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
OUT="${KERF_BENCH_OUT:-$ROOT/bench-out}"
RAW="$OUT/controller-head-to-head"
MODULE_DIR="$ROOT/bench/upstream-kwok"
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$CACHE/targets/$(printf %s "$ROOT" | sha256sum | cut -c1-16)}"

die() { echo "controller-head-to-head: ERROR: $*" >&2; exit 1; }
log() { echo "controller-head-to-head: $*" >&2; }

sizes_arg="1000 5000"
runs=3
timeout=1800
commit_docs=0
prebuilt=""
scale_down_to=""
quiet_secs=120
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) shift; sizes_arg="${1:-}" ;;
    --sizes=*) sizes_arg="${1#--sizes=}" ;;
    --runs) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive count"; runs="$1" ;;
    --runs=*) runs="${1#--runs=}"; [[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive count" ;;
    --timeout) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--timeout needs seconds"; timeout="$1" ;;
    --commit-docs) commit_docs=1 ;;
    --prebuilt) shift; [[ -x "${1:-}/kerf" && -x "${1:-}/controller_h2h" ]] || die "--prebuilt needs a directory with kerf and controller_h2h"; prebuilt="$1" ;;
    --scale-down-to) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--scale-down-to needs a positive pod count"; scale_down_to="$1" ;;
    --quiet-secs) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--quiet-secs needs seconds"; quiet_secs="$1" ;;
    -h|--help) usage "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
read -r -a sizes <<<"${sizes_arg//,/ }"
[[ ${#sizes[@]} -gt 0 ]] || die "--sizes needs at least one pod count"
for s in "${sizes[@]}"; do [[ "$s" =~ ^[1-9][0-9]*$ ]] || die "size '$s' is not a positive integer"; done
mapfile -t sizes < <(printf '%s\n' "${sizes[@]}" | sort -n | uniq)
entrants=(upstream kerf kerf-bind-pods)
table_name=controller-head-to-head
phase_args=()
if [[ -n "$scale_down_to" ]]; then
  for s in "${sizes[@]}"; do
    ((s > scale_down_to)) || die "size $s is not above --scale-down-to $scale_down_to"
  done
  entrants=(upstream kerf)
  table_name=disruption-head-to-head
  RAW="$OUT/$table_name"
  phase_args=(--scale-down-to "$scale_down_to" --quiet-secs "$quiet_secs")
fi

command -v python3 >/dev/null || die "python3 is needed (catalogue conversion and the table)"
command -v cargo >/dev/null || die "cargo is not installed"
GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; else GO="$(command -v go || true)"; fi
fi
[[ -n "$GO" && -x "$GO" ]] || die "no Go toolchain found (set GO=/path/to/go)"

# --- Go toolchain: the local one when it satisfies the module's go line, else
# exactly that version through the Go proxy (as bench/head-to-head.sh does).
need_go="$(awk '$1=="go"{print $2; exit}' "$MODULE_DIR/go.mod")"
have_go="$(GOTOOLCHAIN=local "$GO" env GOVERSION)"; have_go="${have_go#go}"
if [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" == "$need_go" ]]; then
  export GOTOOLCHAIN=local
else
  export GOTOOLCHAIN="go$need_go"
  log "local Go $have_go is older than go.mod's $need_go; using GOTOOLCHAIN=$GOTOOLCHAIN"
fi
export GOFLAGS=-mod=readonly # go.mod/go.sum are the pins; never rewrite them

cd "$MODULE_DIR"
upstream_version="$("$GO" list -m -f '{{.Version}}' sigs.k8s.io/karpenter)"
upstream_dir="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/karpenter)"
[[ -n "$upstream_dir" && -f "$upstream_dir/kwok/main.go" ]] ||
  "$GO" mod download sigs.k8s.io/karpenter
upstream_dir="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/karpenter)"
[[ -f "$upstream_dir/kwok/main.go" ]] || die "sigs.k8s.io/karpenter $upstream_version has no kwok/main.go"
go_version="$("$GO" env GOVERSION)"
key="$(cat go.mod go.sum | sha256sum | cut -c1-16)-$go_version"
upstream_bin="$CACHE/bench/upstream-kwok-$upstream_version-$key/karpenter-kwok"
if [[ ! -x "$upstream_bin" ]]; then
  log "building upstream kwok controller ($upstream_version, $go_version) -> $upstream_bin"
  mkdir -p "$(dirname "$upstream_bin")"
  "$GO" build -o "$upstream_bin.tmp" sigs.k8s.io/karpenter/kwok
  mv "$upstream_bin.tmp" "$upstream_bin"
fi
cd "$ROOT"

export KERF_TESTBED_BIN="${KERF_TESTBED_BIN:-$("$ROOT/scripts/testbed-build.sh" | tail -1)}"
[[ -x "$KERF_TESTBED_BIN/kube-apiserver" && -x "$KERF_TESTBED_BIN/kwok" ]] ||
  die "control-plane binaries missing in $KERF_TESTBED_BIN (scripts/testbed-build.sh)"

if [[ -n "$prebuilt" ]]; then
  bin_dir="$prebuilt"
  kerf_build="prebuilt binaries from $prebuilt"
  log "using $kerf_build"
else
  # kerf's kwok build, as upstream's: the shipping profile (dist) without the
  # AWS provider and the add-on (cargo features `aws`, `addon`).
  log "building kerf's kwok build (profile dist, --no-default-features --features cluster) and the controller_h2h example (release)"
  cargo build --profile dist -q -p kerf --bin kerf --no-default-features --features cluster || die "kerf does not build"
  # Copied once: other work in the tree may rebuild the target dir mid-run.
  bin_dir="$CACHE/bench/controller-h2h"
  mkdir -p "$bin_dir"
  cp "$CARGO_TARGET_DIR/dist/kerf" "$bin_dir/kerf"
  cargo build --release -q -p kerf --example controller_h2h || die "the controller_h2h example does not build"
  cp "$CARGO_TARGET_DIR/release/examples/controller_h2h" "$bin_dir/controller_h2h"
  kerf_build="kwok build (cargo profile dist, --no-default-features --features cluster)"
fi

rm -rf "$RAW"
mkdir -p "$RAW/upstream-crds"
# Upstream's CRDs: the chart's (NodePool, NodeClaim, NodeOverlay,
# CapacityBuffer) and KWOKNodeClass. The module cache is read-only.
cp "$upstream_dir"/kwok/charts/crds/*.yaml "$upstream_dir"/kwok/apis/crds/*.yaml "$RAW/upstream-crds/"
cp "$upstream_dir/kwok/cloudprovider/instance_types.json" "$RAW/instance_types.json"
chmod -R u+w "$RAW"
python3 "$MODULE_DIR/kwok_catalog.py" "$RAW/instance_types.json" >"$RAW/kerf-catalog.json" ||
  die "cannot convert upstream's instance types into a kerf catalogue"

run_one() { # controller, pods, run
  local controller="$1" pods="$2" run="$3" binary name
  binary="$upstream_bin"; [[ "$controller" == kerf* ]] && binary="$bin_dir/kerf"
  name="$controller-$pods-$run"
  log "$pods pods: $controller (run $run of $runs)"
  if "$bin_dir/controller_h2h" --controller "$controller" --binary "$binary" --pods "$pods" \
    --catalog "$RAW/kerf-catalog.json" --instance-types "$RAW/instance_types.json" \
    --upstream-crds "$RAW/upstream-crds" --timeout-secs "$timeout" "${phase_args[@]}" \
    --out "$RAW/$name.json" 2>"$RAW/$name.stderr" >/dev/null; then
    log "  $(cat "$RAW/$name.json")"
  else
    cp "$RAW/$name.stderr" "$RAW/$name.log"
    rm -f "$RAW/$name.json"
    echo "$controller at $pods pods, run $run, failed: $(tail -1 "$RAW/$name.log")" >>"$RAW/notes.txt"
    log "  failed (see $RAW/$name.log)"
  fi
}

cpu_model="$(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
kerf_rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]]; then kerf_rev="$kerf_rev + uncommitted changes"; fi
kube_version="$("$KERF_TESTBED_BIN/kube-apiserver" --version 2>/dev/null | awk '{print $2}')"
kwok_version="$("$KERF_TESTBED_BIN/kwok" --version 2>/dev/null | head -1 | awk '{print $3}')"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"

write_table() {
  local table=(h2h_table.py)
  [[ -n "$scale_down_to" ]] && table=(disruption_table.py --to "$scale_down_to")
  python3 "$MODULE_DIR/${table[0]}" "$RAW" "${table[@]:1}" --sizes "${sizes[*]}" --runs "$runs" \
    --machine "$(nproc) CPUs, $cpu_model, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load average $loadavg at start, $(cut -d' ' -f1-3 /proc/loadavg) now" \
    --date "$started" \
    --versions "upstream sigs.k8s.io/karpenter $upstream_version (kwok build, $go_version); kerf $kerf_rev, $kerf_build ($(rustc --version 2>/dev/null | awk '{print $1" "$2}'))" \
    --plane "kube-apiserver/controller-manager/scheduler $kube_version, kwok ${kwok_version:-unknown}; controller-manager and scheduler at 200 requests/s (burst 400)" \
    --command "bench/controller-head-to-head.sh --sizes \"${sizes[*]}\" --runs $runs --timeout $timeout${prebuilt:+ --prebuilt $prebuilt}${scale_down_to:+ --scale-down-to $scale_down_to --quiet-secs $quiet_secs}" \
    >"$OUT/$table_name.md.tmp"
  mv "$OUT/$table_name.md.tmp" "$OUT/$table_name.md"
}

for pods in "${sizes[@]}"; do
  for ((run = 1; run <= runs; run++)); do
    for entrant in "${entrants[@]}"; do run_one "$entrant" "$pods" "$run"; done
    write_table
  done
done

cat "$OUT/$table_name.md"
log "table written to $OUT/$table_name.md (raw results in $RAW)"
if [[ "$commit_docs" == 1 ]]; then
  commit_doc "$OUT/$table_name.md" "$ROOT/docs/benchmarks/$table_name.md"
  log "also written to docs/benchmarks/$table_name.md"
fi
