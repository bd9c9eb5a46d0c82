#!/usr/bin/env bash
# Installs the Debian programs kerf's tests drive as a person would:
#   chromium  opens the page of `kerf simulate --report` (crates/kerf/tests/report_browser.rs);
#   tmux      a real terminal for `kerf top`, progress lines and zsh (crates/kerf/tests/common/tmux.rs);
#   zsh, fish complete with `kerf completion zsh|fish` (crates/kerf/tests/completion.rs).
# Does nothing for what is already there; runs `apt-get update` only when the
# first install fails. The last line names the Chromium binary.
set -euo pipefail

CHROMIUM="/usr/bin/chromium"
# package -> the program it must leave on the machine
declare -A PROGRAM=([chromium]="$CHROMIUM" [tmux]=/usr/bin/tmux [zsh]=/usr/bin/zsh [fish]=/usr/bin/fish)

missing=()
for pkg in chromium tmux zsh fish; do
  [[ -x "${PROGRAM[$pkg]}" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  command -v apt-get >/dev/null ||
    { echo "os-tools: ERROR: ${missing[*]} missing and apt-get is not available; install them there" >&2; exit 1; }
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null ||
      { echo "os-tools: ERROR: installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "os-tools: installing ${missing[*]}" >&2
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    echo "os-tools: apt-get install failed; running apt-get update and trying again" >&2
    "${SUDO[@]}" apt-get update ||
      { echo "os-tools: ERROR: apt-get update failed" >&2; exit 1; }
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
      { echo "os-tools: ERROR: apt-get could not install ${missing[*]}" >&2; exit 1; }
  fi
fi

for pkg in chromium tmux zsh fish; do
  [[ -x "${PROGRAM[$pkg]}" ]] ||
    { echo "os-tools: ERROR: $pkg installed but ${PROGRAM[$pkg]} is not there" >&2; exit 1; }
done
echo "os-tools: chromium, tmux, zsh and fish present ($("$CHROMIUM" --version 2>/dev/null || echo chromium))" >&2
echo "$CHROMIUM"
