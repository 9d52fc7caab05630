/* Copies: within a device by kernel, across devices through the backends'
 * transfer paths (pinned staging on CUDA). Nothing crosses devices unless
 * one of these is called. */
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/builtin.h"

static int same_device(zmlx_device a, zmlx_device b) {
  return a.type == b.type && a.index == b.index;
}

zmlx_status zmlx_array_contiguous(zmlx_array *a, zmlx_array **out) {
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "array_contiguous", "NULL argument");
  if (zmlx_array_is_contiguous(a)) {
    *out = zmlx_array_retain(a);
    return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(zmlx_array_empty(a->dtype, a->ndim, a->shape, a->storage->device, out));
  zmlx_status s = zk_copy(*out, a);
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zmlx_array_astype(zmlx_array *a, zmlx_dtype dtype, zmlx_array **out) {
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "array_astype", "NULL argument");
  ZMLX_TRY(zmlx_array_empty_op("array_astype", dtype, a->ndim, a->shape, a->storage->device, out));
  zmlx_status s = zk_copy(*out, a);
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

/* Contiguous src on one device to a fresh array on another. */
static zmlx_status transfer(zmlx_array *src, zmlx_device dev, zmlx_array **out) {
  ZMLX_TRY(zmlx_array_empty(src->dtype, src->ndim, src->shape, dev, out));
  size_t bytes = zmlx_array_nbytes(src);
  zmlx_device from = src->storage->device;
  zmlx_status s = ZMLX_STATUS_OK;
  if (bytes == 0) return s;
  if (from.type == ZMLX_DEVICE_CPU) {
    s = (*out)->storage->backend->copy_h2d(dev.index, zmlx_array_data(*out), zmlx_array_data(src),
                                           bytes, zmlx_stream_native(dev, NULL));
  } else if (dev.type == ZMLX_DEVICE_CPU) {
    s = src->storage->backend->copy_d2h(from.index, zmlx_array_data(*out), zmlx_array_data(src),
                                        bytes, zmlx_stream_native(from, NULL));
  } else {
    /* Between two GPUs: through host memory, simple and always allowed. */
    void *host = malloc(bytes);
    s = host ? src->storage->backend->copy_d2h(from.index, host, zmlx_array_data(src), bytes,
                                               zmlx_stream_native(from, NULL))
             : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "array_to_device", "out of host memory");
    if (s == ZMLX_STATUS_OK)
      s = (*out)->storage->backend->copy_h2d(dev.index, zmlx_array_data(*out), host, bytes,
                                             zmlx_stream_native(dev, NULL));
    free(host);
  }
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zmlx_array_to_device(zmlx_array *a, zmlx_device dev, zmlx_array **out) {
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "array_to_device", "NULL argument");
  const zb_backend *b;
  zmlx_status ds = zb_for_device(dev, &b);
  if (ds != ZMLX_STATUS_OK) return zmlx_fail_wrap(ds, "array_to_device");
  if (same_device(a->storage->device, dev)) {
    ZMLX_TRY(zmlx_array_empty(a->dtype, a->ndim, a->shape, dev, out));
    zmlx_status s = zk_copy(*out, a);
    if (s != ZMLX_STATUS_OK) {
      zmlx_array_release(*out);
      *out = NULL;
    }
    return s;
  }
  zmlx_array *c;
  ZMLX_TRY(zmlx_array_contiguous(a, &c));
  zmlx_status s = transfer(c, dev, out);
  zmlx_array_release(c);
  return s;
}

zmlx_status zmlx_array_copy_into(zmlx_array *dst, zmlx_array *src) {
  static const char *op = "array_copy_into";
  if (!dst || !src) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  zmlx_array *b;
  zmlx_status s = zmlx_array_broadcast_to(src, dst->ndim, dst->shape, &b);
  if (s != ZMLX_STATUS_OK) {
    char x[300], y[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "cannot copy %s into %s",
                     zmlx_array_format(src, x, sizeof x), zmlx_array_format(dst, y, sizeof y));
  }
  if (!same_device(src->storage->device, dst->storage->device)) {
    zmlx_array *moved;
    s = zmlx_array_to_device(b, dst->storage->device, &moved);
    zmlx_array_release(b);
    if (s != ZMLX_STATUS_OK) return s;
    b = moved;
  }
  s = zk_copy(dst, b);
  zmlx_array_release(b);
  return s;
}

zmlx_status zmlx_array_to_host(const zmlx_array *ca, void *dst, size_t dst_bytes) {
  static const char *op = "array_to_host";
  zmlx_array *a = (zmlx_array *)ca; /* read only: contiguous() may add a copy */
  if (!a) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "array is NULL");
  size_t bytes = zmlx_array_nbytes(a);
  if (dst_bytes < bytes || (bytes && !dst)) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%s needs %zu bytes, the buffer has %zu",
                     zmlx_array_format(a, b, sizeof b), bytes, dst_bytes);
  }
  if (bytes == 0) return ZMLX_STATUS_OK;
  zmlx_array *c;
  ZMLX_TRY(zmlx_array_contiguous(a, &c));
  zmlx_device d = c->storage->device;
  zmlx_status s = c->storage->backend->copy_d2h(d.index, dst, zmlx_array_data(c), bytes,
                                                zmlx_stream_native(d, NULL));
  zmlx_array_release(c);
  return s;
}
