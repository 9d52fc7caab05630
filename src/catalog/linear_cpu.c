/* The engines besides cuBLASLt: OpenBLAS's sgemm/dgemm on the CPU (when
 * CMake found a static OpenBLAS, ZMLX_HAVE_OPENBLAS), a plain run-time
 * kernel that computes any GEMM on any backend (one output element per
 * point, f32 or f64 sums), and the bias/activation epilogue as an
 * elementwise kernel for engines that have none. */
#include <limits.h>
#include <pthread.h>

#include "catalog/cat_internal.h"
#include "catalog/linear_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

#define OP "matmul"

#if defined(ZMLX_HAVE_OPENBLAS) && ZMLX_HAVE_OPENBLAS
/* CBLAS (the reference interface OpenBLAS implements); enum values from
 * cblas.h: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112. LP64:
 * Debian's libopenblas0 uses 32-bit integers. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
                 int lda, const double *b, int ldb, double beta, double *c, int ldc);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

int zl_have_blas(void) { return 1; }

zmlx_status zl_blas_gemm(const zl_gemm *g) {
  if (g->M > INT_MAX || g->N > INT_MAX || g->K > INT_MAX || g->a.ld > INT_MAX ||
      g->b.ld > INT_MAX)
    return zl_fallback_gemm(g);
  int f64 = g->dtype == ZMLX_DTYPE_F64;
  size_t es = f64 ? 8 : 4;
  const char *pa = zmlx_array_data(g->a.array), *pb = zmlx_array_data(g->b.array);
  char *pc = zmlx_array_data(g->c);
  /* A column-major logical matrix is the transpose of a row-major one. */
  int ta = g->a.col ? TRANS : NO_TRANS, tb = g->b.col ? TRANS : NO_TRANS;
  int m = (int)g->M, n = (int)g->N, k = (int)g->K, lda = (int)g->a.ld, ldb = (int)g->b.ld;
  for (int64_t p = 0; p < g->batch; p++) {
    const void *A = pa + (size_t)(p * g->a.batch_stride) * es;
    const void *B = pb + (size_t)(p * g->b.batch_stride) * es;
    void *C = pc + (size_t)(p * g->M * g->N) * es;
    if (f64)
      cblas_dgemm(ROW_MAJOR, ta, tb, m, n, k, 1.0, A, lda, B, ldb, 0.0, C, n);
    else
      cblas_sgemm(ROW_MAJOR, ta, tb, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
  }
  return ZMLX_STATUS_OK;
}
#else
int zl_have_blas(void) { return 0; }
zmlx_status zl_blas_gemm(const zl_gemm *g) { return zl_fallback_gemm(g); }
#endif

/* ---- the fallback kernel ---------------------------------------------------- */

static const char gemm_body[] =
    "#if F64\ntypedef double acc_t;\n#define CV(v) zmlx_tod(v)\n"
    "#else\ntypedef float acc_t;\n#define CV(v) zmlx_tof(v)\n#endif\n"
    "if (gid >= n) return;\n"
    "const long long j = gid % N, r = gid / N, i = r % M, p = r / M;\n"
    "const a_t *A = a + p * sa;\n"
    "const b_t *B = b + p * sb;\n"
    "acc_t acc = 0;\n"
    "for (long long k = 0; k < K; k++)\n"
    "  acc += CV(A[acol ? i + k * lda : i * lda + k]) * CV(B[bcol ? k + j * ldb : k * ldb + j]);\n"
    "if (has_bias) acc += CV(bias[j]);\n"
    "if (act == 1) acc = acc > 0 ? acc : (acc_t)0;\n"
    "#if F64\n"
    "else if (act == 2) acc = zmlx_gelu_tanh_stabled(acc);\n"
    "#else\n"
    "else if (act == 2) acc = zmlx_gelu_tanh_stablef(acc);\n"
    "#endif\n"
    "zmlx_store(c, gid, acc);\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *gemm_kernel;
static zcat_ew_slot epi_slots[2];

