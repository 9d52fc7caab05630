#ifndef ZMLX_BACKEND_CUDA_INTERNAL_H
#define ZMLX_BACKEND_CUDA_INTERNAL_H
/* Private to src/backend/cuda: the per-device state and the helpers every
 * file of the CUDA backend shares. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/cuda/cuda_api.h"
#include "core/error.h"
#include "zmlx/device.h"

#define ZC_MAX_DEVICES 64

typedef struct zc_dev {
  /* The retained primary context; NULL until the device is first used. */
  _Atomic(CUcontext) ctx;
  CUdevice cu;
  int cc_major, cc_minor;
  int sm_count;
  int max_threads_per_block;
  int max_grid[3];
  int max_smem_optin; /* bytes of dynamic shared memory a block may opt in to */
} zc_dev;

extern zc_dev zc_devs[ZC_MAX_DEVICES];
/* Number of devices; 0 until probe succeeds. Shutdown keeps it (the driver
 * stays initialized) and clears each ctx, so later use retains again. */
extern _Atomic int zc_ndev;

/* Probes once (cached); DEVICE_UNAVAILABLE with the reason otherwise. */
zmlx_status zc_probe(char *why, size_t why_len);

/* Probe and range-check dev, without touching its context. */
zmlx_status zc_check_dev(int dev, const char *op);

/* Make the primary context of dev current on this thread (retaining it on
 * first use). Every entry point calls it; the fast path is an atomic load
 * and one cuCtxGetCurrent, which reads a thread-local in the driver, so it
 * stays correct when other code (PyTorch) switches the context. */
zmlx_status zc_enter_slow(int dev, const char *op);
static inline zmlx_status zc_enter(int dev, const char *op) {
  if (__builtin_expect(dev >= 0 && dev < atomic_load_explicit(&zc_ndev, memory_order_acquire), 1)) {
    CUcontext want = atomic_load_explicit(&zc_devs[dev].ctx, memory_order_acquire);
    CUcontext cur = NULL;
    if (want && zc_cu->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == want)
      return ZMLX_STATUS_OK;
  }
  return zc_enter_slow(dev, op);
}

/* "<what> failed: CUDA_ERROR_X (text) on cuda:<dev>" as the last error.
 * CUDA_ERROR_OUT_OF_MEMORY becomes OUT_OF_MEMORY whatever s says. */
zmlx_status zc_fail_cu(zmlx_status s, const char *op, CUresult r, int dev,
                       const char *what);

/* Check a driver call; on failure set the error and return from the
 * enclosing function with BACKEND_ERROR (or OUT_OF_MEMORY). */
#define ZC_CALL(dev, op, what, expr)                                        \
  do {                                                                      \
    CUresult zc_r_ = (expr);                                                \
    if (zc_r_ != CUDA_SUCCESS)                                              \
      return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, (op), zc_r_, (dev), (what)); \
  } while (0)

static inline CUdeviceptr zc_dptr(const void *p) {
  return (CUdeviceptr)(uintptr_t)p;
}

/* ---- cross-file hooks (each file owns its state) ------------------------ */
/* Shutdown, called with dev's context current, before it is released. */
void zc_alloc_shutdown_dev(int dev);
void zc_copy_shutdown_dev(int dev);
void zc_fill_shutdown_dev(int dev);
/* A stream was synchronized and destroyed: cached blocks last used on it
 * need no further synchronization. */
void zc_alloc_forget_stream(int dev, CUstream s);
/* A module was unloaded: forget per-function launch settings. */
void zc_launch_forget_functions(void);

/* ---- the backend's entry points, by file -------------------------------- */
/* cuda_device.c */
zmlx_status zc_backend_probe(char *why, size_t why_len);
int zc_device_count(void);
zmlx_status zc_device_info(int dev, zmlx_device_info *out);
zmlx_status zc_synchronize(int dev);
void zc_shutdown(void);
/* cuda_alloc.c */
zmlx_status zc_mem_alloc(int dev, size_t bytes, void *stream, void **out);
void zc_mem_free(int dev, void *ptr, size_t bytes, void *stream);
zmlx_status zc_mem_stats(int dev, zmlx_alloc_stats *out);
zmlx_status zc_mem_release_cache(int dev);
zmlx_status zc_mem_reset_peak(int dev);
/* cuda_fill.c */
zmlx_status zc_mem_fill(int dev, void *dst, size_t n, const void *pattern,
                        size_t elem_size, void *stream);
/* The strided fallback of mem_fill (any alignment), exposed for tests. */
zmlx_status zc_fill_columns(int dev, void *dst, size_t n, const unsigned char *pat,
                            size_t elem_size, CUstream s);
/* cuda_hostcopy.c: memcpy split across helper threads for large sizes. */
void zc_memcpy_par(void *dst, const void *src, size_t n);
void zc_hostcopy_shutdown(void);
/* cuda_copy.c */
zmlx_status zc_copy_h2d(int dev, void *dst, const void *src, size_t bytes,
                        void *stream);
zmlx_status zc_copy_d2h(int dev, void *dst, const void *src, size_t bytes,
                        void *stream);
zmlx_status zc_copy_d2d(int dev, void *dst, const void *src, size_t bytes,
                        void *stream);
/* cuda_stream.c */
zmlx_status zc_stream_create(int dev, void **out);
zmlx_status zc_stream_destroy(int dev, void *stream);
zmlx_status zc_stream_synchronize(int dev, void *stream);
zmlx_status zc_stream_wait_event(int dev, void *stream, void *event);
zmlx_status zc_event_create(int dev, void **out);
zmlx_status zc_event_destroy(int dev, void *event);
zmlx_status zc_event_record(int dev, void *event, void *stream);
zmlx_status zc_event_synchronize(int dev, void *event);
zmlx_status zc_event_elapsed_ms(int dev, void *start, void *end, float *ms);
/* cuda_compile.c */
zmlx_status zc_compiler_id(int dev, char *buf, size_t len);
zmlx_status zc_compile(int dev, const char *source, const char *entry,
                       void **binary, size_t *binary_len, char **log);
zmlx_status zc_module_load(int dev, const void *binary, size_t len,
                           const char *path, const char *entry, void **module,
                           void **function);
void zc_module_unload(int dev, void *module);
/* cuda_launch.c */
zmlx_status zc_launch(int dev, void *function, const int64_t grid[3],
                      const int block[3], unsigned shared_bytes, void **params,
                      void *stream);

#endif
