/* The linear family's catalog entries: f64 references by the textbook
 * sums (and their gradients), runners, cases. Perf cases are the issue's
 * shapes: 8192^3 for the matmul (TFLOP/s = 2 * 8192^3 / time). */
#include <math.h>

#include "catalog/registry.h"
#include "zmlx/catalog_linear.h"

enum { TA = 1, TB = 2, LINEAR = 8, RELU = 16, GELU = 32 };

/* Element (i, k) of op(a) in batch p, for a (P, R, C) stored as given. */
static double op_at(const zcat_tensor *t, int trans, int64_t p, int64_t i, int64_t k) {
  int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
  return trans ? t->v[p * r * c + k * c + i] : t->v[p * r * c + i * c + k];
}

static void op_add(zcat_tensor *t, int trans, int64_t p, int64_t i, int64_t k, double v) {
  int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
  t->v[trans ? p * r * c + k * c + i : p * r * c + i * c + k] += v;
}

/* Sizes of a matmul entry: batch, M, K, N. */
static void dims(const zcat_host_call *c, int64_t *P, int64_t *M, int64_t *K, int64_t *N) {
  int ta = c->e->kind & TA, tb = c->e->kind & TB;
  const zcat_tensor *a = &c->in[0], *b = &c->in[1];
  *P = a->ndim == 3 ? a->shape[0] : 1;
  *M = a->shape[a->ndim - (ta ? 1 : 2)];
  *K = a->shape[a->ndim - (ta ? 2 : 1)];
  *N = b->shape[b->ndim - (tb ? 2 : 1)];
}

static void matmul_ref(const zcat_host_call *c) {
  int ta = c->e->kind & TA, tb = c->e->kind & TB;
  int64_t P, M, K, N;
  dims(c, &P, &M, &K, &N);
  for (int64_t p = 0; p < P; p++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++)
          s += op_at(&c->in[0], ta, p, i, k) * op_at(&c->in[1], tb, p, k, j);
        c->out[0].v[(p * M + i) * N + j] = s;
      }
}

static void matmul_ref_grad(const zcat_host_call *c) {
  int ta = c->e->kind & TA, tb = c->e->kind & TB;
  int64_t P, M, K, N;
  dims(c, &P, &M, &K, &N);
  for (int64_t p = 0; p < P; p++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double g = c->dout[0].v[(p * M + i) * N + j];
        for (int64_t k = 0; k < K; k++) {
          op_add(&c->din[0], ta, p, i, k, g * op_at(&c->in[1], tb, p, k, j));
          op_add(&c->din[1], tb, p, k, j, g * op_at(&c->in[0], ta, p, i, k));
        }
      }
}

static zmlx_status matmul_run(const zcat_dev_call *c) {
  return zmlx_matmul(c->in[0], c->in[1], c->e->kind & TA, (c->e->kind & TB) != 0, NULL,
                     ZMLX_MATMUL_ACT_NONE, &c->out[0]);
}

static zmlx_status matmul_run_grad(const zcat_dev_call *c) {
  return zmlx_matmul_backward(c->in[0], c->in[1], c->e->kind & TA, (c->e->kind & TB) != 0, NULL,
                              c->dout[0], &c->din[0], &c->din[1], NULL);
}

static double act_ref(int kind, double v) {
  if (kind & RELU) return v > 0 ? v : 0;
  if (kind & GELU) {
    double u = sqrt(2 / M_PI) * (v + 0.044715 * v * v * v);
    return v / (1 + exp(-2 * u)); /* 0.5 v (1 + tanh u) */
  }
  return v;
}

static void linear_ref(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0], *w = &c->in[1], *b = &c->in[2];
  int64_t K = w->shape[1], N = w->shape[0], R = K ? x->n / K : x->n;
  if (K == 0) R = c->out[0].n / (N ? N : 1);
  for (int64_t r = 0; r < R; r++)
    for (int64_t n = 0; n < N; n++) {
      double s = b->v[n];
      for (int64_t k = 0; k < K; k++) s += x->v[r * K + k] * w->v[n * K + k];
      c->out[0].v[r * N + n] = act_ref(c->e->kind, s);
    }
}

static void linear_ref_grad(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0], *w = &c->in[1];
  int64_t K = w->shape[1], N = w->shape[0], R = N ? c->dout[0].n / N : 0;
  for (int64_t r = 0; r < R; r++)
    for (int64_t n = 0; n < N; n++) {
      double g = c->dout[0].v[r * N + n];
      c->din[2].v[n] += g;
      for (int64_t k = 0; k < K; k++) {
        c->din[0].v[r * K + k] += g * w->v[n * K + k];
        c->din[1].v[n * K + k] += g * x->v[r * K + k];
      }
    }
}

static zmlx_matmul_act act_of(int kind) {
  return kind & RELU ? ZMLX_MATMUL_ACT_RELU : kind & GELU ? ZMLX_MATMUL_ACT_GELU : ZMLX_MATMUL_ACT_NONE;
}

static zmlx_status linear_run(const zcat_dev_call *c) {
  return zmlx_linear(c->in[0], c->in[1], c->in[2], act_of(c->e->kind), &c->out[0]);
}

static zmlx_status linear_run_grad(const zcat_dev_call *c) {
  return zmlx_linear_backward(c->in[0], c->in[1], c->in[2], c->dout[0], &c->din[0], &c->din[1],
                              &c->din[2]);
}

