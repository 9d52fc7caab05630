/* Dequantization of packed codes with per-group scales (int8, int4, fp8,
 * NF4), optionally fused with an activation. One raw kernel serves every
 * format; see quant_kernels.c. */
#include <stdint.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/quant_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

#define BIT(t) (1u << (t))

const char *zmlx_qformat_name(zmlx_qformat format) {
  static const char *const names[ZMLX_QFORMAT_COUNT] = {"int8", "int4", "fp8_e4m3", "fp8_e5m2",
                                                        "nf4"};
  return (unsigned)format < ZMLX_QFORMAT_COUNT ? names[format] : "?";
}

/* The dtypes q may have for a format. */
static unsigned code_dtypes(zmlx_qformat f) {
  switch (f) {
    case ZMLX_QFORMAT_INT8: return BIT(ZMLX_DTYPE_I8);
    case ZMLX_QFORMAT_FP8_E4M3: return BIT(ZMLX_DTYPE_FP8_E4M3) | BIT(ZMLX_DTYPE_U8);
    case ZMLX_QFORMAT_FP8_E5M2: return BIT(ZMLX_DTYPE_FP8_E5M2) | BIT(ZMLX_DTYPE_U8);
    default: return BIT(ZMLX_DTYPE_U8);
  }
}

static int two_per_byte(zmlx_qformat f) { return f == ZMLX_QFORMAT_INT4 || f == ZMLX_QFORMAT_NF4; }

/* scales (and biases) against q: (..., K / G) with q's leading sizes, or
 * 0-d. *per_tensor tells which. */
static zmlx_status check_scales(const char *op, const zmlx_array *q, const zmlx_array *sc,
                                int64_t K, int64_t G, int *per_tensor) {
  char b1[300], b2[300];
  int nd = zmlx_array_ndim(q);
  *per_tensor = zmlx_array_ndim(sc) == 0;
  if (*per_tensor) return ZMLX_STATUS_OK;
  int ok = zmlx_array_ndim(sc) == nd;
  for (int d = 0; ok && d < nd - 1; d++) ok = zmlx_array_dim(sc, d) == zmlx_array_dim(q, d);
  int64_t want = G > 0 ? K / G : 1;
  if (ok && G > 0 && K % G)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "q is %s: its %lld values per row are not a multiple of group_size %lld",
                     zmlx_array_format(q, b1, sizeof b1), (long long)K, (long long)G);
  if (ok && zmlx_array_dim(sc, -1) == want) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "scales are %s but q is %s (%lld values per row, group_size %lld): scales "
                   "need q's leading sizes and %lld per row, or no dimensions",
                   zmlx_array_format(sc, b2, sizeof b2), zmlx_array_format(q, b1, sizeof b1),
                   (long long)K, (long long)G, (long long)want);
}

static zmlx_status check_args(const char *op, zmlx_qformat format, zmlx_array *q,
                              zmlx_array *scales, zmlx_array *biases, int64_t group_size,
                              int64_t *K, int *per_tensor) {
  static const char *names[] = {"scales", "biases"};
  ZMLX_TRY(zcat_check_dtype(op, "q", q, code_dtypes(format)));
  ZMLX_TRY(zcat_check_dtype(op, "scales", scales, ZCAT_FLOAT_DTYPES));
  if (biases) ZMLX_TRY(zcat_check_dtype(op, "biases", biases, ZCAT_FLOAT_DTYPES));
  zmlx_array *others[2] = {NULL, biases};
  ZMLX_TRY(zcat_check_like(op, "scales", scales, 2, names, others));
  zmlx_device dq = zmlx_array_device(q), ds = zmlx_array_device(scales);
  char b1[300], b2[300];
  if (dq.type != ds.type || dq.index != ds.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "q is %s but scales are %s",
                     zmlx_array_format(q, b1, sizeof b1), zmlx_array_format(scales, b2, sizeof b2));
  if (zmlx_array_ndim(q) < 1)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "q is %s: needs at least one dimension",
                     zmlx_array_format(q, b1, sizeof b1));
  if (group_size < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "group_size %lld is negative",
                     (long long)group_size);
  *K = zmlx_array_dim(q, -1) * (two_per_byte(format) ? 2 : 1);
  if (biases) ZMLX_TRY(zcat_check_same_shape(op, "scales", scales, "biases", biases));
  return check_scales(op, q, scales, *K, group_size, per_tensor);
}

