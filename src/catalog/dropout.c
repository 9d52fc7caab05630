/* Dropout: one kernel whose grid point takes one Philox draw (4 words, 8
 * elements of 16 bits each) and the 8 elements it covers, with aligned
 * vector loads and stores on aligned data (the run-time switch `fast`:
 * one compile serves both paths); the same body writes dropout,
 * residual + dropout, or the mask. Inputs with other strides are copied
 * to C order first (element i is the i-th in C order either way). */
#include <math.h>

#include "catalog/cat_internal.h"
#include "catalog/dropout_internal.h"
#include "core/error.h"
#include "zmlx/catalog_dropout.h"

static const char dropout_header[] =
    "#if F64\n"
    "typedef double zd_c;\n"
    "#define ZD_LD(v) zmlx_tod(v)\n"
    "#else\n"
    "typedef float zd_c;\n"
    "#define ZD_LD(v) zmlx_tof(v)\n"
    "#endif\n"
    "typedef struct __attribute__((aligned(16))) { x_t v[8]; } zd_x8;\n"
    "typedef struct __attribute__((aligned(8 * sizeof(y_t) < 16 ? 8 * sizeof(y_t) : 16))) {\n"
    "  y_t v[8];\n"
    "} zd_y8;\n";

static const char dropout_body[] =
    "const long long i0 = gid * 8;\n"
    "const int full = fast && i0 + 8 <= n;\n"
    "#if MODE != 2\n"
    "zd_x8 xv, rv;\n"
    "if (full) {\n"
    "  xv = *(const zd_x8 *)(x + i0);\n"
    "  if (MODE == 1) rv = *(const zd_x8 *)(r + i0);\n"
    "}\n"
    "#endif\n"
    "uint32_t w[4];\n"
    "zmlx_philox(((uint64_t)seed_hi << 32) | seed_lo,\n"
    "            (((uint64_t)off_hi << 32) | off_lo) + (uint64_t)gid, w);\n"
    "const zd_c sc = (zd_c)scale;\n"
    "if (full) {\n"
    "  zd_y8 yv;\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "  for (int k = 0; k < 8; k++) {\n"
    "    const int keep = ((w[k >> 1] >> (16 * (k & 1))) & 0xffffu) >= (uint32_t)thr;\n"
    "#if MODE == 2\n"
    "    yv.v[k] = (zmlx_bool)keep;\n"
    "#elif MODE == 1\n"
    "    zmlx_store(yv.v, k, ZD_LD(rv.v[k]) + (keep ? ZD_LD(xv.v[k]) * sc : (zd_c)0));\n"
    "#else\n"
    "    zmlx_store(yv.v, k, keep ? ZD_LD(xv.v[k]) * sc : (zd_c)0);\n"
    "#endif\n"
    "  }\n"
    "  *(zd_y8 *)(y + i0) = yv;\n"
    "  return;\n"
    "}\n"
    "for (int k = 0; k < 8 && i0 + k < n; k++) {\n"
    "  const int keep = ((w[k >> 1] >> (16 * (k & 1))) & 0xffffu) >= (uint32_t)thr;\n"
    "#if MODE == 2\n"
    "  y[i0 + k] = (zmlx_bool)keep;\n"
    "#elif MODE == 1\n"
    "  zmlx_store(y, i0 + k, ZD_LD(r[i0 + k]) + (keep ? ZD_LD(x[i0 + k]) * sc : (zd_c)0));\n"
    "#else\n"
    "  zmlx_store(y, i0 + k, keep ? ZD_LD(x[i0 + k]) * sc : (zd_c)0);\n"
    "#endif\n"
    "}\n";

static zcat_raw_slot slot;

zmlx_status zcat_dropout_kernel(zmlx_kernel **out) {
  static const char *const ins[] = {"x", "r"}, *const outs[] = {"y"};
  static const char *const scs[] = {"n",   "seed_lo", "seed_hi", "off_lo",
                                    "off_hi", "thr", "scale", "fast"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_U32, ZMLX_DTYPE_U32, ZMLX_DTYPE_U32,
                                   ZMLX_DTYPE_U32, ZMLX_DTYPE_I32, ZMLX_DTYPE_F64, ZMLX_DTYPE_I32};
  zmlx_kernel_desc d = {.name = "dropout", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = ZD_N_SCALARS, .scalar_names = scs,
                        .scalar_dtypes = sct, .source = dropout_body, .header = dropout_header};
  return zcat_raw_get(&slot, &d, out);
}

uint64_t zmlx_dropout_counters(int64_t n) { return n > 0 ? ((uint64_t)n + 7) / 8 : 0; }

static zmlx_status check_p(const char *op, double p) {
  if (p >= 0 && p <= 1) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "p = %g: must be in [0, 1]", p);
}

