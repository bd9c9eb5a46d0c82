#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test.
#
#   1. the upstream control-plane binaries (kube-apiserver, kube-controller-manager,
#      kube-scheduler, kubectl, etcd, kwok, helm), built once per machine from the
#      Go modules pinned in tools/testbed/ into ~/.cache/kerf/testbed (see
#      scripts/testbed-build.sh);
#   2. crane (tools/image/), which builds and reads back kerf's container image,
#      into ~/.cache/kerf/image-tools (see scripts/image-tools.sh);
#   3. the Python test tools (moto's server, the AWS API emulator) into a venv
#      under ~/.cache/kerf/venv;
#   4. Debian's chromium, tmux, zsh and fish, which the tests drive as a person
#      would: headless Chromium opens the page of `kerf simulate --report`, tmux
#      is the terminal of `kerf top`, and zsh and fish complete with kerf's
#      completion scripts (see scripts/os-tools.sh);
#   5. cargo fmt --check, cargo clippy -D warnings, and every test of the workspace
#      with cargo-nextest (installed into ~/.cargo/bin if missing);
#   6. a short libFuzzer run of every fuzz target (scripts/fuzz.sh, which installs
#      cargo-fuzz into ~/.cargo/bin if missing).
#
# Build outputs live outside the clone (~/.cache/kerf) and are reused by later
# runs and fresh clones on the same machine. Any missing tool fails loudly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
  echo "test.sh: ERROR: $*" >&2
  exit 1
}

CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
# One target dir per checkout path, kept across runs. Sharing one between two
# checkouts is wrong, not just slow: cargo decides freshness by mtime and resolves
# dep-info paths against the workspace root, so a tree with older files than the
# last build elsewhere is taken as built, and its tests run stale binaries.
ROOT_KEY="$(printf %s "$ROOT" | sha256sum | cut -c1-16)"
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$CACHE/targets/$ROOT_KEY}"
# Start the target dir afresh once it passes a size, so it cannot fill the disk.
TARGET_LIMIT_GB="${KERF_TARGET_LIMIT_GB:-40}"
target_gb() { echo $(($(du -sk "$CARGO_TARGET_DIR" | cut -f1) / 1024 / 1024)); }
if [[ -d "$CARGO_TARGET_DIR" ]] && (($(target_gb) >= TARGET_LIMIT_GB)); then
  # Incremental state grows with every edit and costs only the workspace's own
  # crates to rebuild; dropping it first keeps the dependencies' 30-minute build.
  echo "test.sh: $CARGO_TARGET_DIR is over ${TARGET_LIMIT_GB} GB; removing its incremental state" >&2
  rm -rf "$CARGO_TARGET_DIR"/*/incremental
  if (($(target_gb) >= TARGET_LIMIT_GB)); then
    echo "test.sh: still over ${TARGET_LIMIT_GB} GB; removing $CARGO_TARGET_DIR" >&2
    rm -rf "$CARGO_TARGET_DIR"
  fi
fi

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs); kerf needs Rust >= 1.89"
# The test runner, installed into ~/.cargo/bin when missing.
NEXTEST_VERSION=0.9.151

step "control-plane binaries (first run on a machine builds them: tens of minutes)"
BIN="$(scripts/testbed-build.sh | tail -n 1)"
[[ -x "$BIN/kube-apiserver" ]] || die "testbed build reported $BIN but kube-apiserver is not there"
export KERF_TESTBED_BIN="$BIN"

step "image tools (crane, for the container image test)"
KERF_CRANE="$(scripts/image-tools.sh | tail -n 1)"
[[ -x "$KERF_CRANE" ]] || die "scripts/image-tools.sh reported $KERF_CRANE but it is not executable"
export KERF_CRANE

step "python test tools (moto_server)"
scripts/python-tools.sh >&2
export PATH="$CACHE/venv/bin:$PATH"
command -v moto_server >/dev/null || die "moto_server is not on PATH after scripts/python-tools.sh"

step "programs the tests drive (chromium, tmux, zsh, fish)"
KERF_CHROMIUM="$(scripts/os-tools.sh | tail -n 1)"
export KERF_CHROMIUM
[[ -x "$KERF_CHROMIUM" ]] || die "chromium is not at $KERF_CHROMIUM after scripts/os-tools.sh"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The kwok build (no AWS provider, no add-on) is what the controller
# head-to-head runs; it must stay warning-free and refuse `--cloud-provider aws`.
# The simulate-only build is the README's first command.
cargo clippy -p kerf --bins --no-default-features --features cluster --quiet -- -D warnings
cargo clippy -p kerf --bins --no-default-features --quiet -- -D warnings

step "cargo nextest run (every test; see .config/nextest.toml)"
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test.sh: installing cargo-nextest" >&2
  cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked >&2
fi
# How many at a time and fail-fast are .config/nextest.toml's; KERF_TEST_THREADS overrides the first.
cargo nextest run --workspace ${KERF_TEST_THREADS:+--test-threads="$KERF_TEST_THREADS"}
step "cargo test --doc (nextest does not run doctests)"
cargo test --workspace --doc --quiet
step "cargo nextest run (kwok build)"
cargo nextest run -p kerf --bin kerf --no-default-features --features cluster

# The fuzz targets' properties already ran above over the seed corpora
# (crates/kerf-fuzz replays fuzz/corpus/); this is libFuzzer itself, coverage-
# guided, a short while per target. The fuzzed parsers live in crates without
# the client, server and AWS SDK stacks, so the instrumented build is small.
FUZZ_SECONDS="${KERF_FUZZ_SECONDS:-10}"
step "libFuzzer, ${FUZZ_SECONDS} s per target (scripts/fuzz.sh --quick)"
scripts/fuzz.sh --quick --seconds "$FUZZ_SECONDS"
