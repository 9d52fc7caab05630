/* Runtime costs of run-time kernels on one device:
 *   cold compile   first launch of a never-seen kernel (codegen + compiler
 *                  + load), and the compiler's own time, median of N
 *   disk load      first launch in a NEW process with a warm disk cache
 *                  (device start-up excluded), median of N processes
 *   launch         host time per launch of a cached kernel, over 10^5
 *                  launches (output allocation included), issued in
 *                  batches of 256 with a synchronize between batches
 *                  (outside the timing): the driver's queue never fills,
 *                  so the figure is the host's cost, not the GPU's rate
 *                  of retiring tiny kernels; the unbatched figure (async
 *                  launches, one synchronize at the end) is printed too
 * Usage: bench_runtime [cpu|cuda] [--json FILE] */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zmlx/zmlx.h"

extern char **environ;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", zmlx_error_last()); exit(1); } while (0)

static const char *ins[] = {"x"}, *outs[] = {"y"};

/* One launch of y = x * 2 + c, where c makes the source unique. */
static double launch_once(zmlx_device dev, zmlx_array *x, int c, zmlx_kernel_stats *st) {
  char body[128];
  snprintf(body, sizeof body, "y[gid] = x[gid] * 2.0f + %d.0f;", c);
  zmlx_kernel_desc d = {.name = "bench_axpb", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .source = body};
  zmlx_kernel *k;
  zmlx_array *y = NULL;
  int64_t n = zmlx_array_numel(x);
  zmlx_dtype t = ZMLX_DTYPE_F32;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  if (zmlx_kernel_create(&d, &k)) DIE("create");
  double t0 = now_ms();
  if (zmlx_kernel_launch(k, 1, &x, &cfg, &y) || zmlx_device_synchronize(dev)) DIE("launch");
  double ms = now_ms() - t0;
  if (st) zmlx_kernel_stats_get(k, st);
  zmlx_array_release(y);
  zmlx_kernel_destroy(k);
  return ms;
}

/* The same through the elementwise API: its generated source is larger. */
static double elementwise_once(zmlx_device dev, zmlx_array *x, int c, double *compile_ms) {
  char expr[128];
  snprintf(expr, sizeof expr, "y = x * 2.0f + %d.0f;", c);
  zmlx_elementwise_desc d = {.name = "bench_ew", .n_inputs = 1, .input_names = ins,
                             .n_outputs = 1, .output_names = outs, .expr = expr};
  zmlx_elementwise *k;
  zmlx_array *y = NULL;
  if (zmlx_elementwise_create(&d, &k)) DIE("elementwise create");
  double t0 = now_ms();
  if (zmlx_elementwise_launch(k, 1, &x, 0, NULL, &y) || zmlx_device_synchronize(dev)) DIE("elementwise");
  double ms = now_ms() - t0;
  zmlx_kernel_stats st;
  zmlx_elementwise_stats_get(k, &st);
  *compile_ms = st.compile_ms;
  zmlx_array_release(y);
  zmlx_elementwise_destroy(k);
  return ms;
}

static int child(zmlx_device dev, int c) {
  int64_t n = 1024;
  zmlx_array *x;
  if (zmlx_array_ones(ZMLX_DTYPE_F32, 1, &n, dev, &x) || zmlx_device_synchronize(dev)) DIE("child");
  zmlx_kernel_stats st;
  double ms = launch_once(dev, x, c, &st);
  printf("%.6f %llu\n", ms, (unsigned long long)st.n_disk_hits);
  zmlx_array_release(x);
  zmlx_shutdown();
  return 0;
}

static double run_child(const char *devname, int c, int *disk_hit) {
  char self[4096], cs[32], path[] = "/tmp/zmlx-bench-XXXXXX";
  *disk_hit = 0;
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return -1;
  self[len] = 0;
  snprintf(cs, sizeof cs, "%d", c);
  int fd = mkstemp(path);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  char *argv[] = {self, "--child", (char *)devname, cs, NULL};
  pid_t pid;
  int status = -1;
  if (posix_spawn(&pid, self, &fa, NULL, argv, environ) == 0) waitpid(pid, &status, 0);
  posix_spawn_file_actions_destroy(&fa);
  double ms = -1;
  unsigned long long hits = 0;
  FILE *f = fdopen(fd, "r");
  rewind(f);
  if (fscanf(f, "%lf %llu", &ms, &hits) != 2) ms = -1;
  fclose(f);
  unlink(path);
  *disk_hit = hits == 1;
  return ms;
}

