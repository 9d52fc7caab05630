/* The CUDA backend, through its zb_backend table. Without a GPU, only the
 * NVRTC compile-only part runs (when NVRTC is installed); with neither, the
 * test is skipped. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "zt.h"
#include "backend/backend.h"
#include "backend/cuda/cuda_api.h"
#include "backend/cuda/cuda_internal.h"

static const zb_backend *B;
static int g_gpu;   /* a CUDA device works */
static int g_nvrtc; /* NVRTC loads */
static char g_why[600];

static const char *k_twice =
    "extern \"C\" __global__ void k(float *y, const float *x, long long n) {\n"
    "  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n"
    "  if (i < n) y[i] = 2 * x[i];\n"
    "}\n";

static const char *k_broken =
    "extern \"C\" __global__ void k(float *y) {\n"
    "  long long i = threadIdx.x;\n"
    "  y[i] = undefined_thing;\n"
    "}\n";

/* Counts bytes of p[0..nbytes) that differ from the repeating pattern. */
static const char *k_check =
    "extern \"C\" __global__ void chk(const unsigned char *p, unsigned long long nbytes,\n"
    "                                unsigned long long pat, int esz,\n"
    "                                unsigned long long *bad) {\n"
    "  unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;\n"
    "  unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;\n"
    "  unsigned long long nb = 0;\n"
    "  for (; i < nbytes; i += stride) {\n"
    "    unsigned char want = (unsigned char)(pat >> (8 * (i % esz)));\n"
    "    if (p[i] != want) nb++;\n"
    "  }\n"
    "  if (nb) atomicAdd(bad, nb);\n"
    "}\n";

static const char *k_empty = "extern \"C\" __global__ void e(int *p) { if (p) *p = 1; }\n";

static const char *k_smem =
    "extern \"C\" __global__ void s(int *out) {\n"
    "  extern __shared__ int buf[];\n"
    "  int n = 64 * 1024 / 4;\n"
    "  for (int i = threadIdx.x; i < n; i += blockDim.x) buf[i] = i;\n"
    "  __syncthreads();\n"
    "  if (threadIdx.x == 0) out[blockIdx.x] = buf[n - 1];\n"
    "}\n";

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static void fill_random(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)rnd();
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int is_elf(const void *p, size_t n) {
  const unsigned char *b = p;
  return n >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
}

/* Compile src for cuda:0 and load entry; 0 on failure (checked). */
static int load_kernel(const char *src, const char *entry, void **mod, void **fn) {
  void *bin = NULL;
  size_t len = 0;
  char *log = NULL;
  zmlx_status s = B->compile(0, src, entry, &bin, &len, &log);
  CHECK_MSG(s == ZMLX_STATUS_OK, "compile %s: %s\n%s", entry, zmlx_error_last(),
            log ? log : "");
  free(log);
  if (s != ZMLX_STATUS_OK) return 0;
  s = B->module_load(0, bin, len, NULL, entry, mod, fn);
  free(bin);
  CHECK_MSG(s == ZMLX_STATUS_OK, "module_load %s: %s", entry, zmlx_error_last());
  return s == ZMLX_STATUS_OK;
}

/* Probe once, whichever test runs first (tests can be picked by name). */
static int g_ready;
static void ensure(void) {
  if (g_ready) return;
  g_ready = 1;
  B = zb_cuda_backend();
  g_gpu = B->probe(g_why, sizeof g_why) == ZMLX_STATUS_OK;
  g_nvrtc = zb_nvrtc_available(NULL, 0);
}
static int gpu(void) { ensure(); return g_gpu; }
static int nvrtc(void) { ensure(); return g_nvrtc; }

/* ------------------------------------------------------------------------ */