static const char *const mm_cases[] = {"M=1 K=1 N=1",       "M=7 K=5 N=3",      "M=33 K=129 N=17",
                                       "M=0 K=4 N=3",       "M=3 K=0 N=4",      "M=4 K=3 N=0",
                                       "M=9 K=16 N=8 ~a",   "M=5 K=6 N=7 ~b",   "M=64 K=64 N=65 ~*",
                                       NULL};
static const char *const mm_t_cases[] = {"M=1 K=1 N=1", "M=7 K=5 N=3",  "M=33 K=40 N=17",
                                         "M=0 K=4 N=3", "M=3 K=0 N=4",  "M=9 K=16 N=8 ~*", NULL};
static const char *const bmm_cases[] = {"B=1 M=1 K=1 N=1",     "B=3 M=7 K=5 N=9",
                                        "B=0 M=2 K=2 N=2",     "B=2 M=0 K=3 N=2",
                                        "B=2 M=5 K=6 N=7 ~a",  "B=2 M=5 K=6 N=7 ~b",
                                        "B=4 M=17 K=33 N=9",   NULL};
static const char *const linear_cases[] = {"- K=1 N=1",     "3x5 K=7 N=4",    "0 K=4 N=3",
                                           "4 K=0 N=3",     "9 K=64 N=33 ~x", "2 K=8 N=5 ~w",
                                           "17 K=130 N=70", "2x3 K=16 N=0",   NULL};
static const char *const act_cases[] = {"3x5 K=7 N=4", "0 K=4 N=3", "9 K=64 N=33 ~x",
                                        "17 K=130 N=70", NULL};
static const char *const mm_bad[] = {"a:3x4 b:5x6 => SHAPE_MISMATCH", "a:4 b:4x2 => SHAPE_MISMATCH",
                                     NULL};
static const char *const bmm_bad[] = {"a:2x3x4 b:3x4x5 => SHAPE_MISMATCH", NULL};
static const char *const linear_bad[] = {"x:3x4 w:5x3 bias:5 => SHAPE_MISMATCH",
                                         "x:3x4 w:5x4 bias:4 => SHAPE_MISMATCH", NULL};

#define MM(NAME, KIND, A, B, OUT, SUMMARY, CASES, PERF, ...)                                 \
  {.name = NAME, .family = "linear", .summary = SUMMARY, .api = "zmlx_matmul", .kind = KIND,  \
   .n_in = 2, .n_out = 1, .in = {{"a", A, ZCAT_GRAD}, {"b", B, ZCAT_GRAD}},                   \
   .out = {{"c", OUT}}, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,              \
   .ref = matmul_ref, .ref_grad = matmul_ref_grad, .ref_size = zcat_ref_of_abs,               \
   .ref_grad_size = zcat_ref_grad_of_abs, .run = matmul_run, .run_grad = matmul_run_grad,     \
   .cases = CASES, .perf = PERF, __VA_ARGS__}
/* G: ZCAT_GRAD where the entry has a backward (the fused epilogues have none). */
#define LIN_G(NAME, KIND, G, SUMMARY, CASES, ...)                                            \
  {.name = NAME, .family = "linear", .summary = SUMMARY, .api = "zmlx_linear", .kind = KIND,  \
   .n_in = 3, .n_out = 1,                                                                     \
   .in = {{"x", "...,K", G}, {"w", "N,K", G}, {"bias", "N", (G) | ZCAT_OPTIONAL}},            \
   .out = {{"y", "...,N"}}, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,          \
   .ref = linear_ref, .ref_size = zcat_ref_of_abs, .run = linear_run, .cases = CASES,         \
   .bad = linear_bad,                                                                         \
   .perf = "4096 K=4096 N=4096", __VA_ARGS__}
#define LIN(NAME, KIND, SUMMARY, CASES, ...) LIN_G(NAME, KIND, ZCAT_GRAD, SUMMARY, CASES, __VA_ARGS__)

static const zcat_entry entries[] = {
    MM("matmul", 0, "M,K", "K,N", "M,N", "a b (cuBLASLt / OpenBLAS), any strides", mm_cases,
       "M=8192 K=8192 N=8192", .bad = mm_bad),
    MM("matmul_tn", TA, "K,M", "K,N", "M,N", "a^T b", mm_t_cases, "M=4096 K=4096 N=4096"),
    MM("matmul_nt", TB, "M,K", "N,K", "M,N", "a b^T", mm_t_cases, "M=4096 K=4096 N=4096"),
    MM("bmm", 0, "B,M,K", "B,K,N", "B,M,N", "batched a b", bmm_cases, "B=64 M=512 K=512 N=512",
       .bad = bmm_bad),
    LIN("linear", LINEAR, "x w^T + bias (F.linear)", linear_cases, .ref_grad = linear_ref_grad,
        .ref_grad_size = zcat_ref_grad_of_abs, .run_grad = linear_run_grad),
    LIN_G("linear_relu", LINEAR | RELU, 0, "relu(x w^T + bias), cuBLASLt's RELU_BIAS epilogue",
          act_cases),
    /* cuBLASLt's GELU epilogue may use the GPU's fast tanh (also in f64: 1e-11 measured). */
    LIN_G("linear_gelu", LINEAR | GELU, 0, "gelu_tanh(x w^T + bias), cuBLASLt's GELU_BIAS epilogue",
          act_cases,
          .tol = {[ZMLX_DTYPE_F64] = 1e-9, [ZMLX_DTYPE_F32] = 1e-3, [ZMLX_DTYPE_F16] = 4e-3}),
};

const zcat_family zcat_family_linear = {"linear", "Linear algebra", entries,
                                        (int)(sizeof entries / sizeof entries[0])};
