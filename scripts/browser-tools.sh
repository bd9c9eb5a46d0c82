#!/usr/bin/env bash
# Installs the browser kerf's tests use: headless Chromium, which opens the
# page of `kerf simulate --report` (crates/kerf/tests/report_browser.rs).
# Debian's `chromium` package, /usr/bin/chromium; does nothing when it is there.
# Runs `apt-get update` only when the first install fails.
set -euo pipefail

CHROMIUM="/usr/bin/chromium"

if [[ -x "$CHROMIUM" ]]; then
  echo "browser-tools: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already installed at $CHROMIUM"
  exit 0
fi

command -v apt-get >/dev/null ||
  { echo "browser-tools: ERROR: $CHROMIUM is missing and apt-get is not available; install Chromium there" >&2; exit 1; }
SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null ||
    { echo "browser-tools: ERROR: installing chromium needs root (or sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y chromium; then
  echo "browser-tools: apt-get install failed; running apt-get update and trying again" >&2
  "${SUDO[@]}" apt-get update ||
    { echo "browser-tools: ERROR: apt-get update failed" >&2; exit 1; }
  "${SUDO[@]}" apt-get install -y chromium ||
    { echo "browser-tools: ERROR: apt-get could not install chromium" >&2; exit 1; }
fi
[[ -x "$CHROMIUM" ]] ||
  { echo "browser-tools: ERROR: chromium installed but $CHROMIUM is not there" >&2; exit 1; }
echo "browser-tools: chromium installed at $CHROMIUM"
