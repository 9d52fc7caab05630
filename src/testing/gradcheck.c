/* Gradient check: an analytic vector-Jacobian product against central
 * differences of the same function on f64 copies of its inputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "testing/testing_internal.h"

static const char *op = "gradcheck";

typedef struct gc {
  zmlx_test_fn fn;
  void *ctx;
  int n;
  zmlx_array *const *inputs;
  zmlx_array **copies;   /* f64 CPU copies of float inputs; CPU copies otherwise */
  double **ana;          /* analytic gradients of float inputs, as f64 */
  double *g;             /* the cotangent, rounded to the output's dtype */
  int ynd;
  int64_t yshape[ZMLX_MAX_DIMS];
  int64_t ny;
} gc;

static double dtype_rtol(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F64: return 1e-6;
    case ZMLX_DTYPE_F32: return 1e-4;
    case ZMLX_DTYPE_F16: return 1e-2;
    case ZMLX_DTYPE_BF16: return 5e-2;
    default: return 0.25; /* fp8 */
  }
}

static int is_float_input(const gc *c, int i) {
  return zmlx_dtype_is_float(zmlx_array_dtype(c->inputs[i]));
}

/* fn on the f64 copies, and L = sum(g * y). The first call also learns
 * whether fn computes in f32 (every value representable as a float). */
static zmlx_status loss(gc *c, double *L, int *f32_only) {
  zmlx_array *y = NULL;
  zmlx_error_clear(); /* so that a silent failure of fn is not blamed on older text */
  zmlx_status fs = c->fn(c->ctx, c->n, c->copies, &y);
  if (fs) return zmlx_fail_wrap(fs, "gradcheck: fn on f64 CPU copies");
  char b[160], b2[160];
  zmlx_status s = ZMLX_STATUS_OK;
  if (!y) {
    s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "fn returned OK but no output");
  } else if (zmlx_array_dtype(y) != ZMLX_DTYPE_F64) {
    s = zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op,
                  "fn returned %s for f64 inputs; the numerical side needs an f64 output (an "
                  "elementwise kernel whose out_dtypes fix a narrower dtype cannot be checked)",
                  zmlx_array_format(y, b, sizeof b));
  } else if (zmlx_array_ndim(y) != c->ynd || zmlx_array_numel(y) != c->ny) {
    s = zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                  "fn returned %s for f64 inputs but shape %s for the original inputs",
                  zmlx_array_format(y, b, sizeof b), zmlx_shape_format(c->ynd, c->yshape, b2, sizeof b2));
  }
  double *v = NULL;
  if (!s) s = ztst_read_f64(y, &v);
  double acc = 0;
  int only = 1;
  for (int64_t k = 0; !s && k < c->ny; k++) {
    acc += c->g[k] * v[k];
    only &= (double)(float)v[k] == v[k] || isnan(v[k]);
  }
  *L = acc;
  if (f32_only) *f32_only = only && c->ny > 0;
  free(v);
  zmlx_array_release(y);
  return s;
}

/* g ~ N(0, 1) in f64, rounded to y's dtype on y's device; c->g keeps the
 * rounded values so both sides see the same cotangent. */
static zmlx_status cotangent(gc *c, zmlx_array *y, uint64_t seed, zmlx_array **g) {
  zmlx_array *g64 = NULL;
  ZMLX_TRY(zmlx_array_random_normal(ZMLX_DTYPE_F64, c->ynd, c->yshape, seed, 0, 1, ZMLX_CPU, &g64));
  zmlx_status s = zmlx_array_empty(zmlx_array_dtype(y), c->ynd, c->yshape, zmlx_array_device(y), g);
  if (!s) s = zmlx_array_copy_into(*g, g64);
  if (!s) s = ztst_read_f64(*g, &c->g);
  zmlx_array_release(g64);
  return s;
}

