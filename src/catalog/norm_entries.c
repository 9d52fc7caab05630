/* The normalizations' catalog entries: rmsnorm and layernorm with and
 * without weight and bias, the residual-add forms, and rmsnorm with
 * dropout. f64 references in norm_ref.c. */
#include <stdlib.h>

#include "catalog/norm_ref.h"
#include "catalog/registry.h"
#include "zmlx/catalog_norm.h"

/* kind: what an entry passes (the inputs in this order: x, residual,
 * weight, bias). */
enum { K_LN = 1, K_ADD = 2, K_DROP = 4, K_W = 8, K_B = 16 };

/* Input positions, -1 when absent. */
typedef struct at {
  int res, w, b;
} at;

static at locate(int kind) {
  at a = {-1, -1, -1};
  int i = 1;
  if (kind & K_ADD) a.res = i++;
  if (kind & K_W) a.w = i++;
  if (kind & K_B) a.b = i++;
  return a;
}

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

/* Parameters: eps, then p, seed, offset for dropout. */
static double drop_scale(const double *p) { return p[1] < 1 ? 1 / (1 - p[1]) : 0; }

static int keep(const double *p, int64_t i) {
  return zcat_norm_ref_keep((uint64_t)p[2], (uint64_t)p[3], i, p[1]);
}

/* Row r of h = x (+ residual) into buf. */
static const double *row_h(const zcat_host_call *c, at a, int64_t r, int64_t D, double *buf) {
  const double *x = c->in[0].v + r * D;
  if (a.res < 0) return x;
  for (int64_t j = 0; j < D; j++) buf[j] = x[j] + c->in[a.res].v[r * D + j];
  return buf;
}

static void ref(const zcat_host_call *c) {
  int kind = c->e->kind;
  at a = locate(kind);
  int64_t D = last(&c->in[0]), rows = D ? c->in[0].n / D : 0;
  double *buf = malloc(sizeof(double) * (size_t)(D + 1));
  if (!buf) return;
  const double *w = a.w >= 0 ? c->in[a.w].v : NULL, *b = a.b >= 0 ? c->in[a.b].v : NULL;
  for (int64_t r = 0; r < rows; r++) {
    const double *h = row_h(c, a, r, D, buf);
    double *y = c->out[0].v + r * D;
    zcat_norm_ref_row(kind & K_LN, h, w, b, c->p[0], D, y);
    if (kind & K_ADD)
      for (int64_t j = 0; j < D; j++) c->out[1].v[r * D + j] = h[j];
    if (kind & K_DROP)
      for (int64_t j = 0; j < D; j++) y[j] *= keep(c->p, r * D + j) ? drop_scale(c->p) : 0;
  }
  free(buf);
}

static void ref_grad(const zcat_host_call *c) {
  int kind = c->e->kind;
  at a = locate(kind);
  int64_t D = last(&c->in[0]), rows = D ? c->in[0].n / D : 0;
  double *buf = malloc(sizeof(double) * (size_t)(3 * D + 1));
  if (!buf) return;
  double *g = buf + D, *dh = buf + 2 * D;
  const double *w = a.w >= 0 ? c->in[a.w].v : NULL;
  double *dw = a.w >= 0 ? c->din[a.w].v : NULL, *db = a.b >= 0 ? c->din[a.b].v : NULL;
  for (int64_t r = 0; r < rows; r++) {
    const double *h = row_h(c, a, r, D, buf);
    for (int64_t j = 0; j < D; j++) {
      g[j] = c->dout[0].v[r * D + j];
      if (kind & K_DROP) g[j] *= keep(c->p, r * D + j) ? drop_scale(c->p) : 0;
    }
    zcat_norm_ref_row_grad(kind & K_LN, h, w, c->p[0], D, g, dh, dw, db);
    for (int64_t j = 0; j < D; j++) {
      double d = dh[j] + (kind & K_ADD ? c->dout[1].v[r * D + j] : 0);
      c->din[0].v[r * D + j] += d;
      if (a.res >= 0) c->din[a.res].v[r * D + j] += d;
    }
  }
  free(buf);
}

