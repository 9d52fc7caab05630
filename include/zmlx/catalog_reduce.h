#ifndef ZMLX_CATALOG_REDUCE_H
#define ZMLX_CATALOG_REDUCE_H
#include <stdint.h>

#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Reductions beyond zmlx/reduce.h's sum, mean, max, min and argmax:
 * compensated sums, variance and standard deviation, top-k, and the
 * backward passes of sum, mean, var and std. Conventions as in
 * zmlx/catalog.h. Axes as zmlx_reduce_launch takes them: n_axes distinct
 * axes (negative counts from the end), n_axes == 0 for every axis;
 * keepdims keeps reduced axes with length 1. Results take x's dtype. */

/* Sums with Kahan-Babuska (Neumaier) compensation: each partial sum
 * carries its rounding error, so the result is as good as a sum in twice
 * the compute precision (f32; f64 for f64 inputs), whatever the order. */
zmlx_status zmlx_reduce_sum_kahan(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                  zmlx_array **out);
zmlx_status zmlx_reduce_mean_kahan(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                   zmlx_array **out);

/* Variance: sum((x - mean)^2) / (n - unbiased); unbiased is 0 or 1
 * (PyTorch's correction). n == unbiased, or no element, gives NaN. std is
 * its square root. */
zmlx_status zmlx_reduce_var(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            int unbiased, zmlx_array **out);
zmlx_status zmlx_reduce_std(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            int unbiased, zmlx_array **out);

/* Backward passes: dy has the reduction's shape (with or without the
 * kept axes, as keepdims says); *dx has x's shape and dtype.
 *   sum:  dx = dy               mean: dx = dy / n
 *   var:  dx = dy * 2 (x - mean) / (n - unbiased)
 *   std:  dx = dy * (x - mean) / ((n - unbiased) std)
 * mean and std are recomputed from x in f32 (f64 for f64). */
zmlx_status zmlx_reduce_sum_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     zmlx_array *dy, zmlx_array **dx);
zmlx_status zmlx_reduce_mean_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                      zmlx_array *dy, zmlx_array **dx);
zmlx_status zmlx_reduce_var_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     int unbiased, zmlx_array *dy, zmlx_array **dx);
zmlx_status zmlx_reduce_std_backward(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                                     int unbiased, zmlx_array *dy, zmlx_array **dx);

/* The k largest elements along the last axis of x (..., D), sorted in
 * descending order, ties to the lower index, NaN above everything (as
 * torch.topk). *values: (..., k), x's dtype; *indices: (..., k) i64.
 * 0 <= k <= D, else INVALID_ARGUMENT; k == 0 gives empty results. */
zmlx_status zmlx_topk(zmlx_array *x, int64_t k, zmlx_array **values, zmlx_array **indices);

#ifdef __cplusplus
}
#endif
#endif
