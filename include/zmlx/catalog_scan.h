#ifndef ZMLX_CATALOG_SCAN_H
#define ZMLX_CATALOG_SCAN_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Scans: the forward passes are zmlx_cumsum and zmlx_cumprod
 * (zmlx/reduce.h, inclusive, any axis). Conventions as in
 * zmlx/catalog.h. */

/* The backward of zmlx_cumsum(x, axis): the reverse (suffix) cumulative
 * sum of dy along axis, dx[i] = sum over j >= i of dy[j]. x is the
 * forward's input: dy must have its shape, dtype and device (its values
 * are not read). *dx: new, like dy; sums in f32 (f64 for f64). */
zmlx_status zmlx_cumsum_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx);

#ifdef __cplusplus
}
#endif
#endif
