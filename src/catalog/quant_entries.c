/* The quantization family's catalog entries: f64 references that decode
 * the codes from their definitions (two's complement nibbles, the NF4
 * levels, fp8 values as the harness reads them back), and MLX's affine
 * quantization from its published formula in f32 arithmetic. Exact
 * bit-for-bit checks of the affine format are in
 * tests/test_catalog_quant_affine.c. */
#include <math.h>

#include "catalog/registry.h"
#include "zmlx/catalog_quant.h"

#define KIND(fmt, act) ((fmt) | ((act) << 4))
#define KIND_FMT(k) ((k) & 15)
#define KIND_ACT(k) ((k) >> 4)

static double act_ref(int act, double x) {
  switch (act) {
    case ZMLX_DEQUANT_ACT_SILU: return x / (1 + exp(-x));
    case ZMLX_DEQUANT_ACT_GELU_TANH: {
      double u = sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
      return x / (1 + exp(-2 * u)); /* 0.5 x (1 + tanh u) */
    }
    case ZMLX_DEQUANT_ACT_GELU_ERF: return 0.5 * x * erfc(-x / sqrt(2.0));
    default: return x;
  }
}

/* The QLoRA NF4 levels as bitsandbytes stores them (float32). */
static double nf4_level(int c) {
  static const float levels[16] = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
      0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
      0.7229568362236023f, 1.0f};
  return levels[c & 15];
}

/* Value k of row r. int8 and fp8 codes arrive as their values. */
static double code_value(int fmt, const zcat_tensor *q, int64_t r, int64_t K, int64_t k) {
  if (fmt != ZMLX_QFORMAT_INT4 && fmt != ZMLX_QFORMAT_NF4) return q->v[r * K + k];
  int byte = (int)q->v[r * (K / 2) + k / 2];
  if (fmt == ZMLX_QFORMAT_INT4) {
    int nib = k % 2 ? byte >> 4 : byte & 15;
    return nib >= 8 ? nib - 16 : nib;
  }
  return nf4_level(k % 2 ? byte & 15 : byte >> 4);
}

static void dequant_ref(const zcat_host_call *c) {
  int fmt = KIND_FMT(c->e->kind), act = KIND_ACT(c->e->kind);
  const zcat_tensor *q = &c->in[0], *s = &c->in[1], *b = c->e->n_in > 2 ? &c->in[2] : NULL;
  const zcat_tensor *o = &c->out[0];
  int64_t K = o->ndim ? o->shape[o->ndim - 1] : 1;
  if (K == 0) return;
  int64_t rows = o->n / K;
  int64_t S = s->ndim ? s->shape[s->ndim - 1] : 1, G = S ? K / S : K;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < K; k++) {
      int64_t g = s->ndim ? r * S + k / G : 0;
      double w = code_value(fmt, q, r, K, k) * s->v[g] + (b ? b->v[g] : 0);
      o->v[r * K + k] = act_ref(act, w);
    }
}

static zmlx_status dequant_run(const zcat_dev_call *c) {
  int kind = c->e->kind;
  return zmlx_dequantize((zmlx_qformat)KIND_FMT(kind), c->in[0], c->in[1],
                         c->e->n_in > 2 ? c->in[2] : NULL, (int64_t)c->p[0],
                         (zmlx_dequant_act)KIND_ACT(kind), &c->out[0]);
}

/* Bits and group size are the first two parameters of the affine entries. */
static void affine_dequant_ref(const zcat_host_call *c) {
  int bits = (int)c->p[0], group = (int)c->p[1], act = (int)c->p[2];
  const zcat_tensor *wq = &c->in[0], *s = &c->in[1], *b = &c->in[2];
  int per = 32 / bits;
  for (int64_t i = 0; i < c->out[0].n; i++) {
    uint32_t word = (uint32_t)wq->v[i / per];
    double q = (double)((word >> (bits * (i % per))) & ((1u << bits) - 1));
    c->out[0].v[i] = act_ref(act, q * s->v[i / group] + b->v[i / group]);
  }
}

