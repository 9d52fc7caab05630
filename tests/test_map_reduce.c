/* Map-reductions: softmax, log-softmax and layernorm on every device and
 * float dtype against f64 references; rows of 1, 7, 64, 4096 and 4097;
 * rows too long to keep on chip (streamed); other axes and strided views;
 * a user map_reduce with params, scalars and an output dtype; empty
 * arrays; errors; NVRTC compiles of every CUDA variant. */
#include "author/red_internal.h"
#include "backend/cuda/cuda_api.h"
#include "zt_array.h"

static uint64_t seed = 0x3a9;
static const zmlx_dtype ftypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F64};

typedef enum { M_SOFTMAX, M_LOG_SOFTMAX, M_LAYERNORM, N_MOPS } mop;
static const char *mop_names[] = {"softmax", "log_softmax", "layernorm"};

/* f64 reference of op along `axis` of h (C order, shape sh); w and b are
 * layernorm's weight and bias (NULL: 1 and 0). */
static void reference(mop o, const double *h, int nd, const int64_t *sh, int axis, const double *w,
                      const double *b, double eps, double *ref) {
  int64_t pre = 1, R = sh[axis], post = 1;
  for (int d = 0; d < axis; d++) pre *= sh[d];
  for (int d = axis + 1; d < nd; d++) post *= sh[d];
  for (int64_t p = 0; p < pre; p++)
    for (int64_t q = 0; q < post; q++) {
#define AT(a) ((p * R + (a)) * post + q)
      if (o == M_LAYERNORM) {
        /* Summed relative to the row's first value: rows far from zero
         * keep their digits in the reference too. */
        double mean = 0, var = 0, k = h[AT(0)];
        for (int64_t a = 0; a < R; a++) mean += h[AT(a)] - k;
        mean = k + mean / (double)R;
        for (int64_t a = 0; a < R; a++) var += (h[AT(a)] - mean) * (h[AT(a)] - mean);
        double rs = 1 / sqrt(var / (double)R + eps);
        for (int64_t a = 0; a < R; a++)
          ref[AT(a)] = (h[AT(a)] - mean) * rs * (w ? w[a] : 1) + (b ? b[a] : 0);
      } else {
        double m = -INFINITY, s = 0;
        for (int64_t a = 0; a < R; a++) m = fmax(m, h[AT(a)]);
        for (int64_t a = 0; a < R; a++) s += exp(h[AT(a)] - m);
        for (int64_t a = 0; a < R; a++)
          ref[AT(a)] = o == M_SOFTMAX ? exp(h[AT(a)] - m) / s : h[AT(a)] - m - log(s);
      }
#undef AT
    }
}

static void check_op(mop o, zmlx_array *x, int axis, zmlx_array *w, zmlx_array *b, const char *what) {
  int nd = zmlx_array_ndim(x);
  int64_t sh[ZMLX_MAX_DIMS], n = zmlx_array_numel(x);
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(x, d);
  zmlx_dtype t = zmlx_array_dtype(x);
  char buf[300];
  zmlx_array *out = NULL;
  double eps = 1e-5;
  zmlx_status s = o == M_SOFTMAX ? zmlx_softmax(x, axis, &out)
                  : o == M_LOG_SOFTMAX ? zmlx_log_softmax(x, axis, &out)
                                       : zmlx_layernorm(x, w, b, eps, &out);
  CHECK_MSG(s == ZMLX_STATUS_OK, "%s %s on %s: %s", mop_names[o], what,
            zmlx_array_format(x, buf, sizeof buf), zmlx_error_last());
  if (s) return;
  CHECK_EQ_INT(zmlx_array_dtype(out), t);
  CHECK_EQ_INT(zmlx_array_numel(out), n);
  double *h = zt_read_f64(x), *got = zt_read_f64(out), *ref = malloc(((size_t)n + 1) * sizeof *ref);
  double *hw = w ? zt_read_f64(w) : NULL, *hb = b ? zt_read_f64(b) : NULL;
  int ax = axis < 0 ? axis + nd : axis;
  reference(o, h, nd, sh, ax, hw, hb, eps, ref);
  /* Rounding to the output dtype, plus f32 arithmetic on the way. */
  double tol = 2 * zt_tol(t) + (t == ZMLX_DTYPE_F64 ? 0 : 4e-6);
  double err = got ? zt_rel_err(got, ref, (size_t)n) : INFINITY;
  CHECK_MSG(err <= tol, "%s %s on %s: rel err %g (tol %g)", mop_names[o], what,
            zmlx_array_format(x, buf, sizeof buf), err, tol);
  free(h); free(got); free(ref); free(hw); free(hb);
  zmlx_array_release(out);
}

