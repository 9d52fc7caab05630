/* The softmax family's catalog entries: f64 references from the textbook
 * formulas (max-shifted, so they stay exact for any input), runners. */
#include <math.h>
#include <stdlib.h>

#include "catalog/registry.h"
#include "zmlx/catalog_softmax.h"
#include "zmlx/reduce.h"

enum { K_SOFTMAX, K_LOG_SOFTMAX, K_LSE, K_MASKED, K_MASKED_BOOL, K_TEMPERATURE };

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

/* Offset in m of element i of x, m broadcasting to x by NumPy's rules. */
static int64_t bcast(const zcat_tensor *x, const zcat_tensor *m, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int d = 1; d <= x->ndim; d++) {
    int64_t n = x->shape[x->ndim - d], k = i % n;
    i /= n;
    if (d <= m->ndim) {
      int64_t mn = m->shape[m->ndim - d];
      if (mn != 1) off += k * stride;
      stride *= mn;
    }
  }
  return off;
}

/* z = scale * x (+ mask); y = softmax(z) per row, or log_softmax. A row
 * with nothing left gives zeros. */
static void softmax_rows(const zcat_host_call *c, int log_out, double scale, double *y) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = D ? x->n / D : 0;
  int kind = c->e->kind;
  for (int64_t r = 0; r < rows; r++) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < D; j++) {
      int64_t i = r * D + j;
      double z = scale * x->v[i];
      if ((kind == K_MASKED || kind == K_MASKED_BOOL) && c->in[1].v) {
        double mk = c->in[1].v[bcast(x, &c->in[1], i)];
        z = kind == K_MASKED ? z + mk : mk != 0 ? z : -INFINITY;
      }
      y[i] = z;
      m = fmax(m, z);
    }
    for (int64_t j = 0; j < D; j++) s += m > -INFINITY ? exp(y[r * D + j] - m) : 0;
    for (int64_t j = 0; j < D; j++) {
      double *v = &y[r * D + j];
      if (m == -INFINITY) *v = 0;
      else *v = log_out ? (*v - m) - log(s) : exp(*v - m) / s;
    }
  }
}

static double scale_of(const zcat_host_call *c) {
  switch (c->e->kind) {
    case K_MASKED:
    case K_MASKED_BOOL: return c->p[0];
    case K_TEMPERATURE: return 1.0 / c->p[0];
    default: return 1.0;
  }
}

static void ref(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  if (c->e->kind != K_LSE) {
    softmax_rows(c, c->e->kind == K_LOG_SOFTMAX, scale_of(c), c->out[0].v);
    return;
  }
  int64_t D = last(x), rows = x->ndim ? c->out[0].n : 1;
  for (int64_t r = 0; r < rows; r++) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < D; j++) m = fmax(m, x->v[r * D + j]);
    for (int64_t j = 0; j < D && m > -INFINITY; j++) s += exp(x->v[r * D + j] - m);
    c->out[0].v[r] = m > -INFINITY ? m + log(s) : m;
  }
}

/* The backward; with `size`, the magnitude of its terms instead (every g
 * as |g|, each difference as a sum), where g - sum(y g) cancels. */
static void grad_rows(const zcat_host_call *c, int size) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = D ? x->n / D : 0;
  double *y = malloc(((size_t)x->n + 1) * sizeof *y);
  if (!y) return;
  int log_out = c->e->kind == K_LOG_SOFTMAX;
  softmax_rows(c, log_out, scale_of(c), y);
  const double *g = c->dout[0].v, sign = size ? 1 : -1;
  double *dx = c->din[0].v;
#define G(i) (size ? fabs(g[i]) : g[i])
  for (int64_t r = 0; r < rows; r++) {
    double s = 0;
    const double *yr = y + r * D;
    for (int64_t j = 0; j < D; j++)
      s += c->e->kind == K_LSE ? 0 : log_out ? G(r * D + j) : G(r * D + j) * yr[j];
    for (int64_t j = 0; j < D; j++) {
      int64_t i = r * D + j;
      if (c->e->kind == K_LSE) dx[i] += G(r) * yr[j];
      else if (log_out) dx[i] += G(i) + sign * exp(yr[j]) * s;
      else dx[i] += (size ? fabs(scale_of(c)) : scale_of(c)) * yr[j] * (G(i) + sign * s);
    }
  }
#undef G
  free(y);
}

static void ref_grad(const zcat_host_call *c) { grad_rows(c, 0); }
static void ref_grad_size(const zcat_host_call *c) { grad_rows(c, 1); }

static zmlx_status forward(const zcat_dev_call *c, zmlx_array **y) {
  switch (c->e->kind) {
    case K_SOFTMAX: return zmlx_softmax(c->in[0], -1, y);
    case K_LOG_SOFTMAX: return zmlx_log_softmax(c->in[0], -1, y);
    case K_LSE: return zmlx_logsumexp(c->in[0], -1, y);
    case K_MASKED:
    case K_MASKED_BOOL: return zmlx_softmax_masked(c->in[0], c->in[1], c->p[0], y);
    default: return zmlx_softmax_temperature(c->in[0], c->p[0], y);
  }
}

static zmlx_status run(const zcat_dev_call *c) { return forward(c, &c->out[0]); }

/* The masked backward takes the forward's output (as a tape keeps it);
 * the others take the input. */
