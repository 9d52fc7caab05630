/* Inputs, axes and outputs of reduce, map_reduce and scan: checks, the
 * merged walk of dimensions, and rows along one axis (with the copies a
 * layout may need). */
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

zmlx_status zr_check_input(const char *op, const char *kname, const zmlx_array *x) {
  if (!x) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': input x is NULL", kname);
  zmlx_dtype t = x->dtype;
  if (t != ZMLX_DTYPE_F32 && t != ZMLX_DTYPE_F64 && t != ZMLX_DTYPE_F16 && t != ZMLX_DTYPE_BF16) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                     "kernel '%s': input %s has dtype %s (supported: f32, f64, f16, bf16)", kname,
                     zmlx_array_format(x, b, sizeof b), zmlx_dtype_name(t));
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zr_norm_axis(const char *op, const char *kname, const zmlx_array *x, int *axis) {
  int a = *axis < 0 ? *axis + x->ndim : *axis;
  if (a < 0 || a >= x->ndim) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': axis %d is out of range for %s",
                     kname, *axis, zmlx_array_format(x, b, sizeof b));
  }
  *axis = a;
  return ZMLX_STATUS_OK;
}

zmlx_status zr_check_out(const char *op, const char *kname, const zmlx_array *x,
                         const zmlx_array *out, int ndim, const int64_t *shape) {
  char b1[300], b2[300];
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': out is NULL", kname);
  zmlx_device dx = zmlx_array_device(x), dout = zmlx_array_device(out);
  if (dx.type != dout.type || dx.index != dout.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "kernel '%s': input %s, output %s", kname,
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(out, b2, sizeof b2));
  int same = out->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = out->shape[d] == shape[d];
  if (!same)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "kernel '%s': output %s, needs shape %s", kname,
                     zmlx_array_format(out, b1, sizeof b1), zmlx_shape_format(ndim, shape, b2, sizeof b2));
  if (!zk_ctype(out->dtype) || out->dtype == ZMLX_DTYPE_BOOL)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output %s", kname,
                     zmlx_array_format(out, b1, sizeof b1));
  return ZMLX_STATUS_OK;
}

zmlx_dtype zr_compute_for(const zr_expr *e, zmlx_dtype x) {
  return e->compute == ZMLX_DTYPE_F64 || x == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
}

/* ---- dimensions ----------------------------------------------------------- */

void zr_dims_push(zr_dims *d, int64_t size, int64_t stride) {
  if (size == 1) return;
  if (d->n > 0 && size != 0 && d->shape[d->n - 1] != 0 && d->stride[d->n - 1] == size * stride) {
    d->shape[d->n - 1] *= size;
    d->stride[d->n - 1] = stride;
    return;
  }
  d->shape[d->n] = size;
  d->stride[d->n] = stride;
  d->n++;
}

zmlx_status zr_dims_view(const zmlx_array *a, const zr_dims *k, const zr_dims *r,
                         zmlx_array **out) {
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < k->n; i++, n++) {
    shape[n] = k->shape[i];
    strides[n] = k->stride[i];
  }
  for (int i = 0; i < r->n; i++, n++) {
    shape[n] = r->shape[i];
    strides[n] = r->stride[i];
  }
  return zmlx_array_wrap(a->storage, a->dtype, n, shape, strides, a->offset, out);
}

/* a's axes with `axis` moved last. */
static void moved_last(int ndim, int axis, int *perm) {
  int n = 0;
  for (int d = 0; d < ndim; d++)
    if (d != axis) perm[n++] = d;
  perm[n] = axis;
}

static zmlx_status permuted_view(zmlx_array *a, int axis, zmlx_array **out) {
  int perm[ZMLX_MAX_DIMS];
  moved_last(a->ndim, axis, perm);
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) {
    shape[d] = a->shape[perm[d]];
    strides[d] = a->strides[perm[d]];
  }
  return zmlx_array_wrap(a->storage, a->dtype, a->ndim, shape, strides, a->offset, out);
}

zmlx_status zr_rows_make(const char *op, const char *kname, zmlx_array *x, int axis, zr_rows *r) {
  memset(r, 0, sizeof *r);
  ZMLX_TRY(zr_check_input(op, kname, x));
  ZMLX_TRY(zr_norm_axis(op, kname, x, &axis));
  r->axis = axis;
  r->R = x->shape[axis];
  r->M = 1;
  for (int d = 0; d < x->ndim; d++)
    if (d != axis) r->M *= x->shape[d];
  zmlx_array *src = NULL, *p = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  if (r->R <= 1 || x->strides[axis] == 1) {
    src = zmlx_array_retain(x);
  } else {
    s = permuted_view(x, axis, &p);
    if (!s) s = zmlx_array_contiguous(p, &src);
    zmlx_array_release(p);
    if (s) return s;
  }
  /* src's rows are contiguous along `axis` (or the last axis of a copy). */
  int last = src == x ? axis : x->ndim - 1;
  for (int d = 0; d < src->ndim; d++)
    if (d != last) zr_dims_push(&r->kept, src->shape[d], src->strides[d]);
  zr_dims rd = {.n = 1, .shape = {r->R}, .stride = {1}};
  s = zr_dims_view(src, &r->kept, &rd, &r->view);
  zmlx_array_release(src);
  return s;
}

void zr_rows_free(zr_rows *r) {
  zmlx_array_release(r->view);
  r->view = NULL;
}

zmlx_status zr_rows_target(const zr_rows *r, zmlx_array *out, zmlx_array **target) {
  if (r->axis == out->ndim - 1 && zmlx_array_is_contiguous(out)) {
    *target = zmlx_array_retain(out);
    return ZMLX_STATUS_OK;
  }
  zmlx_array *p;
  ZMLX_TRY(permuted_view(out, r->axis, &p));
  zmlx_status s = zmlx_array_empty(out->dtype, p->ndim, p->shape, zmlx_array_device(out), target);
  zmlx_array_release(p);
  return s;
}

zmlx_status zr_rows_finish(const zr_rows *r, zmlx_array *out, zmlx_array *target) {
  if (target == out) return ZMLX_STATUS_OK;
  zmlx_array *p;
  ZMLX_TRY(permuted_view(out, r->axis, &p));
  zmlx_status s = zmlx_array_copy_into(p, target);
  zmlx_array_release(p);
  return s;
}

