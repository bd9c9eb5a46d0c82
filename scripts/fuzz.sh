#!/usr/bin/env bash
# Coverage-guided fuzzing of kerf's input parsers with cargo fuzz (libFuzzer):
# every target in fuzz/ (or the ones named) for N seconds each,
# starting from the seed corpus in fuzz/corpus/<target>/, then a table of
# executions, speed, corpus and coverage per target. The properties each
# target checks live in crates/kerf-fuzz (the ordinary `cargo test` replays
# the seed corpora through them on stable).
#
#   scripts/fuzz.sh [--seconds N] [--target T]... [--build-only] [--quick]
#
# Installs cargo-fuzz if missing. It runs on the stable toolchain: without a
# sanitizer (below) cargo fuzz passes rustc no unstable flag. --quick builds
# with 16 codegen units instead of cargo fuzz's one: a build several times
# faster, runs a few times slower, which suits the short run the README's
# test command makes. The build lives outside the clone ($KERF_FUZZ_TARGET_DIR,
# default ~/.cache/kerf/targets/<checkout>-fuzz, -fuzz-quick for --quick);
# the corpus libFuzzer grows is kept
# in ~/.cache/kerf/fuzz-corpus/<checkout>/<target> so later runs resume from
# it; the seed directories are only read. A crashing input is saved under
# fuzz/artifacts/<target>/ (git-ignored): fix the bug, add a regression test
# in the crate that owns the code, and copy the input into fuzz/corpus/<target>/.
#
# Exit status: 0 when no target found a crash, 1 otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() {
  echo "fuzz.sh: ERROR: $*" >&2
  exit 2
}

SECONDS_EACH=60
BUILD_ONLY=0
QUICK=0
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_EACH="${2:?--seconds needs a number}"; shift 2 ;;
    --target) TARGETS+=("${2:?--target needs a name}"); shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --quick) QUICK=1; shift ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || die "--seconds $SECONDS_EACH is not a whole number"

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --version 0.13.2 --locked >&2
fi

CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
ROOT_KEY="$(printf %s "$ROOT" | sha256sum | cut -c1-16)"
SUFFIX=fuzz
((QUICK)) && SUFFIX=fuzz-quick
TARGET_DIR="${KERF_FUZZ_TARGET_DIR:-$CACHE/targets/$ROOT_KEY-$SUFFIX}"
WORK="$CACHE/fuzz-corpus/$ROOT_KEY"
# kerf's code is safe Rust: no AddressSanitizer (it halves the speed and
# finds nothing safe code can do); panics, overflow checks and debug
# assertions are what fail.
FUZZ=(cargo fuzz)
FLAGS=(--sanitizer none --debug-assertions --target-dir "$TARGET_DIR")
((QUICK)) && FLAGS+=(--codegen-units 16)

if ((${#TARGETS[@]} == 0)); then
  mapfile -t TARGETS < <("${FUZZ[@]}" list)
  echo "fuzz.sh: building every target (into $TARGET_DIR)" >&2
  "${FUZZ[@]}" build "${FLAGS[@]}" >&2
else
  for t in "${TARGETS[@]}"; do
    echo "fuzz.sh: building $t (into $TARGET_DIR)" >&2
    "${FUZZ[@]}" build "${FLAGS[@]}" "$t" >&2
  done
fi
((BUILD_ONLY)) && exit 0

LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
failed=0
rows=()
for t in "${TARGETS[@]}"; do
  [[ -d "fuzz/corpus/$t" ]] || die "fuzz/corpus/$t is missing: every target needs seeds"
  mkdir -p "$WORK/$t" "fuzz/artifacts/$t"
  echo "fuzz.sh: $t for ${SECONDS_EACH}s" >&2
  status=ok
  if ! "${FUZZ[@]}" run "${FLAGS[@]}" "$t" "$WORK/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="fuzz/artifacts/$t/" >"$LOGS/$t" 2>&1; then
    status="CRASH (see fuzz/artifacts/$t/)"
    failed=1
    tail -n 40 "$LOGS/$t" >&2
  fi
  stat() { sed -n "s/^stat::$1: *//p" "$LOGS/$t" | tail -n 1; }
  last="$(grep -E '^#[0-9]+.*cov: ' "$LOGS/$t" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")"
  rows+=("$(printf '%-14s %8s %12s %8s %12s %6s %7s  %s' "$t" "$SECONDS_EACH" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${corp:-?}" \
    "${cov:-?}" "${ft:-?}" "$status")")
done

printf '\n%-14s %8s %12s %8s %12s %6s %7s  %s\n' target seconds executions exec/s corpus cov ft result
printf '%s\n' "${rows[@]}"
exit "$failed"
