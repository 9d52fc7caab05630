/* The caching device allocator.
 *
 * Requests are rounded up (512 B granularity below 1 MiB, 2 MiB above).
 * Freed blocks stay cached per device in a list sorted by size; a request
 * takes the smallest cached block that fits and wastes at most a quarter of
 * it (best fit), preferring one last used on the same stream. A block
 * remembers the stream it was last used on: reusing it on another stream
 * first synchronizes that stream. On CUDA_ERROR_OUT_OF_MEMORY the device's
 * cache is released and the allocation retried once. ZMLX_ALLOC_CACHE=0
 * (read once, at first use) allocates exact sizes and frees at once.
 * Live blocks are found by pointer in a hash table, so mem_free's byte
 * count is only a cross-check. One mutex per device; no driver call is
 * made with it held except in release paths. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#define SMALL_LIMIT ((size_t)1 << 20)
#define SMALL_ROUND ((size_t)512)
#define LARGE_ROUND ((size_t)2 << 20)

typedef struct cblock {
  CUdeviceptr ptr;
  size_t size;
  CUstream stream; /* last used on */
  int clean;       /* no work pending on it: reuse needs no sync */
} cblock;

typedef struct lblock {
  CUdeviceptr ptr; /* 0: empty slot */
  size_t size;
} lblock;

typedef struct pool {
  pthread_mutex_t mu;
  cblock *free;            /* sorted by (size, ptr) */
  size_t nfree, capfree;
  lblock *live;            /* open addressing, linear probing */
  size_t nlive, caplive;   /* caplive: 0 or a power of two */
  zmlx_alloc_stats st;
} pool;

static pool g_pools[ZC_MAX_DEVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_cache_on = 1;
static _Atomic int g_after_shutdown;

static void init_once(void) {
  for (int i = 0; i < ZC_MAX_DEVICES; i++) pthread_mutex_init(&g_pools[i].mu, NULL);
  g_cache_on = zmlx_env_flag("ZMLX_ALLOC_CACHE", 1);
}

static pool *get_pool(int dev) {
  pthread_once(&g_once, init_once);
  return &g_pools[dev];
}

/* ---- live-block hash table ------------------------------------------------ */
static size_t hslot(CUdeviceptr p, size_t cap) {
  uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (cap - 1);
}

static int live_grow(pool *P) {
  size_t ncap = P->caplive ? P->caplive * 2 : 256;
  lblock *t = calloc(ncap, sizeof *t);
  if (!t) return 0;
  for (size_t i = 0; i < P->caplive; i++) {
    if (!P->live[i].ptr) continue;
    size_t j = hslot(P->live[i].ptr, ncap);
    while (t[j].ptr) j = (j + 1) & (ncap - 1);
    t[j] = P->live[i];
  }
  free(P->live);
  P->live = t;
  P->caplive = ncap;
  return 1;
}

static int live_insert(pool *P, CUdeviceptr p, size_t size) {
  if ((P->nlive + 1) * 2 > P->caplive && !live_grow(P)) return 0;
  size_t j = hslot(p, P->caplive);
  while (P->live[j].ptr) j = (j + 1) & (P->caplive - 1);
  P->live[j].ptr = p;
  P->live[j].size = size;
  P->nlive++;
  return 1;
}

/* Removes p; returns its size, or 0 if p is not live. */
static size_t live_remove(pool *P, CUdeviceptr p) {
  if (!P->caplive) return 0;
  size_t mask = P->caplive - 1, j = hslot(p, P->caplive);
  while (P->live[j].ptr && P->live[j].ptr != p) j = (j + 1) & mask;
  if (!P->live[j].ptr) return 0;
  size_t size = P->live[j].size;
  /* Backward-shift deletion: no tombstones. */
  size_t hole = j;
  for (size_t k = (j + 1) & mask; P->live[k].ptr; k = (k + 1) & mask) {
    size_t home = hslot(P->live[k].ptr, P->caplive);
    /* Move k into the hole unless its home lies cyclically in (hole, k]. */
    int between = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
    if (!between) {
      P->live[hole] = P->live[k];
      hole = k;
    }
  }
  P->live[hole].ptr = 0;
  P->live[hole].size = 0;
  P->nlive--;
  return size;
}

/* ---- the sorted free list ---------------------------------------------------- */
static size_t lower_bound(const pool *P, size_t size) {
  size_t lo = 0, hi = P->nfree;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (P->free[mid].size < size) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int free_insert(pool *P, cblock b) {
  if (P->nfree == P->capfree) {
    size_t ncap = P->capfree ? P->capfree * 2 : 64;
    cblock *t = realloc(P->free, ncap * sizeof *t);
    if (!t) return 0;
    P->free = t;
    P->capfree = ncap;
  }
  size_t i = lower_bound(P, b.size);
  while (i < P->nfree && P->free[i].size == b.size && P->free[i].ptr < b.ptr) i++;
  memmove(P->free + i + 1, P->free + i, (P->nfree - i) * sizeof *P->free);
  P->free[i] = b;
  P->nfree++;
  P->st.bytes_cached += b.size;
  return 1;
}

static cblock free_take(pool *P, size_t i) {
  cblock b = P->free[i];
  memmove(P->free + i, P->free + i + 1, (P->nfree - i - 1) * sizeof *P->free);
  P->nfree--;
  P->st.bytes_cached -= b.size;
  return b;
}

static void note_in_use(pool *P, size_t size) {
  P->st.bytes_in_use += size;
  if (P->st.bytes_in_use > P->st.peak_in_use) P->st.peak_in_use = P->st.bytes_in_use;
}

/* Moves every cached block out of the pool (with P->mu held); the caller
 * frees them with the lock dropped. */
static cblock *take_all_cached(pool *P, size_t *n) {
  cblock *all = P->free;
  *n = P->nfree;
  P->free = NULL;
  P->nfree = P->capfree = 0;
  P->st.bytes_cached = 0;
  return all;
}

/* With dev's context current and no lock held. Cached blocks may still be
 * read or written by queued work, so the device is synchronized first. */
static zmlx_status free_blocks(int dev, cblock *blocks, size_t n, const char *op) {
  zmlx_status s = ZMLX_STATUS_OK;
  if (n > 0) {
    CUresult r = zc_cu->cuCtxSynchronize();
    if (r != CUDA_SUCCESS) s = zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, "cuCtxSynchronize");
  }
  for (size_t i = 0; i < n; i++) {
    CUresult r = zc_cu->cuMemFree(blocks[i].ptr);
    if (r != CUDA_SUCCESS && s == ZMLX_STATUS_OK)
      s = zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, "cuMemFree");
  }
  free(blocks);
  return s;
}

