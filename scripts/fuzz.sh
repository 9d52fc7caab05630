#!/usr/bin/env bash
# Run one libFuzzer target (or all of them) for a given time.
#   bash scripts/fuzz.sh TARGET SECONDS     e.g. scripts/fuzz.sh safetensors 60
#   bash scripts/fuzz.sh all SECONDS        every fuzz/fuzz_*.c, SECONDS each
#   bash scripts/fuzz.sh --list
# TARGET is the part after fuzz_ in fuzz/fuzz_TARGET.c. The build is
# build-fuzz/ (clang, -DZMLX_FUZZ=ON: libFuzzer + ASan + UBSan over the
# whole library). The committed seeds in fuzz/corpus/TARGET/ are read;
# new inputs go to build-fuzz/corpus/TARGET/ and crashes, leaks or
# sanitizer reports to build-fuzz/artifacts/ (the run then fails).
# fuzz/TARGET.dict, when present, is the target's dictionary.
# ZMLX_FUZZ_ARGS: extra libFuzzer flags (e.g. "-jobs=2 -workers=2").
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

targets() {
  local f
  for f in fuzz/fuzz_*.c; do
    [ -e "$f" ] || continue
    f=${f#fuzz/fuzz_}
    echo "${f%.c}"
  done
}

if [ "${1:-}" = --list ]; then
  targets
  exit 0
fi
if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS   (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
fi
want=$1 secs=$2
if [ "$want" = all ]; then
  mapfile -t list < <(targets)
else
  [ -f "fuzz/fuzz_$want.c" ] || { echo "fuzz.sh: no fuzz/fuzz_$want.c" >&2; exit 2; }
  list=("$want")
fi

cc=${ZMLX_FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (bash scripts/deps.sh installs it)" >&2; exit 1; }
zmlx_configure build-fuzz -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DZMLX_FUZZ=ON -DZMLX_BUILD_TESTS=OFF -DZMLX_BUILD_EXAMPLES=OFF >/dev/null
targets_to_build=()
for t in "${list[@]}"; do targets_to_build+=(--target "fuzz_$t"); done
cmake --build build-fuzz --parallel "${ZMLX_JOBS:-2}" "${targets_to_build[@]}"

mkdir -p build-fuzz/artifacts
failed=0
for t in "${list[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work" "fuzz/corpus/$t"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-")
  [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
  echo "==== fuzz_$t for ${secs}s"
  # shellcheck disable=SC2086
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/fuzz/fuzz_$t" "${args[@]}" ${ZMLX_FUZZ_ARGS:-} "$work" "fuzz/corpus/$t"; then
    echo "PASS  fuzz_$t (${secs}s)"
  else
    echo "FAIL  fuzz_$t: see build-fuzz/artifacts/$t-*" >&2
    failed=1
  fi
done
exit "$failed"
