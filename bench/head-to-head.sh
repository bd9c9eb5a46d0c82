#!/usr/bin/env bash
# Scheduling solve, head to head: upstream Karpenter's own scheduling benchmark
# (sigs.k8s.io/karpenter, package pkg/controllers/provisioning/scheduling, build
# tag test_performance, pinned in bench/upstream/go.mod) against kerf's benchmark
# of the same workload (crates/kerf-bench), alternating upstream and kerf
# (A B A B ...) on this machine, then one markdown table.
#
#   bench/head-to-head.sh [--commit-docs] [--rounds N] [--repeat-limit SECS] [--no-preferences] [--no-upstream-cost]
#                         [--upstream-timeout SECS] [SIZES...]
#
# SIZES default to 100 1000 5000 20000. --rounds (default 2) is the number of
# A B pairs per size; an upstream round slower than --repeat-limit seconds
# (default 900) is not repeated (kerf still is; the table says so), nor priced.
# Upstream's $/h comes from a separate cost probe run once per workload (skip it
# with --no-upstream-cost). --upstream-timeout SECS stops an upstream run that
# takes longer (noted in the table). The preference workload (BenchmarkRespectPreferences /
# BenchmarkIgnorePreferences, 4,000 pods) runs too unless --no-preferences.
# Raw outputs and the table go to bench-out/ (git-ignored); --commit-docs also
# writes the table to docs/benchmarks/head-to-head.md.
#
# Build outputs live outside the clone: the upstream test binary under
# ~/.cache/kerf/bench, cargo's target dir at ~/.cache/kerf/targets/<checkout key>, Go's build and
# module caches where Go keeps them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
OUT="${KERF_BENCH_OUT:-$ROOT/bench-out}"
RAW="$OUT/head-to-head"
UPSTREAM_MODULE_DIR="$ROOT/bench/upstream"
UPSTREAM_PKG="sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$CACHE/targets/$(printf %s "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" | sha256sum | cut -c1-16)}"

die() { echo "head-to-head: ERROR: $*" >&2; exit 1; }
log() { echo "head-to-head: $*" >&2; }

rounds=2
repeat_limit=900
upstream_cost=1
upstream_timeout=""
commit_docs=0
preferences=1
sizes=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --commit-docs) commit_docs=1 ;;
    --no-preferences) preferences=0 ;;
    --no-upstream-cost) upstream_cost=0 ;;
    --upstream-timeout) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--upstream-timeout needs seconds"; upstream_timeout="$1" ;;
    --rounds) shift; [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"; rounds="$1" ;;
    --repeat-limit) shift; [[ "${1:-}" =~ ^[0-9]+$ ]] || die "--repeat-limit needs seconds"; repeat_limit="$1" ;;
    --rounds=*) rounds="${1#--rounds=}"; [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer" ;;
    -h|--help) usage "${BASH_SOURCE[0]}"; exit 0 ;;
    [0-9]*) [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "size '$1' is not a positive integer"; sizes+=("$1") ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100 1000 5000 20000)

command -v python3 >/dev/null || die "python3 is needed to build the table"
GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; else GO="$(command -v go || true)"; fi
fi
[[ -n "$GO" && -x "$GO" ]] || die "no Go toolchain found (set GO=/path/to/go)"
command -v cargo >/dev/null || die "cargo is not installed"

