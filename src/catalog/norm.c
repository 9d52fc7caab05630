/* Normalizations (zmlx/catalog_norm.h): argument checks whose errors name
 * the catalog entry, then the row kernels of norm_kernels.c. The plain
 * layernorm forward is zmlx_layernorm (a map_reduce, so that its tuning
 * serves both), unless $ZMLX_TUNE_NORM_LN_OWN=1 puts it on the row kernels
 * too. */
#include <math.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/norm_kernels.h"
#include "core/error.h"
#include "zmlx/catalog_norm.h"

const char *zmlx_norm_name(zmlx_norm_kind kind) {
  switch (kind) {
    case ZMLX_NORM_RMS: return "rmsnorm";
    case ZMLX_NORM_LAYER: return "layernorm";
    default: return "?";
  }
}

/* The catalog's name of a call: [add_]kind[_dropout] and which of weight
 * and bias it lacks. */
static const char *op_name(const char *prefix, zmlx_norm_kind kind, const char *suffix,
                           const zmlx_array *w, const zmlx_array *b, char *buf, size_t len) {
  const char *lack = "";
  if (!w && !b) lack = kind == ZMLX_NORM_LAYER ? "_noaffine" : "_noweight";
  else if (!w) lack = "_noweight";
  else if (!b && kind == ZMLX_NORM_LAYER) lack = "_nobias";
  snprintf(buf, len, "%s%s%s%s", prefix, zmlx_norm_name(kind), suffix, lack);
  return buf;
}

/* What a call passes; NULL for what it does not take. */
typedef struct nrm_args {
  zmlx_norm_kind kind;
  zmlx_array *x, *res, *w, *b, *dy, *dh;
  int need_res, need_dy;
  double eps;
} nrm_args;

static zmlx_status check_args(const char *op, const nrm_args *a) {
  if ((unsigned)a->kind >= ZMLX_NORM_COUNT)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kind %d is not a zmlx_norm_kind",
                     (int)a->kind);
  static const char *const names[] = {"residual", "weight", "bias", "dy", "dsum"};
  zmlx_array *others[5] = {a->res, a->w, a->b, a->dy, a->dh};
  ZMLX_TRY(zcat_check_dtype(op, "x", a->x, ZCAT_FLOAT_DTYPES));
  if (a->need_res) ZMLX_TRY(zcat_check_dtype(op, "residual", a->res, ZCAT_FLOAT_DTYPES));
  if (a->need_dy) ZMLX_TRY(zcat_check_dtype(op, "dy", a->dy, ZCAT_FLOAT_DTYPES));
  for (int i = 0; i < 5; i++)
    if (others[i]) ZMLX_TRY(zcat_check_dtype(op, names[i], others[i], ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", a->x, 5, names, others));
  char b1[300];
  if (zmlx_array_ndim(a->x) < 1)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "x is %s: needs at least one dimension",
                     zmlx_array_format(a->x, b1, sizeof b1));
  for (int i = 0; i < 5; i++)
    if (others[i] && i != 1 && i != 2) ZMLX_TRY(zcat_check_same_shape(op, "x", a->x, names[i], others[i]));
  int64_t D = zmlx_array_dim(a->x, -1);
  if (a->w) ZMLX_TRY(zcat_check_vector(op, "weight", a->w, D, "x's last size"));
  if (a->b) ZMLX_TRY(zcat_check_vector(op, "bias", a->b, D, "x's last size"));
  if (a->b && a->kind == ZMLX_NORM_RMS)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "rmsnorm takes no bias (pass NULL)");
  if (!(a->eps >= 0) || isinf(a->eps))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "eps is %g: needs a finite value >= 0",
                     a->eps);
  return ZMLX_STATUS_OK;
}

static zmlx_status check_p(const char *op, double p) {
  if (p >= 0 && p <= 1) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "dropout probability p is %g: needs [0, 1]", p);
}

static zcat_norm_job job_of(const char *op, const nrm_args *a) {
  zcat_norm_job j = {.op = op, .ln = a->kind == ZMLX_NORM_LAYER, .x = a->x, .res = a->res,
                     .w = a->w, .b = a->b, .dy = a->dy, .dh = a->dh, .eps = a->eps};
  return j;
}

