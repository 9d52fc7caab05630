/* Elementwise kernels from expressions: every float dtype and device,
 * broadcasting (row, column, scalar, general), strided views, several
 * outputs, f64 compute, in-place, gradients against central differences in
 * f64, and errors. */
#include "zt_array.h"

static uint64_t seed = 0xe1e;
static const zmlx_dtype ftypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};

static double silu(double x) { return x / (1 + exp(-x)); }

static zmlx_elementwise *make_swiglu(void) {
  static const char *ins[] = {"gate", "up"}, *outs[] = {"out"};
  static const char *grads[] = {
      "g * up * zmlx_sigmoidf(gate) * (1.0f + gate * (1.0f - zmlx_sigmoidf(gate)))",
      "g * zmlx_siluf(gate)"};
  zmlx_elementwise_desc d = {.name = "swiglu", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                             .output_names = outs, .expr = "out = zmlx_siluf(gate) * up;",
                             .grad_exprs = grads};
  zmlx_elementwise *k = NULL;
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  return k;
}

/* Check out == silu(a) * b elementwise for a broadcast pair. */
static void check_swiglu(zmlx_elementwise *k, zmlx_device dev, zmlx_dtype t, int an,
                         const int64_t *as, int bn, const int64_t *bs, int transpose_a) {
  double *ha = NULL, *hb = NULL;
  zmlx_array *a = zt_random_array(t, an, as, 4.0, &seed, dev, &ha);
  zmlx_array *b = zt_random_array(t, bn, bs, 2.0, &seed, dev, &hb);
  zmlx_array *av = NULL, *out = NULL;
  int64_t ash[ZMLX_MAX_DIMS], ast[ZMLX_MAX_DIMS];
  for (int i = 0; i < an; i++) ash[i] = as[i];
  int64_t s = 1;
  for (int i = an - 1; i >= 0; i--) { ast[i] = s; s *= as[i]; }
  if (transpose_a) {
    CHECK_OK(zmlx_array_transpose(a, 0, 1, &av));
    int64_t t0 = ash[0]; ash[0] = ash[1]; ash[1] = t0;
    t0 = ast[0]; ast[0] = ast[1]; ast[1] = t0;
  } else {
    av = zmlx_array_retain(a);
  }
  zmlx_array *in[2] = {av, b};
  CHECK_OK(zmlx_elementwise_launch(k, 2, in, 0, NULL, &out));
  if (!out) goto done;
  int nd = zmlx_array_ndim(out);
  int64_t n = zmlx_array_numel(out), osh[ZMLX_MAX_DIMS];
  for (int i = 0; i < nd; i++) osh[i] = zmlx_array_dim(out, i);
  double *got = zt_read_f64(out), *ref = malloc(((size_t)n + 1) * sizeof *ref);
  for (int64_t i = 0; i < n; i++) {
    /* Broadcast indexing by hand. */
    int64_t r = i, ia = 0, ib = 0, sa = 1, sb = 1;
    (void)sa; (void)sb;
    int64_t bst[ZMLX_MAX_DIMS], st = 1;
    for (int d = bn - 1; d >= 0; d--) { bst[d] = st; st *= bs[d]; }
    for (int d = nd - 1; d >= 0; d--) {
      int64_t c = r % osh[d];
      r /= osh[d];
      int da = d - (nd - an), db = d - (nd - bn);
      if (da >= 0 && ash[da] != 1) ia += c * ast[da];
      if (db >= 0 && bs[db] != 1) ib += c * bst[db];
    }
    ref[i] = silu(ha[ia]) * hb[ib];
  }
  double err = got ? zt_rel_err(got, ref, (size_t)n) : INFINITY;
  CHECK_MSG(err <= 2 * zt_tol(t), "swiglu %s dev %d n=%lld: rel err %g", zmlx_dtype_name(t),
            dev.type, (long long)n, err);
  free(got);
  free(ref);
done:
  free(ha); free(hb);
  zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(av); zmlx_array_release(out);
}

