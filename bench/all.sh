#!/usr/bin/env bash
# Issue 6 in one command: the three performance measurements, one after the
# other, and one markdown report that joins their tables.
#
#   bench/all.sh [--commit-docs] [--join-only]
#
#   1. bench/head-to-head.sh            scheduling solve vs upstream's own benchmark
#   2. bench/cost-quality.sh            $/h on realistic mixes vs LP bound and FFD
#   3. bench/controller-head-to-head.sh whole controller vs upstream's kwok build
#
# Each part writes its own table to bench-out/ (git-ignored); this script joins
# them, under the machine, date and versions, into bench-out/performance.md.
# --commit-docs passes through to every part (each updates its docs/benchmarks/
# file) and also writes docs/benchmarks/performance.md. Expect well over an hour
# on two cores: upstream's scheduling benchmark alone is slow here (see
# docs/benchmarks/head-to-head.md). --join-only runs nothing and joins the
# parts' latest tables in bench-out/ (each keeps its own date and versions),
# after one part was re-run on its own; a part with no table in bench-out/ is
# joined from its committed docs/benchmarks/ file. Each part's hand-written
# findings (see bench/lib.sh) follow its table.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
OUT="${KERF_BENCH_OUT:-$ROOT/bench-out}"
pass=()
commit_docs=0
join_only=0
for arg in "$@"; do
  case "$arg" in
    --commit-docs) commit_docs=1; pass+=(--commit-docs) ;;
    --join-only) join_only=1 ;;
    -h|--help) usage "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "all.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

parts=(head-to-head cost-quality controller-head-to-head)
for part in "${parts[@]}"; do
  ((join_only)) && break
  echo "==> bench/$part.sh ${pass[*]:-}" >&2
  "$ROOT/bench/$part.sh" "${pass[@]}"
done

mkdir -p "$OUT"
report="$OUT/performance.md"
{
  echo "# kerf performance: all three parts of issue 6"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- kerf: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with uncommitted changes)'); $(rustc --version); $(go version | cut -d' ' -f3-)"
  echo "- command: \`bench/all.sh $*\`$( ((join_only)) && echo ' (the parts ran separately; each section gives its own date and versions)')"
  for part in "${parts[@]}"; do
    echo
    table="$OUT/$part.md"
    # A part not re-run on this machine is joined as last committed.
    ((join_only)) && [[ ! -f "$table" ]] && table="$ROOT/docs/benchmarks/$part.md"
    [[ -f "$table" ]] || { echo "all.sh: $part wrote no $table" >&2; exit 1; }
    # Each part's own title becomes a section heading here; its committed
    # findings follow its table.
    with_findings "$table" "$ROOT/docs/benchmarks/$part.md" | sed 's/^# /## /'
  done
} >"$report"
echo "all.sh: wrote $report" >&2
if ((commit_docs)); then
  cp "$report" "$ROOT/docs/benchmarks/performance.md"
  echo "all.sh: wrote docs/benchmarks/performance.md" >&2
fi