static int aligned(const zmlx_array *a, size_t bytes) {
  return (uintptr_t)zmlx_array_data(a) % bytes == 0;
}

static zmlx_status launch(zmlx_qformat format, zmlx_array *q, zmlx_array *sc, zmlx_array *bi,
                          int64_t K, int64_t G, int per_tensor, zmlx_dequant_act act,
                          zmlx_array *out) {
  zmlx_kernel *k;
  ZMLX_TRY(zq_kernel(ZQ_DEQUANT, &k));
  int64_t n = zmlx_array_numel(out);
  int nib = two_per_byte(format);
  /* Eight values per point when rows hold whole vectors and the codes
   * allow a single aligned load. */
  int vec = K % 8 == 0 && aligned(q, nib ? 4 : 8) ? 8 : 1;
  int64_t Gv = G > 0 ? G : K;
  int sameg = per_tensor || Gv % vec == 0;
  int cuda = zmlx_array_device(out).type == ZMLX_DEVICE_CUDA;
  int fullwarp = cuda && format == ZMLX_QFORMAT_NF4;
  zmlx_template_arg t[] = {
      {"NIB", ZMLX_TEMPLATE_BOOL, nib}, {"VEC", ZMLX_TEMPLATE_INT, vec},
      {"F64", ZMLX_TEMPLATE_BOOL, zmlx_array_dtype(sc) == ZMLX_DTYPE_F64},
      {"IDX32", ZMLX_TEMPLATE_BOOL, n < INT32_MAX - 16},
      {"FULLWARP", ZMLX_TEMPLATE_BOOL, fullwarp},
      /* Constants on CUDA (fast kernels); run-time on the CPU (few compiles). */
      {"FMTC", ZMLX_TEMPLATE_INT, cuda ? (int)format : -1},
      {"ACTC", ZMLX_TEMPLATE_INT, cuda ? (int)act : -1},
  };
  int64_t points = n / vec;
  int block = 256;
  if (fullwarp) points = (points + block - 1) / block * block;
  double scalars[5] = {(double)n, (double)K, (double)Gv, (double)(per_tensor ? 1 : K / Gv),
                       (double)((bi ? 1 : 0) | (per_tensor ? 2 : 0) | (sameg ? 4 : 0) |
                                ((int)format << 4) | ((int)act << 8))};
  zmlx_array *in[3] = {q, sc, bi ? bi : sc};
  zmlx_launch_config cfg = {.grid = {points, 1, 1}, .block = {fullwarp ? block : 0, 1, 1},
                            .n_templates = (int)(sizeof t / sizeof t[0]), .templates = t,
                            .n_scalars = 5, .scalars = scalars};
  zmlx_array *outs[1] = {out};
  return zk_launch(k, 3, in, &cfg, outs, ZK_OUTPUTS_GIVEN);
}

zmlx_status zmlx_dequantize(zmlx_qformat format, zmlx_array *q, zmlx_array *scales,
                            zmlx_array *biases, int64_t group_size, zmlx_dequant_act act,
                            zmlx_array **out) {
  if ((unsigned)format >= ZMLX_QFORMAT_COUNT || !zq_act_suffix(act))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "dequant", "format %d / act %d is not valid",
                     (int)format, (int)act);
  char op[64];
  snprintf(op, sizeof op, "dequant_%s%s", zmlx_qformat_name(format), zq_act_suffix(act));
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  int64_t K = 0;
  int per_tensor = 0;
  ZMLX_TRY(check_args(op, format, q, scales, biases, group_size, &K, &per_tensor));
  int nd = zmlx_array_ndim(q);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(q, d);
  shape[nd - 1] = K;
  zmlx_array *res = NULL, *qc = NULL;
  zmlx_status s = zmlx_array_empty_op(op, zmlx_array_dtype(scales), nd, shape,
                                      zmlx_array_device(q), &res);
  /* The kernel indexes rows itself: codes contiguous (scales and biases
   * are made contiguous by the launcher). */
  if (!s && zmlx_array_numel(res) > 0) {
    s = zmlx_array_contiguous(q, &qc);
    if (!s) s = launch(format, qc, scales, biases, K, group_size, per_tensor, act, res);
  }
  zmlx_array_release(qc);
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, op);
  }
  *out = res;
  return ZMLX_STATUS_OK;
}
