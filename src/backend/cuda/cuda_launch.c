/* Kernel launch: total grid points per dimension become blocks; dynamic
 * shared memory above 48 KiB is opted in once per function.
 *
 * The opt-in (cuFuncSetAttribute) is remembered per function: a global
 * table under a mutex holds the largest value set so far (it only grows,
 * so concurrent launches never lower it under each other), and a small
 * thread-local cache in front of it keeps the common launch lock-free.
 * Unloading any module bumps a generation that empties both. */
#include <pthread.h>
#include <stdio.h>

#include "backend/cuda/cuda_internal.h"

#define SMEM_DEFAULT_MAX (48u * 1024u)
#define GLOBAL_SLOTS 1024
#define LOCAL_SLOTS 64

typedef struct smem_entry {
  CUfunction fn;
  unsigned bytes;
  unsigned gen;
} smem_entry;

static _Atomic unsigned g_gen = 1;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static smem_entry g_table[GLOBAL_SLOTS];
static unsigned g_table_gen;
static unsigned g_table_n;
static _Thread_local smem_entry t_cache[LOCAL_SLOTS];

void zc_launch_forget_functions(void) { atomic_fetch_add(&g_gen, 1); }

static size_t fn_slot(CUfunction fn, size_t n) {
  uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (n - 1);
}

static zmlx_status opt_in_shared(int dev, CUfunction fn, unsigned shared) {
  unsigned gen = atomic_load_explicit(&g_gen, memory_order_acquire);
  smem_entry *t = &t_cache[fn_slot(fn, LOCAL_SLOTS)];
  if (t->fn == fn && t->gen == gen && t->bytes >= shared) return ZMLX_STATUS_OK;

  pthread_mutex_lock(&g_mu);
  if (g_table_gen != gen || g_table_n * 2 >= GLOBAL_SLOTS) {
    for (size_t i = 0; i < GLOBAL_SLOTS; i++) g_table[i].fn = NULL;
    g_table_gen = gen;
    g_table_n = 0;
  }
  size_t j = fn_slot(fn, GLOBAL_SLOTS);
  while (g_table[j].fn && g_table[j].fn != fn) j = (j + 1) & (GLOBAL_SLOTS - 1);
  unsigned want = shared;
  if (g_table[j].fn == fn && g_table[j].bytes > want) want = g_table[j].bytes;
  CUresult r = CUDA_SUCCESS;
  if (g_table[j].fn != fn || g_table[j].bytes < want)
    r = zc_cu->cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)want);
  if (r == CUDA_SUCCESS) {
    if (g_table[j].fn != fn) g_table_n++;
    g_table[j].fn = fn;
    g_table[j].bytes = want;
  }
  pthread_mutex_unlock(&g_mu);
  if (r != CUDA_SUCCESS) {
    char what[128];
    snprintf(what, sizeof what,
             "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, %u)", shared);
    return zc_fail_cu(ZMLX_STATUS_LAUNCH_FAILED, "cuda.launch", r, dev, what);
  }
  t->fn = fn;
  t->gen = gen;
  t->bytes = want;
  return ZMLX_STATUS_OK;
}

zmlx_status zc_launch(int dev, void *function, const int64_t grid[3],
                      const int block[3], unsigned shared_bytes, void **params,
                      void *stream) {
  const char *op = "cuda.launch";
  if (!function || !grid)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL function or grid");
  ZMLX_TRY(zc_enter(dev, op));
  const zc_dev *d = &zc_devs[dev];
  int64_t b[3] = {block && block[0] ? block[0] : 256, block && block[1] ? block[1] : 1,
                  block && block[2] ? block[2] : 1};
  int64_t mt = d->max_threads_per_block;
  if (b[0] < 0 || b[1] < 0 || b[2] < 0 || b[0] > mt || b[1] > mt || b[2] > mt ||
      b[0] * b[1] * b[2] > mt)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "block (%lld, %lld, %lld) is not 1 to %d threads on cuda:%d",
                     (long long)b[0], (long long)b[1], (long long)b[2],
                     d->max_threads_per_block, dev);
  int64_t g[3];
  for (int i = 0; i < 3; i++) {
    if (grid[i] < 0)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "grid (%lld, %lld, %lld) has a negative extent", (long long)grid[0],
                       (long long)grid[1], (long long)grid[2]);
    if (grid[i] == 0) return ZMLX_STATUS_OK; /* no points: nothing to run */
    g[i] = grid[i] / b[i] + (grid[i] % b[i] != 0);
  }
  for (int i = 0; i < 3; i++) {
    if (g[i] > d->max_grid[i])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "grid of (%lld, %lld, %lld) points in blocks of (%lld, %lld, %lld) "
                       "needs %lld blocks in %c, more than the %d cuda:%d allows",
                       (long long)grid[0], (long long)grid[1], (long long)grid[2],
                       (long long)b[0], (long long)b[1], (long long)b[2], (long long)g[i],
                       "xyz"[i], d->max_grid[i], dev);
  }
  CUfunction fn = (CUfunction)function;
  if (shared_bytes > SMEM_DEFAULT_MAX) {
    if (shared_bytes > (unsigned)d->max_smem_optin)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "%u bytes of dynamic shared memory exceed the %d a block can "
                       "have on cuda:%d",
                       shared_bytes, d->max_smem_optin, dev);
    ZMLX_TRY(opt_in_shared(dev, fn, shared_bytes));
  }
  CUresult r = zc_cu->cuLaunchKernel(fn, (unsigned)g[0], (unsigned)g[1], (unsigned)g[2],
                                     (unsigned)b[0], (unsigned)b[1], (unsigned)b[2],
                                     shared_bytes, (CUstream)stream, params, NULL);
  if (r != CUDA_SUCCESS) {
    char what[200];
    snprintf(what, sizeof what,
             "cuLaunchKernel (blocks (%lld, %lld, %lld) of (%lld, %lld, %lld) threads, "
             "%u bytes shared)",
             (long long)g[0], (long long)g[1], (long long)g[2], (long long)b[0],
             (long long)b[1], (long long)b[2], shared_bytes);
    return zc_fail_cu(ZMLX_STATUS_LAUNCH_FAILED, op, r, dev, what);
  }
  return ZMLX_STATUS_OK;
}
