/* The softmax family's ops: backward passes and the masked, scaled and
 * tempered softmax on the row kernel (softmax_rows.c); logsumexp on a
 * reduction, so it takes any axis the way zmlx_reduce does. */
#include <math.h>
#include <string.h>

#include "catalog/softmax_rows.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_softmax.h"

/* Rows along `axis` of a, contiguous, axis last. */
static zmlx_status rows_of(zmlx_array *a, int axis, zmlx_array **out) {
  zmlx_array *v = NULL;
  ZMLX_TRY(zsm_axis_last(a, axis, &v));
  zmlx_status s = zmlx_array_contiguous(v, out);
  zmlx_array_release(v);
  return s;
}

/* Runs the row kernel on rows along axis of a (with b and c prepared by
 * the caller in the same row order) and puts the result back in a's
 * layout. */
static zmlx_status run_rows(const char *op, zsm_rows_mode mode, zsm_mask_kind mask, zmlx_array *a,
                            int axis, zmlx_array *b, zmlx_array *c, double scale,
                            zmlx_array **out) {
  zmlx_array *ra = NULL, *r = NULL;
  zmlx_status s = rows_of(a, axis, &ra);
  if (!s) s = zmlx_array_empty(a->dtype, ra->ndim, ra->shape, zmlx_array_device(a), &r);
  if (!s) s = zsm_rows_run(op, mode, mask, ra, b, c, scale, r);
  if (!s) s = zsm_axis_back(r, a->ndim, axis, out);
  zmlx_array_release(ra);
  zmlx_array_release(r);
  return s ? zmlx_fail_wrap(s, op) : s;
}

/* a is the forward's input x or its output y (named so in errors). */
static zmlx_status check_pair(const char *op, const char *an, zmlx_array *a, zmlx_array *dy,
                              zmlx_array **dx) {
  static const char *const names[] = {"dy"};
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  ZMLX_TRY(zcat_check_dtype(op, an, a, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, an, a, 1, names, &dy));
  return zcat_check_same_shape(op, an, a, "dy", dy);
}

static zmlx_status backward(const char *op, zsm_rows_mode mode, zmlx_array *a, zmlx_array *dy,
                            int axis, double scale, zmlx_array **dx) {
  ZMLX_TRY(check_pair(op, mode == ZSM_ROWS_SOFTMAX_BWD_Y ? "y" : "x", a, dy, dx));
  ZMLX_TRY(zsm_norm_axis(op, a, &axis));
  zmlx_array *g = NULL;
  zmlx_status s = rows_of(dy, axis, &g);
  if (!s) s = run_rows(op, mode, ZSM_MASK_NONE, a, axis, g, NULL, scale, dx);
  zmlx_array_release(g);
  return s;
}

zmlx_status zmlx_softmax_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx) {
  return backward("softmax", ZSM_ROWS_SOFTMAX_BWD, x, dy, axis, 1.0, dx);
}

zmlx_status zmlx_log_softmax_backward(zmlx_array *x, zmlx_array *dy, int axis,
                                      zmlx_array **dx) {
  return backward("log_softmax", ZSM_ROWS_LOG_BWD, x, dy, axis, 1.0, dx);
}

/* ---- logsumexp ----------------------------------------------------------- */

/* The online softmax accumulation (as zmlx_softmax's), finalized to
 * m + log(s). */
static const zmlx_reduce_desc lse_desc = {
    .name = "logsumexp",
    .header = "typedef struct zsm_lse_acc { compute_t m, s; } zsm_lse_acc;\n",
    .acc_type = "zsm_lse_acc",
    .init = "acc.m = -INFINITY; acc.s = 0;",
    .update = "if (x > acc.m) { acc.s = acc.s * zr_exp(acc.m - x); acc.m = x; }\n"
              "if (x > -INFINITY) acc.s += zr_exp(x - acc.m);\n"
              "else if (x != x) acc.s = x;",
    .update_many = "compute_t mx = xs[0];\n"
                   "for (int i = 1; i < nx; i++) mx = mx > xs[i] ? mx : xs[i];\n"
                   "if (mx > acc.m) { acc.s = acc.s * zr_exp(acc.m - mx); acc.m = mx; }\n"
                   "if (acc.m > -INFINITY) {\n"
                   "  for (int i = 0; i < nx; i++) acc.s += zr_exp(xs[i] - acc.m);\n"
                   "} else {\n"
                   "  for (int i = 0; i < nx; i++) if (xs[i] != xs[i]) acc.s = xs[i];\n"
                   "}",
    .combine = "const compute_t m = acc.m > other.m ? acc.m : other.m;\n"
               "if (m > -INFINITY) acc.s = acc.s * zr_exp(acc.m - m) + other.s * zr_exp(other.m - m);\n"
               "else acc.s += other.s;\n"
               "acc.m = m;",
    .finalize = "out = acc.m > -INFINITY ? acc.m + zr_log(acc.s) : (acc.s != acc.s ? acc.s : acc.m);",
};
static zsm_reduce_slot lse_slot;

zmlx_status zmlx_logsumexp(zmlx_array *x, int axis, zmlx_array **out) {
  const char *op = "logsumexp";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zsm_norm_axis(op, x, &axis));
  zmlx_reduce *k;
  ZMLX_TRY(zsm_reduce_get(op, &lse_slot, &lse_desc, &k));
  zmlx_status s = zmlx_reduce_launch(k, x, 1, &axis, 0, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

/* x's shape without axis. */
static zmlx_status check_reduced(const char *op, zmlx_array *x, int axis, zmlx_array *dy) {
  int nd = x->ndim, same = dy->ndim == nd - 1;
  for (int d = 0, k = 0; same && d < nd; d++)
    if (d != axis) same = dy->shape[k++] == x->shape[d];
  if (same) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "dy is %s but x is %s: dy must have x's shape without axis %d",
                   zmlx_array_format(dy, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2), axis);
}

