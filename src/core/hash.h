#ifndef ZMLX_CORE_HASH_H
#define ZMLX_CORE_HASH_H
/* Non-cryptographic hashing for cache keys and file checksums: 8 bytes per
 * step, so hashing a kernel's source or a cubin costs microseconds. */
#include <stddef.h>
#include <stdint.h>

typedef struct zmlx_hash128 {
  uint64_t lo, hi;
} zmlx_hash128;

uint64_t zmlx_hash64(const void *data, size_t len, uint64_t seed);
/* Two independently seeded 64-bit hashes: collisions need both to match. */
zmlx_hash128 zmlx_hash128_bytes(const void *data, size_t len);
/* 32 lowercase hex digits and a NUL. */
void zmlx_hash128_hex(zmlx_hash128 h, char out[33]);
int zmlx_hash128_equal(zmlx_hash128 a, zmlx_hash128 b);

#endif