static void test_swiglu_paths(void) {
  zmlx_elementwise *k = make_swiglu();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 3; ti++) {
      zmlx_dtype t = ftypes[ti];
      int64_t s1[1] = {1}, s7[1] = {7}, s4097[1] = {4097}, s0[1] = {0};
      check_swiglu(k, devs[di], t, 1, s1, 1, s1, 0);
      check_swiglu(k, devs[di], t, 1, s7, 1, s7, 0);
      check_swiglu(k, devs[di], t, 1, s4097, 1, s4097, 0);
      check_swiglu(k, devs[di], t, 1, s0, 1, s0, 0);
      int64_t m[2] = {33, 64}, row[1] = {64}, col[2] = {33, 1}, one[1] = {1}, odd[2] = {9, 7};
      check_swiglu(k, devs[di], t, 2, m, 1, row, 0);   /* row vector */
      check_swiglu(k, devs[di], t, 2, m, 2, col, 0);   /* column vector */
      check_swiglu(k, devs[di], t, 2, m, 1, one, 0);   /* scalar */
      check_swiglu(k, devs[di], t, 2, odd, 1, odd + 1, 0); /* row of 7: no vector fits */
      int64_t mt[2] = {64, 33};
      check_swiglu(k, devs[di], t, 2, mt, 2, m, 1);   /* transposed: general path */
      int64_t a3[3] = {5, 1, 6}, b3[3] = {1, 4, 1};
      check_swiglu(k, devs[di], t, 3, a3, 3, b3, 0);  /* outer product broadcast */
    }
  zmlx_elementwise_destroy(k);
}

/* Three inputs, two outputs, a scalar, f64 compute, explicit out dtypes. */
static void test_multi_io_f64(void) {
  static const char *ins[] = {"a", "b", "c"}, *outs[] = {"s", "p"}, *scs[] = {"alpha"};
  static const zmlx_dtype odt[] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_F32};
  zmlx_elementwise_desc d = {.name = "multi", .n_inputs = 3, .input_names = ins, .n_outputs = 2,
                             .output_names = outs, .n_scalars = 1, .scalar_names = scs,
                             .expr = "s = alpha * a + b * c; p = a * b - c;", .out_dtypes = odt,
                             .compute = ZMLX_DTYPE_F64};
  zmlx_elementwise *k;
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {17, 129};
    double *ha, *hb, *hc;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F64, 2, sh, 1, &seed, devs[di], &ha);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, devs[di], &hb);
    zmlx_array *c = zt_random_array(ZMLX_DTYPE_BF16, 2, sh, 1, &seed, devs[di], &hc);
    zmlx_array *in[3] = {a, b, c}, *out[2] = {NULL, NULL};
    double alpha = 0.3;
    CHECK_OK(zmlx_elementwise_launch(k, 3, in, 1, &alpha, out));
    double *s = zt_read_f64(out[0]), *p = zt_read_f64(out[1]);
    double rs[17 * 129], rp[17 * 129];
    for (int i = 0; i < 17 * 129; i++) {
      rs[i] = alpha * ha[i] + hb[i] * hc[i];
      rp[i] = ha[i] * hb[i] - hc[i];
    }
    CHECK(s && zt_rel_err(s, rs, 17 * 129) < 1e-14);
    CHECK(p && zt_rel_err(p, rp, 17 * 129) < 1e-6);
    CHECK(out[0] && zmlx_array_dtype(out[0]) == ZMLX_DTYPE_F64);
    free(s); free(p); free(ha); free(hb); free(hc);
    zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(c);
    zmlx_array_release(out[0]); zmlx_array_release(out[1]);
  }
  zmlx_elementwise_destroy(k);
}

