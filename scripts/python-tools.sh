#!/usr/bin/env bash
# Installs the Python tools kerf's tests use into a venv outside the clone:
# moto's server (the AWS API emulator the AWS provider and add-on tests talk to).
# Pinned here; does nothing when the pinned version is already installed.
set -euo pipefail

MOTO_VERSION="5.2.5"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
VENV="$CACHE/venv"
STAMP="$VENV/.kerf-moto-$MOTO_VERSION"

if [[ -f "$STAMP" && -x "$VENV/bin/moto_server" ]]; then
  echo "python-tools: moto $MOTO_VERSION already installed in $VENV"
  exit 0
fi

PY="$(command -v python3 || true)"
[[ -n "$PY" ]] || { echo "python-tools: ERROR: python3 is not installed" >&2; exit 1; }
mkdir -p "$CACHE"
if [[ ! -x "$VENV/bin/pip" ]]; then
  "$PY" -m venv "$VENV" || { echo "python-tools: ERROR: '$PY -m venv' failed (install python3-venv)" >&2; exit 1; }
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" ||
  { echo "python-tools: ERROR: pip could not install moto[server]==$MOTO_VERSION" >&2; exit 1; }
touch "$STAMP"
echo "python-tools: moto $MOTO_VERSION installed in $VENV"
