/* Forward mode for elementwise kernels. A VJP term is linear in g, so
 * substituting g := t_i turns grad_exprs[i] into the JVP term of input i:
 * the JVP kernel runs the forward expression, then sums those terms. */
#include <stdio.h>
#include <stdlib.h>

#include "author/ew_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

static const char *op = "elementwise_jvp";

zmlx_status zk_ew_jvp_build(const zmlx_elementwise_desc *fwd, zmlx_elementwise **out) {
  if (fwd->n_outputs != 1)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op, "kernel '%s' has %d outputs; JVP needs one",
                     fwd->name, fwd->n_outputs);
  if (!fwd->grad_exprs)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op, "kernel '%s' was created without grad_exprs",
                     fwd->name);
  const char *ct = fwd->compute == ZMLX_DTYPE_F64 ? "double" : "float";
  const char *ins[ZK_MAX_IO], *outs[2] = {fwd->output_names[0], "tangent"};
  char tnames[ZK_MAX_IO][300];
  int n = fwd->n_inputs;
  for (int i = 0; i < n; i++) {
    ins[i] = fwd->input_names[i];
    snprintf(tnames[i], sizeof tnames[i], "t_%s", fwd->input_names[i]);
    ins[n + i] = tnames[i];
  }
  zmlx_strbuf sb = {0};
  zmlx_sb_printf(&sb, "{\n%s\n}\n%s _zt = 0;\n", fwd->expr, ct);
  for (int i = 0; i < n; i++)
    if (fwd->grad_exprs[i])
      zmlx_sb_printf(&sb, "{ const %s g = t_%s; _zt += (%s); }\n", ct, fwd->input_names[i],
                     fwd->grad_exprs[i]);
  zmlx_sb_append(&sb, "tangent = _zt;\n");
  char *expr = zmlx_sb_take(&sb);
  if (!expr) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_dtype odt[2];
  if (fwd->out_dtypes) odt[0] = odt[1] = fwd->out_dtypes[0];
  char name[300];
  snprintf(name, sizeof name, "%s_jvp", fwd->name);
  zmlx_elementwise_desc d = {.name = name, .n_inputs = 2 * n, .input_names = ins, .n_outputs = 2,
                             .output_names = outs, .n_scalars = fwd->n_scalars,
                             .scalar_names = fwd->scalar_names, .expr = expr,
                             .header = fwd->header, .out_dtypes = fwd->out_dtypes ? odt : NULL,
                             .compute = fwd->compute};
  zmlx_status s = zmlx_elementwise_create(&d, out);
  free(expr);
  return s;
}

zmlx_status zk_ew_jvp_run(zmlx_elementwise *jvp, int n_inputs, zmlx_array *const *inputs,
                          zmlx_array *const *tangents, int n_scalars, const double *scalars,
                          zmlx_array **out, zmlx_array **out_tangent) {
  zmlx_array *in[ZK_MAX_IO] = {0}, *zeros[ZK_MAX_IO] = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n_inputs; i++) in[i] = inputs[i];
  /* A missing tangent is a broadcast zero of the input's dtype: no copy. */
  for (int i = 0; i < n_inputs && !s; i++) {
    in[n_inputs + i] = tangents ? tangents[i] : NULL;
    if (!in[n_inputs + i]) {
      s = zmlx_array_zeros(inputs[i]->dtype, 0, NULL, zmlx_array_device(inputs[i]), &zeros[i]);
      in[n_inputs + i] = zeros[i];
    }
  }
  zmlx_array *outs[2] = {NULL, NULL};
  if (!s) s = zmlx_elementwise_launch(jvp, 2 * n_inputs, in, n_scalars, scalars, outs);
  for (int i = 0; i < n_inputs; i++) zmlx_array_release(zeros[i]);
  *out = outs[0];
  *out_tangent = outs[1];
  return s;
}
