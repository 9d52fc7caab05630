/* The gated linear units' catalog entries: each kind split and packed,
 * with and without biases. f64 references from the textbook formulas. */
#include <math.h>

#include "catalog/registry.h"
#include "zmlx/catalog_glu.h"

/* kind = the zmlx_glu_kind | PACKED | BIAS */
enum { PACKED = 1 << 4, BIAS = 1 << 5 };

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* gelu written as x sigmoid(2u) and x erfc(-x/sqrt2)/2: no cancellation
 * for negative x (1 + tanh and 1 + erf lose it all). */
static double act(int kind, double a) {
  const double k = sqrt(2.0 / M_PI);
  switch (kind & 15) {
    case ZMLX_GLU_SWIGLU: return a * sigmoid(a);
    case ZMLX_GLU_GEGLU_TANH: return a * sigmoid(2 * k * (a + 0.044715 * a * a * a));
    case ZMLX_GLU_GEGLU_ERF: return 0.5 * a * erfc(-a / sqrt(2.0));
    default: return NAN;
  }
}

/* t1 + t2, or with `size` |t1| + |t2|: each derivative crosses zero where
 * its terms cancel, and a kernel's rounding there is relative to them. */
static double terms(double t1, double t2, int size) { return size ? fabs(t1) + fabs(t2) : t1 + t2; }

static double dact(int kind, double a, int size) {
  const double k = sqrt(2.0 / M_PI);
  switch (kind & 15) {
    case ZMLX_GLU_SWIGLU: return terms(sigmoid(a), a * sigmoid(a) * sigmoid(-a), size);
    case ZMLX_GLU_GEGLU_TANH: {
      double v = 2 * k * (a + 0.044715 * a * a * a);
      return terms(sigmoid(v), a * sigmoid(v) * sigmoid(-v) * 2 * k * (1 + 3 * 0.044715 * a * a),
                   size);
    }
    case ZMLX_GLU_GEGLU_ERF:
      return terms(0.5 * erfc(-a / sqrt(2.0)), a * exp(-a * a / 2) / sqrt(2 * M_PI), size);
    default: return NAN;
  }
}

/* Element (r, j) of gate and up, and where each lives in its input. */
typedef struct at {
  int gi, ui;          /* inputs holding gate and up */
  int64_t go, uo;      /* their offsets */
  int bg, bu;          /* bias inputs (-1: none) */
  int64_t bgo, buo;
} at;

static at locate(int kind, int64_t r, int64_t j, int64_t D) {
  at p = {0, 1, r * D + j, r * D + j, -1, -1, j, j};
  if (kind & PACKED) {
    p.ui = 0;
    p.go = r * 2 * D + j;
    p.uo = r * 2 * D + D + j;
    if (kind & BIAS) p.bg = p.bu = 1, p.buo = D + j;
  } else if (kind & BIAS) {
    p.bg = 2, p.bu = 3;
  }
  return p;
}

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

static void ref(const zcat_host_call *c) {
  int kind = c->e->kind;
  int64_t D = last(&c->out[0]), rows = D ? c->out[0].n / D : 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < D; j++) {
      at p = locate(kind, r, j, D);
      double g = c->in[p.gi].v[p.go], u = c->in[p.ui].v[p.uo];
      if (p.bg >= 0) g += c->in[p.bg].v[p.bgo], u += c->in[p.bu].v[p.buo];
      c->out[0].v[r * D + j] = act(kind, g) * u;
    }
}

/* The gradients, or with `size` their magnitudes with dact's terms apart. */
static void grad(const zcat_host_call *c, int size) {
  int kind = c->e->kind;
  int64_t D = last(&c->dout[0]), rows = D ? c->dout[0].n / D : 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < D; j++) {
      at p = locate(kind, r, j, D);
      double g = c->in[p.gi].v[p.go], u = c->in[p.ui].v[p.uo], dy = c->dout[0].v[r * D + j];
      if (p.bg >= 0) g += c->in[p.bg].v[p.bgo], u += c->in[p.bu].v[p.buo];
      double dg = dy * u * dact(kind, g, size), du = dy * act(kind, g);
      if (size) dg = fabs(dg), du = fabs(du);
      c->din[p.gi].v[p.go] += dg;
      c->din[p.ui].v[p.uo] += du;
      if (p.bg >= 0) {
        c->din[p.bg].v[p.bgo] += dg;
        c->din[p.bu].v[p.buo] += du;
      }
    }
}

static void ref_grad(const zcat_host_call *c) { grad(c, 0); }
static void ref_grad_size(const zcat_host_call *c) { grad(c, 1); }