static void check_all(zmlx_array *x, int axis, const char *what, zmlx_device dev) {
  check_op(M_SOFTMAX, x, axis, NULL, NULL, what);
  check_op(M_LOG_SOFTMAX, x, axis, NULL, NULL, what);
  if (axis != -1 && axis != zmlx_array_ndim(x) - 1) return;
  int64_t R = zmlx_array_dim(x, -1);
  zmlx_array *w = zt_random_array(ZMLX_DTYPE_F32, 1, &R, 2.0, &seed, dev, NULL);
  zmlx_array *b = zt_random_array(zmlx_array_dtype(x), 1, &R, 1.0, &seed, dev, NULL);
  check_op(M_LAYERNORM, x, axis, w, b, what);
  check_op(M_LAYERNORM, x, axis, NULL, NULL, what);
  check_op(M_LAYERNORM, x, axis, w, NULL, what);
  check_op(M_LAYERNORM, x, axis, NULL, b, what);
  zmlx_array_release(w);
  zmlx_array_release(b);
}

static void test_rows(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const int64_t lens[] = {1, 7, 64, 4096, 4097};
  static const int64_t rows[] = {1, 3, 33};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++)
      for (int li = 0; li < 5; li++)
        for (int ri = 0; ri < 3; ri++) {
          int64_t sh[2] = {rows[ri], lens[li]};
          zmlx_array *x = zt_random_array(ftypes[ti], 2, sh, 4.0, &seed, devs[di], NULL);
          check_all(x, -1, "rows", devs[di]);
          zmlx_array_release(x);
        }
}

/* Rows longer than fit on chip: streamed, read twice. */
static void test_stream(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      /* 40000 f32 / 70000 bf16 exceed 8 vectors of 16 bytes x 1024
       * threads; 8193 is odd, so one element per vector, over 8 x 1024. */
      int64_t a[2] = {2, ftypes[ti] == ZMLX_DTYPE_F32 || ftypes[ti] == ZMLX_DTYPE_F64 ? 40000 : 70000};
      int64_t b[2] = {3, 8193};
      zmlx_array *x = zt_random_array(ftypes[ti], 2, a, 3.0, &seed, devs[di], NULL);
      check_all(x, -1, "stream", devs[di]);
      zmlx_array_release(x);
      x = zt_random_array(ftypes[ti], 2, b, 3.0, &seed, devs[di], NULL);
      check_all(x, 1, "stream odd", devs[di]);
      zmlx_array_release(x);
    }
}

/* Other axes (copied to rows), transposed and sliced views. */
static void test_axes_and_views(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      int64_t sh[3] = {4, 33, 6};
      zmlx_array *x = zt_random_array(ftypes[ti], 3, sh, 2.0, &seed, devs[di], NULL), *t = NULL,
                 *s = NULL;
      check_all(x, 1, "axis 1", devs[di]);
      check_all(x, 0, "axis 0", devs[di]);
      check_all(x, -3, "axis -3", devs[di]);
      CHECK_OK(zmlx_array_transpose(x, 1, 2, &t));
      check_all(t, -1, "transposed", devs[di]);
      check_all(t, 1, "transposed axis 1", devs[di]);
      /* Rows contiguous, spaced 2 x 33 apart: no copy. */
      CHECK_OK(zmlx_array_slice(x, 0, 0, 4, 2, &s));
      zmlx_array *s2 = NULL;
      CHECK_OK(zmlx_array_slice(s, 2, 1, 5, 1, &s2));
      check_all(s2, -1, "sliced", devs[di]);
      zmlx_array_release(x); zmlx_array_release(t); zmlx_array_release(s); zmlx_array_release(s2);
    }
}

