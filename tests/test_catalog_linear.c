/* The matmul beyond the registry's cases: a batched operand times a shared
 * 2-D one (either side, transposed or not), strided views that must be
 * copied, bias and activations, and every engine: the library's (OpenBLAS
 * or cuBLASLt) and the run-time kernel ($ZMLX_MATMUL_FALLBACK=1), forward
 * and backward, against f64 sums of the stored values, on every device.
 * Also: the engine each backend reports, and loading cuBLASLt where it is
 * installed (no GPU needed). */
#define ZT_SUITE_NAME "test_catalog_linear"
#define ZT_SUITE_SALT 0x11eau
#include <dlfcn.h>

#include "backend/cuda/cuda_api.h"
#include "catalog/linear_internal.h"
#include "zt_suite.h"

typedef struct mm_case {
  int na, nb;
  int64_t a[3], b[3];
  int ta, tb, bias, act;
} mm_case;

static const mm_case cases[] = {
    {3, 2, {3, 4, 5}, {5, 6}, 0, 0, 1, 0},   /* batched a, shared b: one tall GEMM */
    {3, 2, {3, 5, 4}, {5, 6}, 1, 0, 0, 0},   /* ... a transposed: stride-0 batches */
    {3, 2, {2, 4, 5}, {6, 5}, 0, 1, 1, 1},   /* shared b transposed, relu */
    {2, 3, {4, 5}, {3, 5, 6}, 0, 0, 0, 0},   /* shared a */
    {2, 3, {5, 4}, {2, 6, 5}, 1, 1, 1, 2},   /* shared a, both transposed, gelu */
    {3, 3, {2, 3, 7}, {2, 7, 2}, 0, 0, 1, 0}, /* batched both */
    {2, 2, {9, 1}, {1, 8}, 0, 0, 1, 0},      /* K = 1: an outer product */
};

/* op(x)(i, k) of batch p for a stored (P?, R, C) f64 array; shared: P 1. */
static double at(const double *v, int nd, const int64_t *sh, int trans, int64_t p, int64_t i,
                 int64_t k) {
  int64_t r = sh[nd - 2], c = sh[nd - 1];
  int64_t base = nd == 3 ? p * r * c : 0;
  return trans ? v[base + k * c + i] : v[base + i * c + k];
}

