/* Gradients of the matmul as matmuls (transposes are flags, not copies),
 * and the linear layer on top of zmlx_matmul. With C = op(A) op(B):
 *   d op(A) = dC op(B)^T      d op(B) = op(A)^T dC
 * so dA = dC op(B)^T, or op(B) dC^T when A is stored transposed; dB =
 * op(A)^T dC, or dC^T op(A) when B is. A shared 2-D operand sums its
 * gradient over the batch: one tall GEMM when A is not transposed, else
 * a batched one and a sum over the batch axes. */
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/linear_internal.h"
#include "core/error.h"

static zmlx_status sum_batch(zmlx_array *x, int keep, zmlx_array **out) {
  int nd = zmlx_array_ndim(x), axes[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd - keep; d++) axes[d] = d;
  zmlx_status s = zmlx_reduce_sum(x, nd - keep, axes, 0, out);
  zmlx_array_release(x);
  return s;
}

/* (B..., R, C) as a (B * R, C) view (or copy). */
static zmlx_status rows2d(zmlx_array *x, zmlx_array **out) {
  int64_t shape[2] = {1, zmlx_array_dim(x, -1)};
  for (int d = 0; d < zmlx_array_ndim(x) - 1; d++) shape[0] *= zmlx_array_dim(x, d);
  return zmlx_array_reshape(x, 2, shape, out);
}

static zmlx_status grad_a(zmlx_array *a, zmlx_array *b, int ta, int tb, zmlx_array *dout,
                          zmlx_array **da) {
  if (zmlx_array_ndim(a) == 2 && zmlx_array_ndim(b) > 2) {
    zmlx_array *full = NULL;
    if (!ta) {
      /* dA = sum_p dC_p op(B_p)^T */
      ZMLX_TRY(zmlx_matmul(dout, b, 0, !tb, NULL, ZMLX_MATMUL_ACT_NONE, &full));
    } else {
      ZMLX_TRY(zmlx_matmul(b, dout, tb, 1, NULL, ZMLX_MATMUL_ACT_NONE, &full));
    }
    return sum_batch(full, 2, da);
  }
  if (!ta) return zmlx_matmul(dout, b, 0, !tb, NULL, ZMLX_MATMUL_ACT_NONE, da);
  return zmlx_matmul(b, dout, tb, 1, NULL, ZMLX_MATMUL_ACT_NONE, da);
}

static zmlx_status grad_b(zmlx_array *a, zmlx_array *b, int ta, int tb, zmlx_array *dout,
                          zmlx_array **db) {
  if (zmlx_array_ndim(b) == 2 && zmlx_array_ndim(a) > 2) {
    if (!ta) {
      zmlx_array *a2 = NULL, *d2 = NULL;
      zmlx_status s = rows2d(a, &a2);
      if (!s) s = rows2d(dout, &d2);
      if (!s)
        s = tb ? zmlx_matmul(d2, a2, 1, 0, NULL, ZMLX_MATMUL_ACT_NONE, db)
               : zmlx_matmul(a2, d2, 1, 0, NULL, ZMLX_MATMUL_ACT_NONE, db);
      zmlx_array_release(a2);
      zmlx_array_release(d2);
      return s;
    }
    zmlx_array *full = NULL;
    if (!tb) {
      ZMLX_TRY(zmlx_matmul(a, dout, !ta, 0, NULL, ZMLX_MATMUL_ACT_NONE, &full));
    } else {
      ZMLX_TRY(zmlx_matmul(dout, a, 1, ta, NULL, ZMLX_MATMUL_ACT_NONE, &full));
    }
    return sum_batch(full, 2, db);
  }
  if (!tb) return zmlx_matmul(a, dout, !ta, 0, NULL, ZMLX_MATMUL_ACT_NONE, db);
  return zmlx_matmul(dout, a, 1, ta, NULL, ZMLX_MATMUL_ACT_NONE, db);
}