# --- Go toolchain: the local one when it satisfies bench/upstream/go.mod, else
# exactly the go.mod's version, fetched once through the Go proxy as the
# checksummed golang.org/toolchain module (karpenter v1.15.0 needs go >= 1.26.9).
need_go="$(awk '$1=="go"{print $2; exit}' "$UPSTREAM_MODULE_DIR/go.mod")"
have_go="$(GOTOOLCHAIN=local "$GO" env GOVERSION)"; have_go="${have_go#go}"
if [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" == "$need_go" ]]; then
  export GOTOOLCHAIN=local
else
  export GOTOOLCHAIN="go$need_go"
  log "local Go $have_go is older than go.mod's $need_go; using GOTOOLCHAIN=$GOTOOLCHAIN"
fi
export GOFLAGS=-mod=readonly # go.mod/go.sum are the pins; never rewrite them

cd "$UPSTREAM_MODULE_DIR"
upstream_version="$("$GO" list -m -f '{{.Version}}' sigs.k8s.io/karpenter)"
go_version="$("$GO" env GOVERSION)"
pkg_dir="$("$GO" list -tags test_performance -f '{{.Dir}}' "$UPSTREAM_PKG")" ||
  die "cannot resolve $UPSTREAM_PKG from bench/upstream (run 'go mod download' there?)"
key="$(cat go.mod go.sum | sha256sum | cut -c1-16)-$go_version"
upstream_bin="$CACHE/bench/upstream-$key/scheduling.test"
if [[ ! -x "$upstream_bin" ]]; then
  log "building upstream benchmark binary ($upstream_version, $go_version) -> $upstream_bin"
  mkdir -p "$(dirname "$upstream_bin")"
  "$GO" test -c -tags test_performance -o "$upstream_bin.tmp" "$UPSTREAM_PKG"
  mv "$upstream_bin.tmp" "$upstream_bin"
fi

# Upstream's benchmark reports nodes but not $/h. The cost probe
# (bench/upstream/costprobe) prices upstream's plan for the same pods; Go refuses
# overlays inside the module cache, so it builds in a scratch copy of this module
# next to an unmodified copy of upstream's scheduling_benchmark_test.go.
probe_bin=""
if [[ "$upstream_cost" == 1 ]]; then
  probe_key="$(cat go.mod go.sum costprobe/kerf_cost_probe_test.go "$pkg_dir/scheduling_benchmark_test.go" | sha256sum | cut -c1-16)-$go_version"
  probe_src="$CACHE/bench/probe-$probe_key"
  probe_bin="$probe_src/probe.test"
  if [[ ! -x "$probe_bin" ]]; then
    log "building upstream cost probe -> $probe_bin"
    rm -rf "$probe_src"; mkdir -p "$probe_src"
    cp go.mod go.sum costprobe/kerf_cost_probe_test.go "$pkg_dir/scheduling_benchmark_test.go" "$probe_src/"
    chmod u+w "$probe_src"/*
    # -mod=mod only because the scratch module imports what go.mod lists as
    # indirect; GOPROXY=off and the go.sum check below keep it to the pins.
    (cd "$probe_src" && GOFLAGS=-mod=mod GOPROXY=off "$GO" test -c -tags test_performance,kerf_cost_probe -o probe.test.tmp . &&
      cmp -s go.sum "$UPSTREAM_MODULE_DIR/go.sum" && mv probe.test.tmp probe.test) ||
      die "cannot build the upstream cost probe in $probe_src"
  fi
fi
cd "$ROOT"

log "building kerf-bench (release)"
cargo build --release -q -p kerf-bench || die "kerf-bench does not build"
# What `cargo run --release -p kerf-bench` runs, copied once: other work in the
# tree may rebuild the target dir mid-run, and every round must time one build.
kerf_bin="$CACHE/bench/kerf-bench.head-to-head"
mkdir -p "$CACHE/bench"
cp "$CARGO_TARGET_DIR/release/kerf-bench" "$kerf_bin"

rm -rf "$RAW"
mkdir -p "$RAW"

# One upstream benchmark per process: its pods come from a package-level
# math/rand seeded with 42, so a fresh process gives every size the same pods in
# every round. This is `go test -tags test_performance -run=XXX -bench=... PKG`
# with the binary built once; go test runs it in the package directory too.
run_upstream() { # name, output file; returns 2 when stopped by --upstream-timeout
  local rc=0
  (cd "$pkg_dir" && ${upstream_timeout:+timeout "$upstream_timeout"} "$upstream_bin" \
    -test.run=XXX -test.bench="^$1\$" -test.timeout=3h) >"$2" 2>&1 || rc=$?
  if ((rc == 124)); then
    log "upstream $1 stopped after --upstream-timeout $upstream_timeout s"
    return 2
  fi
  ((rc == 0)) || { cat "$2" >&2; die "upstream $1 failed (output above, also in $2)"; }
  grep -E "^$1-[0-9]+ " "$2" >&2 || die "upstream $1 printed no result line ($2)"
}
run_kerf() { # output file, kerf-bench args...
  local out="$1"; shift
  "$kerf_bin" "$@" >"$out" 2>"$out.stderr" ||
    { cat "$out" "$out.stderr" >&2; die "kerf-bench $* failed"; }
  grep -E '^\|' "$out" | sed -n '3,$p' >&2 || true
}
upstream_has() { grep -q "^func $1(" "$pkg_dir"/*_test.go; }

# A slow upstream round is not repeated: after a first round longer than
# --repeat-limit seconds, kerf still runs every round, upstream once (noted).
upstream_round() { # benchmark, workload label, round
  local f="$RAW/upstream-$2-r$3.txt" start
  if [[ -n "${upstream_once[$2]:-}" ]]; then
    log "$2 round $3/$rounds: upstream skipped (first round took ${upstream_once[$2]} s)"
    return
  fi
  log "$2 round $3/$rounds: upstream"
  start=$SECONDS
  if ! run_upstream "$1" "$f"; then
    upstream_once[$2]=$((SECONDS - start))
    rm -f "$f"
    echo "Upstream $1 did not finish within --upstream-timeout $upstream_timeout s; stopped, not repeated." >>"$RAW/notes.txt"
    return
  fi
  if ((SECONDS - start > repeat_limit && rounds > 1 && $3 == 1)); then
    upstream_once[$2]=$((SECONDS - start))
    echo "Upstream ran once for $2: its first round took ${upstream_once[$2]} s (over --repeat-limit $repeat_limit s)." >>"$RAW/notes.txt"
  fi
}
declare -A upstream_once=()

upstream_cost_probe() { # workload label (a size, prefrespect or prefignore)
  local f="$RAW/upstreamcost-$1.txt"
  [[ -n "$probe_bin" ]] || return 0
  if [[ -n "${upstream_once[$1]:-}" ]]; then
    echo "Upstream \$/h not measured for $1 (a further upstream solve; its round took ${upstream_once[$1]} s)." >>"$RAW/notes.txt"
    return
  fi
  log "$1: upstream cost probe"
  (cd "$pkg_dir" && KERF_COST_PROBE="$1" ${upstream_timeout:+timeout "$upstream_timeout"} "$probe_bin" \
    -test.run='^TestKerfCostProbe$' -test.timeout=3h) >"$f" 2>&1 ||
    { cat "$f" >&2; die "upstream cost probe $1 failed (output above, also in $f)"; }
  grep '^KERF_COST_PROBE ' "$f" >&2 || die "upstream cost probe $1 printed no result ($f)"
}

# kerf first in each round, so a stopped upstream run still leaves kerf's figures.
run_size() { # size
  local size="$1" r
  for ((r = 1; r <= rounds; r++)); do
    log "$size round $r/$rounds: kerf"
    run_kerf "$RAW/kerf-$size-r$r.txt" "$size"
    if upstream_has "BenchmarkScheduling$size"; then
      upstream_round "BenchmarkScheduling$size" "$size" "$r"
    elif ((r == 1)); then
      echo "Upstream has no BenchmarkScheduling$size." >>"$RAW/notes.txt"
    fi
    write_table
  done
  if upstream_has "BenchmarkScheduling$size"; then upstream_cost_probe "$size"; write_table; fi
}

run_preferences() {
  # kerf-bench prints its 4,000-pod preference rows (Respect and Ignore) after
  # the sizes it is given; size 1 keeps the rest of that run short.
  local r policy
  for ((r = 1; r <= rounds; r++)); do
    log "preferences round $r/$rounds: kerf"
    run_kerf "$RAW/kerf-preferences-r$r.txt" 1
    for policy in Respect Ignore; do
      if upstream_has "Benchmark${policy}Preferences"; then
        upstream_round "Benchmark${policy}Preferences" "pref${policy,,}" "$r"
      elif ((r == 1)); then
        echo "Upstream has no Benchmark${policy}Preferences." >>"$RAW/notes.txt"
      fi
    done
    write_table
  done
  for policy in respect ignore; do upstream_cost_probe "pref$policy"; done
  write_table
}

cpu_model="$(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
kerf_rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]]; then kerf_rev="$kerf_rev + uncommitted changes"; fi
loadavg="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
args_text="--rounds $rounds --repeat-limit $repeat_limit$([[ $preferences == 1 ]] || echo " --no-preferences")$([[ $upstream_cost == 1 ]] || echo " --no-upstream-cost")${upstream_timeout:+ --upstream-timeout $upstream_timeout} ${sizes[*]}"

# Rewritten after every round, so an interrupted run still leaves a table.
write_table() {
  python3 "$ROOT/bench/head_to_head_table.py" "$RAW" \
    --sizes "${sizes[*]}" --rounds "$rounds" --preferences "$preferences" \
    --nproc "$(nproc)" --cpu "${cpu_model:-unknown}" --date "$started" \
    --upstream "$upstream_version" --go "$go_version" --kerf-rev "$kerf_rev" \
    --rustc "$(rustc --version 2>/dev/null || echo unknown)" \
    --loadavg "$loadavg / at end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" \
    --command "bench/head-to-head.sh $args_text" \
    >"$OUT/head-to-head.md.tmp"
  mv "$OUT/head-to-head.md.tmp" "$OUT/head-to-head.md"
}

# Smallest workloads first (the 4,000-pod preference runs go between the sizes),
# so the slow large sizes come last.
prefs_done=0
for size in $(printf '%s\n' "${sizes[@]}" | sort -n); do
  if [[ $preferences == 1 && $prefs_done == 0 && $size -gt 4000 ]]; then
    run_preferences; prefs_done=1
  fi
  run_size "$size"
done
if [[ $preferences == 1 && $prefs_done == 0 ]]; then run_preferences; fi
write_table

cat "$OUT/head-to-head.md"
log "table written to $OUT/head-to-head.md (raw outputs in $RAW)"
if [[ "$commit_docs" == 1 ]]; then
  commit_doc "$OUT/head-to-head.md" "$ROOT/docs/benchmarks/head-to-head.md"
  log "also written to docs/benchmarks/head-to-head.md"
fi
