/* NVRTC compile checks of the catalog's hand-written kernels (rope,
 * dropout, indexing, bits) in the variants their ops launch, for sm_90
 * ($ZMLX_CUDA_ARCH): CI has no GPU, so this is where a CUDA-only mistake
 * in a body (the #ifdef ZMLX_CUDA parts, atomics, vector types) shows.
 * Skips (77) without NVRTC. */
#include "backend/cuda/cuda_api.h"
#include "catalog/bits_internal.h"
#include "catalog/dropout_internal.h"
#include "catalog/index_internal.h"
#include "catalog/rope_internal.h"
#include "zt_array.h"

static const char *arch(void) {
  const char *a = getenv("ZMLX_CUDA_ARCH");
  return a ? a : "sm_90";
}

static zmlx_array *host(zmlx_dtype t) {
  int64_t n = 4;
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &a));
  return a;
}

/* Generate the CUDA source for k with these input and output dtypes and
 * templates, and compile it. */
static void compile(zmlx_kernel *k, int n_in, const zmlx_dtype *in_t, int n_out,
                    const zmlx_dtype *out_t, int n_tp, const zmlx_template_arg *tp, int n_sc,
                    const char *what) {
  if (!k) return;
  zmlx_array *in[8] = {0};
  for (int i = 0; i < n_in; i++) in[i] = host(in_t[i]);
  int64_t n = 4;
  const int64_t *shapes[4] = {&n, &n, &n, &n};
  int nds[4] = {1, 1, 1, 1};
  double sc[32] = {0};
  zmlx_launch_config cfg = {.output_dtypes = out_t, .output_ndims = nds, .output_shapes = shapes,
                            .n_templates = n_tp, .templates = tp, .n_scalars = n_sc,
                            .scalars = sc};
  char *src = NULL, *log = NULL, entry[128];
  void *cubin = NULL;
  size_t len = 0;
  snprintf(entry, sizeof entry, "zmlx_%s", k->name);
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, &cfg, &src));
  if (src) {
    zmlx_status s = zb_nvrtc_compile(src, entry, arch(), &cubin, &len, &log);
    CHECK_MSG(s == ZMLX_STATUS_OK, "%s: %s\n%s", what, zmlx_error_last(), log ? log : "");
    CHECK_MSG(s != ZMLX_STATUS_OK || (len > 4 && !memcmp(cubin, "\x7f" "ELF", 4)),
              "%s: not an ELF cubin", what);
  }
  free(src);
  free(log);
  free(cubin);
  for (int i = 0; i < n_in; i++) zmlx_array_release(in[i]);
}

static const zmlx_dtype floats[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F16, ZMLX_DTYPE_F64};

static void test_rope(void) {
  zmlx_kernel *k = NULL;
  CHECK_OK(zcat_rope_kernel(&k));
  for (int ti = 0; ti < 4; ti++)
    for (int v = 0; v < 4; v++) {
      zmlx_dtype t = floats[ti];
      int layout = v & 1, pos = (v >> 1) & 1;
      zmlx_dtype inv = v % 3 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
      zmlx_dtype pt = pos ? (ti % 2 ? ZMLX_DTYPE_I64 : ZMLX_DTYPE_I32) : inv;
      zmlx_dtype in_t[4] = {t, t, inv, pt}, out_t[2] = {t, t};
      zmlx_template_arg tp[5] = {
          {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64},
          {"LAYOUT", ZMLX_TEMPLATE_INT, layout},
          {"POS", ZMLX_TEMPLATE_BOOL, pos},
          {"VEC", ZMLX_TEMPLATE_INT, (int64_t)(16 / zmlx_dtype_size(t))},
          {"HPT", ZMLX_TEMPLATE_INT, ti % 2 ? 8 : ZR_HPT},
      };
      char what[96];
      snprintf(what, sizeof what, "rope %s layout %d pos %d", zmlx_dtype_name(t), layout, pos);
      compile(k, 4, in_t, 2, out_t, 5, tp, ZR_N_SCALARS, what);
    }
}

