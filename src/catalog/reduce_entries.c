/* The reduce family's catalog entries (over the last axis; the kernels
 * take any axes): f64 references written from the definitions, runners. */
#include <math.h>
#include <stdlib.h>

#include "catalog/registry.h"
#include "zmlx/catalog_reduce.h"
#include "zmlx/reduce.h"

enum { K_SUM, K_SUM_KAHAN, K_MEAN, K_MEAN_KAHAN, K_MAX, K_MIN, K_VAR, K_STD, K_ARGMAX, K_TOPK };

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

/* mean and sum((x - mean)^2) of row r, in long double. */
static void moments(const double *x, int64_t D, long double *mean, long double *ss) {
  long double s = 0, q = 0;
  for (int64_t j = 0; j < D; j++) s += x[j];
  *mean = D ? s / D : NAN;
  for (int64_t j = 0; j < D; j++) q += (x[j] - *mean) * (x[j] - *mean);
  *ss = q;
}

static double unbiased(const zcat_host_call *c) { return c->e->n_params ? c->p[0] : 0; }

/* The largest value below (v, i) in the order value descending (NaN
 * first), index ascending; -1 when none. */
static int64_t next_pick(const double *x, int64_t D, int64_t prev) {
  int64_t best = -1;
  for (int64_t j = 0; j < D; j++) {
    if (prev >= 0) {
      double pv = x[prev], v = x[j];
      int above = isnan(pv) ? (isnan(v) && j <= prev) : (isnan(v) || v > pv || (v == pv && j <= prev));
      if (above) continue;
    }
    if (best < 0) {
      best = j;
      continue;
    }
    double bv = x[best], v = x[j];
    if (isnan(bv)) continue;
    if (isnan(v) || v > bv) best = j;
  }
  return best;
}

static void ref(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = c->e->kind == K_TOPK ? (D ? x->n / D : 0) : c->out[0].n;
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x->v + r * D;
    long double acc = 0, mean, ss;
    double *o = c->out[0].v;
    switch (c->e->kind) {
      case K_SUM:
      case K_SUM_KAHAN:
      case K_MEAN:
      case K_MEAN_KAHAN:
        for (int64_t j = 0; j < D; j++) acc += xr[j];
        o[r] = (double)(c->e->kind == K_SUM || c->e->kind == K_SUM_KAHAN ? acc : acc / D);
        break;
      case K_MAX:
      case K_MIN: {
        double m = c->e->kind == K_MAX ? -INFINITY : INFINITY;
        for (int64_t j = 0; j < D; j++) m = c->e->kind == K_MAX ? fmax(m, xr[j]) : fmin(m, xr[j]);
        o[r] = m;
        break;
      }
      case K_VAR:
      case K_STD:
        moments(xr, D, &mean, &ss);
        o[r] = (double)(ss / (D - unbiased(c)));
        if (c->e->kind == K_STD) o[r] = sqrt(o[r]);
        break;
      case K_ARGMAX:
        o[r] = (double)next_pick(xr, D, -1);
        break;
      case K_TOPK: {
        int64_t K = last(&c->out[0]), prev = -1;
        for (int64_t k = 0; k < K; k++) {
          prev = next_pick(xr, D, prev);
          c->out[0].v[r * K + k] = xr[prev];
          c->out[1].v[r * K + k] = (double)prev;
        }
        break;
      }
    }
  }
}

static void ref_grad(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = D ? x->n / D : 0;
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x->v + r * D, g = c->dout[0].v[r];
    double *dx = c->din[0].v + r * D;
    long double mean, ss;
    moments(xr, D, &mean, &ss);
    double n = (double)D - unbiased(c), sd = sqrt((double)(ss / n));
    for (int64_t j = 0; j < D; j++) {
      double d = (double)(xr[j] - mean);
      switch (c->e->kind) {
        case K_SUM: dx[j] += g; break;
        case K_MEAN: dx[j] += g / (double)D; break;
        case K_VAR: dx[j] += g * 2 * d / n; break;
        case K_STD: dx[j] += g * d / (n * sd); break;
      }
    }
  }
}

static const int last_axis[1] = {-1};

/* var and std where a row's values nearly agree: each deviation d = x -
 * mean carries the mean's rounding (|mean| eps), so a kernel's error is
 * relative to sum |d| (|d| + |mean|) rather than to sum d^2 (var_size),
 * and a gradient's to |d| + |mean| (var_grad_size). */
static double spread(const double *x, int64_t D, long double mean) {
  double s = 0, m = fabs((double)mean);
  for (int64_t j = 0; j < D; j++) {
    double d = fabs((double)(x[j] - mean));
    s += d * (d + m);
  }
  return s;
}

static void var_size(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x);
  for (int64_t r = 0; r < c->out[0].n; r++) {
    long double mean, ss;
    moments(x->v + r * D, D, &mean, &ss);
    double n = (double)D - unbiased(c), v = 2 * spread(x->v + r * D, D, mean) / n;
    /* sqrt halves the relative error: std's size is v / (2 std). */
    c->out[0].v[r] = c->e->kind == K_VAR ? v : ss > 0 ? v / (2 * sqrt((double)(ss / n))) : 0;
  }
}

