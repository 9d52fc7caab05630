/* The ops `zmlx bench` measures. Adding an op is one row here (plus, for
 * an op that is not elementwise, its zbs_impl, or for a ready-made
 * library op, its call and row reference). bench/peers/peers.py times the
 * same ops under the same names in PyTorch, Triton and CuPy. */
#include <math.h>
#include <string.h>

#include "bench/suite.h"

static double silu(double x) { return x / (1.0 + exp(-x)); }

static void ref_swiglu(const double *in, double *out) { out[0] = silu(in[0]) * in[1]; }
static void ref_gelu_tanh(const double *in, double *out) {
  double x = in[0];
  out[0] = 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
}
static void ref_add3(const double *in, double *out) {
  out[0] = in[0] + in[1] + in[2];
  out[1] = in[0] * in[1] * in[2];
}
static void ref_add2(const double *in, double *out) { out[0] = in[0] + in[1]; }
static void ref_copy(const double *in, double *out) { out[0] = in[0]; }

/* ---- row references: in f64, one row of cols values at a time ------------ */

static void ref_row_sum(const double *const *in, int64_t rows, int64_t cols, double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += x[c];
    out[0][r] = s;
  }
}

static void ref_row_max(const double *const *in, int64_t rows, int64_t cols, double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    double m = -INFINITY;
    for (int64_t c = 0; c < cols; c++) m = x[c] > m || isnan(x[c]) ? x[c] : m;
    out[0][r] = m;
  }
}

/* The first largest (NumPy's and torch's choice among ties). */
static void ref_argmax(const double *const *in, int64_t rows, int64_t cols, double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; c++)
      if (x[c] > x[best]) best = c;
    out[0][r] = (double)best;
  }
}

static void row_max_and_sum_exp(const double *x, int64_t cols, double *m, double *s) {
  *m = -INFINITY;
  for (int64_t c = 0; c < cols; c++) *m = fmax(*m, x[c]);
  *s = 0;
  for (int64_t c = 0; c < cols; c++) *s += exp(x[c] - *m);
}

static void ref_softmax(const double *const *in, int64_t rows, int64_t cols, double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    double m, s;
    row_max_and_sum_exp(x, cols, &m, &s);
    for (int64_t c = 0; c < cols; c++) out[0][r * cols + c] = exp(x[c] - m) / s;
  }
}

static void ref_log_softmax(const double *const *in, int64_t rows, int64_t cols,
                            double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    double m, s;
    row_max_and_sum_exp(x, cols, &m, &s);
    double shift = m + log(s);
    for (int64_t c = 0; c < cols; c++) out[0][r * cols + c] = x[c] - shift;
  }
}

#define LAYERNORM_EPS 1e-5

/* (x - mean) / sqrt(var + eps) * w + b, the biased variance. */
static void ref_layernorm(const double *const *in, int64_t rows, int64_t cols,
                          double *const *out) {
  const double *w = in[1], *b = in[2];
  for (int64_t r = 0; r < rows; r++) {
    const double *x = in[0] + r * cols;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; c++) mean += x[c];
    mean /= (double)cols;
    for (int64_t c = 0; c < cols; c++) var += (x[c] - mean) * (x[c] - mean);
    double inv = 1.0 / sqrt(var / (double)cols + LAYERNORM_EPS);
    for (int64_t c = 0; c < cols; c++) out[0][r * cols + c] = (x[c] - mean) * inv * w[c] + b[c];
  }
}

static void ref_cumsum(const double *const *in, int64_t rows, int64_t cols, double *const *out) {
  for (int64_t r = 0; r < rows; r++) {
    double s = 0;
    for (int64_t c = 0; c < cols; c++) out[0][r * cols + c] = s += in[0][r * cols + c];
  }
}

/* ---- the library calls ----------------------------------------------------- */

static const int last_axis[] = {-1}, middle_axis[] = {1};

static zmlx_status call_row_sum(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_reduce_sum(in[0], 1, last_axis, 0, out);
}
static zmlx_status call_row_max(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_reduce_max(in[0], 1, last_axis, 0, out);
}
static zmlx_status call_argmax(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_reduce_argmax(in[0], 1, last_axis, 0, out);
}
/* in[0] is (rows/K, cols, K): the middle axis, coalesced along the last. */
static zmlx_status call_mid_sum(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_reduce_sum(in[0], 1, middle_axis, 0, out);
}
static zmlx_status call_softmax(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_softmax(in[0], -1, out);
}
static zmlx_status call_log_softmax(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_log_softmax(in[0], -1, out);
}
static zmlx_status call_layernorm(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_layernorm(in[0], in[1], in[2], LAYERNORM_EPS, out);
}
static zmlx_status call_cumsum(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_cumsum(in[0], -1, out);
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__})
/* A ready-made library op of one input x (layout IN) and one output. */
#define LIB1(NAME, WHAT, IN, OUT)                                                     \
  {.name = #NAME, .what = WHAT, .inputs = IN, .outputs = OUT, .input_names = NAMES("x"), \
   .output_names = NAMES("y"), .ref_rows = ref_##NAME, .call = call_##NAME,          \
   .impl = &zbs_library_impl}

