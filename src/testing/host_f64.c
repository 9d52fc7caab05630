/* Moving arrays to the host as f64, where the helpers do their numerics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "testing/testing_internal.h"

zmlx_status ztst_cpu_copy(zmlx_array *a, zmlx_dtype dtype, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(a, d);
  /* empty + copy_into, never astype or to_device: those may hand back a
   * itself, and the gradient check writes into its copies. */
  ZMLX_TRY(zmlx_array_empty(dtype, nd, shape, ZMLX_CPU, out));
  zmlx_status s = zmlx_array_copy_into(*out, a);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

double *ztst_data_f64(zmlx_array *a) { return (double *)zmlx_array_describe(a).data; }

zmlx_status ztst_read_f64(zmlx_array *a, double **out) {
  *out = NULL;
  zmlx_array *c = NULL;
  ZMLX_TRY(ztst_cpu_copy(a, ZMLX_DTYPE_F64, &c));
  size_t n = (size_t)zmlx_array_numel(c);
  *out = malloc((n ? n : 1) * sizeof **out);
  if (*out && n) memcpy(*out, ztst_data_f64(c), n * sizeof **out);
  zmlx_array_release(c);
  return *out ? ZMLX_STATUS_OK : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "testing", "out of host memory");
}

const char *ztst_index_format(int ndim, const int64_t *shape, int64_t flat, char *buf,
                              size_t len) {
  int64_t idx[ZMLX_MAX_DIMS];
  for (int d = ndim - 1; d >= 0; d--) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int d = 0; d < ndim && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, "%s%lld", d ? ", " : "", (long long)idx[d]);
  if (used < len) snprintf(buf + used, len - used, "]");
  return buf;
}

const char *ztst_shape_format(const zmlx_check_shape *s, char *buf, size_t len) {
  return zmlx_shape_format(s->ndim, s->dims, buf, len);
}
