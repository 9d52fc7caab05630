/* The check behind every figure of `zmlx bench`: a fast wrong kernel must
 * not pass. Results are compared in f64 with the op's host reference, a
 * band of rows at a time so host memory stays small at any shape. Every
 * array of the band is first read back and decoded into problem order
 * (see the layouts in suite.h); the reference then works on plain rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/suite.h"
#include "core/error.h"

enum { CHUNK_ELEMENTS = 1 << 20 };

static const char *check_name = "bench check";

double zbs_layout_bytes(char layout, int64_t rows, int64_t cols, zmlx_dtype dtype) {
  if (layout == 'i') return (double)rows * 8.0;
  double n = layout == 'r' ? (double)cols : layout == 'c' ? (double)rows : (double)rows * cols;
  return n * (double)zmlx_dtype_size(dtype);
}

int64_t zbs_mid_inner(int64_t rows) {
  int64_t k = 256;
  while (k > 1 && rows % k) k /= 2;
  return k;
}

void zbs_shape_text(const zbs_op *op, int64_t rows, int64_t cols, char *buf, size_t size) {
  if (op && strchr(op->inputs, 'b')) {
    int64_t k = zbs_mid_inner(rows);
    snprintf(buf, size, "%lldx%lldx%lld", (long long)(rows / k), (long long)cols, (long long)k);
  } else {
    snprintf(buf, size, "%lldx%lld", (long long)rows, (long long)cols);
  }
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
  int64_t i;
  uint16_t h;
  switch (t) {
    case ZMLX_DTYPE_F32: memcpy(&f, p, 4); return f;
    case ZMLX_DTYPE_F64: memcpy(&d, p, 8); return d;
    case ZMLX_DTYPE_F16: memcpy(&h, p, 2); return zmlx_f16_to_f32(h);
    case ZMLX_DTYPE_BF16: memcpy(&h, p, 2); return zmlx_bf16_to_f32(h);
    case ZMLX_DTYPE_I64: memcpy(&i, p, 8); return (double)i;
    default: return NAN;
  }
}

/* Values an array holds for problem rows [r0, r1) in problem order. */
static int64_t band_values(char layout, int64_t n_rows, int64_t cols) {
  return layout == 'r' ? cols : layout == 'c' || layout == 'i' ? n_rows : n_rows * cols;
}

/* Read rows [r0, r1) of one array (of a problem with `rows` rows) and
 * decode them into vals, in problem order. raw holds cap bytes. */
static zmlx_status read_rows(zmlx_array *a, char layout, int64_t rows, int64_t r0, int64_t r1,
                             int64_t cols, unsigned char *raw, size_t cap, double *vals) {
  zmlx_dtype t = zmlx_array_dtype(a);
  size_t es = zmlx_dtype_size(t);
  int64_t n = band_values(layout, r1 - r0, cols);
  zmlx_array *band = NULL, *flat = NULL;
  zmlx_status s;
  if (layout == 'r') {
    s = zmlx_array_to_host(a, raw, cap);
  } else if (layout == 'c' || layout == 'i') {
    /* Any shape of rows elements: the row order is C order. */
    if (zmlx_array_numel(a) != rows) {
      char what[96];
      return zmlx_fail(ZMLX_STATUS_INTERNAL, check_name, "output %s has %lld elements, not %lld",
                       zmlx_array_format(a, what, sizeof what), (long long)zmlx_array_numel(a),
                       (long long)rows);
    }
    int64_t all = -1;
    s = zmlx_array_reshape(a, 1, &all, &flat);
    if (!s) s = zmlx_array_slice(flat, 0, r0, r1, 1, &band);
    if (!s) s = zmlx_array_to_host(band, raw, cap);
  } else if (layout == 'b') {
    int64_t k = zbs_mid_inner(rows); /* r0 and r1 are multiples of k */
    s = zmlx_array_slice(a, 0, r0 / k, r1 / k, 1, &band);
    if (!s) s = zmlx_array_to_host(band, raw, cap);
    if (!s)
      for (int64_t blk = 0; blk < (r1 - r0) / k; blk++) /* x[blk, c, j] is row blk*k + j */
        for (int64_t c = 0; c < cols; c++)
          for (int64_t j = 0; j < k; j++)
            vals[(blk * k + j) * cols + c] =
                decode(t, raw + (size_t)((blk * cols + c) * k + j) * es);
    zmlx_array_release(band);
    return s;
  } else { /* 'm' and 't': (rows, cols) arrays or views */
    s = zmlx_array_slice(a, 0, r0, r1, 1, &band);
    if (!s) s = zmlx_array_to_host(band, raw, cap);
  }
  if (!s)
    for (int64_t i = 0; i < n; i++) vals[i] = decode(t, raw + (size_t)i * es);
  zmlx_array_release(band);
  zmlx_array_release(flat);
  return s;
}

typedef struct band_err {
  double max_diff[ZBS_MAX_IO], max_ref[ZBS_MAX_IO];
  int nan;             /* NaN where the reference has none, or the reverse */
  int bad_index;       /* an index out of [0, cols) */
  int64_t other_picks; /* index outputs: rows that picked another index */
} band_err;

/* The reference of a band, per element when the op has no row reference. */
static void reference(const zbs_op *op, int64_t n_rows, int64_t cols, double *const *in,
                      double *const *want) {
  if (op->ref_rows) {
    op->ref_rows((const double *const *)in, n_rows, cols, want);
    return;
  }
  int n_in = (int)strlen(op->inputs), n_out = (int)strlen(op->outputs);
  double x[ZBS_MAX_IO], y[ZBS_MAX_IO];
  for (int64_t r = 0; r < n_rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      int64_t at = r * cols + c;
      for (int i = 0; i < n_in; i++) {
        char l = op->inputs[i];
        x[i] = in[i][l == 'r' ? c : l == 'c' ? r : at];
      }
      op->ref(x, y);
      for (int j = 0; j < n_out; j++) want[j][at] = y[j];
    }
}

