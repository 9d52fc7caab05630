#ifndef ZT_SUITE_H
#define ZT_SUITE_H
/* Shared plumbing of the seeded, every-device test programs (test_array,
 * test_views, test_dtype): one run seed, a per-test splitmix64 stream,
 * the device list, mismatch reporting and host read back.
 *
 * Before including, a test file defines
 *   ZT_SUITE_NAME  its name as printed on failure, e.g. "test_array";
 *   ZT_SUITE_SALT  a constant mixed into the seed when ZT_SEED is unset.
 * Every test calls setup() first. */
#if !defined(ZT_SUITE_NAME) || !defined(ZT_SUITE_SALT)
#error "define ZT_SUITE_NAME and ZT_SUITE_SALT before including zt_suite.h"
#endif

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "zt.h"
#include "zt_array.h"

/* The run's seed, the current test's stream, and the devices to run on
 * (g_ndev < 0 until the first setup()). */
static uint64_t g_seed;
static uint64_t g_rng;
static zmlx_device g_devs[2];
static int g_ndev = -1;

/* atexit hook: after a failed run, says how to reproduce it. */
static inline void print_seed_on_failure(void) {
  if (zt_failures_)
    fprintf(stderr, ZT_SUITE_NAME " failed; reproduce with ZT_SEED=%llu\n",
            (unsigned long long)g_seed);
}

/* The next 64 random bits of the current test's splitmix64 stream. */
static inline uint64_t rnd(void) { return zt_next(&g_rng); }
/* Uniform in [0, 1), 53 random bits. */
static inline double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1p-53; }
/* Uniform integer in [lo, hi]. */
static inline int64_t rnd_in(int64_t lo, int64_t hi) {
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}
/* n random bytes into p. */
static inline void rnd_bytes(void *p, size_t n) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)rnd();
}

/* Every test starts here: the seed (ZT_SEED, else time, pid and the salt)
 * and the devices are found and printed once; the stream is then seeded
 * from the run's seed and the test's name (FNV-1a), so one test rerun
 * alone draws the same numbers. */
static inline void setup(void) {
  if (g_ndev < 0) {
    const char *s = getenv("ZT_SEED");
    g_seed = s ? strtoull(s, NULL, 0)
               : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(ZT_SUITE_SALT);
    printf("seed %llu (set ZT_SEED to reproduce)\n", (unsigned long long)g_seed);
    atexit(print_seed_on_failure);
    g_ndev = zt_devices(g_devs);
    printf("devices:");
    for (int i = 0; i < g_ndev; i++) {
      char b[32];
      printf(" %s", zmlx_device_format(g_devs[i], b, sizeof b));
    }
    printf("\n");
  }
  uint64_t h = 1469598103934665603ull;
  for (const char *p = zt_current_; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  g_rng = g_seed ^ h;
}

/* Mismatch reporting: bumps counter; only the first five are printed. */
#define MISMATCH(counter, ...)                 \
  do {                                         \
    if ((counter)++ < 5) {                     \
      fprintf(stderr, "  mismatch: ");         \
      fprintf(stderr, __VA_ARGS__);            \
      fprintf(stderr, "\n");                   \
    }                                          \
  } while (0)

/* Runs the block once per device; `continue` moves to the next device. */
#define FOR_EACH_DEVICE(dev)                                           \
  for (int dev##_i = 0; dev##_i < g_ndev; dev##_i++)                   \
    for (zmlx_device dev = g_devs[dev##_i], *dev##_p = &dev; dev##_p; dev##_p = NULL)

/* A device's name, e.g. "cuda:0"; four rotating buffers, so up to four
 * calls may stand in one printf. */
static inline const char *devname(zmlx_device d) {
  static char b[4][32];
  static int k;
  k = (k + 1) % 4;
  return zmlx_device_format(d, b[k], sizeof b[k]);
}

/* Read an array back into a fresh host buffer (free() it), poisoned with
 * 0xCD first so that elements never written show. One CHECK_OK. */
static inline void *host_read(const zmlx_array *a) {
  size_t nb = zmlx_array_nbytes(a);
  void *p = malloc(nb ? nb : 1);
  memset(p, 0xCD, nb ? nb : 1);
  CHECK_OK(zmlx_array_to_host(a, p, nb));
  return p;
}

/* Every dtype, in enum order. */
static const zmlx_dtype ALL_DTYPES[ZMLX_DTYPE_COUNT] = {
    ZMLX_DTYPE_F32, ZMLX_DTYPE_F64,  ZMLX_DTYPE_F16,  ZMLX_DTYPE_BF16,     ZMLX_DTYPE_I8,
    ZMLX_DTYPE_U8,  ZMLX_DTYPE_I16,  ZMLX_DTYPE_I32,  ZMLX_DTYPE_I64,      ZMLX_DTYPE_U32,
    ZMLX_DTYPE_BOOL, ZMLX_DTYPE_FP8_E4M3, ZMLX_DTYPE_FP8_E5M2};

#endif