static void op_name(const zmlx_array *a, const zmlx_array *b, int ta, int tb, char *buf,
                    size_t len) {
  int batched = (a && zmlx_array_ndim(a) > 2) || (b && zmlx_array_ndim(b) > 2);
  snprintf(buf, len, "%s%s", batched ? "bmm" : "matmul",
           ta || tb ? (ta ? (tb ? "_tt" : "_tn") : "_nt") : "");
}

static void release_results(zmlx_array **da, zmlx_array **db, zmlx_array **dbias) {
  zmlx_array **r[3] = {da, db, dbias};
  for (int i = 0; i < 3; i++)
    if (r[i]) {
      zmlx_array_release(*r[i]);
      *r[i] = NULL;
    }
}

zmlx_status zmlx_matmul_backward(zmlx_array *a, zmlx_array *b, int trans_a, int trans_b,
                                 zmlx_array *bias, zmlx_array *dout, zmlx_array **da,
                                 zmlx_array **db, zmlx_array **dbias) {
  char op[64];
  op_name(a, b, trans_a, trans_b, op, sizeof op);
  if (da) *da = NULL;
  if (db) *db = NULL;
  if (dbias) *dbias = NULL;
  /* The forward's checks, then dout against the forward's result shape. */
  if (!dout) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input dout is NULL");
  zmlx_array *probe = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "dout", dout, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "a", a, ZCAT_FLOAT_DTYPES));
  static const char *names[] = {"dout"};
  ZMLX_TRY(zcat_check_like(op, "a", a, 1, names, &dout));
  {
    /* Shapes through a zero-size stand-in of the forward: cheap and one
     * source of truth for the rules. */
    int nd = zmlx_array_ndim(a);
    int64_t shape[ZMLX_MAX_DIMS];
    for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(a, d);
    if (nd >= 2) shape[trans_a ? nd - 1 : nd - 2] = 0;
    zmlx_array *a0 = NULL;
    zmlx_status s = zmlx_array_empty(zmlx_array_dtype(a), nd, shape, zmlx_array_device(a), &a0);
    if (!s) s = zmlx_matmul(a0, b, trans_a, trans_b, bias, ZMLX_MATMUL_ACT_NONE, &probe);
    zmlx_array_release(a0);
    zmlx_array_release(probe);
    if (s) return zmlx_fail_wrap(s, op);
  }
  int nd = zmlx_array_ndim(dout), ok = 1, big = zmlx_array_ndim(a) > zmlx_array_ndim(b);
  const zmlx_array *lead = big ? a : b;
  ok = nd == zmlx_array_ndim(lead);
  for (int d = 0; ok && d < nd - 2; d++) ok = zmlx_array_dim(dout, d) == zmlx_array_dim(lead, d);
  int64_t M = trans_a ? zmlx_array_dim(a, -1) : zmlx_array_dim(a, -2);
  int64_t N = trans_b ? zmlx_array_dim(b, -2) : zmlx_array_dim(b, -1);
  if (!ok || zmlx_array_dim(dout, -2) != M || zmlx_array_dim(dout, -1) != N) {
    char b1[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "dout is %s: needs the forward's result shape (..., %lld, %lld)",
                     zmlx_array_format(dout, b1, sizeof b1), (long long)M, (long long)N);
  }
  zmlx_status s = ZMLX_STATUS_OK;
  if (da) s = grad_a(a, b, trans_a, trans_b, dout, da);
  if (!s && db) s = grad_b(a, b, trans_a, trans_b, dout, db);
  if (!s && dbias && bias) s = zcat_sum_rows(dout, dbias);
  if (s) {
    release_results(da, db, dbias);
    return zmlx_fail_wrap(s, op);
  }
  return ZMLX_STATUS_OK;
}

/* ---- the linear layer ---------------------------------------------------- */

static void linear_name(zmlx_matmul_act act, char *buf, size_t len) {
  static const char *acts[ZMLX_MATMUL_ACT_COUNT] = {"", "_relu", "_gelu"};
  snprintf(buf, len, "linear%s", (unsigned)act < ZMLX_MATMUL_ACT_COUNT ? acts[act] : "");
}

