/* Dropout's catalog entries. The references draw the mask with their own
 * Philox-4x32-10, written from Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3" (SC11) and Random123's constants, not from the
 * prelude's. */
#include <math.h>
#include <stdint.h>

#include "catalog/raw_kernels.h"
#include "catalog/registry.h"
#include "core/error.h"
#include "zmlx/catalog_dropout.h"

enum { K_DROPOUT, K_ADD, K_MASK };

/* Philox-4x32 with 10 rounds on counter (c0, c1, 0, 0) and key (k0, k1). */
static void philox(uint64_t key, uint64_t ctr, uint32_t out[4]) {
  uint32_t x0 = (uint32_t)ctr, x1 = (uint32_t)(ctr >> 32), x2 = 0, x3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    if (round) {
      k0 += 0x9E3779B9u; /* the golden ratio */
      k1 += 0xBB67AE85u; /* sqrt(3) - 1 */
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * x0, p1 = (uint64_t)0xCD9E8D57u * x2;
    uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0, y1 = (uint32_t)p1;
    uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1, y3 = (uint32_t)p0;
    x0 = y0, x1 = y1, x2 = y2, x3 = y3;
  }
  out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
}

/* Keep flag and scale of element i (see catalog_dropout.h). */
static int kept(const double *p, int64_t i, double *scale) {
  uint64_t seed = (uint64_t)p[1], offset = (uint64_t)p[2];
  double t = nearbyint(p[0] * 65536);
  uint32_t w[4];
  philox(seed, offset + (uint64_t)(i / 8), w);
  uint32_t u = (w[(i % 8) / 2] >> (16 * (i % 2))) & 0xffff;
  *scale = t >= 65536 ? 0 : 65536 / (65536 - t);
  return (double)u >= t;
}

static void ref(const zcat_host_call *c) {
  for (int64_t i = 0; i < c->out[0].n; i++) {
    double s;
    int k = kept(c->p, i, &s);
    if (c->e->kind == K_MASK)
      c->out[0].v[i] = k;
    else
      c->out[0].v[i] = (k ? c->in[0].v[i] * s : 0) + (c->e->kind == K_ADD ? c->in[1].v[i] : 0);
  }
}

static void ref_grad(const zcat_host_call *c) {
  for (int64_t i = 0; i < c->dout[0].n; i++) {
    double s;
    if (kept(c->p, i, &s)) c->din[0].v[i] += c->dout[0].v[i] * s;
    if (c->e->kind == K_ADD) c->din[1].v[i] += c->dout[0].v[i];
  }
}

static uint64_t seed_of(const zcat_dev_call *c) { return (uint64_t)c->p[1]; }
static uint64_t offset_of(const zcat_dev_call *c) { return (uint64_t)c->p[2]; }

static zmlx_status run(const zcat_dev_call *c) {
  switch (c->e->kind) {
    case K_ADD:
      return zmlx_dropout_add(c->in[0], c->in[1], c->p[0], seed_of(c), offset_of(c), &c->out[0]);
    case K_MASK: return zmlx_dropout_mask(c->in[0], c->p[0], seed_of(c), offset_of(c), &c->out[0]);
    default: return zmlx_dropout(c->in[0], c->p[0], seed_of(c), offset_of(c), &c->out[0]);
  }
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  ZMLX_TRY(zcat_check_grad_shape(c->e->name, c->dout[0], c->in[0]));
  if (c->e->kind == K_ADD)
    return zmlx_dropout_add_backward(c->dout[0], c->p[0], seed_of(c), offset_of(c), &c->din[0],
                                     &c->din[1]);
  return zmlx_dropout_backward(c->dout[0], c->p[0], seed_of(c), offset_of(c), &c->din[0]);
}

/* Any shape; p at its ends; seeds and offsets past 32 bits; a tail of a
 * group of 8; a transposed view. */
static const char *const cases[] = {"-", "7", "4097 p=0.5", "3x5x33 p=0.3 seed=4294967311",
                                    "0", "4x0", "1000 p=0", "999 p=1",
                                    "33x64 ~* offset=5000000000", "1025 @*", NULL};
static const char *const full_cases[] = {"1000x1025", "65537 p=0.9", "257x129 ~*", NULL};
static const char *const bad[] = {"p=-0.1 x:8 => INVALID_ARGUMENT", "p=1.5 x:8 => INVALID_ARGUMENT",
                                  NULL};
static const char *const add_bad[] = {"x:4x6 residual:4x5 => SHAPE_MISMATCH",
                                      "p=2 x:8 residual:8 => INVALID_ARGUMENT", NULL};

#define PARAMS .n_params = 3, .params = {{"p", 0.1}, {"seed", 1234}, {"offset", 0}}
#define D(KIND, NAME, SUMMARY, CALL, BAD, NIN, ...)                                           \
  .name = NAME, .family = "dropout", .summary = SUMMARY, .api = CALL, .kind = KIND,           \
  .n_in = NIN, .in = {__VA_ARGS__}, .n_out = 1, .dtypes = ZCAT_DT_FLOATS,                     \
  .backends = ZCAT_ALL_BACKENDS, PARAMS, .ref = ref, .run = run, .cases = cases,              \
  .full_cases = full_cases, .bad = BAD, .perf = "16384x4096"

static const zcat_entry entries[] = {
    {D(K_DROPOUT, "dropout", "x * keep / (1 - p), keep from Philox(seed, offset), never stored",
       "zmlx_dropout", bad, 1, {"x", "...", ZCAT_GRAD}),
     .out = {{"y", "..."}}, .ref_grad = ref_grad, .run_grad = run_grad},
    {D(K_ADD, "dropout_add", "residual + dropout(x), fused", "zmlx_dropout_add", add_bad, 2,
       {"x", "...", ZCAT_GRAD}, {"residual", "...", ZCAT_GRAD}),
     .out = {{"y", "..."}}, .ref_grad = ref_grad, .run_grad = run_grad},
    {D(K_MASK, "dropout_mask", "the keep mask dropout applies (bool)", "zmlx_dropout_mask", bad,
       1, {"x", "..."}),
     .out = {{"mask", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_BOOL}}},
};

const zcat_family zcat_family_dropout = {"dropout", "Dropout", entries,
                                         (int)(sizeof entries / sizeof entries[0])};
