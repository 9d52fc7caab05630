#ifndef ZMLX_CATALOG_INDEX_INTERNAL_H
#define ZMLX_CATALOG_INDEX_INTERNAL_H
/* Internal: the indexing kernels (index_kernels.c), shared by index.c and
 * index_take.c; the NVRTC check builds them. */
#include "catalog/raw_kernels.h"

/* gather_rows: y[n] = (ADD ? x[n] : 0) + (0 <= idx[n] < M ? src[idx[n]] : 0)
 * for rows of D; VEC elements per point when the scalar vec is 1, else
 * one. Inputs src, idx, x; output y. Scalars N, M, D, vec. */
zmlx_status zcat_gather_rows_kernel(zmlx_kernel **out);
/* scatter_rows: acc[idx[n]] += src[n] (acc given, f32 or f64). Inputs
 * src, idx; output acc. Scalars N, M, D. CUDA: a point per element, atomics;
 * CPU: a point per ZI_CPU_COLS columns, rows in order. */
zmlx_status zcat_scatter_rows_kernel(zmlx_kernel **out);
#define ZI_CPU_COLS 64
/* take_gather: y (O, K, I) = x (O, M, I) at idx (O, K, I) along the middle
 * axis. Inputs x, idx; output y; scalars M, K, I. */
zmlx_status zcat_take_gather_kernel(zmlx_kernel **out);
/* take_scatter: acc (O, M, I) += dy (O, K, I) at idx; a point per (o, i)
 * line. Inputs dy, idx; output acc; scalars M, K, I. */
zmlx_status zcat_take_scatter_kernel(zmlx_kernel **out);

/* The accumulator dtype of a scatter into dtype t: f64 for f64, else f32. */
zmlx_dtype zcat_index_acc_dtype(zmlx_dtype t);
/* Finish a scatter: *out = acc as dtype t (acc itself when t is its
 * dtype). Takes over the reference to acc. */
zmlx_status zcat_index_finish(zmlx_array *acc, zmlx_dtype t, zmlx_array **out);

#endif
