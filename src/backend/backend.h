#ifndef ZMLX_BACKEND_H
#define ZMLX_BACKEND_H
/* The one interface every backend implements: a struct of function
 * pointers with named slots. The CPU backend is the reference; the CUDA
 * backend is tested against it. `dev` is the device index within the
 * backend. `stream` is the backend's own stream handle (NULL = default). */
#include <stddef.h>
#include <stdint.h>
#include "zmlx/device.h"
#include "zmlx/status.h"

typedef struct zb_backend {
  const char *name;           /* "cpu", "cuda" */
  zmlx_device_type type;

  /* -- discovery: probe once; on failure, why says what is missing */
  zmlx_status (*probe)(char *why, size_t why_len);
  int (*device_count)(void);
  zmlx_status (*device_info)(int dev, zmlx_device_info *out);
  zmlx_status (*synchronize)(int dev);
  void (*shutdown)(void);

  /* -- memory: alloc may return NULL for 0 bytes */
  zmlx_status (*mem_alloc)(int dev, size_t bytes, void *stream, void **out);
  void (*mem_free)(int dev, void *ptr, size_t bytes, void *stream);
  zmlx_status (*mem_stats)(int dev, zmlx_alloc_stats *out);
  zmlx_status (*mem_release_cache)(int dev);
  zmlx_status (*mem_reset_peak)(int dev);  /* peak_in_use = bytes_in_use */
  /* Fill n elements of elem_size bytes (1, 2, 4 or 8) with pattern. */
  zmlx_status (*mem_fill)(int dev, void *dst, size_t n, const void *pattern,
                          size_t elem_size, void *stream);
  zmlx_status (*copy_h2d)(int dev, void *dst, const void *src, size_t bytes,
                          void *stream);
  /* Returns once the bytes are in host memory. */
  zmlx_status (*copy_d2h)(int dev, void *dst, const void *src, size_t bytes,
                          void *stream);
  zmlx_status (*copy_d2d)(int dev, void *dst, const void *src, size_t bytes,
                          void *stream);

  /* -- streams and events */
  zmlx_status (*stream_create)(int dev, void **out);
  zmlx_status (*stream_destroy)(int dev, void *stream);
  zmlx_status (*stream_synchronize)(int dev, void *stream);
  zmlx_status (*stream_wait_event)(int dev, void *stream, void *event);
  zmlx_status (*event_create)(int dev, void **out);
  zmlx_status (*event_destroy)(int dev, void *event);
  zmlx_status (*event_record)(int dev, void *event, void *stream);
  zmlx_status (*event_synchronize)(int dev, void *event);
  zmlx_status (*event_elapsed_ms)(int dev, void *start, void *end, float *ms);

  /* -- run-time compiled kernels
   * compiler_id: a string naming the compiler, its version, the target
   * architecture and the options; it is hashed into every cache key. */
  zmlx_status (*compiler_id)(int dev, char *buf, size_t len);
  /* Compile source to a loadable binary (cubin, shared object). *binary is
   * malloc'd. On failure *log holds the compiler's log (malloc'd). */
  zmlx_status (*compile)(int dev, const char *source, const char *entry,
                         void **binary, size_t *binary_len, char **log);
  /* Load a binary. path, if not NULL, is a file holding it (the CPU
   * backend's dlopen needs a file). */
  zmlx_status (*module_load)(int dev, const void *binary, size_t len,
                             const char *path, const char *entry,
                             void **module, void **function);
  void (*module_unload)(int dev, void *module);
  /* params: one pointer per kernel argument, to the argument's value
   * (CUDA's convention). grid: total points per dimension. */
  zmlx_status (*launch)(int dev, void *function, const int64_t grid[3],
                        const int block[3], unsigned shared_bytes,
                        void **params, void *stream);
} zb_backend;

const zb_backend *zb_cpu_backend(void);
const zb_backend *zb_cuda_backend(void);

/* The backend for a device type, or NULL if it does not work here; then
 * DEVICE_UNAVAILABLE with the reason is set as the last error. */
const zb_backend *zb_get(zmlx_device_type type);
/* As zb_get, but also checks the device index. */
zmlx_status zb_for_device(zmlx_device d, const zb_backend **out);
/* Why a backend is unavailable, or NULL when it works. */
const char *zb_unavailable_reason(zmlx_device_type type);
/* Release every backend's resources (zmlx_shutdown). */
void zb_shutdown_all(void);

#endif