static void var_grad_size(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = D ? x->n / D : 0;
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x->v + r * D, g = fabs(c->dout[0].v[r]);
    long double mean, ss;
    moments(xr, D, &mean, &ss);
    double n = (double)D - unbiased(c), sd = sqrt((double)(ss / n));
    double sd_rel = ss > 0 ? spread(xr, D, mean) / (double)ss : 0; /* std's error / std, in eps */
    for (int64_t j = 0; j < D; j++) {
      double d = fabs((double)(xr[j] - mean)), a = d + fabs((double)mean);
      if (c->e->kind == K_VAR) c->din[0].v[r * D + j] += g * 2 * a / n;
      else if (sd > 0) c->din[0].v[r * D + j] += g * (a + d * sd_rel) / (n * sd);
    }
  }
}

static zmlx_status run(const zcat_dev_call *c) {
  zmlx_array *x = c->in[0], **o = &c->out[0];
  int u = c->e->n_params ? (int)c->p[0] : 0;
  switch (c->e->kind) {
    case K_SUM: return zmlx_reduce_sum(x, 1, last_axis, 0, o);
    case K_SUM_KAHAN: return zmlx_reduce_sum_kahan(x, 1, last_axis, 0, o);
    case K_MEAN: return zmlx_reduce_mean(x, 1, last_axis, 0, o);
    case K_MEAN_KAHAN: return zmlx_reduce_mean_kahan(x, 1, last_axis, 0, o);
    case K_MAX: return zmlx_reduce_max(x, 1, last_axis, 0, o);
    case K_MIN: return zmlx_reduce_min(x, 1, last_axis, 0, o);
    case K_VAR: return zmlx_reduce_var(x, 1, last_axis, 0, u, o);
    case K_STD: return zmlx_reduce_std(x, 1, last_axis, 0, u, o);
    case K_ARGMAX: return zmlx_reduce_argmax(x, 1, last_axis, 0, o);
    default: return zmlx_topk(x, (int64_t)c->p[0], o, &c->out[1]);
  }
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  zmlx_array *x = c->in[0], *g = c->dout[0], **dx = &c->din[0];
  int u = c->e->n_params ? (int)c->p[0] : 0;
  switch (c->e->kind) {
    case K_SUM: return zmlx_reduce_sum_backward(x, 1, last_axis, 0, g, dx);
    case K_MEAN: return zmlx_reduce_mean_backward(x, 1, last_axis, 0, g, dx);
    case K_VAR: return zmlx_reduce_var_backward(x, 1, last_axis, 0, u, g, dx);
    default: return zmlx_reduce_std_backward(x, 1, last_axis, 0, u, g, dx);
  }
}

/* Cases without an empty row where the result would be NaN (mean, var),
 * and with n > 1 where var divides by n - 1. */
static const char *const no_empty_rows[] = {"- D=1", "D=7", "D=4097", "3x5 D=33", "0 D=16",
                                            "9 D=64 ~*", "D=129 ~*", "5 D=64 @x", NULL};
static const char *const var_cases[] = {"- D=2", "D=7", "D=4097", "3x5 D=33", "0 D=16",
                                        "5 D=2 unbiased=0", "- D=1 unbiased=0", "9 D=64 ~*",
                                        "D=129 ~*", "5 D=64 @x", NULL};
static const char *const std_cases[] = {"- D=2", "D=7", "D=4097", "3x5 D=33", "0 D=16",
                                        "5 D=2 unbiased=0", "9 D=64 ~*", "D=129 ~*",
                                        "5 D=64 @x", NULL};
static const char *const full_cases[] = {"1000 D=1025", "17x19 D=4096", "3 D=100003",
                                         "65 D=257 ~*", NULL};
/* k = D sorts the whole row; D=20000 has too many keys per lane to keep
 * on the GPU, which re-reads the row each round. */
static const char *const topk_cases[] = {"- D=1 K=1 k=1",      "D=7 K=3 k=3",
                                         "3x5 D=33 K=33 k=33", "D=4097 K=8 k=8",
                                         "0 D=16 K=4 k=4",     "4 D=0 K=0 k=0",
                                         "4 D=5 K=0 k=0",      "16 D=128 K=8 k=8",
                                         "2 D=20000 K=50 k=50", "9 D=64 K=5 k=5 ~x",
                                         "5 D=64 K=3 k=3 @x",  NULL};
static const char *const topk_full[] = {"1000 D=1025 K=10 k=10", "3 D=100003 K=64 k=64",
                                        "2 D=151936 K=50 k=50", "65 D=257 K=7 k=7 ~x", NULL};
static const char *const topk_bad[] = {"D=5 K=6 k=6 => INVALID_ARGUMENT",
                                       "D=5 K=1 k=-1 => INVALID_ARGUMENT", NULL};
