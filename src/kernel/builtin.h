#ifndef ZMLX_KERNEL_BUILTIN_H
#define ZMLX_KERNEL_BUILTIN_H
/* Kernels the library runs for itself, written with the same run-time
 * kernel machinery users have. */
#include <stdint.h>

#include "zmlx/array.h"

/* dst[i] = src[i] converted to dst's dtype; same shape, same device, any
 * strides on either side. */
zmlx_status zk_copy(zmlx_array *dst, zmlx_array *src);
/* out[i] = start + step * i (out contiguous, 1-D). */
zmlx_status zk_arange(zmlx_array *out, double start, double step);
/* Uniform in [a, b) or normal (mean a, std b), element i from (seed, i). */
zmlx_status zk_random(zmlx_array *out, int normal, uint64_t seed, double a, double b);
void zk_builtin_shutdown(void);

#endif
