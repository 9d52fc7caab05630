/* The loss family's ops: argument checks, then the cross-entropy kernels
 * (loss_kernels.c). */
#include <math.h>
#include <string.h>

#include "catalog/loss_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_loss.h"

static const zmlx_cross_entropy_opts defaults = {.ignore_index = -100};

static zmlx_status check_opts(const char *op, const zmlx_cross_entropy_opts *o) {
  if (!(o->label_smoothing >= 0 && o->label_smoothing <= 1))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "label_smoothing %g: it must be in [0, 1]",
                     o->label_smoothing);
  if (!(o->z_loss >= 0 && isfinite(o->z_loss)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "z_loss %g: it must be finite and >= 0",
                     o->z_loss);
  return ZMLX_STATUS_OK;
}

/* rows: logits' shape without its last axis; a must have it. */
static zmlx_status check_rows(const char *op, const char *name, const zmlx_array *a,
                              const zmlx_array *logits) {
  int nd = logits->ndim - 1, same = a->ndim == nd;
  for (int d = 0; same && d < nd; d++) same = a->shape[d] == logits->shape[d];
  if (same) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "%s is %s but logits is %s: it must have the logits' shape without the last axis",
                   name, zmlx_array_format(a, b1, sizeof b1), zmlx_array_format(logits, b2, sizeof b2));
}

static zmlx_status check_device(const char *op, const char *name, const zmlx_array *a,
                                const zmlx_array *logits) {
  zmlx_device da = zmlx_array_device(a), dl = zmlx_array_device(logits);
  if (da.type == dl.type && da.index == dl.index) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "%s is %s but logits is %s", name,
                   zmlx_array_format(a, b1, sizeof b1), zmlx_array_format(logits, b2, sizeof b2));
}

/* logits and targets, and the options (*o: opts or the defaults). */
static zmlx_status check_inputs(const char *op, zmlx_array *logits, zmlx_array *targets,
                                const zmlx_cross_entropy_opts *opts,
                                zmlx_cross_entropy_opts *o) {
  *o = opts ? *opts : defaults;
  ZMLX_TRY(zcat_check_dtype(op, "logits", logits, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "targets", targets,
                            ZCAT_DTYPE_BIT(ZMLX_DTYPE_I32) | ZCAT_DTYPE_BIT(ZMLX_DTYPE_I64)));
  char b[300];
  if (logits->ndim == 0)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "logits is %s: it needs a class axis",
                     zmlx_array_format(logits, b, sizeof b));
  ZMLX_TRY(check_device(op, "targets", targets, logits));
  ZMLX_TRY(check_rows(op, "targets", targets, logits));
  return check_opts(op, o);
}

