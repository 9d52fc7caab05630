/* Scans: cumsum, cumprod and logcumsumexp on every device and float dtype
 * against f64 references; rows of 1, 7, 64, 4096, 4097 and 20000 (several
 * chunks); exclusive scans; an order-sensitive (non-commutative) user scan;
 * other axes and strided views; empty arrays; errors; NVRTC compiles. */
#include "author/red_internal.h"
#include "backend/cuda/cuda_api.h"
#include "zt_array.h"

static uint64_t seed = 0x5ca7;
static const zmlx_dtype ftypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F64};

typedef enum { S_CUMSUM, S_CUMPROD, S_LSE, N_SOPS } sop;
static const char *sop_names[] = {"cumsum", "cumprod", "logcumsumexp"};

/* Per-element check of op along axis of x (host values h). */
static void check_values(sop o, const double *h, const double *got, int nd, const int64_t *sh,
                         int axis, int exclusive, zmlx_dtype t, const char *what) {
  int64_t pre = 1, R = sh[axis], post = 1;
  for (int d = 0; d < axis; d++) pre *= sh[d];
  for (int d = axis + 1; d < nd; d++) post *= sh[d];
  /* Rounding to the output dtype, plus a few dozen roundings in compute
   * (lanes, warp and block levels, chunks). */
  double out_tol = zt_tol(t) * 1.01, ceps = t == ZMLX_DTYPE_F64 ? 1e-13 : 4e-6;
  int64_t bad = 0;
  double worst_got = 0, worst_ref = 0;
  for (int64_t p = 0; p < pre; p++)
    for (int64_t q = 0; q < post; q++) {
      double acc = o == S_CUMSUM ? 0 : o == S_CUMPROD ? 1 : -INFINITY, sabs = 0;
      for (int64_t a = 0; a < R; a++) {
        int64_t i = (p * R + a) * post + q;
        double before = acc, v = h[i];
        if (o == S_CUMSUM) acc += v;
        else if (o == S_CUMPROD) acc *= v;
        else acc = fmax(acc, v) + log1p(exp(-fabs(acc - v)));
        if (o == S_LSE && before == -INFINITY) acc = v;
        sabs += fabs(v);
        double ref = exclusive ? before : acc;
        /* Rounding errors of a chain of j steps grow like sqrt(j). */
        double scale = (o == S_CUMSUM ? sabs : o == S_CUMPROD ? fabs(ref) : 1 + fabs(ref)) *
                       (1 + sqrt((double)a) / 8);
        double g = got[i];
        int ok = g == ref || fabs(g - ref) <= out_tol * fabs(ref) + ceps * scale;
        if (!ok && !bad) { worst_got = g; worst_ref = ref; }
        bad += !ok;
      }
    }
  CHECK_MSG(bad == 0, "%s%s %s (%s, axis %d, R %lld): %lld wrong, first got %.9g want %.9g",
            exclusive ? "exclusive " : "", sop_names[o], what, zmlx_dtype_name(t), axis,
            (long long)R, (long long)bad, worst_got, worst_ref);
}

/* Kernels the tests build once (freed by the last test). */
static zmlx_scan *excl_k;
static zmlx_elementwise *near_one_k;

static zmlx_scan *exclusive_cumsum(void) {
  if (!excl_k) {
    zmlx_scan_desc d = {.name = "excl_cumsum", .init = "acc = 0;", .update = "acc += x;",
                        .combine = "acc += other;"};
    CHECK_OK(zmlx_scan_create(&d, &excl_k));
  }
  return excl_k;
}

static void check_op(sop o, zmlx_array *x, int axis, int exclusive, const char *what) {
  zmlx_array *out = NULL;
  char b[300];
  zmlx_status s = exclusive ? zmlx_scan_launch(exclusive_cumsum(), x, axis, 1, &out)
                  : o == S_CUMSUM ? zmlx_cumsum(x, axis, &out)
                  : o == S_CUMPROD ? zmlx_cumprod(x, axis, &out)
                                   : zmlx_logcumsumexp(x, axis, &out);
  CHECK_MSG(s == ZMLX_STATUS_OK, "%s %s on %s: %s", sop_names[o], what,
            zmlx_array_format(x, b, sizeof b), zmlx_error_last());
  if (s) return;
  int nd = zmlx_array_ndim(x);
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(x, d);
  CHECK_EQ_INT(zmlx_array_dtype(out), zmlx_array_dtype(x));
  double *h = zt_read_f64(x), *got = zt_read_f64(out);
  if (h && got)
    check_values(o, h, got, nd, sh, axis < 0 ? axis + nd : axis, exclusive, zmlx_array_dtype(x), what);
  free(h);
  free(got);
  zmlx_array_release(out);
}