zmlx_status zmlx_logsumexp_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx) {
  const char *op = "logsumexp";
  static const char *const names[] = {"dy"};
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(zsm_norm_axis(op, x, &axis));
  ZMLX_TRY(check_reduced(op, x, axis, dy));
  zmlx_array *c = NULL;
  zmlx_status s = zmlx_array_contiguous(dy, &c);
  if (!s) s = run_rows(op, ZSM_ROWS_LSE_BWD, ZSM_MASK_NONE, x, axis, NULL, c, 1.0, dx);
  zmlx_array_release(c);
  return s;
}

/* ---- masked, scaled, tempered ----------------------------------------------- */

static zmlx_status check_mask(const char *op, zmlx_array *x, zmlx_array *mask) {
  char b1[300], b2[300];
  if (mask->dtype == ZMLX_DTYPE_BOOL) {
    zmlx_device dx = zmlx_array_device(x), dm = zmlx_array_device(mask);
    if (dx.type != dm.type || dx.index != dm.index)
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "x is %s but mask is %s",
                       zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(mask, b2, sizeof b2));
  } else {
    static const char *const names[] = {"mask"};
    ZMLX_TRY(zcat_check_dtype(op, "mask", mask, ZCAT_FLOAT_DTYPES));
    ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &mask));
  }
  int ok = mask->ndim <= x->ndim;
  for (int d = 1; ok && d <= mask->ndim; d++) {
    int64_t m = mask->shape[mask->ndim - d], n = x->shape[x->ndim - d];
    ok = m == n || m == 1;
  }
  if (ok) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "mask %s does not broadcast to x %s",
                   zmlx_array_format(mask, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2));
}

/* The mask as the kernel reads it: x's shape, leading strides of the
 * broadcast (0 where shared), last stride 1. A mask shared along the last
 * axis is written out in full. */
static zmlx_status mask_view(zmlx_array *x, zmlx_array *mask, zmlx_array **out) {
  int nd = x->ndim;
  int64_t D = x->shape[nd - 1];
  zmlx_array *c = NULL, *b = NULL;
  zmlx_status s;
  if (D > 1 && (mask->ndim == 0 || mask->shape[mask->ndim - 1] == 1)) {
    s = zmlx_array_broadcast_to(mask, nd, x->shape, &b);
    if (!s) s = zmlx_array_contiguous(b, out);
    zmlx_array_release(b);
    return s;
  }
  s = zmlx_array_contiguous(mask, &c);
  if (!s) s = zmlx_array_broadcast_to(c, nd, x->shape, out);
  zmlx_array_release(c);
  return s;
}

static zmlx_status masked(const char *op, zmlx_array *x, zmlx_array *mask, double scale,
                          zmlx_array **y) {
  ZMLX_TRY(zcat_check_out(op, "y", y));
  *y = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  if (mask) ZMLX_TRY(check_mask(op, x, mask));
  if (x->ndim == 0) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "x is %s: it needs an axis to normalize",
                     zmlx_array_format(x, b, sizeof b));
  }
  zmlx_array *m = NULL;
  zmlx_status s = mask ? mask_view(x, mask, &m) : ZMLX_STATUS_OK;
  zsm_mask_kind kind = !mask ? ZSM_MASK_NONE
                       : mask->dtype == ZMLX_DTYPE_BOOL ? ZSM_MASK_BOOL
                                                        : ZSM_MASK_ADD;
  if (!s) s = run_rows(op, ZSM_ROWS_SOFTMAX, kind, x, x->ndim - 1, m, NULL, scale, y);
  zmlx_array_release(m);
  return s;
}

static const char *masked_name(const zmlx_array *mask) {
  return mask && zmlx_array_dtype(mask) == ZMLX_DTYPE_BOOL ? "softmax_masked_bool"
                                                           : "softmax_masked";
}

zmlx_status zmlx_softmax_masked(zmlx_array *x, zmlx_array *mask, double scale, zmlx_array **y) {
  return masked(masked_name(mask), x, mask, scale, y);
}

zmlx_status zmlx_softmax_masked_backward(zmlx_array *y, zmlx_array *dy, double scale,
                                         zmlx_array **dx) {
  return backward("softmax_masked", ZSM_ROWS_SOFTMAX_BWD_Y, y, dy, -1, scale, dx);
}

static zmlx_status check_temperature(const char *op, double t) {
  if (t > 0 && isfinite(t)) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                   "temperature %g: it must be positive and finite (argmax for greedy)", t);
}

zmlx_status zmlx_softmax_temperature(zmlx_array *x, double temperature, zmlx_array **y) {
  const char *op = "softmax_temperature";
  if (y) *y = NULL;
  ZMLX_TRY(check_temperature(op, temperature));
  return masked(op, x, NULL, 1.0 / temperature, y);
}

zmlx_status zmlx_softmax_temperature_backward(zmlx_array *x, zmlx_array *dy, double temperature,
                                              zmlx_array **dx) {
  const char *op = "softmax_temperature";
  if (dx) *dx = NULL;
  ZMLX_TRY(check_temperature(op, temperature));
  return backward(op, ZSM_ROWS_SOFTMAX_BWD, x, dy, -1, 1.0 / temperature, dx);
}
