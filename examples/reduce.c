/* Reductions, row map-reductions and scans: ready-made sum / max / argmax,
 * a middle-axis sum, softmax, layernorm and cumsum, then a user reduction
 * (the RMS of each row) and a user map_reduce (RMSNorm), all on the default
 * device.  Build: part of the normal build (build/example_reduce). */
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

/* Element `i` (C order) of any array, read as f32. */
static float at(zmlx_array *a, int64_t i) {
  zmlx_array *f32, *flat, *one;
  int64_t n = zmlx_array_numel(a);
  TRY(zmlx_array_astype(a, ZMLX_DTYPE_F32, &f32));
  TRY(zmlx_array_reshape(f32, 1, &n, &flat));
  TRY(zmlx_array_slice(flat, 0, i, i + 1, 1, &one));
  float v;
  TRY(zmlx_array_to_host(one, &v, sizeof v));
  zmlx_array_release(one);
  zmlx_array_release(flat);
  zmlx_array_release(f32);
  return v;
}

int main(void) {
  zmlx_device dev = zmlx_device_default();
  enum { ROWS = 256, COLS = 1024 };
  int64_t shape[2] = {ROWS, COLS};
  char buf[128], buf2[128];

  zmlx_array *x;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_BF16, 2, shape, 1, 0, 1, dev, &x));

  /* Ready-made reductions along the last axis: one value per row. */
  int last = -1;
  zmlx_array *sum, *mx, *amax;
  TRY(zmlx_reduce_sum(x, 1, &last, 0, &sum));
  TRY(zmlx_reduce_max(x, 1, &last, 0, &mx));
  TRY(zmlx_reduce_argmax(x, 1, &last, 0, &amax)); /* i64 */
  int64_t amax_host[ROWS];
  TRY(zmlx_array_to_host(amax, amax_host, sizeof amax_host));
  printf("row 0: sum = %g, max = %g, argmax = %lld (x[0, argmax] = %g)\n", at(sum, 0),
         at(mx, 0), (long long)amax_host[0], at(x, amax_host[0]));
  printf("sum: %s, argmax: %s\n", zmlx_array_format(sum, buf, sizeof buf),
         zmlx_array_format(amax, buf2, sizeof buf2));

  /* A middle axis: (8, 32, 1024) summed over axis 1 -> (8, 1024). */
  int64_t shape3[3] = {8, ROWS / 8, COLS};
  zmlx_array *x3, *mid;
  TRY(zmlx_array_reshape(x, 3, shape3, &x3));
  int axis1 = 1;
  TRY(zmlx_reduce_sum(x3, 1, &axis1, 0, &mid));
  printf("middle-axis sum: %s, [0, 0] = %g\n", zmlx_array_format(mid, buf, sizeof buf),
         at(mid, 0));

  /* Softmax, layernorm with weight and bias, cumsum: all along the rows. */
  zmlx_array *sm, *w, *b, *ln, *cs, *smsum;
  TRY(zmlx_softmax(x, -1, &sm));
  TRY(zmlx_reduce_sum(sm, 1, &last, 0, &smsum));
  TRY(zmlx_array_full(ZMLX_DTYPE_BF16, 1, &shape[1], 2.0, dev, &w));
  TRY(zmlx_array_arange(ZMLX_DTYPE_BF16, COLS, 0, 0.001, dev, &b));
  TRY(zmlx_layernorm(x, w, b, 1e-5, &ln));
  TRY(zmlx_cumsum(x, -1, &cs));
  printf("softmax row 0 sums to %g; layernorm[0, 0] = %g; cumsum[0, -1] = %g (= sum[0])\n",
         at(smsum, 0), at(ln, 0), at(cs, COLS - 1));

  /* A user reduction: the RMS of each row, sum of squares in f32. */
  zmlx_reduce_desc rd = {.name = "rms", .init = "acc = 0;", .update = "acc += x * x;",
                         .combine = "acc += other;",
                         .finalize = "out = zr_sqrt(acc / (compute_t)n);"};
  zmlx_reduce *rms;
  TRY(zmlx_reduce_create(&rd, &rms));
  zmlx_array *r;
  TRY(zmlx_reduce_launch(rms, x, 1, &last, 0, &r));
  printf("rms of row 0 = %g (about 1 for N(0, 1))\n", at(r, 0));

  /* A user map_reduce: RMSNorm, out = x * rsqrt(mean(x^2) + eps) * w. */
  static const char *params[] = {"w"}, *scalars[] = {"eps"};
  zmlx_map_reduce_desc md = {.name = "rmsnorm", .init = "acc = 0;",
                             .update = "acc += x * x;", .combine = "acc += other;",
                             .finalize = "acc = 1 / zr_sqrt(acc / (compute_t)n + eps);",
                             .write = "out = x * acc * w;", .n_params = 1,
                             .param_names = params, .n_scalars = 1,
                             .scalar_names = scalars};
  zmlx_map_reduce *rmsnorm;
  TRY(zmlx_map_reduce_create(&md, &rmsnorm));
  zmlx_array *rn;
  double eps = 1e-6;
  TRY(zmlx_map_reduce_launch(rmsnorm, x, -1, 1, &w, 1, &eps, &rn));
  printf("rmsnorm[0, 0] = %g (x[0, 0] / rms * 2 = %g)\n", at(rn, 0),
         at(x, 0) / at(r, 0) * 2);

  zmlx_array *all[] = {x, sum, mx, amax, x3, mid, sm, smsum, w, b, ln, cs, r, rn};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
  zmlx_reduce_destroy(rms);
  zmlx_map_reduce_destroy(rmsnorm);
  zmlx_shutdown();
  return 0;
}
