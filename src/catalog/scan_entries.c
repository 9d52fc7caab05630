/* The scan family's catalog entries: prefix sums and products over the
 * last axis (the kernels take any axis), f64 references, runners. */
#include "catalog/registry.h"
#include "zmlx/catalog_scan.h"
#include "zmlx/reduce.h"

enum { K_CUMSUM, K_CUMPROD };

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

static void ref(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t D = last(x), rows = D ? x->n / D : 0;
  for (int64_t r = 0; r < rows; r++) {
    long double acc = c->e->kind == K_CUMSUM ? 0 : 1;
    for (int64_t j = 0; j < D; j++) {
      if (c->e->kind == K_CUMSUM) acc += x->v[r * D + j];
      else acc *= x->v[r * D + j];
      c->out[0].v[r * D + j] = (double)acc;
    }
  }
}

/* d/dx_j of sum_i g_i cumsum(x)_i = sum over i >= j of g_i. */
static void ref_grad(const zcat_host_call *c) {
  const zcat_tensor *g = &c->dout[0];
  int64_t D = last(g), rows = D ? g->n / D : 0;
  for (int64_t r = 0; r < rows; r++) {
    long double acc = 0;
    for (int64_t j = D - 1; j >= 0; j--) {
      acc += g->v[r * D + j];
      c->din[0].v[r * D + j] += (double)acc;
    }
  }
}

static zmlx_status run(const zcat_dev_call *c) {
  return c->e->kind == K_CUMSUM ? zmlx_cumsum(c->in[0], -1, &c->out[0])
                                : zmlx_cumprod(c->in[0], -1, &c->out[0]);
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  return zmlx_cumsum_backward(c->in[0], c->dout[0], -1, &c->din[0]);
}

/* D=20000 and D=4097 take several chunks of lanes per row. */
static const char *const cases[] = {"- D=1", "D=7", "D=4097", "3x5 D=33", "0 D=16", "4 D=0",
                                    "2 D=20000", "9 D=64 ~*", "D=129 ~*", "3 D=64 @*", NULL};
static const char *const full_cases[] = {"1000 D=1025", "17x19 D=4096", "3 D=100003",
                                         "65 D=257 ~*", NULL};

static const zcat_entry entries[] = {
    {.name = "cumsum", .family = "scan", .summary = "inclusive prefix sum; backward a suffix sum",
     .api = "zmlx_cumsum, zmlx_cumsum_backward", .kind = K_CUMSUM, .n_in = 1, .n_out = 1,
     .in = {{"x", "...,D", ZCAT_GRAD}}, .out = {{"y", "...,D"}}, .dtypes = ZCAT_DT_FLOATS,
     .backends = ZCAT_ALL_BACKENDS, .ref = ref, .ref_grad = ref_grad, .ref_size = zcat_ref_of_abs,
     .ref_grad_size = zcat_ref_grad_of_abs, .run = run, .run_grad = run_grad, .cases = cases,
     .full_cases = full_cases, .perf = "16384 D=4096"},
    /* Factors near 1 keep 4097-long products finite in f16; each of
     * the D roundings of an f32 product adds its error. */
    {.name = "cumprod", .family = "scan", .summary = "inclusive prefix product",
     .api = "zmlx_cumprod", .kind = K_CUMPROD, .n_in = 1, .n_out = 1,
     .in = {{"x", "...,D", 0, 0.9, 1.1}}, .out = {{"y", "...,D"}}, .dtypes = ZCAT_DT_FLOATS,
     .backends = ZCAT_ALL_BACKENDS, .tol = {[ZMLX_DTYPE_F32] = 5e-5}, .ref = ref, .run = run,
     .cases = cases, .full_cases = full_cases, .perf = "16384 D=4096"},
};

const zcat_family zcat_family_scan = {"scan", "Scans", entries,
                                      (int)(sizeof entries / sizeof entries[0])};
