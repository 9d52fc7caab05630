/* Gated linear units. Split: one forward and one backward elementwise
 * kernel per kind and bias/no bias. Packed: raw kernels that read both
 * halves of a row (glu_packed.c). Bias gradients are sums of the input
 * gradients over the leading dimensions. */
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/glu_internal.h"
#include "core/error.h"
#include "zmlx/catalog_glu.h"

typedef struct glu_def {
  const char *name;
  const char *act;   /* f(a) */
  const char *dact;  /* f'(a) */
} glu_def;

static const glu_def defs[ZMLX_GLU_COUNT] = {
    [ZMLX_GLU_SWIGLU] = {"swiglu", "ZH(silu)", "ZH(silu_grad)"},
    [ZMLX_GLU_GEGLU_TANH] = {"geglu_tanh", "ZH(gelu_tanh_stable)", "ZH(gelu_tanh_grad)"},
    [ZMLX_GLU_GEGLU_ERF] = {"geglu_erf", "ZH(gelu_erf_stable)", "ZH(gelu_erf_grad)"},
};

/* [kind][bias][backward] */
static zcat_ew_slot slots[ZMLX_GLU_COUNT][2][2];

const char *zmlx_glu_name(zmlx_glu_kind kind) {
  return (unsigned)kind < ZMLX_GLU_COUNT ? defs[kind].name : "?";
}

static zmlx_status kernel(zmlx_glu_kind kind, int bias, int backward, zmlx_dtype t,
                          zmlx_elementwise **k) {
  static const char *ins[] = {"gate", "up", "bg", "bu", "dy"}, *ins_nb[] = {"gate", "up", "dy"};
  static const char *outs[] = {"out"}, *gouts[] = {"dgate", "dup"};
  const glu_def *g = &defs[kind];
  char expr[512], name[64];
  const char *a = bias ? "gate + bg" : "gate", *u = bias ? "up + bu" : "up";
  if (backward)
    snprintf(expr, sizeof expr, "ZT a = %s, u = %s;\ndgate = dy * u * %s(a);\ndup = dy * %s(a);", a,
             u, g->dact, g->act);
  else
    snprintf(expr, sizeof expr, "out = %s(%s) * (%s);", g->act, a, u);
  snprintf(name, sizeof name, "%s%s%s", g->name, bias ? "_bias" : "", backward ? "_bwd" : "");
  int n_in = (bias ? 4 : 2) + backward;
  zmlx_elementwise_desc d = {.name = name, .n_inputs = n_in,
                             .input_names = bias || !backward ? ins : ins_nb,
                             .n_outputs = backward ? 2 : 1, .output_names = backward ? gouts : outs,
                             .expr = expr};
  return zcat_ew_get(&slots[kind][bias][backward], &d, t, k);
}

/* The op's catalog name: the kind, _packed, _bias. */
static const char *op_name(zmlx_glu_kind kind, int packed, int bias, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s", zmlx_glu_name(kind), packed ? "_packed" : "", bias ? "_bias" : "");
  return buf;
}

static zmlx_status check_kind(zmlx_glu_kind kind) {
  if ((unsigned)kind < ZMLX_GLU_COUNT) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "glu", "kind %d is not a zmlx_glu_kind", (int)kind);
}

/* gate (..., D) with ndim >= 1; up and dy (when given) like it; biases
 * (D,); one dtype and device. */
static zmlx_status check_split(const char *op, zmlx_array *gate, zmlx_array *up, zmlx_array *bg,
                               zmlx_array *bu, zmlx_array *dy) {
  static const char *names[] = {"up", "bias_gate", "bias_up", "dy"};
  zmlx_array *others[4] = {up, bg, bu, dy};
  ZMLX_TRY(zcat_check_dtype(op, "gate", gate, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "up", up, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "gate", gate, 4, names, others));
  if (zmlx_array_ndim(gate) < 1) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "gate is %s: needs at least one dimension",
                     zmlx_array_format(gate, b, sizeof b));
  }
  ZMLX_TRY(zcat_check_same_shape(op, "gate", gate, "up", up));
  if (dy) ZMLX_TRY(zcat_check_same_shape(op, "gate", gate, "dy", dy));
  int64_t D = zmlx_array_dim(gate, -1);
  if (bg) ZMLX_TRY(zcat_check_vector(op, "bias_gate", bg, D, "gate's last size"));
  if (bu) ZMLX_TRY(zcat_check_vector(op, "bias_up", bu, D, "gate's last size"));
  return ZMLX_STATUS_OK;
}

/* Launch forward or backward on (gate, up) views; the missing bias of a
 * pair is zeros (one kernel per kind serves one bias or two). */
