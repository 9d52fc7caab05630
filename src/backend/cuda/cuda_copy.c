/* Host<->device and device<->device copies.
 *
 * Host copies go through two pinned staging buffers per device (allocated
 * lazily), in chunks, double-buffered: while the DMA engine moves one
 * buffer, the CPU fills or drains the other. Each buffer has an event
 * recorded after its last DMA; a buffer is touched again only after its
 * event completed. Large chunks are copied by several CPU threads
 * (cuda_hostcopy.c), as one thread alone is much slower than the DMA.
 * copy_h2d returns once the caller's bytes are in staging (the DMA may
 * still run, ordered on the stream); copy_d2h returns once the bytes are in
 * the caller's memory. Where pinned memory cannot be had, the driver's own
 * pageable copies are used instead. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#define STAGE_BYTES ((size_t)16 << 20)

typedef struct stage {
  pthread_mutex_t mu;
  int tried;      /* lazily set up */
  int pinned;     /* buffers and events exist */
  void *buf[2];
  CUevent ev[2];
  int pending[2]; /* ev[i] recorded since the last wait */
  int next;       /* the buffer h2d uses next */
} stage;

static stage g_stage[ZC_MAX_DEVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
  for (int i = 0; i < ZC_MAX_DEVICES; i++) pthread_mutex_init(&g_stage[i].mu, NULL);
}

static void release(stage *S) {
  for (int i = 0; i < 2; i++) {
    if (S->pending[i] && S->ev[i]) zc_cu->cuEventSynchronize(S->ev[i]);
    if (S->ev[i]) zc_cu->cuEventDestroy(S->ev[i]);
    if (S->buf[i]) zc_cu->cuMemFreeHost(S->buf[i]);
    S->ev[i] = NULL;
    S->buf[i] = NULL;
    S->pending[i] = 0;
  }
  S->pinned = 0;
  S->next = 0;
}

/* With S->mu held and dev's context current. */
static void setup(int dev, stage *S) {
  if (S->tried) return;
  S->tried = 1;
  for (int i = 0; i < 2; i++) {
    CUresult r = zc_cu->cuMemHostAlloc(&S->buf[i], STAGE_BYTES, 0);
    if (r == CUDA_SUCCESS) r = zc_cu->cuEventCreate(&S->ev[i], CU_EVENT_DISABLE_TIMING);
    if (r != CUDA_SUCCESS) {
      zmlx_log(ZMLX_LOG_INFO, "cuda: no pinned staging buffers on cuda:%d (%s); "
               "using pageable copies", dev, zc_err_name(r));
      release(S);
      return;
    }
  }
  S->pinned = 1;
}

static stage *lock_stage(int dev) {
  pthread_once(&g_once, init_once);
  stage *S = &g_stage[dev];
  pthread_mutex_lock(&S->mu);
  setup(dev, S);
  return S;
}

/* Wait until buffer i is free for reuse. */
static CUresult wait_buf(stage *S, int i) {
  if (!S->pending[i]) return CUDA_SUCCESS;
  CUresult r = zc_cu->cuEventSynchronize(S->ev[i]);
  if (r == CUDA_SUCCESS) S->pending[i] = 0;
  return r;
}

static zmlx_status check_args(const char *op, const void *dst, const void *src,
                              size_t bytes) {
  if (bytes && (!dst || !src))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "NULL %s for a copy of %zu bytes", dst ? "source" : "destination",
                     bytes);
  return ZMLX_STATUS_OK;
}

zmlx_status zc_copy_h2d(int dev, void *dst, const void *src, size_t bytes,
                        void *stream) {
  const char *op = "cuda.copy_h2d";
  ZMLX_TRY(check_args(op, dst, src, bytes));
  if (bytes == 0) return ZMLX_STATUS_OK;
  ZMLX_TRY(zc_enter(dev, op));
  CUstream s = (CUstream)stream;
  stage *S = lock_stage(dev);
  CUresult r = CUDA_SUCCESS;
  const char *what = "cuMemcpyHtoDAsync";
  if (!S->pinned) {
    r = zc_cu->cuMemcpyHtoDAsync(zc_dptr(dst), src, bytes, s);
  } else {
    for (size_t off = 0; off < bytes && r == CUDA_SUCCESS;) {
      size_t n = bytes - off < STAGE_BYTES ? bytes - off : STAGE_BYTES;
      int i = S->next;
      what = "cuEventSynchronize (staging buffer)";
      if ((r = wait_buf(S, i)) != CUDA_SUCCESS) break;
      zc_memcpy_par(S->buf[i], (const char *)src + off, n);
      what = "cuMemcpyHtoDAsync";
      if ((r = zc_cu->cuMemcpyHtoDAsync(zc_dptr(dst) + off, S->buf[i], n, s)) != CUDA_SUCCESS)
        break;
      what = "cuEventRecord (staging buffer)";
      S->pending[i] = 1; /* the DMA is queued: never reuse before a wait */
      if ((r = zc_cu->cuEventRecord(S->ev[i], s)) != CUDA_SUCCESS) break;
      S->next = i ^ 1;
      off += n;
    }
  }
  if (r != CUDA_SUCCESS && S->pinned) {
    /* Leave no DMA in flight from a buffer whose event is unreliable. */
    zc_cu->cuStreamSynchronize(s);
    S->pending[0] = S->pending[1] = 0;
  }
  pthread_mutex_unlock(&S->mu);
  if (r != CUDA_SUCCESS) {
    char w[160];
    snprintf(w, sizeof w, "%s (copying %zu bytes to %p)", what, bytes, dst);
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, w);
  }
  return ZMLX_STATUS_OK;
}

