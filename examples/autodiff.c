/* Reverse-mode gradients with a tape: y = swiglu(a, b), z = y * y + a,
 * dz/da and dz/db by zmlx_tape_backward, then a gradient check of the
 * swiglu kernel against central differences.  Build: part of the normal
 * build (build/example_autodiff). */
#include <math.h>
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

enum { N = 64 };

static void host(zmlx_array *a, float *dst) {
  zmlx_array *f32;
  TRY(zmlx_array_astype(a, ZMLX_DTYPE_F32, &f32));
  TRY(zmlx_array_to_host(f32, dst, N * sizeof *dst));
  zmlx_array_release(f32);
}

static float silu(float v) { return v / (1.0f + expf(-v)); }

int main(void) {
  zmlx_device dev = zmlx_device_default();

  /* y = silu(a) * b, with its gradients as expressions of g. */
  static const char *ins[] = {"a", "b"}, *outs[] = {"y"};
  static const char *grads[] = {
      "g * b * zmlx_sigmoidf(a) * (1.0f + a * (1.0f - zmlx_sigmoidf(a)))",
      "g * zmlx_siluf(a)"};
  zmlx_elementwise_desc sd = {.name = "swiglu", .n_inputs = 2, .input_names = ins,
                              .n_outputs = 1, .output_names = outs,
                              .expr = "y = zmlx_siluf(a) * b;", .grad_exprs = grads};
  /* z = y * y + a. */
  static const char *zins[] = {"y", "a"}, *zouts[] = {"z"};
  static const char *zgrads[] = {"2.0f * g * y", "g"};
  zmlx_elementwise_desc zd = {.name = "sq_add", .n_inputs = 2, .input_names = zins,
                              .n_outputs = 1, .output_names = zouts,
                              .expr = "z = y * y + a;", .grad_exprs = zgrads};
  zmlx_elementwise *swiglu, *sq_add;
  TRY(zmlx_elementwise_create(&sd, &swiglu));
  TRY(zmlx_elementwise_create(&zd, &sq_add));

  int64_t shape[1] = {N};
  zmlx_array *a, *b;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 1, shape, 1, 0, 1, dev, &a));
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 1, shape, 2, 0, 1, dev, &b));

  /* Record: the tape retains a and b and every recorded input and output. */
  zmlx_tape *tape;
  TRY(zmlx_tape_create(&tape));
  TRY(zmlx_tape_watch(tape, a));
  TRY(zmlx_tape_watch(tape, b));
  zmlx_array *ab[2] = {a, b}, *y, *z;
  TRY(zmlx_tape_elementwise(tape, swiglu, 2, ab, 0, NULL, &y));
  zmlx_array *ya[2] = {y, a};
  TRY(zmlx_tape_elementwise(tape, sq_add, 2, ya, 0, NULL, &z));

  /* dz/da, dz/db with g = ones (NULL). a is used twice: its gradients sum. */
  zmlx_array *d[2];
  TRY(zmlx_tape_backward(tape, z, NULL, 2, ab, d, 0));
  printf("tape: %lld operations recorded\n", (long long)zmlx_tape_size(tape));

  float ha[N], hb[N], hda[N], hdb[N];
  host(a, ha);
  host(b, hb);
  host(d[0], hda);
  host(d[1], hdb);
  double worst = 0;
  for (int i = 0; i < N; i++) {
    float sg = 1.0f / (1.0f + expf(-ha[i])), yy = silu(ha[i]) * hb[i];
    float da = 2 * yy * hb[i] * sg * (1 + ha[i] * (1 - sg)) + 1, db = 2 * yy * silu(ha[i]);
    worst = fmax(worst, fmax(fabs(da - hda[i]), fabs(db - hdb[i])));
  }
  printf("dz/da[0] = %g, dz/db[0] = %g; max |tape - by hand| = %.3g\n", hda[0], hdb[0],
         worst);

  /* Gradient check of swiglu's grad_exprs: small f32 inputs, default tolerances. */
  zmlx_array *ga, *gb;
  int64_t small[2] = {3, 5};
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 2, small, 3, 0, 1, dev, &ga));
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_F32, 2, small, 4, 0, 1, dev, &gb));
  zmlx_array *gin[2] = {ga, gb};
  zmlx_gradcheck_report rep;
  TRY(zmlx_gradcheck_elementwise(swiglu, 2, gin, 0, NULL, 0, 0, 0, &rep));
  printf("gradcheck swiglu: %s, max abs err %.3g, max rel err %.3g (eps %g, rtol %g)\n",
         rep.passed ? "passed" : "FAILED", rep.max_abs_err, rep.max_rel_err, rep.eps,
         rep.rtol);

  zmlx_array *all[] = {a, b, y, z, d[0], d[1], ga, gb};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
  zmlx_tape_destroy(tape); /* before the kernels it borrows */
  zmlx_elementwise_destroy(swiglu);
  zmlx_elementwise_destroy(sq_add);
  zmlx_shutdown();
  return worst < 1e-3 ? 0 : 1;
}