static const zbs_op ops[] = {
    {.name = "swiglu", .what = "out = silu(gate) * up", .inputs = "mm", .outputs = "m",
     .input_names = NAMES("gate", "up"), .output_names = NAMES("out"),
     .expr = "out = zmlx_siluf(gate) * up;", .ref = ref_swiglu, .impl = &zbs_elementwise_impl},
    {.name = "gelu_tanh", .what = "y = gelu(x), tanh approximation", .inputs = "m",
     .outputs = "m", .input_names = NAMES("x"), .output_names = NAMES("y"),
     .expr = "y = zmlx_gelu_tanhf(x);", .ref = ref_gelu_tanh, .impl = &zbs_elementwise_impl},
    {.name = "add3", .what = "s = a + b + c; p = a * b * c (two outputs)", .inputs = "mmm",
     .outputs = "mm", .input_names = NAMES("a", "b", "c"), .output_names = NAMES("s", "p"),
     .expr = "s = a + b + c; p = a * b * c;", .ref = ref_add3, .impl = &zbs_elementwise_impl},
    {.name = "bias_add", .what = "y = x + b[col] (b broadcast over rows)", .inputs = "mr",
     .outputs = "m", .input_names = NAMES("x", "b"), .output_names = NAMES("y"),
     .expr = "y = x + b;", .ref = ref_add2, .impl = &zbs_elementwise_impl},
    {.name = "copy", .what = "y = x (elementwise)", .inputs = "m", .outputs = "m",
     .input_names = NAMES("x"), .output_names = NAMES("y"), .expr = "y = x;", .ref = ref_copy,
     .impl = &zbs_elementwise_impl},
    {.name = "transpose_copy", .what = "y = x, x a transposed view (the strided path)",
     .inputs = "t", .outputs = "m", .input_names = NAMES("x"), .output_names = NAMES("y"),
     .expr = "y = x;", .ref = ref_copy, .impl = &zbs_elementwise_impl},
    {.name = "copy_raw", .what = "y = x by a raw kernel, 16 bytes per point (baseline)",
     .inputs = "m", .outputs = "m", .input_names = NAMES("x"), .output_names = NAMES("y"),
     .ref = ref_copy, .impl = &zbs_raw_copy_impl},
    LIB1(row_sum, "y[r] = sum of row r (zmlx_reduce_sum, last axis)", "m", "c"),
    LIB1(row_max, "y[r] = max of row r (zmlx_reduce_max, last axis)", "m", "c"),
    LIB1(argmax, "y[r] = first index of row r's max, i64 (zmlx_reduce_argmax)", "m", "i"),
    /* The check hands the reference the 'b' input gathered into rows, so
     * mid_sum's reference is row_sum's. */
    {.name = "mid_sum",
     .what = "sum over axis 1 of x (rows/K, cols, K), K = 256 or the 2-power dividing rows",
     .inputs = "b", .outputs = "c", .input_names = NAMES("x"), .output_names = NAMES("y"),
     .ref_rows = ref_row_sum, .call = call_mid_sum, .impl = &zbs_library_impl},
    LIB1(softmax, "softmax over the last axis (zmlx_softmax)", "m", "m"),
    LIB1(log_softmax, "log_softmax over the last axis (zmlx_log_softmax)", "m", "m"),
    {.name = "layernorm", .what = "layernorm over the last axis, weight and bias (cols), eps 1e-5",
     .inputs = "mrr", .outputs = "m", .input_names = NAMES("x", "w", "b"),
     .output_names = NAMES("y"), .ref_rows = ref_layernorm, .call = call_layernorm,
     .impl = &zbs_library_impl},
    LIB1(cumsum, "inclusive prefix sum over the last axis (zmlx_cumsum)", "m", "m"),
};

int zbs_op_count(void) { return (int)(sizeof ops / sizeof ops[0]); }

const zbs_op *zbs_op_at(int i) { return i >= 0 && i < zbs_op_count() ? &ops[i] : NULL; }

const zbs_op *zbs_op_find(const char *name) {
  for (int i = 0; name && i < zbs_op_count(); i++)
    if (!strcmp(ops[i].name, name)) return &ops[i];
  return NULL;
}