/* Inputs that keep each op in range: products near 1, exponents spread. */
static zmlx_array *input(sop o, zmlx_dtype t, int nd, const int64_t *sh, zmlx_device dev) {
  if (o != S_CUMPROD) return zt_random_array(t, nd, sh, o == S_LSE ? 5.0 : 2.0, &seed, dev, NULL);
  zmlx_array *u = zt_random_array(ZMLX_DTYPE_F64, nd, sh, 0.02, &seed, dev, NULL), *f = NULL, *a = NULL;
  static const char *ins[] = {"u"}, *outs[] = {"v"};
  if (!near_one_k) {
    zmlx_elementwise_desc d = {.name = "near_one", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                               .output_names = outs, .expr = "v = 1 + u;", .compute = ZMLX_DTYPE_F64};
    CHECK_OK(zmlx_elementwise_create(&d, &near_one_k));
  }
  CHECK_OK(zmlx_elementwise_launch(near_one_k, 1, &u, 0, NULL, &f));
  CHECK_OK(zmlx_array_astype(f, t, &a));
  zmlx_array_release(u);
  zmlx_array_release(f);
  return a;
}

static void test_rows(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const int64_t lens[] = {1, 7, 64, 4096, 4097, 20000};
  static const int64_t rows[] = {1, 3, 33};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++)
      for (int li = 0; li < 6; li++)
        for (int ri = 0; ri < 3; ri++) {
          if (li == 5 && ri == 2) continue;
          int64_t sh[2] = {rows[ri], lens[li]};
          for (int o = 0; o < N_SOPS; o++) {
            zmlx_array *x = input((sop)o, ftypes[ti], 2, sh, devs[di]);
            check_op((sop)o, x, -1, 0, "rows");
            if (o == S_CUMSUM) check_op(S_CUMSUM, x, 1, 1, "rows");
            zmlx_array_release(x);
          }
        }
}

static void test_axes_and_views(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++)
      for (int o = 0; o < N_SOPS; o++) {
        int64_t sh[3] = {4, 33, 6};
        zmlx_array *x = input((sop)o, ftypes[ti], 3, sh, devs[di]), *t = NULL, *s = NULL;
        check_op((sop)o, x, 1, 0, "axis 1");
        check_op((sop)o, x, 0, 0, "axis 0");
        check_op((sop)o, x, -3, 0, "axis -3");
        CHECK_OK(zmlx_array_transpose(x, 0, 2, &t));
        check_op((sop)o, t, -1, 0, "transposed");
        check_op((sop)o, t, 2, o == S_CUMSUM, "transposed");
        CHECK_OK(zmlx_array_slice(x, 1, 2, 30, 3, &s));
        check_op((sop)o, s, -1, 0, "sliced");
        check_op((sop)o, s, 1, 0, "sliced axis 1");
        zmlx_array_release(x); zmlx_array_release(t); zmlx_array_release(s);
      }
}

/* h[j] = 0.9 h[j-1] + x[j] as a scan of affine maps: combine composes them,
 * so any reordering of the operands shows. */
static void test_order_sensitive(void) {
  zmlx_scan_desc d = {.name = "decay", .header = "typedef struct aff { compute_t a, b; } aff;\n",
                      .acc_type = "aff", .init = "acc.a = 1; acc.b = 0;",
                      .update = "acc.a *= (compute_t)0.9; acc.b = (compute_t)0.9 * acc.b + x;",
                      .combine = "acc.b = other.a * acc.b + other.b; acc.a *= other.a;",
                      .finalize = "out = acc.b;", .compute = ZMLX_DTYPE_F64};
  zmlx_scan *k = NULL;
  CHECK_OK(zmlx_scan_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const int64_t lens[] = {7, 4096, 20001};
  for (int di = 0; di < nd && k; di++)
    for (int li = 0; li < 3; li++)
      for (int excl = 0; excl < 2; excl++) {
        int64_t sh[2] = {3, lens[li]};
        double *h;
        zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1.0, &seed, devs[di], &h), *out = NULL;
        CHECK_OK(zmlx_scan_launch(k, x, 1, excl, &out));
        double *g = zt_read_f64(out);
        int64_t n = 3 * lens[li], bad = !g;
        for (int64_t r = 0; g && r < 3; r++) {
          double acc = 0;
          for (int64_t j = 0; j < lens[li]; j++) {
            double before = acc;
            acc = 0.9 * acc + h[r * lens[li] + j];
            double ref = excl ? before : acc;
            bad += fabs(g[r * lens[li] + j] - ref) > 1e-6 * (1 + fabs(ref));
          }
        }
        CHECK_MSG(bad == 0, "decay len %lld excl %d: %lld of %lld wrong", (long long)lens[li], excl,
                  (long long)bad, (long long)n);
        free(g); free(h);
        zmlx_array_release(x); zmlx_array_release(out);
      }
  zmlx_kernel_stats st;
  CHECK_OK(zmlx_scan_stats_get(k, &st));
  CHECK(st.n_launches >= 6);
  zmlx_scan_destroy(k);
}

static void test_special_values(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    float v[6] = {-INFINITY, -INFINITY, 0, INFINITY, 1, NAN};
    int64_t n = 6;
    zmlx_array *x = NULL, *out = NULL;
    CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F32, 1, &n, devs[di], &x));
    CHECK_OK(zmlx_logcumsumexp(x, 0, &out));
    double *g = zt_read_f64(out);
    CHECK(g && g[0] == -INFINITY && g[1] == -INFINITY && g[2] == 0 && g[3] == INFINITY &&
          g[4] == INFINITY && isnan(g[5]));
    free(g);
    zmlx_array_release(out);
    CHECK_OK(zmlx_cumsum(x, 0, &out));
    g = zt_read_f64(out);
    CHECK(g && g[0] == -INFINITY && isnan(g[3]) && isnan(g[5]));
    free(g);
    zmlx_array_release(out);
    zmlx_array_release(x);
  }
}

