/* The indexing entries: f64 references by plain loops (out-of-range
 * indices gather zeros and scatter nothing, as the ops define). */
#include "catalog/raw_kernels.h"
#include "catalog/registry.h"
#include "core/error.h"
#include "zmlx/catalog_index.h"

enum { K_EMBEDDING, K_GATHER_ADD, K_SCATTER_ADD, K_TAKE, K_TAKE0 };

static int64_t cols(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }
static int64_t rows(const zcat_tensor *t) { return t->ndim ? t->shape[0] : 1; }

/* Row n of a (rows, D) view: NULL when out of range. */
static double *row(const zcat_tensor *t, double id, int64_t D) {
  return id >= 0 && id < (double)rows(t) ? t->v + (int64_t)id * D : NULL;
}

static void ref_rows(const zcat_host_call *c) {
  const zcat_tensor *in = c->in;
  double *y = c->out[0].v;
  switch (c->e->kind) {
    case K_EMBEDDING: {
      int64_t D = cols(&in[0]);
      for (int64_t n = 0; n < in[1].n; n++) {
        const double *s = row(&in[0], in[1].v[n], D);
        for (int64_t d = 0; s && d < D; d++) y[n * D + d] = s[d];
      }
      break;
    }
    case K_GATHER_ADD: {
      int64_t D = cols(&in[1]);
      for (int64_t n = 0; n < in[2].n; n++) {
        const double *s = row(&in[1], in[2].v[n], D);
        for (int64_t d = 0; d < D; d++) y[n * D + d] = in[0].v[n * D + d] + (s ? s[d] : 0);
      }
      break;
    }
    case K_SCATTER_ADD: {
      int64_t D = cols(&in[0]);
      for (int64_t i = 0; i < in[0].n; i++) y[i] = in[0].v[i];
      zcat_tensor out = c->out[0];
      for (int64_t n = 0; n < in[1].n; n++) {
        double *o = row(&out, in[1].v[n], D);
        for (int64_t d = 0; o && d < D; d++) o[d] += in[2].v[n * D + d];
      }
      break;
    }
  }
}

static void ref_rows_grad(const zcat_host_call *c) {
  const zcat_tensor *in = c->in;
  const double *g = c->dout[0].v;
  switch (c->e->kind) {
    case K_EMBEDDING: {
      int64_t D = cols(&in[0]);
      zcat_tensor dt = c->din[0];
      for (int64_t n = 0; n < in[1].n; n++) {
        double *o = row(&dt, in[1].v[n], D);
        for (int64_t d = 0; o && d < D; d++) o[d] += g[n * D + d];
      }
      break;
    }
    case K_GATHER_ADD: {
      int64_t D = cols(&in[1]);
      zcat_tensor ds = c->din[1];
      for (int64_t i = 0; i < in[0].n; i++) c->din[0].v[i] += g[i];
      for (int64_t n = 0; n < in[2].n; n++) {
        double *o = row(&ds, in[2].v[n], D);
        for (int64_t d = 0; o && d < D; d++) o[d] += g[n * D + d];
      }
      break;
    }
    case K_SCATTER_ADD: {
      int64_t D = cols(&in[0]);
      zcat_tensor dy = c->dout[0];
      for (int64_t i = 0; i < in[0].n; i++) c->din[0].v[i] += g[i];
      for (int64_t n = 0; n < in[1].n; n++) {
        const double *s = row(&dy, in[1].v[n], D);
        for (int64_t d = 0; s && d < D; d++) c->din[2].v[n * D + d] += s[d];
      }
      break;
    }
  }
}

/* take_along_axis as (O, M, I) and (O, K, I) blocks around the axis. */
static int axis_of(const zcat_host_call *c) {
  int a = (int)c->p[0], nd = c->in[0].ndim;
  return a < 0 ? a + nd : a;
}

