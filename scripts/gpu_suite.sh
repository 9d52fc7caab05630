#!/usr/bin/env bash
# The GPU test suite, for an NVIDIA machine (driver + CUDA toolkit, e.g.
# /usr/local/cuda; no network needed). Steps:
#   1. build Release into build-gpu/ (Ninja if installed, else Makefiles)
#   2. zmlx doctor
#   3. check that CUDA really works: tests/install/consumer.c on cuda:0
#      (otherwise every CUDA test would skip and the suite would look green)
#   4. ctest, output on failure
#   5. if compute-sanitizer exists: a subset of the tests under
#      `compute-sanitizer --tool memcheck`, with ZMLX_ALLOC_CACHE=0 so every
#      allocation is a real one the sanitizer can check. CUDA API errors are
#      not reported: tests provoke them on purpose (out of memory, bad
#      images); memory access errors and kernel faults are.
# Logs go to build-gpu/gpu-logs/. When $OUT is set (also on failure) it gets
# gpu-summary.txt, gpu-ctest.log, gpu-doctor.log and gpu-logs.tar.gz (all
# logs). Exit status non-zero if any step failed.
#
#   bash scripts/gpu_suite.sh [CTEST_ARGS...]     e.g. -R kernel
# Environment:
#   ZMLX_GPU_OPTIONAL=1      do not fail when CUDA is unusable (step 3)
#   ZMLX_SKIP_CTEST=1        skip step 4
#   ZMLX_SKIP_SANITIZER=1    skip step 5
#   ZMLX_SANITIZER_TESTS     test names for step 5 (space-separated);
#                            default: the tests named *array*, *alloc*,
#                            *kernel*, *stream*, *cuda* (at most 8)
#   ZMLX_SANITIZER_TIMEOUT   seconds per sanitized test (default 600)
#   ZMLX_CTEST_JOBS          ctest parallelism (default 4)
#   ZMLX_GPU_CMAKE_ARGS      extra configure arguments
# copy_logs runs from the EXIT trap:
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

build=$ZMLX_ROOT/build-gpu
logs=$build/gpu-logs
cuda_home=${CUDA_HOME:-/usr/local/cuda}
jobs=$(nproc 2>/dev/null || echo 4)
results=()
failed=0

# $OUT gets few files (collectors may cap the count): the summary, the
# ctest and doctor logs as they are, and every log in gpu-logs.tar.gz.
copy_logs() {
  if [ -n "${OUT:-}" ] && [ -d "$logs" ]; then
    mkdir -p "$OUT"
    if [ -f "$build/Testing/Temporary/LastTest.log" ]; then
      cp "$build/Testing/Temporary/LastTest.log" "$logs/ctest-LastTest.log" || true
    fi
    local f
    for f in summary.txt ctest.log doctor.log; do
      if [ -f "$logs/$f" ]; then cp "$logs/$f" "$OUT/gpu-$f" || true; fi
    done
    tar -czf "$OUT/gpu-logs.tar.gz" -C "$build" gpu-logs || true
  fi
}
trap copy_logs EXIT

finish() { # print and save the summary, exit 0 if nothing failed
  echo
  echo "==== summary"
  printf '%s\n' "${results[@]}" | tee "$logs/summary.txt"
  if [ "$failed" -eq 0 ]; then
    echo "GPU SUITE PASSED" | tee -a "$logs/summary.txt"
    exit 0
  fi
  echo "GPU SUITE FAILED" | tee -a "$logs/summary.txt"
  exit 1
}

record() { # record PASS|FAIL|SKIP TEXT
  results+=("$1  $2")
  if [ "$1" = FAIL ]; then failed=1; fi
}

for tool in cmake cc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "gpu_suite: $tool is missing" >&2; exit 1; }
done
mkdir -p "$build"
rm -rf "$logs"
mkdir -p "$logs"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(uname -a)"
  echo "cc: $(cc --version | head -n 1)"
  echo "cmake: $(cmake --version | head -n 1)"
  if [ -x "$cuda_home/bin/nvcc" ]; then "$cuda_home/bin/nvcc" --version | tail -n 2; fi
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi; fi
  if [ -d .git ] && command -v git >/dev/null 2>&1; then
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo none) $(git status --porcelain 2>/dev/null | wc -l) changed files"
  fi
} >"$logs/machine.txt" 2>&1 || true
cat "$logs/machine.txt"

# ---- 1. Build --------------------------------------------------------------
echo "==== build (build-gpu/, Release)"
extra=()
if [ -n "${ZMLX_GPU_CMAKE_ARGS:-}" ]; then
  read -r -a extra <<<"$ZMLX_GPU_CMAKE_ARGS"
fi
t0=$(zmlx_now)
if zmlx_configure "$build" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >"$logs/build.log" 2>&1 &&
   zmlx_build "$build" "$jobs" >>"$logs/build.log" 2>&1; then
  record PASS "build ($(( $(zmlx_now) - t0 ))s)"
