/* Dropout beyond the catalog harness: the Philox stream against
 * Random123's known answer, the keep rate, the (seed, offset) contract
 * (a call that starts offset counters later sees the same mask as the
 * tail of a longer call), determinism, and the same mask on CUDA as on
 * the CPU when a GPU is present. */
#include "zt_array.h"

/* Random123's kat_vectors: philox4x32 10, counter 0, key 0. */
static void test_philox_known_answer(void) {
  static const char *outs[] = {"w"};
  zmlx_kernel_desc d = {.name = "philox_kat", .n_outputs = 1, .output_names = outs,
                        .source = "uint32_t v[4];\nzmlx_philox(0, 0, v);\nw[gid] = v[gid];\n"};
  zmlx_kernel *k = NULL;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = 4;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_dtype t = ZMLX_DTYPE_U32;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  zmlx_array *w = NULL;
  CHECK_OK(zmlx_kernel_launch(k, 0, NULL, &cfg, &w));
  uint32_t got[4] = {0}, want[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
  if (w) CHECK_OK(zmlx_array_to_host(w, got, sizeof got));
  for (int i = 0; i < 4; i++)
    CHECK_MSG(got[i] == want[i], "word %d: %08x, want %08x", i, got[i], want[i]);
  zmlx_array_release(w);
  zmlx_kernel_destroy(k);
}

static unsigned char *mask_of(int64_t n, double p, uint64_t seed, uint64_t offset, zmlx_device dev) {
  zmlx_array *x = NULL, *m = NULL;
  unsigned char *h = malloc((size_t)n + 1);
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_BF16, 1, &n, dev, &x));
  CHECK_OK(zmlx_dropout_mask(x, p, seed, offset, &m));
  if (m && h) CHECK_OK(zmlx_array_to_host(m, h, (size_t)n));
  zmlx_array_release(x);
  zmlx_array_release(m);
  return h;
}

static void test_keep_rate(void) {
  const int64_t n = 1 << 20;
  const double ps[] = {0.1, 0.5, 0.9};
  for (int i = 0; i < 3; i++) {
    unsigned char *m = mask_of(n, ps[i], 77 + (uint64_t)i, 0, ZMLX_CPU);
    if (!m) continue;
    int64_t dropped = 0;
    for (int64_t j = 0; j < n; j++) dropped += !m[j];
    double rate = (double)dropped / (double)n, sigma = sqrt(ps[i] * (1 - ps[i]) / (double)n);
    CHECK_MSG(fabs(rate - ps[i]) < 6 * sigma, "p %g: dropped %.5f of %lld", ps[i], rate,
              (long long)n);
    free(m);
  }
}

/* Counters offset + j cover elements 8j.. of a call: a call starting at
 * offset + 5 sees the tail from element 40 on. Seeds differ in any bit. */
static void test_seed_and_offset(void) {
  const int64_t n = 1001;
  uint64_t seed = 0x123456789abcdefull, off = 0xfffffffeull; /* counters cross 2^32 */
  unsigned char *a = mask_of(n, 0.5, seed, off, ZMLX_CPU);
  unsigned char *b = mask_of(n - 40, 0.5, seed, off + 5, ZMLX_CPU);
  unsigned char *c = mask_of(n, 0.5, seed ^ (1ull << 40), off, ZMLX_CPU);
  unsigned char *d = mask_of(n, 0.5, seed, off, ZMLX_CPU);
  CHECK_EQ_INT(zmlx_dropout_counters(n), 126);
  CHECK_EQ_INT(zmlx_dropout_counters(0), 0);
  if (a && b && c && d) {
    CHECK(!memcmp(a + 40, b, (size_t)(n - 40)));
    CHECK(!memcmp(a, d, (size_t)n));
    int same = 0;
    for (int64_t i = 0; i < n; i++) same += a[i] == c[i];
    CHECK_MSG(same < n * 0.6, "another seed gives %d of %lld equal", same, (long long)n);
  }
  free(a), free(b), free(c), free(d);
}

static void test_cuda_same_mask(void) {
  if (zmlx_device_count(ZMLX_DEVICE_CUDA) == 0) {
    printf("  (no CUDA device: CPU/CUDA mask equality not checked here)\n");
    return;
  }
  const int64_t n = 100003;
  unsigned char *a = mask_of(n, 0.3, 42, 7, ZMLX_CPU), *b = mask_of(n, 0.3, 42, 7, ZMLX_CUDA(0));
  if (a && b) CHECK(!memcmp(a, b, (size_t)n));
  free(a), free(b);
}

static void test_bad_inputs(void) {
  zmlx_array *x = NULL, *out = NULL;
  int64_t n = 8;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &x));
  CHECK_STATUS(zmlx_dropout(x, NAN, 1, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK_STATUS(zmlx_dropout(x, 0.1, 1, 0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_dropout_add_backward(x, 0.1, 1, 0, NULL, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_array_release(x);
}

ZT_MAIN(ZT(test_philox_known_answer), ZT(test_keep_rate), ZT(test_seed_and_offset),
        ZT(test_cuda_same_mask), ZT(test_bad_inputs))
