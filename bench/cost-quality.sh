#!/usr/bin/env bash
# Cost quality beyond the benchmark: kerf's $/h on realistic mixes (web, batch,
# memory-heavy, GPU, all) on the built-in EC2 catalogue, against a
# per-dimension lower bound, an LP-relaxation lower bound and a
# first-fit-decreasing baseline (crates/kerf-bench, binary kerf-quality).
#
#   bench/cost-quality.sh [--commit-docs] [--no-build] [--sizes 100,1000,5000] [--seed N]
#
# Writes bench-out/cost-quality.md (git-ignored) with the machine, date and
# versions; --commit-docs also writes docs/benchmarks/cost-quality.md, keeping
# everything from its "<!-- findings -->" line on (the hand-written findings).
# --no-build runs the kerf-quality binary already in the target dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
OUT="${KERF_BENCH_OUT:-$ROOT/bench-out}"
DOC="$ROOT/docs/benchmarks/cost-quality.md"
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$CACHE/targets/$(printf %s "$ROOT" | sha256sum | cut -c1-16)}"

die() { echo "cost-quality: ERROR: $*" >&2; exit 1; }

commit_docs=0
build=1
sizes="100,1000,5000"
seed=42
while [[ $# -gt 0 ]]; do
  case "$1" in
    --commit-docs) commit_docs=1 ;;
    --no-build) build=0 ;;
    --sizes) shift; [[ "${1:-}" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--sizes needs e.g. 100,1000"; sizes="$1" ;;
    --seed) shift; [[ "${1:-}" =~ ^[0-9]+$ ]] || die "--seed needs an integer"; seed="$1" ;;
    -h|--help) usage "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

mkdir -p "$OUT"
cd "$ROOT"
if [[ $build == 1 ]]; then
  cargo build --release -q -p kerf-bench --bin kerf-quality
fi
[[ -x "$CARGO_TARGET_DIR/release/kerf-quality" ]] || die "no $CARGO_TARGET_DIR/release/kerf-quality (run without --no-build)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
body="$("$CARGO_TARGET_DIR/release/kerf-quality" --sizes "$sizes" --seed "$seed")"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes' || true)"

report="$OUT/cost-quality.md"
{
  cat <<EOF
# Cost quality on realistic mixes

- Machine: $(nproc) CPUs, $cpu; load average at start $load_start / at end $load_end.
- Date: $started
- kerf: git $rev$dirty, $(rustc --version)
- Command: \`bench/cost-quality.sh --sizes $sizes --seed $seed\` (runs \`cargo run --release -p kerf-bench --bin kerf-quality -- --sizes $sizes --seed $seed\`).

Catalogue: the built-in AWS us-east-1 one (\`kerf_cloud::Catalog::builtin()\`, on-demand list
prices). Pools: \`general\` (on-demand, categories c, m and r, as Karpenter's example NodePool) and \`gpu\` (on-demand, category
\`g\`, tainted \`nvidia.com/gpu=true:NoSchedule\`). Plans come from \`kerf_state::provision\`
against \`InMemoryCloud\`, the path \`kerf simulate\` takes; solve time is the best of 3
\`kerf_core::scheduler::solve\` calls on the same snapshot. Bounds and the baseline are computed
from that snapshot (\`crates/kerf-bench/src/quality\`). Mixes (seeded, ChaCha8):

- **web**: services of 10–30 replicas, cpu ∈ {100m, 250m, 500m, 1}, memory ∈ {128Mi … 2Gi},
  each spread over zones (maxSkew 1, DoNotSchedule).
- **batch**: jobs of 5–20 pods, cpu ∈ {2, 4, 6, 8, 12, 16}, 1, 2 or 4 GiB per core.
- **memory**: services of 3–10 replicas, cpu ∈ {500m, 1, 2, 4}, 6, 7 or 8 GiB per core.
- **gpu**: jobs of 1–8 pods tolerating the GPU taint; 80% one GPU (1–3 cpu, 4–12 GiB),
  20% four GPUs (8–32 cpu, 32–128 GiB).
- **all**: 50% web, 20% batch, 20% memory, 10% gpu.

**Per-dimension bound**: max over resources d of Σ over pods of request_d × the cheapest
\$/unit of allocatable d among the (pool, type) choices the pod may use. **LP bound**: the LP
relaxation over instance types, min Σ price·x subject to allocatable covering every resource's
demand, with pods grouped by the choices they may use (good_lp, microlp backend); asserted ≥ the
per-dimension bound. **Pattern bound**: the configuration LP (Gilmore–Gomory) over node
patterns — one node of one type holding whole pods of each class, integer counts that fit its
allocatable — solved through its dual by cutting planes, with a best-first branch-and-bound
knapsack per type pricing new patterns; the scaled duals give a proven bound each round
(Farley), so it is a bound even when stopped early (marked † when more than 0.1% short of the
LP optimum). It knows two 16-core pods do not share a 31.85-core node. **Zonal bound**: a
service of n pods spread over |D| zones with maxSkew s (DoNotSchedule, from empty) leaves at
least ⌈(n − (|D|−1)s)/|D|⌉ of them in every zone; per resource, each zone buys whole nodes (at
its own prices, capacity rounded down to what whole pods can fill) covering its forced share and
all zones the total, solved exactly as per-zone covering knapsacks joined by a min-plus
convolution; "-" where no spread group forces anything. It knows 100 small pods over three zones
need whole nodes in each. **kerf ÷ best bound** divides by the largest of the four. **FFD**: pods by cpu descending, first fit into open nodes, else a new node
of the cheapest choice that holds the pod alone, honouring choices, taints and zonal spread.

$body
EOF
} > "$report"
echo "cost-quality: wrote $report" >&2

if [[ $commit_docs == 1 ]]; then
  commit_doc "$report" "$DOC"
  echo "cost-quality: wrote $DOC" >&2
fi