static void compare_values(int j, int64_t n, const double *got, const double *want,
                           band_err *e) {
  for (int64_t i = 0; i < n; i++) {
    if (isnan(got[i]) != isnan(want[i])) e->nan = 1;
    if (isnan(got[i]) || isnan(want[i])) continue;
    e->max_diff[j] = fmax(e->max_diff[j], fabs(got[i] - want[i]));
    e->max_ref[j] = fmax(e->max_ref[j], fabs(want[i]));
  }
}

/* Indices are judged by the values of input 0 they pick (see zbs_check). */
static void compare_indices(int j, int64_t n_rows, int64_t cols, const double *x,
                            const double *got, const double *want, band_err *e) {
  for (int64_t r = 0; r < n_rows; r++) {
    double g = got[r], w = want[r];
    if (!(g >= 0 && g < (double)cols && g == floor(g))) {
      e->bad_index = 1;
      continue;
    }
    double vg = x[r * cols + (int64_t)g], vw = x[r * cols + (int64_t)w];
    e->other_picks += g != w;
    compare_values(j, 1, &vg, &vw, e);
  }
}

static void compare_band(const zbs_op *op, int64_t n_rows, int64_t cols, double *const *in,
                         double *const *got, double *const *want, band_err *e) {
  int n_out = (int)strlen(op->outputs);
  for (int j = 0; j < n_out; j++) {
    char l = op->outputs[j];
    if (l == 'i')
      compare_indices(j, n_rows, cols, in[0], got[j], want[j], e);
    else
      compare_values(j, band_values(l, n_rows, cols), got[j], want[j], e);
  }
}

typedef struct host_bufs {
  unsigned char *raw;
  double *in[ZBS_MAX_IO], *got[ZBS_MAX_IO], *want[ZBS_MAX_IO];
} host_bufs;

static zmlx_status alloc_bufs(const zbs_op *op, int64_t band, int64_t cols, size_t raw_cap,
                              host_bufs *h) {
  int n_in = (int)strlen(op->inputs), n_out = (int)strlen(op->outputs);
  int ok = (h->raw = malloc(raw_cap)) != NULL;
  for (int i = 0; i < n_in && ok; i++) {
    size_t n = (size_t)band_values(op->inputs[i], band, cols) * sizeof(double);
    ok = (h->in[i] = malloc(n)) != NULL;
  }
  for (int j = 0; j < n_out && ok; j++) {
    size_t n = (size_t)band_values(op->outputs[j], band, cols) * sizeof(double);
    ok = (h->got[j] = malloc(n)) && (h->want[j] = malloc(n));
  }
  return ok ? ZMLX_STATUS_OK
            : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, check_name, "out of host memory");
}

static void free_bufs(host_bufs *h) {
  free(h->raw);
  for (int i = 0; i < ZBS_MAX_IO; i++) {
    free(h->in[i]);
    free(h->got[i]);
    free(h->want[i]);
  }
}

zmlx_status zbs_check(const zbs_op *op, int64_t rows, int64_t cols, zmlx_array *const *in,
                      zmlx_array *const *out, double *err, char *note, size_t note_size) {
  int n_in = (int)strlen(op->inputs), n_out = (int)strlen(op->outputs);
  *err = NAN;
  if (note && note_size) note[0] = 0;
  /* A per-element reference cannot make one value per row. */
  if (!op->ref_rows && (!op->ref || strspn(op->outputs, "m") != (size_t)n_out))
    return ZMLX_STATUS_OK;
  /* Bands of whole rows; for a 'b' input, of whole (cols, K) blocks. */
  int64_t group = strchr(op->inputs, 'b') ? zbs_mid_inner(rows) : 1;
  int64_t band = cols >= CHUNK_ELEMENTS ? 1 : CHUNK_ELEMENTS / cols;
  band = band < group ? group : band - band % group;
  if (band > rows) band = rows;
  size_t raw_cap = (size_t)(band * cols) * 8; /* 8: the widest element */
  host_bufs h = {0};
  zmlx_status s = alloc_bufs(op, band, cols, raw_cap, &h);
  band_err e = {{0}, {0}, 0, 0, 0};
  for (int64_t r0 = 0; r0 < rows && !s; r0 += band) {
    int64_t r1 = r0 + band < rows ? r0 + band : rows;
    for (int i = 0; i < n_in && !s; i++)
      s = read_rows(in[i], op->inputs[i], rows, r0, r1, cols, h.raw, raw_cap, h.in[i]);
    for (int j = 0; j < n_out && !s; j++)
      s = read_rows(out[j], op->outputs[j], rows, r0, r1, cols, h.raw, raw_cap, h.got[j]);
    if (s) break;
    reference(op, r1 - r0, cols, h.in, h.want);
    compare_band(op, r1 - r0, cols, h.in, h.got, h.want, &e);
  }
  if (!s) {
    double worst = 0;
    for (int j = 0; j < n_out; j++)
      worst = fmax(worst, e.max_ref[j] > 0 ? e.max_diff[j] / e.max_ref[j] : e.max_diff[j]);
    *err = e.nan || e.bad_index ? INFINITY : worst;
    if (e.other_picks && note && note_size)
      snprintf(note, note_size,
               "%lld of %lld rows picked another index than the reference; err compares the "
               "values picked",
               (long long)e.other_picks, (long long)rows);
  }
  free_bufs(&h);
  return s;
}
