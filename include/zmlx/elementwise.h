#ifndef ZMLX_ELEMENTWISE_H
#define ZMLX_ELEMENTWISE_H
#include "zmlx/kernel.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Elementwise kernels from C expressions, like CuPy's ElementwiseKernel.
 *
 * The expression is one or more C statements run once per output element.
 * It sees every input as a variable of the compute type (float, or double
 * when compute is f64), already loaded and converted, and assigns every
 * output the same way:
 *
 *     "out = zmlx_siluf(gate) * up;"
 *
 * Inputs broadcast against each other with NumPy's rules and may have any
 * strides (views, transposes, broadcasts) with no copy. Where every input
 * is contiguous and has the output's shape, the kernel takes a fast path
 * that moves 16 bytes per load and store when the data allows it.
 *
 * Output dtypes: by default every output takes the dtype of input 0 (the
 * compute dtype when there are no inputs); out_dtypes overrides it.
 *
 * Gradients: grad_exprs[i] (optional) is an expression for the gradient of
 * input i. It sees the inputs, the outputs (the forward values) and `g`
 * (the incoming gradient of output 0), e.g. for out = x * y:
 *     grad_exprs = { "g * y", "g * x" }
 * zmlx_elementwise_backward builds, caches and runs that kernel, reducing
 * over broadcast dimensions so each gradient has its input's shape.
 *
 * Ownership: create copies the description; destroy frees the kernel. */
typedef struct zmlx_elementwise zmlx_elementwise;

typedef struct zmlx_elementwise_desc {
  const char *name;
  int n_inputs;
  const char *const *input_names;
  int n_outputs;
  const char *const *output_names;
  int n_scalars;                  /* scalars are compute-type variables */
  const char *const *scalar_names;
  const char *expr;
  const char *header;             /* optional helper functions */
  const zmlx_dtype *out_dtypes;   /* NULL: the dtype of input 0 */
  zmlx_dtype compute;             /* ZMLX_DTYPE_F32 (default) or F64 */
  const char *const *grad_exprs;  /* NULL, or one per input (NULL entries: no gradient) */
} zmlx_elementwise_desc;

zmlx_status zmlx_elementwise_create(const zmlx_elementwise_desc *desc,
                                    zmlx_elementwise **out);
void zmlx_elementwise_destroy(zmlx_elementwise *k);

/* outputs: room for n_outputs new arrays, shaped like the broadcast of
 * the inputs. */
zmlx_status zmlx_elementwise_launch(zmlx_elementwise *k, int n_inputs,
                                    zmlx_array *const *inputs, int n_scalars,
                                    const double *scalars, zmlx_array **outputs);
/* Write into existing outputs (any strides, the broadcast shape). An output
 * may be one of the inputs when it has the same layout (in place). */
zmlx_status zmlx_elementwise_launch_into(zmlx_elementwise *k, int n_inputs,
                                         zmlx_array *const *inputs, int n_scalars,
                                         const double *scalars, zmlx_array *const *outputs);

/* Gradients of every input with a grad expression (NULL elsewhere), given
 * the incoming gradient g (shaped like output 0). grads has n_inputs
 * slots. */
zmlx_status zmlx_elementwise_backward(zmlx_elementwise *k, int n_inputs,
                                      zmlx_array *const *inputs, int n_scalars,
                                      const double *scalars, zmlx_array *g,
                                      zmlx_array **grads);

/* Forward mode (JVP) for kernels with one output: out = f(inputs) and
 * out_tangent = sum_i (d out / d input_i) * tangents[i], in one pass. It is
 * built from the grad expressions (each is linear in g, so g := tangent_i
 * turns a VJP term into a JVP term). tangents[i] may be NULL (zero); a
 * tangent broadcasts like its input. out and out_tangent are new arrays. */
zmlx_status zmlx_elementwise_jvp(zmlx_elementwise *k, int n_inputs,
                                 zmlx_array *const *inputs,
                                 zmlx_array *const *tangents, int n_scalars,
                                 const double *scalars, zmlx_array **out,
                                 zmlx_array **out_tangent);

zmlx_status zmlx_elementwise_stats_get(const zmlx_elementwise *k,
                                       zmlx_kernel_stats *out);

#ifdef __cplusplus
}
#endif
#endif