void zcat_linear_shutdown(void) {
  zl_cublaslt_shutdown();
  pthread_mutex_lock(&lock);
  zmlx_kernel_destroy(gemm_kernel);
  gemm_kernel = NULL;
  pthread_mutex_unlock(&lock);
}

zmlx_status zl_fallback_kernel(zmlx_kernel **out) {
  static const char *const ins[] = {"a", "b", "bias"}, *const outs[] = {"c"};
  static const char *const scs[] = {"n", "M", "N", "K", "lda", "ldb", "sa", "sb",
                                    "acol", "bcol", "has_bias", "act"};
  static const zmlx_dtype i64[12] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                     ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                     ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!gemm_kernel) {
    zmlx_kernel_desc d = {.name = "gemm_fallback", .n_inputs = 3, .input_names = ins,
                          .n_outputs = 1, .output_names = outs, .n_scalars = 12,
                          .scalar_names = scs, .scalar_dtypes = i64, .source = gemm_body};
    s = zmlx_kernel_create(&d, &gemm_kernel);
  }
  *out = gemm_kernel;
  pthread_mutex_unlock(&lock);
  return s;
}

zmlx_status zl_fallback_gemm(const zl_gemm *g) {
  int64_t n = g->batch * g->M * g->N;
  if (n == 0) return ZMLX_STATUS_OK;
  zmlx_kernel *k;
  ZMLX_TRY(zl_fallback_kernel(&k));
  zmlx_template_arg t[1] = {{"F64", ZMLX_TEMPLATE_BOOL, g->dtype == ZMLX_DTYPE_F64}};
  double sc[12] = {(double)n, (double)g->M, (double)g->N, (double)g->K, (double)g->a.ld,
                   (double)g->b.ld, (double)g->a.batch_stride, (double)g->b.batch_stride,
                   g->a.col, g->b.col, g->bias != NULL, g->act};
  zmlx_array *in[3] = {g->a.array, g->b.array, g->bias ? g->bias : g->a.array};
  zmlx_launch_config cfg = {.grid = {n, 1, 1}, .n_templates = 1, .templates = t,
                            .n_scalars = 12, .scalars = sc};
  zmlx_array *out = g->c;
  return zk_launch(k, 3, in, &cfg, &out, ZK_OUTPUTS_GIVEN | ZK_INPUTS_AS_IS);
}

zmlx_status zl_epilogue(zmlx_array *c, zmlx_array *bias, zmlx_matmul_act act, zmlx_array *out) {
  static const char *ins_b[] = {"c", "bb"}, *ins[] = {"c"}, *outs[] = {"y"}, *scs[] = {"act"};
  static const char expr_b[] =
      "ZT v = c + bb;\n"
      "y = act == ZK(1) ? (v > ZK(0) ? v : ZK(0)) : act == ZK(2) ? ZH(gelu_tanh_stable)(v) : v;";
  static const char expr[] =
      "y = act == ZK(1) ? (c > ZK(0) ? c : ZK(0)) : act == ZK(2) ? ZH(gelu_tanh_stable)(c) : c;";
  if (zmlx_array_numel(out) == 0) return ZMLX_STATUS_OK;
  if (!bias && act == ZMLX_MATMUL_ACT_NONE && c == out) return ZMLX_STATUS_OK;
  zmlx_elementwise_desc d = {.name = bias ? "matmul_epilogue_bias" : "matmul_epilogue",
                             .n_inputs = bias ? 2 : 1, .input_names = bias ? ins_b : ins,
                             .n_outputs = 1, .output_names = outs, .n_scalars = 1,
                             .scalar_names = scs, .expr = bias ? expr_b : expr};
  zmlx_elementwise *k;
  ZMLX_TRY(zcat_ew_get(&epi_slots[bias != NULL], &d, zmlx_array_dtype(out), &k));
  zmlx_array *in[2] = {c, bias};
  double a = act;
  return zmlx_elementwise_launch_into(k, bias ? 2 : 1, in, 1, &a, &out);
}