static void test_dropout(void) {
  zmlx_kernel *k = NULL;
  CHECK_OK(zcat_dropout_kernel(&k));
  for (int ti = 0; ti < 4; ti++)
    for (int mode = 0; mode < 3; mode++) {
      zmlx_dtype t = floats[ti], in_t[2] = {t, t};
      zmlx_dtype out_t[1] = {mode == ZD_MODE_MASK ? ZMLX_DTYPE_BOOL : t};
      zmlx_template_arg tp[2] = {{"MODE", ZMLX_TEMPLATE_INT, mode},
                                 {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64}};
      char what[96];
      snprintf(what, sizeof what, "dropout %s mode %d", zmlx_dtype_name(t), mode);
      compile(k, 2, in_t, 1, out_t, 2, tp, ZD_N_SCALARS, what);
    }
}

static void test_index(void) {
  zmlx_kernel *g = NULL, *sc = NULL, *tg = NULL, *ts = NULL;
  CHECK_OK(zcat_gather_rows_kernel(&g));
  CHECK_OK(zcat_scatter_rows_kernel(&sc));
  CHECK_OK(zcat_take_gather_kernel(&tg));
  CHECK_OK(zcat_take_scatter_kernel(&ts));
  for (int ti = 0; ti < 4; ti++)
    for (int v = 0; v < 2; v++) {
      zmlx_dtype t = floats[ti], it = v ? ZMLX_DTYPE_I64 : ZMLX_DTYPE_I32;
      zmlx_dtype acc = t == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
      char what[96];
      zmlx_dtype gin[3] = {t, it, t}, gout[1] = {t};
      zmlx_template_arg gtp[3] = {{"VEC", ZMLX_TEMPLATE_INT, (int64_t)(16 / zmlx_dtype_size(t))},
                                  {"ADD", ZMLX_TEMPLATE_BOOL, v},
                                  {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64}};
      snprintf(what, sizeof what, "gather_rows %s variant %d", zmlx_dtype_name(t), v);
      compile(g, 3, gin, 1, gout, 3, gtp, 4, what);
      zmlx_dtype sin_[2] = {t, it}, sout[1] = {acc};
      zmlx_template_arg stp[2] = {{"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64},
                                  {"COLS", ZMLX_TEMPLATE_INT, ZI_CPU_COLS}};
      snprintf(what, sizeof what, "scatter_rows %s variant %d", zmlx_dtype_name(t), v);
      compile(sc, 2, sin_, 1, sout, 2, stp, 3, what);
      snprintf(what, sizeof what, "take_gather %s variant %d", zmlx_dtype_name(t), v);
      compile(tg, 2, gin, 1, gout, 0, NULL, 3, what);
      snprintf(what, sizeof what, "take_scatter %s variant %d", zmlx_dtype_name(t), v);
      compile(ts, 2, sin_, 1, sout, 1, stp, 3, what);
    }
}

static void test_bits(void) {
  zmlx_kernel *pk = NULL, *uk = NULL;
  CHECK_OK(zcat_pack_bits_kernel(&pk));
  CHECK_OK(zcat_unpack_bits_kernel(&uk));
  for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
    zmlx_dtype x = (zmlx_dtype)t, u8 = ZMLX_DTYPE_U8;
    char what[96];
    snprintf(what, sizeof what, "pack_bits %s", zmlx_dtype_name(x));
    compile(pk, 1, &x, 1, &u8, 0, NULL, 2, what);
    zmlx_template_arg tp[1] = {{"FAST", ZMLX_TEMPLATE_BOOL, t % 2}};
    snprintf(what, sizeof what, "unpack_bits %s fast %d", zmlx_dtype_name(x), t % 2);
    compile(uk, 1, &u8, 1, &x, 1, tp, 2, what);
  }
}

static const zt_case cases[] = {ZT(test_rope), ZT(test_dropout), ZT(test_index), ZT(test_bits)};

int main(int argc, char **argv) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC not found: %s", why);
  return zt_run(cases, (int)(sizeof cases / sizeof *cases), argc, argv);
}
