#ifndef ZMLX_CATALOG_GLU_H
#define ZMLX_CATALOG_GLU_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Gated linear units: out = act(gate + bias_gate) * (up + bias_up), the
 * MLP middle of Llama/Mistral/Qwen (swiglu) and Gemma (geglu with
 * gelu_tanh). Conventions as in zmlx/catalog.h.
 *
 * Two layouts: split (gate and up are separate arrays) and packed (one
 * array x = [gate | up] along the last axis, gate first, as HF models
 * concatenate a fused gate_up projection). Biases are optional (NULL). */
typedef enum zmlx_glu_kind {
  ZMLX_GLU_SWIGLU = 0,  /* silu(gate) * up */
  ZMLX_GLU_GEGLU_TANH,  /* gelu_tanh(gate) * up (Gemma) */
  ZMLX_GLU_GEGLU_ERF,   /* gelu_erf(gate) * up */
  ZMLX_GLU_COUNT
} zmlx_glu_kind;

/* "swiglu", "geglu_tanh", "geglu_erf"; "?" for an invalid kind. */
const char *zmlx_glu_name(zmlx_glu_kind kind);

/* gate, up: (..., D); bias_gate, bias_up: (D,) or NULL; *out: (..., D). */
zmlx_status zmlx_glu(zmlx_glu_kind kind, zmlx_array *gate, zmlx_array *up,
                     zmlx_array *bias_gate, zmlx_array *bias_up, zmlx_array **out);
/* dy: (..., D). *dgate, *dup: (..., D) new. *dbias_gate, *dbias_up: (D,)
 * new, the sums of dgate and dup over the leading dimensions; each may be
 * a NULL pointer (not wanted), and is set to NULL when its bias is NULL. */
zmlx_status zmlx_glu_backward(zmlx_glu_kind kind, zmlx_array *gate, zmlx_array *up,
                              zmlx_array *bias_gate, zmlx_array *bias_up, zmlx_array *dy,
                              zmlx_array **dgate, zmlx_array **dup, zmlx_array **dbias_gate,
                              zmlx_array **dbias_up);

/* x: (..., 2D) = [gate | up]; bias: (2D,) = [bias_gate | bias_up] or
 * NULL; *out: (..., D). */
zmlx_status zmlx_glu_packed(zmlx_glu_kind kind, zmlx_array *x, zmlx_array *bias,
                            zmlx_array **out);
/* dy: (..., D). *dx: (..., 2D) new = [dgate | dup]. *dbias: (2D,) new, the
 * sum of dx over the leading dimensions; dbias may be a NULL pointer, and
 * is set to NULL when bias is NULL. */
zmlx_status zmlx_glu_packed_backward(zmlx_glu_kind kind, zmlx_array *x, zmlx_array *bias,
                                     zmlx_array *dy, zmlx_array **dx, zmlx_array **dbias);

#ifdef __cplusplus
}
#endif
#endif