static size_t round_size(size_t bytes) {
  if (bytes < SMALL_LIMIT) return (bytes + SMALL_ROUND - 1) & ~(SMALL_ROUND - 1);
  if (bytes > SIZE_MAX - LARGE_ROUND) return 0;
  return (bytes + LARGE_ROUND - 1) & ~(LARGE_ROUND - 1);
}

/* Try to serve `size` from the cache: *hit = 1 and *out set on a hit. */
static zmlx_status take_cached(int dev, pool *P, size_t size, CUstream s,
                               CUdeviceptr *out, int *hit) {
  const char *op = "cuda.mem_alloc";
  *hit = 0;
  pthread_mutex_lock(&P->mu);
  P->st.n_alloc++;
  size_t limit = size + size / 4;
  size_t i0 = lower_bound(P, size), pick = (size_t)-1;
  for (size_t i = i0, k = 0; i < P->nfree && P->free[i].size <= limit && k < 32; i++, k++) {
    if (P->free[i].clean || P->free[i].stream == s) {
      pick = i;
      break;
    }
  }
  if (pick == (size_t)-1 && i0 < P->nfree && P->free[i0].size <= limit) pick = i0;
  if (pick == (size_t)-1) {
    pthread_mutex_unlock(&P->mu);
    return ZMLX_STATUS_OK;
  }
  cblock b = free_take(P, pick);
  if (!live_insert(P, b.ptr, b.size)) {
    free_insert(P, b);
    pthread_mutex_unlock(&P->mu);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "host memory exhausted (allocator table)");
  }
  note_in_use(P, b.size);
  P->st.n_reuse++;
  pthread_mutex_unlock(&P->mu);

  if (!b.clean && b.stream != s) {
    /* Work queued on the other stream may still use the block. */
    CUresult r = zc_cu->cuStreamSynchronize(b.stream);
    if (r != CUDA_SUCCESS) {
      pthread_mutex_lock(&P->mu);
      live_remove(P, b.ptr);
      P->st.bytes_in_use -= b.size;
      free_insert(P, b);
      pthread_mutex_unlock(&P->mu);
      return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev,
                        "cuStreamSynchronize (reusing a cached block)");
    }
    /* Everything cached from that stream is now idle too. */
    pthread_mutex_lock(&P->mu);
    for (size_t i = 0; i < P->nfree; i++)
      if (P->free[i].stream == b.stream) P->free[i].clean = 1;
    pthread_mutex_unlock(&P->mu);
  }
  *out = b.ptr;
  *hit = 1;
  return ZMLX_STATUS_OK;
}