/* Extreme values: -inf elements, a row of -inf, NaN, large offsets. */
static void test_special_values(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    float v[4][5] = {{-INFINITY, 1, 2, -INFINITY, 0},
                     {1000, 1001, 999, 1000.5f, 1002},
                     {NAN, 1, 2, 3, 4},
                     {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
    int64_t sh[2] = {4, 5};
    zmlx_array *x = NULL, *out = NULL;
    CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F32, 2, sh, devs[di], &x));
    CHECK_OK(zmlx_softmax(x, -1, &out));
    double *g = zt_read_f64(out);
    CHECK(g && g[0] == 0 && g[3] == 0 && fabs(g[1] + g[2] + g[4] - 1) < 1e-6);
    CHECK(g && fabs(g[9] - exp(0.0) / (exp(-2.0) + exp(-1.0) + exp(-3.0) + exp(-1.5) + 1)) < 1e-6);
    CHECK(g && isnan(g[10]) && isnan(g[14]));
    CHECK(g && isnan(g[15]));  /* softmax of an all -inf row is NaN, as in PyTorch */
    free(g);
    zmlx_array_release(out);
    CHECK_OK(zmlx_log_softmax(x, -1, &out));
    g = zt_read_f64(out);
    CHECK(g && g[0] == -INFINITY && fabs(g[9] + log(exp(-2.0) + exp(-1.0) + exp(-3.0) + exp(-1.5) + 1)) < 1e-5);
    free(g);
    zmlx_array_release(out);
    zmlx_array_release(x);
  }
}

/* Layernorm of rows far from zero: the mean must not eat the variance. */
static void test_layernorm_offset(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      if (ftypes[ti] == ZMLX_DTYPE_F16) continue;  /* 1000 + u keeps too few digits of u */
      int64_t sh[2] = {3, 4096}, n = 3 * 4096;
      double *u = malloc(sizeof(double) * (size_t)n);
      for (int64_t i = 0; i < n; i++) u[i] = 1000 + 4 * zt_uniform(&seed) + (double)(i / 4096) * 1e4;
      zmlx_array *f = NULL, *x = NULL;
      CHECK_OK(zmlx_array_from_host(u, ZMLX_DTYPE_F64, 2, sh, devs[di], &f));
      CHECK_OK(zmlx_array_astype(f, ftypes[ti], &x));
      check_op(M_LAYERNORM, x, -1, NULL, NULL, "offset rows");
      free(u);
      zmlx_array_release(f);
      zmlx_array_release(x);
    }
}

/* A user map_reduce: out = x * scale / sum|x| + offset[col], f32 output
 * for bf16 input, f64 compute. */
static void test_user(void) {
  static const char *params[] = {"offset"}, *scalars[] = {"scale"};
  static const zmlx_dtype f32 = ZMLX_DTYPE_F32;
  zmlx_map_reduce_desc d = {.name = "l1norm", .init = "acc = 0;", .update = "acc += x < 0 ? -x : x;",
                            .combine = "acc += other;", .finalize = "acc = scale / acc;",
                            .write = "out = x * acc + offset + (idx == 0 ? 0 : 0) + n * 0;",
                            .n_params = 1, .param_names = params, .n_scalars = 1,
                            .scalar_names = scalars, .out_dtype = &f32, .compute = ZMLX_DTYPE_F64};
  zmlx_map_reduce *k = NULL;
  CHECK_OK(zmlx_map_reduce_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd && k; di++) {
    int64_t sh[2] = {5, 300}, R2 = 600;
    double *h, *ho2;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_BF16, 2, sh, 1.0, &seed, devs[di], &h);
    /* The param is a strided view (every other element). */
    zmlx_array *off2 = zt_random_array(ZMLX_DTYPE_F16, 1, &R2, 1.0, &seed, devs[di], &ho2), *off = NULL,
               *out = NULL;
    CHECK_OK(zmlx_array_slice(off2, 0, 1, 600, 2, &off));
    double ho[300];
    for (int j = 0; j < 300; j++) ho[j] = ho2[2 * j + 1];
    double scale = 2.5;
    CHECK_OK(zmlx_map_reduce_launch(k, x, 1, 1, &off, 1, &scale, &out));
    CHECK(out && zmlx_array_dtype(out) == ZMLX_DTYPE_F32);
    double *g = zt_read_f64(out), ref[1500];
    for (int i = 0; i < 5; i++) {
      double s = 0;
      for (int j = 0; j < 300; j++) s += fabs(h[i * 300 + j]);
      for (int j = 0; j < 300; j++) ref[i * 300 + j] = h[i * 300 + j] * scale / s + ho[j];
    }
    CHECK(g && zt_rel_err(g, ref, 1500) < 1e-6);
    free(g);
    /* Into a transposed destination. */
    int64_t tsh[2] = {300, 5};
    zmlx_array *buf = NULL, *view = NULL;
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F64, 2, tsh, devs[di], &buf));
    CHECK_OK(zmlx_array_transpose(buf, 0, 1, &view));
    CHECK_OK(zmlx_map_reduce_launch_into(k, x, -1, 1, &off, 1, &scale, view));
    double *gb = zt_read_f64(buf);
    int bad = !gb;
    for (int i = 0; gb && i < 5; i++)
      for (int j = 0; j < 300; j++) bad += fabs(gb[j * 5 + i] - ref[i * 300 + j]) > 1e-6 * (1 + fabs(ref[i * 300 + j]));
    CHECK_EQ_INT(bad, 0);
    zmlx_kernel_stats st;
    CHECK_OK(zmlx_map_reduce_stats_get(k, &st));
    CHECK(st.n_launches >= 2);
    free(gb); free(h); free(ho2);
    zmlx_array_release(x); zmlx_array_release(off); zmlx_array_release(off2); zmlx_array_release(out);
    zmlx_array_release(buf); zmlx_array_release(view);
  }
  zmlx_map_reduce_destroy(k);
}

