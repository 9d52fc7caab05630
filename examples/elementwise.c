/* Elementwise kernels from expressions: SwiGLU with its gradient and its
 * forward-mode derivative, broadcasting a bias row, all on the default
 * device.  Build: part of the normal build (build/example_elementwise). */
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

static float first(zmlx_array *a) {
  zmlx_array *f32, *flat;
  int64_t n = zmlx_array_numel(a), one = 1;
  TRY(zmlx_array_astype(a, ZMLX_DTYPE_F32, &f32));
  TRY(zmlx_array_reshape(f32, 1, &n, &flat));
  zmlx_array *head;
  TRY(zmlx_array_slice(flat, 0, 0, one, 1, &head));
  float v;
  TRY(zmlx_array_to_host(head, &v, sizeof v));
  zmlx_array_release(head);
  zmlx_array_release(flat);
  zmlx_array_release(f32);
  return v;
}

int main(void) {
  zmlx_device dev = zmlx_device_default();

  /* out = silu(gate) * up, with d/dgate and d/dup as expressions of g. */
  static const char *ins[] = {"gate", "up"}, *outs[] = {"out"};
  static const char *grads[] = {
      "g * up * zmlx_sigmoidf(gate) * (1.0f + gate * (1.0f - zmlx_sigmoidf(gate)))",
      "g * zmlx_siluf(gate)"};
  zmlx_elementwise_desc d = {.name = "swiglu", .n_inputs = 2, .input_names = ins,
                             .n_outputs = 1, .output_names = outs,
                             .expr = "out = zmlx_siluf(gate) * up;", .grad_exprs = grads};
  zmlx_elementwise *swiglu;
  TRY(zmlx_elementwise_create(&d, &swiglu));

  int64_t shape[2] = {512, 1024};
  zmlx_array *gate, *up, *out, *g;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_BF16, 2, shape, 1, 0, 1, dev, &gate));
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_BF16, 2, shape, 2, 0, 1, dev, &up));
  zmlx_array *in[2] = {gate, up};
  TRY(zmlx_elementwise_launch(swiglu, 2, in, 0, NULL, &out));

  /* Reverse mode: gradients of both inputs for an incoming gradient g. */
  TRY(zmlx_array_ones(ZMLX_DTYPE_BF16, 2, shape, dev, &g));
  zmlx_array *dx[2];
  TRY(zmlx_elementwise_backward(swiglu, 2, in, 0, NULL, g, dx));

  /* Forward mode: the derivative along a tangent of gate only. */
  zmlx_array *tangents[2] = {g, NULL}, *out2, *jvp;
  TRY(zmlx_elementwise_jvp(swiglu, 2, in, tangents, 0, NULL, &out2, &jvp));
  printf("out[0] = %g, dgate[0] = %g, dup[0] = %g, jvp[0] = %g (= dgate[0])\n", first(out),
         first(dx[0]), first(dx[1]), first(jvp));

  /* Broadcasting: a (1024,) bias row over (512, 1024), with a scalar. */
  static const char *bins[] = {"x", "b"}, *bouts[] = {"y"}, *scs[] = {"scale"};
  zmlx_elementwise_desc bd = {.name = "scale_bias", .n_inputs = 2, .input_names = bins,
                              .n_outputs = 1, .output_names = bouts, .n_scalars = 1,
                              .scalar_names = scs, .expr = "y = scale * x + b;"};
  zmlx_elementwise *bias;
  TRY(zmlx_elementwise_create(&bd, &bias));
  zmlx_array *b, *y;
  TRY(zmlx_array_arange(ZMLX_DTYPE_BF16, 1024, 0, 0.001, dev, &b));
  zmlx_array *bin[2] = {out, b};
  double scale = 0.5;
  TRY(zmlx_elementwise_launch(bias, 2, bin, 1, &scale, &y));
  char buf[128];
  printf("y = 0.5 * out + bias: %s\n", zmlx_array_format(y, buf, sizeof buf));

  zmlx_array *all[] = {gate, up, out, g, dx[0], dx[1], out2, jvp, b, y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
  zmlx_elementwise_destroy(swiglu);
  zmlx_elementwise_destroy(bias);
  zmlx_shutdown();
  return 0;
}
