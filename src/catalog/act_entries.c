/* The activations' catalog entries: f64 references written from the
 * textbook formulas (not from the kernels' helpers), and runners. */
#include <math.h>

#include "catalog/registry.h"
#include "zmlx/catalog_act.h"

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double relu6(double x) { return fmin(fmax(x, 0.0), 6.0); }

static double f(int kind, double x, double a) {
  const double k = sqrt(2.0 / M_PI);
  switch (kind) {
    case ZMLX_ACT_EXP: return exp(x);
    case ZMLX_ACT_LOG: return log(x);
    case ZMLX_ACT_TANH: return tanh(x);
    case ZMLX_ACT_SIGMOID: return sigmoid(x);
    case ZMLX_ACT_RELU: return x > 0 ? x : 0;
    case ZMLX_ACT_RELU2: return x > 0 ? x * x : 0;
    case ZMLX_ACT_SILU: return x * sigmoid(x);
    /* 0.5 (1 + tanh(u)) = sigmoid(2u) and 1 + erf(z) = erfc(-z): the
     * same functions without cancellation for negative x. */
    case ZMLX_ACT_GELU_TANH: return x * sigmoid(2 * k * (x + 0.044715 * x * x * x));
    case ZMLX_ACT_GELU_ERF: return 0.5 * x * erfc(-x / sqrt(2.0));
    case ZMLX_ACT_QUICK_GELU: return x * sigmoid(1.702 * x);
    case ZMLX_ACT_SOFTPLUS: return softplus(x);
    case ZMLX_ACT_MISH: return x * tanh(softplus(x));
    case ZMLX_ACT_ELU: return x > 0 ? x : a * (exp(x) - 1);
    case ZMLX_ACT_LEAKY_RELU: return x > 0 ? x : a * x;
    case ZMLX_ACT_HARDSWISH: return x * relu6(x + 3) / 6;
    case ZMLX_ACT_HARDSIGMOID: return relu6(x + 3) / 6;
    default: return NAN;
  }
}

/* t1 + t2, or with `size` |t1| + |t2|: the derivatives below that are
 * two terms cross zero where the terms cancel, and a kernel's rounding
 * there is relative to the terms (ref_grad_size). */
static double terms(double t1, double t2, int size) { return size ? fabs(t1) + fabs(t2) : t1 + t2; }

/* Derivatives by hand; the harness checks them against central
 * differences of f. Kinks follow PyTorch (see catalog_act.h). */
static double df(int kind, double x, double a, int size) {
  const double k = sqrt(2.0 / M_PI);
  switch (kind) {
    case ZMLX_ACT_EXP: return exp(x);
    case ZMLX_ACT_LOG: return 1 / x;
    case ZMLX_ACT_TANH: return 1 / (cosh(x) * cosh(x));
    case ZMLX_ACT_SIGMOID: return sigmoid(x) * sigmoid(-x);
    case ZMLX_ACT_RELU: return x > 0 ? 1 : 0;
    case ZMLX_ACT_RELU2: return x > 0 ? 2 * x : 0;
    case ZMLX_ACT_SILU: return terms(sigmoid(x), x * sigmoid(x) * sigmoid(-x), size);
    case ZMLX_ACT_GELU_TANH: {
      double v = 2 * k * (x + 0.044715 * x * x * x);
      return terms(sigmoid(v), x * sigmoid(v) * sigmoid(-v) * 2 * k * (1 + 3 * 0.044715 * x * x),
                   size);
    }
    case ZMLX_ACT_GELU_ERF:
      return terms(0.5 * erfc(-x / sqrt(2.0)), x * exp(-x * x / 2) / sqrt(2 * M_PI), size);
    case ZMLX_ACT_QUICK_GELU:
      return terms(sigmoid(1.702 * x), x * 1.702 * sigmoid(1.702 * x) * sigmoid(-1.702 * x), size);
    case ZMLX_ACT_SOFTPLUS: return sigmoid(x);
    case ZMLX_ACT_MISH: {
      double t = tanh(softplus(x));
      return terms(t, x * (1 - t * t) * sigmoid(x), size);
    }
    case ZMLX_ACT_ELU: return x > 0 ? 1 : a * exp(x);
    case ZMLX_ACT_LEAKY_RELU: return x > 0 ? 1 : a;
    case ZMLX_ACT_HARDSWISH: return x < -3 ? 0 : x <= 3 ? terms(x / 3, 0.5, size) : 1;
    case ZMLX_ACT_HARDSIGMOID: return x > -3 && x < 3 ? 1.0 / 6 : 0;
    default: return NAN;
  }
}

static double alpha(const zcat_host_call *c) { return c->e->n_params ? c->p[0] : 0; }