static zmlx_status run_grad(const zcat_dev_call *c) {
  zmlx_array *x = c->in[0], *g = c->dout[0], **dx = &c->din[0];
  switch (c->e->kind) {
    case K_SOFTMAX: return zmlx_softmax_backward(x, g, -1, dx);
    case K_LOG_SOFTMAX: return zmlx_log_softmax_backward(x, g, -1, dx);
    case K_LSE: return zmlx_logsumexp_backward(x, g, -1, dx);
    case K_TEMPERATURE: return zmlx_softmax_temperature_backward(x, g, c->p[0], dx);
    default: break;
  }
  zmlx_array *y = NULL;
  zmlx_status s = forward(c, &y);
  if (!s) s = zmlx_softmax_masked_backward(y, g, c->p[0], dx);
  zmlx_array_release(y);
  return s;
}

/* D=40000 takes the streaming path (rows longer than the lanes keep). */
static const char *const cases[] = {"- D=1", "D=7", "D=4097", "3x5 D=33", "0 D=16", "4 D=0",
                                    "2 D=40000", "9 D=64 ~*", "D=129 ~*", "3 D=64 @*", NULL};
/* logsumexp's backward is the row kernel above; its forward, a
 * reduction, takes the split path for few long rows. */
static const char *const lse_cases[] = {"- D=1", "D=7", "D=4097", "3x5 D=33", "0 D=16",
                                        "4 D=0", "9 D=64 ~*", "3 D=64 @*", NULL};
static const char *const full_cases[] = {"1000 D=1025", "17x19 D=4096", "3 D=70001",
                                         "65 D=257 ~*", NULL};
/* Masks of every broadcast shape: full, (D,), (..., 1, D), shared along
 * the last axis, a scalar. */
static const char *const mask_cases[] = {"- D=1", "D=7", "3x5 D=33", "0 D=16", "4 D=0",
                                         "3x5 D=33 mask:33", "2x3x5 D=7 mask:2x1x5x7",
                                         "3 D=9 mask:3x1", "4 D=7 mask:-", "2 D=40000",
                                         "9 D=64 ~*", "3 D=64 @*", NULL};
static const char *const mask_bad[] = {"x:3x5 mask:5x5 => SHAPE_MISMATCH",
                                       "x:5 mask:2x5 => SHAPE_MISMATCH", NULL};
static const char *const temp_bad[] = {"D=7 temperature=0 => INVALID_ARGUMENT",
                                       "D=7 temperature=-1 => INVALID_ARGUMENT", NULL};

#define X_IN(FLAGS) {"x", "...,D", FLAGS, -6, 6}
#define SM(KIND, NAME, API, SUMMARY, ...)                                                   \
  {.name = NAME, .family = "softmax", .summary = SUMMARY, .api = API, .kind = KIND,        \
   .n_out = 1, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS, .ref = ref,        \
   .run = run, .ref_grad_size = ref_grad_size, .full_cases = full_cases, __VA_ARGS__}

static const zcat_entry entries[] = {
    SM(K_SOFTMAX, "softmax", "zmlx_softmax, zmlx_softmax_backward",
       "exp(x) / sum(exp(x)) over the last axis", .n_in = 1,
       .in = {X_IN(ZCAT_GRAD)}, .out = {{"y", "...,D"}}, .ref_grad = ref_grad,
       .run_grad = run_grad, .cases = cases, .perf = "16384 D=4096"),
    SM(K_LOG_SOFTMAX, "log_softmax", "zmlx_log_softmax, zmlx_log_softmax_backward",
       "x - logsumexp(x) over the last axis", .n_in = 1,
       .in = {X_IN(ZCAT_GRAD)}, .out = {{"y", "...,D"}}, .ref_grad = ref_grad,
       .run_grad = run_grad, .cases = cases, .perf = "16384 D=4096"),
    SM(K_LSE, "logsumexp", "zmlx_logsumexp, zmlx_logsumexp_backward",
       "log(sum(exp(x))) over an axis, stable; backward dy * softmax(x)", .n_in = 1,
       .in = {X_IN(ZCAT_GRAD)}, .out = {{"out", "..."}}, .ref_grad = ref_grad,
       .run_grad = run_grad, .cases = lse_cases, .perf = "16384 D=4096"),
    SM(K_MASKED, "softmax_masked", "zmlx_softmax_masked, zmlx_softmax_masked_backward",
       "softmax(scale x + mask), an additive mask broadcast like attention masks", .n_in = 2,
       .in = {X_IN(ZCAT_GRAD), {"mask", "...,D", ZCAT_OPTIONAL}}, .out = {{"y", "...,D"}},
       .n_params = 1, .params = {{"scale", 0.125}}, .ref_grad = ref_grad,
       .run_grad = run_grad, .cases = mask_cases, .bad = mask_bad, .perf = "16384 D=4096"),
    SM(K_MASKED_BOOL, "softmax_masked_bool", "zmlx_softmax_masked (bool mask)",
       "softmax(scale x) where a bool mask is true; fully masked rows give zeros", .n_in = 2,
       .in = {X_IN(0), {"mask", "...,D", ZCAT_INDEX | ZCAT_OPTIONAL, 0, 0, "2", ZMLX_DTYPE_BOOL}},
       .out = {{"y", "...,D"}}, .n_params = 1, .params = {{"scale", 0.125}},
       .cases = mask_cases, .bad = mask_bad, .perf = "16384 D=4096"),
    SM(K_TEMPERATURE, "softmax_temperature",
       "zmlx_softmax_temperature, zmlx_softmax_temperature_backward",
       "softmax(x / temperature) for sampling (temperature > 0)", .n_in = 1,
       .in = {X_IN(ZCAT_GRAD)}, .out = {{"y", "...,D"}}, .n_params = 1,
       .params = {{"temperature", 0.7}}, .ref_grad = ref_grad, .run_grad = run_grad,
       .cases = cases, .bad = temp_bad, .perf = "256 D=151936"),
};

const zcat_family zcat_family_softmax = {"softmax", "Softmax", entries,
                                         (int)(sizeof entries / sizeof entries[0])};
