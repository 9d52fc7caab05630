#!/usr/bin/env bash
# The kernel catalog against its peers on one GPU machine, side by side:
#   1. build zmlx and tests/test_catalog (Release; build-gpu/, or $ZMLX_BUILD)
#   2. test_catalog perf -b cuda --dtype bf16 -k <the peers' entries>
#        --json $OUT/zmlx_catalog.json          (ZMLX, with its copy ceiling)
#   3. python3 bench/peers/catalog_peers.py --zmlx $OUT/zmlx_catalog.json
#        --json $OUT/catalog_peers.json         (PyTorch eager, torch.compile,
#                                                Triton: same names, cases, bytes)
#   4. $OUT/catalog_report.md, printed: catalog_peers.py --summary (the issue's
#      figures, one line per op, µs ratios) and `zmlx report` of both capsules
#
#   bash bench/run_catalog.sh [--ops rmsnorm,cross_entropy] [--dtype bf16]
# Environment:
#   OUT                  output folder (default ./bench-out)
#   ZMLX_BUILD           an existing build folder to use instead of build-gpu/
#   CATALOG_ALL=1        ZMLX times every catalog entry, not only the peers' ones
#   ZMLX_PERF_ARGS       extra arguments for test_catalog perf (e.g. --case ...)
#   PEERS_ARGS           extra arguments for catalog_peers.py (e.g. --impls triton)
#   SKIP_ZMLX=1          reuse $OUT/zmlx_catalog.json (e.g. from an earlier call)
#   SKIP_PEERS=1         reuse $OUT/catalog_peers.json, or run ZMLX alone
#   CATALOG_DEADLINE     seconds for the whole run (default 570, under the GPU
#                        machine's 600 s a command; 0: no overall limit). Each
#                        stage gets what is left, less what the later stages
#                        need: a hang must not eat the session, and the report
#                        is always written
#   BUILD_TIMEOUT, ZMLX_PERF_TIMEOUT, PEERS_TIMEOUT   each stage's own limit in
#                        seconds (default 900, 300, 480). test_catalog writes
#                        its capsule at the end, so it goes first and keeps 75 s
#                        for the rest; the peers rewrite theirs after every op
#                        and stop starting new rows 45 s before their limit
#   ZMLX_GIT_COMMIT      the commit to record when this tree has no .git
# Exit status: 0 when every stage ran and every result checked out.
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
cd "$ZMLX_ROOT" || exit 1