static zmlx_status linear_check(const char *op, zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                zmlx_array *dout) {
  static const char *names[] = {"w", "bias", "dout"};
  zmlx_array *others[3] = {w, bias, dout};
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "w", w, ZCAT_FLOAT_DTYPES));
  if (bias) ZMLX_TRY(zcat_check_dtype(op, "bias", bias, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 3, names, others));
  char b1[300], b2[300];
  if (zmlx_array_ndim(x) < 1 || zmlx_array_ndim(w) != 2 ||
      zmlx_array_dim(w, 1) != zmlx_array_dim(x, -1))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "x is %s and w is %s: needs x (..., K) and w (N, K)",
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(w, b2, sizeof b2));
  if (bias) ZMLX_TRY(zcat_check_vector(op, "bias", bias, zmlx_array_dim(w, 0), "w's rows"));
  if (dout) {
    int ok = zmlx_array_ndim(dout) == zmlx_array_ndim(x);
    for (int d = 0; ok && d < zmlx_array_ndim(x) - 1; d++)
      ok = zmlx_array_dim(dout, d) == zmlx_array_dim(x, d);
    if (!ok || zmlx_array_dim(dout, -1) != zmlx_array_dim(w, 0))
      return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "dout is %s: needs (..., %lld) for x %s",
                       zmlx_array_format(dout, b1, sizeof b1), (long long)zmlx_array_dim(w, 0),
                       zmlx_array_format(x, b2, sizeof b2));
  }
  return ZMLX_STATUS_OK;
}

/* A result (R, C) reshaped to like's leading dimensions and C. */
static zmlx_status unrows(zmlx_array *r, const zmlx_array *like, zmlx_array **out) {
  int nd = zmlx_array_ndim(like);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd - 1; d++) shape[d] = zmlx_array_dim(like, d);
  shape[nd - 1] = zmlx_array_dim(r, 1);
  zmlx_status s = zmlx_array_reshape(r, nd, shape, out);
  zmlx_array_release(r);
  return s;
}

zmlx_status zmlx_linear(zmlx_array *x, zmlx_array *w, zmlx_array *bias, zmlx_matmul_act act,
                        zmlx_array **out) {
  char op[32];
  linear_name(act, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  if ((unsigned)act >= ZMLX_MATMUL_ACT_COUNT)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "act %d is not a zmlx_matmul_act", (int)act);
  ZMLX_TRY(linear_check(op, x, w, bias, NULL));
  zmlx_array *x2 = NULL, *y2 = NULL;
  zmlx_status s = rows2d(x, &x2);
  if (!s) s = zmlx_matmul(x2, w, 0, 1, bias, act, &y2);
  if (!s) s = unrows(y2, x, out);
  zmlx_array_release(x2);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_linear_backward(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                 zmlx_array *dout, zmlx_array **dx, zmlx_array **dw,
                                 zmlx_array **dbias) {
  const char *op = "linear";
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  if (dw) *dw = NULL;
  if (dbias) *dbias = NULL;
  if (!dout) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input dout is NULL");
  ZMLX_TRY(zcat_check_dtype(op, "dout", dout, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(linear_check(op, x, w, bias, dout));
  zmlx_array *x2 = NULL, *d2 = NULL, *gx = NULL;
  zmlx_status s = rows2d(x, &x2);
  if (!s) s = rows2d(dout, &d2);
  if (!s) s = zmlx_matmul(d2, w, 0, 0, NULL, ZMLX_MATMUL_ACT_NONE, &gx);
  if (!s) s = unrows(gx, x, dx);
  if (!s && dw) s = zmlx_matmul(d2, x2, 1, 0, NULL, ZMLX_MATMUL_ACT_NONE, dw);
  if (!s && dbias && bias) s = zcat_sum_rows(dout, dbias);
  zmlx_array_release(x2);
  zmlx_array_release(d2);
  if (s) {
    release_results(dx, dw, dbias);
    return zmlx_fail_wrap(s, op);
  }
  return ZMLX_STATUS_OK;
}