/* Run MODE over x (and r) into a new array of dtype yt shaped like x. */
static zmlx_status run(const char *op, int mode, zmlx_array *x, zmlx_array *r, double p,
                       uint64_t seed, uint64_t offset, zmlx_dtype yt, zmlx_array **out) {
  int nd = zmlx_array_ndim(x);
  int64_t sh[ZMLX_MAX_DIMS], n = zmlx_array_numel(x), zero = 0;
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(x, d);
  zmlx_array *y = NULL, *dummy = NULL;
  zmlx_status s = zmlx_array_empty(yt, nd, sh, zmlx_array_device(x), &y);
  /* The mask reads no values: give the kernel empty inputs. */
  if (!s && mode == ZD_MODE_MASK)
    s = zmlx_array_empty(zmlx_array_dtype(x), 1, &zero, zmlx_array_device(x), &dummy);
  zmlx_kernel *k = NULL;
  if (!s) s = zcat_dropout_kernel(&k);
  if (!s) {
    zmlx_array *xi = dummy ? dummy : x, *in[2] = {xi, r ? r : xi};
    int fast = zcat_aligned16(in[0]) && zcat_aligned16(in[1]) && zcat_aligned16(y);
    uint32_t thr = (uint32_t)nearbyint(p * 65536.0);
    double scale = thr >= 65536 ? 0.0 : 65536.0 / (double)(65536 - thr);
    zmlx_template_arg tp[2] = {{"MODE", ZMLX_TEMPLATE_INT, mode},
                               {"F64", ZMLX_TEMPLATE_BOOL, zmlx_array_dtype(x) == ZMLX_DTYPE_F64}};
    double sc[ZD_N_SCALARS] = {(double)n,
                               (double)(uint32_t)seed,
                               (double)(uint32_t)(seed >> 32),
                               (double)(uint32_t)offset,
                               (double)(uint32_t)(offset >> 32),
                               (double)thr,
                               scale,
                               fast};
    s = zcat_raw_launch(k, 2, in, 1, &y, (int64_t)zmlx_dropout_counters(n), 2, tp, ZD_N_SCALARS,
                        sc);
  }
  zmlx_array_release(dummy);
  if (s) {
    zmlx_array_release(y);
    return zmlx_fail_wrap(s, op);
  }
  *out = y;
  return s;
}

static zmlx_status drop(const char *op, const char *xn, zmlx_array *x, double p, uint64_t seed,
                        uint64_t offset, zmlx_array **out) {
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, xn, x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_p(op, p));
  return run(op, ZD_MODE_DROPOUT, x, NULL, p, seed, offset, zmlx_array_dtype(x), out);
}

zmlx_status zmlx_dropout(zmlx_array *x, double p, uint64_t seed, uint64_t offset,
                         zmlx_array **out) {
  return drop("dropout", "x", x, p, seed, offset, out);
}

zmlx_status zmlx_dropout_backward(zmlx_array *dy, double p, uint64_t seed, uint64_t offset,
                                  zmlx_array **dx) {
  return drop("dropout", "dy", dy, p, seed, offset, dx);
}

zmlx_status zmlx_dropout_add(zmlx_array *x, zmlx_array *residual, double p, uint64_t seed,
                             uint64_t offset, zmlx_array **out) {
  const char *op = "dropout_add";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "residual", residual, ZCAT_FLOAT_DTYPES));
  static const char *const names[] = {"residual"};
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &residual));
  ZMLX_TRY(zcat_check_same_shape(op, "x", x, "residual", residual));
  ZMLX_TRY(check_p(op, p));
  return run(op, ZD_MODE_ADD, x, residual, p, seed, offset, zmlx_array_dtype(x), out);
}

zmlx_status zmlx_dropout_add_backward(zmlx_array *dy, double p, uint64_t seed, uint64_t offset,
                                      zmlx_array **dx, zmlx_array **dresidual) {
  const char *op = "dropout_add";
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  if (dresidual) *dresidual = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_p(op, p));
  ZMLX_TRY(run(op, ZD_MODE_DROPOUT, dy, NULL, p, seed, offset, zmlx_array_dtype(dy), dx));
  if (dresidual) *dresidual = zmlx_array_retain(dy);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_dropout_mask(zmlx_array *x, double p, uint64_t seed, uint64_t offset,
                              zmlx_array **mask) {
  const char *op = "dropout_mask";
  ZMLX_TRY(zcat_check_out(op, "mask", mask));
  *mask = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_p(op, p));
  return run(op, ZD_MODE_MASK, x, NULL, p, seed, offset, ZMLX_DTYPE_BOOL, mask);
}