static zmlx_status affine_dequant_run(const zcat_dev_call *c) {
  return zmlx_affine_dequantize(c->in[0], c->in[1], c->in[2], (int)c->p[0], (int)c->p[1],
                                (zmlx_dequant_act)(int)c->p[2], &c->out[0]);
}

/* MLX's affine_quantize per group, in f32 (zmlx/catalog_quant.h). The
 * inputs are already values of the dtype, so the codes do not depend on
 * it; the scales and biases are compared after rounding to the dtype,
 * within its tolerance. */
static void affine_quant_ref(const zcat_host_call *c) {
  int bits = (int)c->p[0], group = (int)c->p[1], per = 32 / bits;
  const double *w = c->in[0].v;
  float n_bins = (float)((1 << bits) - 1);
  for (int64_t g = 0; g < c->out[1].n; g++) {
    float lo = INFINITY, hi = 0.0f;
    for (int i = 0; i < group; i++) {
      lo = fminf(lo, (float)w[g * group + i]);
      hi = fmaxf(hi, (float)w[g * group + i]);
    }
    float scale = fmaxf((hi - lo) / n_bins, 1e-7f);
    int side = fabsf(lo) > fabsf(hi);
    if (!side) scale = -scale;
    float edge = side ? lo : hi, q0 = roundf(edge / scale), bias = 0.0f;
    if (q0 != 0.0f) {
      scale = edge / q0;
      bias = edge;
    }
    c->out[1].v[g] = scale;
    c->out[2].v[g] = bias;
    for (int k = 0; k < group / per; k++) {
      uint32_t word = 0;
      for (int j = 0; j < per; j++) {
        float q = roundf(((float)w[g * group + k * per + j] - bias) / scale);
        word |= (uint32_t)fminf(fmaxf(q, 0.0f), n_bins) << (bits * j);
      }
      c->out[0].v[g * (group / per) + k] = word;
    }
  }
}

static zmlx_status affine_quant_run(const zcat_dev_call *c) {
  return zmlx_affine_quantize(c->in[0], (int)c->p[0], (int)c->p[1], &c->out[0], &c->out[1],
                              &c->out[2]);
}

/* Per-channel int8 and per-tensor or per-channel fp8: any K, the scalar
 * path (K = 7, 33) and the vector path (K = 4104). */
static const char *const row_cases[] = {"- K=1", "1 K=1",   "K=7",      "K=4104", "3x5 K=40",
                                        "0 K=16", "4 K=0", "9 K=64 ~q", "33 K=24 ~scales", NULL};
static const char *const fp8_cases[] = {"- K=1",   "K=7",          "3x5 K=40", "0 K=16",
                                        "4 K=0",   "9 K=64 ~q",   "3 K=40 scales:-",
                                        "2 K=4104", NULL};
/* Groups of 32 (int4), 128 (e4m3): K a multiple of the group. */
static const char *const g32_cases[] = {"K=32",   "3 K=64",     "5x3 K=160", "0 K=32",
                                        "4 K=0",  "K=96 ~q",    "2 K=4128 ~scales", NULL};
static const char *const g128_cases[] = {"K=128", "3 K=256", "2x3 K=384", "0 K=128",
                                         "4 K=0", "7 K=128 ~q", NULL};
static const char *const g64_cases[] = {"K=64", "3 K=128", "5x3 K=192", "0 K=64", "4 K=0",
                                        "K=128 ~q", NULL};
static const char *const act_cases[] = {"K=32", "3 K=64", "0 K=32", "4 K=0", "K=96 ~q", NULL};
/* Groups of 2: odd groups per vector (K = 16) and the scalar path. */
static const char *const g2_cases[] = {"K=2", "3 K=6", "K=16", "5 K=16 ~q", "0 K=2", "4 K=0",
                                       "2x3 K=4102", NULL};
