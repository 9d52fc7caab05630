/* Backward rules of reduce and map_reduce kernels, run outside a tape: a
 * private tape on which nothing is watched, so every operation a rule
 * runs through it simply runs. */
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"
#include "zmlx/autodiff.h"

static zmlx_status no_rule(const char *op, const char *name) {
  return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op,
                   "kernel '%s' has no backward rule (set backward in its description)", name);
}

/* g must have out's shape and device. */
static zmlx_status check_grad(const char *op, const char *name, const zmlx_array *out,
                              const zmlx_array *g) {
  char b1[300], b2[300];
  if (!out || !g) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': out or g is NULL", name);
  zmlx_device d1 = zmlx_array_device(out), d2 = zmlx_array_device(g);
  int same = out->ndim == g->ndim;
  for (int d = 0; same && d < out->ndim; d++) same = out->shape[d] == g->shape[d];
  if (!same)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "kernel '%s': gradient %s for output %s", name,
                     zmlx_array_format(g, b1, sizeof b1), zmlx_array_format(out, b2, sizeof b2));
  if (d1.type != d2.type || d1.index != d2.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "kernel '%s': gradient %s for output %s", name,
                     zmlx_array_format(g, b1, sizeof b1), zmlx_array_format(out, b2, sizeof b2));
  return ZMLX_STATUS_OK;
}

zmlx_status zr_call_rule(const char *op, const zr_grad_info *gi, zmlx_tape *t,
                         zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dparams) {
  if (!gi->fn) return no_rule(op, gi->name);
  a->ctx = gi->ctx;
  zmlx_status s = gi->fn(t, a, dx, dparams);
  if (s && !zmlx_error_last()[0])
    zmlx_fail(s, op, "the backward rule of kernel '%s' failed", gi->name);
  return s;
}

static zmlx_status run_plain(const char *op, const zr_grad_info *gi, zmlx_reduce_grad_args *a,
                             zmlx_array **dx, zmlx_array **dparams) {
  zmlx_tape *t;
  ZMLX_TRY(zmlx_tape_create(&t));
  zmlx_status s = zr_call_rule(op, gi, t, a, dx, dparams);
  zmlx_tape_destroy(t);
  return s;
}

static void drop(zmlx_array **a) {
  zmlx_array_release(*a);
  *a = NULL;
}

zmlx_status zmlx_reduce_backward(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                 int keepdims, zmlx_array *out, zmlx_array *g, zmlx_array **dx) {
  static const char *op = "reduce_backward";
  if (!dx) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "dx is NULL");
  *dx = NULL;
  zr_grad_info gi;
  ZMLX_TRY(zr_reduce_grad_prepare(k, x, n_axes, axes, keepdims, &gi));
  if (gi.index_output)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op, "kernel '%s' returns indices: it has no gradient",
                     gi.name);
  ZMLX_TRY(check_grad(op, gi.name, out, g));
  zmlx_reduce_grad_args a = {.x = x, .out = out, .g = g, .n_axes = gi.n_axes, .axes = gi.axes,
                             .keepdims = keepdims != 0};
  zmlx_status s = run_plain(op, &gi, &a, dx, NULL);
  if (s) drop(dx);
  return s;
}

zmlx_status zmlx_map_reduce_backward(zmlx_map_reduce *k, zmlx_array *x, int axis, int n_params,
                                     zmlx_array *const *params, int n_scalars,
                                     const double *scalars, zmlx_array *out, zmlx_array *g,
                                     zmlx_array **dx, zmlx_array **dparams) {
  static const char *op = "map_reduce_backward";
  if (!dx || (n_params > 0 && !dparams))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "dx or dparams is NULL");
  *dx = NULL;
  for (int i = 0; i < n_params; i++) dparams[i] = NULL;
  zr_grad_info gi;
  ZMLX_TRY(zr_map_reduce_grad_prepare(k, x, axis, &gi));
  ZMLX_TRY(check_grad(op, gi.name, out, g));
  zmlx_reduce_grad_args a = {.x = x, .out = out, .g = g, .axis = gi.axis, .n_params = n_params,
                             .params = params, .n_scalars = n_scalars, .scalars = scalars};
  zmlx_status s = run_plain(op, &gi, &a, dx, dparams);
  if (s) {
    drop(dx);
    for (int i = 0; i < n_params; i++) drop(&dparams[i]);
  }
  return s;
}

