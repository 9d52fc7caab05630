/* take_along_axis and its backward, seen as (O, M, I) and (O, K, I)
 * blocks around the axis. */
#include "catalog/cat_internal.h"
#include "catalog/index_internal.h"
#include "core/error.h"
#include "zmlx/catalog_index.h"

static const char *op = "take_along_axis";

/* x (float) and idx (i32/i64) of one ndim >= 1 and device, equal sizes
 * except along axis; *ax the axis made non-negative. */
static zmlx_status check(zmlx_array *x, zmlx_array *idx, int axis, int *ax) {
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "idx", idx, (1u << ZMLX_DTYPE_I32) | (1u << ZMLX_DTYPE_I64)));
  char b1[300], b2[300];
  zmlx_device dx = zmlx_array_device(x), di = zmlx_array_device(idx);
  if (dx.type != di.type || dx.index != di.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "x is %s but idx is %s",
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(idx, b2, sizeof b2));
  int nd = zmlx_array_ndim(x);
  if (axis < -nd || axis >= nd)
    return zmlx_fail(nd ? ZMLX_STATUS_INVALID_ARGUMENT : ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "axis %d is out of range for x %s", axis, zmlx_array_format(x, b1, sizeof b1));
  *ax = axis < 0 ? axis + nd : axis;
  int same = zmlx_array_ndim(idx) == nd;
  for (int d = 0; same && d < nd; d++)
    same = d == *ax || zmlx_array_dim(x, d) == zmlx_array_dim(idx, d);
  if (same) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "x is %s but idx is %s: they must agree except along axis %d",
                   zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(idx, b2, sizeof b2), axis);
}

/* Sizes before and after the axis. */
static void blocks(const zmlx_array *a, int ax, int64_t *O, int64_t *I) {
  *O = *I = 1;
  for (int d = 0; d < ax; d++) *O *= zmlx_array_dim(a, d);
  for (int d = ax + 1; d < zmlx_array_ndim(a); d++) *I *= zmlx_array_dim(a, d);
}

static zmlx_status like(const zmlx_array *a, zmlx_dtype t, zmlx_device dev, int zero,
                        zmlx_array **out) {
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < zmlx_array_ndim(a); d++) sh[d] = zmlx_array_dim(a, d);
  return zero ? zmlx_array_zeros(t, zmlx_array_ndim(a), sh, dev, out)
              : zmlx_array_empty(t, zmlx_array_ndim(a), sh, dev, out);
}

zmlx_status zmlx_take_along_axis(zmlx_array *x, zmlx_array *idx, int axis, zmlx_array **out) {
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  int ax;
  ZMLX_TRY(check(x, idx, axis, &ax));
  int64_t O, I;
  blocks(x, ax, &O, &I);
  zmlx_array *y = NULL;
  zmlx_kernel *k = NULL;
  zmlx_status s = like(idx, zmlx_array_dtype(x), zmlx_array_device(x), 0, &y);
  if (!s) s = zcat_take_gather_kernel(&k);
  if (!s) {
    zmlx_array *in[2] = {x, idx};
    double sc[3] = {(double)zmlx_array_dim(x, ax), (double)zmlx_array_dim(idx, ax), (double)I};
    s = zcat_raw_launch(k, 2, in, 1, &y, zmlx_array_numel(idx), 0, NULL, 3, sc);
  }
  if (s) {
    zmlx_array_release(y);
    return zmlx_fail_wrap(s, op);
  }
  *out = y;
  return s;
}

zmlx_status zmlx_take_along_axis_backward(zmlx_array *x, zmlx_array *idx, int axis,
                                          zmlx_array *dy, zmlx_array **dx) {
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  int ax;
  ZMLX_TRY(check(x, idx, axis, &ax));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  static const char *const names[] = {"dy"};
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(zcat_check_same_shape(op, "idx", idx, "dy", dy));
  int64_t O, I;
  blocks(x, ax, &O, &I);
  zmlx_dtype t = zmlx_array_dtype(x);
  zmlx_array *acc = NULL;
  zmlx_kernel *k = NULL;
  zmlx_status s = like(x, zcat_index_acc_dtype(t), zmlx_array_device(x), 1, &acc);
  if (!s) s = zcat_take_scatter_kernel(&k);
  if (!s) {
    zmlx_array *in[2] = {dy, idx};
    zmlx_template_arg tp[1] = {{"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64}};
    double sc[3] = {(double)zmlx_array_dim(x, ax), (double)zmlx_array_dim(idx, ax), (double)I};
    int64_t lines = zmlx_array_numel(idx) ? O * I : 0;
    s = zcat_raw_launch(k, 2, in, 1, &acc, lines, 1, tp, 3, sc);
  }
  if (!s)
    s = zcat_index_finish(acc, t, dx);
  else
    zmlx_array_release(acc);
  if (s) *dx = NULL;
  return s ? zmlx_fail_wrap(s, op) : s;
}