static zmlx_status analytic(gc *c, zmlx_test_vjp_fn vjp, void *vjp_ctx, zmlx_array *g,
                            double *rtol) {
  zmlx_array **grads = calloc((size_t)c->n, sizeof *grads);
  if (!grads) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_error_clear();
  zmlx_status s = vjp(vjp_ctx, c->n, c->inputs, g, grads);
  if (s) zmlx_fail_wrap(s, "gradcheck: vjp");
  for (int i = 0; i < c->n && !s; i++) {
    if (!is_float_input(c, i)) continue;
    zmlx_array *x = c->inputs[i];
    int64_t nx = zmlx_array_numel(x);
    char b1[160], b2[160];
    if (!grads[i]) {
      c->ana[i] = calloc((size_t)nx + 1, sizeof **c->ana);
      if (!c->ana[i]) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
      continue;
    }
    int same = zmlx_array_ndim(grads[i]) == zmlx_array_ndim(x);
    for (int d = 0; same && d < zmlx_array_ndim(x); d++)
      same = zmlx_array_dim(grads[i], d) == zmlx_array_dim(x, d);
    if (!same) {
      s = zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "vjp returned a gradient %s for input %d %s",
                    zmlx_array_format(grads[i], b1, sizeof b1), i, zmlx_array_format(x, b2, sizeof b2));
      break;
    }
    double r = dtype_rtol(zmlx_array_dtype(grads[i]));
    if (zmlx_dtype_is_float(zmlx_array_dtype(grads[i])) && r > *rtol) *rtol = r;
    s = ztst_read_f64(grads[i], &c->ana[i]);
  }
  for (int i = 0; i < c->n; i++) zmlx_array_release(grads[i]);
  free(grads);
  return s;
}

static zmlx_status make_copies(gc *c) {
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < c->n && !s; i++) {
    zmlx_dtype t = is_float_input(c, i) ? ZMLX_DTYPE_F64 : zmlx_array_dtype(c->inputs[i]);
    s = ztst_cpu_copy(c->inputs[i], t, &c->copies[i]);
  }
  return s;
}

/* Central differences for every element of input i, in place on its copy. */
static zmlx_status numerical(gc *c, int i, double eps, double *num) {
  double *x = ztst_data_f64(c->copies[i]);
  int64_t nx = zmlx_array_numel(c->copies[i]);
  zmlx_status s = ZMLX_STATUS_OK;
  for (int64_t k = 0; k < nx && !s; k++) {
    double v = x[k], lp = 0, lm = 0;
    x[k] = v + eps;
    s = loss(c, &lp, NULL);
    x[k] = v - eps;
    if (!s) s = loss(c, &lm, NULL);
    x[k] = v;
    num[k] = (lp - lm) / (2 * eps);
  }
  return s;
}

typedef struct worst {
  double ratio;
  int input;
  int64_t index;
  double ana, num, err, bound;
} worst;

static void compare(const double *ana, const double *num, int64_t nx, int input, double rtol,
                    double atol, zmlx_gradcheck_report *r, worst *w) {
  double scale = 0;
  for (int64_t k = 0; k < nx; k++) scale = fmax(scale, fmax(fabs(ana[k]), fabs(num[k])));
  double at = atol > 0 ? atol : rtol * scale;
  for (int64_t k = 0; k < nx; k++) {
    double err = fabs(ana[k] - num[k]), bound = at + rtol * fabs(num[k]);
    double rel = num[k] != 0 ? err / fabs(num[k]) : err > 0 ? INFINITY : 0;
    double ratio = isnan(err) ? INFINITY : bound > 0 ? err / bound : err > 0 ? INFINITY : 0;
    if (!isnan(err)) {
      r->max_abs_err = fmax(r->max_abs_err, err);
      r->max_rel_err = fmax(r->max_rel_err, rel);
    }
    if (ratio > w->ratio || w->index < 0)
      *w = (worst){ratio, input, k, ana[k], num[k], err, bound};
  }
}

static zmlx_status conclude(gc *c, const worst *w, zmlx_gradcheck_report *r) {
  r->worst_input = w->input;
  r->worst_index = w->index;
  r->worst_analytic = w->ana;
  r->worst_numerical = w->num;
  const char *lim = r->f32_limited ? "; fn computes in f32" : "";
  if (w->index < 0 || w->ratio <= 1) {
    r->passed = 1;
    snprintf(r->message, sizeof r->message,
             "gradcheck passed: max abs err %.3g, max rel err %.3g (eps %g, rtol %g, seed "
             "0x%llx%s)", r->max_abs_err, r->max_rel_err, r->eps, r->rtol,
             (unsigned long long)r->seed, lim);
    return ZMLX_STATUS_OK;
  }
  r->mismatch = 1;
  zmlx_array *x = c->inputs[w->input];
  int nd = zmlx_array_ndim(x);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(x, d);
  char idx[200], b[160];
  zmlx_fail(ZMLX_CHECK_FAILED, op,
            "input %d %s, element %lld %s: analytic %.9g vs numerical %.9g (abs err %.3g > "
            "allowed %.3g); over all inputs max abs err %.3g, max rel err %.3g (eps %g, rtol "
            "%g, seed 0x%llx%s)", w->input, zmlx_array_format(x, b, sizeof b),
            (long long)w->index, ztst_index_format(nd, shape, w->index, idx, sizeof idx), w->ana,
            w->num, w->err, w->bound, r->max_abs_err, r->max_rel_err, r->eps, r->rtol,
            (unsigned long long)r->seed, lim);
  snprintf(r->message, sizeof r->message, "%s", zmlx_error_last());
  return ZMLX_CHECK_FAILED;
}

