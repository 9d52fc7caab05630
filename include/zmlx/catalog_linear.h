#ifndef ZMLX_CATALOG_LINEAR_H
#define ZMLX_CATALOG_LINEAR_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Matrix multiplication. On CUDA through cuBLASLt (libcublasLt.so.13 or
 * .12, found at run time like the driver; $ZMLX_CUBLASLT_PATH overrides),
 * with its heuristics, a workspace from ZMLX's allocator and its bias and
 * activation epilogues; on the CPU through OpenBLAS's sgemm/dgemm when the
 * library was built with it (f16 and bf16 go through f32). Without those
 * libraries a plain run-time kernel computes the same result, slowly.
 * Conventions as in zmlx/catalog.h: one float dtype (f32, f16, bf16, f64)
 * for every operand, any strides (transposed storage is used as it is,
 * other layouts are copied), products summed in f32 (f64 for f64) and
 * rounded once. On CUDA, f32 stays f32 (no TF32) unless $ZMLX_MATMUL_TF32=1.
 * $ZMLX_MATMUL_FALLBACK=1 uses the run-time kernel on every backend. */

/* What is applied to a + b before it is stored. GELU is the tanh
 * approximation, which is cuBLASLt's GELU epilogue. */
typedef enum zmlx_matmul_act {
  ZMLX_MATMUL_ACT_NONE = 0,
  ZMLX_MATMUL_ACT_RELU,
  ZMLX_MATMUL_ACT_GELU,
  ZMLX_MATMUL_ACT_COUNT
} zmlx_matmul_act;

/* out = act(op(a) op(b) + bias), op(x) = x or its transpose (of the last
 * two axes) as trans_a / trans_b say.
 * a: (..., M, K), or (..., K, M) with trans_a
 * b: (..., K, N), or (..., N, K) with trans_b; its leading dimensions
 *    equal a's (batched), or b is 2-D and is shared by every batch
 * bias: NULL or (N,)
 * *out: (..., M, N) new. */
zmlx_status zmlx_matmul(zmlx_array *a, zmlx_array *b, int trans_a, int trans_b,
                        zmlx_array *bias, zmlx_matmul_act act, zmlx_array **out);

/* Gradients of out = op(a) op(b) + bias (no activation) given dout
 * (..., M, N): d op(a) = dout op(b)^T and d op(b) = op(a)^T dout, as
 * matmuls, in the layouts of a and b (summed over the batch for a shared
 * 2-D b); *dbias = dout summed over every axis but the last. da, db and
 * dbias may each be NULL (not computed); *dbias is NULL when bias is. */
zmlx_status zmlx_matmul_backward(zmlx_array *a, zmlx_array *b, int trans_a, int trans_b,
                                 zmlx_array *bias, zmlx_array *dout, zmlx_array **da,
                                 zmlx_array **db, zmlx_array **dbias);

/* A linear layer, PyTorch's F.linear: out = act(x w^T + bias).
 * x: (..., K); w: (N, K); bias: NULL or (N,); *out: (..., N). */
zmlx_status zmlx_linear(zmlx_array *x, zmlx_array *w, zmlx_array *bias, zmlx_matmul_act act,
                        zmlx_array **out);
/* For act NONE: dx = dout w, dw = dout^T x (over every row), dbias = sum
 * of dout's rows. dw and dbias may be NULL. */
zmlx_status zmlx_linear_backward(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                 zmlx_array *dout, zmlx_array **dx, zmlx_array **dw,
                                 zmlx_array **dbias);

/* Which library does the work on a device type: "cublasLt 13.0.x",
 * "openblas", or "fallback kernel" (and why, after a colon). */
const char *zmlx_matmul_backend(zmlx_device_type type);

#ifdef __cplusplus
}
#endif
#endif
