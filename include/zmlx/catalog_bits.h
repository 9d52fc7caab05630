#ifndef ZMLX_CATALOG_BITS_H
#define ZMLX_CATALOG_BITS_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Bit packing along the last axis, in numpy's bitorder='little' layout:
 * bit k (value 1 << k) of byte j holds element 8j + k of the row; the bits
 * past the row's end are 0. Conventions as in zmlx/catalog.h. No backward
 * (the results are integers). */

/* numpy.packbits(x != 0, axis=-1, bitorder='little'). x: (..., N) of any
 * dtype (bool, integers, floats; NaN counts as nonzero), ndim >= 1;
 * *out: (..., ceil(N / 8)) u8, new. */
zmlx_status zmlx_pack_bits(zmlx_array *x, zmlx_array **out);

/* numpy.unpackbits(packed, axis=-1, count=N, bitorder='little').
 * packed: (..., B) u8, ndim >= 1; count: N in [0, 8B], or -1 for 8B;
 * *out: (..., N) of dtype (any: bool, integers, floats), 0s and 1s, new. */
zmlx_status zmlx_unpack_bits(zmlx_array *packed, int64_t count, zmlx_dtype dtype,
                             zmlx_array **out);

#ifdef __cplusplus
}
#endif
#endif