zmlx_status zc_mem_alloc(int dev, size_t bytes, void *stream, void **out) {
  const char *op = "cuda.mem_alloc";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL output");
  *out = NULL;
  if (bytes == 0) return ZMLX_STATUS_OK;
  ZMLX_TRY(zc_enter(dev, op));
  pool *P = get_pool(dev);
  CUstream s = (CUstream)stream;
  size_t size = g_cache_on ? round_size(bytes) : bytes;
  if (size == 0)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op,
                     "cannot allocate %zu bytes on cuda:%d: larger than any device",
                     bytes, dev);

  CUdeviceptr p = 0;
  if (g_cache_on) {
    int hit = 0;
    ZMLX_TRY(take_cached(dev, P, size, s, &p, &hit));
    if (hit) {
      *out = (void *)(uintptr_t)p;
      return ZMLX_STATUS_OK;
    }
  } else {
    pthread_mutex_lock(&P->mu);
    P->st.n_alloc++;
    pthread_mutex_unlock(&P->mu);
  }

  CUresult r = zc_cu->cuMemAlloc(&p, size);
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t n = 0;
    pthread_mutex_lock(&P->mu);
    cblock *all = take_all_cached(P, &n);
    P->st.n_oom_retry++;
    pthread_mutex_unlock(&P->mu);
    zmlx_log(ZMLX_LOG_DEBUG, "cuda: out of memory for %zu bytes on cuda:%d; "
             "releasing %zu cached blocks and retrying", size, dev, n);
    free_blocks(dev, all, n, op);
    r = zc_cu->cuMemAlloc(&p, size);
  }
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t fr = 0, tot = 0;
    zc_cu->cuMemGetInfo(&fr, &tot);
    pthread_mutex_lock(&P->mu);
    zmlx_alloc_stats st = P->st;
    pthread_mutex_unlock(&P->mu);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op,
                     "out of memory allocating %zu bytes (%.2f GiB) on cuda:%d: "
                     "%llu bytes in use by ZMLX, %llu cached, device has %zu free of %zu "
                     "bytes (%.2f of %.2f GiB)",
                     bytes, (double)bytes / (1u << 30), dev,
                     (unsigned long long)st.bytes_in_use,
                     (unsigned long long)st.bytes_cached, fr, tot,
                     (double)fr / (1u << 30), (double)tot / (1u << 30));
  }
  if (r != CUDA_SUCCESS) {
    char what[96];
    snprintf(what, sizeof what, "cuMemAlloc(%zu bytes)", size);
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, what);
  }
  pthread_mutex_lock(&P->mu);
  if (!live_insert(P, p, size)) {
    pthread_mutex_unlock(&P->mu);
    zc_cu->cuMemFree(p);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "host memory exhausted (allocator table)");
  }
  P->st.n_device_alloc++;
  note_in_use(P, size);
  pthread_mutex_unlock(&P->mu);
  *out = (void *)(uintptr_t)p;
  return ZMLX_STATUS_OK;
}

