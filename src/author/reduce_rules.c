/* Backward rules of the ready-made reductions and map-reductions, written
 * with recorded ZMLX operations (elementwise kernels and reductions on the
 * tape the rule is given), so their gradients can be differentiated again.
 * Each elementwise kernel exists in f32 and f64 compute (f64 inputs get
 * f64 compute, which is what lets gradient checks use tight tolerances);
 * they are built on first use and kept for the process. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"
#include "zmlx/autodiff.h"

/* Expressions name exp and sqrt as E and S, filled in per compute type. */
typedef struct rule_kernel {
  const char *name, *expr;
  int n_in;
  const char *in[5];
  const char *grads[5];
  const char *scalar; /* at most one */
  int f32_out;        /* output f32 whatever input 0 is */
} rule_kernel;

enum { K_SPREAD, K_SCALE, K_EQ, K_SHARE, K_MUL, K_SM_DX, K_LSM_DX, K_SUB, K_SQ, K_RSTD, K_LN_DX, N_K };

static const rule_kernel kdefs[N_K] = {
    /* g (keepdims shape) spread over x's shape */
    [K_SPREAD] = {"rule_spread", "out = v;", 2, {"v", "x"}, {"g", NULL}},
    [K_SCALE] = {"rule_scale", "out = v * s;", 2, {"v", "x"}, {"g * s", NULL}, "s"},
    [K_EQ] = {"rule_eq", "out = x == m ? 1 : 0;", 2, {"x", "m"}, {NULL, NULL}, NULL, 1},
    [K_SHARE] = {"rule_share", "out = x == m ? v / c : 0;", 4, {"v", "x", "m", "c"},
                 {"x == m ? g / c : 0", NULL, NULL, NULL}},
    [K_MUL] = {"rule_mul", "out = u * h;", 2, {"u", "h"}, {"g * h", "g * u"}},
    [K_SM_DX] = {"rule_softmax_dx", "out = y * (u - s);", 3, {"u", "y", "s"},
                 {"g * y", "g * (u - s)", "-g * y"}},
    [K_LSM_DX] = {"rule_log_softmax_dx", "out = u - E(y) * s;", 3, {"u", "y", "s"},
                  {"g", "-g * E(y) * s", "-g * E(y)"}},
    [K_SUB] = {"rule_sub", "out = x - m;", 2, {"x", "m"}, {"g", "-g"}},
    [K_SQ] = {"rule_square", "out = c * c;", 1, {"c"}, {"2 * g * c"}},
    [K_RSTD] = {"rule_rstd", "out = 1 / S(v + eps);", 1, {"v"}, {"-0.5 * g * out * out * out"}, "eps"},
    [K_LN_DX] = {"rule_layernorm_dx", "out = r * (u - a - h * b);", 5, {"u", "r", "a", "h", "b"},
                 {"g * r", "g * (u - a - h * b)", "-g * r", "-g * r * b", "-g * r * h"}},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_elementwise *kernels[N_K][2];

void zr_rules_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < N_K; i++)
    for (int j = 0; j < 2; j++) {
      zmlx_elementwise_destroy(kernels[i][j]);
      kernels[i][j] = NULL;
    }
  pthread_mutex_unlock(&lock);
}

static zmlx_status build(int which, int f64, zmlx_elementwise **out) {
  static const char *outs[] = {"out"};
  static const zmlx_dtype f32 = ZMLX_DTYPE_F32;
  const rule_kernel *r = &kdefs[which];
  char header[128];
  snprintf(header, sizeof header, "#define E(v) %s(v)\n#define S(v) %s(v)\n", f64 ? "exp" : "expf",
           f64 ? "sqrt" : "sqrtf");
  zmlx_elementwise_desc d = {.name = r->name, .n_inputs = r->n_in, .input_names = r->in,
                             .n_outputs = 1, .output_names = outs, .n_scalars = r->scalar ? 1 : 0,
                             .scalar_names = &r->scalar, .expr = r->expr, .header = header,
                             .out_dtypes = r->f32_out ? &f32 : NULL,
                             .compute = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32,
                             .grad_exprs = r->grads};
  return zmlx_elementwise_create(&d, out);
}

