/* Launch-shape knobs ($ZMLX_TUNE_*), multiprocessor counts and vector
 * widths for reduce, map_reduce and scan. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "author/red_internal.h"
#include "core/error.h"

/* row_unroll 8 and col_unroll 8: measured best on the H100 for bf16
 * (scripts/sweep_reduce.sh: row sum 88% -> 96% of copy, (64,4096,256)
 * middle axis 76% -> 81%). */
static zr_tuning tuning = {.row_unroll = 8, .row_max_tpr = 1024, .col_threads = 256,
                           .col_unroll = 8, .split_blocks = 16, .split_min = 4096, .mr_nv = 4,
                           .mr_max_nv = 8, .mr_unroll = 4, .scan_nv = 1, .scan_max_tpr = 1024};
static pthread_once_t tuning_once = PTHREAD_ONCE_INIT;

/* Powers of two where a knob sizes a block or an unrolled loop. */
static void knob(const char *name, int *v, int lo, int hi, int pow2) {
  char var[64];
  snprintf(var, sizeof var, "ZMLX_TUNE_%s", name);
  const char *s = zmlx_env(var);
  if (!s || !s[0]) return;
  long n = strtol(s, NULL, 10);
  if (n < lo || n > hi || (pow2 && (n & (n - 1)))) {
    zmlx_log(ZMLX_LOG_WARN, "%s=%s ignored (%d to %d%s)", var, s, lo, hi, pow2 ? ", a power of two" : "");
    return;
  }
  *v = (int)n;
}

static void read_tuning(void) {
  knob("ROW_UNROLL", &tuning.row_unroll, 1, 16, 0);
  knob("ROW_MAX_TPR", &tuning.row_max_tpr, 32, 1024, 1);
  knob("COL_THREADS", &tuning.col_threads, 32, 1024, 1);
  knob("COL_UNROLL", &tuning.col_unroll, 1, 16, 0);
  knob("SPLIT_BLOCKS", &tuning.split_blocks, 1, 1024, 0);
  knob("SPLIT_MIN", &tuning.split_min, 64, 1 << 30, 0);
  knob("MR_NV", &tuning.mr_nv, 1, 16, 0);
  knob("MR_MAX_NV", &tuning.mr_max_nv, 1, 32, 0);
  knob("MR_UNROLL", &tuning.mr_unroll, 1, 16, 0);
  knob("SCAN_NV", &tuning.scan_nv, 1, 16, 0);
  knob("SCAN_MAX_TPR", &tuning.scan_max_tpr, 32, 1024, 1);
}

const zr_tuning *zr_tune(void) {
  pthread_once(&tuning_once, read_tuning);
  return &tuning;
}

#define SMS_CACHED 64
static _Atomic int sms_cache[SMS_CACHED];

int zr_device_sms(zmlx_device dev) {
  if (dev.type != ZMLX_DEVICE_CUDA) return 8;
  int i = dev.index;
  int v = i >= 0 && i < SMS_CACHED ? atomic_load(&sms_cache[i]) : 0;
  if (v > 0) return v;
  zmlx_device_info info;
  v = zmlx_device_info_get(dev, &info) == ZMLX_STATUS_OK && info.sm_count > 0 ? info.sm_count : 132;
  if (i >= 0 && i < SMS_CACHED) atomic_store(&sms_cache[i], v);
  return v;
}

int zr_pow2_clamp(int64_t v, int lo, int hi) {
  int p = lo;
  while (p < hi && p < v) p *= 2;
  return p;
}

int zr_vec_for(size_t esize, int n_mults, const int64_t *mults, int n_ptrs, void *const *ptrs,
               const size_t *sizes) {
  int vec = esize >= 16 ? 1 : (int)(16 / esize);
  for (; vec > 1; vec /= 2) {
    int ok = 1;
    for (int i = 0; i < n_mults && ok; i++) ok = mults[i] % vec == 0;
    for (int i = 0; i < n_ptrs && ok; i++)
      ok = !ptrs[i] || (uintptr_t)ptrs[i] % ((size_t)vec * sizes[i]) == 0;
    if (ok) break;
  }
  return vec;
}

