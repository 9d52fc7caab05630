/* CUDA-only behaviour: CPU and CUDA agree on the same kernels, 64-bit
 * indexing past 2^31 elements, the caching allocator's reuse and its
 * out-of-memory path, streams and events. Skips (77) without a GPU. */
#include "zt_array.h"

static uint64_t seed = 0xc0da;

static void test_cpu_and_cuda_agree(void) {
  static const char *ins[] = {"x", "w"}, *outs[] = {"y"};
  zmlx_kernel_desc d = {
      .name = "agree", .n_inputs = 2, .input_names = ins, .n_outputs = 1, .output_names = outs,
      .source = "float v = zmlx_tof(x[zmlx_offset(gid, x_ndim, x_shape, x_strides)]);\n"
                "float b = zmlx_tof(w[zmlx_offset(gid, w_ndim, w_shape, w_strides)]);\n"
                "zmlx_store(y, gid, zmlx_siluf(v) * b + zmlx_gelu_tanhf(v));"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
  for (int ti = 0; ti < 3; ti++) {
    zmlx_dtype t = types[ti];
    int64_t xs[2] = {257, 129}, ws[1] = {257}, ys[2] = {129, 257};
    zmlx_array *x = zt_random_array(t, 2, xs, 4.0, &seed, ZMLX_CPU, NULL);
    zmlx_array *w = zt_random_array(t, 1, ws, 2.0, &seed, ZMLX_CPU, NULL);
    zmlx_array *xg = NULL, *wg = NULL, *in[2][2], *yc = NULL, *yg = NULL;
    CHECK_OK(zmlx_array_to_device(x, ZMLX_CUDA(0), &xg));
    CHECK_OK(zmlx_array_to_device(w, ZMLX_CUDA(0), &wg));
    zmlx_array *views[4] = {NULL};
    CHECK_OK(zmlx_array_transpose(x, 0, 1, &views[0]));      /* strided */
    CHECK_OK(zmlx_array_broadcast_to(w, 2, ys, &views[1]));  /* broadcast */
    CHECK_OK(zmlx_array_transpose(xg, 0, 1, &views[2]));
    CHECK_OK(zmlx_array_broadcast_to(wg, 2, ys, &views[3]));
    in[0][0] = views[0]; in[0][1] = views[1];
    in[1][0] = views[2]; in[1][1] = views[3];
    const int64_t *shapes[] = {ys};
    int two = 2;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &two, .output_shapes = shapes};
    CHECK_OK(zmlx_kernel_launch(k, 2, in[0], &cfg, &yc));
    CHECK_OK(zmlx_kernel_launch(k, 2, in[1], &cfg, &yg));
    double *c = zt_read_f64(yc), *g = zt_read_f64(yg);
    double err = (c && g) ? zt_rel_err(g, c, 129 * 257) : INFINITY;
    /* Both round once to t from float math that differs by libm ulps. */
    CHECK_MSG(err <= (t == ZMLX_DTYPE_F32 ? 1e-6 : zt_tol(t)), "%s: cuda vs cpu rel err %g",
              zmlx_dtype_name(t), err);
    free(c); free(g);
    for (int i = 0; i < 4; i++) zmlx_array_release(views[i]);
    zmlx_array_release(x); zmlx_array_release(w); zmlx_array_release(xg);
    zmlx_array_release(wg); zmlx_array_release(yc); zmlx_array_release(yg);
  }
  zmlx_kernel_destroy(k);
}

