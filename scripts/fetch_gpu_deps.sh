#!/usr/bin/env bash
# For a machine without a package registry (the GPU machine): download, here,
# the Debian packages of the tokenizer's libraries (PCRE2 and utf8proc, -dev
# and runtime) into .carry/debs/ and unpack them into .carry/prefix/ (both
# git-ignored). Carry .carry/ there; CMake looks in .carry/prefix by itself
# (or -DZMLX_DEPS_PREFIX=.carry/prefix) and links their static archives into
# libzmlx, so nothing more is needed at run time.
#   bash scripts/fetch_gpu_deps.sh     (idempotent)
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

pkgs=(libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2)
debs=.carry/debs
prefix=.carry/prefix

say() { echo "fetch_gpu_deps: $*" >&2; }
command -v apt-get >/dev/null 2>&1 || { say "needs apt-get (a Debian or Ubuntu machine)"; exit 1; }
command -v dpkg-deb >/dev/null 2>&1 || { say "needs dpkg-deb"; exit 1; }

mkdir -p "$debs"
have_all=1
for p in "${pkgs[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || have_all=0
done
if [ "$have_all" = 0 ]; then
  # apt-get download needs the package lists; refresh them once if it fails.
  if ! (cd "$debs" && apt-get download "${pkgs[@]}" >/dev/null 2>&1); then
    if [ "$(id -u)" -eq 0 ]; then apt-get update -q >/dev/null; fi
    (cd "$debs" && apt-get download "${pkgs[@]}")
  fi
fi

rm -rf "$prefix.new"
mkdir -p "$prefix.new"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$prefix.new"; done
rm -rf "$prefix"
mv "$prefix.new" "$prefix"

for f in pcre2.h utf8proc.h; do
  [ -n "$(find "$prefix" -name "$f" -print -quit)" ] || { say "FAIL: no $f in $prefix"; exit 1; }
done
for f in libpcre2-8.a libutf8proc.a; do
  [ -n "$(find "$prefix" -name "$f" -print -quit)" ] || { say "FAIL: no $f in $prefix"; exit 1; }
done
say "unpacked $(find "$debs" -name '*.deb' -printf '%f ')into $prefix ($(du -sh "$prefix" | cut -f1))"
