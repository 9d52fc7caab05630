/* cuBLASLt, loaded with dlopen (nothing of CUDA at build time; the types,
 * enum values and prototypes below are copied from cublasLt.h,
 * cublas_api.h and library_types.h of CUDA 13.0, unchanged since 12).
 *
 * A row-major C = A B is the column-major C^T = B^T A^T: cuBLAS's "A" is
 * our B and its "B" our A, m = N and n = M, and a row-major operand is
 * read as the transpose of a column-major one with the same ld. The
 * algorithm comes from cublasLtMatmulAlgoGetHeuristic with the operands'
 * real alignment (the preference defaults to 256 bytes) and is cached per
 * problem; the workspace is a block of ZMLX's caching allocator, released
 * after the launch on the same stream (stream-ordered reuse). */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "catalog/linear_internal.h"
#include "core/array_internal.h"
#include "core/error.h"

#define OP "matmul"

typedef int zl_status_t; /* cublasStatus_t */
typedef struct { uint64_t data[8]; } zl_algo_t; /* cublasLtMatmulAlgo_t */
typedef struct {
  zl_algo_t algo;
  size_t workspaceSize;
  zl_status_t state;
  float wavesCount;
  int reserved[4];
} zl_heuristic_t; /* cublasLtMatmulHeuristicResult_t */

enum {
  CUBLAS_STATUS_SUCCESS_ = 0,
  CUDA_R_32F_ = 0, CUDA_R_64F_ = 1, CUDA_R_16F_ = 2, CUDA_R_16BF_ = 14,
  CUBLAS_COMPUTE_32F_ = 68, CUBLAS_COMPUTE_64F_ = 70, CUBLAS_COMPUTE_32F_FAST_TF32_ = 77,
  CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1,
  /* cublasLtMatmulDescAttributes_t */
  DESC_TRANSA = 3, DESC_TRANSB = 4, DESC_EPILOGUE = 7, DESC_BIAS_POINTER = 8,
  DESC_BIAS_BATCH_STRIDE = 10,
  /* cublasLtEpilogue_t */
  EPI_DEFAULT = 1, EPI_RELU = 2, EPI_BIAS = 4, EPI_GELU = 32,
  /* cublasLtMatrixLayoutAttribute_t */
  LAYOUT_BATCH_COUNT = 5, LAYOUT_STRIDED_BATCH_OFFSET = 6,
  /* cublasLtMatmulPreferenceAttributes_t */
  PREF_MAX_WORKSPACE_BYTES = 1, PREF_MIN_ALIGNMENT_A = 5, PREF_MIN_ALIGNMENT_B = 6,
  PREF_MIN_ALIGNMENT_C = 7, PREF_MIN_ALIGNMENT_D = 8,
};

/* The workspace cuBLAS recommends for Hopper. */
#define WORKSPACE_BYTES (32u << 20)

static struct {
  zl_status_t (*create)(void **handle);
  zl_status_t (*destroy)(void *handle);
  size_t (*version)(void);
  const char *(*status_string)(zl_status_t s);
  zl_status_t (*desc_create)(void **desc, int compute, int scale);
  zl_status_t (*desc_destroy)(void *desc);
  zl_status_t (*desc_set)(void *desc, int attr, const void *buf, size_t size);
  zl_status_t (*layout_create)(void **layout, int type, uint64_t rows, uint64_t cols, int64_t ld);
  zl_status_t (*layout_destroy)(void *layout);
  zl_status_t (*layout_set)(void *layout, int attr, const void *buf, size_t size);
  zl_status_t (*pref_create)(void **pref);
  zl_status_t (*pref_destroy)(void *pref);
  zl_status_t (*pref_set)(void *pref, int attr, const void *buf, size_t size);
  zl_status_t (*heuristic)(void *handle, void *desc, void *a, void *b, void *c, void *d,
                           void *pref, int requested, zl_heuristic_t *results, int *returned);
  zl_status_t (*matmul)(void *handle, void *desc, const void *alpha, const void *a, void *adesc,
                        const void *b, void *bdesc, const void *beta, const void *c, void *cdesc,
                        void *d, void *ddesc, const zl_algo_t *algo, void *workspace,
                        size_t workspace_bytes, void *stream);
} lt;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[600], describe_text[640];

static int sym(void *lib, void *slot, const char *name) {
  void *p = dlsym(lib, name);
  if (p) memcpy(slot, &p, sizeof p);
  return p != NULL;
}

