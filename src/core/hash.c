#include "core/hash.h"

#include <stdio.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x) {
  /* The splitmix64 finalizer: every input bit reaches every output bit. */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t zmlx_hash64(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = mix64(seed ^ 0x9e3779b97f4a7c15ULL) ^ (uint64_t)len;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  memcpy(&tail, p, len);
  return mix64(h ^ tail ^ ((uint64_t)len << 56));
}

zmlx_hash128 zmlx_hash128_bytes(const void *data, size_t len) {
  zmlx_hash128 h = {zmlx_hash64(data, len, 0x5a4d4c58ULL),
                    zmlx_hash64(data, len, 0x6b65726e656cULL)};
  return h;
}

void zmlx_hash128_hex(zmlx_hash128 h, char out[33]) {
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.hi,
           (unsigned long long)h.lo);
}

int zmlx_hash128_equal(zmlx_hash128 a, zmlx_hash128 b) {
  return a.lo == b.lo && a.hi == b.hi;
}
