/* Elementwise kernels on the tape: launching and recording them, and
 * their backward rule (the kernel's grad_exprs, or backward kernels that
 * are themselves launched through the tape). */
#include <string.h>

#include "autodiff/autodiff_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

static const char *rule = "elementwise rule";

zmlx_status zad_elementwise(zmlx_tape *t, zmlx_elementwise *k, zmlx_elementwise *const *bwd,
                            int n_in, zmlx_array *const *in, int n_sc, const double *sc,
                            zmlx_array **outputs, int *n_out) {
  /* The public API does not say how many outputs a kernel has; a launch
   * into NULL slots tells, since it fills exactly that many. */
  for (int j = 0; j < ZK_MAX_IO; j++) outputs[j] = NULL;
  ZMLX_TRY(zmlx_elementwise_launch(k, n_in, in, n_sc, sc, outputs));
  int n = 0;
  while (n < ZK_MAX_IO && outputs[n]) n++;
  *n_out = n;
  if (!zad_should_record(t, n_in, in)) return ZMLX_STATUS_OK;
  zad_node node = {.kind = ZAD_NODE_ELEMENTWISE, .n_in = n_in, .n_out = n,
                   .in = (zmlx_array **)in, .out = outputs, .k = k,
                   .bwd = (zmlx_elementwise **)bwd, .n_sc = n_sc, .sc = (double *)sc};
  zmlx_status s = zad_record(t, &node);
  if (s)
    for (int j = 0; j < n; j++) {
      zmlx_array_release(outputs[j]);
      outputs[j] = NULL;
    }
  return s;
}

static zmlx_status launch_public(zmlx_tape *t, zmlx_elementwise *k, zmlx_elementwise *const *bwd,
                                 int n_in, zmlx_array *const *in, int n_sc, const double *sc,
                                 zmlx_array **outputs) {
  if (!t || !k || !outputs)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_elementwise", "NULL argument");
  zmlx_array *out[ZK_MAX_IO];
  int n = 0;
  ZMLX_TRY(zad_elementwise(t, k, bwd, n_in, in, n_sc, sc, out, &n));
  memcpy(outputs, out, sizeof *out * (size_t)n);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tape_elementwise(zmlx_tape *t, zmlx_elementwise *k, int n_inputs,
                                  zmlx_array *const *inputs, int n_scalars,
                                  const double *scalars, zmlx_array **outputs) {
  return launch_public(t, k, NULL, n_inputs, inputs, n_scalars, scalars, outputs);
}

zmlx_status zmlx_tape_elementwise_with_backward(zmlx_tape *t, zmlx_elementwise *k,
                                                zmlx_elementwise *const *backward, int n_inputs,
                                                zmlx_array *const *inputs, int n_scalars,
                                                const double *scalars, zmlx_array **outputs) {
  if (!backward)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_elementwise_with_backward",
                     "backward is NULL (give one kernel, or NULL, per input)");
  return launch_public(t, k, backward, n_inputs, inputs, n_scalars, scalars, outputs);
}

/* One backward kernel per input, launched (and, with CREATE_GRAPH,
 * recorded) like any operation; the sum over broadcast dimensions goes
 * through the tape too, so the whole gradient stays differentiable. */
static zmlx_status run_backward_kernel(zmlx_tape *t, const zad_node *n, int i, zmlx_array *g,
                                       zmlx_array **in_grad) {
  zmlx_array *ins[ZK_MAX_IO], *full[ZK_MAX_IO];
  for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k];
  ins[n->n_in] = g;
  int nf = 0;
  ZMLX_TRY(zad_elementwise(t, n->bwd[i], NULL, n->n_in + 1, ins, n->n_sc, n->sc, full, &nf));
  zmlx_status s = ZMLX_STATUS_OK;
  if (zad_same_shape(full[0], n->in[i]))
    *in_grad = zmlx_array_retain(full[0]);
  else
    s = zad_sum_to(t, full[0], n->in[i], in_grad);
  for (int j = 0; j < nf; j++) zmlx_array_release(full[j]);
  return s;
}

zmlx_status zad_elementwise_backward(zmlx_tape *t, int64_t node, zmlx_array *const *out_grads,
                                     zmlx_array **in_grads) {
  /* A copy: launches below may record nodes and move the node list. */
  zad_node n = t->nodes[node];
  char b[600];
  for (int j = 1; j < n.n_out; j++)
    if (out_grads[j])
      return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, rule,
                       "output %d of an elementwise kernel (outputs %s) receives a gradient; "
                       "grad expressions see only output 0's gradient g (record the kernel "
                       "as a custom node to differentiate other outputs)",
                       j, zad_format_arrays(n.n_out, n.out, b, sizeof b));
  if (!out_grads[0]) return ZMLX_STATUS_OK;
  if (n.bwd) {
    zmlx_status s = ZMLX_STATUS_OK;
    for (int i = 0; i < n.n_in && !s; i++)
      if (n.bwd[i]) s = run_backward_kernel(t, &n, i, out_grads[0], &in_grads[i]);
    return s;
  }
  if (t->recording)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, rule,
                     "ZMLX_TAPE_CREATE_GRAPH reached an elementwise kernel with inputs %s that "
                     "was recorded with zmlx_tape_elementwise: its fused backward kernel is not "
                     "differentiable; record it with zmlx_tape_elementwise_with_backward or as a "
                     "custom node", zad_format_arrays(n.n_in, n.in, b, sizeof b));
  return zmlx_elementwise_backward(n.k, n.n_in, n.in, n.n_sc, n.sc, out_grads[0], in_grads);
}
