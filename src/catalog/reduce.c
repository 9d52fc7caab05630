/* The reduce family's reductions (compensated sums, variance, standard
 * deviation) on zmlx_reduce, so every axis layout takes the authoring
 * layer's row, column and split paths; and the backward passes of sum,
 * mean, var and std as elementwise kernels over a broadcast dy. */
#include <stdio.h>
#include <string.h>

#include "catalog/softmax_kit.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_reduce.h"

/* Neumaier's variant of Kahan summation: the compensation c collects
 * the low bits lost by each addition, whichever operand is larger, so a
 * partial merge (combine) is one more compensated addition. */
static const char kahan_header[] =
    "typedef struct zsm_kacc { compute_t s, c; } zsm_kacc;\n"
    "ZMLX_FN void zsm_kadd(zsm_kacc *a, const compute_t x) {\n"
    "  const compute_t t = a->s + x;\n"
    "  const compute_t as = a->s < 0 ? -a->s : a->s, ax = x < 0 ? -x : x;\n"
    "  a->c += as >= ax ? (a->s - t) + x : (x - t) + a->s;\n"
    "  a->s = t;\n"
    "}\n";

/* Shifted sums (as zmlx_layernorm's): s and q sum x - k and its square, k
 * being the first element an accumulator saw (a data value near the
 * mean), so q - s^2 / n keeps its digits; combine moves the other partial
 * onto this one's shift. */
static const char var_header[] = "typedef struct zsm_vacc { compute_t k, s, q, n; } zsm_vacc;\n";
#define VAR_INIT "acc.k = 0; acc.s = 0; acc.q = 0; acc.n = 0;"
#define VAR_UPDATE                                                                          \
  "if (acc.n == 0) acc.k = x;\n"                                                            \
  "const compute_t d = x - acc.k;\n"                                                        \
  "acc.s += d;\n"                                                                           \
  "acc.q += d * d;\n"                                                                       \
  "acc.n += 1;"
#define VAR_UPDATE_MANY                                                                     \
  "if (acc.n == 0) acc.k = xs[0];\n"                                                        \
  "for (int i = 0; i < nx; i++) {\n"                                                        \
  "  const compute_t d = xs[i] - acc.k;\n"                                                  \
  "  acc.s += d;\n"                                                                         \
  "  acc.q += d * d;\n"                                                                     \
  "}\n"                                                                                     \
  "acc.n += nx;"
#define VAR_COMBINE                                                                         \
  "if (acc.n == 0) {\n"                                                                     \
  "  acc = other;\n"                                                                        \
  "} else if (other.n > 0) {\n"                                                             \
  "  const compute_t dk = other.k - acc.k;\n"                                               \
  "  acc.q += other.q + dk * (2 * other.s + other.n * dk);\n"                               \
  "  acc.s += other.s + other.n * dk;\n"                                                    \
  "  acc.n += other.n;\n"                                                                   \
  "}"
/* No element (0 / 0) and n == ddof give NaN; rounding below 0 gives 0. */
#define VAR_FIN(DDOF, ROOT)                                                                 \
  "const compute_t v0 = acc.q - acc.s * (acc.s / (compute_t)n);\n"                          \
  "const compute_t v = (v0 < 0 ? (compute_t)0 : v0) / ((compute_t)n - " #DDOF ");\n"        \
  "out = " ROOT "(v);"

enum { R_SUM_K, R_MEAN_K, R_VAR_B, R_VAR_U, R_STD_B, R_STD_U, R_MEAN32, R_STD_B32, R_STD_U32, N_R };

static const zmlx_dtype f32 = ZMLX_DTYPE_F32;

#define KAHAN(NAME, FIN)                                                                    \
  {.name = NAME, .header = kahan_header, .acc_type = "zsm_kacc",                            \
   .init = "acc.s = 0; acc.c = 0;", .update = "zsm_kadd(&acc, x);",                          \
   .combine = "zsm_kadd(&acc, other.s);\nacc.c += other.c;", .finalize = FIN}
#define VAR(NAME, DDOF, ROOT, OUT)                                                          \
  {.name = NAME, .header = var_header, .acc_type = "zsm_vacc", .init = VAR_INIT,            \
   .update = VAR_UPDATE, .update_many = VAR_UPDATE_MANY, .combine = VAR_COMBINE,            \
   .finalize = VAR_FIN(DDOF, ROOT), .out_dtype = OUT}

