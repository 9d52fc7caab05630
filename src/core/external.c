/* Arrays over memory the library did not allocate: a file mapping shown as
 * a host array without a copy. The storage carries the owner's release
 * callback instead of going back to the backend's allocator. */
#include <stdlib.h>

#include "core/array_internal.h"
#include "core/error.h"

zmlx_status zmlx_array_external(void *ptr, zmlx_dtype dtype, int ndim, const int64_t *shape,
                                void (*release)(void *ctx), void *ctx, zmlx_array **out) {
  static const char *op = "array_external";
  int64_t numel = 0;
  zmlx_status s = ZMLX_STATUS_OK;
  const zb_backend *b = NULL;
  if (!out || !release) s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  if (!s && zmlx_dtype_size(dtype) == 0)
    s = zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "invalid dtype %d", (int)dtype);
  if (!s) s = zmlx_shape_check(op, ndim, shape, &numel);
  if (!s && numel && (!ptr || (uintptr_t)ptr % zmlx_dtype_size(dtype)))
    s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "pointer %p is not aligned for %s", ptr,
                  zmlx_dtype_name(dtype));
  if (!s) s = zb_for_device(ZMLX_CPU, &b);
  zmlx_storage *st = s ? NULL : calloc(1, sizeof *st);
  if (!s && !st) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  if (s) {
    if (release) release(ctx);
    if (out) *out = NULL;
    return s;
  }
  atomic_init(&st->refs, 0);
  st->device = ZMLX_CPU;
  st->backend = b;
  st->ptr = numel ? ptr : NULL;
  st->bytes = (size_t)numel * zmlx_dtype_size(dtype);
  st->release = release;
  st->release_ctx = ctx;
  int64_t strides[ZMLX_MAX_DIMS];
  zmlx_strides_contiguous(ndim, shape, strides);
  s = zmlx_array_wrap(st, dtype, ndim, shape, strides, 0, out);
  if (s) {
    release(ctx);
    free(st);
  }
  return s;
}