static double act_of(int act, double v) {
  if (act == 1) return v > 0 ? v : 0;
  if (act == 2) return v / (1 + exp(-2 * sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  return v;
}

static zmlx_array *make(zmlx_dtype t, int nd, const int64_t *sh, double **host, zmlx_device dev) {
  return zt_random_array(t, nd, sh, 2.0, &g_rng, dev, host);
}

static double max_err(const double *got, const double *want, int64_t n) {
  double e = 0, m = 0;
  for (int64_t i = 0; i < n; i++) {
    e = fmax(e, fabs(got[i] - want[i]));
    m = fmax(m, fabs(want[i]));
    if (isnan(got[i])) return INFINITY;
  }
  return m > 0 ? e / m : e;
}

static void run_case(zmlx_device dev, zmlx_dtype t, const mm_case *c, const char *engine) {
  double *av = NULL, *bv = NULL, *biasv = NULL, *dv = NULL;
  zmlx_array *a = make(t, c->na, c->a, &av, dev), *b = make(t, c->nb, c->b, &bv, dev);
  int64_t P = c->na == 3 ? c->a[0] : c->nb == 3 ? c->b[0] : 1;
  int64_t M = c->ta ? c->a[c->na - 1] : c->a[c->na - 2];
  int64_t K = c->ta ? c->a[c->na - 2] : c->a[c->na - 1];
  int64_t N = c->tb ? c->b[c->nb - 2] : c->b[c->nb - 1];
  zmlx_array *bias = c->bias ? make(t, 1, &N, &biasv, dev) : NULL, *out = NULL;
  double tol = t == ZMLX_DTYPE_F64 ? 1e-12 : t == ZMLX_DTYPE_F32 ? 1e-5 : 2e-2;
  /* cuBLASLt's GELU epilogue uses a fast tanh, in f64 too (2.7e-11 seen on
   * the H100); linear_gelu's catalog entry has the same tolerances. */
  if (c->act == 2 && t == ZMLX_DTYPE_F32) tol = 1e-3;
  if (c->act == 2 && t == ZMLX_DTYPE_F64) tol = 1e-9;
  CHECK_OK(zmlx_matmul(a, b, c->ta, c->tb, bias, (zmlx_matmul_act)c->act, &out));
  double *want = calloc((size_t)(P * M * N + 1), sizeof(double));
  for (int64_t p = 0; p < P; p++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = biasv ? biasv[j] : 0;
        for (int64_t k = 0; k < K; k++)
          s += at(av, c->na, c->a, c->ta, p, i, k) * at(bv, c->nb, c->b, c->tb, p, k, j);
        want[(p * M + i) * N + j] = act_of(c->act, s);
      }
  double *got = out ? zt_read_f64(out) : NULL;
  double e = got ? max_err(got, want, P * M * N) : INFINITY;
  CHECK_MSG(e <= tol, "%s %s %s: case a %lldx%lld%s b %lldx%lld%s: forward error %.3g (tol %.3g)",
            devname(dev), engine, zmlx_dtype_name(t), (long long)c->a[c->na - 2],
            (long long)c->a[c->na - 1], c->ta ? "^T" : "", (long long)c->b[c->nb - 2],
            (long long)c->b[c->nb - 1], c->tb ? "^T" : "", e, tol);
  if (c->act == 0) {
    /* Backward: dA, dB (summed over the batch for a shared operand), dbias. */
    int64_t oshape[3] = {P, M, N};
    int ond = P > 1 || c->na == 3 || c->nb == 3 ? 3 : 2;
    zmlx_array *dout = make(t, ond, ond == 3 ? oshape : oshape + 1, &dv, dev);
    zmlx_array *da = NULL, *db = NULL, *dbias = NULL;
    CHECK_OK(zmlx_matmul_backward(a, b, c->ta, c->tb, bias, dout, &da, &db, &dbias));
    int64_t na = 1, nb = 1;
    for (int d = 0; d < c->na; d++) na *= c->a[d];
    for (int d = 0; d < c->nb; d++) nb *= c->b[d];
    double *wa = calloc((size_t)na + 1, sizeof(double)), *wb = calloc((size_t)nb + 1, sizeof(double));
    double *wbias = calloc((size_t)N + 1, sizeof(double));
    int64_t ar = c->a[c->na - 2], ac = c->a[c->na - 1], br = c->b[c->nb - 2], bc = c->b[c->nb - 1];
    for (int64_t p = 0; p < P; p++)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          double g = dv[(p * M + i) * N + j];
          wbias[j] += g;
          for (int64_t k = 0; k < K; k++) {
            int64_t pa = c->na == 3 ? p * ar * ac : 0, pb = c->nb == 3 ? p * br * bc : 0;
            wa[pa + (c->ta ? k * ac + i : i * ac + k)] += g * at(bv, c->nb, c->b, c->tb, p, k, j);
            wb[pb + (c->tb ? j * bc + k : k * bc + j)] += g * at(av, c->na, c->a, c->ta, p, i, k);
          }
        }
    double *ga = da ? zt_read_f64(da) : NULL, *gb = db ? zt_read_f64(db) : NULL;
    double *gbias = dbias ? zt_read_f64(dbias) : NULL;
    double ea = ga ? max_err(ga, wa, na) : INFINITY, eb = gb ? max_err(gb, wb, nb) : INFINITY;
    double ebias = !c->bias ? (dbias == NULL ? 0 : INFINITY) : gbias ? max_err(gbias, wbias, N) : INFINITY;
    CHECK_MSG(ea <= 2 * tol && eb <= 2 * tol && ebias <= 2 * tol,
              "%s %s %s: backward errors da %.3g db %.3g dbias %.3g", devname(dev), engine,
              zmlx_dtype_name(t), ea, eb, ebias);
    CHECK_MSG(da && zmlx_array_ndim(da) == c->na && db && zmlx_array_ndim(db) == c->nb,
              "gradients must have the operands' shapes");
    free(ga);
    free(gb);
    free(gbias);
    free(wa);
    free(wb);
    free(wbias);
    zmlx_array_release(dout);
    zmlx_array_release(da);
    zmlx_array_release(db);
    zmlx_array_release(dbias);
    free(dv);
  }
  free(got);
  free(want);
  free(av);
  free(bv);
  free(biasv);
  zmlx_array_release(a);
  zmlx_array_release(b);
  zmlx_array_release(bias);
  zmlx_array_release(out);
}

static void test_shared_and_batched(void) {
  setup();
  const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F64};
  FOR_EACH_DEVICE(dev) {
    for (int fb = 0; fb < 2; fb++) {
      setenv("ZMLX_MATMUL_FALLBACK", fb ? "1" : "0", 1);
      for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int ti = 0; ti < 3; ti++) run_case(dev, types[ti], &cases[ci], fb ? "fallback" : "library");
    }
    unsetenv("ZMLX_MATMUL_FALLBACK");
  }
}

