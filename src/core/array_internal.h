#ifndef ZMLX_ARRAY_INTERNAL_H
#define ZMLX_ARRAY_INTERNAL_H
#include <stdatomic.h>

#include "backend/backend.h"
#include "zmlx/array.h"

/* Device memory shared by an array and its views. */
typedef struct zmlx_storage {
  atomic_int refs;
  zmlx_device device;
  const zb_backend *backend;
  void *ptr;       /* NULL when bytes == 0 */
  size_t bytes;
  void *stream;    /* backend stream it was allocated on (allocator reuse) */
  /* External memory (a file mapping, say) is not the backend's to free:
   * when release is set, the last reference calls release(release_ctx). */
  void (*release)(void *release_ctx);
  void *release_ctx;
} zmlx_storage;

struct zmlx_array {
  atomic_int refs;
  zmlx_storage *storage;
  zmlx_dtype dtype;
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  int64_t strides[ZMLX_MAX_DIMS]; /* elements */
  int64_t offset;                 /* elements */
};

/* A new array header over storage (retained), with the given layout. */
zmlx_status zmlx_array_wrap(zmlx_storage *st, zmlx_dtype dtype, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset, zmlx_array **out);
/* A C-contiguous host array over memory the library did not allocate
 * (CPU device). release(ctx) runs once, when the last view is released,
 * and also when this call fails. ptr must hold the array's bytes and be
 * aligned to its dtype's size. src/core/external.c */
zmlx_status zmlx_array_external(void *ptr, zmlx_dtype dtype, int ndim, const int64_t *shape,
                                void (*release)(void *ctx), void *ctx, zmlx_array **out);
/* Pointer to element 0 of the view (NULL for empty arrays). */
void *zmlx_array_data(const zmlx_array *a);
/* The backend stream for the thread's current stream on device d. */
void *zmlx_stream_native(zmlx_device d, zmlx_stream *s);
/* zmlx_array_empty, with errors naming `op` (the public call). */
zmlx_status zmlx_array_empty_op(const char *op, zmlx_dtype dtype, int ndim, const int64_t *shape,
                                zmlx_device dev, zmlx_array **out);
/* Checks for shape arguments; op names the caller in the error. */
zmlx_status zmlx_shape_check(const char *op, int ndim, const int64_t *shape, int64_t *numel);
/* "(2, 3)" into buf. */
const char *zmlx_shape_format(int ndim, const int64_t *shape, char *buf, size_t len);
/* Encode value as one element of dtype (as kernels convert). */
void zmlx_value_encode(zmlx_dtype dtype, double value, void *bytes);
/* Set every element of a (any layout) to value. */
zmlx_status zmlx_array_fill(zmlx_array *a, double value);
/* C-contiguous element strides for a shape. */
void zmlx_strides_contiguous(int ndim, const int64_t *shape, int64_t *strides);

#endif
