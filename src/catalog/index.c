/* Embedding, gather-add and scatter-add (index_add), with their
 * backwards, on the row kernels of index_kernels.c. */
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/index_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_index.h"

#define INDEX_DTYPES ((1u << ZMLX_DTYPE_I32) | (1u << ZMLX_DTYPE_I64))

static zmlx_status on_device(const char *op, const char *na, zmlx_array *a, const char *nb,
                             zmlx_array *b) {
  zmlx_device da = zmlx_array_device(a), db = zmlx_array_device(b);
  if (da.type == db.type && da.index == db.index) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "%s is %s but %s is %s", na,
                   zmlx_array_format(a, b1, sizeof b1), nb, zmlx_array_format(b, b2, sizeof b2));
}

/* A (rows, D) float matrix. */
static zmlx_status check_matrix(const char *op, const char *name, zmlx_array *a) {
  ZMLX_TRY(zcat_check_dtype(op, name, a, ZCAT_FLOAT_DTYPES));
  if (zmlx_array_ndim(a) == 2) return ZMLX_STATUS_OK;
  char b[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s: needs (rows, D)", name,
                   zmlx_array_format(a, b, sizeof b));
}

/* Integer indices on a's device. */
static zmlx_status check_idx(const char *op, const char *name, zmlx_array *idx, const char *an,
                             zmlx_array *a) {
  ZMLX_TRY(zcat_check_dtype(op, name, idx, INDEX_DTYPES));
  return on_device(op, an, a, name, idx);
}

/* rows has idx's shape plus a last axis of D. */
static zmlx_status check_rows(const char *op, const char *rn, zmlx_array *rows, const char *in,
                              zmlx_array *idx, int64_t D) {
  int nd = zmlx_array_ndim(idx), same = zmlx_array_ndim(rows) == nd + 1;
  for (int d = 0; same && d < nd; d++) same = zmlx_array_dim(rows, d) == zmlx_array_dim(idx, d);
  if (same && zmlx_array_dim(rows, nd) == D) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s but %s is %s: needs %s's shape + (%lld,)",
                   rn, zmlx_array_format(rows, b1, sizeof b1), in,
                   zmlx_array_format(idx, b2, sizeof b2), in, (long long)D);
}

static int is_cuda(const zmlx_array *a) { return zmlx_array_device(a).type == ZMLX_DEVICE_CUDA; }

/* y (N rows of D) = (x ? x : 0) + src[idx]; y is new, shaped idx + (D,). */
static zmlx_status gather(zmlx_array *src, zmlx_array *idx, zmlx_array *x, zmlx_array **out) {
  zmlx_dtype t = zmlx_array_dtype(src);
  int nd = zmlx_array_ndim(idx);
  int64_t sh[ZMLX_MAX_DIMS], M = zmlx_array_dim(src, 0), D = zmlx_array_dim(src, 1), zero = 0;
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(idx, d);
  sh[nd] = D;
  int64_t N = zmlx_array_numel(idx);
  zmlx_array *y = NULL, *dummy = NULL;
  zmlx_status s = zmlx_array_empty(t, nd + 1, sh, zmlx_array_device(src), &y);
  if (!s && !x) s = zmlx_array_empty(t, 1, &zero, zmlx_array_device(src), &dummy);
  zmlx_kernel *k = NULL;
  if (!s) s = zcat_gather_rows_kernel(&k);
  if (!s) {
    int vec = (int)(16 / zmlx_dtype_size(t));
    int use = D % vec == 0 && zcat_aligned16(src) && (!x || zcat_aligned16(x));
    zmlx_array *in[3] = {src, idx, x ? x : dummy};
    zmlx_template_arg tp[3] = {{"VEC", ZMLX_TEMPLATE_INT, vec},
                               {"ADD", ZMLX_TEMPLATE_BOOL, x != NULL},
                               {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64}};
    double sc[4] = {(double)N, (double)M, (double)D, use};
    s = zcat_raw_launch(k, 3, in, 1, &y, use ? N * (D / vec) : N * D, 3, tp, 4, sc);
  }
  zmlx_array_release(dummy);
  if (s) zmlx_array_release(y);
  *out = s ? NULL : y;
  return s;
}

/* acc (M, D) += rows of src (idx's shape + (D,)) at idx, in place. */
static zmlx_status scatter(zmlx_array *acc, zmlx_array *idx, zmlx_array *src) {
  int64_t M = zmlx_array_dim(acc, 0), D = zmlx_array_dim(acc, 1), N = zmlx_array_numel(idx);
  zmlx_kernel *k = NULL;
  ZMLX_TRY(zcat_scatter_rows_kernel(&k));
  zmlx_array *in[2] = {src, idx};
  zmlx_template_arg tp[2] = {{"F64", ZMLX_TEMPLATE_BOOL, zmlx_array_dtype(acc) == ZMLX_DTYPE_F64},
                             {"COLS", ZMLX_TEMPLATE_INT, ZI_CPU_COLS}};
  double sc[3] = {(double)N, (double)M, (double)D};
  int64_t grid = is_cuda(acc) ? N * D : (D + ZI_CPU_COLS - 1) / ZI_CPU_COLS;
  if (N == 0) grid = 0;
  return zcat_raw_launch(k, 2, in, 1, &acc, grid, 2, tp, 3, sc);
}