ops=""
dtype=bf16
while [ $# -gt 0 ]; do
  case $1 in
    --ops|--dtype)
      [ $# -ge 2 ] || { echo "run_catalog: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --ops ]; then ops=$2; else dtype=$2; fi
      shift 2 ;;
    --ops=*) ops=${1#--ops=}; shift ;;
    --dtype=*) dtype=${1#--dtype=}; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_catalog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

out=${OUT:-$ZMLX_ROOT/bench-out}
build=${ZMLX_BUILD:-$ZMLX_ROOT/build-gpu}
peers=bench/peers/catalog_peers.py
zjson=$out/zmlx_catalog.json
pjson=$out/catalog_peers.json
report=$out/catalog_report.md
mkdir -p "$out"
status=0
zmlx_args=()
peers_args=()
if [ -n "${ZMLX_PERF_ARGS:-}" ]; then read -r -a zmlx_args <<<"$ZMLX_PERF_ARGS"; fi
if [ -n "${PEERS_ARGS:-}" ]; then read -r -a peers_args <<<"$PEERS_ARGS"; fi
ops_args=()
[ -n "$ops" ] && ops_args=(--ops "$ops")

t_start=$(zmlx_now)
deadline=${CATALOG_DEADLINE:-570}
# limit WANT RESERVE: WANT seconds, or what the deadline leaves after
# RESERVE seconds for the later stages (at least 10).
limit() {
  local want=$1 left
  [ "$deadline" -gt 0 ] 2>/dev/null || { echo "$want"; return; }
  left=$(( deadline - ($(zmlx_now) - t_start) - $2 ))
  [ "$left" -lt "$want" ] && want=$left
  [ "$want" -lt 10 ] && want=10
  echo "$want"
}

stage() { echo; echo "==== $*"; }
# run_stage NAME SECONDS LOG CMD...: the command under a time limit, its
# output shown and kept; returns its exit status (124: timed out).
run_stage() {
  local name=$1 limit=$2 log=$3; shift 3
  local t0 rc
  t0=$(zmlx_now)
  timeout --kill-after=15 "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "$name: stopped after ${limit}s (time limit)" >&2
  fi
  echo "$name: exit $rc in $(( $(zmlx_now) - t0 ))s"
  return "$rc"
}

if ! pattern=$(python3 "$peers" --zmlx-pattern "${ops_args[@]}"); then
  echo "run_catalog: catalog_peers.py cannot list its ops" >&2
  exit 1
fi
[ "${CATALOG_ALL:-0}" = 1 ] && pattern=""

if [ "${SKIP_ZMLX:-0}" != 1 ]; then
  stage "build ($build: zmlx, tests/test_catalog)"
  t0=$(zmlx_now)
  if [ ! -f "$build/CMakeCache.txt" ]; then
    zmlx_configure "$build" -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 || {
      tail -n 40 "$out/build.log"; echo "run_catalog: configure failed" >&2; exit 1; }
  fi
  if ! timeout "$(limit "${BUILD_TIMEOUT:-900}" 120)" cmake --build "$build" --target zmlx_cli test_catalog \
       --parallel "$(nproc 2>/dev/null || echo 4)" >>"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log"
    echo "run_catalog: build failed; see $out/build.log" >&2
    exit 1
  fi
  echo "built in $(( $(zmlx_now) - t0 ))s"

  stage "zmlx: test_catalog perf -b cuda --dtype $dtype${pattern:+ -k $pattern}"
  rm -f "$zjson"
  kargs=()
  [ -n "$pattern" ] && kargs=(-k "$pattern")
  run_stage "zmlx catalog perf" "$(limit "${ZMLX_PERF_TIMEOUT:-300}" 75)" "$out/zmlx_catalog.log" \
    "$build/tests/test_catalog" perf -b cuda --dtype "$dtype" "${kargs[@]}" --json "$zjson" \
    "${zmlx_args[@]}" || status=1
elif [ ! -f "$zjson" ]; then
  echo "run_catalog: SKIP_ZMLX=1 but there is no $zjson" >&2
  status=1
fi

if [ "${SKIP_PEERS:-0}" != 1 ]; then
  stage "peers (bench/peers/catalog_peers.py)"
  rm -f "$pjson"
  zarg=()
  [ -f "$zjson" ] && zarg=(--zmlx "$zjson")
  plimit=$(limit "${PEERS_TIMEOUT:-480}" 15)
  budget=$(( plimit > 90 ? plimit - 45 : plimit * 2 / 3 ))
  run_stage "catalog peers" "$plimit" "$out/catalog_peers.log" \
    python3 "$peers" --json "$pjson" --dtype "$dtype" --budget-s "$budget" "${zarg[@]}" \
    "${ops_args[@]}" "${peers_args[@]}" || status=1
fi

stage "side by side ($report)"
zmlx_bin=$build/zmlx
caps=()
[ -f "$zjson" ] && caps+=("$zjson")
[ -f "$pjson" ] && caps+=("$pjson")
if [ "${#caps[@]}" -eq 0 ]; then
  echo "run_catalog: no capsule was written" >&2
  exit 1
fi
: >"$report"
if [ -f "$zjson" ] && [ -f "$pjson" ]; then
  python3 "$peers" --summary "$zjson" "$pjson" >>"$report" || status=1
fi
if [ -x "$zmlx_bin" ]; then
  "$zmlx_bin" report "${caps[@]}" >>"$report" || status=1
else
  echo "run_catalog: no $zmlx_bin for the full report" >&2
  status=1
fi
cat "$report"
echo
echo "report: $report (capsules: ${caps[*]})"
exit "$status"