int main(int argc, char **argv) {
  const char *devname = "cuda", *json = NULL;
  if (argc == 4 && !strcmp(argv[1], "--child")) {
    zmlx_device d;
    if (zmlx_device_parse(argv[2], &d)) return 2;
    return child(d, atoi(argv[3]));
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else devname = argv[i];
  }
  zmlx_device dev;
  if (zmlx_device_parse(devname, &dev) || zmlx_device_check(dev)) DIE("device %s", devname);
  char cache[] = "/tmp/zmlx-bench-cache-XXXXXX";
  setenv("ZMLX_CACHE_DIR", mkdtemp(cache), 1);
  zmlx_device_info info;
  zmlx_device_info_get(dev, &info);

  int64_t n = 1024;
  zmlx_array *x;
  if (zmlx_array_ones(ZMLX_DTYPE_F32, 1, &n, dev, &x)) DIE("ones");
  launch_once(dev, x, -1, NULL); /* loads the compiler and starts the device */

  enum { N_COLD = 15, N_DISK = 9, N_LAUNCH = 100000 };
  double cold[N_COLD], comp[N_COLD], disk[N_DISK];
  for (int i = 0; i < N_COLD; i++) {
    zmlx_kernel_stats st;
    cold[i] = launch_once(dev, x, 1000 + i, &st);
    comp[i] = st.compile_ms;
  }
  double ew_cold[N_COLD], ew_comp[N_COLD];
  for (int i = 0; i < N_COLD; i++) ew_cold[i] = elementwise_once(dev, x, 2000 + i, &ew_comp[i]);
  int hits = 0;
  for (int i = 0; i < N_DISK; i++) {
    int hit = 0;
    disk[i] = run_child(devname, 1000 + i, &hit); /* compiled above: on disk */
    hits += hit;
  }

  /* Launch overhead: one cached kernel, async launches, sync at the end. */
  zmlx_kernel_desc d = {.name = "bench_launch", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .source = "y[gid] = x[gid] + 1.0f;"};
  zmlx_kernel *k;
  zmlx_dtype t = ZMLX_DTYPE_F32;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  if (zmlx_kernel_create(&d, &k)) DIE("create");
  for (int i = 0; i < 100; i++) {
    zmlx_array *y;
    if (zmlx_kernel_launch(k, 1, &x, &cfg, &y)) DIE("launch");
    zmlx_array_release(y);
  }
  zmlx_device_synchronize(dev);
  /* Batches stay far below the driver's queue depth (about 1024). */
  enum { BATCH = 256 };
  double host_ms = 0;
  for (int done = 0; done < N_LAUNCH; done += BATCH) {
    double b0 = now_ms();
    for (int i = 0; i < BATCH && done + i < N_LAUNCH; i++) {
      zmlx_array *y;
      if (zmlx_kernel_launch(k, 1, &x, &cfg, &y)) DIE("launch");
      zmlx_array_release(y);
    }
    host_ms += now_ms() - b0;
    if (zmlx_device_synchronize(dev)) DIE("synchronize");
  }
  double t0 = now_ms();
  for (int i = 0; i < N_LAUNCH; i++) {
    zmlx_array *y;
    if (zmlx_kernel_launch(k, 1, &x, &cfg, &y)) DIE("launch");
    zmlx_array_release(y);
  }
  double stream_ms = now_ms() - t0;
  if (zmlx_device_synchronize(dev)) DIE("synchronize");
  double total_ms = now_ms() - t0;

  double cold_med = median(cold, N_COLD), comp_med = median(comp, N_COLD);
  double disk_med = median(disk, N_DISK);
  double ew_cold_med = median(ew_cold, N_COLD), ew_comp_med = median(ew_comp, N_COLD);
  double us_launch = host_ms * 1e3 / N_LAUNCH, us_total = total_ms * 1e3 / N_LAUNCH;
  double us_stream = stream_ms * 1e3 / N_LAUNCH;
  printf("device: %s (%s)\n", info.name, devname);
  printf("cold compile, first launch (median of %d): %.2f ms; compiler alone %.2f ms\n", N_COLD,
         cold_med, comp_med);
  printf("cold compile of a one-line elementwise kernel, first launch (median of %d): %.2f ms; "
         "compiler alone %.2f ms\n", N_COLD, ew_cold_med, ew_comp_med);
  printf("first launch in a new process, warm disk cache (median of %d, %d disk hits): %.3f ms\n",
         N_DISK, hits, disk_med);
  printf("host time per launch over %d launches, batches of %d: %.3f us\n", N_LAUNCH, BATCH,
         us_launch);
  printf("unbatched: %.3f us per launch issued, %.3f us with device completion\n", us_stream,
         us_total);
  if (json) {
    FILE *f = fopen(json, "w");
    if (f) {
      fprintf(f,
              "{\"bench\": \"runtime\", \"device\": \"%s\", \"arch\": \"%s\", \"zmlx\": \"%s\",\n"
              " \"cold_compile_first_launch_ms_median\": %.3f, \"cold_compile_compiler_ms_median\": %.3f,\n"
              " \"elementwise_cold_first_launch_ms_median\": %.3f, \"elementwise_cold_compiler_ms_median\": %.3f,\n"
              " \"disk_cache_first_launch_ms_median\": %.4f, \"disk_hits\": %d, \"disk_runs\": %d,\n"
              " \"launch_host_us\": %.4f, \"launch_batch\": %d, \"launch_unbatched_us\": %.4f,\n"
              " \"launch_with_completion_us\": %.4f, \"launches\": %d}\n",
              info.name, info.arch, zmlx_version(), cold_med, comp_med, ew_cold_med, ew_comp_med,
              disk_med, hits, N_DISK,
              us_launch, BATCH, us_stream, us_total, N_LAUNCH);
      fclose(f);
    }
  }
  zmlx_array_release(x);
  zmlx_kernel_destroy(k);
  zmlx_cache_clear();
  rmdir(cache);
  zmlx_shutdown();
  return hits == N_DISK ? 0 : 1;
}