/* Results back to NULL where given. */
static void clear(zmlx_array **a, zmlx_array **b) {
  if (a) *a = NULL;
  if (b) *b = NULL;
}

zmlx_status zmlx_norm(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *weight, zmlx_array *bias,
                      double eps, zmlx_array **out) {
  char op[64];
  op_name("", kind, "", weight, bias, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  nrm_args a = {.kind = kind, .x = x, .w = weight, .b = bias, .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  if (kind == ZMLX_NORM_LAYER && !zcat_norm_ln_own()) {
    zmlx_status s = zmlx_layernorm(x, weight, bias, eps, out);
    return s ? zmlx_fail_wrap(s, op) : s;
  }
  zcat_norm_job j = job_of(op, &a);
  return zcat_norm_forward(&j, out, NULL);
}

zmlx_status zmlx_norm_backward(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *weight,
                               zmlx_array *bias, double eps, zmlx_array *dy, zmlx_array **dx,
                               zmlx_array **dweight, zmlx_array **dbias) {
  char op[64];
  op_name("", kind, "", weight, bias, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  clear(dweight, dbias);
  nrm_args a = {.kind = kind, .x = x, .w = weight, .b = bias, .dy = dy, .need_dy = 1, .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  zcat_norm_job j = job_of(op, &a);
  return zcat_norm_backward(&j, dx, dweight, dbias);
}

zmlx_status zmlx_add_norm(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *residual,
                          zmlx_array *weight, zmlx_array *bias, double eps, zmlx_array **out,
                          zmlx_array **sum) {
  char op[64];
  op_name("add_", kind, "", weight, bias, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  ZMLX_TRY(zcat_check_out(op, "sum", sum));
  *out = *sum = NULL;
  nrm_args a = {.kind = kind, .x = x, .res = residual, .need_res = 1, .w = weight, .b = bias,
                .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  zcat_norm_job j = job_of(op, &a);
  return zcat_norm_forward(&j, out, sum);
}

zmlx_status zmlx_add_norm_backward(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *residual,
                                   zmlx_array *weight, zmlx_array *bias, double eps,
                                   zmlx_array *dy, zmlx_array *dsum, zmlx_array **dx,
                                   zmlx_array **dweight, zmlx_array **dbias) {
  char op[64];
  op_name("add_", kind, "", weight, bias, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  clear(dweight, dbias);
  nrm_args a = {.kind = kind, .x = x, .res = residual, .w = weight, .b = bias, .dy = dy,
                .dh = dsum, .need_dy = 1, .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  zcat_norm_job j = job_of(op, &a);
  return zcat_norm_backward(&j, dx, dweight, dbias);
}

zmlx_status zmlx_rmsnorm_dropout(zmlx_array *x, zmlx_array *weight, double eps, double p,
                                 uint64_t seed, uint64_t offset, zmlx_array **out) {
  char op[64];
  op_name("", ZMLX_NORM_RMS, "_dropout", weight, NULL, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  nrm_args a = {.kind = ZMLX_NORM_RMS, .x = x, .w = weight, .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  ZMLX_TRY(check_p(op, p));
  zcat_norm_job j = job_of(op, &a);
  j.drop = 1;
  j.p = p;
  j.seed = seed;
  j.offset = offset;
  return zcat_norm_forward(&j, out, NULL);
}

zmlx_status zmlx_rmsnorm_dropout_backward(zmlx_array *x, zmlx_array *weight, double eps, double p,
                                          uint64_t seed, uint64_t offset, zmlx_array *dy,
                                          zmlx_array **dx, zmlx_array **dweight) {
  char op[64];
  op_name("", ZMLX_NORM_RMS, "_dropout", weight, NULL, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  clear(dweight, NULL);
  nrm_args a = {.kind = ZMLX_NORM_RMS, .x = x, .w = weight, .dy = dy, .need_dy = 1, .eps = eps};
  ZMLX_TRY(check_args(op, &a));
  ZMLX_TRY(check_p(op, p));
  zcat_norm_job j = job_of(op, &a);
  j.drop = 1;
  j.p = p;
  j.seed = seed;
  j.offset = offset;
  return zcat_norm_backward(&j, dx, dweight, NULL);
}
