#ifndef ZMLX_CATALOG_INDEX_H
#define ZMLX_CATALOG_INDEX_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Indexing: gathers, and the scatter-adds that are their gradients.
 * Conventions as in zmlx/catalog.h; indices are i32 or i64 arrays of any
 * shape and strides.
 *
 * Out-of-range indices are not an error (checking them would need a
 * device round trip): an index outside [0, n) gathers zeros and scatters
 * nothing. Negative indices are out of range (no wrapping).
 *
 * Scatter-adds. On the CPU each output element is summed in a fixed order
 * (by source row), so results are deterministic. On CUDA rows are added
 * with atomics: f32 and f64 natively, f16 and bf16 into an f32 buffer that
 * is rounded to the dtype once at the end (more accurate than bf16
 * atomics, at the cost of a (rows, D) f32 temporary); the order of the
 * additions, and so the last bits of f32 sums, can vary between runs.
 * zmlx_take_along_axis_backward owns one line per thread and is
 * deterministic everywhere. */

/* table: (V, D) float; ids: (...); *out: (..., D) new: out[...] = table[ids[...]]. */
zmlx_status zmlx_embedding(zmlx_array *table, zmlx_array *ids, zmlx_array **out);
/* dout: (..., D); *dtable: (V, D) new, table's dtype: row v sums the rows
 * of dout whose id is v. table gives the shape, dtype and device only. */
zmlx_status zmlx_embedding_backward(zmlx_array *table, zmlx_array *ids, zmlx_array *dout,
                                    zmlx_array **dtable);

/* x: (..., D); src: (M, D); idx: (...) x's leading shape;
 * *out: (..., D) new: out[...] = x[...] + src[idx[...]]. */
zmlx_status zmlx_gather_add(zmlx_array *x, zmlx_array *src, zmlx_array *idx, zmlx_array **out);
/* dy: (..., D). *dx = dy (a new reference); *dsrc: (M, D) new, the
 * scatter-add of dy's rows at idx. src gives the shape only. */
zmlx_status zmlx_gather_add_backward(zmlx_array *src, zmlx_array *idx, zmlx_array *dy,
                                     zmlx_array **dx, zmlx_array **dsrc);

/* index_add along the first axis: x: (M, D); idx: (...); src: (..., D);
 * *out: (M, D) new: x with each src[...] added into row idx[...]. */
zmlx_status zmlx_scatter_add(zmlx_array *x, zmlx_array *idx, zmlx_array *src, zmlx_array **out);
/* dy: (M, D). *dx = dy (a new reference); *dsrc: (..., D) new, dy's rows
 * at idx (zeros where idx is out of range). */
zmlx_status zmlx_scatter_add_backward(zmlx_array *idx, zmlx_array *dy, zmlx_array **dx,
                                      zmlx_array **dsrc);

/* numpy.take_along_axis without broadcasting: x and idx have one ndim and
 * the same sizes except along axis (negative counts from the end), where
 * idx has K; *out: idx's shape, x's dtype:
 * out[..., k, ...] = x[..., idx[..., k, ...], ...]. */
zmlx_status zmlx_take_along_axis(zmlx_array *x, zmlx_array *idx, int axis, zmlx_array **out);
/* dy: idx's shape; *dx: x's shape, zeros plus dy added at idx. */
zmlx_status zmlx_take_along_axis_backward(zmlx_array *x, zmlx_array *idx, int axis,
                                          zmlx_array *dy, zmlx_array **dx);

#ifdef __cplusplus
}
#endif
#endif
