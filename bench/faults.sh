#!/usr/bin/env bash
# Fault run for `kerf controller` (a measurement, not a test; see
# crates/kerf/examples/faults/): builds the kerf binary and the faults
# example, then runs it against a real control plane (kerf-testenv binaries
# from scripts/testbed-build.sh) with the kwok provider, SIGKILLing the
# controller once per round while the cluster scales up, scales down and
# loses NodeClaims. Prints a summary and a Markdown row for docs/reliability.md.
#
#   bench/faults.sh [--kills 50] [--seed 1] [--settle-every 5] [--settle-timeout-secs 300]
#
# Exit status 0 when nothing was lost (every settle reached, the PDB and the
# do-not-disrupt pod held, no scale-up launch left unused), 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$HOME/.cache/kerf/targets/$(printf %s "$ROOT" | sha256sum | cut -c1-16)}"
export KERF_TESTBED_BIN="${KERF_TESTBED_BIN:-$(scripts/testbed-build.sh --print)}"
cargo build -p kerf --bin kerf --example faults
exec "$CARGO_TARGET_DIR/debug/examples/faults" --kerf "$CARGO_TARGET_DIR/debug/kerf" "$@"