static const char *const affine_dq_cases[] = {
    "3 K=128 W=16 S=2 bits=4 group=64", "K=64 W=16 S=2 bits=8 group=32",
    "2 K=256 W=16 S=2 bits=2 group=128", "5x3 K=384 W=48 S=3 bits=4 group=128",
    "0 K=64 W=8 S=1 bits=4 group=64", "4 K=0 W=0 S=0 bits=4 group=64",
    "6 K=64 W=8 S=1 bits=4 group=64 ~wq", "3 K=64 W=16 S=2 bits=8 group=32 act=1",
    "2 K=64 W=8 S=2 bits=4 group=32 act=2", "2 K=64 W=8 S=2 bits=4 group=32 act=3", NULL};
static const char *const affine_q_cases[] = {
    "3 K=128 W=16 S=2 bits=4 group=64", "K=64 W=16 S=2 bits=8 group=32",
    "2 K=256 W=16 S=2 bits=2 group=128", "5x3 K=384 W=48 S=3 bits=4 group=128",
    "0 K=64 W=8 S=1 bits=4 group=64",   "4 K=0 W=0 S=0 bits=4 group=64",
    "6 K=64 W=8 S=1 bits=4 group=64 ~w", NULL};
static const char *const affine_dq_bad[] = {
    "wq:2x8 scales:2x3 biases:2x3 bits=4 group=32 => SHAPE_MISMATCH",
    "wq:2x8 scales:2x2 biases:2x2 bits=3 group=32 => INVALID_ARGUMENT",
    "wq:2x8 scales:2x1 biases:2x1 bits=4 group=48 => INVALID_ARGUMENT", NULL};
static const char *const affine_q_bad[] = {"w:3x40 bits=4 group=32 => SHAPE_MISMATCH",
                                           "w:3x64 bits=5 group=32 => INVALID_ARGUMENT",
                                           "w:3x64 bits=4 group=16 => INVALID_ARGUMENT", NULL};
static const char *const g32_bad[] = {"q:3x16 scales:3x2 biases:3x2 => SHAPE_MISMATCH",
                                      "q:3x16 scales:2x1 biases:2x1 => SHAPE_MISMATCH", NULL};

#define FLOATS (ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16))
#define MLX_FLOATS (ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16))
/* A dequantization entry: q, scales (and biases), group size parameter. */
#define DQ(NAME, FMT, ACT, SUMMARY, ...)                                                     \
  {.name = NAME, .family = "quant", .summary = SUMMARY, .api = "zmlx_dequantize",            \
   .kind = KIND(FMT, ACT), .n_out = 1, .out = {{"w", "...,K"}}, .n_params = 1,               \
   .backends = ZCAT_ALL_BACKENDS, .ref = dequant_ref, .run = dequant_run,                     \
   .perf = "4096 K=4096", __VA_ARGS__}

