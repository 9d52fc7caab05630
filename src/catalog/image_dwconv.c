/* Depthwise 3x3 convolution (NHWC, stride 1, padding 1) and its
 * backward. dx is a gather with the taps flipped; dw and dbias reduce over
 * every pixel: each point of a first kernel sums one block of image rows
 * for one channel (neighbouring threads, neighbouring channels), and a
 * second kernel adds the blocks. */
#include <stdint.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/image_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

#define OP "depthwise_conv3x3"

static zmlx_status check(zmlx_array *x, zmlx_array *w, zmlx_array *bias, zmlx_array *dy) {
  static const char *names[] = {"w", "bias", "dy"};
  zmlx_array *others[3] = {w, bias, dy};
  ZMLX_TRY(zcat_check_dtype(OP, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(OP, "w", w, ZCAT_FLOAT_DTYPES));
  if (bias) ZMLX_TRY(zcat_check_dtype(OP, "bias", bias, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(OP, "x", x, 3, names, others));
  char b1[300], b2[300];
  if (zmlx_array_ndim(x) != 4)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, OP, "x is %s: needs (N, H, W, C)",
                     zmlx_array_format(x, b1, sizeof b1));
  int64_t C = zmlx_array_dim(x, 3);
  if (zmlx_array_ndim(w) != 3 || zmlx_array_dim(w, 0) != 3 || zmlx_array_dim(w, 1) != 3 ||
      zmlx_array_dim(w, 2) != C)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, OP, "w is %s but x is %s: w needs (3, 3, %lld)",
                     zmlx_array_format(w, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2),
                     (long long)C);
  if (bias) ZMLX_TRY(zcat_check_vector(OP, "bias", bias, C, "x's channels"));
  if (dy) ZMLX_TRY(zcat_check_same_shape(OP, "x", x, "dy", dy));
  return ZMLX_STATUS_OK;
}

static int f64(const zmlx_array *a) { return zmlx_array_dtype(a) == ZMLX_DTYPE_F64; }

/* A kernel over n points writing outs (given); sc as the kernel takes. */
static zmlx_status launch(zi_kernel_id id, int n_in, zmlx_array **in, int n_out, zmlx_array **outs,
                          int64_t n, int64_t biggest, int n_sc, const double *sc) {
  if (n == 0) return ZMLX_STATUS_OK;
  zmlx_kernel *k;
  ZMLX_TRY(zi_kernel(id, &k));
  zmlx_template_arg t[] = {{"F64", ZMLX_TEMPLATE_BOOL, f64(in[0])},
                           {"IDX32", ZMLX_TEMPLATE_BOOL, biggest < INT32_MAX - 16}};
  zmlx_launch_config cfg = {.grid = {n, 1, 1}, .n_templates = 2, .templates = t,
                            .n_scalars = n_sc, .scalars = sc};
  return zk_launch(k, n_in, in, &cfg, outs, ZK_OUTPUTS_GIVEN);
}

zmlx_status zmlx_depthwise_conv3x3(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                   zmlx_array **out) {
  ZMLX_TRY(zcat_check_out(OP, "out", out));
  *out = NULL;
  ZMLX_TRY(check(x, w, bias, NULL));
  zmlx_array *res = NULL;
  int64_t shape[4];
  for (int d = 0; d < 4; d++) shape[d] = zmlx_array_dim(x, d);
  ZMLX_TRY(zmlx_array_empty_op(OP, zmlx_array_dtype(x), 4, shape, zmlx_array_device(x), &res));
  int64_t n = zmlx_array_numel(res);
  double sc[5] = {(double)n, (double)shape[1], (double)shape[2], (double)shape[3], bias != NULL};
  zmlx_array *in[3] = {x, w, bias ? bias : w};
  zmlx_status s = launch(ZI_DWCONV, 3, in, 1, &res, n, n, 5, sc);
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, OP);
  }
  *out = res;
  return ZMLX_STATUS_OK;
}

/* Rows per block for the dw reduction: enough blocks times channels to
 * fill the device, and blocks of at least a few rows. */