static void ref(const zcat_host_call *c) {
  for (int64_t i = 0; i < c->in[0].n; i++)
    c->out[0].v[i] = f(c->e->kind, c->in[0].v[i], alpha(c));
}

static void ref_grad(const zcat_host_call *c) {
  for (int64_t i = 0; i < c->in[0].n; i++)
    c->din[0].v[i] += c->dout[0].v[i] * df(c->e->kind, c->in[0].v[i], alpha(c), 0);
}

static void ref_grad_size(const zcat_host_call *c) {
  for (int64_t i = 0; i < c->in[0].n; i++)
    c->din[0].v[i] += fabs(c->dout[0].v[i] * df(c->e->kind, c->in[0].v[i], alpha(c), 1));
}

static double dev_alpha(const zcat_dev_call *c) { return c->e->n_params ? c->p[0] : 0; }

static zmlx_status run(const zcat_dev_call *c) {
  return zmlx_act((zmlx_act_kind)c->e->kind, c->in[0], dev_alpha(c), &c->out[0]);
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  return zmlx_act_backward((zmlx_act_kind)c->e->kind, c->in[0], dev_alpha(c), c->dout[0],
                           &c->din[0]);
}

/* Any shape: scalars, vectors, odd 3-D blocks, empty arrays, views. */
static const char *const cases[] = {"-", "1", "7", "4097", "3x5x33", "0", "4x0", "33x64 ~x", NULL};
/* Misaligned inputs take the elementwise layer's narrower vectors, which
 * its own tests cover: here only with --full. */
static const char *const full_cases[] = {"1000x1025", "65537", "257x129 ~x", "129 ~x", "4x16 @x",
                                         NULL};

#define ACT(KIND, NAME, LO, HI, SUMMARY, ...)                                           \
  {.name = NAME, .family = "act", .summary = SUMMARY, .api = "zmlx_act(" #KIND ")",      \
   .kind = KIND, .n_in = 1, .n_out = 1, .in = {{"x", "...", ZCAT_GRAD, LO, HI}},          \
   .out = {{"y", "..."}}, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,          \
   .ref = ref, .ref_grad = ref_grad, .ref_grad_size = ref_grad_size, .run = run,          \
   .run_grad = run_grad, .cases = cases,                                                  \
   .full_cases = full_cases, .perf = "16384x4096", __VA_ARGS__}

/* Input ranges cover where each function bends (and, for log, several
 * octaves of positive numbers). */
static const zcat_entry entries[] = {
    ACT(ZMLX_ACT_EXP, "exp", -3, 3, "exp(x)"),
    ACT(ZMLX_ACT_LOG, "log", 0.05, 8, "natural logarithm (x > 0)"),
    ACT(ZMLX_ACT_TANH, "tanh", -4, 4, "tanh(x)"),
    ACT(ZMLX_ACT_SIGMOID, "sigmoid", -12, 12, "1 / (1 + exp(-x)), stable for any x"),
    ACT(ZMLX_ACT_RELU, "relu", -3, 3, "max(x, 0)"),
    ACT(ZMLX_ACT_RELU2, "relu2", -3, 3, "relu(x)^2 (Primer, Nemotron)"),
    ACT(ZMLX_ACT_SILU, "silu", -12, 12, "x sigmoid(x) (swish)"),
    ACT(ZMLX_ACT_GELU_TANH, "gelu_tanh", -6, 6, "gelu, tanh approximation (gelu_pytorch_tanh)"),
    ACT(ZMLX_ACT_GELU_ERF, "gelu_erf", -6, 6, "gelu, exact (erf)"),
    ACT(ZMLX_ACT_QUICK_GELU, "quick_gelu", -6, 6, "x sigmoid(1.702 x) (CLIP)"),
    ACT(ZMLX_ACT_SOFTPLUS, "softplus", -40, 40, "log(1 + exp(x)), stable for any x"),
    ACT(ZMLX_ACT_MISH, "mish", -8, 8, "x tanh(softplus(x))"),
    ACT(ZMLX_ACT_ELU, "elu", -4, 3, "x > 0 ? x : alpha (exp(x) - 1)", .n_params = 1,
        .params = {{"alpha", 1.0}}),
    ACT(ZMLX_ACT_LEAKY_RELU, "leaky_relu", -3, 3, "x > 0 ? x : alpha x", .n_params = 1,
        .params = {{"alpha", 0.01}}),
    ACT(ZMLX_ACT_HARDSWISH, "hardswish", -5, 5, "x relu6(x + 3) / 6 (MobileNetV3)"),
    ACT(ZMLX_ACT_HARDSIGMOID, "hardsigmoid", -5, 5, "relu6(x + 3) / 6"),
};

const zcat_family zcat_family_act = {"act", "Activations", entries,
                                 (int)(sizeof entries / sizeof entries[0])};
