/* NVRTC compile checks of the quantization family's hand-written kernels,
 * with or without a GPU: the CUDA source generated for each variant the
 * ops launch compiles into a cubin for sm_90 ($ZMLX_CUDA_ARCH), and the
 * fp8 path once for sm_80 (no hardware conversion there). Skips (77)
 * without NVRTC. */
#include "backend/cuda/cuda_api.h"
#include "catalog/quant_internal.h"
#include "zt_array.h"

/* arch: NULL for $ZMLX_CUDA_ARCH (default sm_90). */
static void compile_ok(zq_kernel_id id, const char *entry, int n_in, zmlx_array **in,
                       const zmlx_launch_config *cfg, const char *arch, const char *what) {
  if (!arch) arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  zmlx_kernel *k = NULL;
  CHECK_OK(zq_kernel(id, &k));
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  if (k) CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, cfg, &src));
  if (!src) return;
  zmlx_status s = zb_nvrtc_compile(src, entry, arch, &cubin, &len, &log);
  CHECK_MSG(s == ZMLX_STATUS_OK, "%s (%s): %s\n%s", what, arch, zmlx_error_last(), log ? log : "");
  free(log);
  free(cubin);
  free(src);
}

static zmlx_array *host(zmlx_dtype t, int64_t n) {
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &a));
  return a;
}

/* One variant per code layout, per output dtype, and the fp8 fallback
 * for GPUs without the e4m3 conversion (each compile takes a second). */
static void dequant_variant(zmlx_dtype qt, zmlx_dtype ot, int vec, int fullwarp, int fmt, int act,
                            const char *arch) {
  zmlx_array *in[3] = {host(qt, 64), host(ot, 8), host(ot, 8)};
  int one = 1;
  int64_t n = 64;
  const int64_t *shapes[] = {&n};
  double sc[5] = {64, 16, 8, 2, 0};
  zmlx_template_arg t[] = {{"NIB", ZMLX_TEMPLATE_BOOL, qt == ZMLX_DTYPE_U8},
                           {"VEC", ZMLX_TEMPLATE_INT, vec},
                           {"F64", ZMLX_TEMPLATE_BOOL, ot == ZMLX_DTYPE_F64},
                           {"IDX32", ZMLX_TEMPLATE_BOOL, vec == 8},
                           {"FULLWARP", ZMLX_TEMPLATE_BOOL, fullwarp},
                           {"FMTC", ZMLX_TEMPLATE_INT, fmt},
                           {"ACTC", ZMLX_TEMPLATE_INT, act}};
  zmlx_launch_config cfg = {.output_dtypes = &ot, .output_ndims = &one, .output_shapes = shapes,
                            .n_templates = 7, .templates = t, .n_scalars = 5, .scalars = sc};
  char what[96];
  snprintf(what, sizeof what, "dequant q %s out %s vec %d fullwarp %d format %d act %d",
           zmlx_dtype_name(qt), zmlx_dtype_name(ot), vec, fullwarp, fmt, act);
  compile_ok(ZQ_DEQUANT, "zmlx_dequant", 3, in, &cfg, arch, what);
  for (int i = 0; i < 3; i++) zmlx_array_release(in[i]);
}

static void test_dequant(void) {
  /* As CUDA launches them: format and activation constants. */
  dequant_variant(ZMLX_DTYPE_I8, ZMLX_DTYPE_BF16, 8, 0, ZMLX_QFORMAT_INT8, 1, NULL);
  dequant_variant(ZMLX_DTYPE_U8, ZMLX_DTYPE_BF16, 8, 1, ZMLX_QFORMAT_NF4, 2, NULL);
  dequant_variant(ZMLX_DTYPE_U8, ZMLX_DTYPE_F16, 8, 0, ZMLX_QFORMAT_INT4, 3, NULL);
  dequant_variant(ZMLX_DTYPE_FP8_E4M3, ZMLX_DTYPE_BF16, 8, 0, ZMLX_QFORMAT_FP8_E4M3, 0, NULL);
  dequant_variant(ZMLX_DTYPE_FP8_E5M2, ZMLX_DTYPE_F32, 1, 0, ZMLX_QFORMAT_FP8_E5M2, 0, NULL);
  dequant_variant(ZMLX_DTYPE_FP8_E4M3, ZMLX_DTYPE_F32, 8, 0, ZMLX_QFORMAT_FP8_E4M3, 0, "sm_80");
  /* Run-time format and activation (the CPU's way) still compile. */
  dequant_variant(ZMLX_DTYPE_U8, ZMLX_DTYPE_F64, 1, 0, -1, -1, NULL);
}

static void test_affine(void) {
  const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
  for (int ti = 0; ti < 3; ti++) {
    zmlx_dtype t = types[ti];
    for (int bits = 2; bits <= 8; bits *= 2) {
      zmlx_array *in[3] = {host(ZMLX_DTYPE_U32, 8), host(t, 2), host(t, 2)};
      int one = 1;
      int64_t n = 64;
      const int64_t *shapes[] = {&n};
      zmlx_template_arg tp[] = {{"BITS", ZMLX_TEMPLATE_INT, bits},
                                {"IDX32", ZMLX_TEMPLATE_BOOL, 1},
                                {"F64", ZMLX_TEMPLATE_BOOL, 0},
                                {"ACTC", ZMLX_TEMPLATE_INT, bits == 4 ? -1 : bits / 2}};
      double sc[3] = {8, 32, 1};
      zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one,
                                .output_shapes = shapes, .n_templates = 4, .templates = tp,
                                .n_scalars = 3, .scalars = sc};
      char what[64];
      snprintf(what, sizeof what, "affine_dequant %s bits %d", zmlx_dtype_name(t), bits);
      compile_ok(ZQ_AFFINE_DEQUANT, "zmlx_affine_dequant", 3, in, &cfg, NULL, what);
      for (int i = 0; i < 3; i++) zmlx_array_release(in[i]);
    }
    zmlx_array *w = host(t, 64);
    zmlx_dtype od[3] = {ZMLX_DTYPE_U32, t, t};
    int nd[3] = {1, 1, 1};
    int64_t n8 = 8, n2 = 2;
    const int64_t *shapes[] = {&n8, &n2, &n2};
    zmlx_template_arg tp[] = {{"TMAX", ZMLX_TEMPLATE_INT, ti},
                              {"IDX32", ZMLX_TEMPLATE_BOOL, 1},
                              {"F64", ZMLX_TEMPLATE_BOOL, 0}};
    double sc[3] = {2, 4, 32};
    zmlx_launch_config cfg = {.output_dtypes = od, .output_ndims = nd, .output_shapes = shapes,
                              .n_templates = 3, .templates = tp, .n_scalars = 3, .scalars = sc};
    char what[64];
    snprintf(what, sizeof what, "affine_quant %s", zmlx_dtype_name(t));
    compile_ok(ZQ_AFFINE_QUANT, "zmlx_affine_quant", 1, &w, &cfg, NULL, what);
    zmlx_array_release(w);
  }
}

int main(int argc, char **argv) {
  char why[256];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC unavailable: %s", why);
  static const zt_case cases[] = {ZT(test_dequant), ZT(test_affine)};
  return zt_run(cases, 2, argc, argv);
}
