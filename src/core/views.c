/* Views: new layouts over the same storage, never a copy (reshape copies
 * only when no strides can express the new shape). */
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"

static zmlx_status norm_axis(const char *op, const zmlx_array *a, int *axis, int ndim) {
  int ax = *axis < 0 ? *axis + ndim : *axis;
  if (ax < 0 || ax >= ndim) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "axis %d out of range for %s", *axis,
                     zmlx_array_format(a, b, sizeof b));
  }
  *axis = ax;
  return ZMLX_STATUS_OK;
}

static zmlx_status view(const zmlx_array *a, int ndim, const int64_t *shape,
                        const int64_t *strides, int64_t offset, zmlx_array **out) {
  return zmlx_array_wrap(a->storage, a->dtype, ndim, shape, strides, offset, out);
}

/* Strides for `shape` over a's elements without copying, following
 * NumPy's rule: each run of new dimensions must map onto a run of old
 * dimensions that is itself contiguous. Returns 0 when impossible. */
static int reshape_strides(const zmlx_array *a, int ndim, const int64_t *shape, int64_t *st) {
  int64_t os[ZMLX_MAX_DIMS], ot[ZMLX_MAX_DIMS];
  int on = 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != 1) {
      os[on] = a->shape[i];
      ot[on++] = a->strides[i];
    }
  int oi = 0, oj = 1, ni = 0, nj = 1;
  while (ni < ndim && oi < on) {
    int64_t np = shape[ni], op = os[oi];
    while (np != op) {
      if (np < op) {
        if (nj >= ndim) return 0;
        np *= shape[nj++];
      } else {
        if (oj >= on) return 0;
        op *= os[oj++];
      }
    }
    for (int k = oi; k < oj - 1; k++)
      if (ot[k] != os[k + 1] * ot[k + 1]) return 0;
    st[nj - 1] = ot[oj - 1];
    for (int k = nj - 1; k > ni; k--) st[k - 1] = st[k] * shape[k];
    ni = nj++;
    oi = oj++;
  }
  /* Trailing length-1 dimensions. */
  for (int k = ni; k < ndim; k++) st[k] = (k > 0 ? st[k - 1] : 1);
  for (int k = 0; k < ndim; k++)
    if (shape[k] == 1) st[k] = (k + 1 < ndim) ? st[k + 1] * shape[k + 1] : 1;
  return 1;
}

zmlx_status zmlx_array_reshape(zmlx_array *a, int ndim, const int64_t *shape_in,
                               zmlx_array **out) {
  static const char *op = "array_reshape";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  if (ndim < 0 || ndim > ZMLX_MAX_DIMS || (ndim && !shape_in))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "bad ndim %d", ndim);
  int64_t shape[ZMLX_MAX_DIMS], known = 1, numel = zmlx_array_numel(a);
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    shape[i] = shape_in[i];
    if (shape[i] == -1 && infer < 0) {
      infer = i;
      continue;
    }
    if (shape[i] < 0) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "bad dimension %lld", (long long)shape[i]);
    if (shape[i] && known > INT64_MAX / shape[i]) {
      char c[300];
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "shape %s overflows 64 bits",
                       zmlx_shape_format(ndim, shape_in, c, sizeof c));
    }
    known *= shape[i];
  }
  if (infer >= 0) shape[infer] = known ? numel / known : 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  if (n != numel) {
    char b[300], c[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "cannot reshape %s to %s",
                     zmlx_array_format(a, b, sizeof b), zmlx_shape_format(ndim, shape_in, c, sizeof c));
  }
  int64_t st[ZMLX_MAX_DIMS];
  if (zmlx_array_is_contiguous(a) || numel == 0) {
    zmlx_strides_contiguous(ndim, shape, st);
    return view(a, ndim, shape, st, a->offset, out);
  }
  if (reshape_strides(a, ndim, shape, st)) return view(a, ndim, shape, st, a->offset, out);
  zmlx_array *c;
  ZMLX_TRY(zmlx_array_contiguous(a, &c));
  zmlx_strides_contiguous(ndim, shape, st);
  zmlx_status s = view(c, ndim, shape, st, c->offset, out);
  zmlx_array_release(c);
  return s;
}

zmlx_status zmlx_array_permute(zmlx_array *a, const int *perm, zmlx_array **out) {
  static const char *op = "array_permute";
  if (!a || !out || (a->ndim && !perm))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  int64_t shape[ZMLX_MAX_DIMS], st[ZMLX_MAX_DIMS];
  int seen[ZMLX_MAX_DIMS] = {0};
  for (int i = 0; i < a->ndim; i++) {
    int p = perm[i];
    ZMLX_TRY(norm_axis(op, a, &p, a->ndim));
    if (seen[p]++)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "axis %d repeated in the permutation", p);
    shape[i] = a->shape[p];
    st[i] = a->strides[p];
  }
  return view(a, a->ndim, shape, st, a->offset, out);
}

