#ifndef ZMLX_CATALOG_QUANT_H
#define ZMLX_CATALOG_QUANT_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Quantized weights: dequantization of the common packed formats (with
 * an optional fused activation), and MLX's affine format both ways.
 * Conventions as in zmlx/catalog.h, except that the packed codes are
 * integers (or fp8), and that the result takes the scales' dtype (f32,
 * f16, bf16 or f64): dequantization computes in f32 (f64 for f64 scales)
 * and rounds once. None of these has a backward. */

/* How codes are stored; K is the number of values per row.
 *   INT8      q: i8 (..., K); w = scale * q + bias
 *   INT4      q: u8 (..., K/2), two signed (two's complement) 4-bit
 *             values per byte, value 2j in the LOW nibble of byte j;
 *             w = scale * q + bias, q in [-8, 7]
 *   FP8_E4M3  q: fp8_e4m3 (or u8 holding its bits) (..., K), OCP e4m3fn;
 *             w = scale * fp8 + bias
 *   FP8_E5M2  as FP8_E4M3, OCP e5m2
 *   NF4       q: u8 (..., K/2), the QLoRA NormalFloat4 codes, value 2j in
 *             the HIGH nibble of byte j as bitsandbytes packs them;
 *             w = NF4[code] * scale + bias, scale the block's absmax.
 *             bitsandbytes blocks run over the flattened tensor: the same
 *             layout when K is a multiple of the block size. */
typedef enum zmlx_qformat {
  ZMLX_QFORMAT_INT8 = 0,
  ZMLX_QFORMAT_INT4,
  ZMLX_QFORMAT_FP8_E4M3,
  ZMLX_QFORMAT_FP8_E5M2,
  ZMLX_QFORMAT_NF4,
  ZMLX_QFORMAT_COUNT
} zmlx_qformat;

/* An activation applied to the dequantized value before it is stored
 * (computed in f32 on the unrounded value). */
typedef enum zmlx_dequant_act {
  ZMLX_DEQUANT_ACT_NONE = 0,
  ZMLX_DEQUANT_ACT_SILU,       /* x * sigmoid(x) */
  ZMLX_DEQUANT_ACT_GELU_TANH,  /* gelu, tanh approximation */
  ZMLX_DEQUANT_ACT_GELU_ERF,   /* gelu, exact */
  ZMLX_DEQUANT_ACT_COUNT
} zmlx_dequant_act;

/* "int8", "int4", "fp8_e4m3", "fp8_e5m2", "nf4"; "?" for an invalid one. */
const char *zmlx_qformat_name(zmlx_qformat format);

/* q: as the format says, (..., K) values per row (ndim >= 1).
 * scales: (..., K / group_size) with q's leading dimensions (a scale per
 * group of group_size consecutive values of a row; group_size 0 means
 * the whole row, per channel), or a 0-d array (one scale for the tensor).
 * biases: NULL, or scales' shape and dtype.
 * *out: (..., K) new, scales' dtype. K must be a multiple of group_size. */
zmlx_status zmlx_dequantize(zmlx_qformat format, zmlx_array *q, zmlx_array *scales,
                            zmlx_array *biases, int64_t group_size, zmlx_dequant_act act,
                            zmlx_array **out);

/* ---- MLX's affine format ---------------------------------------------------
 * Exactly as MLX lays it out (mlx/ops.cpp `quantize(..., mode="affine")`):
 * w: (..., K) f32, f16 or bf16, K a multiple of group_size; bits 2, 4 or
 * 8; group_size 32, 64 or 128.
 *   wq      u32 (..., K * bits / 32): 32 / bits codes per word along the
 *           last axis, value 0 in the lowest bits
 *   scales  (..., K / group_size), w's dtype
 *   biases  (..., K / group_size), w's dtype;  w ~ scale * q + bias
 * Quantize computes per group, in f32, as MLX's Metal and CUDA kernels
 * (affine_quantize in mlx/backend/metal/kernels/quantized.h and
 * mlx/backend/cuda/quantized/affine_quantize.cu):
 *   w_max = max(0, max w), w_min = min w     (w_max starts at 0 there)
 *   scale = max((w_max - w_min) / (2^bits - 1), 1e-7)
 *   side  = |w_min| > |w_max|;  scale = side ? scale : -scale
 *   edge  = side ? w_min : w_max;  q0 = round(edge / scale)
 *   q0 != 0: scale = edge / q0, bias = edge;  else bias = 0
 *   q     = clamp(round((w - bias) / scale), 0, 2^bits - 1)
 * with round() half away from zero (Metal's and CUDA's round; MLX's CPU
 * backend uses rint, which differs only on exact halves, and starts w_max
 * at the true maximum), IEEE f32 division, and scale and bias stored
 * rounded to w's dtype (q uses the unrounded f32 values).
 * Dequantize: w = T(T(scale * q) + bias) in the scales' dtype T, the
 * product and the sum each rounded to T, as mlx/ops.cpp's
 * affine_dequantize computes it (multiply, then add). */
zmlx_status zmlx_affine_quantize(zmlx_array *w, int bits, int group_size, zmlx_array **wq,
                                 zmlx_array **scales, zmlx_array **biases);
/* wq: u32 (..., K * bits / 32); scales, biases: (..., K / group_size), one
 * float dtype (f32, f16 or bf16); *out: (..., K) new, their dtype. */
zmlx_status zmlx_affine_dequantize(zmlx_array *wq, zmlx_array *scales, zmlx_array *biases,
                                   int bits, int group_size, zmlx_dequant_act act,
                                   zmlx_array **out);

#ifdef __cplusplus
}
#endif
#endif
