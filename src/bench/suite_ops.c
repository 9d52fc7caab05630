/* The ops `zmlx bench` measures. Adding an op is one row here (plus, for
 * an op that is not elementwise, its zbs_impl). bench/peers/peers.py
 * times the same ops under the same names in PyTorch, Triton and CuPy. */
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

#define NAMES(...) ((const char *const[]){__VA_ARGS__})

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
};

int zbs_op_count(void) { return (int)(sizeof ops / sizeof ops[0]); }

const zbs_op *zbs_op_at(int i) { return i >= 0 && i < zbs_op_count() ? &ops[i] : NULL; }

const zbs_op *zbs_op_find(const char *name) {
  for (int i = 0; name && i < zbs_op_count(); i++)
    if (!strcmp(ops[i].name, name)) return &ops[i];
  return NULL;
}