/* Run kernel `which` through the tape (f64 compute when input 0 is f64). */
static zmlx_status ew(zmlx_tape *t, int which, int n, zmlx_array *const *in, const double *scalar,
                      zmlx_array **out) {
  int f64 = zmlx_array_dtype(in[0]) == ZMLX_DTYPE_F64;
  pthread_mutex_lock(&lock);
  zmlx_status s = kernels[which][f64] ? ZMLX_STATUS_OK : build(which, f64, &kernels[which][f64]);
  zmlx_elementwise *k = kernels[which][f64];
  pthread_mutex_unlock(&lock);
  ZMLX_TRY(s);
  zmlx_array *outs[ZK_MAX_IO] = {NULL};
  ZMLX_TRY(zmlx_tape_elementwise(t, k, n, in, scalar ? 1 : 0, scalar, outs));
  *out = outs[0];
  return ZMLX_STATUS_OK;
}

/* x's shape with the reduced axes of a (reduce) or the row axis (map_reduce) set to 1. */
static int keep_shape(const zmlx_reduce_grad_args *a, int map_reduce, int64_t *shape) {
  int nd = zmlx_array_ndim(a->x);
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(a->x, d);
  if (map_reduce) shape[a->axis] = 1;
  for (int i = 0; !map_reduce && i < a->n_axes; i++) shape[a->axes[i]] = 1;
  return nd;
}

/* out's gradient with the reduced axes back as length 1. */
static zmlx_status keep_grad(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array *v,
                             zmlx_array **out) {
  int64_t shape[ZMLX_MAX_DIMS];
  int nd = keep_shape(a, 0, shape);
  return zmlx_tape_reshape(t, v, nd, shape, out);
}

static zmlx_status tape_sum(zmlx_tape *t, zmlx_array *x, int n_axes, const int *axes, int keep,
                            zmlx_array **out) {
  zmlx_reduce *k;
  ZMLX_TRY(zmlx_reduce_builtin("sum", &k));
  return zmlx_tape_reduce(t, k, x, n_axes, axes, keep, out);
}

static zmlx_status tape_mean(zmlx_tape *t, zmlx_array *x, int axis, zmlx_array **out) {
  zmlx_reduce *k;
  ZMLX_TRY(zmlx_reduce_builtin("mean", &k));
  return zmlx_tape_reduce(t, k, x, 1, &axis, 1, out);
}

/* Release every array in tmp (NULL entries skipped). */
static void release_all(zmlx_array **tmp, int n) {
  for (int i = 0; i < n; i++) zmlx_array_release(tmp[i]);
}

zmlx_status zr_rule_sum(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                        zmlx_array **dp) {
  zmlx_array *gk = NULL;
  ZMLX_TRY(keep_grad(t, a, a->g, &gk));
  zmlx_array *in[2] = {gk, a->x};
  zmlx_status s = ew(t, K_SPREAD, 2, in, NULL, dx);
  zmlx_array_release(gk);
  return s;
}

zmlx_status zr_rule_mean(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                         zmlx_array **dp) {
  double n = 1;
  for (int i = 0; i < a->n_axes; i++) n *= (double)zmlx_array_dim(a->x, a->axes[i]);
  double s1 = 1 / n;
  zmlx_array *gk = NULL;
  ZMLX_TRY(keep_grad(t, a, a->g, &gk));
  zmlx_array *in[2] = {gk, a->x};
  zmlx_status s = ew(t, K_SCALE, 2, in, &s1, dx);
  zmlx_array_release(gk);
  return s;
}

/* max and min: g shared equally by the elements equal to the result. */
zmlx_status zr_rule_extreme(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                            zmlx_array **dp) {
  zmlx_array *tmp[4] = {NULL}; /* gk, mk, eq, cnt */
  zmlx_status s = keep_grad(t, a, a->g, &tmp[0]);
  if (!s) s = keep_grad(t, a, a->out, &tmp[1]);
  zmlx_array *in1[2] = {a->x, tmp[1]};
  if (!s) s = ew(t, K_EQ, 2, in1, NULL, &tmp[2]);
  if (!s) s = tape_sum(t, tmp[2], a->n_axes, a->axes, 1, &tmp[3]);
  zmlx_array *in2[4] = {tmp[0], a->x, tmp[1], tmp[3]};
  if (!s) s = ew(t, K_SHARE, 4, in2, NULL, dx);
  release_all(tmp, 4);
  return s;
}