/* 2^31 + 77 one-byte elements: every index past 2^31 must be right. */
static void test_more_than_2_31_elements(void) {
  static const char *ins[] = {"x"}, *outs[] = {"y"};
  zmlx_kernel_desc d = {.name = "big", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs,
                        .source = "y[gid] = (uint8_t)(x[gid] + (uint8_t)(gid >> 24) + (uint8_t)gid);"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = (1LL << 31) + 77;
  zmlx_array *x = NULL, *y = NULL;
  CHECK_OK(zmlx_array_full(ZMLX_DTYPE_U8, 1, &n, 3, ZMLX_CUDA(0), &x));
  zmlx_dtype t = ZMLX_DTYPE_U8;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  CHECK_OK(zmlx_kernel_launch(k, 1, &x, &cfg, &y));
  uint8_t *h = malloc((size_t)n);
  CHECK(h != NULL);
  if (h && y) {
    memset(h, 0xCD, (size_t)n);
    CHECK_OK(zmlx_array_to_host(y, h, (size_t)n));
    int64_t bad = 0, first_bad = -1;
    for (int64_t i = 0; i < n; i++) {
      uint8_t want = (uint8_t)(3 + (uint8_t)(i >> 24) + (uint8_t)i);
      if (h[i] != want && bad++ == 0) first_bad = i;
    }
    CHECK_MSG(bad == 0, "%lld wrong elements, first at %lld", (long long)bad, (long long)first_bad);
  }
  free(h);
  zmlx_array_release(x);
  zmlx_array_release(y);
  zmlx_kernel_destroy(k);
}

static void test_allocator_reuse(void) {
  zmlx_alloc_stats a, b, c;
  int64_t n = (1 << 20) + 3;
  zmlx_array *x = NULL, *y = NULL;
  CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 1, &n, ZMLX_CUDA(0), &x));
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &a));
  CHECK(a.bytes_in_use >= (uint64_t)n * 4);
  zmlx_array_release(x);
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &b));
  CHECK(b.bytes_in_use + (uint64_t)n * 4 <= a.bytes_in_use);
  CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 1, &n, ZMLX_CUDA(0), &y));
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &c));
  /* ZMLX_ALLOC_CACHE=0 (as gpu_suite.sh runs compute-sanitizer): every
   * block goes back to the driver, and every request reaches it. */
  const char *cache = getenv("ZMLX_ALLOC_CACHE");
  if (cache && !strcmp(cache, "0")) {
    CHECK_EQ_INT(b.bytes_cached, 0);
    CHECK_EQ_INT(c.n_device_alloc, b.n_device_alloc + 1);
  } else {
    CHECK(b.bytes_cached >= (uint64_t)n * 4);
    CHECK_EQ_INT(c.n_reuse, b.n_reuse + 1);
    CHECK_EQ_INT(c.n_device_alloc, b.n_device_alloc);
  }
  printf("allocator: in use %llu, cached %llu, reuse %llu of %llu requests, driver allocs %llu\n",
         (unsigned long long)c.bytes_in_use, (unsigned long long)c.bytes_cached,
         (unsigned long long)c.n_reuse, (unsigned long long)c.n_alloc,
         (unsigned long long)c.n_device_alloc);
  /* A new peak starts at what is in use; a bigger array raises it, and
   * it stays after the array goes. */
  CHECK_OK(zmlx_alloc_stats_reset_peak(ZMLX_CUDA(0)));
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &a));
  CHECK_EQ_INT(a.peak_in_use, a.bytes_in_use);
  int64_t n2 = 3 * n;
  CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 1, &n2, ZMLX_CUDA(0), &x));
  zmlx_array_release(x);
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &b));
  CHECK(b.peak_in_use >= a.bytes_in_use + (uint64_t)n2 * 4 && b.bytes_in_use == a.bytes_in_use);
  zmlx_array_release(y);
  CHECK_OK(zmlx_alloc_cache_release(ZMLX_CUDA(0)));
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &c));
  CHECK_EQ_INT(c.bytes_cached, 0);
}

static void test_out_of_memory(void) {
  int64_t n = 1LL << 40; /* 1 TiB: more than any GPU here */
  zmlx_array *x = NULL;
  zmlx_alloc_stats before, after;
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &before));
  CHECK_STATUS(zmlx_array_empty(ZMLX_DTYPE_U8, 1, &n, ZMLX_CUDA(0), &x), ZMLX_STATUS_OUT_OF_MEMORY);
  CHECK(x == NULL);
  CHECK_CONTAINS(zmlx_error_last(), "cuda:0");
  CHECK_CONTAINS(zmlx_error_last(), "(1099511627776,)");
  printf("OOM message: %s\n", zmlx_error_last());
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CUDA(0), &after));
  CHECK_EQ_INT(after.n_oom_retry, before.n_oom_retry + 1);
  /* The process carries on: allocate and compute. */
  int64_t m = 1000;
  zmlx_array *y = NULL;
  CHECK_OK(zmlx_array_arange(ZMLX_DTYPE_F32, m, 0, 1, ZMLX_CUDA(0), &y));
  double *h = y ? zt_read_f64(y) : NULL;
  CHECK(h && h[999] == 999.0);
  free(h);
  zmlx_array_release(y);
}

