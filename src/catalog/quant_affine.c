/* MLX's affine format: quantize (one point per group of 32, 64 or 128
 * values) and dequantize (one point per u32 word). The formulas and where
 * they come from are in zmlx/catalog_quant.h. */
#include <stdint.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/quant_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

#define MLX_DTYPES \
  ((1u << ZMLX_DTYPE_F32) | (1u << ZMLX_DTYPE_F16) | (1u << ZMLX_DTYPE_BF16))

static zmlx_status check_params(const char *op, int bits, int group_size) {
  if (bits != 2 && bits != 4 && bits != 8)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "bits %d: MLX's affine format takes 2, 4 or 8",
                     bits);
  if (group_size != 32 && group_size != 64 && group_size != 128)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "group_size %d: MLX's affine format takes 32, 64 or 128", group_size);
  return ZMLX_STATUS_OK;
}

static int tmax_code(zmlx_dtype t) {
  return t == ZMLX_DTYPE_F16 ? 1 : t == ZMLX_DTYPE_BF16 ? 2 : 0;
}

static void release3(zmlx_array **a, zmlx_array **b, zmlx_array **c) {
  zmlx_array_release(*a);
  zmlx_array_release(*b);
  zmlx_array_release(*c);
  *a = *b = *c = NULL;
}

zmlx_status zmlx_affine_quantize(zmlx_array *w, int bits, int group_size, zmlx_array **wq,
                                 zmlx_array **scales, zmlx_array **biases) {
  const char *op = "affine_quantize";
  ZMLX_TRY(zcat_check_out(op, "wq", wq));
  ZMLX_TRY(zcat_check_out(op, "scales", scales));
  ZMLX_TRY(zcat_check_out(op, "biases", biases));
  *wq = *scales = *biases = NULL;
  ZMLX_TRY(check_params(op, bits, group_size));
  ZMLX_TRY(zcat_check_dtype(op, "w", w, MLX_DTYPES));
  char b1[300];
  int nd = zmlx_array_ndim(w);
  if (nd < 1 || zmlx_array_dim(w, -1) % group_size)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "w is %s: its last dimension must be a multiple of group_size %d",
                     zmlx_array_format(w, b1, sizeof b1), group_size);
  int64_t K = zmlx_array_dim(w, -1), sh_q[ZMLX_MAX_DIMS], sh_s[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) sh_q[d] = sh_s[d] = zmlx_array_dim(w, d);
  sh_q[nd - 1] = K * bits / 32;
  sh_s[nd - 1] = K / group_size;
  zmlx_dtype t = zmlx_array_dtype(w);
  zmlx_device dev = zmlx_array_device(w);
  zmlx_array *q = NULL, *s_ = NULL, *b = NULL;
  zmlx_status s = zmlx_array_empty_op(op, ZMLX_DTYPE_U32, nd, sh_q, dev, &q);
  if (!s) s = zmlx_array_empty_op(op, t, nd, sh_s, dev, &s_);
  if (!s) s = zmlx_array_empty_op(op, t, nd, sh_s, dev, &b);
  int64_t groups = zmlx_array_numel(w) / group_size;
  if (!s && groups > 0) {
    zmlx_kernel *k;
    s = zq_kernel(ZQ_AFFINE_QUANT, &k);
    zmlx_template_arg tp[] = {{"TMAX", ZMLX_TEMPLATE_INT, tmax_code(t)},
                              {"IDX32", ZMLX_TEMPLATE_BOOL, zmlx_array_numel(w) < INT32_MAX - 256},
                              {"F64", ZMLX_TEMPLATE_BOOL, 0}};
    double sc[3] = {(double)groups, bits, group_size};
    zmlx_launch_config cfg = {.grid = {groups, 1, 1}, .n_templates = 3, .templates = tp,
                              .n_scalars = 3, .scalars = sc};
    zmlx_array *outs[3] = {q, s_, b};
    if (!s) s = zk_launch(k, 1, &w, &cfg, outs, ZK_OUTPUTS_GIVEN);
  }
  if (s) {
    release3(&q, &s_, &b);
    return zmlx_fail_wrap(s, op);
  }
  *wq = q;
  *scales = s_;
  *biases = b;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_affine_dequantize(zmlx_array *wq, zmlx_array *scales, zmlx_array *biases,
                                   int bits, int group_size, zmlx_dequant_act act,
                                   zmlx_array **out) {
  const char *suffix = zq_act_suffix(act);
  if (!suffix)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "affine_dequantize", "act %d is not valid",
                     (int)act);
  char op[64];
  snprintf(op, sizeof op, "affine_dequantize%s", suffix);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_params(op, bits, group_size));
  static const char *names[] = {"biases"};
  ZMLX_TRY(zcat_check_dtype(op, "wq", wq, 1u << ZMLX_DTYPE_U32));
  ZMLX_TRY(zcat_check_dtype(op, "scales", scales, MLX_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "biases", biases, MLX_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "scales", scales, 1, names, &biases));
  char b1[300], b2[300];
  zmlx_device dq = zmlx_array_device(wq), ds = zmlx_array_device(scales);
  if (dq.type != ds.type || dq.index != ds.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "wq is %s but scales are %s",
                     zmlx_array_format(wq, b1, sizeof b1), zmlx_array_format(scales, b2, sizeof b2));
  ZMLX_TRY(zcat_check_same_shape(op, "scales", scales, "biases", biases));
  int nd = zmlx_array_ndim(wq);
  int ok = nd >= 1 && zmlx_array_ndim(scales) == nd;
  for (int d = 0; ok && d < nd - 1; d++) ok = zmlx_array_dim(wq, d) == zmlx_array_dim(scales, d);
  int64_t K = nd >= 1 ? zmlx_array_dim(wq, -1) * (32 / bits) : 0;
  if (!ok || zmlx_array_dim(scales, -1) * group_size != K)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "wq is %s and scales %s: with bits %d and group_size %d, wq needs "
                     "(..., K * %d / 32) and scales (..., K / %d) with the same leading sizes",
                     zmlx_array_format(wq, b1, sizeof b1), zmlx_array_format(scales, b2, sizeof b2),
                     bits, group_size, bits, group_size);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(wq, d);
  shape[nd - 1] = K;
  zmlx_array *res = NULL;
  zmlx_status s =
      zmlx_array_empty_op(op, zmlx_array_dtype(scales), nd, shape, zmlx_array_device(wq), &res);
  int64_t words = zmlx_array_numel(wq);
  if (!s && words > 0) {
    zmlx_kernel *k;
    s = zq_kernel(ZQ_AFFINE_DEQUANT, &k);
    int cuda = zmlx_array_device(res).type == ZMLX_DEVICE_CUDA;
    zmlx_template_arg tp[] = {{"BITS", ZMLX_TEMPLATE_INT, bits},
                              {"IDX32", ZMLX_TEMPLATE_BOOL, zmlx_array_numel(res) < INT32_MAX - 256},
                              {"F64", ZMLX_TEMPLATE_BOOL, 0},
                              {"ACTC", ZMLX_TEMPLATE_INT, cuda ? (int)act : -1}};
    double sc[3] = {(double)words, group_size, act};
    zmlx_launch_config cfg = {.grid = {words, 1, 1}, .n_templates = 4, .templates = tp,
                              .n_scalars = 3, .scalars = sc};
    zmlx_array *in[3] = {wq, scales, biases}, *outs[1] = {res};
    if (!s) s = zk_launch(k, 3, in, &cfg, outs, ZK_OUTPUTS_GIVEN);
  }
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, op);
  }
  *out = res;
  return ZMLX_STATUS_OK;
}