zmlx_status zmlx_array_transpose(zmlx_array *a, int axis0, int axis1, zmlx_array **out) {
  static const char *op = "array_transpose";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(norm_axis(op, a, &axis0, a->ndim));
  ZMLX_TRY(norm_axis(op, a, &axis1, a->ndim));
  int perm[ZMLX_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++) perm[i] = i;
  perm[axis0] = axis1;
  perm[axis1] = axis0;
  return zmlx_array_permute(a, perm, out);
}

zmlx_status zmlx_array_slice(zmlx_array *a, int axis, int64_t start, int64_t stop, int64_t step,
                             zmlx_array **out) {
  static const char *op = "array_slice";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(norm_axis(op, a, &axis, a->ndim));
  if (step == 0) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "step is 0");
  int64_t n = a->shape[axis];
  /* Python's clamping: negative counts from the end, then clamp. */
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  start = start < lo ? lo : (start > hi ? hi : start);
  stop = stop < lo ? lo : (stop > hi ? hi : stop);
  /* In unsigned arithmetic: |step| may be as large as 2^63. */
  uint64_t ustep = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
  int64_t len = step > 0 ? (stop > start ? (int64_t)(((uint64_t)(stop - start) - 1) / ustep) + 1 : 0)
                         : (start > stop ? (int64_t)(((uint64_t)(start - stop) - 1) / ustep) + 1 : 0);
  int64_t shape[ZMLX_MAX_DIMS], st[ZMLX_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  memcpy(st, a->strides, sizeof st);
  shape[axis] = len;
  st[axis] = len > 1 ? a->strides[axis] * step : a->strides[axis];
  int64_t off = a->offset + (len ? start * a->strides[axis] : 0);
  return view(a, a->ndim, shape, st, off, out);
}

zmlx_status zmlx_array_broadcast_to(zmlx_array *a, int ndim, const int64_t *shape,
                                    zmlx_array **out) {
  static const char *op = "array_broadcast_to";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(zmlx_shape_check(op, ndim, shape, NULL));
  int64_t st[ZMLX_MAX_DIMS];
  int lead = ndim - a->ndim;
  for (int i = 0; i < ndim; i++) {
    int j = i - lead;
    if (j < 0) {
      st[i] = 0;
    } else if (a->shape[j] == shape[i]) {
      st[i] = a->strides[j];
    } else if (a->shape[j] == 1) {
      st[i] = 0;
    } else {
      lead = -1;
      break;
    }
  }
  if (lead < 0) {
    char b[300], c[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "cannot broadcast %s to %s",
                     zmlx_array_format(a, b, sizeof b), zmlx_shape_format(ndim, shape, c, sizeof c));
  }
  return view(a, ndim, shape, st, a->offset, out);
}

zmlx_status zmlx_array_expand_dims(zmlx_array *a, int axis, zmlx_array **out) {
  static const char *op = "array_expand_dims";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  if (a->ndim >= ZMLX_MAX_DIMS)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "already %d dimensions", a->ndim);
  ZMLX_TRY(norm_axis(op, a, &axis, a->ndim + 1));
  int64_t shape[ZMLX_MAX_DIMS], st[ZMLX_MAX_DIMS];
  for (int i = 0, j = 0; i <= a->ndim; i++) {
    if (i == axis) {
      shape[i] = 1;
      st[i] = (j < a->ndim) ? a->strides[j] * a->shape[j] : 1;
    } else {
      shape[i] = a->shape[j];
      st[i] = a->strides[j++];
    }
  }
  return view(a, a->ndim + 1, shape, st, a->offset, out);
}

zmlx_status zmlx_array_squeeze(zmlx_array *a, int axis, zmlx_array **out) {
  static const char *op = "array_squeeze";
  if (!a || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(norm_axis(op, a, &axis, a->ndim));
  if (a->shape[axis] != 1) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "axis %d of %s has length %lld, not 1", axis,
                     zmlx_array_format(a, b, sizeof b), (long long)a->shape[axis]);
  }
  int64_t shape[ZMLX_MAX_DIMS], st[ZMLX_MAX_DIMS];
  for (int i = 0, j = 0; i < a->ndim; i++)
    if (i != axis) {
      shape[j] = a->shape[i];
      st[j++] = a->strides[i];
    }
  return view(a, a->ndim - 1, shape, st, a->offset, out);
}