/* ---- on a tape -------------------------------------------------------------
 * A recorded launch is a custom node whose backward calls the kernel's
 * rule with the tape, so what the rule runs through it is recorded when
 * the backward creates a graph. */
typedef struct node_ctx {
  zr_grad_info gi;
  int keepdims, n_params, n_scalars;
  double scalars[];
} node_ctx;

static zmlx_status node_backward(void *p, zmlx_tape *t, zmlx_array *const *in,
                                 zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  node_ctx *c = p;
  zmlx_reduce_grad_args a = {.x = in[0], .out = out[0], .g = og[0], .n_axes = c->gi.n_axes,
                             .axes = c->gi.axes, .keepdims = c->keepdims, .axis = c->gi.axis,
                             .n_params = c->n_params, .params = in + 1,
                             .n_scalars = c->n_scalars, .scalars = c->scalars};
  return zr_call_rule("tape_backward", &c->gi, t, &a, &ig[0], c->n_params ? ig + 1 : NULL);
}

static zmlx_status record(zmlx_tape *t, const zr_grad_info *gi, int keepdims, int n_in,
                          zmlx_array *const *in, int n_scalars, const double *scalars,
                          zmlx_array **out) {
  node_ctx *c = calloc(1, sizeof *c + sizeof(double) * (size_t)(n_scalars > 0 ? n_scalars : 0));
  zmlx_status s = ZMLX_STATUS_OK;
  if (!c) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape_reduce", "out of host memory");
  if (!s) {
    c->gi = *gi;
    c->keepdims = keepdims != 0;
    c->n_params = n_in - 1;
    c->n_scalars = n_scalars;
    if (n_scalars > 0) memcpy(c->scalars, scalars, sizeof(double) * (size_t)n_scalars);
    s = zmlx_tape_record_custom(t, gi->name, n_in, in, 1, out, node_backward, c, free);
  }
  if (s) drop(out);
  return s;
}

zmlx_status zmlx_tape_reduce(zmlx_tape *t, zmlx_reduce *k, zmlx_array *x, int n_axes,
                             const int *axes, int keepdims, zmlx_array **out) {
  static const char *op = "tape_reduce";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (!t) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "tape is NULL");
  zr_grad_info gi;
  ZMLX_TRY(zr_reduce_grad_prepare(k, x, n_axes, axes, keepdims, &gi));
  ZMLX_TRY(zmlx_reduce_launch(k, x, n_axes, axes, keepdims, out));
  if (gi.index_output) return ZMLX_STATUS_OK; /* indices carry no gradient */
  return record(t, &gi, keepdims, 1, &x, 0, NULL, out);
}

zmlx_status zmlx_tape_map_reduce(zmlx_tape *t, zmlx_map_reduce *k, zmlx_array *x, int axis,
                                 int n_params, zmlx_array *const *params, int n_scalars,
                                 const double *scalars, zmlx_array **out) {
  static const char *op = "tape_map_reduce";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (!t) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "tape is NULL");
  if (n_params < 0 || n_params > ZK_MAX_IO - 1 || (n_params && !params))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d params", n_params);
  zr_grad_info gi;
  ZMLX_TRY(zr_map_reduce_grad_prepare(k, x, axis, &gi));
  ZMLX_TRY(zmlx_map_reduce_launch(k, x, axis, n_params, params, n_scalars, scalars, out));
  zmlx_array *in[ZK_MAX_IO];
  in[0] = x;
  for (int i = 0; i < n_params; i++) in[1 + i] = params[i];
  return record(t, &gi, 0, 1 + n_params, in, n_scalars, scalars, out);
}
