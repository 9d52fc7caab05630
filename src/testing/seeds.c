/* Seeds for the test helpers: fresh per call, so repeated runs explore new
 * inputs, yet replayable through $ZMLX_TEST_SEED. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "testing/testing_internal.h"

uint64_t ztst_mix(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t ztst_fresh_seed(void) {
  static atomic_uint_fast64_t counter;
  const char *env = zmlx_env("ZMLX_TEST_SEED");
  if (env) return strtoull(env, NULL, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
  uint64_t s = ztst_mix(t ^ ((uint64_t)getpid() << 32), atomic_fetch_add(&counter, 1) + 1);
  return s ? s : 1;
}