static void test_empty(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t a[2] = {0, 5}, b[2] = {3, 0};
    zmlx_array *x = NULL, *out = NULL;
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_BF16, 2, a, devs[di], &x));
    CHECK_OK(zmlx_softmax(x, -1, &out));
    CHECK(out && zmlx_array_numel(out) == 0 && zmlx_array_dim(out, 1) == 5);
    zmlx_array_release(out);
    zmlx_array_release(x);
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 2, b, devs[di], &x));
    CHECK_OK(zmlx_layernorm(x, NULL, NULL, 1e-5, &out));
    CHECK(out && zmlx_array_numel(out) == 0);
    zmlx_array_release(out);
    zmlx_array_release(x);
  }
}

static void test_errors(void) {
  int64_t sh[2] = {4, 5}, five = 5, six = 6;
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, ZMLX_CPU, NULL), *out = NULL;
  zmlx_array *w6 = zt_random_array(ZMLX_DTYPE_F32, 1, &six, 1, &seed, ZMLX_CPU, NULL);
  zmlx_array *w5 = NULL, *xi = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I32, 1, &five, ZMLX_CPU, &w5));
  CHECK_STATUS(zmlx_softmax(x, 2, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "axis 2 is out of range for (4, 5) f32 cpu");
  CHECK_CONTAINS(zmlx_error_last(), "softmax");
  CHECK_STATUS(zmlx_log_softmax(NULL, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_softmax(x, 0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_layernorm(x, w6, NULL, 1e-5, &out), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "param 'weight' is (6,) f32 cpu");
  CHECK_STATUS(zmlx_layernorm(x, NULL, w5, 1e-5, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "'bias'");
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I32, 2, sh, ZMLX_CPU, &xi));
  CHECK_STATUS(zmlx_softmax(xi, -1, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "i32");
  CHECK(out == NULL);
  /* Descriptions and launches. */
  static const char *bad_params[] = {"acc"}, *ok_params[] = {"w"};
  zmlx_map_reduce_desc d = {.name = "m", .init = "acc = 0;", .update = "acc += x;",
                            .combine = "acc += other;", .write = "out = x - acc;"};
  zmlx_map_reduce *k = NULL;
  d.write = NULL;
  CHECK_STATUS(zmlx_map_reduce_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "no write");
  d.write = "out = x - acc;";
  d.n_params = 1;
  d.param_names = bad_params;
  CHECK_STATUS(zmlx_map_reduce_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "reserved");
  d.param_names = ok_params;
  CHECK_OK(zmlx_map_reduce_create(&d, &k));
  CHECK_STATUS(zmlx_map_reduce_launch(k, x, -1, 0, NULL, 0, NULL, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "takes 1 param");
  zmlx_array *o2 = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, sh, ZMLX_CPU, &o2));
  zmlx_array *wrong = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &five, ZMLX_CPU, &wrong));
  zmlx_array *pw[1] = {wrong};
  CHECK_STATUS(zmlx_map_reduce_launch_into(k, x, -1, 1, pw, 0, NULL, w6), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_OK(zmlx_map_reduce_launch_into(k, x, -1, 1, pw, 0, NULL, o2));
  zmlx_map_reduce_destroy(k);
  d.n_params = 0;
  d.write = "out = x - ;";
  CHECK_OK(zmlx_map_reduce_create(&d, &k));
  CHECK_STATUS(zmlx_map_reduce_launch(k, x, -1, 0, NULL, 0, NULL, &out), ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(zmlx_error_last(), "m.write");
  zmlx_map_reduce_destroy(k);
  zmlx_array_release(x); zmlx_array_release(w6); zmlx_array_release(w5); zmlx_array_release(xi);
  zmlx_array_release(o2); zmlx_array_release(wrong);
}

/* ---- NVRTC compile checks (no GPU needed) ---------------------------- */

static void compile_sources(zr_sources *s, const char *what) {
  const char *arch = getenv("ZMLX_CUDA_ARCH") ? getenv("ZMLX_CUDA_ARCH") : "sm_90";
  for (int i = 0; i < s->n; i++) {
    char *log = NULL;
    void *cubin = NULL;
    size_t len = 0;
    zmlx_status st = zb_nvrtc_compile(s->src[i], s->entry[i], arch, &cubin, &len, &log);
    CHECK_MSG(st == ZMLX_STATUS_OK, "%s (%s): %s\n%s", what, s->entry[i], zmlx_error_last(),
              log ? log : "");
    free(log);
    free(cubin);
  }
}

static void test_nvrtc(void) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("  (NVRTC not found: %s)\n", why);
    CHECK(1);
    return;
  }
  static const char *names[] = {"softmax", "log_softmax", "layernorm", "layernorm_w", "layernorm_b",
                                "layernorm_wb"};
  static const int nparams[] = {0, 0, 0, 1, 1, 2};
  /* On chip with several vectors per thread, a short row, and streamed. */
  static const int64_t shapes[][2] = {{16, 4096}, {64, 7}, {2, 100000}};
  for (int o = 0; o < 6; o++) {
    zmlx_map_reduce *k = NULL;
    CHECK_OK(zr_map_reduce_op(names[o], &k));
    for (int ti = 0; ti < 4 && k; ti++)
      for (int si = 0; si < 3; si++) {
        if (ti && si == 1) continue;
        zmlx_array *x = NULL, *p[2] = {NULL, NULL};
        CHECK_OK(zmlx_array_empty(ftypes[ti], 2, shapes[si], ZMLX_CPU, &x));
        for (int i = 0; i < nparams[o]; i++)
          CHECK_OK(zmlx_array_empty(i ? ftypes[ti] : ZMLX_DTYPE_F32, 1, &shapes[si][1], ZMLX_CPU, &p[i]));
        zr_sources src;
        CHECK_OK(zr_map_reduce_cuda_sources(k, x, -1, nparams[o], p, &src));
        char what[96];
        snprintf(what, sizeof what, "%s %s shape %d", names[o], zmlx_dtype_name(ftypes[ti]), si);
        CHECK_MSG(src.n == 1, "%s: %d sources", what, src.n);
        if (si == 2) CHECK_MSG(src.n && strstr(src.src[0], "#define ONCHIP 0"), "%s: not streamed", what);
        if (si == 0) CHECK_MSG(src.n && strstr(src.src[0], "#define ONCHIP 1"), "%s: not on chip", what);
        compile_sources(&src, what);
        zr_sources_free(&src);
        zmlx_array_release(x); zmlx_array_release(p[0]); zmlx_array_release(p[1]);
      }
  }
}

ZT_MAIN(ZT(test_rows), ZT(test_stream), ZT(test_axes_and_views), ZT(test_special_values),
        ZT(test_layernorm_offset), ZT(test_user), ZT(test_empty), ZT(test_errors), ZT(test_nvrtc))