/* dx = y * (g - sum(g * y)) */
zmlx_status zr_rule_softmax(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                            zmlx_array **dp) {
  zmlx_array *tmp[2] = {NULL};
  zmlx_array *in1[2] = {a->g, a->out};
  zmlx_status s = ew(t, K_MUL, 2, in1, NULL, &tmp[0]);
  if (!s) s = tape_sum(t, tmp[0], 1, &a->axis, 1, &tmp[1]);
  zmlx_array *in2[3] = {a->g, a->out, tmp[1]};
  if (!s) s = ew(t, K_SM_DX, 3, in2, NULL, dx);
  release_all(tmp, 2);
  return s;
}

/* dx = g - exp(y) * sum(g) */
zmlx_status zr_rule_log_softmax(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                                zmlx_array **dp) {
  zmlx_array *sum = NULL;
  ZMLX_TRY(tape_sum(t, a->g, 1, &a->axis, 1, &sum));
  zmlx_array *in[3] = {a->g, a->out, sum};
  zmlx_status s = ew(t, K_LSM_DX, 3, in, NULL, dx);
  zmlx_array_release(sum);
  return s;
}

/* Sum over every axis but the last, as the param's dtype. */
static zmlx_status param_grad(zmlx_tape *t, zmlx_array *v, const zmlx_array *param,
                              zmlx_array **out) {
  int nd = zmlx_array_ndim(v), axes[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd - 1; d++) axes[d] = d;
  zmlx_array *sum = NULL;
  if (nd == 1) {
    sum = zmlx_array_retain(v);
  } else {
    ZMLX_TRY(tape_sum(t, v, nd - 1, axes, 0, &sum));
  }
  if (zmlx_array_dtype(sum) == zmlx_array_dtype(param)) {
    *out = sum;
    return ZMLX_STATUS_OK;
  }
  /* A dtype change is not recorded: a constant to a second backward. */
  zmlx_status s = zmlx_array_astype(sum, zmlx_array_dtype(param), out);
  zmlx_array_release(sum);
  return s;
}

/* xhat = (x - mean) * rstd; with gw = g * weight:
 * dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),
 * dweight = sum over rows of g * xhat, dbias = sum over rows of g. */
zmlx_status zr_rule_layernorm(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                              zmlx_array **dp) {
  int mask = (int)(intptr_t)a->ctx, np = 0;
  zmlx_array *w = mask & 1 ? a->params[np++] : NULL, *b = mask & 2 ? a->params[np++] : NULL;
  int axis = zmlx_array_ndim(a->x) - 1;
  double eps = a->n_scalars > 0 ? a->scalars[0] : 1e-5;
  enum { MU, XC, SQ, VAR, RSTD, XH, GW, M1, P2, M2, P3, N_T };
  zmlx_array *v[N_T] = {NULL};
  zmlx_status s = tape_mean(t, a->x, axis, &v[MU]);
  zmlx_array *in_xc[2] = {a->x, v[MU]};
  if (!s) s = ew(t, K_SUB, 2, in_xc, NULL, &v[XC]);
  if (!s) s = ew(t, K_SQ, 1, &v[XC], NULL, &v[SQ]);
  if (!s) s = tape_mean(t, v[SQ], axis, &v[VAR]);
  if (!s) s = ew(t, K_RSTD, 1, &v[VAR], &eps, &v[RSTD]);
  zmlx_array *in_xh[2] = {v[XC], v[RSTD]};
  if (!s) s = ew(t, K_MUL, 2, in_xh, NULL, &v[XH]);
  zmlx_array *in_gw[2] = {a->g, w};
  if (!s && w) s = ew(t, K_MUL, 2, in_gw, NULL, &v[GW]);
  if (!s && !w) v[GW] = zmlx_array_retain(a->g);
  if (!s) s = tape_mean(t, v[GW], axis, &v[M1]);
  zmlx_array *in_p2[2] = {v[GW], v[XH]};
  if (!s) s = ew(t, K_MUL, 2, in_p2, NULL, &v[P2]);
  if (!s) s = tape_mean(t, v[P2], axis, &v[M2]);
  zmlx_array *in_dx[5] = {v[GW], v[RSTD], v[M1], v[XH], v[M2]};
  if (!s) s = ew(t, K_LN_DX, 5, in_dx, NULL, dx);
  zmlx_array *in_p3[2] = {a->g, v[XH]};
  if (!s && w) s = ew(t, K_MUL, 2, in_p3, NULL, &v[P3]);
  if (!s && w) s = param_grad(t, v[P3], w, &dp[0]);
  if (!s && b) s = param_grad(t, a->g, b, &dp[w ? 1 : 0]);
  release_all(v, N_T);
  return s;
}