void zc_mem_free(int dev, void *ptr, size_t bytes, void *stream) {
  const char *op = "cuda.mem_free";
  if (!ptr) return;
  if (dev < 0 || dev >= atomic_load(&zc_ndev)) {
    zmlx_log(ZMLX_LOG_WARN, "%s: %p on cuda:%d, which does not exist", op, ptr, dev);
    return;
  }
  pool *P = get_pool(dev);
  CUdeviceptr p = zc_dptr(ptr);
  pthread_mutex_lock(&P->mu);
  size_t size = live_remove(P, p);
  if (size == 0) {
    pthread_mutex_unlock(&P->mu);
    zmlx_log(atomic_load(&g_after_shutdown) ? ZMLX_LOG_DEBUG : ZMLX_LOG_WARN,
             "%s: %p (%zu bytes) is not a live allocation on cuda:%d; ignored",
             op, ptr, bytes, dev);
    return;
  }
  if (bytes > size)
    zmlx_log(ZMLX_LOG_WARN, "%s: %p freed as %zu bytes but holds %zu", op, ptr, bytes, size);
  P->st.bytes_in_use -= size;
  if (g_cache_on) {
    cblock b = {p, size, (CUstream)stream, 0};
    int ok = free_insert(P, b);
    pthread_mutex_unlock(&P->mu);
    if (ok) return;
    /* No host memory for the list: give the block back instead. */
    if (zc_enter(dev, op) == ZMLX_STATUS_OK) {
      zc_cu->cuStreamSynchronize((CUstream)stream);
      zc_cu->cuMemFree(p);
    }
    return;
  }
  pthread_mutex_unlock(&P->mu);
  if (zc_enter(dev, op) != ZMLX_STATUS_OK) {
    zmlx_log(ZMLX_LOG_WARN, "%s", zmlx_error_last());
    return;
  }
  CUresult r = zc_cu->cuMemFree(p);
  if (r != CUDA_SUCCESS)
    zmlx_log(ZMLX_LOG_WARN, "%s: cuMemFree(%p) failed: %s (%s) on cuda:%d", op, ptr,
             zc_err_name(r), zc_err_string(r), dev);
}

zmlx_status zc_mem_stats(int dev, zmlx_alloc_stats *out) {
  const char *op = "cuda.mem_stats";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL output");
  if (dev < 0 || dev >= zc_device_count())
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "cuda:%d does not exist", dev);
  pool *P = get_pool(dev);
  pthread_mutex_lock(&P->mu);
  *out = P->st;
  pthread_mutex_unlock(&P->mu);
  return ZMLX_STATUS_OK;
}

zmlx_status zc_mem_reset_peak(int dev) {
  if (dev < 0 || dev >= zc_device_count())
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "cuda.mem_reset_peak", "cuda:%d does not exist",
                     dev);
  pool *P = get_pool(dev);
  pthread_mutex_lock(&P->mu);
  P->st.peak_in_use = P->st.bytes_in_use;
  pthread_mutex_unlock(&P->mu);
  return ZMLX_STATUS_OK;
}

zmlx_status zc_mem_release_cache(int dev) {
  const char *op = "cuda.mem_release_cache";
  ZMLX_TRY(zc_enter(dev, op));
  pool *P = get_pool(dev);
  size_t n = 0;
  pthread_mutex_lock(&P->mu);
  cblock *all = take_all_cached(P, &n);
  pthread_mutex_unlock(&P->mu);
  return free_blocks(dev, all, n, op);
}

void zc_alloc_forget_stream(int dev, CUstream s) {
  if (dev < 0 || dev >= ZC_MAX_DEVICES) return;
  pool *P = get_pool(dev);
  pthread_mutex_lock(&P->mu);
  for (size_t i = 0; i < P->nfree; i++)
    if (P->free[i].stream == s) {
      P->free[i].clean = 1;
      P->free[i].stream = NULL;
    }
  pthread_mutex_unlock(&P->mu);
}

void zc_alloc_shutdown_dev(int dev) {
  pool *P = get_pool(dev);
  size_t n = 0;
  pthread_mutex_lock(&P->mu);
  cblock *all = take_all_cached(P, &n);
  if (P->nlive)
    zmlx_log(ZMLX_LOG_DEBUG, "cuda: shutdown with %zu live blocks (%llu bytes) on cuda:%d",
             P->nlive, (unsigned long long)P->st.bytes_in_use, dev);
  free(P->live);
  P->live = NULL;
  P->nlive = P->caplive = 0;
  memset(&P->st, 0, sizeof P->st);
  atomic_store(&g_after_shutdown, 1);
  pthread_mutex_unlock(&P->mu);
  if (free_blocks(dev, all, n, "cuda.shutdown") != ZMLX_STATUS_OK)
    zmlx_log(ZMLX_LOG_WARN, "%s", zmlx_error_last());
}
