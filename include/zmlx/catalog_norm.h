#ifndef ZMLX_CATALOG_NORM_H
#define ZMLX_CATALOG_NORM_H
#include <stdint.h>

#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Normalizations over the last axis, with their backward. Conventions as
 * in zmlx/catalog.h. With h the row being normalized (x, or x + residual
 * for the add_ forms) and D its length:
 *   rmsnorm:   y = h / sqrt(mean(h^2) + eps) * weight
 *   layernorm: y = (h - mean(h)) / sqrt(var(h) + eps) * weight + bias
 * with the biased variance, as PyTorch. weight and bias are optional
 * (NULL: 1 and 0); rmsnorm takes no bias. Statistics are kept in f32
 * (f64 for f64 inputs) and nothing is saved between forward and backward:
 * the backward recomputes the row's statistics from x, which it reads
 * anyway. */
typedef enum zmlx_norm_kind {
  ZMLX_NORM_RMS = 0,
  ZMLX_NORM_LAYER,
  ZMLX_NORM_COUNT
} zmlx_norm_kind;

/* "rmsnorm", "layernorm"; "?" for an invalid kind. */
const char *zmlx_norm_name(zmlx_norm_kind kind);

/* x: (..., D) with at least one dimension; weight, bias: (D,) or NULL;
 * *out: (..., D) new. */
zmlx_status zmlx_norm(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *weight, zmlx_array *bias,
                      double eps, zmlx_array **out);
/* dy: (..., D). *dx: (..., D) new. *dweight, *dbias: (D,) new, reduced
 * over the rows; each may be a NULL pointer (not wanted) and is set to
 * NULL when its array is NULL. */
zmlx_status zmlx_norm_backward(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *weight,
                               zmlx_array *bias, double eps, zmlx_array *dy, zmlx_array **dx,
                               zmlx_array **dweight, zmlx_array **dbias);

/* The pre-norm residual step of a transformer block in one pass:
 * h = x + residual (summed in f32), *sum = h (the residual stream for the
 * next block), *out = norm(h). x, residual: (..., D); *out, *sum:
 * (..., D) new. */
zmlx_status zmlx_add_norm(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *residual,
                          zmlx_array *weight, zmlx_array *bias, double eps, zmlx_array **out,
                          zmlx_array **sum);
/* dy: the gradient of out; dsum: the gradient of sum, or NULL for zero.
 * *dx: (..., D) new: the gradient of x, which is also the gradient of
 * residual (they enter only through their sum). residual may be NULL: x
 * is then the sum h the forward returned (one array read less). */
zmlx_status zmlx_add_norm_backward(zmlx_norm_kind kind, zmlx_array *x, zmlx_array *residual,
                                   zmlx_array *weight, zmlx_array *bias, double eps,
                                   zmlx_array *dy, zmlx_array *dsum, zmlx_array **dx,
                                   zmlx_array **dweight, zmlx_array **dbias);

/* Dropout on the normalized output, in one pass:
 *   out = keep ? rmsnorm(x) * weight / (1 - p) : 0
 * (weight may be NULL). The keep bit of element i (its linear index in x,
 * C order) comes from Philox-4x32-10 (the prelude's zmlx_philox): word
 * i % 4 of zmlx_philox(seed, offset + i / 4), whose top 24 bits u are kept
 * when u / 2^24 >= p; the same bits on every backend. A later draw that
 * must not reuse these bits passes offset + ceil(n / 4) for an x of n
 * elements. p in [0, 1]; p = 1 drops everything. The backward regenerates
 * the mask from (seed, offset) (pass the forward's values) and is
 * rmsnorm's backward for the output gradient dy * keep / (1 - p). */
zmlx_status zmlx_rmsnorm_dropout(zmlx_array *x, zmlx_array *weight, double eps, double p,
                                 uint64_t seed, uint64_t offset, zmlx_array **out);
/* dy: (..., D); *dx: (..., D) new; *dweight as in zmlx_norm_backward. */
zmlx_status zmlx_rmsnorm_dropout_backward(zmlx_array *x, zmlx_array *weight, double eps, double p,
                                          uint64_t seed, uint64_t offset, zmlx_array *dy,
                                          zmlx_array **dx, zmlx_array **dweight);

#ifdef __cplusplus
}
#endif
#endif
