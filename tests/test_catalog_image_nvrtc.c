/* NVRTC compile checks of the image family's kernels (resize, depthwise
 * 3x3 and their backwards) for sm_90 ($ZMLX_CUDA_ARCH), with or without a
 * GPU, in bf16 and f64 (the two ends of the compute types). Skips (77)
 * without NVRTC. */
#include "backend/cuda/cuda_api.h"
#include "catalog/image_internal.h"
#include "zt_array.h"

static zmlx_array *host(zmlx_dtype t, int64_t n) {
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &a));
  return a;
}

static void compile(zi_kernel_id id, const char *entry, int n_in, const zmlx_dtype *in_t,
                    int n_out, const zmlx_dtype *out_t, int n_sc, int f64) {
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  zmlx_kernel *k = NULL;
  CHECK_OK(zi_kernel(id, &k));
  zmlx_array *in[4] = {0};
  for (int i = 0; i < n_in; i++) in[i] = host(in_t[i], 16);
  int nd[2] = {1, 1};
  int64_t n = 16;
  const int64_t *shapes[2] = {&n, &n};
  double sc[8] = {16, 2, 2, 2, 2, 2, 1, 1};
  zmlx_template_arg t[] = {{"F64", ZMLX_TEMPLATE_BOOL, f64}, {"IDX32", ZMLX_TEMPLATE_BOOL, !f64}};
  zmlx_launch_config cfg = {.output_dtypes = out_t, .output_ndims = nd, .output_shapes = shapes,
                            .n_templates = 2, .templates = t, .n_scalars = n_sc, .scalars = sc};
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  if (k) CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, &cfg, &src));
  if (src) {
    zmlx_status s = zb_nvrtc_compile(src, entry, arch, &cubin, &len, &log);
    CHECK_MSG(s == ZMLX_STATUS_OK, "%s (f64 %d): %s\n%s", entry, f64, zmlx_error_last(),
              log ? log : "");
  }
  free(src);
  free(log);
  free(cubin);
  for (int i = 0; i < n_in; i++) zmlx_array_release(in[i]);
}

static void test_image_kernels(void) {
  for (int f64 = 0; f64 < 2; f64++) {
    zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_BF16, acc = f64 ? t : ZMLX_DTYPE_F32;
    zmlx_dtype one[1] = {t}, three[3] = {t, t, t}, accs[1] = {acc}, two_t[2] = {t, t};
    compile(ZI_RESIZE, "zmlx_resize_bilinear", 1, one, 1, one, 7, f64);
    compile(ZI_RESIZE_BWD, "zmlx_resize_bilinear_bwd", 1, one, 1, one, 7, f64);
    compile(ZI_DWCONV, "zmlx_dwconv3x3", 3, three, 1, one, 5, f64);
    compile(ZI_DWCONV_DX, "zmlx_dwconv3x3_dx", 2, two_t, 1, one, 4, f64);
    compile(ZI_DWCONV_PART, "zmlx_dwconv3x3_part", 2, two_t, 1, accs, 6, f64);
    compile(ZI_DWCONV_SUM, "zmlx_dwconv3x3_sum", 1, accs, 2, two_t, 3, f64);
  }
}

int main(int argc, char **argv) {
  char why[256];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC unavailable: %s", why);
  static const zt_case cases[] = {ZT(test_image_kernels)};
  return zt_run(cases, 1, argc, argv);
}
