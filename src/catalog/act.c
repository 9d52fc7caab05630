/* Activations: one elementwise kernel per kind, with its derivative as
 * the grad expression (zmlx_elementwise_backward runs it). Expressions
 * are written once for f32 and f64 compute (see cat_kernels.c). */
#include <string.h>

#include "catalog/cat_internal.h"
#include "core/error.h"
#include "zmlx/catalog_act.h"

typedef struct act_def {
  const char *name;
  const char *expr;  /* y from x (and alpha) */
  const char *grad;  /* dx from x, y, g (and alpha) */
} act_def;

static const act_def defs[ZMLX_ACT_COUNT] = {
    [ZMLX_ACT_EXP] = {"exp", "y = ZC(exp)(x);", "g * y"},
    [ZMLX_ACT_LOG] = {"log", "y = ZC(log)(x);", "g / x"},
    [ZMLX_ACT_TANH] = {"tanh", "y = ZC(tanh)(x);", "g * ZH(tanh_grad)(x)"},
    [ZMLX_ACT_SIGMOID] = {"sigmoid", "y = ZH(sigmoid)(x);", "g * ZH(sigmoid_grad)(x)"},
    [ZMLX_ACT_RELU] = {"relu", "y = x > 0 ? x : ZK(0);", "x > 0 ? g : ZK(0)"},
    [ZMLX_ACT_RELU2] = {"relu2", "y = x > 0 ? x * x : ZK(0);", "x > 0 ? ZK(2) * x * g : ZK(0)"},
    [ZMLX_ACT_SILU] = {"silu", "y = ZH(silu)(x);", "g * ZH(silu_grad)(x)"},
    [ZMLX_ACT_GELU_TANH] = {"gelu_tanh", "y = ZH(gelu_tanh_stable)(x);",
                            "g * ZH(gelu_tanh_grad)(x)"},
    [ZMLX_ACT_GELU_ERF] = {"gelu_erf", "y = ZH(gelu_erf_stable)(x);",
                           "g * ZH(gelu_erf_grad)(x)"},
    [ZMLX_ACT_QUICK_GELU] = {"quick_gelu", "y = ZH(quick_gelu)(x);",
                             "g * ZH(quick_gelu_grad)(x)"},
    [ZMLX_ACT_SOFTPLUS] = {"softplus", "y = ZH(softplus)(x);", "g * ZH(sigmoid)(x)"},
    [ZMLX_ACT_MISH] = {"mish", "y = ZH(mish)(x);", "g * ZH(mish_grad)(x)"},
    [ZMLX_ACT_ELU] = {"elu", "y = x > 0 ? x : alpha * ZC(expm1)(x);",
                      "x > 0 ? g : g * alpha * ZC(exp)(x)"},
    [ZMLX_ACT_LEAKY_RELU] = {"leaky_relu", "y = x > 0 ? x : alpha * x;", "x > 0 ? g : g * alpha"},
    [ZMLX_ACT_HARDSWISH] = {"hardswish",
                            "y = x * ZC(fmin)(ZC(fmax)(x + ZK(3), ZK(0)), ZK(6)) / ZK(6);",
                            "x < ZK(-3) ? ZK(0) : x <= ZK(3) ? g * (x / ZK(3) + ZK(0.5)) : g"},
    [ZMLX_ACT_HARDSIGMOID] = {"hardsigmoid", "y = ZC(fmin)(ZC(fmax)(x + ZK(3), ZK(0)), ZK(6)) / ZK(6);",
                              "x > ZK(-3) && x < ZK(3) ? g / ZK(6) : ZK(0)"},
};

static zcat_ew_slot slots[ZMLX_ACT_COUNT];

const char *zmlx_act_name(zmlx_act_kind kind) {
  return (unsigned)kind < ZMLX_ACT_COUNT ? defs[kind].name : "?";
}

int zmlx_act_parse(const char *name, zmlx_act_kind *out) {
  for (int i = 0; name && i < ZMLX_ACT_COUNT; i++)
    if (!strcmp(defs[i].name, name)) {
      if (out) *out = (zmlx_act_kind)i;
      return 0;
    }
  return -1;
}

static zmlx_status kernel(zmlx_act_kind kind, zmlx_dtype t, zmlx_elementwise **k) {
  static const char *ins[] = {"x"}, *outs[] = {"y"}, *scs[] = {"alpha"};
  const char *grads[1] = {defs[kind].grad};
  zmlx_elementwise_desc d = {.name = defs[kind].name, .n_inputs = 1, .input_names = ins,
                             .n_outputs = 1, .output_names = outs, .n_scalars = 1,
                             .scalar_names = scs, .expr = defs[kind].expr, .grad_exprs = grads};
  return zcat_ew_get(&slots[kind], &d, t, k);
}

static zmlx_status check_kind(zmlx_act_kind kind) {
  if ((unsigned)kind < ZMLX_ACT_COUNT) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "act", "kind %d is not a zmlx_act_kind",
                   (int)kind);
}

zmlx_status zmlx_act(zmlx_act_kind kind, zmlx_array *x, double alpha, zmlx_array **out) {
  ZMLX_TRY(check_kind(kind));
  const char *op = defs[kind].name;
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  zmlx_elementwise *k;
  zmlx_status s = kernel(kind, zmlx_array_dtype(x), &k);
  if (!s) s = zmlx_elementwise_launch(k, 1, &x, 1, &alpha, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_act_backward(zmlx_act_kind kind, zmlx_array *x, double alpha, zmlx_array *dy,
                              zmlx_array **dx) {
  ZMLX_TRY(check_kind(kind));
  const char *op = defs[kind].name;
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  static const char *names[] = {"dy"};
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(zcat_check_same_shape(op, "x", x, "dy", dy));
  zmlx_elementwise *k;
  zmlx_status s = kernel(kind, zmlx_array_dtype(x), &k);
  if (!s) s = zmlx_elementwise_backward(k, 1, &x, 1, &alpha, dy, dx);
  return s ? zmlx_fail_wrap(s, op) : s;
}