static void test_probe(void) {
  ensure();
  CHECK(B != NULL);
  CHECK(!strcmp(B->name, "cuda"));
  CHECK(B->type == ZMLX_DEVICE_CUDA);
  zmlx_status s = B->probe(g_why, sizeof g_why);
  g_gpu = s == ZMLX_STATUS_OK;
  char nwhy[1024] = "";
  g_nvrtc = zb_nvrtc_available(nwhy, sizeof nwhy);
  printf("cuda probe: %s%s%s\n", g_gpu ? "ok" : "unavailable", g_gpu ? "" : ": ",
         g_gpu ? "" : g_why);
  printf("nvrtc: %s (version %d); driver version %d\n", g_nvrtc ? "available" : nwhy,
         zb_nvrtc_version(), zb_cuda_driver_version());
  if (!g_gpu && !g_nvrtc)
    ZT_SKIP("no CUDA device (%s) and no NVRTC (%s)", g_why, nwhy);
  if (!g_gpu) {
    CHECK(g_why[0] != 0);
    CHECK_EQ_INT(B->device_count(), 0);
    void *p = NULL;
    CHECK_STATUS(B->mem_alloc(0, 16, NULL, &p), ZMLX_STATUS_DEVICE_UNAVAILABLE);
    return;
  }
  int n = B->device_count();
  CHECK(n >= 1);
  for (int d = 0; d < n; d++) {
    zmlx_device_info info;
    CHECK_OK(B->device_info(d, &info));
    printf("cuda:%d %s %s, %d SMs, %.1f GiB, L2 %llu KiB, driver %d, nvrtc %d\n", d,
           info.name, info.arch, info.sm_count, info.total_memory / 1073741824.0,
           (unsigned long long)info.l2_bytes / 1024, info.driver_version,
           info.compiler_version);
    CHECK(info.name[0] != 0);
    CHECK(!strncmp(info.arch, "sm_", 3));
    CHECK(info.sm_count > 0);
    CHECK(info.cc_major >= 3);
    CHECK(info.total_memory > ((uint64_t)1 << 28));
    CHECK(info.l2_bytes > 0);
    CHECK(info.driver_version >= 10000);
    CHECK_EQ_INT(info.compiler_version, zb_nvrtc_version());
  }
  zmlx_device_info info;
  CHECK_STATUS(B->device_info(n, &info), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "does not exist");
  CHECK_OK(B->synchronize(0));
}

static void test_nvrtc_compile_only(void) {
  if (!nvrtc()) {
    printf("  (NVRTC missing: compile-only part not run)\n");
    return;
  }
  void *bin = NULL;
  size_t len = 0;
  char *log = NULL;
  CHECK_OK(zb_nvrtc_compile(k_twice, "k", "sm_90", &bin, &len, &log));
  CHECK(bin != NULL && len > 64);
  CHECK(is_elf(bin, len));
  CHECK(log == NULL);
  free(bin);
  free(log);

  bin = NULL;
  log = NULL;
  CHECK_STATUS(zb_nvrtc_compile(k_broken, "k", "sm_90", &bin, &len, &log),
               ZMLX_STATUS_COMPILE_FAILED);
  CHECK(bin == NULL);
  CHECK(log != NULL);
  CHECK_CONTAINS(log, "k.cu(3)");
  CHECK_CONTAINS(log, "undefined_thing");
  CHECK_CONTAINS(zmlx_error_last(), "undefined_thing");
  free(log);

  CHECK_STATUS(zb_nvrtc_compile(k_twice, "k", "compute_90", &bin, &len, NULL),
               ZMLX_STATUS_INVALID_ARGUMENT);

  /* Through the backend, compile-only (dev -1: sm_90 or $ZMLX_CUDA_ARCH). */
  char id[1024];
  CHECK_OK(B->compiler_id(-1, id, sizeof id));
  CHECK_CONTAINS(id, "nvrtc");
  CHECK_CONTAINS(id, "sm_");
  CHECK_CONTAINS(id, "-lineinfo");
  printf("  compiler_id(-1) = \"%s\"\n", id);
  bin = NULL;
  CHECK_OK(B->compile(-1, k_twice, "k", &bin, &len, &log));
  CHECK(is_elf(bin, len));
  free(bin);
  /* $ZMLX_CUDA_ARCH picks the target, arch-specific variants included. */
  setenv("ZMLX_CUDA_ARCH", "sm_90a", 1);
  CHECK_OK(B->compiler_id(-1, id, sizeof id));
  CHECK_CONTAINS(id, "sm_90a");
  bin = NULL;
  CHECK_OK(B->compile(-1, k_twice, "k", &bin, &len, &log));
  CHECK(is_elf(bin, len));
  free(bin);
  setenv("ZMLX_CUDA_ARCH", "90", 1);
  CHECK_STATUS(B->compiler_id(-1, id, sizeof id), ZMLX_STATUS_INVALID_ARGUMENT);
  unsetenv("ZMLX_CUDA_ARCH");
  if (g_gpu) {
    CHECK_OK(B->compiler_id(0, id, sizeof id));
    printf("  compiler_id(0) = \"%s\"\n", id);
  }
}

