#ifndef ZMLX_CATALOG_SOFTMAX_H
#define ZMLX_CATALOG_SOFTMAX_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* The softmax family: the backward of zmlx_softmax and zmlx_log_softmax
 * (zmlx/reduce.h, the forward passes), logsumexp, softmax with a scale
 * and a mask (attention scores) and with a temperature (sampling).
 * Conventions as in zmlx/catalog.h; axis may be negative (from the end).
 *
 * The unmasked backward passes take the forward's input x and recompute
 * the softmax in f32 on the way (same traffic: x and dy read once, dx
 * written once): a softmax output saved in bf16 or f16 carries too few
 * digits for the gradient of a peaked row, where dy - sum(dy * y)
 * cancels. The masked one takes the output y, so the mask is not read
 * again. */

/* x, dy: one shape and dtype. *dx: new, dx = y * (dy - sum(dy * y))
 * along axis, y = softmax(x). */
zmlx_status zmlx_softmax_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx);
/* dx = dy - softmax(x) * sum(dy) along axis: the backward of
 * zmlx_log_softmax(x, axis). */
zmlx_status zmlx_log_softmax_backward(zmlx_array *x, zmlx_array *dy, int axis,
                                      zmlx_array **dx);

/* log(sum(exp(x))) along axis, without overflow: *out has x's shape
 * without axis. A row of -inf (or an empty row) gives -inf; NaN
 * propagates. */
zmlx_status zmlx_logsumexp(zmlx_array *x, int axis, zmlx_array **out);
/* dy: x's shape without axis; *dx = dy * softmax(x) along axis, with the
 * softmax recomputed in f32 (not from a logsumexp rounded to x's dtype).
 * A row of -inf gets a zero gradient. */
zmlx_status zmlx_logsumexp_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx);

/* Softmax over the last axis of scale * x + mask, for attention scores.
 * x: (..., D). mask: NULL (none), or any shape that broadcasts to x's by
 * NumPy's rules: (D,), (rows, D), (..., 1, D) (one mask for every head),
 * x's own shape. A bool mask keeps the elements where it is true (as
 * PyTorch's scaled_dot_product_attention reads a bool attn_mask); a float
 * mask (x's dtype) is added, -inf removing an element. A row with every
 * element removed gives zeros (not NaN). *y: x's shape and dtype. The
 * errors of a bool mask name "softmax_masked_bool". */
zmlx_status zmlx_softmax_masked(zmlx_array *x, zmlx_array *mask, double scale, zmlx_array **y);
/* y: the forward's output; dx = scale * y * (dy - sum(dy * y)). Removed
 * elements (y = 0) get 0; the mask gets no gradient. */
zmlx_status zmlx_softmax_masked_backward(zmlx_array *y, zmlx_array *dy, double scale,
                                         zmlx_array **dx);

/* softmax(x / temperature) over the last axis, as sampling uses it:
 * temperature must be positive and finite (INVALID_ARGUMENT otherwise;
 * greedy decoding is zmlx_reduce_argmax). */
zmlx_status zmlx_softmax_temperature(zmlx_array *x, double temperature, zmlx_array **y);
/* x: the forward's input; dx = y * (dy - sum(dy * y)) / temperature with
 * y = softmax(x / temperature). */
zmlx_status zmlx_softmax_temperature_backward(zmlx_array *x, zmlx_array *dy, double temperature,
                                              zmlx_array **dx);

#ifdef __cplusplus
}
#endif
#endif