/* In place (output is input 0) and into a transposed destination. */
static void test_into(void) {
  static const char *ins[] = {"x"}, *outs[] = {"y"};
  zmlx_elementwise_desc d = {.name = "scale", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                             .output_names = outs, .expr = "y = 3.0f * x + 1.0f;"};
  zmlx_elementwise *k;
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {31, 33};
    double *h;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, devs[di], &h);
    CHECK_OK(zmlx_elementwise_launch_into(k, 1, &x, 0, NULL, &x));
    double *got = zt_read_f64(x), ref[31 * 33];
    for (int i = 0; i < 31 * 33; i++) ref[i] = 3 * h[i] + 1;
    CHECK(got && zt_rel_err(got, ref, 31 * 33) < 1e-6);
    free(got);
    /* Into a transposed view of a (33, 31) buffer. */
    int64_t tsh[2] = {33, 31};
    zmlx_array *buf = NULL, *view = NULL;
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, tsh, devs[di], &buf));
    CHECK_OK(zmlx_array_transpose(buf, 0, 1, &view));
    CHECK_OK(zmlx_elementwise_launch_into(k, 1, &x, 0, NULL, &view));
    double *b = zt_read_f64(buf);
    int bad = !b;
    for (int i = 0; b && i < 31; i++)
      for (int j = 0; j < 33; j++) bad += fabs(b[j * 31 + i] - (3 * ref[i * 33 + j] + 1)) > 1e-4 * fabs(3 * ref[i * 33 + j] + 1) + 1e-5;
    CHECK_EQ_INT(bad, 0);
    free(b); free(h);
    zmlx_array_release(x); zmlx_array_release(buf); zmlx_array_release(view);
  }
  zmlx_elementwise_destroy(k);
}

/* Gradients against central differences of the f64 function, including a
 * broadcast input whose gradient sums over rows. */
static void test_gradients(void) {
  zmlx_elementwise *k = make_swiglu();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {13, 24}, bs[1] = {24};
    double *ha, *hb, *hg;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 3, &seed, devs[di], &ha);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 1, bs, 2, &seed, devs[di], &hb);
    zmlx_array *g = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, devs[di], &hg);
    zmlx_array *in[2] = {a, b}, *grads[2] = {NULL, NULL};
    CHECK_OK(zmlx_elementwise_backward(k, 2, in, 0, NULL, g, grads));
    double *ga = grads[0] ? zt_read_f64(grads[0]) : NULL, *gb = grads[1] ? zt_read_f64(grads[1]) : NULL;
    CHECK(grads[1] && zmlx_array_ndim(grads[1]) == 1 && zmlx_array_dim(grads[1], 0) == 24);
    double ra[13 * 24], rb[24] = {0}, h = 1e-6;
    for (int i = 0; i < 13; i++)
      for (int j = 0; j < 24; j++) {
        double x = ha[i * 24 + j], y = hb[j], gg = hg[i * 24 + j];
        ra[i * 24 + j] = gg * (silu(x + h) * y - silu(x - h) * y) / (2 * h);
        rb[j] += gg * (silu(x) * (y + h) - silu(x) * (y - h)) / (2 * h);
      }
    CHECK_MSG(ga && zt_rel_err(ga, ra, 13 * 24) < 1e-5, "grad gate rel err %g", ga ? zt_rel_err(ga, ra, 13 * 24) : -1);
    CHECK_MSG(gb && zt_rel_err(gb, rb, 24) < 1e-5, "grad up rel err %g", gb ? zt_rel_err(gb, rb, 24) : -1);
    free(ga); free(gb); free(ha); free(hb); free(hg);
    zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(g);
    zmlx_array_release(grads[0]); zmlx_array_release(grads[1]);
  }
  zmlx_elementwise_destroy(k);
}

/* Forward mode against a central difference along the tangent, with one
 * tangent missing (zero) and one broadcast. */
