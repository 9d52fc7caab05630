#ifndef ZMLX_KERNEL_BUILTIN_H
#define ZMLX_KERNEL_BUILTIN_H
/* Kernels the library runs for itself, written with the same run-time
 * kernel machinery users have. */
#include <stdint.h>

#include "zmlx/kernel.h"

/* dst[i] = src[i] converted to dst's dtype; same shape, same device, any
 * strides on either side. */
zmlx_status zk_copy(zmlx_array *dst, zmlx_array *src);
/* out[i] = start + step * i (out contiguous, 1-D). */
zmlx_status zk_arange(zmlx_array *out, double start, double step);
/* Uniform in [a, b) or normal (mean a, std b), element i from (seed, i). */
zmlx_status zk_random(zmlx_array *out, int normal, uint64_t seed, double a, double b);
void zk_builtin_shutdown(void);

/* The builtin kernels themselves (borrowed; the library owns them), for
 * compile checks. copy takes templates MODE (zk_copy_mode) and CONTIG_OUT;
 * random takes NORMAL and F64. */
typedef enum zk_builtin { ZK_BUILTIN_COPY, ZK_BUILTIN_ARANGE, ZK_BUILTIN_RANDOM } zk_builtin;
zmlx_status zk_builtin_kernel(zk_builtin which, zmlx_kernel **out);
int zk_copy_mode(zmlx_dtype from, zmlx_dtype to);

#endif