static void take(const zcat_host_call *c, int grad) {
  const zcat_tensor *x = &c->in[0], *idx = &c->in[1];
  int ax = axis_of(c);
  int64_t O = 1, I = 1, M = x->shape[ax], K = idx->shape[ax];
  for (int d = 0; d < ax; d++) O *= x->shape[d];
  for (int d = ax + 1; d < x->ndim; d++) I *= x->shape[d];
  for (int64_t o = 0; o < O; o++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t i = 0; i < I; i++) {
        int64_t e = (o * K + k) * I + i;
        double id = idx->v[e];
        if (!(id >= 0 && id < (double)M)) continue;
        int64_t src = (o * M + (int64_t)id) * I + i;
        if (grad)
          c->din[0].v[src] += c->dout[0].v[e];
        else
          c->out[0].v[e] = x->v[src];
      }
}

static void ref_take(const zcat_host_call *c) { take(c, 0); }
static void ref_take_grad(const zcat_host_call *c) { take(c, 1); }

static zmlx_status run(const zcat_dev_call *c) {
  zmlx_array *const *in = c->in;
  switch (c->e->kind) {
    case K_EMBEDDING: return zmlx_embedding(in[0], in[1], &c->out[0]);
    case K_GATHER_ADD: return zmlx_gather_add(in[0], in[1], in[2], &c->out[0]);
    case K_SCATTER_ADD: return zmlx_scatter_add(in[0], in[1], in[2], &c->out[0]);
    default:
      return zcat_named(c->e->name, zmlx_take_along_axis(in[0], in[1], (int)c->p[0], &c->out[0]));
  }
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  zmlx_array *const *in = c->in, *dy = c->dout[0];
  switch (c->e->kind) {
    case K_EMBEDDING: return zmlx_embedding_backward(in[0], in[1], dy, &c->din[0]);
    case K_GATHER_ADD:
      ZMLX_TRY(zcat_check_grad_shape(c->e->name, dy, in[0]));
      return zmlx_gather_add_backward(in[1], in[2], dy, &c->din[0], &c->din[1]);
    case K_SCATTER_ADD:
      ZMLX_TRY(zcat_check_grad_shape(c->e->name, dy, in[0]));
      return zmlx_scatter_add_backward(in[1], dy, &c->din[0], &c->din[2]);
    default:
      return zcat_named(c->e->name,
                        zmlx_take_along_axis_backward(in[0], in[1], (int)c->p[0], dy, &c->din[0]));
  }
}

/* Repeated and missing rows, a zero-row source (every index out of
 * range), scalars, empty arrays, a transposed view. */
#define ROW_CASES(M, V)                                                                     \
  {"5 " M "=7 D=16", "3x4 " M "=3 D=33", "- " M "=5 D=8", "0 " M "=4 D=16", "6 " M "=1 D=7", \
   "9 " M "=50 D=64 ~" V, "4 " M "=6 D=0", "2x3 " M "=0 D=4", "7 " M "=9 D=16 @*", NULL}
static const char *const emb_cases[] = ROW_CASES("V", "table");
static const char *const ga_cases[] = ROW_CASES("M", "x");
static const char *const sa_cases[] = ROW_CASES("M", "src");
static const char *const take_cases[] = {"5 M=7 K=3", "3x4 M=3 K=5", "- M=5 K=2", "0 M=4 K=2",
                                         "6 M=1 K=1", "9 M=50 K=64 ~x", "4 M=6 K=0", "4 M=0 K=3",
                                         "5 M=9 K=4 @*", NULL};
static const char *const take0_cases[] = {"5 M=7 K=3", "3x4 M=3 K=5", "- M=5 K=2", "0 M=4 K=2",
                                          "6 M=1 K=1", "9 M=50 K=64 ~x", NULL};
static const char *const full_rows[] = {"1000 M=300 D=1025", "17x19 M=4096 D=256", NULL};
static const char *const emb_full[] = {"1000 V=300 D=1025", "17x19 V=4096 D=256", NULL};
static const char *const emb_bad[] = {"table:8 ids:3 => SHAPE_MISMATCH", NULL};
static const char *const ga_bad[] = {"x:3x8 src:5x8 idx:4 => SHAPE_MISMATCH",
                                     "x:3x8 src:8 idx:3 => SHAPE_MISMATCH", NULL};
