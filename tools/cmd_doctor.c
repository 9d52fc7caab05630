/* zmlx doctor: what works here, and why not what doesn't. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cuda/cuda_api.h"
#include "tools/commands.h"
#include "zmlx/zmlx.h"

static const char *smoke_inputs[] = {"x"};
static const char *smoke_outputs[] = {"y"};
static const zmlx_kernel_desc smoke_desc = {
    .name = "doctor_smoke", .n_inputs = 1, .input_names = smoke_inputs, .n_outputs = 1,
    .output_names = smoke_outputs, .source = "zmlx_store(y, gid, 2.0f * zmlx_tof(x[gid]) + 1.0f);"};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Compile, launch and check y = 2x + 1 on one device. */
static int smoke(zmlx_device dev) {
  enum { N = 1000 };
  float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = (float)i * 0.5f - 7.0f;
  int64_t n = N;
  zmlx_kernel *k = NULL;
  zmlx_array *xa = NULL, *ya = NULL;
  const int64_t *shapes[] = {&n};
  zmlx_dtype dt = ZMLX_DTYPE_F32;
  int nd = 1;
  zmlx_launch_config cfg = {.output_dtypes = &dt, .output_ndims = &nd, .output_shapes = shapes};
  double t0 = now_ms();
  zmlx_status s = zmlx_kernel_create(&smoke_desc, &k);
  if (!s) s = zmlx_array_from_host(x, ZMLX_DTYPE_F32, 1, &n, dev, &xa);
  if (!s) s = zmlx_kernel_launch(k, 1, &xa, &cfg, &ya);
  if (!s) s = zmlx_array_to_host(ya, y, sizeof y);
  int bad = 0;
  for (int i = 0; !s && i < N; i++) bad += y[i] != 2.0f * x[i] + 1.0f;
  zmlx_kernel_stats st = {0};
  if (k) zmlx_kernel_stats_get(k, &st);
  if (s)
    printf("  smoke test: FAILED: %s\n", zmlx_error_last());
  else if (bad)
    printf("  smoke test: FAILED: %d of %d results wrong\n", bad, N);
  else
    printf("  smoke test: ok (y = 2x + 1 on %d elements, %.1f ms, %s)\n", N, now_ms() - t0,
           st.n_compiles ? "compiled" : st.n_disk_hits ? "from disk cache" : "cached");
  zmlx_array_release(xa);
  zmlx_array_release(ya);
  zmlx_kernel_destroy(k);
  return s || bad;
}

static void print_device(zmlx_device dev) {
  zmlx_device_info info;
  char d[32];
  if (zmlx_device_info_get(dev, &info)) return;
  printf("  %s: %s\n", zmlx_device_format(dev, d, sizeof d), info.name);
  if (dev.type == ZMLX_DEVICE_CUDA)
    printf("    arch %s, %d SMs, %.1f GiB, L2 %.1f MiB\n", info.arch, info.sm_count,
           info.total_memory / 1073741824.0, info.l2_bytes / 1048576.0);
}

/* Compile the smoke kernel for a GPU architecture with NVRTC alone. */
static void nvrtc_check(void) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("  NVRTC: not found (%s)\n", why);
    return;
  }
  int v = zb_nvrtc_version();
  printf("  NVRTC: %d.%d\n", v / 1000, (v % 1000) / 10);
  zmlx_kernel *k = NULL;
  zmlx_array *x = NULL;
  char *src = NULL;
  void *cubin = NULL;
  char *log = NULL;
  size_t len = 0;
  int64_t n = 4;
  const int64_t *shapes[] = {&n};
  zmlx_dtype dt = ZMLX_DTYPE_F32;
  int nd = 1;
  zmlx_launch_config cfg = {.output_dtypes = &dt, .output_ndims = &nd, .output_shapes = shapes};
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  double t0 = now_ms();
  zmlx_status s = zmlx_kernel_create(&smoke_desc, &k);
  if (!s) s = zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &x);
  if (!s) s = zmlx_kernel_source(k, ZMLX_CUDA(0), 1, &x, &cfg, &src);
  if (!s) s = zb_nvrtc_compile(src, "zmlx_doctor_smoke", arch, &cubin, &len, &log);
  if (s)
    printf("  NVRTC compile check: FAILED: %s\n%s\n", zmlx_error_last(), log ? log : "");
  else
    printf("  NVRTC compile check: ok (%s, %zu-byte cubin, %.1f ms)\n", arch, len, now_ms() - t0);
  free(src);
  free(cubin);
  free(log);
  zmlx_array_release(x);
  zmlx_kernel_destroy(k);
}

int zmlx_cmd_doctor(int argc, char **argv) {
  const char *want = getenv("ZMLX_DEVICE");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      want = argv[++i];
    else {
      fprintf(stderr, "usage: zmlx doctor [--device cpu|cuda|cuda:N]\n");
      return 2;
    }
  }
  zmlx_device wanted = ZMLX_CPU;
  if (want && zmlx_device_parse(want, &wanted)) {
    fprintf(stderr, "zmlx doctor: %s\n", zmlx_error_last());
    return 2;
  }
  printf("zmlx %s\n", zmlx_version());
  int failed_cpu = 0, failed_cuda = 0;

  printf("cpu backend: ok\n");
  print_device(ZMLX_CPU);
  printf("  C compiler: %s\n", zb_cpu_compiler_version());
  failed_cpu = smoke(ZMLX_CPU);

  int n_cuda = zmlx_device_count(ZMLX_DEVICE_CUDA);
  const char *why = zb_unavailable_reason(ZMLX_DEVICE_CUDA);
  int drv = zb_cuda_driver_version();
  if (n_cuda > 0) {
    printf("cuda backend: ok (%d device%s, driver %d.%d)\n", n_cuda, n_cuda == 1 ? "" : "s",
           drv / 1000, (drv % 1000) / 10);
    for (int i = 0; i < n_cuda; i++) {
      print_device(ZMLX_CUDA(i));
      failed_cuda |= smoke(ZMLX_CUDA(i));
    }
  } else {
    printf("cuda backend: unavailable (%s)\n", why ? why : "unknown reason");
  }
  nvrtc_check();

  zmlx_cache_info ci;
  if (zmlx_cache_info_get(&ci) == ZMLX_STATUS_OK)
    printf("kernel cache: %s (%s, %llu files, %.1f MiB of %.0f MiB)\n", ci.enabled ? ci.dir : "-",
           ci.enabled ? "enabled" : "disabled", (unsigned long long)ci.n_files,
           ci.bytes / 1048576.0, ci.max_bytes / 1048576.0);

  /* Broken means: a backend that was asked for, or one that claims to work. */
  int asked_cuda = want && wanted.type == ZMLX_DEVICE_CUDA;
  int bad = failed_cpu || failed_cuda || (asked_cuda && n_cuda <= wanted.index);
  printf("doctor: %s\n", bad ? "PROBLEMS FOUND" : "ok");
  return bad ? 1 : 0;
}