static const char *const var_bad[] = {"D=5 unbiased=2 => INVALID_ARGUMENT", NULL};

/* Exact results (argmax, top-k) must match exactly. */
#define EXACT                                                                              \
  {[ZMLX_DTYPE_F32] = 1e-15, [ZMLX_DTYPE_F16] = 1e-15, [ZMLX_DTYPE_BF16] = 1e-15,           \
   [ZMLX_DTYPE_F64] = 1e-15}
/* A compensated f32 sum is about as good as the f32 result's rounding. */
#define KAHAN_TOL .tol = {[ZMLX_DTYPE_F32] = 3e-7}

#define RF(KIND, NAME, API, SUMMARY, NOUT, PERF, FULL, ...)                                \
  {.name = NAME, .family = "reduce", .summary = SUMMARY, .api = API, .kind = KIND,         \
   .n_in = 1, .n_out = NOUT, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,       \
   .ref = ref, .run = run, .full_cases = FULL, .perf = PERF, __VA_ARGS__}
#define R(KIND, NAME, API, SUMMARY, NOUT, PERF, ...)                                       \
  RF(KIND, NAME, API, SUMMARY, NOUT, PERF, full_cases, __VA_ARGS__)
#define P "16384 D=4096"
#define X(FLAGS) {{"x", "...,D", FLAGS}}
#define X_OFFSET {{"x", "...,D", 0, 10, 13}}

static const zcat_entry entries[] = {
    R(K_SUM, "sum", "zmlx_reduce_sum, zmlx_reduce_sum_backward", "sum over axes", 1, P,
      .in = X(ZCAT_GRAD), .out = {{"out", "..."}}, .ref_grad = ref_grad, .run_grad = run_grad,
      .ref_size = zcat_ref_of_abs, .ref_grad_size = zcat_ref_grad_of_abs),
    R(K_SUM_KAHAN, "sum_kahan", "zmlx_reduce_sum_kahan",
      "sum over axes, Kahan-Babuska compensated", 1, P, .in = X_OFFSET, .out = {{"out", "..."}},
      KAHAN_TOL),
    R(K_MEAN, "mean", "zmlx_reduce_mean, zmlx_reduce_mean_backward", "mean over axes", 1, P,
      .in = X(ZCAT_GRAD), .out = {{"out", "..."}}, .ref_grad = ref_grad, .run_grad = run_grad,
      .ref_size = zcat_ref_of_abs, .cases = no_empty_rows),
    R(K_MEAN_KAHAN, "mean_kahan", "zmlx_reduce_mean_kahan",
      "mean over axes, Kahan-Babuska compensated", 1, P, .in = X_OFFSET, .out = {{"out", "..."}},
      .cases = no_empty_rows, KAHAN_TOL),
    R(K_MAX, "max", "zmlx_reduce_max", "maximum over axes (NaN propagates)", 1, P, .in = X(0),
      .out = {{"out", "..."}}),
    R(K_MIN, "min", "zmlx_reduce_min", "minimum over axes (NaN propagates)", 1, P, .in = X(0),
      .out = {{"out", "..."}}),
    R(K_VAR, "var", "zmlx_reduce_var, zmlx_reduce_var_backward",
      "variance over axes, biased or unbiased", 1, P, .in = X(ZCAT_GRAD), .out = {{"out", "..."}},
      .n_params = 1, .params = {{"unbiased", 1}}, .ref_grad = ref_grad, .run_grad = run_grad,
      .ref_size = var_size, .ref_grad_size = var_grad_size, .cases = var_cases, .bad = var_bad),
    R(K_STD, "std", "zmlx_reduce_std, zmlx_reduce_std_backward",
      "standard deviation over axes, biased or unbiased", 1, P, .in = X(ZCAT_GRAD),
      .out = {{"out", "..."}}, .n_params = 1, .params = {{"unbiased", 1}},
      .ref_grad = ref_grad, .run_grad = run_grad, .ref_size = var_size,
      .ref_grad_size = var_grad_size, .cases = std_cases, .bad = var_bad),
    R(K_ARGMAX, "argmax", "zmlx_reduce_argmax",
      "index of the maximum (first NaN; ties to the lowest index), i64", 1, P, .in = X(0),
      .out = {{"index", "...", ZCAT_INDEX, 0, 0, NULL, ZMLX_DTYPE_I64}}, .tol = EXACT,
      .cases = no_empty_rows),
    RF(K_TOPK, "topk", "zmlx_topk",
       "k largest along the last axis, sorted, ties to the lower index; values and i64 indices",
       2, "16384 D=128 K=8 k=8", topk_full, .in = X(0),
      .out = {{"values", "...,K"}, {"indices", "...,K", ZCAT_INDEX, 0, 0, NULL, ZMLX_DTYPE_I64}},
      .n_params = 1, .params = {{"k", 1}}, .tol = EXACT, .cases = topk_cases, .bad = topk_bad),
};

const zcat_family zcat_family_reduce = {"reduce", "Reductions", entries,
                                        (int)(sizeof entries / sizeof entries[0])};