static zmlx_norm_kind nk(int kind) { return kind & K_LN ? ZMLX_NORM_LAYER : ZMLX_NORM_RMS; }

static zmlx_status run(const zcat_dev_call *c) {
  int kind = c->e->kind;
  at a = locate(kind);
  zmlx_array *w = a.w >= 0 ? c->in[a.w] : NULL, *b = a.b >= 0 ? c->in[a.b] : NULL;
  if (kind & K_ADD)
    return zmlx_add_norm(nk(kind), c->in[0], c->in[a.res], w, b, c->p[0], &c->out[0], &c->out[1]);
  if (kind & K_DROP)
    return zmlx_rmsnorm_dropout(c->in[0], w, c->p[0], c->p[1], (uint64_t)c->p[2],
                                (uint64_t)c->p[3], &c->out[0]);
  return zmlx_norm(nk(kind), c->in[0], w, b, c->p[0], &c->out[0]);
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  int kind = c->e->kind;
  at a = locate(kind);
  zmlx_array *w = a.w >= 0 ? c->in[a.w] : NULL, *b = a.b >= 0 ? c->in[a.b] : NULL;
  zmlx_array **dw = a.w >= 0 ? &c->din[a.w] : NULL, **db = a.b >= 0 ? &c->din[a.b] : NULL;
  if (kind & K_ADD) {
    /* One gradient serves x and residual. */
    zmlx_status s = zmlx_add_norm_backward(nk(kind), c->in[0], c->in[a.res], w, b, c->p[0],
                                           c->dout[0], c->dout[1], &c->din[0], dw, db);
    if (!s) c->din[a.res] = zmlx_array_retain(c->din[0]);
    return s;
  }
  if (kind & K_DROP)
    return zmlx_rmsnorm_dropout_backward(c->in[0], w, c->p[0], c->p[1], (uint64_t)c->p[2],
                                         (uint64_t)c->p[3], c->dout[0], &c->din[0], dw);
  return zmlx_norm_backward(nk(kind), c->in[0], w, b, c->p[0], c->dout[0], &c->din[0], dw, db);
}

static const char *const full_cases[] = {"1000 D=1025", "17x19 D=4096", "65 D=257 ~*",
                                         "3 D=20000", "2 D=70001", NULL};
/* The default list plus rows that take the other CUDA paths: two warps
 * per row (D=1000) and rows streamed rather than kept in registers
 * (D=20000). */
static const char *const cases[] = {"- D=1",     "1 D=1",      "D=7",       "D=4097",
                                    "3x5 D=33",  "0 D=16",     "4 D=0",     "9 D=64 ~*",
                                    "2 D=64 @*", "5 D=1000",   "3 D=20000", NULL};
static const char *const drop_cases[] = {
    "- D=1", "D=7", "D=4097", "3x5 D=33", "0 D=16", "4 D=0", "9 D=64 ~*", "2 D=64 @*", "3 D=20000",
    "6 D=24 seed=99 offset=3", "2x3 D=12 p=1", "3 D=16 p=0", NULL};
static const char *const bad_eps[] = {"3 D=8 eps=-1 => INVALID_ARGUMENT",
                                      "x:- => SHAPE_MISMATCH", NULL};
static const char *const bad_w[] = {"3 D=8 eps=-1 => INVALID_ARGUMENT", "x:- D=1 => SHAPE_MISMATCH",
                                    "x:4x6 weight:1x6 D=6 => SHAPE_MISMATCH", NULL};
static const char *const bad_add[] = {"x:4x6 residual:6x4 D=6 => SHAPE_MISMATCH",
                                      "x:4x6 residual:4x6 weight:1x6 D=6 => SHAPE_MISMATCH",
                                      "3 D=8 eps=-1 => INVALID_ARGUMENT", NULL};
static const char *const bad_drop[] = {"3 D=8 p=1.5 => INVALID_ARGUMENT",
                                       "3 D=8 p=-0.25 => INVALID_ARGUMENT",
                                       "3 D=8 eps=-1 => INVALID_ARGUMENT", NULL};

