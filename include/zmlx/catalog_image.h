#ifndef ZMLX_CATALOG_IMAGE_H
#define ZMLX_CATALOG_IMAGE_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Image ops on channels-last (NHWC) arrays. Conventions as in
 * zmlx/catalog.h: x (N, H, W, C) of one float dtype, any strides, results
 * new and contiguous, computed in f32 (f64 for f64). Backwards are
 * gathers (no atomics), so they are deterministic. */

/* Bilinear resize, as PyTorch's F.interpolate(mode="bilinear",
 * antialias=False) with an output size (no scale_factor):
 *   align_corners = 0 (half-pixel centers, PyTorch's default):
 *     src = (dst + 0.5) * in / out - 0.5, clamped below at 0
 *   align_corners = 1 (corner pixels aligned):
 *     src = dst * (in - 1) / (out - 1)   (0 when out == 1)
 * per axis, computed in f32 (f64 for f64 inputs) as PyTorch computes it;
 * i0 = floor(src), i1 = min(i0 + 1, in - 1), weights (1 - f, f) with
 * f = src - i0. Upsampling and downsampling alike (no antialiasing).
 * x: (N, H, W, C), out_h, out_w >= 0 (H, W >= 1 when the output is not
 * empty); *out: (N, out_h, out_w, C). */
zmlx_status zmlx_resize_bilinear(zmlx_array *x, int64_t out_h, int64_t out_w, int align_corners,
                                 zmlx_array **out);
/* x: the forward input (for its shape, dtype and device); dy: (N, OH, OW,
 * C); *dx: x's shape: the sum over the output pixels that read each input
 * pixel, with the forward's weights. */
zmlx_status zmlx_resize_bilinear_backward(zmlx_array *x, zmlx_array *dy, int align_corners,
                                          zmlx_array **dx);

/* Depthwise 3x3 convolution, stride 1, zero padding 1 (output size = input
 * size), cross-correlation as PyTorch's conv2d(groups=C):
 *   out[n, h, w, c] = bias[c] + sum_{i,j in 0..2} x[n, h+i-1, w+j-1, c] w[i, j, c]
 * x: (N, H, W, C); w: (3, 3, C), which is PyTorch's (C, 1, 3, 3) weight
 * permuted to (2, 3, 0) with its unit axis dropped; bias: (C,) or NULL;
 * *out: (N, H, W, C). */
zmlx_status zmlx_depthwise_conv3x3(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                   zmlx_array **out);
/* dy: (N, H, W, C). *dx: x's shape; *dw: (3, 3, C); *dbias: (C,), the sum
 * of dy over N, H, W (only when bias is given; else NULL). dw and dbias
 * are reduced in f32 over blocks of rows, then over the blocks. */
zmlx_status zmlx_depthwise_conv3x3_backward(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                            zmlx_array *dy, zmlx_array **dx, zmlx_array **dw,
                                            zmlx_array **dbias);

#ifdef __cplusplus
}
#endif
#endif