static const zcat_entry entries[] = {
    DQ("dequant_int8", ZMLX_QFORMAT_INT8, 0, "int8 codes times a per-channel scale", .n_in = 2,
       .in = {{"q", "...,K", ZCAT_FIXED, -128, 128, .dtype = ZMLX_DTYPE_I8},
              {"scales", "...,1", 0, 0.001, 0.05}},
       .params = {{"group", 0}}, .dtypes = FLOATS, .cases = row_cases),
    DQ("dequant_int4", ZMLX_QFORMAT_INT4, 0,
       "signed int4 pairs (low nibble first), scale and bias per group of 32", .n_in = 3,
       .in = {{"q", "...,K/2", ZCAT_INDEX, .range = "256", .dtype = ZMLX_DTYPE_U8},
              {"scales", "...,K/32", 0, 0.001, 0.05},
              {"biases", "...,K/32", ZCAT_OPTIONAL, -0.5, 0.5}},
       .params = {{"group", 32}}, .dtypes = FLOATS, .cases = g32_cases, .bad = g32_bad),
    DQ("dequant_fp8_e4m3", ZMLX_QFORMAT_FP8_E4M3, 0, "fp8 e4m3 times a scale per group of 128",
       .n_in = 2,
       .in = {{"q", "...,K", ZCAT_FIXED, -440, 440, .dtype = ZMLX_DTYPE_FP8_E4M3},
              {"scales", "...,K/128", 0, 0.001, 0.01}},
       .params = {{"group", 128}}, .dtypes = FLOATS | ZCAT_DT(FP8_E4M3), .cases = g128_cases),
    DQ("dequant_fp8_e5m2", ZMLX_QFORMAT_FP8_E5M2, 0,
       "fp8 e5m2 times a per-channel (or per-tensor) scale", .n_in = 2,
       .in = {{"q", "...,K", ZCAT_FIXED, -50000, 50000, .dtype = ZMLX_DTYPE_FP8_E5M2},
              {"scales", "...,1", 0, 1e-5, 1e-4}},
       .params = {{"group", 0}}, .dtypes = FLOATS, .cases = fp8_cases),
    DQ("dequant_nf4", ZMLX_QFORMAT_NF4, 0,
       "NF4 pairs (high nibble first, as bitsandbytes) times the absmax of 64", .n_in = 2,
       .in = {{"q", "...,K/2", ZCAT_INDEX, .range = "256", .dtype = ZMLX_DTYPE_U8},
              {"absmax", "...,K/64", 0, 0.1, 2}},
       .params = {{"group", 64}}, .dtypes = FLOATS,
       .cases = g64_cases),
    DQ("dequant_int4_silu", ZMLX_QFORMAT_INT4, ZMLX_DEQUANT_ACT_SILU,
       "silu(int4 dequantization), groups of 32", .n_in = 2,
       .in = {{"q", "...,K/2", ZCAT_INDEX, .range = "256", .dtype = ZMLX_DTYPE_U8},
              {"scales", "...,K/32", 0, 0.05, 0.5}},
       .params = {{"group", 32}}, .dtypes = FLOATS,
       .cases = act_cases),
    DQ("dequant_nf4_gelu", ZMLX_QFORMAT_NF4, ZMLX_DEQUANT_ACT_GELU_TANH,
       "gelu_tanh(NF4 dequantization), blocks of 2", .n_in = 2,
       .in = {{"q", "...,K/2", ZCAT_INDEX, .range = "256", .dtype = ZMLX_DTYPE_U8},
              {"absmax", "...,K/2", 0, 0.5, 4}},
       .params = {{"group", 2}}, .dtypes = FLOATS, .cases = g2_cases),
    {.name = "affine_quantize", .family = "quant",
     .summary = "MLX affine quantization (bits 2/4/8, groups 32/64/128), MLX's layout",
     .api = "zmlx_affine_quantize", .n_in = 1, .n_out = 3,
     .in = {{"w", "...,K", 0, -1, 1}},
     .out = {{"wq", "...,W", ZCAT_FIXED, .dtype = ZMLX_DTYPE_U32}, {"scales", "...,S"},
             {"biases", "...,S"}},
     .n_params = 2, .params = {{"bits", 4}, {"group", 64}}, .dtypes = MLX_FLOATS,
     .backends = ZCAT_ALL_BACKENDS, .ref = affine_quant_ref, .run = affine_quant_run,
     .cases = affine_q_cases, .bad = affine_q_bad, .perf = "4096 K=4096 W=512 S=64"},
    {.name = "affine_dequantize", .family = "quant",
     .summary = "MLX affine dequantization scale * q + bias (act: 1 silu, 2 gelu, 3 gelu_erf)",
     .api = "zmlx_affine_dequantize", .n_in = 3, .n_out = 1,
     .in = {{"wq", "...,W", ZCAT_INDEX, .range = "4294967296", .dtype = ZMLX_DTYPE_U32},
            {"scales", "...,S", 0, 0.001, 0.05},
            {"biases", "...,S", 0, -1, 1}},
     .out = {{"w", "...,K"}}, .n_params = 3, .params = {{"bits", 4}, {"group", 64}, {"act", 0}},
     .dtypes = MLX_FLOATS, .backends = ZCAT_ALL_BACKENDS, .ref = affine_dequant_ref,
     .run = affine_dequant_run, .cases = affine_dq_cases, .bad = affine_dq_bad,
     .perf = "4096 K=4096 W=512 S=64"},
};

const zcat_family zcat_family_quant = {"quant", "Quantization", entries,
                                       (int)(sizeof entries / sizeof entries[0])};