static void test_alloc_reuse(void) {
  if (!gpu()) return;
  void *p = (void *)1;
  CHECK_OK(B->mem_alloc(0, 0, NULL, &p));
  CHECK(p == NULL);
  zmlx_alloc_stats a, b;
  CHECK_OK(B->mem_stats(0, &a));
  void *x = NULL, *y = NULL;
  CHECK_OK(B->mem_alloc(0, 1000, NULL, &x));
  CHECK(x != NULL);
  CHECK_OK(B->mem_stats(0, &b));
  int cache = zmlx_env_flag("ZMLX_ALLOC_CACHE", 1);
  CHECK(b.bytes_in_use >= a.bytes_in_use + 1000);
  B->mem_free(0, x, 1000, NULL);
  CHECK_OK(B->mem_stats(0, &a));
  CHECK_EQ_INT(a.bytes_in_use, b.bytes_in_use - (cache ? 1024 : 1000));
  CHECK_OK(B->mem_alloc(0, 1000, NULL, &y));
  CHECK_OK(B->mem_stats(0, &b));
  CHECK_EQ_INT(b.n_alloc, a.n_alloc + 1);
  if (cache) {
    CHECK(y == x);
    CHECK_EQ_INT(b.n_reuse, a.n_reuse + 1);
    CHECK_EQ_INT(b.n_device_alloc, a.n_device_alloc);
  } else {
    CHECK_EQ_INT(b.n_device_alloc, a.n_device_alloc + 1);
  }
  CHECK(b.peak_in_use >= b.bytes_in_use);
  B->mem_free(0, y, 1000, NULL);

  /* Large sizes round to 2 MiB: 3 MiB + 1 and 4 MiB share a class. */
  CHECK_OK(B->mem_alloc(0, (3u << 20) + 1, NULL, &x));
  B->mem_free(0, x, (3u << 20) + 1, NULL);
  CHECK_OK(B->mem_stats(0, &a));
  CHECK_OK(B->mem_alloc(0, 4u << 20, NULL, &y));
  CHECK_OK(B->mem_stats(0, &b));
  if (cache) {
    CHECK(y == x);
    CHECK_EQ_INT(b.n_reuse, a.n_reuse + 1);
  }
  /* Reuse on another stream (synchronizes the old one first). */
  void *s1 = NULL, *s2 = NULL;
  CHECK_OK(B->stream_create(0, &s1));
  CHECK_OK(B->stream_create(0, &s2));
  B->mem_free(0, y, 4u << 20, s1);
  CHECK_OK(B->mem_stats(0, &a));
  CHECK_OK(B->mem_alloc(0, 4u << 20, s2, &x));
  CHECK_OK(B->mem_stats(0, &b));
  if (cache) {
    CHECK(x == y);
    CHECK_EQ_INT(b.n_reuse, a.n_reuse + 1);
  }
  B->mem_free(0, x, 4u << 20, s2);
  CHECK_OK(B->stream_destroy(0, s1));
  CHECK_OK(B->stream_destroy(0, s2));

  CHECK_OK(B->mem_release_cache(0));
  CHECK_OK(B->mem_stats(0, &a));
  CHECK_EQ_INT(a.bytes_cached, 0);
  CHECK_STATUS(B->mem_alloc(99, 16, NULL, &x), ZMLX_STATUS_INVALID_ARGUMENT);
}