static const char *const sa_bad[] = {"x:5x8 idx:3 src:4x8 => SHAPE_MISMATCH",
                                     "x:40 idx:3 src:3x8 => SHAPE_MISMATCH", NULL};
static const char *const take_bad[] = {"x:3x5 idx:4x2 => SHAPE_MISMATCH",
                                       "x:3x5 idx:3x2x1 => SHAPE_MISMATCH",
                                       "axis=2 x:3x5 idx:3x2 => INVALID_ARGUMENT",
                                       "x:- idx:- => SHAPE_MISMATCH", NULL};

#define IDX(NAME, T, R) {NAME, "...", ZCAT_INDEX, .range = R, .dtype = ZMLX_DTYPE_##T}
#define E(KIND, NAME, SUMMARY, CALL, CASES, FULL, BAD, PERF, NIN, ...)                         \
  .name = NAME, .family = "index", .summary = SUMMARY, .api = CALL, .kind = KIND, .n_in = NIN,  \
  .in = {__VA_ARGS__}, .n_out = 1, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,     \
  .run = run, .run_grad = run_grad, .ref_size = zcat_ref_of_abs,                               \
  .ref_grad_size = zcat_ref_grad_of_abs, .cases = CASES, .full_cases = FULL, .bad = BAD,       \
  .perf = PERF

static const zcat_entry entries[] = {
    {E(K_EMBEDDING, "embedding", "table[ids]; ∇ a scatter-add into the table", "zmlx_embedding",
       emb_cases, emb_full, emb_bad, "16384 V=4096 D=4096", 2, {"table", "V,D", ZCAT_GRAD},
       IDX("ids", I32, "V")),
     .out = {{"y", "...,D"}}, .ref = ref_rows, .ref_grad = ref_rows_grad},
    {E(K_GATHER_ADD, "gather_add", "x + src[idx] (rows); ∇src a scatter-add", "zmlx_gather_add",
       ga_cases, full_rows, ga_bad, "16384 M=4096 D=4096", 3, {"x", "...,D", ZCAT_GRAD},
       {"src", "M,D", ZCAT_GRAD}, IDX("idx", I64, "M")),
     .out = {{"y", "...,D"}}, .ref = ref_rows, .ref_grad = ref_rows_grad},
    {E(K_SCATTER_ADD, "scatter_add", "x with src's rows added at idx (index_add, axis 0)",
       "zmlx_scatter_add", sa_cases, full_rows, sa_bad, "16384 M=4096 D=4096", 3,
       {"x", "M,D", ZCAT_GRAD}, IDX("idx", I32, "M"), {"src", "...,D", ZCAT_GRAD}),
     .out = {{"y", "M,D"}}, .ref = ref_rows, .ref_grad = ref_rows_grad},
    {E(K_TAKE, "take_along_axis", "numpy.take_along_axis on the last axis",
       "zmlx_take_along_axis(axis -1)", take_cases, NULL, take_bad, "4096 M=4096 K=4096", 2,
       {"x", "...,M", ZCAT_GRAD}, {"idx", "...,K", ZCAT_INDEX, .range = "M", .dtype = ZMLX_DTYPE_I64}),
     .out = {{"y", "...,K"}}, .n_params = 1, .params = {{"axis", -1}}, .ref = ref_take,
     .ref_grad = ref_take_grad},
    {E(K_TAKE0, "take_along_axis0", "numpy.take_along_axis on the first axis",
       "zmlx_take_along_axis(axis 0)", take0_cases, NULL, NULL, "4096 M=4096 K=4096", 2,
       {"x", "M,...", ZCAT_GRAD}, {"idx", "K,...", ZCAT_INDEX, .range = "M", .dtype = ZMLX_DTYPE_I32}),
     .out = {{"y", "K,..."}}, .n_params = 1, .params = {{"axis", 0}}, .ref = ref_take,
     .ref_grad = ref_take_grad},
};

const zcat_family zcat_family_index = {"index", "Indexing", entries,
                                       (int)(sizeof entries / sizeof entries[0])};
