#ifndef ZMLX_CATALOG_DROPOUT_H
#define ZMLX_CATALOG_DROPOUT_H
#include <stdint.h>
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Dropout with counter-based random numbers: the mask is a function of
 * (seed, offset) and the element's index, the same on every backend and
 * for every dtype, and it is never stored (the backward draws it again).
 * Conventions as in zmlx/catalog.h.
 *
 * The mask. Element i (in C order of x's shape, whatever its strides)
 * takes 16 bits of one Philox-4x32-10 draw (key = seed, counter = offset +
 * floor(i / 8); the prelude's zmlx_philox): u = bits 16(i % 2) .. 16(i % 2)
 * + 15 of word (i % 8) / 2. With t = 65536 p rounded to the nearest integer
 * (ties to even), element i is kept when
 * u >= t, and a kept element is scaled by 65536 / (65536 - t), so
 * E[y] = x exactly (p is used to the nearest 1/65536; p = 1 drops all). A
 * dropped element is 0 even where x is inf or NaN.
 * A call on n elements uses the counters offset .. offset + ceil(n / 8) - 1:
 * add zmlx_dropout_counters(n) to offset for the next, independent call. */
uint64_t zmlx_dropout_counters(int64_t n);

/* x: (...) float; *out: (...) new, x's dtype; 0 <= p <= 1. */
zmlx_status zmlx_dropout(zmlx_array *x, double p, uint64_t seed, uint64_t offset,
                         zmlx_array **out);
/* dy: (...); *dx = dy times the same mask and scale. */
zmlx_status zmlx_dropout_backward(zmlx_array *dy, double p, uint64_t seed, uint64_t offset,
                                  zmlx_array **dx);

/* out = residual + dropout(x), fused (a transformer block's residual
 * branch). x, residual: (...), one dtype. */
zmlx_status zmlx_dropout_add(zmlx_array *x, zmlx_array *residual, double p, uint64_t seed,
                             uint64_t offset, zmlx_array **out);
/* *dx = dropout's backward of dy; *dresidual (NULL to skip) is dy itself,
 * a new reference. */
zmlx_status zmlx_dropout_add_backward(zmlx_array *dy, double p, uint64_t seed, uint64_t offset,
                                      zmlx_array **dx, zmlx_array **dresidual);

/* The mask zmlx_dropout(x, p, seed, offset) applies: *mask is a new bool
 * array of x's shape (1 = kept), on x's device. */
zmlx_status zmlx_dropout_mask(zmlx_array *x, double p, uint64_t seed, uint64_t offset,
                              zmlx_array **mask);

#ifdef __cplusplus
}
#endif
#endif