static int64_t rows_per_block(int64_t rows, int64_t C, zmlx_device dev) {
  int64_t want = dev.type == ZMLX_DEVICE_CUDA ? (131072 + C - 1) / C : 64;
  if (want > 4096) want = 4096;
  if (want < 1) want = 1;
  int64_t R = (rows + want - 1) / want;
  return R < 1 ? 1 : R;
}

static zmlx_status weight_grads(zmlx_array *x, zmlx_array *dy, zmlx_array *dw, zmlx_array *db) {
  int64_t N = zmlx_array_dim(x, 0), H = zmlx_array_dim(x, 1), W = zmlx_array_dim(x, 2);
  int64_t C = zmlx_array_dim(x, 3), rows = N * H;
  if (C == 0) return ZMLX_STATUS_OK;
  if (rows == 0 || W == 0) {
    ZMLX_TRY(zmlx_array_fill(dw, 0));
    return zmlx_array_fill(db, 0);
  }
  zmlx_device dev = zmlx_array_device(x);
  int64_t R = rows_per_block(rows, C, dev), P = (rows + R - 1) / R;
  int64_t pshape[3] = {P, 10, C};
  zmlx_array *part = NULL;
  ZMLX_TRY(zmlx_array_empty(f64(x) ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32, 3, pshape, dev, &part));
  double sc1[6] = {(double)(P * C), (double)rows, (double)H, (double)W, (double)C, (double)R};
  zmlx_array *in1[2] = {x, dy};
  int64_t biggest = zmlx_array_numel(x) > P * 10 * C ? zmlx_array_numel(x) : P * 10 * C;
  zmlx_status s = launch(ZI_DWCONV_PART, 2, in1, 1, &part, P * C, biggest, 6, sc1);
  double sc2[3] = {(double)(10 * C), (double)P, (double)C};
  zmlx_array *outs[2] = {dw, db};
  if (!s) s = launch(ZI_DWCONV_SUM, 1, &part, 2, outs, 10 * C, P * 10 * C, 3, sc2);
  zmlx_array_release(part);
  return s;
}

zmlx_status zmlx_depthwise_conv3x3_backward(zmlx_array *x, zmlx_array *w, zmlx_array *bias,
                                            zmlx_array *dy, zmlx_array **dx, zmlx_array **dw,
                                            zmlx_array **dbias) {
  ZMLX_TRY(zcat_check_out(OP, "dx", dx));
  ZMLX_TRY(zcat_check_out(OP, "dw", dw));
  *dx = *dw = NULL;
  if (dbias) *dbias = NULL;
  if (!dy) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "input dy is NULL");
  ZMLX_TRY(zcat_check_dtype(OP, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check(x, w, bias, dy));
  zmlx_dtype t = zmlx_array_dtype(x);
  zmlx_device dev = zmlx_array_device(x);
  int64_t shape[4], C = zmlx_array_dim(x, 3), wshape[3] = {3, 3, C};
  for (int d = 0; d < 4; d++) shape[d] = zmlx_array_dim(x, d);
  zmlx_array *gx = NULL, *gw = NULL, *gb = NULL;
  zmlx_status s = zmlx_array_empty_op(OP, t, 4, shape, dev, &gx);
  if (!s) s = zmlx_array_empty_op(OP, t, 3, wshape, dev, &gw);
  if (!s) s = zmlx_array_empty_op(OP, t, 1, &C, dev, &gb);
  int64_t n = zmlx_array_numel(x);
  double sc[4] = {(double)n, (double)shape[1], (double)shape[2], (double)C};
  zmlx_array *in[2] = {dy, w};
  if (!s) s = launch(ZI_DWCONV_DX, 2, in, 1, &gx, n, n, 4, sc);
  if (!s) s = weight_grads(x, dy, gw, gb);
  if (s) {
    zmlx_array_release(gx);
    zmlx_array_release(gw);
    zmlx_array_release(gb);
    return zmlx_fail_wrap(s, OP);
  }
  *dx = gx;
  *dw = gw;
  if (dbias && bias)
    *dbias = gb;
  else
    zmlx_array_release(gb);
  return ZMLX_STATUS_OK;
}