else
  tail -n 60 "$logs/build.log"
  record FAIL "build; see gpu-logs/build.log"
  finish
fi

# ---- 2. zmlx doctor -------------------------------------------------------------
echo "==== zmlx doctor"
if "$build/zmlx" doctor 2>&1 | tee "$logs/doctor.log"; then
  record PASS "zmlx doctor"
else
  record FAIL "zmlx doctor; see gpu-logs/doctor.log"
fi

# ---- 3. CUDA works ------------------------------------------------------------
echo "==== CUDA check (tests/install/consumer.c on cuda:0)"
consumer=$build/gpu_consumer
if cc -std=c11 -Wall -Wextra -Iinclude tests/install/consumer.c \
     -L"$build" -lzmlx -Wl,-rpath,"$build" -o "$consumer" >"$logs/cuda_check.log" 2>&1 &&
   ZMLX_CACHE_DIR=$build/gpu-check-cache "$consumer" cuda >>"$logs/cuda_check.log" 2>&1; then
  cat "$logs/cuda_check.log"
  record PASS "CUDA works"
else
  cat "$logs/cuda_check.log"
  if [ "${ZMLX_GPU_OPTIONAL:-0}" = 1 ]; then
    record SKIP "CUDA is not usable here (ZMLX_GPU_OPTIONAL=1)"
  else
    record FAIL "CUDA is not usable: CUDA tests would only skip; see gpu-logs/cuda_check.log"
  fi
fi

# ---- 4. ctest ------------------------------------------------------------------
if [ "${ZMLX_SKIP_CTEST:-0}" = 1 ]; then
  record SKIP "ctest (ZMLX_SKIP_CTEST=1)"
else
  echo "==== ctest"
  t0=$(zmlx_now)
  junit=()
  if ctest --help 2>/dev/null | grep -q -- --output-junit; then
    junit=(--output-junit "$logs/ctest-junit.xml")
  fi
  if ctest --test-dir "$build" --output-on-failure -j"${ZMLX_CTEST_JOBS:-4}" \
       "${junit[@]}" "$@" 2>&1 | tee "$logs/ctest.log"; then
    record PASS "ctest ($(( $(zmlx_now) - t0 ))s)"
  else
    record FAIL "ctest; see gpu-logs/ctest.log"
  fi
fi

# ---- 5. compute-sanitizer --------------------------------------------------------
sanitizer=$(command -v compute-sanitizer 2>/dev/null || true)
if [ -z "$sanitizer" ] && [ -x "$cuda_home/bin/compute-sanitizer" ]; then
  sanitizer=$cuda_home/bin/compute-sanitizer
fi
if [ "${ZMLX_SKIP_SANITIZER:-0}" = 1 ]; then
  record SKIP "compute-sanitizer (ZMLX_SKIP_SANITIZER=1)"
elif [ -z "$sanitizer" ]; then
  record SKIP "compute-sanitizer (not installed)"
else
  echo "==== compute-sanitizer --tool memcheck ($sanitizer)"
  if [ -n "${ZMLX_SANITIZER_TESTS:-}" ]; then
    read -r -a picks <<<"$ZMLX_SANITIZER_TESTS"
  else
    picks=()
    for exe in "$build"/tests/test_*; do
      if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then continue; fi
      name=$(basename "$exe")
      case "$name" in
        *array*|*alloc*|*kernel*|*stream*|*cuda*) picks+=("$name") ;;
      esac
      [ "${#picks[@]}" -lt 8 ] || break
    done
  fi
  # The consumer first: the smallest end-to-end CUDA program.
  progs=("gpu_consumer")
  progs+=("${picks[@]}")
  for name in "${progs[@]}"; do
    if [ "$name" = gpu_consumer ]; then
      cmd=("$consumer" cuda)
    else
      cmd=("$build/tests/$name")
    fi
    if [ ! -x "${cmd[0]}" ]; then
      record FAIL "memcheck $name: no such program"
      continue
    fi
    t0=$(zmlx_now)
    rc=0
    ZMLX_ALLOC_CACHE=0 ZMLX_CACHE_DIR=$build/sanitizer-cache/$name \
      timeout "${ZMLX_SANITIZER_TIMEOUT:-600}" \
      "$sanitizer" --tool memcheck --report-api-errors no \
      --error-exitcode 86 --print-limit 50 \
      "${cmd[@]}" >"$logs/memcheck_$name.log" 2>&1 || rc=$?
    tail -n 3 "$logs/memcheck_$name.log"
    case $rc in
      0) record PASS "memcheck $name ($(( $(zmlx_now) - t0 ))s)" ;;
      77) record SKIP "memcheck $name (the test skipped)" ;;
      86) record FAIL "memcheck $name: memory errors; see gpu-logs/memcheck_$name.log" ;;
      124) record FAIL "memcheck $name: timed out" ;;
      *) record FAIL "memcheck $name: exit $rc; see gpu-logs/memcheck_$name.log" ;;
    esac
  done
fi

finish