#define X {"x", "...,D", ZCAT_GRAD}
#define RES {"residual", "...,D", ZCAT_GRAD}
#define W {"weight", "D", ZCAT_GRAD | ZCAT_OPTIONAL, 0.25, 2}
#define B {"bias", "D", ZCAT_GRAD | ZCAT_OPTIONAL, -1, 1}
#define OUT {"out", "...,D"}
#define SUM {"sum", "...,D"}

#define N(KIND, NAME, CALL, SUMMARY, CASES, BAD, NOUT, OUTS, NP, PARAMS, NIN, ...)          \
  {.name = NAME, .family = "norm", .summary = SUMMARY, .api = CALL, .kind = KIND, .n_in = NIN,  \
   .n_out = NOUT, .in = {__VA_ARGS__}, .out = {OUTS}, .n_params = NP, .params = {PARAMS},        \
   .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS, .ref = ref, .ref_grad = ref_grad,     \
   .run = run, .run_grad = run_grad, .cases = CASES, .full_cases = full_cases, .bad = BAD,       \
   .perf = "16384 D=4096"}

#define EPS_RMS {"eps", 1e-6}
#define EPS_LN {"eps", 1e-5}
#define DROP_PARAMS EPS_RMS, {"p", 0.25}, {"seed", 1234}, {"offset", 0}
#define ONE_OUT OUT
#define TWO_OUTS OUT, SUM

static const zcat_entry entries[] = {
    N(K_W, "rmsnorm", "zmlx_norm(ZMLX_NORM_RMS)", "x / sqrt(mean(x^2) + eps) * weight", cases,
      bad_w, 1, ONE_OUT, 1, EPS_RMS, 2, X, W),
    N(0, "rmsnorm_noweight", "zmlx_norm(ZMLX_NORM_RMS, weight NULL)", "x / sqrt(mean(x^2) + eps)",
      cases, bad_eps, 1, ONE_OUT, 1, EPS_RMS, 1, X),
    N(K_LN | K_W | K_B, "layernorm", "zmlx_norm(ZMLX_NORM_LAYER)",
      "(x - mean) / sqrt(var + eps) * weight + bias (biased variance)", cases, bad_w, 1, ONE_OUT,
      1, EPS_LN, 3, X, W, B),
    N(K_LN | K_W, "layernorm_nobias", "zmlx_norm(ZMLX_NORM_LAYER, bias NULL)",
      "(x - mean) / sqrt(var + eps) * weight", cases, bad_w, 1, ONE_OUT, 1, EPS_LN, 2, X, W),
    N(K_LN, "layernorm_noaffine", "zmlx_norm(ZMLX_NORM_LAYER, weight and bias NULL)",
      "(x - mean) / sqrt(var + eps)", cases, bad_eps, 1, ONE_OUT, 1, EPS_LN, 1, X),
    N(K_ADD | K_W, "add_rmsnorm", "zmlx_add_norm(ZMLX_NORM_RMS)",
      "sum = x + residual; out = rmsnorm(sum) * weight", cases, bad_add, 2, TWO_OUTS, 1, EPS_RMS,
      3, X, RES, W),
    N(K_ADD | K_LN | K_W | K_B, "add_layernorm", "zmlx_add_norm(ZMLX_NORM_LAYER)",
      "sum = x + residual; out = layernorm(sum) * weight + bias", cases, bad_add, 2, TWO_OUTS, 1,
      EPS_LN, 4, X, RES, W, B),
    N(K_DROP | K_W, "rmsnorm_dropout", "zmlx_rmsnorm_dropout",
      "dropout(rmsnorm(x) * weight, p): Philox mask from (seed, offset), kept values / (1 - p)",
      drop_cases, bad_drop, 1, ONE_OUT, 4, DROP_PARAMS, 2, X, W),
};

const zcat_family zcat_family_norm = {"norm", "Normalizations", entries,
                                      (int)(sizeof entries / sizeof entries[0])};