/* A new accumulator (M, D) for a scatter into dtype t: zeros, or x's values. */
static zmlx_status accumulator(zmlx_dtype t, int64_t M, int64_t D, zmlx_device dev, zmlx_array *x,
                               zmlx_array **acc) {
  int64_t sh[2] = {M, D};
  zmlx_dtype at = zcat_index_acc_dtype(t);
  zmlx_status s = x ? zmlx_array_empty(at, 2, sh, dev, acc) : zmlx_array_zeros(at, 2, sh, dev, acc);
  if (!s && x) s = zmlx_array_copy_into(*acc, x);
  if (s) {
    zmlx_array_release(*acc);
    *acc = NULL;
  }
  return s;
}

/* out (M, D) of dtype t = (x or zeros) + the scatter of src at idx. */
static zmlx_status scatter_new(zmlx_dtype t, int64_t M, int64_t D, zmlx_array *x, zmlx_array *idx,
                               zmlx_array *src, zmlx_array **out) {
  zmlx_array *acc = NULL;
  ZMLX_TRY(accumulator(t, M, D, zmlx_array_device(src), x, &acc));
  zmlx_status s = scatter(acc, idx, src);
  if (s) {
    zmlx_array_release(acc);
    return s;
  }
  return zcat_index_finish(acc, t, out);
}

zmlx_status zmlx_embedding(zmlx_array *table, zmlx_array *ids, zmlx_array **out) {
  const char *op = "embedding";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_matrix(op, "table", table));
  ZMLX_TRY(check_idx(op, "ids", ids, "table", table));
  if (zmlx_array_ndim(ids) >= ZMLX_MAX_DIMS)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "ids has %d dims: the result would exceed %d",
                     zmlx_array_ndim(ids), ZMLX_MAX_DIMS);
  zmlx_status s = gather(table, ids, NULL, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_embedding_backward(zmlx_array *table, zmlx_array *ids, zmlx_array *dout,
                                    zmlx_array **dtable) {
  const char *op = "embedding";
  ZMLX_TRY(zcat_check_out(op, "dtable", dtable));
  *dtable = NULL;
  ZMLX_TRY(check_matrix(op, "table", table));
  ZMLX_TRY(check_idx(op, "ids", ids, "table", table));
  ZMLX_TRY(zcat_check_dtype(op, "dout", dout, ZCAT_FLOAT_DTYPES));
  static const char *const names[] = {"dout"};
  ZMLX_TRY(zcat_check_like(op, "table", table, 1, names, &dout));
  ZMLX_TRY(check_rows(op, "dout", dout, "ids", ids, zmlx_array_dim(table, 1)));
  zmlx_status s = scatter_new(zmlx_array_dtype(table), zmlx_array_dim(table, 0),
                              zmlx_array_dim(table, 1), NULL, ids, dout, dtable);
  return s ? zmlx_fail_wrap(s, op) : s;
}

/* x (..., D), src (M, D) of one dtype and device, idx (...) x's leading shape. */
static zmlx_status check_gather_add(const char *op, zmlx_array *x, zmlx_array *src,
                                    zmlx_array *idx) {
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_matrix(op, "src", src));
  static const char *const names[] = {"src"};
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &src));
  ZMLX_TRY(check_idx(op, "idx", idx, "x", x));
  return check_rows(op, "x", x, "idx", idx, zmlx_array_dim(src, 1));
}

zmlx_status zmlx_gather_add(zmlx_array *x, zmlx_array *src, zmlx_array *idx, zmlx_array **out) {
  const char *op = "gather_add";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_gather_add(op, x, src, idx));
  zmlx_status s = gather(src, idx, x, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_gather_add_backward(zmlx_array *src, zmlx_array *idx, zmlx_array *dy,
                                     zmlx_array **dx, zmlx_array **dsrc) {
  const char *op = "gather_add";
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  ZMLX_TRY(zcat_check_out(op, "dsrc", dsrc));
  *dx = *dsrc = NULL;
  ZMLX_TRY(check_gather_add(op, dy, src, idx));
  zmlx_status s = scatter_new(zmlx_array_dtype(src), zmlx_array_dim(src, 0),
                              zmlx_array_dim(src, 1), NULL, idx, dy, dsrc);
  if (s) return zmlx_fail_wrap(s, op);
  *dx = zmlx_array_retain(dy);
  return s;
}

zmlx_status zmlx_scatter_add(zmlx_array *x, zmlx_array *idx, zmlx_array *src, zmlx_array **out) {
  const char *op = "scatter_add";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_matrix(op, "x", x));
  ZMLX_TRY(zcat_check_dtype(op, "src", src, ZCAT_FLOAT_DTYPES));
  static const char *const names[] = {"src"};
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &src));
  ZMLX_TRY(check_idx(op, "idx", idx, "x", x));
  ZMLX_TRY(check_rows(op, "src", src, "idx", idx, zmlx_array_dim(x, 1)));
  zmlx_status s = scatter_new(zmlx_array_dtype(x), zmlx_array_dim(x, 0), zmlx_array_dim(x, 1), x,
                              idx, src, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_scatter_add_backward(zmlx_array *idx, zmlx_array *dy, zmlx_array **dx,
                                      zmlx_array **dsrc) {
  const char *op = "scatter_add";
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  ZMLX_TRY(zcat_check_out(op, "dsrc", dsrc));
  *dx = *dsrc = NULL;
  ZMLX_TRY(check_matrix(op, "dy", dy));
  ZMLX_TRY(check_idx(op, "idx", idx, "dy", dy));
  if (zmlx_array_ndim(idx) >= ZMLX_MAX_DIMS)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "idx has %d dims: dsrc would exceed %d",
                     zmlx_array_ndim(idx), ZMLX_MAX_DIMS);
  zmlx_status s = gather(dy, idx, NULL, dsrc);
  if (s) return zmlx_fail_wrap(s, op);
  *dx = zmlx_array_retain(dy);
  return s;
}
