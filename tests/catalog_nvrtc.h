#ifndef CATALOG_NVRTC_H
#define CATALOG_NVRTC_H
/* Where NVRTC exists but no GPU does (CI), the catalog's CUDA code is at
 * least compiled: every expression and gradient expression of the
 * kernels this run built, in one raw kernel per compute type, for sm_90
 * ($ZMLX_CUDA_ARCH). The elementwise machinery around the expressions is
 * compile-checked by test_nvrtc; a family's hand-written raw kernels need
 * their own check. */
#include "backend/cuda/cuda_api.h"
#include "catalog/cat_internal.h"
#include "catalog_harness.h"

static inline void hc_nvrtc_check(void) {
  char why[512];
  zt_current_ = "nvrtc";
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("skip nvrtc compile check: %s\n", why);
    return;
  }
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  for (int f64 = 0; f64 < 2; f64++) {
    char *body = NULL, *src = NULL, *log = NULL;
    const char *header = NULL;
    void *cubin = NULL;
    size_t len = 0;
    CHECK_OK(zcat_check_body(f64, &body, &header));
    if (!body) return;
    static const char *ins[] = {"zcat_in"}, *outs[] = {"zcat_out"};
    zmlx_kernel_desc d = {.name = "catalog_check", .n_inputs = 1, .input_names = ins,
                          .n_outputs = 1, .output_names = outs, .source = body, .header = header};
    zmlx_kernel *k = NULL;
    zmlx_array *x = NULL;
    int64_t n = 4;
    zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_BF16;
    CHECK_OK(zmlx_kernel_create(&d, &k));
    CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &x));
    const int64_t *shapes[] = {&n};
    int one = 1;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
    if (k && x) CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), 1, &x, &cfg, &src));
    if (src) {
      zmlx_status s = zb_nvrtc_compile(src, "zmlx_catalog_check", arch, &cubin, &len, &log);
      zt_checks_++;
      if (s) ZT_FAIL_("NVRTC (%s compute): %s\n%s", f64 ? "f64" : "f32", zmlx_error_last(),
                      log ? log : "");
      else printf("ok   nvrtc: the catalog's expressions compile for %s (%s compute)\n", arch,
                  f64 ? "f64" : "f32");
    }
    free(body);
    free(src);
    free(log);
    free(cubin);
    zmlx_array_release(x);
    zmlx_kernel_destroy(k);
  }
}

#endif