/* Defaults that depend on the dtypes and on what the first f64
 * evaluation showed. */
static void pick_defaults(const gc *c, double eps, double rtol, double grad_rtol, int f32_only,
                          zmlx_gradcheck_report *r) {
  r->f32_limited = f32_only;
  r->eps = eps > 0 ? eps : f32_only ? 1e-3 : 1e-6;
  if (rtol > 0) {
    r->rtol = rtol;
    return;
  }
  r->rtol = fmax(grad_rtol, f32_only ? 2e-3 : 0);
  for (int i = 0; i < c->n; i++)
    if (is_float_input(c, i)) r->rtol = fmax(r->rtol, dtype_rtol(zmlx_array_dtype(c->inputs[i])));
}

static zmlx_status check(gc *c, zmlx_test_vjp_fn vjp, void *vjp_ctx, double eps, double rtol,
                         double atol, zmlx_gradcheck_report *r) {
  zmlx_array *y = NULL, *g = NULL;
  zmlx_error_clear();
  zmlx_status fs = c->fn(c->ctx, c->n, c->inputs, &y);
  if (fs) return zmlx_fail_wrap(fs, "gradcheck: fn");
  if (!y) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "fn returned OK but no output");
  c->ynd = zmlx_array_ndim(y);
  c->ny = zmlx_array_numel(y);
  for (int d = 0; d < c->ynd; d++) c->yshape[d] = zmlx_array_dim(y, d);
  char b[160];
  zmlx_status s = zmlx_dtype_is_float(zmlx_array_dtype(y))
                      ? ZMLX_STATUS_OK
                      : zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "fn's output %s is not "
                                  "floating point", zmlx_array_format(y, b, sizeof b));
  r->seed = ztst_fresh_seed();
  if (!s) s = cotangent(c, y, r->seed, &g);
  double grad_rtol = 0, L0 = 0;
  if (!s) s = analytic(c, vjp, vjp_ctx, g, &grad_rtol);
  if (!s) s = make_copies(c);
  int f32_only = 0;
  if (!s) s = loss(c, &L0, &f32_only);
  if (!s) pick_defaults(c, eps, rtol, grad_rtol, f32_only, r);
  worst w = {.index = -1};
  for (int i = 0; i < c->n && !s; i++) {
    if (!is_float_input(c, i)) continue;
    int64_t nx = zmlx_array_numel(c->inputs[i]);
    double *num = malloc(((size_t)nx + 1) * sizeof *num);
    s = num ? numerical(c, i, r->eps, num)
            : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
    if (!s) compare(c->ana[i], num, nx, i, r->rtol, atol, r, &w);
    free(num);
  }
  zmlx_array_release(y);
  zmlx_array_release(g);
  return s ? s : conclude(c, &w, r);
}

zmlx_status zmlx_gradcheck(zmlx_test_fn fn, void *fn_ctx, int n_inputs, zmlx_array *const *inputs,
                           zmlx_test_vjp_fn vjp, void *vjp_ctx, double eps, double rtol,
                           double atol, zmlx_gradcheck_report *report) {
  zmlx_gradcheck_report local;
  zmlx_gradcheck_report *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  r->worst_input = -1;
  r->worst_index = -1;
  if (!fn || !vjp || n_inputs < 1 || !inputs)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "needs fn, vjp and at least one input");
  for (int i = 0; i < n_inputs; i++)
    if (!inputs[i]) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input %d is NULL", i);
  gc c = {.fn = fn, .ctx = fn_ctx, .n = n_inputs, .inputs = inputs};
  c.copies = calloc((size_t)n_inputs, sizeof *c.copies);
  c.ana = calloc((size_t)n_inputs, sizeof *c.ana);
  zmlx_status s = c.copies && c.ana ? check(&c, vjp, vjp_ctx, eps, rtol, atol, r)
                                    : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  for (int i = 0; i < n_inputs; i++) {
    if (c.copies) zmlx_array_release(c.copies[i]);
    if (c.ana) free(c.ana[i]);
  }
  free(c.copies);
  free(c.ana);
  free(c.g);
  if (s && !r->mismatch) snprintf(r->message, sizeof r->message, "%s", zmlx_error_last());
  return s;
}