/* A per-row float input of the backward: dloss, dlse, lse. */
static zmlx_status check_row_input(const char *op, const char *name, zmlx_array *a,
                                   zmlx_array *logits) {
  ZMLX_TRY(zcat_check_dtype(op, name, a, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_device(op, name, a, logits));
  return check_rows(op, name, a, logits);
}

static zmlx_dtype row_dtype(const zmlx_array *logits) {
  return logits->dtype == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
}

static void release2(zmlx_array **a, zmlx_array **b) {
  zmlx_array_release(*a);
  zmlx_array_release(*b);
  *a = *b = NULL;
}

/* The forward into new arrays *loss and *lse. */
static zmlx_status forward(const char *op, zmlx_array *logits, zmlx_array *targets,
                           const zmlx_cross_entropy_opts *o, zmlx_array **loss, zmlx_array **lse) {
  zmlx_device dev = zmlx_array_device(logits);
  zmlx_dtype t = row_dtype(logits);
  zmlx_array *x = NULL;
  zmlx_status s = zmlx_array_contiguous(logits, &x);
  if (!s) s = zmlx_array_empty(t, targets->ndim, targets->shape, dev, loss);
  if (!s) s = zmlx_array_empty(t, targets->ndim, targets->shape, dev, lse);
  zsm_ce_args a = {x, targets, o->ignore_index, o->label_smoothing, o->z_loss};
  if (!s) s = zsm_ce_forward(op, &a, *loss, *lse);
  zmlx_array_release(x);
  if (s) release2(loss, lse);
  return s;
}

zmlx_status zmlx_cross_entropy(zmlx_array *logits, zmlx_array *targets,
                               const zmlx_cross_entropy_opts *opts, zmlx_array **loss,
                               zmlx_array **lse) {
  const char *op = "cross_entropy";
  if (lse) *lse = NULL;
  ZMLX_TRY(zcat_check_out(op, "loss", loss));
  *loss = NULL;
  zmlx_cross_entropy_opts o;
  ZMLX_TRY(check_inputs(op, logits, targets, opts, &o));
  zmlx_array *l = NULL, *ls = NULL;
  zmlx_status s = forward(op, logits, targets, &o, &l, &ls);
  if (s) return zmlx_fail_wrap(s, op);
  *loss = l;
  if (lse) *lse = ls;
  else zmlx_array_release(ls);
  return ZMLX_STATUS_OK;
}

static zmlx_status backward(const char *op, zmlx_array *logits, zmlx_array *targets,
                            zmlx_array *lse, zmlx_array *dloss, zmlx_array *dlse,
                            const zmlx_cross_entropy_opts *o, zmlx_array **dlogits) {
  zmlx_array *x = NULL;
  zmlx_status s = zmlx_array_contiguous(logits, &x);
  if (!s) s = zmlx_array_empty(x->dtype, x->ndim, x->shape, zmlx_array_device(x), dlogits);
  zsm_ce_args a = {x, targets, o->ignore_index, o->label_smoothing, o->z_loss};
  if (!s) s = zsm_ce_backward(op, &a, lse, dloss, dlse, *dlogits);
  zmlx_array_release(x);
  if (s) {
    zmlx_array_release(*dlogits);
    *dlogits = NULL;
  }
  return s;
}

zmlx_status zmlx_cross_entropy_backward(zmlx_array *logits, zmlx_array *targets,
                                        zmlx_array *lse, zmlx_array *dloss, zmlx_array *dlse,
                                        const zmlx_cross_entropy_opts *opts,
                                        zmlx_array **dlogits) {
  const char *op = "cross_entropy";
  ZMLX_TRY(zcat_check_out(op, "dlogits", dlogits));
  *dlogits = NULL;
  zmlx_cross_entropy_opts o;
  ZMLX_TRY(check_inputs(op, logits, targets, opts, &o));
  ZMLX_TRY(check_row_input(op, "lse", lse, logits));
  ZMLX_TRY(check_row_input(op, "dloss", dloss, logits));
  if (dlse) ZMLX_TRY(check_row_input(op, "dlse", dlse, logits));
  zmlx_status s = backward(op, logits, targets, lse, dloss, dlse, &o, dlogits);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_cross_entropy_mean(zmlx_array *logits, zmlx_array *targets,
                                    const zmlx_cross_entropy_opts *opts, zmlx_array **mean,
                                    zmlx_array **lse) {
  const char *op = "cross_entropy_mean";
  if (lse) *lse = NULL;
  ZMLX_TRY(zcat_check_out(op, "mean", mean));
  *mean = NULL;
  zmlx_cross_entropy_opts o;
  ZMLX_TRY(check_inputs(op, logits, targets, opts, &o));
  zmlx_array *l = NULL, *ls = NULL, *m = NULL;
  zmlx_status s = forward(op, logits, targets, &o, &l, &ls);
  int64_t none = 1;
  if (!s) s = zmlx_array_empty(row_dtype(logits), 0, &none, zmlx_array_device(logits), &m);
  if (!s) s = zsm_ce_mean(op, l, targets, o.ignore_index, m);
  zmlx_array_release(l);
  if (s) {
    release2(&ls, &m);
    return zmlx_fail_wrap(s, op);
  }
  *mean = m;
  if (lse) *lse = ls;
  else zmlx_array_release(ls);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_cross_entropy_mean_backward(zmlx_array *logits, zmlx_array *targets,
                                             zmlx_array *lse, zmlx_array *dmean,
                                             const zmlx_cross_entropy_opts *opts,
                                             zmlx_array **dlogits) {
  const char *op = "cross_entropy_mean";
  ZMLX_TRY(zcat_check_out(op, "dlogits", dlogits));
  *dlogits = NULL;
  zmlx_cross_entropy_opts o;
  ZMLX_TRY(check_inputs(op, logits, targets, opts, &o));
  ZMLX_TRY(check_row_input(op, "lse", lse, logits));
  ZMLX_TRY(zcat_check_dtype(op, "dmean", dmean, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_device(op, "dmean", dmean, logits));
  if (dmean->ndim != 0) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "dmean is %s: it must be a scalar",
                     zmlx_array_format(dmean, b, sizeof b));
  }
  zmlx_array *dl = NULL;
  zmlx_status s = zmlx_array_empty(row_dtype(logits), targets->ndim, targets->shape,
                                   zmlx_array_device(logits), &dl);
  if (!s) s = zsm_ce_mean_backward(op, targets, o.ignore_index, dmean, dl);
  if (!s) s = backward(op, logits, targets, lse, dl, NULL, &o, dlogits);
  zmlx_array_release(dl);
  return s ? zmlx_fail_wrap(s, op) : s;
}
