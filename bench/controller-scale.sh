#!/usr/bin/env bash
# Scale run for `kerf controller` (a measurement, not a test): builds the kerf
# binary and the scale_run example, then runs it against a real control plane
# (kerf-testenv binaries from scripts/testbed-build.sh) with the kwok provider:
# a Deployment of REPLICAS (default 1000) small pods from 0 to all Running.
# Prints time to last pod Running / last node Ready, nodes launched and $/h.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$HOME/.cache/kerf/targets/$(printf %s "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" | sha256sum | cut -c1-16)}"
PROFILE="${PROFILE:-dev}"
cargo build -p kerf --profile "$PROFILE" --bin kerf --example scale_run
dir=debug; [ "$PROFILE" = dev ] || dir="$PROFILE"
exec "$CARGO_TARGET_DIR/$dir/examples/scale_run" --kerf "$CARGO_TARGET_DIR/$dir/kerf" --replicas "${REPLICAS:-1000}" "$@"
