/* The copy ceiling: a plain device-to-device copy of a large buffer, timed
 * like any benchmark, so every figure of a run has its own reference. It
 * goes through the backend's copy (the driver's memcpy on CUDA, what
 * PyTorch's copy_ of contiguous tensors uses) rather than a ZMLX kernel:
 * the ceiling must not depend on the code it judges. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/bench.h"

typedef struct copy_ctx {
  const zb_backend *backend;
  zmlx_device dev;
  void *dst, *src;
  size_t bytes;
  zmlx_stream *stream;
} copy_ctx;

static zmlx_status copy_once(void *p, int rotation) {
  copy_ctx *c = p;
  (void)rotation;
  return c->backend->copy_d2d(c->dev.index, c->dst, c->src, c->bytes,
                              zmlx_stream_native(c->dev, c->stream));
}

zmlx_status zmlx_bench_copy_bandwidth(zmlx_device dev, uint64_t buffer_bytes,
                                      const zmlx_bench_options *opt, zmlx_bench_copy *out) {
  static const char *op = "bench_copy_bandwidth";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  memset(out, 0, sizeof *out);
  out->gbps = NAN;
  const zb_backend *b;
  ZMLX_TRY(zb_for_device(dev, &b));
  if (buffer_bytes == 0)
    buffer_bytes = dev.type == ZMLX_DEVICE_CUDA ? (uint64_t)512 << 20 : (uint64_t)64 << 20;
  zmlx_bench_options o = opt ? *opt : (zmlx_bench_options){0};
  o.rotations = 1;
  int64_t n = (int64_t)buffer_bytes;
  zmlx_array *src = NULL, *dst = NULL;
  zmlx_status s = zmlx_array_full(ZMLX_DTYPE_U8, 1, &n, 1.0, dev, &src);
  if (!s) s = zmlx_array_zeros(ZMLX_DTYPE_U8, 1, &n, dev, &dst);
  if (!s) {
    copy_ctx c = {b, dev, zmlx_array_data(dst), zmlx_array_data(src), (size_t)n, o.stream};
    s = zmlx_bench_time(dev, copy_once, &c, &o, &out->time);
  }
  if (!s) {
    out->bytes = 2 * buffer_bytes;
    out->gbps = zmlx_bench_gbps((double)out->bytes, out->time.median_us);
    snprintf(out->method, sizeof out->method, "%s",
             dev.type == ZMLX_DEVICE_CUDA ? "cuMemcpyDtoDAsync" : "memmove (one thread)");
  } else {
    zmlx_fail_wrap(s, op);
  }
  zmlx_array_release(src);
  zmlx_array_release(dst);
  return s;
}