static void test_empty(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t a[2] = {0, 5}, b[2] = {3, 0};
    zmlx_array *x = NULL, *out = NULL;
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_BF16, 2, a, devs[di], &x));
    CHECK_OK(zmlx_cumsum(x, 1, &out));
    CHECK(out && zmlx_array_numel(out) == 0 && zmlx_array_dim(out, 1) == 5);
    zmlx_array_release(out);
    CHECK_OK(zmlx_cumprod(x, 0, &out));
    zmlx_array_release(out);
    zmlx_array_release(x);
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 2, b, devs[di], &x));
    CHECK_OK(zmlx_logcumsumexp(x, -1, &out));
    CHECK(out && zmlx_array_numel(out) == 0);
    zmlx_array_release(out);
    zmlx_array_release(x);
  }
}

static void test_errors(void) {
  int64_t sh[2] = {4, 5};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, ZMLX_CPU, NULL), *out = NULL, *xi = NULL;
  CHECK_STATUS(zmlx_cumsum(x, -3, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "axis -3 is out of range for (4, 5) f32 cpu");
  CHECK_CONTAINS(zmlx_error_last(), "cumsum");
  CHECK_STATUS(zmlx_cumprod(NULL, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_cumprod(x, 0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I32, 2, sh, ZMLX_CPU, &xi));
  CHECK_STATUS(zmlx_logcumsumexp(xi, 0, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "(4, 5) i32 cpu");
  CHECK(out == NULL);
  zmlx_scan *k = exclusive_cumsum();
  int64_t wsh[2] = {5, 4};
  zmlx_array *wrong = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, wsh, ZMLX_CPU, &wrong));
  CHECK_STATUS(zmlx_scan_launch_into(k, x, 0, 1, wrong), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "needs shape (4, 5)");
  CHECK_STATUS(zmlx_scan_launch_into(k, x, 0, 1, xi), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_STATUS(zmlx_scan_launch_into(k, x, 0, 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_scan_desc d = {.name = "s", .init = "acc = 0;", .update = "acc += x;"};
  zmlx_scan *k2 = NULL;
  CHECK_STATUS(zmlx_scan_create(&d, &k2), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "no combine");
  d.combine = "acc += other;";
  d.finalize = "out = acc +;";
  CHECK_OK(zmlx_scan_create(&d, &k2));
  CHECK_STATUS(zmlx_scan_launch(k2, x, 0, 0, &out), ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(zmlx_error_last(), "s.finalize");
  zmlx_scan_destroy(k2);
  zmlx_array_release(x); zmlx_array_release(xi); zmlx_array_release(wrong);
}

/* ---- NVRTC compile checks (no GPU needed) ---------------------------- */

static void test_nvrtc(void) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("  (NVRTC not found: %s)\n", why);
    CHECK(1);
    return;
  }
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  /* One chunk of 512 lanes, several chunks of scalars, a short row. */
  static const int64_t shapes[][2] = {{16, 4096}, {4, 4097}, {64, 7}};
  for (int o = 0; o < N_SOPS; o++) {
    zmlx_scan *k = NULL;
    CHECK_OK(zr_scan_op(sop_names[o], &k));
    for (int ti = 0; ti < 4 && k; ti++)
      for (int si = 0; si < 3; si++)
        for (int excl = 0; excl < (ti == 0 ? 2 : 1); excl++) {
          if (ti && si == 2) continue;
          zmlx_array *x = NULL;
          CHECK_OK(zmlx_array_empty(ftypes[ti], 2, shapes[si], ZMLX_CPU, &x));
          zr_sources src;
          CHECK_OK(zr_scan_cuda_sources(k, x, -1, excl, &src));
          for (int i = 0; i < src.n; i++) {
            char *log = NULL;
            void *cubin = NULL;
            size_t len = 0;
            zmlx_status st = zb_nvrtc_compile(src.src[i], src.entry[i], arch, &cubin, &len, &log);
            CHECK_MSG(st == ZMLX_STATUS_OK, "%s %s shape %d: %s\n%s", sop_names[o],
                      zmlx_dtype_name(ftypes[ti]), si, zmlx_error_last(), log ? log : "");
            free(log);
            free(cubin);
          }
          CHECK_EQ_INT(src.n, 1);
          zr_sources_free(&src);
          zmlx_array_release(x);
        }
  }
}

static void cleanup(void) {
  zmlx_scan_destroy(excl_k);
  zmlx_elementwise_destroy(near_one_k);
  excl_k = NULL;
  near_one_k = NULL;
}

ZT_MAIN(ZT(test_rows), ZT(test_axes_and_views), ZT(test_order_sensitive), ZT(test_special_values),
        ZT(test_empty), ZT(test_errors), ZT(test_nvrtc), ZT(cleanup))
