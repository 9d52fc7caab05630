/* NVRTC compile checks of the hand-written kernels of the softmax,
 * reduce, scan and loss catalog families, without a GPU: each op runs on
 * CPU arrays while zsm_capture turns its launches into the CUDA sources
 * (and launch shapes) a GPU would get, which NVRTC compiles for sm_90
 * ($ZMLX_CUDA_ARCH). The shapes reach every template path: rows on chip
 * and streamed, few and many lanes a row, 16-byte and scalar vectors,
 * every mode, mask, dtype and flag. The results are checked on the CPU by
 * tests/test_catalog and on the GPU by `test_catalog -b cuda`. Skips (77)
 * without NVRTC. */
#include "backend/cuda/cuda_api.h"
#include "catalog/softmax_kit.h"
#include "zmlx/catalog.h"
#include "zt_array.h"

static const char *arch(void) {
  const char *a = getenv("ZMLX_CUDA_ARCH");
  return a ? a : "sm_90";
}

static int n_compiled;

/* Compiles what the capture holds; checks it holds `want` sources and
 * that each has the `must` text (a template path), when given. */
static void compile_all(zsm_capture *c, int want, const char *must, const char *what) {
  CHECK_MSG(c->n == want, "%s: %d kernels captured, want %d", what, c->n, want);
  for (int i = 0; i < c->n; i++) {
    char *log = NULL;
    void *cubin = NULL;
    size_t len = 0;
    if (must && i == 0) CHECK_MSG(strstr(c->src[i], must) != NULL, "%s: no \"%s\"", what, must);
    zmlx_status s = zb_nvrtc_compile(c->src[i], c->entry[i], arch(), &cubin, &len, &log);
    CHECK_MSG(s == ZMLX_STATUS_OK, "%s (%s): %s\n%s", what, c->entry[i], zmlx_error_last(),
              log ? log : "");
    n_compiled += s == ZMLX_STATUS_OK;
    free(log);
    free(cubin);
  }
  zsm_capture_free(c);
}

static zmlx_array *arr(zmlx_dtype t, int nd, const int64_t *shape) {
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, nd, shape, ZMLX_CPU, &a));
  return a;
}

static const zmlx_dtype floats[] = {ZMLX_DTYPE_BF16, ZMLX_DTYPE_F32, ZMLX_DTYPE_F16,
                                    ZMLX_DTYPE_F64};

/* (rows, D): on chip with few lanes, on chip with a block, streamed,
 * scalar vectors. */
static const int64_t row_shapes[][2] = {{64, 64}, {16, 4096}, {2, 40000}, {8, 33}};
static const char *const row_paths[] = {"#define ONCHIP 1", "#define ONCHIP 1",
                                        "#define ONCHIP 0", "#define VEC 1LL"};

enum { SM_BWD, LOG_BWD, MASKED_BWD, LSE_BWD, MASKED_ADD, MASKED_BOOL, TEMPERATURE };
static const char *const row_ops[] = {"softmax_backward", "log_softmax_backward",
                                      "softmax_masked_backward", "logsumexp_backward",
                                      "softmax_masked add", "softmax_masked bool",
                                      "softmax_temperature"};

static void row_op(int op, zmlx_dtype t, int si) {
  const int64_t *sh = row_shapes[si];
  zmlx_array *x = arr(t, 2, sh), *g = arr(t, 2, sh), *d = arr(t, 1, sh);
  zmlx_array *mb = arr(ZMLX_DTYPE_BOOL, 1, &sh[1]), *r = NULL;
  zsm_capture c;
  zsm_capture_begin(&c);
  switch (op) {
    case SM_BWD: CHECK_OK(zmlx_softmax_backward(x, g, -1, &r)); break;
    case LOG_BWD: CHECK_OK(zmlx_log_softmax_backward(x, g, -1, &r)); break;
    case MASKED_BWD: CHECK_OK(zmlx_softmax_masked_backward(x, g, 0.5, &r)); break;
    case LSE_BWD: CHECK_OK(zmlx_logsumexp_backward(x, d, -1, &r)); break;
    case MASKED_ADD: CHECK_OK(zmlx_softmax_masked(x, g, 0.5, &r)); break;
    case MASKED_BOOL: CHECK_OK(zmlx_softmax_masked(x, mb, 0.5, &r)); break;
    default: CHECK_OK(zmlx_softmax_temperature(x, 0.7, &r)); break;
  }
  zsm_capture_end();
  char what[128];
  snprintf(what, sizeof what, "%s %s (%lld, %lld)", row_ops[op], zmlx_dtype_name(t),
           (long long)sh[0], (long long)sh[1]);
  compile_all(&c, 1, row_paths[si], what);
  zmlx_array_release(r);
  zmlx_array_release(x);
  zmlx_array_release(g);
  zmlx_array_release(d);
  zmlx_array_release(mb);
}

/* Every mode on chip in bf16; the other paths and dtypes on a few. */
static void test_softmax_rows(void) {
  for (int op = 0; op <= TEMPERATURE; op++) row_op(op, ZMLX_DTYPE_BF16, 1);
  row_op(SM_BWD, ZMLX_DTYPE_BF16, 0);
  row_op(MASKED_ADD, ZMLX_DTYPE_BF16, 0);
  row_op(SM_BWD, ZMLX_DTYPE_BF16, 2);
  row_op(MASKED_ADD, ZMLX_DTYPE_BF16, 2);
  row_op(MASKED_BOOL, ZMLX_DTYPE_BF16, 3);
  row_op(SM_BWD, ZMLX_DTYPE_F32, 2);
  row_op(MASKED_BOOL, ZMLX_DTYPE_F32, 1);
  row_op(LOG_BWD, ZMLX_DTYPE_F16, 1);
  row_op(SM_BWD, ZMLX_DTYPE_F64, 1);
  row_op(LSE_BWD, ZMLX_DTYPE_F64, 1);
  row_op(MASKED_ADD, ZMLX_DTYPE_F64, 2);
}

