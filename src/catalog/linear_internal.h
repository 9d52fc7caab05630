#ifndef ZMLX_CATALOG_LINEAR_INTERNAL_H
#define ZMLX_CATALOG_LINEAR_INTERNAL_H
/* Internal to the linear family: one GEMM described in row-major terms,
 * and the engines that run it (cuBLASLt, OpenBLAS, a fallback kernel). */
#include <stdint.h>

#include "zmlx/catalog_linear.h"
#include "zmlx/kernel.h"

/* One operand as a logical row-major matrix (after any transpose): its
 * element (i, j) of batch p sits at data + p * batch_stride + (col ?
 * i + j * ld : i * ld + j), counted in elements. */
typedef struct zl_operand {
  zmlx_array *array;     /* the view whose data pointer is the base */
  int col;               /* column-major storage of the logical matrix */
  int64_t ld;
  int64_t batch_stride;  /* 0: shared by every batch */
} zl_operand;

/* C (batch, M, N), contiguous, = act(A (M, K) B (K, N) + bias). */
typedef struct zl_gemm {
  zmlx_dtype dtype;
  int64_t batch, M, N, K;
  zl_operand a, b;
  zmlx_array *c;         /* contiguous (batch, M, N) of dtype */
  zmlx_array *bias;      /* NULL or (N,) contiguous */
  zmlx_matmul_act act;
} zl_gemm;

/* cuBLASLt. *done = 1 when it ran the GEMM with bias and activation;
 * *done = 0 (status OK) when the library or an algorithm for this problem
 * is missing, and the caller must use another engine. */
zmlx_status zl_cublaslt_gemm(const zl_gemm *g, int *done);
/* "cublasLt <version>" or why it is unavailable. */
const char *zl_cublaslt_describe(void);
void zl_cublaslt_shutdown(void);

/* OpenBLAS (f32 and f64 only, no bias or activation); 0 when the library
 * was built without it (then nothing ran). */
int zl_have_blas(void);
zmlx_status zl_blas_gemm(const zl_gemm *g);

/* The run-time kernel that computes any zl_gemm on any backend (inputs
 * a, b, bias; output c; twelve i64 scalars; template F64), and a call. */
zmlx_status zl_fallback_kernel(zmlx_kernel **out);
zmlx_status zl_fallback_gemm(const zl_gemm *g);
/* out = act(c + bias) converted to out's dtype (c may be out itself). */
zmlx_status zl_epilogue(zmlx_array *c, zmlx_array *bias, zmlx_matmul_act act, zmlx_array *out);

void zcat_linear_shutdown(void);

#endif
