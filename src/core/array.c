/* Array handles, storage and reference counting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"

const char *zmlx_shape_format(int ndim, const int64_t *shape, char *buf, size_t len) {
  size_t n = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < ndim && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (n < len) snprintf(buf + n, len - n, ndim == 1 ? ",)" : ")");
  return buf;
}

zmlx_status zmlx_shape_check(const char *op, int ndim, const int64_t *shape, int64_t *numel) {
  if (ndim < 0 || ndim > ZMLX_MAX_DIMS)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "ndim %d outside 0..%d", ndim,
                     ZMLX_MAX_DIMS);
  if (ndim > 0 && !shape)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "shape is NULL with ndim %d", ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char b[256];
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "negative dimension in shape %s",
                       zmlx_shape_format(ndim, shape, b, sizeof b));
    }
    if (shape[i] && n > INT64_MAX / shape[i]) {
      char b[256];
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "shape %s overflows 64 bits",
                       zmlx_shape_format(ndim, shape, b, sizeof b));
    }
    n *= shape[i];
  }
  if (numel) *numel = n;
  return ZMLX_STATUS_OK;
}

void zmlx_strides_contiguous(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] > 1 ? shape[i] : 1;
  }
}

static void storage_release(zmlx_storage *st) {
  if (!st || atomic_fetch_sub(&st->refs, 1) != 1) return;
  if (st->release)
    st->release(st->release_ctx);
  else if (st->ptr)
    st->backend->mem_free(st->device.index, st->ptr, st->bytes, st->stream);
  free(st);
}

zmlx_status zmlx_array_wrap(zmlx_storage *st, zmlx_dtype dtype, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset, zmlx_array **out) {
  zmlx_array *a = calloc(1, sizeof *a);
  if (!a) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "array", "out of host memory");
  atomic_init(&a->refs, 1);
  atomic_fetch_add(&st->refs, 1);
  a->storage = st;
  a->dtype = dtype;
  a->ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    a->shape[i] = shape[i];
    a->strides[i] = strides[i];
  }
  a->offset = offset;
  *out = a;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_array_empty(zmlx_dtype dtype, int ndim, const int64_t *shape, zmlx_device dev,
                             zmlx_array **out) {
  return zmlx_array_empty_op("array_empty", dtype, ndim, shape, dev, out);
}

zmlx_status zmlx_array_empty_op(const char *op, zmlx_dtype dtype, int ndim, const int64_t *shape,
                                zmlx_device dev, zmlx_array **out) {
  int64_t numel;
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (zmlx_dtype_size(dtype) == 0)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "invalid dtype %d", (int)dtype);
  ZMLX_TRY(zmlx_shape_check(op, ndim, shape, &numel));
  size_t esize = zmlx_dtype_size(dtype);
  if ((uint64_t)numel > SIZE_MAX / esize)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "%lld elements of %s overflow size_t",
                     (long long)numel, zmlx_dtype_name(dtype));
  const zb_backend *b;
  zmlx_status ds = zb_for_device(dev, &b);
  if (ds != ZMLX_STATUS_OK) return zmlx_fail_wrap(ds, op);
  zmlx_storage *st = calloc(1, sizeof *st);
  if (!st) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  atomic_init(&st->refs, 0);
  st->device = dev;
  st->backend = b;
  st->bytes = (size_t)numel * esize;
  st->stream = zmlx_stream_native(dev, NULL);
  zmlx_status s = b->mem_alloc(dev.index, st->bytes, st->stream, &st->ptr);
  if (s != ZMLX_STATUS_OK) {
    free(st);
    char sh[256], d[32];
    char *why = strdup(zmlx_error_last());
    s = zmlx_fail(s, op, "%s %s on %s: %s", zmlx_shape_format(ndim, shape, sh, sizeof sh),
                  zmlx_dtype_name(dtype), zmlx_device_format(dev, d, sizeof d), why ? why : "");
    free(why);
    return s;
  }
  int64_t strides[ZMLX_MAX_DIMS];
  zmlx_strides_contiguous(ndim, shape, strides);
  s = zmlx_array_wrap(st, dtype, ndim, shape, strides, 0, out);
  if (s != ZMLX_STATUS_OK) {
    atomic_store(&st->refs, 1);
    storage_release(st);
  }
  return s;
}

zmlx_array *zmlx_array_retain(zmlx_array *a) {
  if (a) atomic_fetch_add(&a->refs, 1);
  return a;
}

void zmlx_array_release(zmlx_array *a) {
  if (!a || atomic_fetch_sub(&a->refs, 1) != 1) return;
  storage_release(a->storage);
  free(a);
}

void *zmlx_array_data(const zmlx_array *a) {
  if (!a->storage->ptr) return NULL;
  return (char *)a->storage->ptr + a->offset * (int64_t)zmlx_dtype_size(a->dtype);
}

zmlx_array_desc zmlx_array_describe(const zmlx_array *a) {
  zmlx_array_desc d;
  memset(&d, 0, sizeof d);
  if (!a) return d;
  d.dtype = a->dtype;
  d.ndim = a->ndim;
  memcpy(d.shape, a->shape, sizeof d.shape);
  memcpy(d.strides, a->strides, sizeof d.strides);
  d.offset = a->offset;
  d.data = zmlx_array_numel(a) ? zmlx_array_data(a) : NULL;
  d.device = a->storage->device;
  return d;
}

zmlx_dtype zmlx_array_dtype(const zmlx_array *a) { return a->dtype; }
int zmlx_array_ndim(const zmlx_array *a) { return a->ndim; }
zmlx_device zmlx_array_device(const zmlx_array *a) { return a->storage->device; }

int64_t zmlx_array_dim(const zmlx_array *a, int axis) {
  if (axis < 0) axis += a->ndim;
  return (axis >= 0 && axis < a->ndim) ? a->shape[axis] : -1;
}

int64_t zmlx_array_numel(const zmlx_array *a) {
  int64_t n = 1;
  for (int i = 0; i < a->ndim; i++) n *= a->shape[i];
  return n;
}

size_t zmlx_array_nbytes(const zmlx_array *a) {
  return (size_t)zmlx_array_numel(a) * zmlx_dtype_size(a->dtype);
}

int zmlx_array_is_contiguous(const zmlx_array *a) {
  int64_t expect = 1;
  for (int i = a->ndim - 1; i >= 0; i--) {
    if (a->shape[i] == 0) return 1;
    if (a->shape[i] != 1 && a->strides[i] != expect) return 0;
    expect *= a->shape[i];
  }
  return 1;
}

const char *zmlx_array_format(const zmlx_array *a, char *buf, size_t len) {
  char sh[256], d[32];
  snprintf(buf, len, "%s %s %s", zmlx_shape_format(a->ndim, a->shape, sh, sizeof sh),
           zmlx_dtype_name(a->dtype), zmlx_device_format(a->storage->device, d, sizeof d));
  return buf;
}