static void load(void) {
  const char *names[] = {zmlx_env("ZMLX_CUBLASLT_PATH"),
                         "libcublasLt.so.13",
                         "libcublasLt.so.12",
                         "libcublasLt.so",
                         "/usr/local/cuda/lib64/libcublasLt.so.13",
                         "/usr/local/cuda/lib64/libcublasLt.so.12",
                         "/usr/local/cuda/targets/x86_64-linux/lib/libcublasLt.so.13",
                         "/usr/local/cuda/targets/x86_64-linux/lib/libcublasLt.so.12"};
  void *lib = NULL;
  const char *err = "not found";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++) {
    if (!names[i]) continue;
    lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib && i < 4) err = dlerror();
  }
  if (!lib) {
    snprintf(why, sizeof why, "libcublasLt.so.13/.12 not found (dlopen: %s)", err ? err : "?");
    return;
  }
  int ok = sym(lib, &lt.create, "cublasLtCreate") && sym(lib, &lt.destroy, "cublasLtDestroy") &&
           sym(lib, &lt.version, "cublasLtGetVersion") &&
           sym(lib, &lt.status_string, "cublasLtGetStatusString") &&
           sym(lib, &lt.desc_create, "cublasLtMatmulDescCreate") &&
           sym(lib, &lt.desc_destroy, "cublasLtMatmulDescDestroy") &&
           sym(lib, &lt.desc_set, "cublasLtMatmulDescSetAttribute") &&
           sym(lib, &lt.layout_create, "cublasLtMatrixLayoutCreate") &&
           sym(lib, &lt.layout_destroy, "cublasLtMatrixLayoutDestroy") &&
           sym(lib, &lt.layout_set, "cublasLtMatrixLayoutSetAttribute") &&
           sym(lib, &lt.pref_create, "cublasLtMatmulPreferenceCreate") &&
           sym(lib, &lt.pref_destroy, "cublasLtMatmulPreferenceDestroy") &&
           sym(lib, &lt.pref_set, "cublasLtMatmulPreferenceSetAttribute") &&
           sym(lib, &lt.heuristic, "cublasLtMatmulAlgoGetHeuristic") &&
           sym(lib, &lt.matmul, "cublasLtMatmul");
  if (!ok) {
    snprintf(why, sizeof why, "libcublasLt lacks a symbol this build uses (too old?)");
    dlclose(lib);
    return;
  }
  size_t v = lt.version();
  snprintf(describe_text, sizeof describe_text, "cublasLt %zu.%zu.%zu", v / 10000, v / 100 % 100,
           v % 100);
  loaded = 1;
}

const char *zl_cublaslt_describe(void) {
  pthread_once(&load_once, load);
  return loaded ? describe_text : why;
}

/* ---- per-device handles and the algorithm cache -------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *handles[ZC_MAX_DEVICES];

typedef struct zl_key {
  int dev, dtype, ta, tb, epilogue, tf32;
  int64_t m, n, k, lda, ldb, batch, sa, sb;
  uint32_t align[5];
} zl_key;

typedef struct zl_cached {
  zl_key key;
  int valid, found;
  zl_algo_t algo;
  size_t workspace;
} zl_cached;

#define CACHE 64
static zl_cached cache[CACHE];
static int cache_next;

void zl_cublaslt_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int d = 0; d < ZC_MAX_DEVICES; d++)
    if (handles[d]) {
      if (zc_enter(d, OP) == ZMLX_STATUS_OK) lt.destroy(handles[d]);
      handles[d] = NULL;
    }
  memset(cache, 0, sizeof cache);
  cache_next = 0;
  pthread_mutex_unlock(&lock);
}

static zmlx_status fail_lt(zl_status_t r, const char *what) {
  return zmlx_fail(ZMLX_STATUS_BACKEND_ERROR, OP, "%s failed: cuBLAS status %d (%s)", what, r,
                   lt.status_string ? lt.status_string(r) : "?");
}

static zmlx_status handle_for(int dev, void **out) {
  pthread_mutex_lock(&lock);
  zl_status_t r = CUBLAS_STATUS_SUCCESS_;
  if (!handles[dev]) r = lt.create(&handles[dev]);
  *out = handles[dev];
  pthread_mutex_unlock(&lock);
  return r == CUBLAS_STATUS_SUCCESS_ ? ZMLX_STATUS_OK : fail_lt(r, "cublasLtCreate");
}

/* The largest power of two (up to 256) that divides a device address. */
static uint32_t alignment(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && a % al) al /= 2;
  return al;
}

static int cuda_type(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F64: return CUDA_R_64F_;
    case ZMLX_DTYPE_F16: return CUDA_R_16F_;
    case ZMLX_DTYPE_BF16: return CUDA_R_16BF_;
    default: return CUDA_R_32F_;
  }
}