static void test_copy_roundtrip(void) {
  if (!gpu()) return;
  const size_t sizes[] = {1, 7, 4097, (20u << 20) + 3, (8u << 20), (16u << 20) + 1,
                         (40u << 20) + 5};
  void *s = NULL;
  CHECK_OK(B->stream_create(0, &s));
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    unsigned char *src = malloc(n), *dst = malloc(n);
    fill_random(src, n);
    void *d1 = NULL, *d2 = NULL;
    void *st = (k & 1) ? s : NULL;
    CHECK_OK(B->mem_alloc(0, n, st, &d1));
    CHECK_OK(B->mem_alloc(0, n, st, &d2));
    CHECK_OK(B->copy_h2d(0, d1, src, n, st));
    memset(dst, 0xCD, n);
    CHECK_OK(B->copy_d2h(0, dst, d1, n, st));
    CHECK_MSG(!memcmp(src, dst, n), "h2d/d2h round trip of %zu bytes differs", n);
    CHECK_OK(B->copy_d2d(0, d2, d1, n, st));
    memset(dst, 0xCD, n);
    CHECK_OK(B->copy_d2h(0, dst, d2, n, st));
    CHECK_MSG(!memcmp(src, dst, n), "d2d of %zu bytes differs", n);
    /* Unaligned host and device addresses. */
    if (n > 3) {
      CHECK_OK(B->copy_h2d(0, (char *)d1 + 1, src + 2, n - 3, st));
      memset(dst, 0xCD, n);
      CHECK_OK(B->copy_d2h(0, dst + 1, (char *)d1 + 1, n - 3, st));
      CHECK_MSG(!memcmp(src + 2, dst + 1, n - 3), "unaligned copy of %zu bytes differs", n - 3);
      CHECK(dst[0] == 0xCD && dst[n - 2] == 0xCD && dst[n - 1] == 0xCD);
    }
    B->mem_free(0, d1, n, st);
    B->mem_free(0, d2, n, st);
    free(src);
    free(dst);
  }
  CHECK_OK(B->copy_h2d(0, NULL, NULL, 0, NULL));
  CHECK_STATUS(B->copy_h2d(0, NULL, "x", 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_OK(B->stream_destroy(0, s));

  /* Timing, for the record: 256 MiB each way. */
  size_t big = 256u << 20;
  unsigned char *h = malloc(big);
  memset(h, 1, big);
  void *d = NULL;
  CHECK_OK(B->mem_alloc(0, big, NULL, &d));
  CHECK_OK(B->copy_h2d(0, d, h, big, NULL));
  CHECK_OK(B->synchronize(0));
  double t0 = now_s();
  CHECK_OK(B->copy_h2d(0, d, h, big, NULL));
  CHECK_OK(B->synchronize(0));
  double t1 = now_s();
  CHECK_OK(B->copy_d2h(0, h, d, big, NULL));
  double t2 = now_s();
  printf("  h2d %.1f GB/s, d2h %.1f GB/s (256 MiB, pageable host memory)\n",
         big / (t1 - t0) / 1e9, big / (t2 - t1) / 1e9);
  /* The driver's own pageable copies and pinned DMA, for comparison. */
  t0 = now_s();
  zc_cu->cuMemcpyHtoDAsync(zc_dptr(d), h, big, NULL);
  zc_cu->cuStreamSynchronize(NULL);
  t1 = now_s();
  zc_cu->cuMemcpyDtoHAsync(h, zc_dptr(d), big, NULL);
  zc_cu->cuStreamSynchronize(NULL);
  t2 = now_s();
  printf("  driver pageable: h2d %.1f GB/s, d2h %.1f GB/s\n", big / (t1 - t0) / 1e9,
         big / (t2 - t1) / 1e9);
  void *pin = NULL;
  if (zc_cu->cuMemHostAlloc(&pin, big, 0) == CUDA_SUCCESS) {
    memset(pin, 1, big);
    t0 = now_s();
    zc_cu->cuMemcpyHtoDAsync(zc_dptr(d), pin, big, NULL);
    zc_cu->cuStreamSynchronize(NULL);
    t1 = now_s();
    zc_cu->cuMemcpyDtoHAsync(pin, zc_dptr(d), big, NULL);
    zc_cu->cuStreamSynchronize(NULL);
    t2 = now_s();
    unsigned char *h2 = malloc(big);
    memset(h2, 2, big);
    double t3 = now_s();
    memcpy(h2, h, big);
    double t4 = now_s();
    printf("  driver pinned: h2d %.1f GB/s, d2h %.1f GB/s; host memcpy %.1f GB/s\n",
           big / (t1 - t0) / 1e9, big / (t2 - t1) / 1e9, big / (t4 - t3) / 1e9);
    free(h2);
    zc_cu->cuMemFreeHost(pin);
  }
  B->mem_free(0, d, big, NULL);
  free(h);
}

static uint64_t pattern_of(size_t esz, int variant) {
  static const uint64_t pats[4][3] = {
      {0x5A, 0x00, 0xFF},
      {0x1234, 0xABAB, 0x00FF},
      {0xDEADBEEF, 0x01010101, 0x80000001},
      {0x0123456789ABCDEFull, 0x1122334411223344ull, 0xFFFFFFFF00000000ull}};
  int r = esz == 1 ? 0 : esz == 2 ? 1 : esz == 4 ? 2 : 3;
  return pats[r][variant];
}

/* Check host bytes [0, n*esz) hold the pattern and the 16 after are 0xCD. */
static int check_pattern(const unsigned char *h, size_t n, size_t esz, uint64_t pat,
                         size_t first_elem) {
  for (size_t i = 0; i < n * esz; i++) {
    unsigned char want = (unsigned char)(pat >> (8 * ((first_elem * esz + i) % esz)));
    if (h[i] != want) return 0;
  }
  return 1;
}

static void test_fill(void) {
  if (!gpu()) return;
  const size_t ns[] = {1, 3, 1001, (1u << 20) + 1, 5000001};
  const size_t eszs[] = {1, 2, 4, 8};
  size_t maxb = 5000001 * 8 + 64;
  void *d = NULL;
  CHECK_OK(B->mem_alloc(0, maxb, NULL, &d));
  unsigned char *h = malloc(maxb);
  unsigned char cd = 0xCD;
  for (size_t e = 0; e < 4; e++) {
    size_t esz = eszs[e];
    for (int v = 0; v < 3; v++) {
      uint64_t pat = pattern_of(esz, v);
      for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k];
        /* offs: aligned, and (for esz > 1) misaligned by 1 and by esz/2. */
        size_t offs[3] = {0, 1, esz / 2};
        for (int o = 0; o < (esz > 1 ? 3 : 1); o++) {
          size_t off = offs[o];
          CHECK_OK(B->mem_fill(0, d, maxb, &cd, 1, NULL));
          CHECK_OK(B->mem_fill(0, (char *)d + off, n, &pat, esz, NULL));
          memset(h, 0x11, maxb);
          size_t span = off + n * esz + 16;
          CHECK_OK(B->copy_d2h(0, h, d, span, NULL));
          int ok = check_pattern(h + off, n, esz, pat, 0);
          for (size_t i = 0; i < off; i++) ok &= h[i] == 0xCD;
          for (size_t i = off + n * esz; i < span; i++) ok &= h[i] == 0xCD;
          CHECK_MSG(ok, "fill of %zu x %zu-byte 0x%llx at offset %zu is wrong", n, esz,
                    (unsigned long long)pat, off);
        }
      }
    }
  }
  /* The strided fallback directly, for every size, at odd n. */
  for (size_t e = 0; e < 4; e++) {
    size_t esz = eszs[e], n = 100003;
    uint64_t pat = pattern_of(esz, 0);
    CHECK_OK(B->mem_fill(0, d, maxb, &cd, 1, NULL));
    CHECK_OK(zc_fill_columns(0, (char *)d + 3, n, (const unsigned char *)&pat, esz, NULL));
    memset(h, 0x11, maxb);
    CHECK_OK(B->copy_d2h(0, h, d, n * esz + 19, NULL));
    int ok = check_pattern(h + 3, n, esz, pat, 0) && h[0] == 0xCD && h[2] == 0xCD;
    for (size_t i = 3 + n * esz; i < n * esz + 19; i++) ok &= h[i] == 0xCD;
    CHECK_MSG(ok, "strided fill of %zu-byte 0x%llx is wrong", esz, (unsigned long long)pat);
  }
  uint64_t pat = 1;
  CHECK_STATUS(B->mem_fill(0, d, 4, &pat, 3, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_OK(B->mem_fill(0, d, 0, &pat, 8, NULL));
  B->mem_free(0, d, maxb, NULL);
  free(h);
}

/* n > 2^31 elements, checked by a kernel over every byte and on the host
 * around the edges. Needs (2^31+3)*8 bytes: skipped on small GPUs. */
static void test_fill_huge(void) {
  if (!gpu() || !nvrtc()) return;
  zmlx_device_info info;
  CHECK_OK(B->device_info(0, &info));
  size_t n = ((size_t)1 << 31) + 3;
  size_t bytes = n * 8 + 64;
  if (info.total_memory < bytes + ((uint64_t)4 << 30) || !zmlx_env_flag("ZMLX_TEST_HUGE", 1)) {
    printf("  (skipped: needs %.1f GiB)\n", bytes / 1073741824.0);
    return;
  }
  void *mod = NULL, *fn = NULL;
  if (!load_kernel(k_check, "chk", &mod, &fn)) return;
  void *d = NULL, *bad = NULL;
  CHECK_OK(B->mem_alloc(0, bytes, NULL, &d));
  CHECK_OK(B->mem_alloc(0, 8, NULL, &bad));
  if (!d || !bad) return;
  unsigned char *h = malloc(1 << 20);
  const size_t eszs[] = {1, 2, 4, 8};
  for (int e = 0; e < 4; e++) {
    size_t esz = eszs[e];
    uint64_t pat = pattern_of(esz, 0), zero = 0;
    unsigned char cd = 0xCD;
    CHECK_OK(B->mem_fill(0, d, bytes, &cd, 1, NULL));
    double t0 = now_s();
    CHECK_OK(B->mem_fill(0, d, n, &pat, esz, NULL));
    CHECK_OK(B->synchronize(0));
    double t1 = now_s();
    CHECK_OK(B->mem_fill(0, bad, 1, &zero, 8, NULL));
    unsigned long long nb = (unsigned long long)n * esz;
    int e32 = (int)esz;
    void *params[] = {&d, &nb, &pat, &e32, &bad};
    int64_t grid[3] = {(int64_t)info.sm_count * 2048, 1, 1};
    CHECK_OK(B->launch(0, fn, grid, NULL, 0, params, NULL));
    unsigned long long nbad = 1;
    CHECK_OK(B->copy_d2h(0, &nbad, bad, 8, NULL));
    CHECK_MSG(nbad == 0, "huge %zu-byte fill: %llu wrong bytes", esz, nbad);
    /* The host looks at the start, the byte 2^31 (or the middle) and the
     * end, with the 64 guard bytes after it. */
    size_t at[3] = {0, esz > 1 ? ((size_t)1 << 31) - 4096 : n / 2, n * esz - 4096};
    size_t len[3] = {8208, 8208, 4096 + 64};
    for (int w = 0; w < 3; w++) {
      memset(h, 0x11, 8208);
      CHECK_OK(B->copy_d2h(0, h, (char *)d + at[w], len[w], NULL));
      size_t valid = w == 2 ? 4096 : len[w];
      int ok = check_pattern(h, valid / esz, esz, pat, 0);
      for (size_t i = valid; i < len[w]; i++) ok &= h[i] == 0xCD;
      CHECK_MSG(ok, "huge %zu-byte fill: window %d wrong", esz, w);
    }
    printf("  fill of 2^31+3 x %zu bytes: %.2f ms\n", esz, (t1 - t0) * 1e3);
  }
  B->mem_free(0, d, bytes, NULL);
  B->mem_free(0, bad, 8, NULL);
  B->module_unload(0, mod);
  CHECK_OK(B->mem_release_cache(0));
  free(h);
}

static void test_streams_events(void) {
  if (!gpu()) return;
  void *s = NULL, *e0 = NULL, *e1 = NULL;
  CHECK_OK(B->stream_create(0, &s));
  CHECK_OK(B->event_create(0, &e0));
  CHECK_OK(B->event_create(0, &e1));
  size_t n = 64u << 20;
  void *d = NULL;
  CHECK_OK(B->mem_alloc(0, n, s, &d));
  unsigned char v = 7;
  CHECK_OK(B->event_record(0, e0, s));
  CHECK_OK(B->mem_fill(0, d, n, &v, 1, s));
  CHECK_OK(B->event_record(0, e1, s));
  CHECK_OK(B->stream_wait_event(0, NULL, e1));
  CHECK_OK(B->event_synchronize(0, e1));
  float ms = -1;
  CHECK_OK(B->event_elapsed_ms(0, e0, e1, &ms));
  CHECK(ms >= 0);
  printf("  fill of 64 MiB: %.3f ms by events\n", ms);
  CHECK_OK(B->stream_synchronize(0, s));
  CHECK_OK(B->stream_synchronize(0, NULL));
  B->mem_free(0, d, n, s);
  CHECK_OK(B->event_destroy(0, e0));
  CHECK_OK(B->event_destroy(0, e1));
  CHECK_OK(B->stream_destroy(0, s));
  CHECK_STATUS(B->event_record(0, NULL, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
}

static void test_launch(void) {
  if (!gpu() || !nvrtc()) return;
  void *mod = NULL, *fn = NULL;
  if (!load_kernel(k_twice, "k", &mod, &fn)) return;
  long long n = 1000003;
  size_t bytes = (size_t)n * 4;
  float *hx = malloc(bytes), *hy = malloc(bytes);
  for (long long i = 0; i < n; i++) hx[i] = (float)(i % 1000) - 3.5f;
  void *dx = NULL, *dy = NULL;
  CHECK_OK(B->mem_alloc(0, bytes, NULL, &dx));
  CHECK_OK(B->mem_alloc(0, bytes, NULL, &dy));
  CHECK_OK(B->copy_h2d(0, dx, hx, bytes, NULL));
  void *params[] = {&dy, &dx, &n};
  int64_t grid[3] = {n, 1, 1};
  int block[3] = {0, 0, 0};
  CHECK_OK(B->launch(0, fn, grid, block, 0, params, NULL));
  memset(hy, 0xCD, bytes);
  CHECK_OK(B->copy_d2h(0, hy, dy, bytes, NULL));
  long long wrong = 0;
  for (long long i = 0; i < n; i++) wrong += hy[i] != 2 * hx[i];
  CHECK_EQ_INT(wrong, 0);

  /* Block 128 in x, on a stream. */
  void *s = NULL;
  CHECK_OK(B->stream_create(0, &s));
  int block128[3] = {128, 0, 0};
  float zero = 0;
  CHECK_OK(B->mem_fill(0, dy, (size_t)n, &zero, 4, s));
  CHECK_OK(B->launch(0, fn, grid, block128, 0, params, s));
  memset(hy, 0xCD, bytes);
  CHECK_OK(B->copy_d2h(0, hy, dy, bytes, s));
  wrong = 0;
  for (long long i = 0; i < n; i++) wrong += hy[i] != 2 * hx[i];
  CHECK_EQ_INT(wrong, 0);
  CHECK_OK(B->stream_destroy(0, s));

  /* Limits are refused with a message, not by the driver. */
  int64_t gy[3] = {1, 70000, 1};
  CHECK_STATUS(B->launch(0, fn, gy, block, 0, params, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "70000 blocks in y");
  int64_t gx[3] = {(int64_t)1 << 50, 1, 1};
  CHECK_STATUS(B->launch(0, fn, gx, block, 0, params, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  int big_block[3] = {2048, 1, 1};
  CHECK_STATUS(B->launch(0, fn, grid, big_block, 0, params, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(B->launch(0, fn, grid, block, 1u << 30, params, NULL),
               ZMLX_STATUS_INVALID_ARGUMENT);
  int64_t none[3] = {0, 1, 1};
  CHECK_OK(B->launch(0, fn, none, block, 0, params, NULL));

  /* Dynamic shared memory above 48 KiB. */
  void *smod = NULL, *sfn = NULL;
  if (load_kernel(k_smem, "s", &smod, &sfn)) {
    int *dout = NULL;
    CHECK_OK(B->mem_alloc(0, 4 * 4, NULL, (void **)&dout));
    void *sp[] = {&dout};
    int64_t g4[3] = {4 * 256, 1, 1};
    for (int rep = 0; rep < 2; rep++)
      CHECK_OK(B->launch(0, sfn, g4, block, 64 * 1024, sp, NULL));
    int hout[4];
    memset(hout, 0xCD, sizeof hout);
    CHECK_OK(B->copy_d2h(0, hout, dout, sizeof hout, NULL));
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(hout[i], 64 * 1024 / 4 - 1);
    B->mem_free(0, dout, 16, NULL);
    B->module_unload(0, smod);
  }

  /* Another thread's context state must not matter. */
  zc_cu->cuCtxSetCurrent(NULL);
  CHECK_OK(B->launch(0, fn, grid, block, 0, params, NULL));
  CHECK_OK(B->synchronize(0));

  B->mem_free(0, dx, bytes, NULL);
  B->mem_free(0, dy, bytes, NULL);
  B->module_unload(0, mod);
  free(hx);
  free(hy);
}

static void test_launch_overhead(void) {
  if (!gpu() || !nvrtc()) return;
  void *mod = NULL, *fn = NULL;
  if (!load_kernel(k_empty, "e", &mod, &fn)) return;
  void *nul = NULL;
  void *params[] = {&nul};
  int64_t grid[3] = {1, 1, 1};
  int block[3] = {32, 1, 1};
  const int reps = 500;
  double best_ours = 1e9, best_raw = 1e9;
  for (int round = 0; round < 5; round++) {
    CHECK_OK(B->synchronize(0));
    double t0 = now_s();
    for (int i = 0; i < reps; i++) B->launch(0, fn, grid, block, 0, params, NULL);
    double t1 = now_s();
    CHECK_OK(B->synchronize(0));
    double t2 = now_s();
    for (int i = 0; i < reps; i++)
      zc_cu->cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
    double t3 = now_s();
    CHECK_OK(B->synchronize(0));
    if ((t1 - t0) < best_ours) best_ours = t1 - t0;
    if ((t3 - t2) < best_raw) best_raw = t3 - t2;
  }
  double us = best_ours / reps * 1e6, raw = best_raw / reps * 1e6;
  printf("  launch: %.2f us through the backend, %.2f us raw cuLaunchKernel\n", us, raw);
  CHECK_MSG(us - raw < 1.0, "backend adds %.2f us per launch", us - raw);
  B->module_unload(0, mod);
}

static void test_module_errors(void) {
  if (!gpu()) return;
  void *mod = NULL, *fn = NULL;
  unsigned char junk[64];
  memset(junk, 0x42, sizeof junk);
  CHECK_STATUS(B->module_load(0, junk, sizeof junk, NULL, "k", &mod, &fn),
               ZMLX_STATUS_CORRUPT_DATA);
  unsigned char elf[64] = {0x7f, 'E', 'L', 'F'};
  CHECK(B->module_load(0, elf, sizeof elf, NULL, "k", &mod, &fn) != ZMLX_STATUS_OK);
  CHECK(mod == NULL && fn == NULL);
  if (g_nvrtc) {
    void *bin = NULL;
    size_t len = 0;
    CHECK_OK(B->compile(0, k_twice, "k", &bin, &len, NULL));
    CHECK_STATUS(B->module_load(0, bin, len, NULL, "nope", &mod, &fn), ZMLX_STATUS_NOT_FOUND);
    free(bin);
  }
}

static void test_oom(void) {
  if (!gpu()) return;
  zmlx_alloc_stats a, b;
  void *keep = NULL, *tmp = NULL;
  CHECK_OK(B->mem_alloc(0, 1u << 20, NULL, &tmp));
  B->mem_free(0, tmp, 1u << 20, NULL); /* leaves something cached */
  CHECK_OK(B->mem_alloc(0, 3u << 20, NULL, &keep));
  CHECK_OK(B->mem_stats(0, &a));
  void *p = (void *)1;
  size_t tib = (size_t)1 << 40;
  CHECK_STATUS(B->mem_alloc(0, tib, NULL, &p), ZMLX_STATUS_OUT_OF_MEMORY);
  const char *msg = zmlx_error_last();
  printf("  %s\n", msg);
  CHECK_CONTAINS(msg, "1099511627776");
  CHECK_CONTAINS(msg, "cuda:0");
  CHECK_CONTAINS(msg, "in use");
  CHECK_CONTAINS(msg, "free");
  CHECK(p == NULL);
  CHECK_OK(B->mem_stats(0, &b));
  if (zmlx_env_flag("ZMLX_ALLOC_CACHE", 1)) {
    CHECK_EQ_INT(b.n_oom_retry, a.n_oom_retry + 1);
    CHECK_EQ_INT(b.bytes_cached, 0);
  }
  CHECK_EQ_INT(b.bytes_in_use, a.bytes_in_use);
  CHECK_STATUS(B->mem_alloc(0, SIZE_MAX - 5, NULL, &p), ZMLX_STATUS_OUT_OF_MEMORY);
  /* The process carries on. */
  CHECK_OK(B->mem_alloc(0, 1u << 20, NULL, &p));
  CHECK(p != NULL);
  unsigned char v = 3, h[16];
  CHECK_OK(B->mem_fill(0, p, 16, &v, 1, NULL));
  CHECK_OK(B->copy_d2h(0, h, p, 16, NULL));
  CHECK(h[0] == 3 && h[15] == 3);
  B->mem_free(0, p, 1u << 20, NULL);
  B->mem_free(0, keep, 3u << 20, NULL);
}

typedef struct worker_arg {
  int id;
  int failures;
} worker_arg;

static void *worker(void *argp) {
  worker_arg *w = argp;
  void *s = NULL;
  if (B->stream_create(0, &s) != ZMLX_STATUS_OK) {
    w->failures++;
    return NULL;
  }
  for (int it = 0; it < 50; it++) {
    size_t n = 1000 + (size_t)(w->id * 7919 + it * 104729) % 300000;
    if (it % 10 == 3) n = (5u << 20) + (size_t)w->id; /* the parallel memcpy */
    unsigned char *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 31 + w->id + it);
    void *d = NULL;
    void *st = (it & 1) ? s : NULL;
    if (B->mem_alloc(0, n, st, &d) != ZMLX_STATUS_OK ||
        B->copy_h2d(0, d, src, n, st) != ZMLX_STATUS_OK ||
        (memset(dst, 0xCD, n), B->copy_d2h(0, dst, d, n, st)) != ZMLX_STATUS_OK ||
        memcmp(src, dst, n) != 0)
      w->failures++;
    B->mem_free(0, d, n, st);
    free(src);
    free(dst);
  }
  if (B->stream_destroy(0, s) != ZMLX_STATUS_OK) w->failures++;
  return NULL;
}

static void test_threads(void) {
  if (!gpu()) return;
  pthread_t th[8];
  worker_arg args[8];
  for (int i = 0; i < 8; i++) {
    args[i].id = i;
    args[i].failures = 0;
    pthread_create(&th[i], NULL, worker, &args[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_INT(args[i].failures, 0);
  }
}

static void test_shutdown_and_again(void) {
  if (!gpu()) return;
  B->shutdown();
  zmlx_alloc_stats st;
  CHECK_OK(B->mem_stats(0, &st));
  CHECK_EQ_INT(st.bytes_cached, 0);
  void *p = NULL;
  CHECK_OK(B->mem_alloc(0, 4096, NULL, &p));
  unsigned char src[100], dst[100];
  fill_random(src, sizeof src);
  CHECK_OK(B->copy_h2d(0, p, src, sizeof src, NULL));
  memset(dst, 0xCD, sizeof dst);
  CHECK_OK(B->copy_d2h(0, dst, p, sizeof dst, NULL));
  CHECK(!memcmp(src, dst, sizeof src));
  uint64_t pat = 0x0102030405060708ull;
  CHECK_OK(B->mem_fill(0, p, 3, &pat, 8, NULL));
  CHECK_OK(B->copy_d2h(0, dst, p, 24, NULL));
  CHECK(check_pattern(dst, 3, 8, pat, 0));
  B->mem_free(0, p, 4096, NULL);
}

ZT_MAIN(ZT(test_probe), ZT(test_nvrtc_compile_only), ZT(test_alloc_reuse),
        ZT(test_copy_roundtrip), ZT(test_fill), ZT(test_fill_huge),
        ZT(test_streams_events), ZT(test_launch), ZT(test_launch_overhead),
        ZT(test_module_errors), ZT(test_oom), ZT(test_threads),
        ZT(test_shutdown_and_again))
