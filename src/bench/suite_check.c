/* The check behind every figure of `zmlx bench`: a fast wrong kernel must
 * not pass. Results are compared in f64 with the op's host reference, a
 * band of rows at a time so host memory stays small at any shape. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/suite.h"
#include "core/error.h"

enum { CHUNK_ELEMENTS = 1 << 20 };

double zbs_layout_bytes(char layout, int64_t rows, int64_t cols, zmlx_dtype dtype) {
  double n = layout == 'r' ? (double)cols : layout == 'c' ? (double)rows : (double)rows * cols;
  return n * (double)zmlx_dtype_size(dtype);
}

double zbs_tolerance(zmlx_dtype dtype) {
  switch (dtype) {
    case ZMLX_DTYPE_F64: return 1e-6; /* the prelude's helpers (zmlx_siluf) are f32 */
    case ZMLX_DTYPE_F32: return 1e-5;
    case ZMLX_DTYPE_F16: return 2e-3;
    case ZMLX_DTYPE_BF16: return 1.6e-2;
    default: return 0;
  }
}

static double decode(zmlx_dtype t, const unsigned char *p) {
  float f;
  double d;
  uint16_t h;
  switch (t) {
    case ZMLX_DTYPE_F32: memcpy(&f, p, 4); return f;
    case ZMLX_DTYPE_F64: memcpy(&d, p, 8); return d;
    case ZMLX_DTYPE_F16: memcpy(&h, p, 2); return zmlx_f16_to_f32(h);
    case ZMLX_DTYPE_BF16: memcpy(&h, p, 2); return zmlx_bf16_to_f32(h);
    default: return NAN;
  }
}

/* One array's values for rows [r0, r1) into host (raw bytes). Vectors
 * ('r') are read whole once by the caller. */
static zmlx_status read_band(zmlx_array *a, char layout, int64_t r0, int64_t r1, void *host,
                             size_t cap) {
  if (layout == 'r') return ZMLX_STATUS_OK;
  zmlx_array *band;
  ZMLX_TRY(zmlx_array_slice(a, 0, r0, r1, 1, &band));
  zmlx_status s = zmlx_array_to_host(band, host, cap);
  zmlx_array_release(band);
  return s;
}

typedef struct band_err {
  double max_diff[ZBS_MAX_IO], max_ref[ZBS_MAX_IO];
  int nan;
} band_err;

static void compare_band(const zbs_op *op, int64_t r0, int64_t r1, int64_t cols, zmlx_dtype t,
                         unsigned char *const *in, unsigned char *const *out, band_err *e) {
  int n_in = (int)strlen(op->inputs), n_out = (int)strlen(op->outputs);
  size_t es = zmlx_dtype_size(t);
  double x[ZBS_MAX_IO], want[ZBS_MAX_IO];
  for (int64_t r = r0; r < r1; r++)
    for (int64_t c = 0; c < cols; c++) {
      int64_t local = (r - r0) * cols + c;
      for (int i = 0; i < n_in; i++) {
        char l = op->inputs[i];
        int64_t at = l == 'r' ? c : l == 'c' ? r - r0 : local;
        x[i] = decode(t, in[i] + (size_t)at * es);
      }
      op->ref(x, want);
      for (int j = 0; j < n_out; j++) {
        double got = decode(t, out[j] + (size_t)local * es);
        if (isnan(got) != isnan(want[j])) e->nan = 1;
        if (isnan(got) || isnan(want[j])) continue;
        e->max_diff[j] = fmax(e->max_diff[j], fabs(got - want[j]));
        e->max_ref[j] = fmax(e->max_ref[j], fabs(want[j]));
      }
    }
}

zmlx_status zbs_check(const zbs_op *op, int64_t rows, int64_t cols, zmlx_array *const *in,
                      zmlx_array *const *out, double *err) {
  int n_in = (int)strlen(op->inputs), n_out = (int)strlen(op->outputs);
  *err = NAN;
  if (!op->ref || strspn(op->outputs, "m") != (size_t)n_out) return ZMLX_STATUS_OK;
  zmlx_dtype t = zmlx_array_dtype(out[0]);
  int64_t band = cols >= CHUNK_ELEMENTS ? 1 : CHUNK_ELEMENTS / cols;
  size_t cap = (size_t)(band * cols) * zmlx_dtype_size(t);
  unsigned char *host_in[ZBS_MAX_IO] = {0}, *host_out[ZBS_MAX_IO] = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n_in && !s; i++) {
    size_t bytes = op->inputs[i] == 'r' ? zmlx_array_nbytes(in[i]) : cap;
    host_in[i] = malloc(bytes ? bytes : 1);
    if (!host_in[i]) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "bench check", "out of host memory");
    else if (op->inputs[i] == 'r') s = zmlx_array_to_host(in[i], host_in[i], bytes);
  }
  for (int j = 0; j < n_out && !s; j++)
    if (!(host_out[j] = malloc(cap)))
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "bench check", "out of host memory");
  band_err e = {{0}, {0}, 0};
  for (int64_t r0 = 0; r0 < rows && !s; r0 += band) {
    int64_t r1 = r0 + band < rows ? r0 + band : rows;
    for (int i = 0; i < n_in && !s; i++) s = read_band(in[i], op->inputs[i], r0, r1, host_in[i], cap);
    for (int j = 0; j < n_out && !s; j++) s = read_band(out[j], 'm', r0, r1, host_out[j], cap);
    if (!s) compare_band(op, r0, r1, cols, t, host_in, host_out, &e);
  }
  if (!s) {
    double worst = 0;
    for (int j = 0; j < n_out; j++)
      worst = fmax(worst, e.max_ref[j] > 0 ? e.max_diff[j] / e.max_ref[j] : e.max_diff[j]);
    *err = e.nan ? INFINITY : worst;
  }
  for (int i = 0; i < ZBS_MAX_IO; i++) {
    free(host_in[i]);
    free(host_out[i]);
  }
  return s;
}