static zmlx_status run(const zcat_dev_call *c) {
  int kind = c->e->kind;
  zmlx_glu_kind k = (zmlx_glu_kind)(kind & 15);
  if (kind & PACKED) return zmlx_glu_packed(k, c->in[0], kind & BIAS ? c->in[1] : NULL, &c->out[0]);
  return zmlx_glu(k, c->in[0], c->in[1], kind & BIAS ? c->in[2] : NULL,
                  kind & BIAS ? c->in[3] : NULL, &c->out[0]);
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  int kind = c->e->kind;
  zmlx_glu_kind k = (zmlx_glu_kind)(kind & 15);
  if (kind & PACKED)
    return zmlx_glu_packed_backward(k, c->in[0], kind & BIAS ? c->in[1] : NULL, c->dout[0],
                                    &c->din[0], kind & BIAS ? &c->din[1] : NULL);
  return zmlx_glu_backward(k, c->in[0], c->in[1], kind & BIAS ? c->in[2] : NULL,
                           kind & BIAS ? c->in[3] : NULL, c->dout[0], &c->din[0], &c->din[1],
                           kind & BIAS ? &c->din[2] : NULL, kind & BIAS ? &c->din[3] : NULL);
}

static const char *const full_cases[] = {"1000 D=1025", "17x19 D=4096", "65 D=257 ~*", "D=129 ~*",
                                         NULL};
static const char *const split_bad[] = {"gate:- up:- => SHAPE_MISMATCH",
                                        "gate:4x6 up:6x4 => SHAPE_MISMATCH", NULL};
static const char *const split_bias_bad[] = {"gate:4x6 up:4x6 bias_gate:1x6 bias_up:6 => SHAPE_MISMATCH",
                                             NULL};
static const char *const packed_bad[] = {"x:- => SHAPE_MISMATCH", "x:4x7 => SHAPE_MISMATCH", NULL};
static const char *const packed_bias_bad[] = {"x:4x8 bias:4 => SHAPE_MISMATCH", NULL};

#define G(KIND, NAME, CALL, SUMMARY, BAD, NIN, ...)                                          \
  {.name = NAME, .family = "glu", .summary = SUMMARY, .api = CALL, .kind = KIND,            \
   .n_in = NIN, .n_out = 1, .in = {__VA_ARGS__}, .out = {{"out", "...,D"}},                  \
   .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS, .ref = ref, .ref_grad = ref_grad, \
   .ref_grad_size = ref_grad_size, .run = run, .run_grad = run_grad,                          \
   .full_cases = full_cases, .bad = BAD, .perf = "8192 D=4096"}

#define GATE {"gate", "...,D", ZCAT_GRAD, -6, 6}
#define UP {"up", "...,D", ZCAT_GRAD}
#define BIASES {"bias_gate", "D", ZCAT_GRAD | ZCAT_OPTIONAL, -1, 1}, \
               {"bias_up", "D", ZCAT_GRAD | ZCAT_OPTIONAL, -1, 1}
#define X {"x", "...,2D", ZCAT_GRAD, -6, 6}
#define PBIAS {"bias", "2D", ZCAT_GRAD | ZCAT_OPTIONAL, -1, 1}

/* One kind's four entries. */
#define GLU4(K, N, ACT)                                                                       \
  G(K, N, "zmlx_glu(" #K ")", ACT "(gate) * up", split_bad, 2, GATE, UP),                    \
  G(K | BIAS, N "_bias", "zmlx_glu(" #K ", biases)", ACT "(gate + bias_gate) * (up + bias_up)", \
    split_bias_bad, 4, GATE, UP, BIASES),                                                     \
  G(K | PACKED, N "_packed", "zmlx_glu_packed(" #K ")", ACT "(x[..., :D]) * x[..., D:]",      \
    packed_bad, 1, X),                                                                        \
  G(K | PACKED | BIAS, N "_packed_bias", "zmlx_glu_packed(" #K ", bias)",                    \
    ACT "(x[..., :D] + bias[:D]) * (x[..., D:] + bias[D:])", packed_bias_bad, 2, X, PBIAS)

static const zcat_entry entries[] = {
    GLU4(ZMLX_GLU_SWIGLU, "swiglu", "silu"),
    GLU4(ZMLX_GLU_GEGLU_TANH, "geglu_tanh", "gelu_tanh"),
    GLU4(ZMLX_GLU_GEGLU_ERF, "geglu_erf", "gelu_erf"),
};

const zcat_family zcat_family_glu = {"glu", "Gated linear units", entries,
                                     (int)(sizeof entries / sizeof entries[0])};