static void test_streams_events(void) {
  zmlx_stream *s = NULL;
  zmlx_event *e0 = NULL, *e1 = NULL;
  CHECK_OK(zmlx_stream_create(ZMLX_CUDA(0), &s));
  CHECK_OK(zmlx_event_create(ZMLX_CUDA(0), &e0));
  CHECK_OK(zmlx_event_create(ZMLX_CUDA(0), &e1));
  CHECK_OK(zmlx_stream_set_current(ZMLX_CUDA(0), s));
  CHECK(zmlx_stream_current(ZMLX_CUDA(0)) == s);
  int64_t n = 1 << 24;
  zmlx_array *x = NULL;
  CHECK_OK(zmlx_event_record(e0, s));
  CHECK_OK(zmlx_array_random_normal(ZMLX_DTYPE_F32, 1, &n, 7, 0, 1, ZMLX_CUDA(0), &x));
  CHECK_OK(zmlx_event_record(e1, s));
  CHECK_OK(zmlx_event_synchronize(e1));
  float ms = -1;
  CHECK_OK(zmlx_event_elapsed_ms(e0, e1, &ms));
  CHECK(ms > 0);
  printf("random_normal of 2^24 f32 on a user stream: %.3f ms\n", ms);
  CHECK_OK(zmlx_stream_set_current(ZMLX_CUDA(0), NULL));
  /* The same draw on the CPU: within a few ulps (libm differs). */
  zmlx_array *c = NULL;
  int64_t small = 4097;
  zmlx_array *xs = NULL;
  CHECK_OK(zmlx_array_slice(x, 0, 0, small, 1, &xs));
  CHECK_OK(zmlx_array_random_normal(ZMLX_DTYPE_F32, 1, &small, 7, 0, 1, ZMLX_CPU, &c));
  double *g = xs ? zt_read_f64(xs) : NULL, *h = c ? zt_read_f64(c) : NULL;
  CHECK(g && h && zt_rel_err(g, h, (size_t)small) < 1e-5);
  free(g); free(h);
  zmlx_array_release(xs); zmlx_array_release(c); zmlx_array_release(x);
  CHECK_OK(zmlx_event_destroy(e0));
  CHECK_OK(zmlx_event_destroy(e1));
  CHECK_OK(zmlx_stream_destroy(s));
}

static void test_transfers(void) {
  const int64_t sizes[] = {1, 7, 4097, (20 << 20) + 3};
  for (int i = 0; i < 4; i++) {
    int64_t n = sizes[i];
    uint8_t *src = malloc((size_t)n), *dst = malloc((size_t)n);
    for (int64_t j = 0; j < n; j++) src[j] = (uint8_t)zt_next(&seed);
    memset(dst, 0xCD, (size_t)n);
    zmlx_array *g = NULL, *c = NULL;
    CHECK_OK(zmlx_array_from_host(src, ZMLX_DTYPE_U8, 1, &n, ZMLX_CUDA(0), &g));
    CHECK_OK(zmlx_array_to_device(g, ZMLX_CPU, &c));
    CHECK_OK(zmlx_array_to_host(c, dst, (size_t)n));
    CHECK_MSG(memcmp(src, dst, (size_t)n) == 0, "round trip of %lld bytes differs", (long long)n);
    free(src); free(dst);
    zmlx_array_release(g); zmlx_array_release(c);
  }
}

static const zt_case cases[] = {ZT(test_cpu_and_cuda_agree), ZT(test_more_than_2_31_elements),
                                ZT(test_allocator_reuse), ZT(test_out_of_memory),
                                ZT(test_streams_events), ZT(test_transfers)};

int main(int argc, char **argv) {
  if (zmlx_device_check(ZMLX_CUDA(0)) != ZMLX_STATUS_OK) ZT_SKIP("no CUDA device: %s", zmlx_error_last());
  return zt_run(cases, (int)(sizeof cases / sizeof *cases), argc, argv);
}
