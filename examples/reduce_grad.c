/* Gradients of reductions: a user reduction (the sum of squares of each
 * row) carrying its own backward rule, its gradient with and without a
 * tape, and the ready-made softmax recorded on a tape, differentiated twice.
 * Build: part of the normal build (build/example_reduce_grad). */
#include <stdio.h>
#include <stdlib.h>

#include "zmlx/zmlx.h"

#define TRY(expr)                                                                 \
  do {                                                                            \
    zmlx_status s_ = (expr);                                                      \
    if (s_ != ZMLX_STATUS_OK) {                                                   \
      fprintf(stderr, "%s: %s\n%s\n", #expr, zmlx_status_name(s_), zmlx_error_last()); \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

static zmlx_elementwise *twice; /* out = 2 * x * g, with its own gradients */

/* d/dx sum_j x_j^2 = 2 x, times the row's incoming gradient. Written with
 * operations on the tape it is given, so the gradient is differentiable. */
static zmlx_status sumsq_backward(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                                  zmlx_array **dparams) {
  (void)dparams;
  int64_t keep[2] = {zmlx_array_dim(a->x, 0), 1}; /* g with the reduced axis back */
  zmlx_array *gk, *outs[1] = {NULL};
  zmlx_status s = zmlx_tape_reshape(t, a->g, 2, keep, &gk);
  if (s) return s;
  zmlx_array *in[2] = {a->x, gk};
  s = zmlx_tape_elementwise(t, twice, 2, in, 0, NULL, outs);
  zmlx_array_release(gk);
  *dx = outs[0];
  return s;
}

static float first(zmlx_array *a) {
  zmlx_array *f32, *flat, *one;
  int64_t n = zmlx_array_numel(a);
  TRY(zmlx_array_astype(a, ZMLX_DTYPE_F32, &f32));
  TRY(zmlx_array_reshape(f32, 1, &n, &flat));
  TRY(zmlx_array_slice(flat, 0, 0, 1, 1, &one));
  float v;
  TRY(zmlx_array_to_host(one, &v, sizeof v));
  zmlx_array_release(one);
  zmlx_array_release(flat);
  zmlx_array_release(f32);
  return v;
}

int main(void) {
  zmlx_device dev = zmlx_device_default();
  int64_t shape[2] = {8, 1000};
  int axis = 1;

  static const char *ins[] = {"x", "v"}, *outs[] = {"out"}, *grads[] = {"2 * g * v", "2 * g * x"};
  zmlx_elementwise_desc ed = {.name = "twice", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                              .output_names = outs, .expr = "out = 2 * x * v;", .grad_exprs = grads};
  TRY(zmlx_elementwise_create(&ed, &twice));
  zmlx_reduce_desc d = {.name = "sumsq", .init = "acc = 0;", .update = "acc += x * x;",
                        .update_many = "for (int i = 0; i < nx; i++) acc += xs[i] * xs[i];",
                        .combine = "acc += other;", .backward = sumsq_backward};
  zmlx_reduce *sumsq;
  TRY(zmlx_reduce_create(&d, &sumsq));

  zmlx_array *x, *y, *g, *dx;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 2, shape, 7, 0.0, 1.0, dev, &x));
  TRY(zmlx_reduce_launch(sumsq, x, 1, &axis, 0, &y));
  TRY(zmlx_array_full(ZMLX_DTYPE_F32, 1, shape, 1.0, dev, &g));
  TRY(zmlx_reduce_backward(sumsq, x, 1, &axis, 0, y, g, &dx));
  printf("sumsq: y[0] = %.3f, dx[0] = %.4f = 2 * x[0] = %.4f\n", first(y), first(dx), 2 * first(x));

  /* softmax on a tape: the gradient of sum(softmax(x) * c) is recorded
   * (CREATE_GRAPH), then differentiated again: H c for the Hessian H of L. */
  zmlx_map_reduce *softmax;
  TRY(zmlx_map_reduce_builtin("softmax", &softmax));
  zmlx_tape *t;
  zmlx_array *c, *p, *gx, *hx;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 2, shape, 8, 0.0, 1.0, dev, &c));
  TRY(zmlx_tape_create(&t));
  TRY(zmlx_tape_watch(t, x));
  TRY(zmlx_tape_map_reduce(t, softmax, x, -1, 0, NULL, 0, NULL, &p));
  TRY(zmlx_tape_backward(t, p, c, 1, &x, &gx, ZMLX_TAPE_CREATE_GRAPH));
  TRY(zmlx_tape_backward(t, gx, c, 1, &x, &hx, 0)); /* a Hessian-vector product */
  printf("softmax: dL/dx[0] = %.3g, (H c)[0] = %.3g (%lld recorded operations)\n",
         first(gx), first(hx), (long long)zmlx_tape_size(t));

  zmlx_array *all[] = {x, y, g, dx, c, p, gx, hx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
  zmlx_tape_destroy(t);
  zmlx_reduce_destroy(sumsq);
  zmlx_elementwise_destroy(twice);
  zmlx_shutdown();
  return 0;
}
