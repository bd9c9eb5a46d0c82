#!/usr/bin/env bash
# Build kerf's container image without a Docker engine: one layer holding the
# `kerf` binary (debug info stripped), the shared libraries `ldd` says it loads (the glibc it was
# linked against), the CA bundle the AWS and Kubernetes clients trust, and an
# /etc/passwd naming the non-root user 65532 it runs as. Entrypoint /kerf; the
# chart passes `controller` or `webhook` as arguments. Assembled and pushed
# with crane (scripts/image-tools.sh builds it from the pins in tools/image/).
#
#   scripts/image.sh [--binary PATH] [--push REF] [--out DIR] [--tag TAG] [--insecure]
#
#   --binary PATH  use this kerf binary (default: cargo build --profile dist --locked -p kerf)
#   --push REF     push to REF (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/kerf:0.1.0;
#                  crane reads registry credentials from ~/.docker/config.json)
#   --out DIR      also write the image as an OCI image layout to DIR
#                  (default dist/image when nothing is pushed; `crane push DIR REF` later)
#   --tag TAG      the tag when nothing is pushed (default: kerf's version)
#   --insecure     the registry of --push speaks plain HTTP (a registry on loopback)
#
# Then install with `--set image.repository=<REF without tag> --set image.tag=<tag>`.
# The last stdout line is the pushed reference with its digest (REF@sha256:...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KERF_CACHE_DIR:-${HOME:?HOME must be set}/.cache/kerf}"
die() { echo "image: ERROR: $*" >&2; exit 1; }
say() { echo "image: $*" >&2; }

binary="" push="" out="" tag="" insecure=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) shift; binary="${1:?--binary needs a path}" ;;
    --push) shift; push="${1:?--push needs a reference}" ;;
    --out) shift; out="${1:?--out needs a directory}" ;;
    --tag) shift; tag="${1:?--tag needs a tag}" ;;
    --insecure) insecure=(--insecure) ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

CRANE="$("$ROOT/scripts/image-tools.sh" | tail -n 1)"
[[ -x "$CRANE" ]] || die "scripts/image-tools.sh did not produce crane ($CRANE)"

if [[ -z "$binary" ]]; then
  export CARGO_TARGET_DIR="${KERF_TARGET_DIR:-$CACHE/targets/$(printf %s "$ROOT" | sha256sum | cut -c1-16)}"
  say "building kerf (profile dist) into $CARGO_TARGET_DIR"
  (cd "$ROOT" && cargo build --profile dist --locked -p kerf --bin kerf) >&2
  binary="$CARGO_TARGET_DIR/dist/kerf"
fi
[[ -x "$binary" ]] || die "$binary is not an executable"
version="$("$binary" --version | awk '{print $2}')"
[[ -n "$version" ]] || die "'$binary --version' printed no version"
[[ -n "$tag" ]] || tag="$version"

work="$(mktemp -d)"
registry_pid=""
cleanup() {
  [[ -z "$registry_pid" ]] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The image's file system.
fs="$work/fs"
mkdir -p "$fs/etc/ssl/certs" "$fs/tmp"
chmod 1777 "$fs/tmp"
install -m 0755 "$binary" "$fs/kerf"
# Line tables are for the developer's backtraces; the symbols stay, so a
# panic in the image still names its functions.
command -v strip >/dev/null || die "strip (binutils) is needed to drop debug info from the binary"
strip --strip-debug "$fs/kerf"
# Every library the dynamic loader resolves, at the path it resolved it to
# (the loader itself included), so the image needs no base.
libs="$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')"
[[ -n "$libs" ]] || die "ldd found no libraries for $binary (a static binary needs none: remove this check)"
for lib in $libs; do
  mkdir -p "$fs$(dirname "$lib")"
  cp -L "$lib" "$fs$lib"
done
bundle=/etc/ssl/certs/ca-certificates.crt
[[ -s "$bundle" ]] || die "$bundle is missing (Debian's ca-certificates package provides it)"
cp -L "$bundle" "$fs$bundle"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$fs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$fs/etc/group"
# Same bytes for the same inputs: sorted, owned by root, one fixed time.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$fs" -cf "$work/layer.tar" .

# Push where asked, else to a throwaway registry on loopback to export from.
if [[ -n "$push" ]]; then
  ref="$push"
else
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$CRANE" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do
    "$CRANE" catalog --insecure "127.0.0.1:$port" >/dev/null 2>&1 && break
    sleep 0.1
  done
  ref="127.0.0.1:$port/kerf:$tag"
  insecure=(--insecure)
  [[ -n "$out" ]] || out="$ROOT/dist/image"
fi

say "assembling $ref"
"$CRANE" append "${insecure[@]}" --oci-empty-base -f "$work/layer.tar" -t "$ref" >/dev/null
"$CRANE" mutate "${insecure[@]}" "$ref" -t "$ref" \
  --set-platform linux/amd64 \
  --entrypoint /kerf \
  --user 65532:65532 \
  --workdir / \
  --env SSL_CERT_FILE="$bundle" \
  --label org.opencontainers.image.title=kerf \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.description="Kubernetes node autoscaler, Karpenter-compatible" >/dev/null
digest="$("$CRANE" digest "${insecure[@]}" "$ref")"

if [[ -n "$out" ]]; then
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  "$CRANE" pull "${insecure[@]}" --format=oci "$ref" "$out"
  say "wrote the OCI image layout $out (push it with: crane push $out <registry>/kerf:$tag)"
fi
repo="$ref"
[[ "${ref##*/}" != *:* ]] || repo="${ref%:*}"
echo "$repo@$digest"
