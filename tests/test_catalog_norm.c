/* What the catalog harness does not cover for the normalizations: the
 * Philox reference against the published known answers, the dropout
 * mask's (seed, offset) contract and its statistics, the same mask on
 * every device present, add_norm_backward from the saved sum, gradients
 * not asked for, and bad arguments specific to these ops. */
#include "catalog/norm_ref.h"
#include "zt_array.h"

static zmlx_array *random_array(zmlx_dtype t, int nd, const int64_t *shape, zmlx_device dev,
                                uint64_t *seed) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  double *v = malloc(sizeof(double) * (size_t)(n + 1));
  for (int64_t i = 0; v && i < n; i++) v[i] = 3 * zt_uniform(seed);
  zmlx_array *h = NULL, *c = NULL, *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F64, nd, shape, ZMLX_CPU, &h));
  if (h) CHECK_OK(zmlx_array_astype(h, t, &c));
  if (c) CHECK_OK(zmlx_array_to_device(c, dev, &a));
  zmlx_array_release(h);
  zmlx_array_release(c);
  free(v);
  return a;
}

/* Random123's known-answer vectors for philox4x32_10 (kat_vectors). */
static void test_philox_known_answers(void) {
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int k = 0; k < 3; k++) {
    uint32_t ctr[4] = {kat[k][0], kat[k][1], kat[k][2], kat[k][3]};
    zcat_norm_ref_philox(ctr, &kat[k][4]);
    for (int i = 0; i < 4; i++)
      CHECK_MSG(ctr[i] == kat[k][6 + i], "vector %d word %d: %08x, want %08x", k, i, ctr[i],
                kat[k][6 + i]);
  }
}

/* The kept elements of zmlx_rmsnorm_dropout's output (0 = dropped). x is
 * drawn away from 0 so that a kept element is never 0. */
static unsigned char *mask_of(zmlx_array *out) {
  double *v = zt_read_f64(out);
  if (!v) return NULL;
  int64_t n = zmlx_array_numel(out);
  unsigned char *m = malloc((size_t)n + 1);
  for (int64_t i = 0; m && i < n; i++) m[i] = v[i] != 0;
  free(v);
  return m;
}

static zmlx_array *positive(int nd, const int64_t *shape, zmlx_device dev) {
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, nd, shape, 1.5, dev, &a));
  return a;
}

/* Element i of a draw uses Philox block offset + i / 4: a call on the
 * second half of x with offset + n / 4 sees the second half's mask. */
static void test_dropout_offset_contract(void) {
  int64_t full[2] = {4, 24}, half[2] = {2, 24};
  zmlx_array *x = positive(2, full, ZMLX_CPU), *xh = positive(2, half, ZMLX_CPU);
  zmlx_array *a = NULL, *b = NULL;
  CHECK_OK(zmlx_rmsnorm_dropout(x, NULL, 1e-6, 0.5, 42, 7, &a));
  CHECK_OK(zmlx_rmsnorm_dropout(xh, NULL, 1e-6, 0.5, 42, 7 + 48 / 4, &b));
  unsigned char *ma = a ? mask_of(a) : NULL, *mb = b ? mask_of(b) : NULL;
  int same = ma && mb, refs = ma != NULL;
  for (int i = 0; same && i < 48; i++) same = ma[48 + i] == mb[i];
  for (int i = 0; refs && i < 96; i++) refs = ma[i] == zcat_norm_ref_keep(42, 7, i, 0.5);
  CHECK_MSG(same, "the mask of rows 2-3 at offset 7 differs from rows 0-1 at offset 19");
  CHECK_MSG(refs, "the mask differs from the reference Philox rule");
  free(ma);
  free(mb);
  zmlx_array *c = NULL;
  CHECK_OK(zmlx_rmsnorm_dropout(x, NULL, 1e-6, 0.5, 43, 7, &c));
  unsigned char *mc = c ? mask_of(c) : NULL;
  ma = a ? mask_of(a) : NULL;
  int differ = 0;
  for (int i = 0; ma && mc && i < 96; i++) differ += ma[i] != mc[i];
  CHECK_MSG(differ > 10, "seeds 42 and 43 give nearly the same mask (%d differ)", differ);
  free(ma);
  free(mc);
  zmlx_array *all[5] = {x, xh, a, b, c};
  for (int i = 0; i < 5; i++) zmlx_array_release(all[i]);
}