/* Queue chunk k of a d2h copy into buffer k&1. */
static CUresult d2h_issue(stage *S, CUdeviceptr src, size_t bytes, size_t k,
                          CUstream s) {
  int i = (int)(k & 1);
  size_t off = k * STAGE_BYTES;
  size_t n = bytes - off < STAGE_BYTES ? bytes - off : STAGE_BYTES;
  CUresult r = wait_buf(S, i);
  if (r != CUDA_SUCCESS) return r;
  r = zc_cu->cuMemcpyDtoHAsync(S->buf[i], src + off, n, s);
  if (r != CUDA_SUCCESS) return r;
  S->pending[i] = 1;
  return zc_cu->cuEventRecord(S->ev[i], s);
}

zmlx_status zc_copy_d2h(int dev, void *dst, const void *src, size_t bytes,
                        void *stream) {
  const char *op = "cuda.copy_d2h";
  ZMLX_TRY(check_args(op, dst, src, bytes));
  if (bytes == 0) return ZMLX_STATUS_OK;
  ZMLX_TRY(zc_enter(dev, op));
  CUstream s = (CUstream)stream;
  stage *S = lock_stage(dev);
  CUresult r = CUDA_SUCCESS;
  const char *what = "cuMemcpyDtoHAsync";
  if (!S->pinned) {
    r = zc_cu->cuMemcpyDtoHAsync(dst, zc_dptr(src), bytes, s);
    what = "cuMemcpyDtoHAsync";
    if (r == CUDA_SUCCESS) {
      what = "cuStreamSynchronize";
      r = zc_cu->cuStreamSynchronize(s);
    }
  } else {
    size_t nchunks = (bytes + STAGE_BYTES - 1) / STAGE_BYTES;
    r = d2h_issue(S, zc_dptr(src), bytes, 0, s);
    if (r == CUDA_SUCCESS && nchunks > 1) r = d2h_issue(S, zc_dptr(src), bytes, 1, s);
    for (size_t k = 0; k < nchunks && r == CUDA_SUCCESS; k++) {
      int i = (int)(k & 1);
      size_t off = k * STAGE_BYTES;
      size_t n = bytes - off < STAGE_BYTES ? bytes - off : STAGE_BYTES;
      what = "cuEventSynchronize (staging buffer)";
      if ((r = wait_buf(S, i)) != CUDA_SUCCESS) break;
      zc_memcpy_par((char *)dst + off, S->buf[i], n);
      what = "cuMemcpyDtoHAsync";
      if (k + 2 < nchunks) r = d2h_issue(S, zc_dptr(src), bytes, k + 2, s);
    }
    if (r != CUDA_SUCCESS) {
      zc_cu->cuStreamSynchronize(s);
      S->pending[0] = S->pending[1] = 0;
    }
  }
  pthread_mutex_unlock(&S->mu);
  if (r != CUDA_SUCCESS) {
    char w[160];
    snprintf(w, sizeof w, "%s (copying %zu bytes from %p)", what, bytes, src);
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, w);
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zc_copy_d2d(int dev, void *dst, const void *src, size_t bytes,
                        void *stream) {
  const char *op = "cuda.copy_d2d";
  ZMLX_TRY(check_args(op, dst, src, bytes));
  if (bytes == 0) return ZMLX_STATUS_OK;
  ZMLX_TRY(zc_enter(dev, op));
  CUresult r = zc_cu->cuMemcpyDtoDAsync(zc_dptr(dst), zc_dptr(src), bytes, (CUstream)stream);
  if (r != CUDA_SUCCESS) {
    char w[160];
    snprintf(w, sizeof w, "cuMemcpyDtoDAsync (%zu bytes, %p -> %p)", bytes, src, dst);
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, w);
  }
  return ZMLX_STATUS_OK;
}

void zc_copy_shutdown_dev(int dev) {
  pthread_once(&g_once, init_once);
  stage *S = &g_stage[dev];
  pthread_mutex_lock(&S->mu);
  release(S);
  S->tried = 0;
  pthread_mutex_unlock(&S->mu);
}
