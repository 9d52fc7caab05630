/* AdamW and SGD steps as in-place elementwise kernels: one pass reads the
 * param (or its master copy), the gradient and the state and writes them
 * back, 16-byte vectors on the fast path (zmlx_elementwise_launch_into
 * with outputs aliasing the inputs). Scalars that depend on the step
 * (bias corrections) are computed here in double. */
#include <math.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "core/error.h"
#include "zmlx/catalog_optim.h"

static const char adamw_expr[] =
    "ZT mm = m + omb1 * (g - m);\n"
    "ZT vv = beta2 * v + omb2 * g * g;\n"
    "ZT pp = p * decay - step_size * mm / (ZC(sqrt)(vv) / bc2s + eps);\n"
    "po = pp; mo = mm; vo = vv;";
static const char adamw_master_expr[] =
    "ZT mm = m + omb1 * (g - m);\n"
    "ZT vv = beta2 * v + omb2 * g * g;\n"
    "ZT pp = w * decay - step_size * mm / (ZC(sqrt)(vv) / bc2s + eps);\n"
    "po = pp; wo = pp; mo = mm; vo = vv;";
static const char sgd_expr[] = "po = p - lr * (g + wd * p);";
static const char sgd_master_expr[] = "ZT pp = w - lr * (g + wd * w);\npo = pp; wo = pp;";
/* `first`: the buffer is created from d (its old content is not read). */
static const char sgd_mom_expr[] =
    "ZT d = g + wd * p;\n"
    "ZT bb = first != ZK(0) ? d : momentum * b + omd * d;\n"
    "po = p - lr * (nesterov != ZK(0) ? d + momentum * bb : bb);\n"
    "bo = bb;";
static const char sgd_mom_master_expr[] =
    "ZT d = g + wd * w;\n"
    "ZT bb = first != ZK(0) ? d : momentum * b + omd * d;\n"
    "ZT pp = w - lr * (nesterov != ZK(0) ? d + momentum * bb : bb);\n"
    "po = pp; wo = pp; bo = bb;";

enum { K_ADAMW, K_ADAMW_MASTER, K_SGD, K_SGD_MASTER, K_SGD_MOM, K_SGD_MOM_MASTER, K_COUNT };

static zcat_ew_slot slots[K_COUNT];

static zmlx_status kernel(int which, zmlx_dtype t, zmlx_elementwise **k) {
  static const char *adam_sc[] = {"decay", "omb1", "beta2", "omb2", "step_size", "bc2s", "eps"};
  static const char *sgd_sc[] = {"lr", "wd", "momentum", "omd", "first", "nesterov"};
  static const struct {
    const char *name, *expr;
    int n_in, n_out, n_sc;
    const char *in[4], *out[4];
    const char *const *sc;
  } defs[K_COUNT] = {
      {"adamw", adamw_expr, 4, 3, 7, {"p", "g", "m", "v"}, {"po", "mo", "vo"}, adam_sc},
      {"adamw_master", adamw_master_expr, 4, 4, 7, {"w", "g", "m", "v"},
       {"po", "wo", "mo", "vo"}, adam_sc},
      {"sgd", sgd_expr, 2, 1, 2, {"p", "g"}, {"po"}, sgd_sc},
      {"sgd_master", sgd_master_expr, 2, 2, 2, {"w", "g"}, {"po", "wo"}, sgd_sc},
      {"sgd_momentum", sgd_mom_expr, 3, 2, 6, {"p", "g", "b"}, {"po", "bo"}, sgd_sc},
      {"sgd_momentum_master", sgd_mom_master_expr, 3, 3, 6, {"w", "g", "b"},
       {"po", "wo", "bo"}, sgd_sc},
  };
  zmlx_elementwise_desc d = {.name = defs[which].name, .n_inputs = defs[which].n_in,
                             .input_names = defs[which].in, .n_outputs = defs[which].n_out,
                             .output_names = defs[which].out, .n_scalars = defs[which].n_sc,
                             .scalar_names = defs[which].sc, .expr = defs[which].expr};
  return zcat_ew_get(&slots[which], &d, t, k);
}

/* Every given array has param's shape and device; dtypes as documented. */
static zmlx_status check_arrays(const char *op, int n, const char *const *names,
                                zmlx_array *const *arrays, const unsigned *dtypes) {
  for (int i = 0; i < n; i++) {
    if (!arrays[i]) continue;
    ZMLX_TRY(zcat_check_dtype(op, names[i], arrays[i], dtypes[i]));
    if (i == 0) continue;
    zmlx_device d0 = zmlx_array_device(arrays[0]), di = zmlx_array_device(arrays[i]);
    char b1[300], b2[300];
    if (d0.type != di.type || d0.index != di.index)
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "%s is %s but %s is %s", names[0],
                       zmlx_array_format(arrays[0], b1, sizeof b1), names[i],
                       zmlx_array_format(arrays[i], b2, sizeof b2));
    ZMLX_TRY(zcat_check_same_shape(op, names[0], arrays[0], names[i], arrays[i]));
  }
  return ZMLX_STATUS_OK;
}

