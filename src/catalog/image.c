/* Bilinear resize (NHWC) and its backward, as gathers: see
 * zmlx/catalog_image.h for the coordinate convention. */
#include <stdint.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/image_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

static zmlx_status check_nhwc(const char *op, const char *name, const zmlx_array *a) {
  if (zmlx_array_ndim(a) == 4) return ZMLX_STATUS_OK;
  char b[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s: needs (N, H, W, C)", name,
                   zmlx_array_format(a, b, sizeof b));
}

/* Launch a resize kernel over out's elements; src is x (forward) or dy. */
static zmlx_status run(zi_kernel_id id, zmlx_array *src, zmlx_array *out, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int align_corners) {
  int64_t n = zmlx_array_numel(out);
  if (n == 0) return ZMLX_STATUS_OK;
  zmlx_kernel *k;
  ZMLX_TRY(zi_kernel(id, &k));
  int64_t big = zmlx_array_numel(src) > n ? zmlx_array_numel(src) : n;
  zmlx_template_arg t[] = {{"F64", ZMLX_TEMPLATE_BOOL, zmlx_array_dtype(out) == ZMLX_DTYPE_F64},
                           {"IDX32", ZMLX_TEMPLATE_BOOL, big < INT32_MAX - 16}};
  double sc[7] = {(double)n, (double)H, (double)W, (double)OH, (double)OW,
                  (double)zmlx_array_dim(out, 3), align_corners ? 1 : 0};
  zmlx_launch_config cfg = {.grid = {n, 1, 1}, .n_templates = 2, .templates = t, .n_scalars = 7,
                            .scalars = sc};
  return zk_launch(k, 1, &src, &cfg, &out, ZK_OUTPUTS_GIVEN);
}

zmlx_status zmlx_resize_bilinear(zmlx_array *x, int64_t out_h, int64_t out_w, int align_corners,
                                 zmlx_array **out) {
  const char *op = "resize_bilinear";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_nhwc(op, "x", x));
  int64_t N = zmlx_array_dim(x, 0), H = zmlx_array_dim(x, 1), W = zmlx_array_dim(x, 2);
  int64_t C = zmlx_array_dim(x, 3);
  char b[300];
  if (out_h < 0 || out_w < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "output size %lld x %lld is negative",
                     (long long)out_h, (long long)out_w);
  if (N * C * out_h * out_w > 0 && (H == 0 || W == 0))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "x is %s: an empty image cannot be resized to %lld x %lld",
                     zmlx_array_format(x, b, sizeof b), (long long)out_h, (long long)out_w);
  int64_t shape[4] = {N, out_h, out_w, C};
  zmlx_array *res = NULL;
  ZMLX_TRY(zmlx_array_empty_op(op, zmlx_array_dtype(x), 4, shape, zmlx_array_device(x), &res));
  zmlx_status s = run(ZI_RESIZE, x, res, H, W, out_h, out_w, align_corners);
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, op);
  }
  *out = res;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_resize_bilinear_backward(zmlx_array *x, zmlx_array *dy, int align_corners,
                                          zmlx_array **dx) {
  const char *op = "resize_bilinear";
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  static const char *names[] = {"dy"};
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(check_nhwc(op, "x", x));
  ZMLX_TRY(check_nhwc(op, "dy", dy));
  char b1[300], b2[300];
  if (zmlx_array_dim(dy, 0) != zmlx_array_dim(x, 0) || zmlx_array_dim(dy, 3) != zmlx_array_dim(x, 3))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "x is %s but dy is %s: batch and channels must match",
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(dy, b2, sizeof b2));
  int64_t H = zmlx_array_dim(x, 1), W = zmlx_array_dim(x, 2);
  int64_t OH = zmlx_array_dim(dy, 1), OW = zmlx_array_dim(dy, 2);
  if (zmlx_array_numel(dy) > 0 && (H == 0 || W == 0))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "x is %s but dy is %s",
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(dy, b2, sizeof b2));
  zmlx_array *res = NULL;
  int64_t shape[4] = {zmlx_array_dim(x, 0), H, W, zmlx_array_dim(x, 3)};
  ZMLX_TRY(zmlx_array_empty_op(op, zmlx_array_dtype(x), 4, shape, zmlx_array_device(x), &res));
  zmlx_status s = ZMLX_STATUS_OK;
  /* No output pixels: every gradient is zero. */
  if (OH == 0 || OW == 0)
    s = zmlx_array_fill(res, 0);
  else
    s = run(ZI_RESIZE_BWD, dy, res, H, W, OH, OW, align_corners);
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, op);
  }
  *dx = res;
  return ZMLX_STATUS_OK;
}