/* The kept fraction is 1 - p, within five standard deviations. */
static void test_dropout_rate(void) {
  int64_t shape[2] = {64, 1000};
  zmlx_array *x = positive(2, shape, ZMLX_CPU);
  const double ps[] = {0.1, 0.5, 0.9};
  for (int k = 0; k < 3; k++) {
    zmlx_array *out = NULL;
    CHECK_OK(zmlx_rmsnorm_dropout(x, NULL, 1e-6, ps[k], 99, 0, &out));
    unsigned char *m = out ? mask_of(out) : NULL;
    double n = 64000, kept = 0;
    for (int i = 0; m && i < 64000; i++) kept += m[i];
    double want = n * (1 - ps[k]), sd = sqrt(n * ps[k] * (1 - ps[k]));
    CHECK_MSG(fabs(kept - want) < 5 * sd, "p = %g: kept %g of %g, want %g +- %g", ps[k], kept, n,
              want, 5 * sd);
    free(m);
    zmlx_array_release(out);
  }
  zmlx_array_release(x);
}

/* Every device present draws the same mask (bf16 output, f32 and D = 10
 * for the per-element path, D = 64 for the four-at-a-time path). */
static void test_dropout_same_mask_everywhere(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  if (nd < 2) printf("  (CPU only: no CUDA device to compare the mask with)\n");
  const int64_t Ds[2] = {10, 64};
  const zmlx_dtype ts[2] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16};
  for (int c = 0; c < 2; c++) {
    int64_t shape[2] = {33, Ds[c]};
    unsigned char *first = NULL;
    for (int d = 0; d < nd; d++) {
      zmlx_array *x = NULL, *out = NULL;
      CHECK_OK(zmlx_array_full(ts[c], 2, shape, -0.75, devs[d], &x));
      CHECK_OK(zmlx_rmsnorm_dropout(x, NULL, 1e-6, 0.3, 0x123456789abcdefull, 5, &out));
      unsigned char *m = out ? mask_of(out) : NULL;
      if (m && !first) {
        first = m;
        int refs = 1;
        for (int64_t i = 0; i < 33 * Ds[c]; i++)
          refs &= m[i] == zcat_norm_ref_keep(0x123456789abcdefull, 5, i, 0.3);
        CHECK_MSG(refs, "D=%lld: the CPU mask differs from the reference", (long long)Ds[c]);
      } else if (m) {
        CHECK_MSG(!memcmp(first, m, (size_t)(33 * Ds[c])),
                  "D=%lld: the CUDA mask differs from the CPU's", (long long)Ds[c]);
        free(m);
      }
      zmlx_array_release(out);
      zmlx_array_release(x);
    }
    free(first);
  }
}

static double max_diff(zmlx_array *a, zmlx_array *b) {
  double *u = zt_read_f64(a), *v = zt_read_f64(b), m = u && v ? 0 : INFINITY;
  for (int64_t i = 0; u && v && i < zmlx_array_numel(a); i++) m = fmax(m, fabs(u[i] - v[i]));
  free(u);
  free(v);
  return m;
}

/* Backward from the sum the forward returned (residual NULL) equals the
 * backward from x and residual; dsum NULL is a zero gradient. */
static void test_add_norm_backward_from_sum(void) {
  uint64_t seed = 0x5eed;
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int d = 0; d < nd; d++)
    for (int kind = 0; kind < ZMLX_NORM_COUNT; kind++) {
      int64_t shape[2] = {5, 40}, D = 40;
      zmlx_array *x = random_array(ZMLX_DTYPE_F32, 2, shape, devs[d], &seed);
      zmlx_array *r = random_array(ZMLX_DTYPE_F32, 2, shape, devs[d], &seed);
      zmlx_array *w = random_array(ZMLX_DTYPE_F32, 1, &D, devs[d], &seed);
      zmlx_array *dy = random_array(ZMLX_DTYPE_F32, 2, shape, devs[d], &seed);
      zmlx_array *zero = NULL, *out = NULL, *sum = NULL, *g1 = NULL, *g2 = NULL, *g3 = NULL;
      zmlx_array *w1 = NULL, *w2 = NULL;
      CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, shape, devs[d], &zero));
      CHECK_OK(zmlx_add_norm((zmlx_norm_kind)kind, x, r, w, NULL, 1e-5, &out, &sum));
      CHECK_OK(zmlx_add_norm_backward((zmlx_norm_kind)kind, x, r, w, NULL, 1e-5, dy, NULL, &g1, &w1,
                                      NULL));
      CHECK_OK(zmlx_add_norm_backward((zmlx_norm_kind)kind, sum, NULL, w, NULL, 1e-5, dy, zero, &g2,
                                      &w2, NULL));
      /* Without residual and dsum it is the plain backward. */
      CHECK_OK(zmlx_norm_backward((zmlx_norm_kind)kind, sum, w, NULL, 1e-5, dy, &g3, NULL, NULL));
      if (g1 && g2 && g3 && w1 && w2) {
        CHECK_MSG(max_diff(g1, g2) < 1e-5, "%s: dx from the sum differs by %g", zmlx_norm_name(kind),
                  max_diff(g1, g2));
        CHECK_MSG(max_diff(g2, g3) < 1e-5, "%s: add_norm_backward differs from norm_backward",
                  zmlx_norm_name(kind));
        CHECK_MSG(max_diff(w1, w2) < 1e-4, "%s: dweight from the sum differs", zmlx_norm_name(kind));
      }
      zmlx_array *all[13] = {x, r, w, dy, zero, out, sum, g1, g2, g3, w1, w2, NULL};
      for (int i = 0; i < 12; i++) zmlx_array_release(all[i]);
    }
}