/* Descriptors of one call, destroyed together. */
typedef struct zl_descs {
  void *op, *x, *y, *d, *pref;
} zl_descs;

static void descs_free(zl_descs *s) {
  if (s->op) lt.desc_destroy(s->op);
  if (s->x) lt.layout_destroy(s->x);
  if (s->y) lt.layout_destroy(s->y);
  if (s->d) lt.layout_destroy(s->d);
  if (s->pref) lt.pref_destroy(s->pref);
}

#define LT(expr, what)                                 \
  do {                                                 \
    zl_status_t r_ = (expr);                           \
    if (r_ != CUBLAS_STATUS_SUCCESS_) return fail_lt(r_, what); \
  } while (0)

static zmlx_status layout(void **out, int type, int64_t rows, int64_t cols, int64_t ld,
                          int64_t batch, int64_t stride) {
  LT(lt.layout_create(out, type, (uint64_t)rows, (uint64_t)cols, ld), "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    int32_t count = (int32_t)batch;
    LT(lt.layout_set(*out, LAYOUT_BATCH_COUNT, &count, sizeof count), "layout batch count");
    LT(lt.layout_set(*out, LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
       "layout batch stride");
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status describe(const zl_gemm *g, const zl_key *k, const void *bias, zl_descs *s) {
  int ct = cuda_type(g->dtype), f64 = g->dtype == ZMLX_DTYPE_F64;
  int compute = f64 ? CUBLAS_COMPUTE_64F_ : k->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32_ : CUBLAS_COMPUTE_32F_;
  LT(lt.desc_create(&s->op, compute, f64 ? CUDA_R_64F_ : CUDA_R_32F_), "cublasLtMatmulDescCreate");
  int32_t ta = k->ta, tb = k->tb;
  uint32_t epi = (uint32_t)k->epilogue;
  LT(lt.desc_set(s->op, DESC_TRANSA, &ta, sizeof ta), "transa");
  LT(lt.desc_set(s->op, DESC_TRANSB, &tb, sizeof tb), "transb");
  LT(lt.desc_set(s->op, DESC_EPILOGUE, &epi, sizeof epi), "epilogue");
  if (bias) {
    int64_t zero = 0;
    LT(lt.desc_set(s->op, DESC_BIAS_POINTER, &bias, sizeof bias), "bias pointer");
    LT(lt.desc_set(s->op, DESC_BIAS_BATCH_STRIDE, &zero, sizeof zero), "bias batch stride");
  }
  /* cuBLAS "A" is our B: (N x K) read as is, or (K x N) transposed. */
  ZMLX_TRY(layout(&s->x, ct, ta ? g->K : g->N, ta ? g->N : g->K, g->b.ld, g->batch,
                  g->b.batch_stride));
  ZMLX_TRY(layout(&s->y, ct, tb ? g->M : g->K, tb ? g->K : g->M, g->a.ld, g->batch,
                  g->a.batch_stride));
  ZMLX_TRY(layout(&s->d, ct, g->N, g->M, g->N, g->batch, g->M * g->N));
  LT(lt.pref_create(&s->pref), "cublasLtMatmulPreferenceCreate");
  uint64_t ws = WORKSPACE_BYTES;
  LT(lt.pref_set(s->pref, PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), "workspace preference");
  static const int attrs[4] = {PREF_MIN_ALIGNMENT_A, PREF_MIN_ALIGNMENT_B, PREF_MIN_ALIGNMENT_C,
                               PREF_MIN_ALIGNMENT_D};
  for (int i = 0; i < 4; i++)
    LT(lt.pref_set(s->pref, attrs[i], &k->align[i], sizeof k->align[i]), "alignment preference");
  return ZMLX_STATUS_OK;
}

/* The cached algorithm for k, or a heuristic query (found = 0: none). */
static zmlx_status pick(void *h, const zl_key *k, zl_descs *s, zl_cached *out) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < CACHE; i++)
    if (cache[i].valid && !memcmp(&cache[i].key, k, sizeof *k)) {
      *out = cache[i];
      pthread_mutex_unlock(&lock);
      return ZMLX_STATUS_OK;
    }
  pthread_mutex_unlock(&lock);
  zl_heuristic_t res[1];
  int got = 0;
  zl_status_t r = lt.heuristic(h, s->op, s->x, s->y, s->d, s->d, s->pref, 1, res, &got);
  zl_cached c = {.key = *k, .valid = 1, .found = r == CUBLAS_STATUS_SUCCESS_ && got > 0 &&
                                                  res[0].state == CUBLAS_STATUS_SUCCESS_};
  if (c.found) {
    c.algo = res[0].algo;
    c.workspace = res[0].workspaceSize;
  }
  pthread_mutex_lock(&lock);
  cache[cache_next] = c;
  cache_next = (cache_next + 1) % CACHE;
  pthread_mutex_unlock(&lock);
  *out = c;
  return ZMLX_STATUS_OK;
}

static int epilogue_of(const zl_gemm *g) {
  int e = g->act == ZMLX_MATMUL_ACT_RELU ? EPI_RELU : g->act == ZMLX_MATMUL_ACT_GELU ? EPI_GELU : 0;
  if (g->bias) e |= EPI_BIAS;
  return e ? e : EPI_DEFAULT;
}

/* One attempt with the given epilogue; done = 0 when no algorithm fits. */
static zmlx_status run(const zl_gemm *g, int epilogue, int *done) {
  zmlx_device dev = zmlx_array_device(g->c);
  void *h;
  ZMLX_TRY(zc_enter(dev.index, OP));
  ZMLX_TRY(handle_for(dev.index, &h));
  const void *pa = zmlx_array_data(g->a.array), *pb = zmlx_array_data(g->b.array);
  void *pd = zmlx_array_data(g->c);
  const void *bias = epilogue & EPI_BIAS ? zmlx_array_data(g->bias) : NULL;
  zl_key k = {.dev = dev.index, .dtype = g->dtype, .ta = g->b.col ? CUBLAS_OP_T_ : CUBLAS_OP_N_,
              .tb = g->a.col ? CUBLAS_OP_T_ : CUBLAS_OP_N_, .epilogue = epilogue,
              .tf32 = g->dtype == ZMLX_DTYPE_F32 && zmlx_env_flag("ZMLX_MATMUL_TF32", 0),
              .m = g->N, .n = g->M, .k = g->K, .lda = g->b.ld, .ldb = g->a.ld, .batch = g->batch,
              .sa = g->b.batch_stride, .sb = g->a.batch_stride,
              .align = {alignment(pb), alignment(pa), alignment(pd), alignment(pd),
                        bias ? alignment(bias) : 0}};
  zl_descs s = {0};
  zl_cached c;
  zmlx_status st = describe(g, &k, bias, &s);
  if (!st) st = pick(h, &k, &s, &c);
  if (!st && !c.found) {
    descs_free(&s);
    *done = 0;
    return ZMLX_STATUS_OK;
  }
  zmlx_array *ws = NULL;
  int64_t ws_bytes = (int64_t)c.workspace;
  if (!st && ws_bytes > 0) st = zmlx_array_empty(ZMLX_DTYPE_U8, 1, &ws_bytes, dev, &ws);
  if (!st) {
    double a64 = 1, b64 = 0;
    float a32 = 1, b32 = 0;
    int f64 = g->dtype == ZMLX_DTYPE_F64;
    void *stream = zmlx_stream_native(dev, NULL);
    zl_status_t r = lt.matmul(h, s.op, f64 ? (const void *)&a64 : (const void *)&a32, pb, s.x, pa,
                              s.y, f64 ? (const void *)&b64 : (const void *)&b32, pd, s.d, pd, s.d,
                              &c.algo, ws ? zmlx_array_data(ws) : NULL, (size_t)ws_bytes, stream);
    if (r != CUBLAS_STATUS_SUCCESS_) st = fail_lt(r, "cublasLtMatmul");
  }
  zmlx_array_release(ws);
  descs_free(&s);
  *done = !st;
  return st;
}

zmlx_status zl_cublaslt_gemm(const zl_gemm *g, int *done) {
  *done = 0;
  pthread_once(&load_once, load);
  if (!loaded || g->batch > INT32_MAX) return ZMLX_STATUS_OK;
  int epi = epilogue_of(g);
  ZMLX_TRY(run(g, epi, done));
  /* No algorithm with this epilogue (f64, odd alignments): the plain
   * product, and the caller applies bias and activation. */
  if (!*done && epi != EPI_DEFAULT) {
    zl_gemm plain = *g;
    plain.bias = NULL;
    plain.act = ZMLX_MATMUL_ACT_NONE;
    int ran = 0;
    ZMLX_TRY(run(&plain, EPI_DEFAULT, &ran));
    if (ran) ZMLX_TRY(zl_epilogue(g->c, g->bias, g->act, g->c));
    *done = ran;
  }
  return ZMLX_STATUS_OK;
}