#define MASTER_DTYPES ((1u << ZMLX_DTYPE_F32) | (1u << ZMLX_DTYPE_F64))

zmlx_status zmlx_adamw_step(zmlx_array *param, zmlx_array *master, zmlx_array *grad,
                            zmlx_array *m, zmlx_array *v, const zmlx_adamw_config *cfg) {
  const char *op = master ? "adamw_master" : "adamw";
  static const char *names[] = {"param", "master", "grad", "m", "v"};
  if (!grad || !m || !v || !param)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input %s is NULL",
                     !param ? "param" : !grad ? "grad" : !m ? "m" : "v");
  zmlx_array *arrays[5] = {param, master, grad, m, v};
  const unsigned dt[5] = {ZCAT_FLOAT_DTYPES, MASTER_DTYPES, ZCAT_FLOAT_DTYPES, ZCAT_FLOAT_DTYPES,
                          ZCAT_FLOAT_DTYPES};
  ZMLX_TRY(check_arrays(op, 5, names, arrays, dt));
  if (!cfg) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "config is NULL");
  if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) ||
      !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps >= 0) || !(cfg->weight_decay >= 0) ||
      cfg->step < 1)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "lr %g, betas (%g, %g), eps %g, weight_decay %g, step %lld: needs lr, eps, "
                     "weight_decay >= 0, betas in [0, 1), step >= 1",
                     cfg->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay,
                     (long long)cfg->step);
  double t = (double)cfg->step;
  double sc[7] = {1 - cfg->lr * cfg->weight_decay,
                  1 - cfg->beta1,
                  cfg->beta2,
                  1 - cfg->beta2,
                  cfg->lr / (1 - pow(cfg->beta1, t)),
                  sqrt(1 - pow(cfg->beta2, t)),
                  cfg->eps};
  zmlx_dtype ct = master ? zmlx_array_dtype(master) : zmlx_array_dtype(param);
  zmlx_elementwise *k;
  zmlx_status s = kernel(master ? K_ADAMW_MASTER : K_ADAMW, ct, &k);
  if (!s && master) {
    zmlx_array *in[4] = {master, grad, m, v}, *out[4] = {param, master, m, v};
    s = zmlx_elementwise_launch_into(k, 4, in, 7, sc, out);
  } else if (!s) {
    zmlx_array *in[4] = {param, grad, m, v}, *out[3] = {param, m, v};
    s = zmlx_elementwise_launch_into(k, 4, in, 7, sc, out);
  }
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_sgd_step(zmlx_array *param, zmlx_array *master, zmlx_array *grad,
                          zmlx_array *buf, const zmlx_sgd_config *cfg) {
  const char *op = cfg && cfg->nesterov ? "sgd_nesterov" : "sgd";
  static const char *names[] = {"param", "master", "grad", "buf"};
  if (!param || !grad)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input %s is NULL",
                     !param ? "param" : "grad");
  zmlx_array *arrays[4] = {param, master, grad, buf};
  const unsigned dt[4] = {ZCAT_FLOAT_DTYPES, MASTER_DTYPES, ZCAT_FLOAT_DTYPES, ZCAT_FLOAT_DTYPES};
  ZMLX_TRY(check_arrays(op, 4, names, arrays, dt));
  if (!cfg) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "config is NULL");
  if (!(cfg->lr >= 0) || !(cfg->momentum >= 0) || !(cfg->weight_decay >= 0) ||
      !isfinite(cfg->dampening) ||
      (cfg->nesterov && (cfg->momentum <= 0 || cfg->dampening != 0)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "lr %g, momentum %g, dampening %g, weight_decay %g, nesterov %d: needs lr, "
                     "momentum, weight_decay >= 0; nesterov needs momentum > 0 and dampening 0",
                     cfg->lr, cfg->momentum, cfg->dampening, cfg->weight_decay, cfg->nesterov);
  if (cfg->momentum != 0 && !buf)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "momentum %g needs a buffer: input buf is NULL", cfg->momentum);
  double sc[6] = {cfg->lr, cfg->weight_decay, cfg->momentum, 1 - cfg->dampening,
                  cfg->first != 0, cfg->nesterov != 0};
  int mom = cfg->momentum != 0;
  int which = mom ? (master ? K_SGD_MOM_MASTER : K_SGD_MOM) : (master ? K_SGD_MASTER : K_SGD);
  zmlx_dtype ct = master ? zmlx_array_dtype(master) : zmlx_array_dtype(param);
  zmlx_elementwise *k;
  zmlx_status s = kernel(which, ct, &k);
  zmlx_array *w = master ? master : param;
  zmlx_array *in[3] = {w, grad, buf}, *out[3];
  int n_out = 0;
  out[n_out++] = param;
  if (master) out[n_out++] = master;
  if (mom) out[n_out++] = buf;
  if (!s) s = zmlx_elementwise_launch_into(k, mom ? 3 : 2, in, mom ? 6 : 2, sc, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}