static void test_topk(void) {
  /* One warp a row (the router), a block a row, re-read rows, f64 keys. */
  static const struct {
    zmlx_dtype t;
    int64_t shape[2], k;
    const char *path;
  } cases[] = {{ZMLX_DTYPE_BF16, {16384, 128}, 8, "#define TPR 32LL"},
               {ZMLX_DTYPE_F32, {4, 4097}, 8, "#define TPR 1024LL"},
               {ZMLX_DTYPE_F16, {2, 151936}, 50, "#define E 0LL"},
               {ZMLX_DTYPE_F64, {3, 7}, 3, "#define TPR 2LL"}};
  for (int i = 0; i < 4; i++) {
    zmlx_array *x = arr(cases[i].t, 2, cases[i].shape), *v = NULL, *ix = NULL;
    zsm_capture c;
    zsm_capture_begin(&c);
    CHECK_OK(zmlx_topk(x, cases[i].k, &v, &ix));
    zsm_capture_end();
    char what[64];
    snprintf(what, sizeof what, "topk %s", zmlx_dtype_name(cases[i].t));
    compile_all(&c, 1, cases[i].path, what);
    zmlx_array_release(x);
    zmlx_array_release(v);
    zmlx_array_release(ix);
  }
}

static void test_cumsum_backward(void) {
  static const int64_t shapes[][2] = {{64, 7}, {16, 4096}, {2, 20000}};
  for (int ti = 0; ti < 4; ti += 3)
    for (int si = 0; si < 3; si++) {
      if (ti && si != 1) continue;
      zmlx_array *x = arr(floats[ti], 2, shapes[si]), *r = NULL;
      zsm_capture c;
      zsm_capture_begin(&c);
      CHECK_OK(zmlx_cumsum_backward(x, x, -1, &r));
      zsm_capture_end();
      char what[64];
      snprintf(what, sizeof what, "cumsum_backward %s %d", zmlx_dtype_name(floats[ti]), si);
      compile_all(&c, 1, NULL, what);
      zmlx_array_release(x);
      zmlx_array_release(r);
    }
}

static void test_cross_entropy(void) {
  static const int64_t shapes[][2] = {{4096, 151936}, {3, 4097}};
  for (int ti = 0; ti < 4; ti++)
    for (int si = 0; si < 2; si++) {
      if (ti > 1 && si) continue;
      zmlx_dtype t = floats[ti], rt = t == ZMLX_DTYPE_F64 ? t : ZMLX_DTYPE_F32;
      zmlx_dtype tt = (ti + si) % 2 ? ZMLX_DTYPE_I32 : ZMLX_DTYPE_I64;
      zmlx_array *x = arr(t, 2, shapes[si]), *tg = arr(tt, 1, shapes[si]);
      zmlx_array *rows = arr(rt, 1, shapes[si]), *scalar = arr(rt, 0, shapes[si]);
      zmlx_array *a = NULL, *b = NULL;
      zmlx_cross_entropy_opts o = {.ignore_index = -100, .label_smoothing = si ? 0 : 0.1,
                                   .z_loss = 1e-4};
      char what[96];
      zsm_capture c;
      snprintf(what, sizeof what, "cross_entropy %s %d", zmlx_dtype_name(t), si);
      zsm_capture_begin(&c);
      CHECK_OK(zmlx_cross_entropy(x, tg, &o, &a, &b));
      zsm_capture_end();
      compile_all(&c, 2, si ? "#define SMOOTH 0" : "#define SMOOTH 1", what);
      zmlx_array_release(a);
      zmlx_array_release(b);
      a = b = NULL;
      zsm_capture_begin(&c);
      CHECK_OK(zmlx_cross_entropy_backward(x, tg, rows, rows, si ? NULL : rows, &o, &a));
      zsm_capture_end();
      compile_all(&c, 1, si ? "#define HAS_DLSE 0" : "#define HAS_DLSE 1", what);
      zmlx_array_release(a);
      a = NULL;
      if (ti || si) goto next;
      zsm_capture_begin(&c);
      CHECK_OK(zmlx_cross_entropy_mean(x, tg, &o, &a, &b));
      zsm_capture_end();
      compile_all(&c, 3, NULL, what);
      zmlx_array_release(a);
      zmlx_array_release(b);
      a = b = NULL;
      zsm_capture_begin(&c);
      CHECK_OK(zmlx_cross_entropy_mean_backward(x, tg, rows, scalar, &o, &a));
      zsm_capture_end();
      compile_all(&c, 2, NULL, what);
      zmlx_array_release(a);
    next:
      zmlx_array_release(x);
      zmlx_array_release(tg);
      zmlx_array_release(rows);
      zmlx_array_release(scalar);
    }
}

static void test_count(void) {
  printf("  %d kernels compiled for %s\n", n_compiled, arch());
  CHECK(n_compiled > 0);
}

static const zt_case cases[] = {ZT(test_softmax_rows), ZT(test_topk), ZT(test_cumsum_backward),
                                ZT(test_cross_entropy), ZT(test_count)};

int main(int argc, char **argv) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC not found: %s", why);
  return zt_run(cases, (int)(sizeof cases / sizeof *cases), argc, argv);
}
