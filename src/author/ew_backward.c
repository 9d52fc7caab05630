/* Gradients of elementwise kernels from per-input expressions. The
 * backward kernel recomputes the forward outputs (cheaper than storing
 * them), evaluates each gradient expression at the broadcast shape, and
 * sums over the dimensions an input was broadcast along. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/ew_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

static const char *op = "elementwise_backward";

static const char sum_body[] =
    "double acc = 0;\n"
    "for (long long r = 0; r < R; r++)\n"
    "  acc += zmlx_tod(x[zmlx_offset(gid * R + r, x_ndim, x_shape, x_strides)]);\n"
    "zmlx_store(out, gid, acc);\n";

static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *sum_kernel;

void zk_ew_backward_shutdown(void) {
  pthread_mutex_lock(&sum_lock);
  zmlx_kernel_destroy(sum_kernel);
  sum_kernel = NULL;
  pthread_mutex_unlock(&sum_lock);
}

/* out (shape of `like`) = full summed over the dimensions `like` was
 * broadcast along. */
static zmlx_status sum_to(zmlx_array *full, zmlx_array *out) {
  static const char *ins[] = {"x"}, *outs[] = {"out"}, *scs[] = {"R"};
  static const zmlx_dtype st[] = {ZMLX_DTYPE_I64};
  pthread_mutex_lock(&sum_lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!sum_kernel) {
    zmlx_kernel_desc d = {.name = "sum_to", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                          .output_names = outs, .n_scalars = 1, .scalar_names = scs,
                          .scalar_dtypes = st, .source = sum_body};
    s = zmlx_kernel_create(&d, &sum_kernel);
  }
  pthread_mutex_unlock(&sum_lock);
  ZMLX_TRY(s);
  /* Kept dimensions first, reduced ones last: a (kept, R) walk. */
  int nd = full->ndim, lead = nd - out->ndim, perm[ZMLX_MAX_DIMS], np = 0;
  int64_t R = 1;
  for (int d = 0; d < nd; d++)
    if (!(d < lead || (out->shape[d - lead] == 1 && full->shape[d] != 1))) perm[np++] = d;
  for (int d = 0; d < nd; d++)
    if (d < lead || (out->shape[d - lead] == 1 && full->shape[d] != 1)) {
      perm[np++] = d;
      R *= full->shape[d];
    }
  zmlx_array *p;
  ZMLX_TRY(zmlx_array_permute(full, perm, &p));
  double r = (double)R;
  zmlx_launch_config cfg = {.n_scalars = 1, .scalars = &r};
  s = zk_launch(sum_kernel, 1, &p, &cfg, &out, ZK_OUTPUTS_GIVEN);
  zmlx_array_release(p);
  return s;
}

static zmlx_status build(zmlx_elementwise_desc *fwd, int *grad_of, zmlx_elementwise **out) {
  const char *ct = fwd->compute == ZMLX_DTYPE_F64 ? "double" : "float";
  const char *ins[ZK_MAX_IO], *outs[ZK_MAX_IO];
  char names[ZK_MAX_IO][300];
  int n_out = 0;
  for (int i = 0; i < fwd->n_inputs; i++) ins[i] = fwd->input_names[i];
  ins[fwd->n_inputs] = "g";
  zmlx_strbuf sb = {0};
  for (int i = 0; i < fwd->n_outputs; i++) zmlx_sb_printf(&sb, "%s %s = 0;\n", ct, fwd->output_names[i]);
  zmlx_sb_printf(&sb, "{\n%s\n}\n", fwd->expr);
  for (int i = 0; i < fwd->n_inputs; i++) {
    if (!fwd->grad_exprs[i]) continue;
    snprintf(names[n_out], sizeof names[n_out], "grad_%s", fwd->input_names[i]);
    zmlx_sb_printf(&sb, "%s = (%s);\n", names[n_out], fwd->grad_exprs[i]);
    outs[n_out] = names[n_out];
    grad_of[n_out++] = i;
  }
  char *expr = zmlx_sb_take(&sb);
  if (!expr) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  char name[300];
  snprintf(name, sizeof name, "%s_backward", fwd->name);
  zmlx_elementwise_desc d = {.name = name, .n_inputs = fwd->n_inputs + 1, .input_names = ins,
                             .n_outputs = n_out, .output_names = outs,
                             .n_scalars = fwd->n_scalars, .scalar_names = fwd->scalar_names,
                             .expr = expr, .header = fwd->header, .compute = fwd->compute};
  zmlx_status s = n_out ? zmlx_elementwise_create(&d, out)
                        : zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                                    "kernel '%s' has no gradient expressions", fwd->name);
  free(expr);
  return s;
}

zmlx_status zk_ew_backward(zmlx_elementwise_desc *fwd, zmlx_elementwise **bwd, int *grad_of,
                           int n_inputs, zmlx_array *const *inputs, int n_scalars,
                           const double *scalars, zmlx_array *g, zmlx_array **grads) {
  if (!fwd->grad_exprs)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op, "kernel '%s' was created without grad_exprs",
                     fwd->name);
  if (!g) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "g is NULL");
  if (!*bwd) ZMLX_TRY(build(fwd, grad_of, bwd));
  int n_out = 0;
  for (int i = 0; i < fwd->n_inputs; i++) n_out += fwd->grad_exprs[i] != NULL;
  zmlx_array *in[ZK_MAX_IO], *full[ZK_MAX_IO] = {0};
  for (int i = 0; i < n_inputs; i++) in[i] = inputs[i];
  in[n_inputs] = g;
  for (int i = 0; i < n_inputs; i++) grads[i] = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  /* Gradients at the broadcast shape (g's), in each input's dtype. */
  for (int j = 0; j < n_out && !s; j++)
    s = zmlx_array_empty(inputs[grad_of[j]]->dtype, g->ndim, g->shape, zmlx_array_device(g), &full[j]);
  if (!s) s = zmlx_elementwise_launch_into(*bwd, n_inputs + 1, in, n_scalars, scalars, full);
  for (int j = 0; j < n_out && !s; j++) {
    zmlx_array *x = inputs[grad_of[j]];
    int same = x->ndim == g->ndim;
    for (int d = 0; same && d < g->ndim; d++) same = x->shape[d] == g->shape[d];
    if (same) {
      grads[grad_of[j]] = zmlx_array_retain(full[j]);
      continue;
    }
    s = zmlx_array_empty(x->dtype, x->ndim, x->shape, zmlx_array_device(x), &grads[grad_of[j]]);
    if (!s) s = sum_to(full[j], grads[grad_of[j]]);
  }
  for (int j = 0; j < n_out; j++) zmlx_array_release(full[j]);
  if (s)
    for (int i = 0; i < n_inputs; i++) {
      zmlx_array_release(grads[i]);
      grads[i] = NULL;
    }
  return s;
}