static void test_jvp(void) {
  zmlx_elementwise *k = make_swiglu();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {11, 40}, row[1] = {40};
    double *ha = NULL, *hb = NULL, *ht = NULL;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 3, &seed, devs[di], &ha);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 2, &seed, devs[di], &hb);
    zmlx_array *ta = zt_random_array(ZMLX_DTYPE_F32, 1, row, 1, &seed, devs[di], &ht);
    zmlx_array *in[2] = {a, b}, *tg[2] = {ta, NULL}, *out = NULL, *tout = NULL;
    CHECK_OK(zmlx_elementwise_jvp(k, 2, in, tg, 0, NULL, &out, &tout));
    double *o = zt_read_f64(out), *t = zt_read_f64(tout), ro[11 * 40], rt[11 * 40], h = 1e-6;
    for (int i = 0; i < 11 * 40; i++) {
      double x = ha[i], dx = ht[i % 40], y = hb[i];
      ro[i] = silu(x) * y;
      rt[i] = (silu(x + h * dx) * y - silu(x - h * dx) * y) / (2 * h);
    }
    CHECK(o && zt_rel_err(o, ro, 11 * 40) < 1e-6);
    CHECK_MSG(t && zt_rel_err(t, rt, 11 * 40) < 1e-5, "jvp rel err %g", t ? zt_rel_err(t, rt, 11 * 40) : -1);
    free(o); free(t); free(ha); free(hb); free(ht);
    zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(ta);
    zmlx_array_release(out); zmlx_array_release(tout);
  }
  zmlx_elementwise_destroy(k);
}

static void test_errors(void) {
  zmlx_elementwise *k = make_swiglu();
  int64_t a[2] = {4, 5}, b[2] = {4, 6};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, a, 1, &seed, ZMLX_CPU, NULL);
  zmlx_array *y = zt_random_array(ZMLX_DTYPE_F32, 2, b, 1, &seed, ZMLX_CPU, NULL);
  zmlx_array *in[2] = {x, y}, *out = NULL;
  CHECK_STATUS(zmlx_elementwise_launch(k, 2, in, 0, NULL, &out), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "(4, 6) f32 cpu");
  CHECK_STATUS(zmlx_elementwise_launch(k, 1, in, 0, NULL, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "takes 2 inputs");
  double s = 1;
  CHECK_STATUS(zmlx_elementwise_launch(k, 2, in, 1, &s, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_elementwise_destroy(k);
  /* Malformed expression and unknown names fail at the first launch, with
   * the compiler's words. */
  static const char *ins[] = {"p"}, *outs[] = {"q"};
  zmlx_elementwise_desc d = {.name = "bad", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                             .output_names = outs, .expr = "q = p * * 2;"};
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  CHECK_STATUS(zmlx_elementwise_launch(k, 1, in, 0, NULL, &out), ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(zmlx_error_last(), "q = p * * 2;");
  CHECK_CONTAINS(zmlx_error_last(), "bad.expr");
  zmlx_elementwise_destroy(k);
  d.expr = "q = p * nowhere;";
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  CHECK_STATUS(zmlx_elementwise_launch(k, 1, in, 0, NULL, &out), ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(zmlx_error_last(), "nowhere");
  zmlx_elementwise_destroy(k);
  /* Type errors: a struct where a number is needed. */
  d.expr = "q = p; zmlx_f16 h = p;";
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  CHECK_STATUS(zmlx_elementwise_launch(k, 1, in, 0, NULL, &out), ZMLX_STATUS_COMPILE_FAILED);
  zmlx_elementwise_destroy(k);
  d.expr = "q = p;";
  d.compute = ZMLX_DTYPE_I32;
  CHECK_STATUS(zmlx_elementwise_create(&d, &k), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  d.compute = ZMLX_DTYPE_F32;
  static const char *reserved[] = {"_zx"};
  d.input_names = reserved;
  CHECK_STATUS(zmlx_elementwise_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_array_release(x);
  zmlx_array_release(y);
}

ZT_MAIN(ZT(test_swiglu_paths), ZT(test_multi_io_f64), ZT(test_into), ZT(test_gradients),
        ZT(test_jvp), ZT(test_errors))
