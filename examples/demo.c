/* The ZMLX demo: write a fused kernel as a C expression, run it on the best
 * device here, check it against the CPU, and show what the caches did.
 *
 *   out = silu(gate) * up        (SwiGLU, the MLP activation of Llama/Qwen)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "zmlx/zmlx.h"

#define TRY(expr)                                                        \
  do {                                                                   \
    zmlx_status s_ = (expr);                                             \
    if (s_ != ZMLX_STATUS_OK) {                                          \
      fprintf(stderr, "%s failed: %s\n%s\n", #expr, zmlx_status_name(s_), \
              zmlx_error_last());                                        \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

static zmlx_array *swiglu(zmlx_kernel *k, zmlx_array *gate, zmlx_array *up) {
  zmlx_array *in[2] = {gate, up}, *out = NULL;
  zmlx_dtype dt = zmlx_array_dtype(gate);
  int ndim = zmlx_array_ndim(gate);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int i = 0; i < ndim; i++) shape[i] = zmlx_array_dim(gate, i);
  const int64_t *shapes[] = {shape};
  zmlx_launch_config cfg = {.output_dtypes = &dt, .output_ndims = &ndim, .output_shapes = shapes};
  TRY(zmlx_kernel_launch(k, 2, in, &cfg, &out));
  return out;
}

int main(void) {
  zmlx_device dev = zmlx_device_default();
  zmlx_device_info info;
  char name[32];
  TRY(zmlx_device_info_get(dev, &info));
  printf("ZMLX %s on %s: %s\n", zmlx_version(), zmlx_device_format(dev, name, sizeof name),
         info.name);

  static const char *ins[] = {"gate", "up"}, *outs[] = {"out"};
  zmlx_kernel_desc desc = {
      .name = "swiglu", .n_inputs = 2, .input_names = ins, .n_outputs = 1, .output_names = outs,
      .source = "zmlx_store(out, gid, zmlx_siluf(zmlx_tof(gate[gid])) * zmlx_tof(up[gid]));"};
  zmlx_kernel *k;
  TRY(zmlx_kernel_create(&desc, &k));

  int64_t shape[2] = {4096, 1024};
  zmlx_array *gate, *up;
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_BF16, 2, shape, 1, 0.0, 1.0, dev, &gate));
  TRY(zmlx_array_random_normal(ZMLX_DTYPE_BF16, 2, shape, 2, 0.0, 1.0, dev, &up));
  zmlx_array *out = swiglu(k, gate, up);

  /* The same kernel on the CPU, as the reference. */
  zmlx_array *gate_c, *up_c;
  TRY(zmlx_array_to_device(gate, ZMLX_CPU, &gate_c));
  TRY(zmlx_array_to_device(up, ZMLX_CPU, &up_c));
  zmlx_array *ref = swiglu(k, gate_c, up_c);

  size_t n = (size_t)zmlx_array_numel(out);
  uint16_t *a = malloc(n * 2), *b = malloc(n * 2);
  TRY(zmlx_array_to_host(out, a, n * 2));
  TRY(zmlx_array_to_host(ref, b, n * 2));
  double max_err = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)zmlx_bf16_to_f32(a[i]) - zmlx_bf16_to_f32(b[i]));
    if (d > max_err) max_err = d;
  }
  char fmt[128];
  printf("swiglu %s: max |device - cpu| = %.3g\n", zmlx_array_format(out, fmt, sizeof fmt), max_err);

  zmlx_kernel_stats st;
  zmlx_cache_info ci;
  TRY(zmlx_kernel_stats_get(k, &st));
  TRY(zmlx_cache_info_get(&ci));
  printf("kernel: %llu variants, %llu compiles (%.1f ms), %llu disk hits, %llu launches\n",
         (unsigned long long)st.n_variants, (unsigned long long)st.n_compiles, st.compile_ms,
         (unsigned long long)st.n_disk_hits, (unsigned long long)st.n_launches);
  printf("disk cache: %s (%llu files); run the demo again to load from it\n", ci.dir,
         (unsigned long long)ci.n_files);

  free(a);
  free(b);
  zmlx_array_release(gate);
  zmlx_array_release(up);
  zmlx_array_release(out);
  zmlx_array_release(gate_c);
  zmlx_array_release(up_c);
  zmlx_array_release(ref);
  zmlx_kernel_destroy(k);
  zmlx_shutdown();
  return max_err < 0.05 ? 0 : 1;
}