static const zmlx_reduce_desc descs[N_R] = {
    [R_SUM_K] = KAHAN("sum_kahan", "out = acc.s + acc.c;"),
    [R_MEAN_K] = KAHAN("mean_kahan", "out = (acc.s + acc.c) / (compute_t)n;"),
    [R_VAR_B] = VAR("var_biased", 0, "", NULL),
    [R_VAR_U] = VAR("var_unbiased", 1, "", NULL),
    [R_STD_B] = VAR("std_biased", 0, "zr_sqrt", NULL),
    [R_STD_U] = VAR("std_unbiased", 1, "zr_sqrt", NULL),
    [R_MEAN32] = {.name = "mean_f32", .init = "acc = 0;", .update = "acc += x;",
                  .combine = "acc += other;", .finalize = "out = acc / (compute_t)n;",
                  .out_dtype = &f32},
    [R_STD_B32] = VAR("std_biased_f32", 0, "zr_sqrt", &f32),
    [R_STD_U32] = VAR("std_unbiased_f32", 1, "zr_sqrt", &f32),
};
static zsm_reduce_slot slots[N_R];

static zmlx_status check_x(const char *op, zmlx_array *x, void *out) {
  ZMLX_TRY(zcat_check_out(op, "out", out));
  return zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES);
}

static zmlx_status run(const char *op, int which, zmlx_array *x, int n_axes, const int *axes,
                       int keepdims, zmlx_array **out) {
  if (out) *out = NULL;
  ZMLX_TRY(check_x(op, x, out));
  zmlx_reduce *k;
  ZMLX_TRY(zsm_reduce_get(op, &slots[which], &descs[which], &k));
  zmlx_status s = zmlx_reduce_launch(k, x, n_axes, axes, keepdims, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_reduce_sum_kahan(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                  zmlx_array **out) {
  return run("sum_kahan", R_SUM_K, x, n_axes, axes, keepdims, out);
}

zmlx_status zmlx_reduce_mean_kahan(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                   zmlx_array **out) {
  return run("mean_kahan", R_MEAN_K, x, n_axes, axes, keepdims, out);
}

static zmlx_status check_unbiased(const char *op, int unbiased) {
  if (unbiased == 0 || unbiased == 1) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "unbiased is %d; it must be 0 or 1",
                   unbiased);
}

zmlx_status zmlx_reduce_var(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            int unbiased, zmlx_array **out) {
  if (out) *out = NULL;
  ZMLX_TRY(check_unbiased("var", unbiased));
  return run("var", unbiased ? R_VAR_U : R_VAR_B, x, n_axes, axes, keepdims, out);
}

zmlx_status zmlx_reduce_std(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            int unbiased, zmlx_array **out) {
  if (out) *out = NULL;
  ZMLX_TRY(check_unbiased("std", unbiased));
  return run("std", unbiased ? R_STD_U : R_STD_B, x, n_axes, axes, keepdims, out);
}

/* ---- backward ------------------------------------------------------------- */

/* The reduced axes of x (red[d]) and the number of elements reduced. */
static zmlx_status axes_of(const char *op, const zmlx_array *x, int n_axes, const int *axes,
                           unsigned char *red, int64_t *n) {
  int nd = x->ndim;
  char b[300];
  memset(red, n_axes == 0, ZMLX_MAX_DIMS);
  if (n_axes < 0 || n_axes > nd || (n_axes && !axes))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d axes for %s", n_axes,
                     zmlx_array_format(x, b, sizeof b));
  for (int i = 0; i < n_axes; i++) {
    int a = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (a < 0 || a >= nd || red[a])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "axis %d is %s for %s", axes[i],
                       a >= 0 && a < nd ? "repeated" : "out of range",
                       zmlx_array_format(x, b, sizeof b));
    red[a] = 1;
  }
  *n = 1;
  for (int d = 0; d < nd; d++)
    if (red[d]) *n *= x->shape[d];
  return ZMLX_STATUS_OK;
}

/* dy must have the reduction's shape; *gb: dy broadcast to x's shape. */
static zmlx_status broadcast_dy(const char *op, zmlx_array *x, const unsigned char *red,
                                int keepdims, zmlx_array *dy, zmlx_array **gb) {
  int nd = x->ndim, want_nd = 0, same;
  int64_t want[ZMLX_MAX_DIMS], keep[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) {
    keep[d] = red[d] ? 1 : x->shape[d];
    if (keepdims || !red[d]) want[want_nd++] = keep[d];
  }
  same = dy->ndim == want_nd;
  for (int d = 0; same && d < want_nd; d++) same = dy->shape[d] == want[d];
  if (!same) {
    char b1[300], b2[300], b3[200];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "dy is %s; for x %s it must be %s",
                     zmlx_array_format(dy, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2),
                     zmlx_shape_format(want_nd, want, b3, sizeof b3));
  }
  zmlx_array *k = NULL;
  zmlx_status s = zmlx_array_reshape(dy, nd, keep, &k);
  if (!s) s = zmlx_array_broadcast_to(k, nd, x->shape, gb);
  zmlx_array_release(k);
  return s;
}

enum { B_MEAN, B_VAR, B_STD, N_B };
static zcat_ew_slot ew_slots[N_B];