/* Gradients not asked for stay unset; asked for without their array they
 * come back NULL; the weight gradient does not depend on the bias's. */
static void test_gradients_not_wanted(void) {
  uint64_t seed = 77;
  int64_t shape[2] = {3, 16}, D = 16;
  zmlx_array *x = random_array(ZMLX_DTYPE_F32, 2, shape, ZMLX_CPU, &seed);
  zmlx_array *w = random_array(ZMLX_DTYPE_F32, 1, &D, ZMLX_CPU, &seed);
  zmlx_array *b = random_array(ZMLX_DTYPE_F32, 1, &D, ZMLX_CPU, &seed);
  zmlx_array *dy = random_array(ZMLX_DTYPE_F32, 2, shape, ZMLX_CPU, &seed);
  zmlx_array *dx = NULL, *dw = NULL, *db = (zmlx_array *)&seed, *dx2 = NULL, *dw2 = NULL;
  CHECK_OK(zmlx_norm_backward(ZMLX_NORM_LAYER, x, w, NULL, 1e-5, dy, &dx, &dw, &db));
  CHECK(db == NULL);
  CHECK_OK(zmlx_norm_backward(ZMLX_NORM_LAYER, x, w, b, 1e-5, dy, &dx2, &dw2, NULL));
  if (dx && dx2 && dw && dw2) {
    CHECK(max_diff(dx, dx2) == 0);
    CHECK(max_diff(dw, dw2) == 0);
  }
  zmlx_array *all[8] = {x, w, b, dy, dx, dw, dx2, dw2};
  for (int i = 0; i < 8; i++) zmlx_array_release(all[i]);
}

static void test_bad_arguments(void) {
  uint64_t seed = 3;
  int64_t shape[2] = {3, 8}, D = 8;
  zmlx_array *x = random_array(ZMLX_DTYPE_F32, 2, shape, ZMLX_CPU, &seed);
  zmlx_array *b = random_array(ZMLX_DTYPE_F32, 1, &D, ZMLX_CPU, &seed);
  zmlx_array *out = NULL, *dx = NULL;
  CHECK_STATUS(zmlx_norm(ZMLX_NORM_RMS, x, NULL, b, 1e-6, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "rmsnorm");
  CHECK_STATUS(zmlx_norm((zmlx_norm_kind)7, x, NULL, NULL, 1e-6, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_norm(ZMLX_NORM_LAYER, x, NULL, NULL, NAN, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_norm(ZMLX_NORM_LAYER, x, NULL, NULL, 1e-5, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rmsnorm_dropout(x, NULL, 1e-6, NAN, 1, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "rmsnorm_dropout_noweight");
  CHECK_STATUS(zmlx_add_norm(ZMLX_NORM_RMS, x, NULL, NULL, NULL, 1e-6, &out, &dx),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "add_rmsnorm");
  CHECK(out == NULL && dx == NULL);
  CHECK_STATUS(zmlx_add_norm_backward(ZMLX_NORM_LAYER, x, NULL, NULL, b, 1e-5, x, b, &dx, NULL, NULL),
               ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "add_layernorm_noweight");
  zmlx_array_release(x);
  zmlx_array_release(b);
}

ZT_MAIN(ZT(test_philox_known_answers), ZT(test_dropout_offset_contract), ZT(test_dropout_rate),
        ZT(test_dropout_same_mask_everywhere), ZT(test_add_norm_backward_from_sum),
        ZT(test_gradients_not_wanted), ZT(test_bad_arguments))
