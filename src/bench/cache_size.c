/* How much data a benchmark must cycle through so that no call finds its
 * inputs in cache from an earlier call. */
#include <math.h>
#include <stdio.h>

#include "zmlx/bench.h"

#define CPU_CACHE_GUESS ((uint64_t)32 << 20)

/* sysfs sizes read "48K", "2048K" or "32M". */
static uint64_t parse_size(const char *text) {
  unsigned long long v = 0;
  char unit = 0;
  int n = sscanf(text, "%llu%c", &v, &unit);
  if (n < 1) return 0;
  if (unit == 'K') v <<= 10;
  if (unit == 'M') v <<= 20;
  if (unit == 'G') v <<= 30;
  return v;
}

/* The largest cache of cpu0 (the last level); 0 when sysfs says nothing. */
static uint64_t cpu_cache_bytes(void) {
  uint64_t best = 0;
  for (int i = 0; i < 8; i++) {
    char path[96], line[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(line, sizeof line, f)) {
      uint64_t v = parse_size(line);
      if (v > best) best = v;
    }
    fclose(f);
  }
  return best;
}

uint64_t zmlx_bench_cache_bytes(zmlx_device dev) {
  if (dev.type == ZMLX_DEVICE_CPU) {
    uint64_t v = cpu_cache_bytes();
    return v ? v : CPU_CACHE_GUESS;
  }
  zmlx_device_info info;
  if (zmlx_device_info_get(dev, &info) != ZMLX_STATUS_OK || info.l2_bytes == 0)
    return (uint64_t)128 << 20; /* no smaller than any NVIDIA L2 to date */
  return info.l2_bytes;
}

int zmlx_bench_rotations(zmlx_device dev, uint64_t bytes_per_set, int max_sets) {
  if (max_sets < 1) max_sets = 1;
  if (bytes_per_set == 0) return max_sets;
  /* A byte is touched again after every other set was: that reuse
   * distance must be at least twice the cache to evict it for sure. */
  double need = ceil(2.0 * (double)zmlx_bench_cache_bytes(dev) / (double)bytes_per_set);
  return need < 1 ? 1 : need > max_sets ? max_sets : (int)need;
}
