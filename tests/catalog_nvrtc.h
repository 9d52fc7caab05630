#ifndef CATALOG_NVRTC_H
#define CATALOG_NVRTC_H
/* Where NVRTC exists but no GPU does (CI), the catalog's CUDA code is at
 * least compiled: every expression and gradient expression of the
 * kernels this run built, in one raw kernel per compute type, for sm_90
 * ($ZMLX_CUDA_ARCH). The elementwise machinery around the expressions is
 * compile-checked by test_nvrtc; a family's hand-written raw kernels need
 * their own check (the packed GLU's is here). */
#include "backend/cuda/cuda_api.h"
#include "catalog/cat_internal.h"
#include "catalog/glu_internal.h"
#include "catalog_harness.h"

static inline void hc_nvrtc_compile(zmlx_kernel *k, int n_in, zmlx_array **in,
                                    const zmlx_launch_config *cfg, const char *entry,
                                    const char *what) {
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, cfg, &src));
  if (src) {
    zmlx_status s = zb_nvrtc_compile(src, entry, arch, &cubin, &len, &log);
    zt_checks_++;
    if (s) ZT_FAIL_("NVRTC, %s: %s\n%s", what, zmlx_error_last(), log ? log : "");
    else printf("ok   nvrtc: %s compiles for %s\n", what, arch);
  }
  free(src);
  free(log);
  free(cubin);
}

/* The packed GLU raw kernels: each direction with and without bias in
 * bf16 with 16-byte vectors (every activation once), and f64. */
static inline void hc_nvrtc_glu_packed(void) {
  static const char *entries[2][2] = {{"zmlx_glu_packed", "zmlx_glu_packed_bwd"},
                                      {"zmlx_glu_packed_bias", "zmlx_glu_packed_bias_bwd"}};
  for (int c = 0; c < 5; c++) {
    int bias = c < 4 ? c / 2 : 1, bwd = c < 4 ? c % 2 : 1, f64 = c == 4;
    zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_BF16;
    zmlx_kernel *k = NULL;
    zmlx_array *in[3] = {NULL, NULL, NULL};
    int64_t n = 16;
    int n_in = 1 + bwd + bias, one = 1;
    for (int i = 0; i < n_in; i++) CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &in[i]));
    CHECK_OK(zcat_glu_packed_kernel(bias, bwd, &k));
    const int64_t *shapes[] = {&n};
    double sc[2] = {8, f64 ? 4 : 1};
    zmlx_template_arg tp[4] = {{"VEC", ZMLX_TEMPLATE_INT, f64 ? 2 : 8},
                               {"KIND", ZMLX_TEMPLATE_INT, c % 3},
                               {"F64", ZMLX_TEMPLATE_BOOL, f64},
                               {"BIAS", ZMLX_TEMPLATE_BOOL, bias}};
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                              .n_templates = 4, .templates = tp, .n_scalars = 2, .scalars = sc};
    char what[96];
    snprintf(what, sizeof what, "%s (%s, kind %d)", entries[bias][bwd] + 5, zmlx_dtype_name(t),
             c % 3);
    if (k) hc_nvrtc_compile(k, n_in, in, &cfg, entries[bias][bwd], what);
    for (int i = 0; i < n_in; i++) zmlx_array_release(in[i]);
  }
}

/* raw: also the hand-written kernels (one worker does them). */
static inline void hc_nvrtc_check(int raw) {
  char why[512];
  zt_current_ = "nvrtc";
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("skip nvrtc compile check: %s\n", why);
    return;
  }
  for (int f64 = 0; f64 < 2; f64++) {
    char *body = NULL;
    const char *header = NULL;
    CHECK_OK(zcat_check_body(f64, &body, &header));
    if (!body) continue;
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
    if (k && x)
      hc_nvrtc_compile(k, 1, &x, &cfg, "zmlx_catalog_check",
                       f64 ? "the catalog's expressions (f64 compute)"
                           : "the catalog's expressions (f32 compute)");
    free(body);
    zmlx_array_release(x);
    zmlx_kernel_destroy(k);
  }
  if (raw) hc_nvrtc_glu_packed();
}

#endif
