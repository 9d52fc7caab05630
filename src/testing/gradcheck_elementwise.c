/* zmlx_gradcheck for elementwise kernels: the kernel's forward on the f64
 * copies, zmlx_elementwise_backward as the vector-Jacobian product. */
#include "core/error.h"
#include "kernel/kernel_internal.h"
#include "testing/testing_internal.h"

typedef struct ew_call {
  zmlx_elementwise *k;
  int n_sc;
  const double *sc;
} ew_call;

static zmlx_status forward(void *ctx, int n, zmlx_array *const *in, zmlx_array **out) {
  const ew_call *c = ctx;
  /* The public API does not tell how many outputs the kernel has: launch
   * into NULL slots, keep output 0, release the rest. */
  zmlx_array *outs[ZK_MAX_IO] = {0};
  ZMLX_TRY(zmlx_elementwise_launch(c->k, n, in, c->n_sc, c->sc, outs));
  for (int j = 1; j < ZK_MAX_IO; j++) zmlx_array_release(outs[j]);
  *out = outs[0];
  return ZMLX_STATUS_OK;
}

static zmlx_status vjp(void *ctx, int n, zmlx_array *const *in, zmlx_array *g, zmlx_array **grads) {
  const ew_call *c = ctx;
  return zmlx_elementwise_backward(c->k, n, in, c->n_sc, c->sc, g, grads);
}

zmlx_status zmlx_gradcheck_elementwise(zmlx_elementwise *k, int n_inputs,
                                       zmlx_array *const *inputs, int n_scalars,
                                       const double *scalars, double eps, double rtol,
                                       double atol, zmlx_gradcheck_report *report) {
  /* A NULL kernel fails in the first launch, with the launch's words. */
  ew_call c = {k, n_scalars, scalars};
  return zmlx_gradcheck(forward, &c, n_inputs, inputs, vjp, &c, eps, rtol, atol, report);
}
