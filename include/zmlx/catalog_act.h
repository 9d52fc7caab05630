#ifndef ZMLX_CATALOG_ACT_H
#define ZMLX_CATALOG_ACT_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Activations: y = f(x) elementwise, and dx = dy * f'(x). Conventions as
 * in zmlx/catalog.h. At kinks the derivative is PyTorch's: relu'(0) = 0,
 * leaky_relu'(0) = alpha, elu'(0) = alpha, hardswish'(3) = 1.5,
 * hardswish'(-3) = -0.5, hardsigmoid'(+-3) = 0. */
typedef enum zmlx_act_kind {
  ZMLX_ACT_EXP = 0,
  ZMLX_ACT_LOG,
  ZMLX_ACT_TANH,
  ZMLX_ACT_SIGMOID,
  ZMLX_ACT_RELU,
  ZMLX_ACT_RELU2,        /* relu(x)^2 (Primer, Nemotron) */
  ZMLX_ACT_SILU,         /* x * sigmoid(x), a.k.a. swish */
  ZMLX_ACT_GELU_TANH,    /* the tanh approximation ("gelu_pytorch_tanh") */
  ZMLX_ACT_GELU_ERF,     /* exact gelu */
  ZMLX_ACT_QUICK_GELU,   /* x * sigmoid(1.702 x) (CLIP) */
  ZMLX_ACT_SOFTPLUS,     /* log(1 + exp(x)), stable for any x */
  ZMLX_ACT_MISH,         /* x * tanh(softplus(x)) */
  ZMLX_ACT_ELU,          /* x > 0 ? x : alpha * (exp(x) - 1) */
  ZMLX_ACT_LEAKY_RELU,   /* x > 0 ? x : alpha * x */
  ZMLX_ACT_HARDSWISH,    /* x * clamp(x + 3, 0, 6) / 6 */
  ZMLX_ACT_HARDSIGMOID,  /* clamp(x + 3, 0, 6) / 6 */
  ZMLX_ACT_COUNT
} zmlx_act_kind;

/* "silu", "gelu_tanh", ...: the catalog's name; "?" for an invalid kind. */
const char *zmlx_act_name(zmlx_act_kind kind);
/* 0 and the kind for a name as zmlx_act_name prints it; -1 if unknown. */
int zmlx_act_parse(const char *name, zmlx_act_kind *out);

/* x: (...); *out: (...) new, x's dtype. alpha is used by elu and
 * leaky_relu (PyTorch's defaults are 1.0 and 0.01) and ignored otherwise. */
zmlx_status zmlx_act(zmlx_act_kind kind, zmlx_array *x, double alpha, zmlx_array **out);
/* x, dy: (...), one dtype; *dx: (...) new. */
zmlx_status zmlx_act_backward(zmlx_act_kind kind, zmlx_array *x, double alpha, zmlx_array *dy,
                              zmlx_array **dx);

#ifdef __cplusplus
}
#endif
#endif
