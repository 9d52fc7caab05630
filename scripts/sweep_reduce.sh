#!/usr/bin/env bash
# Sweep the reduction kernels' launch knobs ($ZMLX_TUNE_*) on the GPU and
# print zmlx bench's GB/s for each setting, to choose the defaults.
#   bash scripts/sweep_reduce.sh [build-dir]
set -uo pipefail
build=${1:-build-gpu}
zmlx=$build/zmlx
ops=${SWEEP_OPS:-row_sum,row_max,argmax,mid_sum,softmax,log_softmax,layernorm,cumsum}
run() { # label, then VAR=value pairs
  local label=$1; shift
  echo "== $label"
  env "$@" "$zmlx" bench --ops "$ops" --dtype "${SWEEP_DTYPE:-bf16}" --iters 30 --copy-mib 256 2>&1 |
    awk '/^(row_|argmax|mid_|softmax|log_|layernorm|cumsum)/ {printf "  %-12s %-5s %8s us %8s GB/s %6s%%\n", $1, $2, $4, $5, $6}'
}
run "defaults"
for nv in 2 8 16; do run "MR_NV=$nv" ZMLX_TUNE_MR_NV=$nv; done
for u in 2 8 16; do run "ROW_UNROLL=$u" ZMLX_TUNE_ROW_UNROLL=$u; done
for c in 128 512; do run "COL_THREADS=$c" ZMLX_TUNE_COL_THREADS=$c; done
for u in 2 8; do run "COL_UNROLL=$u" ZMLX_TUNE_COL_UNROLL=$u; done
for s in 2 4; do run "SCAN_NV=$s" ZMLX_TUNE_SCAN_NV=$s; done