/* Every other row of a matrix: neither row- nor column-major, so copied. */
static void test_copied_layout(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    int64_t sa[2] = {10, 6}, sb[2] = {6, 4};
    double *av = NULL, *bv = NULL;
    zmlx_array *a = make(ZMLX_DTYPE_F32, 2, sa, &av, dev), *b = make(ZMLX_DTYPE_F32, 2, sb, &bv, dev);
    zmlx_array *half = NULL, *out = NULL;
    CHECK_OK(zmlx_array_slice(a, 0, 0, 10, 2, &half));
    if (half) CHECK_OK(zmlx_matmul(half, b, 0, 0, NULL, ZMLX_MATMUL_ACT_NONE, &out));
    double *got = out ? zt_read_f64(out) : NULL, want[20];
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 4; j++) {
        want[i * 4 + j] = 0;
        for (int k = 0; k < 6; k++) want[i * 4 + j] += av[2 * i * 6 + k] * bv[k * 4 + j];
      }
    CHECK_MSG(got && max_err(got, want, 20) < 1e-5, "%s: strided rows", devname(dev));
    free(got);
    free(av);
    free(bv);
    zmlx_array_release(a);
    zmlx_array_release(b);
    zmlx_array_release(half);
    zmlx_array_release(out);
  }
}

static void test_engines(void) {
  setup();
  const char *cpu = zmlx_matmul_backend(ZMLX_DEVICE_CPU);
  printf("cpu matmul: %s\ncuda matmul: %s\n", cpu, zmlx_matmul_backend(ZMLX_DEVICE_CUDA));
  CHECK(!strcmp(cpu, "openblas") || !strncmp(cpu, "fallback kernel", 15));
  /* Where the loader finds cuBLASLt, it loads without a GPU. */
  void *lib = dlopen("libcublasLt.so.13", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) lib = dlopen("libcublasLt.so.12", RTLD_LAZY | RTLD_LOCAL);
  if (lib) {
    dlclose(lib);
    CHECK_CONTAINS(zmlx_matmul_backend(ZMLX_DEVICE_CUDA), "cublasLt");
  }
}

/* The fallback kernel's CUDA source compiles (CI has NVRTC, no GPU). */
static void test_fallback_nvrtc(void) {
  setup();
  char why[256];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("skip: NVRTC unavailable: %s\n", why);
    CHECK(1);
    return;
  }
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  for (int f64 = 0; f64 < 2; f64++) {
    zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_BF16;
    zmlx_kernel *k = NULL;
    zmlx_array *in[3] = {NULL, NULL, NULL};
    int64_t n = 4;
    for (int i = 0; i < 3; i++) CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &in[i]));
    CHECK_OK(zl_fallback_kernel(&k));
    const int64_t *shapes[] = {&n};
    int one = 1;
    double sc[12] = {4, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1, 2};
    zmlx_template_arg tp[1] = {{"F64", ZMLX_TEMPLATE_BOOL, f64}};
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                              .n_templates = 1, .templates = tp, .n_scalars = 12, .scalars = sc};
    char *src = NULL, *log = NULL;
    void *cubin = NULL;
    size_t len = 0;
    if (k) CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), 3, in, &cfg, &src));
    if (src) {
      zmlx_status s = zb_nvrtc_compile(src, "zmlx_gemm_fallback", arch, &cubin, &len, &log);
      CHECK_MSG(s == ZMLX_STATUS_OK, "gemm_fallback (%s): %s\n%s", zmlx_dtype_name(t),
                zmlx_error_last(), log ? log : "");
    }
    free(src);
    free(log);
    free(cubin);
    for (int i = 0; i < 3; i++) zmlx_array_release(in[i]);
  }
}

ZT_MAIN(ZT(test_shared_and_batched), ZT(test_copied_layout), ZT(test_engines),
        ZT(test_fallback_nvrtc))
