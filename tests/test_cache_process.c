/* The disk cache across processes: a second process that launches the same
 * kernel compiles nothing and reports a disk hit; a cache file corrupted on
 * purpose is detected and rebuilt. The test runs copies of itself. */
#include <dirent.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt_array.h"

extern char **environ;

static const char *ins[] = {"x"}, *outs[] = {"y"};
static const zmlx_kernel_desc desc = {
    .name = "cache_probe", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
    .output_names = outs, .source = "zmlx_store(y, gid, zmlx_tof(x[gid]) * 0.5f - 1.0f);"};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* The child: launch once, check, print the statistics on one line. */
static int child(const char *devname) {
  zmlx_device dev;
  if (zmlx_device_parse(devname, &dev) || zmlx_device_check(dev)) return 3;
  enum { N = 257 };
  float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = (float)i - 100.0f;
  int64_t n = N;
  zmlx_kernel *k = NULL;
  zmlx_array *xa = NULL, *ya = NULL;
  zmlx_dtype t = ZMLX_DTYPE_F32;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  if (zmlx_kernel_create(&desc, &k) || zmlx_array_from_host(x, t, 1, &n, dev, &xa)) return 4;
  zmlx_device_synchronize(dev); /* device start-up stays out of the timing */
  double t0 = now_ms();
  zmlx_status s = zmlx_kernel_launch(k, 1, &xa, &cfg, &ya);
  if (!s) s = zmlx_device_synchronize(dev);
  double ms = now_ms() - t0;
  if (!s) s = zmlx_array_to_host(ya, y, sizeof y);
  if (s) {
    fprintf(stderr, "child: %s\n", zmlx_error_last());
    return 5;
  }
  for (int i = 0; i < N; i++)
    if (y[i] != x[i] * 0.5f - 1.0f) return 6;
  zmlx_kernel_stats st;
  zmlx_cache_info ci;
  zmlx_kernel_stats_get(k, &st);
  zmlx_cache_info_get(&ci);
  printf("compiles=%llu disk=%llu corrupt=%llu first_launch_ms=%.3f\n",
         (unsigned long long)st.n_compiles, (unsigned long long)st.n_disk_hits,
         (unsigned long long)ci.n_corrupt, ms);
  zmlx_array_release(xa);
  zmlx_array_release(ya);
  zmlx_kernel_destroy(k);
  zmlx_shutdown();
  return 0;
}

typedef struct child_result {
  int ok;
  unsigned long long compiles, disk, corrupt;
  double ms;
} child_result;

static child_result run_child(const char *devname) {
  child_result r = {0};
  char out_path[] = "/tmp/zmlx-child-XXXXXX";
  int fd = mkstemp(out_path);
  if (fd < 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return r;
  self[len] = 0;
  char *argv[] = {self, "--child", (char *)devname, NULL};
  pid_t pid;
  int status = -1;
  if (posix_spawn(&pid, self, &fa, NULL, argv, environ) == 0) waitpid(pid, &status, 0);
  posix_spawn_file_actions_destroy(&fa);
  FILE *f = fdopen(fd, "r");
  if (f) {
    rewind(f);
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
           fscanf(f, "compiles=%llu disk=%llu corrupt=%llu first_launch_ms=%lf", &r.compiles,
                  &r.disk, &r.corrupt, &r.ms) == 4;
    fclose(f);
  }
  unlink(out_path);
  if (!r.ok) fprintf(stderr, "child on %s failed (status %d)\n", devname, status);
  return r;
}

/* The one cache entry with this extension, in <dir>/v1/<shard>/. */
static int find_entry(const char *ext, char *path, size_t len) {
  char v1[2048];
  snprintf(v1, sizeof v1, "%s/v1", getenv("ZMLX_CACHE_DIR"));
  DIR *d = opendir(v1);
  int found = 0;
  struct dirent *e;
  while (d && !found && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char shard[2300];
    snprintf(shard, sizeof shard, "%s/%s", v1, e->d_name);
    DIR *s = opendir(shard);
    struct dirent *f;
    while (s && !found && (f = readdir(s))) {
      const char *dot = strrchr(f->d_name, '.');
      if (dot && !strcmp(dot + 1, ext)) {
        snprintf(path, len, "%s/%s", shard, f->d_name);
        found = 1;
      }
    }
    if (s) closedir(s);
  }
  if (d) closedir(d);
  return found;
}

static void corrupt(const char *path) {
  FILE *f = fopen(path, "r+b");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, n / 3, SEEK_SET);
  int c = fgetc(f);
  fseek(f, n / 3, SEEK_SET);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

static void check_device(const char *devname, const char *ext) {
  child_result a = run_child(devname);
  CHECK(a.ok);
  CHECK_EQ_INT(a.compiles, 1);
  CHECK_EQ_INT(a.disk, 0);
  child_result b = run_child(devname);
  CHECK(b.ok);
  CHECK_EQ_INT(b.compiles, 0);
  CHECK_EQ_INT(b.disk, 1);
  printf("%s: first launch in a new process, warm disk cache: %.3f ms (cold: %.3f ms)\n",
         devname, b.ms, a.ms);
  char path[4096];
  CHECK(find_entry(ext, path, sizeof path));
  corrupt(path);
  child_result c = run_child(devname);
  CHECK(c.ok);
  CHECK_EQ_INT(c.corrupt, 1);
  CHECK_EQ_INT(c.compiles, 1);
  child_result d = run_child(devname);
  CHECK(d.ok);
  CHECK_EQ_INT(d.compiles, 0);
  CHECK_EQ_INT(d.disk, 1);
}

static void test_cpu_second_process(void) { check_device("cpu", "so"); }

static void test_cuda_second_process(void) {
  if (zmlx_device_count(ZMLX_DEVICE_CUDA) == 0) {
    printf("cuda: skipped (no GPU)\n");
    CHECK(1);
    return;
  }
  check_device("cuda", "cubin");
}

static const zt_case cases[] = {ZT(test_cpu_second_process), ZT(test_cuda_second_process)};

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--child")) return child(argv[2]);
  zt_private_cache(); /* before any ZMLX call: the children inherit it */
  return zt_run(cases, 2, argc, argv);
}
