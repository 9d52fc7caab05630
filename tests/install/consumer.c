/* A program built against an *installed* ZMLX, the way a user builds one:
 * only <zmlx/zmlx.h> and the installed library, nothing from the source
 * tree. Run by scripts/test_install.sh (via pkg-config and via
 * find_package) and by scripts/gpu_suite.sh (with "cuda" as argument).
 *
 *   consumer [DEVICE]    DEVICE: "cpu" (default), "cuda", "cuda:N"
 *
 * Exit status: 0 and "consumer ok" on success, 1 on any failure. */
#include <stdio.h>
#include <string.h>
#include <zmlx/zmlx.h>

#define N 17

static int fail(const char *what, zmlx_status s) {
  fprintf(stderr, "consumer: %s failed: %s: %s\n", what, zmlx_status_name(s),
          zmlx_error_last());
  return 1;
}

int main(int argc, char **argv) {
  zmlx_device dev = ZMLX_CPU;
  zmlx_status s;
  if (argc > 1) {
    s = zmlx_device_parse(argv[1], &dev);
    if (s != ZMLX_STATUS_OK) return fail("zmlx_device_parse", s);
  }
  s = zmlx_device_check(dev);
  if (s != ZMLX_STATUS_OK) return fail("zmlx_device_check", s);

  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", ZMLX_VERSION_MAJOR,
           ZMLX_VERSION_MINOR, ZMLX_VERSION_PATCH);
  if (strcmp(zmlx_version(), expect) != 0) {
    fprintf(stderr, "consumer: library version %s, header version %s\n",
            zmlx_version(), expect);
    return 1;
  }

  zmlx_array *a = NULL;
  s = zmlx_array_arange(ZMLX_DTYPE_F32, N, 1.0, 0.5, dev, &a);
  if (s != ZMLX_STATUS_OK) return fail("zmlx_array_arange", s);

  int bad = 0;
  if (zmlx_array_ndim(a) != 1 || zmlx_array_numel(a) != N ||
      zmlx_array_dtype(a) != ZMLX_DTYPE_F32 ||
      zmlx_array_nbytes(a) != N * sizeof(float)) {
    fprintf(stderr, "consumer: arange gave the wrong layout\n");
    bad = 1;
  }

  float host[N];
  memset(host, 0xff, sizeof host);
  s = zmlx_array_to_host(a, host, sizeof host);
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(a);
    return fail("zmlx_array_to_host", s);
  }
  for (int i = 0; i < N; i++) {
    float want = 1.0f + 0.5f * (float)i; /* exact in f32 */
    if (host[i] != want) {
      fprintf(stderr, "consumer: element %d is %g, expected %g\n", i,
              (double)host[i], (double)want);
      bad = 1;
    }
  }
  zmlx_array_release(a);
  zmlx_shutdown();
  if (bad) return 1;

  char name[32];
  printf("consumer ok (zmlx %s, %s)\n", zmlx_version(),
         zmlx_device_format(dev, name, sizeof name));
  return 0;
}
