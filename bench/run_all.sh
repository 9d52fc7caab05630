#!/usr/bin/env bash
# ZMLX and its peers on one GPU machine, side by side:
#   1. build the zmlx command (Release; build-gpu/, or $ZMLX_BUILD)
#   2. zmlx bench --json $OUT/zmlx.json            (ZMLX, with its copy ceiling)
#   3. python3 bench/peers/peers.py --json $OUT/peers.json
#                                                  (PyTorch eager, torch.compile,
#                                                   Triton, CuPy, same ops/shapes)
#   4. zmlx report zmlx.json peers.json            (Markdown with ratios, printed
#                                                   and saved as $OUT/report.md)
#
#   bash bench/run_all.sh [ARGS...]
# ARGS go to both benchmarks: --ops A,B  --dtype bf16,f32  --shape 16384x4096
# (ops only one side knows are skipped by the other). Environment:
#   OUT                 output folder (default ./bench-out)
#   ZMLX_BUILD          an existing build folder to use instead of build-gpu/
#   ZMLX_BENCH_ARGS     extra arguments for `zmlx bench` only (e.g. --device cuda:1)
#   PEERS_ARGS          extra arguments for peers.py only (e.g. --impls triton,cupy)
#   ZMLX_SKIP_PEERS=1   run ZMLX alone
#   ZMLX_BENCH_TIMEOUT, PEERS_TIMEOUT   seconds before a stage is stopped
#                       (default 300 and 420; a hang must not eat the session)
#   ZMLX_GIT_COMMIT     the commit to record when this tree has no .git
# Exit status: 0 when every stage ran and every result checked out.
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
cd "$ZMLX_ROOT" || exit 1

out=${OUT:-$ZMLX_ROOT/bench-out}
build=${ZMLX_BUILD:-$ZMLX_ROOT/build-gpu}
mkdir -p "$out"
status=0
zmlx_args=()
peers_args=()
if [ -n "${ZMLX_BENCH_ARGS:-}" ]; then read -r -a zmlx_args <<<"$ZMLX_BENCH_ARGS"; fi
if [ -n "${PEERS_ARGS:-}" ]; then read -r -a peers_args <<<"$PEERS_ARGS"; fi

stage() { echo; echo "==== $*"; }

stage "build ($build, zmlx command only)"
t0=$(zmlx_now)
if [ ! -f "$build/CMakeCache.txt" ]; then
  zmlx_configure "$build" -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log"; echo "run_all: configure failed" >&2; exit 1; }
fi
if ! cmake --build "$build" --target zmlx_cli --parallel "$(nproc 2>/dev/null || echo 4)" \
     >>"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  echo "run_all: build failed; see $out/build.log" >&2
  exit 1
fi
echo "built in $(( $(zmlx_now) - t0 ))s"

stage "zmlx bench"
t0=$(zmlx_now)
rm -f "$out/zmlx.json" "$out/peers.json"
timeout "${ZMLX_BENCH_TIMEOUT:-300}" "$build/zmlx" bench --json "$out/zmlx.json" \
  "${zmlx_args[@]}" "$@" 2>&1 | tee "$out/zmlx.log"
rc=${PIPESTATUS[0]}
echo "zmlx bench: exit $rc in $(( $(zmlx_now) - t0 ))s"
[ "$rc" -eq 0 ] || status=1

reports=()
[ -f "$out/zmlx.json" ] && reports+=("$out/zmlx.json")
if [ "${ZMLX_SKIP_PEERS:-0}" != 1 ]; then
  stage "peers (bench/peers/peers.py)"
  t0=$(zmlx_now)
  timeout "${PEERS_TIMEOUT:-420}" python3 bench/peers/peers.py --json "$out/peers.json" \
    "${peers_args[@]}" "$@" 2>&1 | tee "$out/peers.log"
  rc=${PIPESTATUS[0]}
  echo "peers: exit $rc in $(( $(zmlx_now) - t0 ))s"
  [ "$rc" -eq 0 ] || status=1
  [ -f "$out/peers.json" ] && reports+=("$out/peers.json")
fi

stage "side by side"
if [ "${#reports[@]}" -eq 0 ]; then
  echo "run_all: no capsule was written" >&2
  exit 1
fi
if "$build/zmlx" report "${reports[@]}" >"$out/report.md"; then
  cat "$out/report.md"
  echo
  echo "report: $out/report.md (capsules: ${reports[*]})"
else
  status=1
fi
exit "$status"
