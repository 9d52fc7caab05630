/* Argument checks for the catalog's ops. Messages name the op and show
 * the arrays as zmlx_array_format writes them ("(4, 5) f32 cpu"). */
#include <stdio.h>
#include <string.h>

#include "catalog/cat_internal.h"
#include "core/error.h"

static const char *dtype_list(unsigned dtypes, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int t = 0; t < ZMLX_DTYPE_COUNT && used < len; t++)
    if (dtypes & (1u << t))
      used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                               zmlx_dtype_name((zmlx_dtype)t));
  return buf;
}

zmlx_status zcat_check_dtype(const char *op, const char *name, const zmlx_array *a,
                           unsigned dtypes) {
  if (!a) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input %s is NULL", name);
  zmlx_dtype t = zmlx_array_dtype(a);
  if (t < ZMLX_DTYPE_COUNT && (dtypes & (1u << t))) return ZMLX_STATUS_OK;
  char b1[300], b2[200];
  return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "%s is %s; supported dtypes: %s", name,
                   zmlx_array_format(a, b1, sizeof b1), dtype_list(dtypes, b2, sizeof b2));
}

zmlx_status zcat_check_like(const char *op, const char *name, const zmlx_array *a, int n,
                          const char *const *names, zmlx_array *const *arrays) {
  zmlx_device da = zmlx_array_device(a);
  for (int i = 0; i < n; i++) {
    const zmlx_array *b = arrays[i];
    if (!b) continue;
    char b1[300], b2[300];
    zmlx_device db = zmlx_array_device(b);
    if (db.type != da.type || db.index != da.index)
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "%s is %s but %s is %s", name,
                       zmlx_array_format(a, b1, sizeof b1), names[i],
                       zmlx_array_format(b, b2, sizeof b2));
    if (zmlx_array_dtype(b) != zmlx_array_dtype(a))
      return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                       "%s is %s but %s is %s: the inputs must share one dtype", name,
                       zmlx_array_format(a, b1, sizeof b1), names[i],
                       zmlx_array_format(b, b2, sizeof b2));
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zcat_check_same_shape(const char *op, const char *na, const zmlx_array *a,
                                const char *nb, const zmlx_array *b) {
  int same = zmlx_array_ndim(a) == zmlx_array_ndim(b);
  for (int d = 0; same && d < zmlx_array_ndim(a); d++)
    same = zmlx_array_dim(a, d) == zmlx_array_dim(b, d);
  if (same) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s but %s is %s: shapes must match", na,
                   zmlx_array_format(a, b1, sizeof b1), nb, zmlx_array_format(b, b2, sizeof b2));
}

zmlx_status zcat_check_vector(const char *op, const char *nb, const zmlx_array *b, int64_t len,
                            const char *what) {
  if (zmlx_array_ndim(b) == 1 && zmlx_array_dim(b, 0) == len) return ZMLX_STATUS_OK;
  char b1[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s, needs (%lld,) (%s)", nb,
                   zmlx_array_format(b, b1, sizeof b1), (long long)len, what);
}

zmlx_status zcat_check_out(const char *op, const char *name, const void *out) {
  return out ? ZMLX_STATUS_OK
             : zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "result pointer %s is NULL", name);
}