static zmlx_status ew(int which, zmlx_dtype t, zmlx_elementwise **k) {
  static const char *const in_mean[] = {"g"}, *const in_var[] = {"x", "m", "g"},
                           *const in_std[] = {"x", "m", "sd", "g"}, *const outs[] = {"out"},
                           *const scs[] = {"k"};
  static const struct {
    const char *name;
    int n;
    const char *const *ins;
    const char *expr;
  } defs[N_B] = {
      [B_MEAN] = {"mean_backward", 1, in_mean, "out = g * k;"},
      [B_VAR] = {"var_backward", 3, in_var, "out = g * k * (x - m);"},
      [B_STD] = {"std_backward", 4, in_std, "out = g * k * (x - m) / sd;"},
  };
  zmlx_elementwise_desc d = {.name = defs[which].name, .n_inputs = defs[which].n,
                             .input_names = defs[which].ins, .n_outputs = 1,
                             .output_names = outs, .n_scalars = 1, .scalar_names = scs,
                             .expr = defs[which].expr};
  return zcat_ew_get(&ew_slots[which], &d, t, k);
}

/* A reduction of x with keepdims (descs[which], or the mean of
 * zmlx/reduce.h for which < 0), broadcast to x's shape. */
static zmlx_status stat_of(const char *op, int which, zmlx_array *x, int n_axes, const int *axes,
                           zmlx_array **out) {
  zmlx_reduce *k;
  zmlx_array *r = NULL;
  zmlx_status s;
  if (which < 0) {
    s = zmlx_reduce_mean(x, n_axes, axes, 1, &r);
  } else {
    ZMLX_TRY(zsm_reduce_get(op, &slots[which], &descs[which], &k));
    s = zmlx_reduce_launch(k, x, n_axes, axes, 1, &r);
  }
  if (!s) s = zmlx_array_broadcast_to(r, x->ndim, x->shape, out);
  zmlx_array_release(r);
  return s;
}

enum { K_SUM, K_MEAN, K_VAR, K_STD };

static zmlx_status backward(const char *op, int kind, zmlx_array *x, int n_axes, const int *axes,
                            int keepdims, int unbiased, zmlx_array *dy, zmlx_array **dx) {
  static const char *const names[] = {"dy"};
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(check_unbiased(op, unbiased));
  unsigned char red[ZMLX_MAX_DIMS];
  int64_t n = 0;
  ZMLX_TRY(axes_of(op, x, n_axes, axes, red, &n));
  zmlx_array *g = NULL, *m = NULL, *sd = NULL;
  zmlx_elementwise *k = NULL;
  zmlx_status s = broadcast_dy(op, x, red, keepdims, dy, &g);
  if (s) return s;
  double kk = kind == K_MEAN ? 1.0 / (double)n
              : kind == K_VAR ? 2.0 / ((double)n - unbiased)
                              : 1.0 / ((double)n - unbiased);
  if (kind == K_SUM) {
    s = zmlx_array_empty(x->dtype, x->ndim, x->shape, zmlx_array_device(x), dx);
    if (!s) s = zmlx_array_copy_into(*dx, g);
  } else if (kind == K_MEAN) {
    s = ew(B_MEAN, x->dtype, &k);
    if (!s) s = zmlx_elementwise_launch(k, 1, &g, 1, &kk, dx);
  } else {
    /* Statistics in f32, or f64 for f64 inputs. */
    int f64 = x->dtype == ZMLX_DTYPE_F64;
    s = stat_of(op, f64 ? -1 : R_MEAN32, x, n_axes, axes, &m);
    if (!s && kind == K_STD)
      s = stat_of(op, unbiased ? (f64 ? R_STD_U : R_STD_U32) : (f64 ? R_STD_B : R_STD_B32), x,
                  n_axes, axes, &sd);
    if (!s) s = ew(kind == K_VAR ? B_VAR : B_STD, x->dtype, &k);
    zmlx_array *in[4] = {x, m, kind == K_VAR ? g : sd, g};
    if (!s) s = zmlx_elementwise_launch(k, kind == K_VAR ? 3 : 4, in, 1, &kk, dx);
  }
  zmlx_array_release(g);
  zmlx_array_release(m);
  zmlx_array_release(sd);
  if (s && *dx) {
    zmlx_array_release(*dx);
    *dx = NULL;
  }
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_reduce_sum_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     zmlx_array *dy, zmlx_array **dx) {
  return backward("sum", K_SUM, x, n_axes, axes, keepdims, 0, dy, dx);
}

zmlx_status zmlx_reduce_mean_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                      zmlx_array *dy, zmlx_array **dx) {
  return backward("mean", K_MEAN, x, n_axes, axes, keepdims, 0, dy, dx);
}

zmlx_status zmlx_reduce_var_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     int unbiased, zmlx_array *dy, zmlx_array **dx) {
  return backward("var", K_VAR, x, n_axes, axes, keepdims, unbiased, dy, dx);
}

zmlx_status zmlx_reduce_std_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     int unbiased, zmlx_array *dy, zmlx_array **dx) {
  return backward("std", K_STD, x, n_axes, axes, keepdims, unbiased, dy, dx);
}