static zmlx_status run(const char *op, zmlx_glu_kind kind, int backward, zmlx_array *gate,
                       zmlx_array *up, zmlx_array *bg, zmlx_array *bu, zmlx_array *dy,
                       zmlx_array **outs, int into) {
  int bias = bg || bu;
  int64_t D = zmlx_array_dim(gate, -1);
  zmlx_array *zero = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  if (bias && (!bg || !bu))
    s = zmlx_array_zeros(zmlx_array_dtype(gate), 1, &D, zmlx_array_device(gate), &zero);
  zmlx_elementwise *k = NULL;
  if (!s) s = kernel(kind, bias, backward, zmlx_array_dtype(gate), &k);
  zmlx_array *in[5] = {gate, up};
  int n = 2;
  if (bias) {
    in[n++] = bg ? bg : zero;
    in[n++] = bu ? bu : zero;
  }
  if (backward) in[n++] = dy;
  if (!s)
    s = into ? zmlx_elementwise_launch_into(k, n, in, 0, NULL, outs)
             : zmlx_elementwise_launch(k, n, in, 0, NULL, outs);
  zmlx_array_release(zero);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_glu(zmlx_glu_kind kind, zmlx_array *gate, zmlx_array *up, zmlx_array *bias_gate,
                     zmlx_array *bias_up, zmlx_array **out) {
  ZMLX_TRY(check_kind(kind));
  char op[64];
  op_name(kind, 0, bias_gate || bias_up, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_split(op, gate, up, bias_gate, bias_up, NULL));
  return run(op, kind, 0, gate, up, bias_gate, bias_up, NULL, out, 0);
}

/* Bias gradients from the input gradients; NULL where not wanted. */
static zmlx_status bias_grads(const char *op, zmlx_array *bias, zmlx_array *grad,
                              zmlx_array **dbias) {
  if (!dbias) return ZMLX_STATUS_OK;
  *dbias = NULL;
  if (!bias) return ZMLX_STATUS_OK;
  zmlx_status s = zcat_sum_rows(grad, dbias);
  return s ? zmlx_fail_wrap(s, op) : s;
}

/* On failure every result goes back to NULL (slots may be NULL). */
static void release_all(zmlx_array **const *slots_, int n) {
  for (int i = 0; i < n; i++)
    if (slots_[i]) {
      zmlx_array_release(*slots_[i]);
      *slots_[i] = NULL;
    }
}

zmlx_status zmlx_glu_backward(zmlx_glu_kind kind, zmlx_array *gate, zmlx_array *up,
                              zmlx_array *bias_gate, zmlx_array *bias_up, zmlx_array *dy,
                              zmlx_array **dgate, zmlx_array **dup, zmlx_array **dbias_gate,
                              zmlx_array **dbias_up) {
  ZMLX_TRY(check_kind(kind));
  char op[64];
  op_name(kind, 0, bias_gate || bias_up, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "dgate", dgate));
  ZMLX_TRY(zcat_check_out(op, "dup", dup));
  *dgate = *dup = NULL;
  if (dbias_gate) *dbias_gate = NULL;
  if (dbias_up) *dbias_up = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_split(op, gate, up, bias_gate, bias_up, dy));
  zmlx_array *g[2] = {NULL, NULL};
  zmlx_status s = run(op, kind, 1, gate, up, bias_gate, bias_up, dy, g, 0);
  if (!s) s = bias_grads(op, bias_gate, g[0], dbias_gate);
  if (!s) s = bias_grads(op, bias_up, g[1], dbias_up);
  *dgate = g[0];
  *dup = g[1];
  if (s) {
    zmlx_array **all[4] = {dgate, dup, dbias_gate, dbias_up};
    release_all(all, 4);
  }
  return s;
}

/* x (..., 2D) with ndim >= 1 and an even last size; bias (2D,); dy (..., D). */
static zmlx_status check_packed(const char *op, zmlx_array *x, zmlx_array *bias, zmlx_array *dy) {
  static const char *names[] = {"bias", "dy"};
  zmlx_array *others[2] = {bias, dy};
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 2, names, others));
  int nd = zmlx_array_ndim(x);
  char b1[300], b2[300];
  if (nd < 1 || zmlx_array_dim(x, -1) % 2)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "x is %s: needs a last dimension of even size 2D ([gate | up])",
                     zmlx_array_format(x, b1, sizeof b1));
  int64_t D = zmlx_array_dim(x, -1) / 2;
  if (bias) ZMLX_TRY(zcat_check_vector(op, "bias", bias, 2 * D, "x's last size"));
  if (!dy) return ZMLX_STATUS_OK;
  int same = zmlx_array_ndim(dy) == nd;
  for (int d = 0; same && d < nd; d++)
    same = zmlx_array_dim(dy, d) == (d == nd - 1 ? D : zmlx_array_dim(x, d));
  if (!same)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "x is %s but dy is %s: dy must be x's shape "
                     "with the last size halved",
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(dy, b2, sizeof b2));
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_glu_packed(zmlx_glu_kind kind, zmlx_array *x, zmlx_array *bias,
                            zmlx_array **out) {
  ZMLX_TRY(check_kind(kind));
  char op[64];
  op_name(kind, 1, bias != NULL, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_packed(op, x, bias, NULL));
  zmlx_status s = zcat_glu_packed_run(kind, 0, x, bias, NULL, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zmlx_glu_packed_backward(zmlx_glu_kind kind, zmlx_array *x, zmlx_array *bias,
                                     zmlx_array *dy, zmlx_array **dx, zmlx_array **dbias) {
  ZMLX_TRY(check_kind(kind));
  char op[64];
  op_name(kind, 1, bias != NULL, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  if (dbias) *dbias = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(check_packed(op, x, bias, dy));
  zmlx_status s = zcat_glu_packed_run(kind, 1, x, bias, dy, dx);
  if (s) return zmlx_fail_wrap(s, op);
  s = bias_grads(op, bias, *dx, dbias);
  if (s) {
    zmlx_array_release(*dx);
    *dx = NULL;
  }
  return s;
}
