/* What the catalog harness (tests/test_catalog.c, last axis, random
 * values) does not reach in the softmax, reduce, scan and loss families:
 * other axes and keepdims, special values (-inf rows, NaN, signed zeros,
 * ties), the documented edge semantics (fully masked rows, ignored and
 * out-of-range targets, an all-ignored mean, NaN variances), and argument
 * errors. References are f64 loops over the definitions. Runs on the CPU
 * and on cuda:0 when present. */
#include <math.h>

#include "zmlx/catalog.h"
#include "zmlx/reduce.h"
#include "zt_array.h"

static zmlx_array *from(const double *v, int nd, const int64_t *shape, zmlx_dtype t,
                        zmlx_device dev) {
  zmlx_array *f = NULL, *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F64, nd, shape, dev, &f));
  if (f) CHECK_OK(zmlx_array_astype(f, t, &a));
  zmlx_array_release(f);
  return a;
}

/* got (an array) against want (n values): relative error within tol, NaN
 * where want has NaN. */
static void expect(const zmlx_array *got, const double *want, int64_t n, double tol,
                   const char *what) {
  double *g = zt_read_f64(got);
  zt_checks_++;
  if (!g || zmlx_array_numel(got) != n) {
    ZT_FAIL_("%s: no result or %lld elements, want %lld", what,
             got ? (long long)zmlx_array_numel(got) : -1LL, (long long)n);
    free(g);
    return;
  }
  int same_inf = 1;
  for (int64_t i = 0; i < n; i++)
    if (isinf(want[i]) || isinf(g[i])) same_inf &= g[i] == want[i];
  double e = zt_rel_err(g, want, (size_t)n);
  if (!(e <= tol) || !same_inf) ZT_FAIL_("%s: rel err %.3g (tol %.3g), first got %.9g want %.9g", what, e, tol, g[0], want[0]);
  free(g);
}

/* Element offset of (outer o, position j along axis, inner i) in a C
 * array of shape sh with `axis`. */
typedef struct lay {
  int64_t outer, n, inner;
} lay;
static lay layout(int nd, const int64_t *sh, int axis) {
  lay l = {1, sh[axis], 1};
  for (int d = 0; d < axis; d++) l.outer *= sh[d];
  for (int d = axis + 1; d < nd; d++) l.inner *= sh[d];
  return l;
}
#define AT(l, o, j, i) (((o) * (l).n + (j)) * (l).inner + (i))

/* softmax, log_softmax, logsumexp and cumsum backward along every axis. */
static void test_axes(void) {
  zmlx_device devs[2];
  int nd_dev = zt_devices(devs);
  uint64_t seed = 0x5eed;
  const int64_t sh[3] = {3, 5, 7};
  const int64_t n = 105;
  for (int di = 0; di < nd_dev; di++)
    for (int axis = 0; axis < 3; axis++) {
      double *xv, *gv;
      zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 3, sh, 3, &seed, devs[di], &xv);
      zmlx_array *g = zt_random_array(ZMLX_DTYPE_F32, 3, sh, 1, &seed, devs[di], &gv);
      lay l = layout(3, sh, axis);
      double *sm = calloc(n, sizeof *sm), *dsm = calloc(n, sizeof *dsm), *dls = calloc(n, sizeof *dls),
             *dcs = calloc(n, sizeof *dcs), *lse = calloc(n, sizeof *lse), *dlse = calloc(n, sizeof *dlse);
      for (int64_t o = 0; o < l.outer; o++)
        for (int64_t i = 0; i < l.inner; i++) {
          double m = -INFINITY, s = 0, sgy = 0, sg = 0, acc = 0;
          for (int64_t j = 0; j < l.n; j++) m = fmax(m, xv[AT(l, o, j, i)]);
          for (int64_t j = 0; j < l.n; j++) s += exp(xv[AT(l, o, j, i)] - m);
          for (int64_t j = 0; j < l.n; j++) {
            int64_t k = AT(l, o, j, i);
            sm[k] = exp(xv[k] - m) / s;
            sgy += gv[k] * sm[k];
            sg += gv[k];
          }
          lse[o * l.inner + i] = m + log(s);
          for (int64_t j = l.n - 1; j >= 0; j--) {
            int64_t k = AT(l, o, j, i);
            dsm[k] = sm[k] * (gv[k] - sgy);
            dls[k] = gv[k] - sm[k] * sg;
            acc += gv[k];
            dcs[k] = acc;
            /* logsumexp's dy: g's first slice along axis, one per row. */
            dlse[k] = gv[AT(l, o, 0, i)] * sm[k];
          }
        }
      /* dy of logsumexp: g at position 0 along axis, x's shape without it. */
      int64_t rsh[2];
      for (int d = 0, k = 0; d < 3; d++)
        if (d != axis) rsh[k++] = sh[d];
      double *dyv = malloc(sizeof *dyv * (size_t)(l.outer * l.inner));
      for (int64_t o = 0; o < l.outer; o++)
        for (int64_t i = 0; i < l.inner; i++) dyv[o * l.inner + i] = gv[AT(l, o, 0, i)];
      zmlx_array *dy = from(dyv, 2, rsh, ZMLX_DTYPE_F32, devs[di]);
      zmlx_array *r = NULL;
      char what[96];
#define RUN(CALL, WANT, N, NAME)                                                   \
  do {                                                                             \
    snprintf(what, sizeof what, "%s axis %d on %s", NAME, axis,                    \
             devs[di].type == ZMLX_DEVICE_CPU ? "cpu" : "cuda");                   \
    CHECK_OK(CALL);                                                                \
    expect(r, WANT, N, 2e-5, what);                                                \
    zmlx_array_release(r);                                                         \
    r = NULL;                                                                      \
  } while (0)
      RUN(zmlx_softmax_backward(x, g, axis, &r), dsm, n, "softmax_backward");
      RUN(zmlx_log_softmax_backward(x, g, axis - 3, &r), dls, n, "log_softmax_backward");
      RUN(zmlx_cumsum_backward(x, g, axis, &r), dcs, n, "cumsum_backward");
      RUN(zmlx_logsumexp(x, axis, &r), lse, l.outer * l.inner, "logsumexp");
      RUN(zmlx_logsumexp_backward(x, dy, axis, &r), dlse, n, "logsumexp_backward");
#undef RUN
      free(sm); free(dsm); free(dls); free(dcs); free(lse); free(dlse); free(dyv);
      free(xv); free(gv);
      zmlx_array_release(x); zmlx_array_release(g); zmlx_array_release(dy);
    }
}

/* var, std, sum and mean backward over axes {0, 2} with and without
 * keepdims. */
static void test_reduce_axes(void) {
  zmlx_device devs[2];
  int nd_dev = zt_devices(devs);
  uint64_t seed = 0xa11;
  const int64_t sh[3] = {4, 3, 6};
  const int axes[2] = {0, -1};
  for (int di = 0; di < nd_dev; di++)
    for (int keep = 0; keep < 2; keep++) {
      double *xv;
      zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 3, sh, 2, &seed, devs[di], &xv);
      /* Reduced over 4 * 6 = 24 elements for each of the 3 middle rows. */
      double mean[3] = {0}, ss[3] = {0}, gval[3] = {0.5, -1.25, 2};
      for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 3; b++)
          for (int64_t c = 0; c < 6; c++) mean[b] += xv[(a * 3 + b) * 6 + c] / 24;
      for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 3; b++)
          for (int64_t c = 0; c < 6; c++) {
            double d = xv[(a * 3 + b) * 6 + c] - mean[b];
            ss[b] += d * d;
          }
      int64_t gsh[3] = {1, 3, 1}, gs1 = 3;
      zmlx_array *g = keep ? from(gval, 3, gsh, ZMLX_DTYPE_F32, devs[di])
                           : from(gval, 1, &gs1, ZMLX_DTYPE_F32, devs[di]);
      double want_var[3], want_std[3], dvar[72], dstd[72], dsum[72], dmean[72];
      for (int b = 0; b < 3; b++) {
        want_var[b] = ss[b] / 23;
        want_std[b] = sqrt(ss[b] / 24);
      }
      for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 3; b++)
          for (int64_t c = 0; c < 6; c++) {
            int64_t k = (a * 3 + b) * 6 + c;
            double d = xv[k] - mean[b];
            dvar[k] = gval[b] * 2 * d / 23;
            dstd[k] = gval[b] * d / (24 * want_std[b]);
            dsum[k] = gval[b];
            dmean[k] = gval[b] / 24;
          }
      zmlx_array *r = NULL;
      CHECK_OK(zmlx_reduce_var(x, 2, axes, keep, 1, &r));
      expect(r, want_var, 3, 1e-5, "var over axes 0, 2");
      CHECK_EQ_INT(zmlx_array_ndim(r), keep ? 3 : 1);
      zmlx_array_release(r);
      CHECK_OK(zmlx_reduce_std(x, 2, axes, keep, 0, &r));
      expect(r, want_std, 3, 1e-5, "std over axes 0, 2");
      zmlx_array_release(r);
      CHECK_OK(zmlx_reduce_var_backward(x, 2, axes, keep, 1, g, &r));
      expect(r, dvar, 72, 1e-5, "var_backward");
      zmlx_array_release(r);
      CHECK_OK(zmlx_reduce_std_backward(x, 2, axes, keep, 0, g, &r));
      expect(r, dstd, 72, 1e-5, "std_backward");
      zmlx_array_release(r);
      CHECK_OK(zmlx_reduce_sum_backward(x, 2, axes, keep, g, &r));
      expect(r, dsum, 72, 1e-6, "sum_backward");
      zmlx_array_release(r);
      CHECK_OK(zmlx_reduce_mean_backward(x, 2, axes, keep, g, &r));
      expect(r, dmean, 72, 1e-6, "mean_backward");
      zmlx_array_release(r);
      /* dy shaped for the other keepdims is wrong. */
      zmlx_array *wrong = keep ? from(gval, 1, &gs1, ZMLX_DTYPE_F32, devs[di])
                               : from(gval, 3, gsh, ZMLX_DTYPE_F32, devs[di]);
      CHECK_STATUS(zmlx_reduce_sum_backward(x, 2, axes, keep, wrong, &r), ZMLX_STATUS_SHAPE_MISMATCH);
      CHECK(r == NULL);
      const int twice[2] = {1, -2};
      CHECK_STATUS(zmlx_reduce_mean_backward(x, 2, twice, keep, g, &r), ZMLX_STATUS_INVALID_ARGUMENT);
      CHECK_CONTAINS(zmlx_error_last(), "mean");
      free(xv);
      zmlx_array_release(x); zmlx_array_release(g); zmlx_array_release(wrong);
    }
}

static void test_special_values(void) {
  zmlx_device devs[2];
  int nd_dev = zt_devices(devs);
  for (int di = 0; di < nd_dev; di++) {
    zmlx_device dev = devs[di];
    zmlx_array *r = NULL, *r2 = NULL;
    /* A row of -inf: logsumexp -inf, zero gradient; a NaN propagates. */
    const double rows[2][4] = {{-INFINITY, -INFINITY, -INFINITY, -INFINITY}, {1, NAN, 2, 3}};
    int64_t sh[2] = {2, 4};
    zmlx_array *x = from(&rows[0][0], 2, sh, ZMLX_DTYPE_F32, dev);
    double *got = NULL;
    CHECK_OK(zmlx_logsumexp(x, -1, &r));
    got = zt_read_f64(r);
    CHECK(got && got[0] == -INFINITY && isnan(got[1]));
    free(got);
    zmlx_array_release(r);
    const double ones[2] = {1, 1};
    zmlx_array *dy = from(ones, 1, sh, ZMLX_DTYPE_F32, dev);
    CHECK_OK(zmlx_logsumexp_backward(x, dy, -1, &r));
    got = zt_read_f64(r);
    CHECK(got && got[0] == 0 && got[3] == 0 && isnan(got[5]));
    free(got);
    zmlx_array_release(r);
    zmlx_array_release(dy);
    zmlx_array_release(x);

    /* top-k: NaN first (lowest index first), ties and signed zeros by
     * index. */
    const double tv[8] = {1, NAN, 3, 3, -0.0, 0.0, NAN, -INFINITY};
    int64_t n8 = 8;
    const double want_i[8] = {1, 6, 2, 3, 0, 4, 5, 7};
    zmlx_dtype types[3] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F64};
    for (int ti = 0; ti < 3; ti++) {
      zmlx_array *t = from(tv, 1, &n8, types[ti], dev);
      CHECK_OK(zmlx_topk(t, 8, &r, &r2));
      expect(r2, want_i, 8, 0, "topk indices with NaN, ties and signed zeros");
      zmlx_array_release(r);
      zmlx_array_release(r2);
      CHECK_STATUS(zmlx_topk(t, 9, &r, &r2), ZMLX_STATUS_INVALID_ARGUMENT);
      CHECK(r == NULL && r2 == NULL);
      CHECK_CONTAINS(zmlx_error_last(), "topk");
      zmlx_array_release(t);
    }

    /* A fully masked row gives zeros; an unmasked one a softmax. */
    const double xs[6] = {1, 2, 3, 4, 5, 6};
    int64_t sh23[2] = {2, 3};
    zmlx_array *sx = from(xs, 2, sh23, ZMLX_DTYPE_F32, dev), *m = NULL;
    const double mv[6] = {0, 0, 0, 1, 1, 1};
    zmlx_array *mf = from(mv, 2, sh23, ZMLX_DTYPE_F32, dev);
    CHECK_OK(zmlx_array_astype(mf, ZMLX_DTYPE_BOOL, &m));
    CHECK_OK(zmlx_softmax_masked(sx, m, 1.0, &r));
    double s = exp(4) + exp(5) + exp(6);
    const double want_sm[6] = {0, 0, 0, exp(4) / s, exp(5) / s, exp(6) / s};
    expect(r, want_sm, 6, 1e-6, "softmax_masked with a fully masked row");
    zmlx_array_release(r);
    CHECK_STATUS(zmlx_softmax_temperature(sx, 0, &r), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "softmax_temperature");
    zmlx_array_release(m); zmlx_array_release(mf); zmlx_array_release(sx);

    /* var of one element, unbiased: NaN; biased: 0. */
    zmlx_array *one = from(xs, 1, (int64_t[]){1}, ZMLX_DTYPE_F32, dev);
    CHECK_OK(zmlx_reduce_var(one, 0, NULL, 0, 1, &r));
    got = zt_read_f64(r);
    CHECK(got && isnan(got[0]));
    free(got);
    zmlx_array_release(r);
    CHECK_OK(zmlx_reduce_var(one, 0, NULL, 0, 0, &r));
    got = zt_read_f64(r);
    CHECK(got && got[0] == 0);
    free(got);
    zmlx_array_release(r);
    zmlx_array_release(one);
  }
}

/* Defaults (opts NULL: ignore_index -100), out-of-range targets, an
 * all-ignored mean, and dtypes of the per-row results. */
static void test_cross_entropy_edges(void) {
  zmlx_device devs[2];
  int nd_dev = zt_devices(devs);
  for (int di = 0; di < nd_dev; di++) {
    zmlx_device dev = devs[di];
    const double xv[12] = {1, 2, 3, 0, -1, 0.5, 2, 2, 2, 4, -4, 0};
    int64_t sh[2] = {4, 3}, n4 = 4;
    zmlx_array *x = from(xv, 2, sh, ZMLX_DTYPE_BF16, dev);
    const double tv[4] = {2, -100, 7, 0};
    zmlx_array *t = from(tv, 1, &n4, ZMLX_DTYPE_I32, dev), *loss = NULL, *lse = NULL;
    CHECK_OK(zmlx_cross_entropy(x, t, NULL, &loss, &lse));
    CHECK(loss && zmlx_array_dtype(loss) == ZMLX_DTYPE_F32);
    double *l = zt_read_f64(loss), *ls = zt_read_f64(lse);
    double lse0 = log(exp(1) + exp(2) + exp(3)), lse3 = log(exp(4) + exp(-4) + exp(0));
    CHECK(l && fabs(l[0] - (lse0 - 3)) < 1e-5);
    CHECK(l && l[1] == 0);        /* ignored (-100) */
    CHECK(l && isnan(l[2]));      /* target 7 of 3 classes */
    CHECK(l && fabs(l[3] - (lse3 - 4)) < 1e-5);
    CHECK(ls && fabs(ls[3] - lse3) < 1e-5 && fabs(ls[1] - log(exp(0) + exp(-1) + exp(0.5))) < 1e-5);
    free(l);
    free(ls);
    zmlx_array_release(loss);
    /* Every row ignored: the mean is NaN. */
    zmlx_cross_entropy_opts o = {.ignore_index = 5};
    const double all5[4] = {5, 5, 5, 5};
    zmlx_array *t5 = from(all5, 1, &n4, ZMLX_DTYPE_I64, dev), *mean = NULL;
    CHECK_OK(zmlx_cross_entropy_mean(x, t5, &o, &mean, NULL));
    l = zt_read_f64(mean);
    CHECK(l && isnan(l[0]) && zmlx_array_ndim(mean) == 0);
    free(l);
    zmlx_array_release(mean);
    /* Bad options and targets. */
    o.label_smoothing = -0.5;
    CHECK_STATUS(zmlx_cross_entropy(x, t, &o, &loss, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK(loss == NULL);
    zmlx_array *tf = from(tv, 1, &n4, ZMLX_DTYPE_F32, dev);
    CHECK_STATUS(zmlx_cross_entropy(x, tf, NULL, &loss, NULL), ZMLX_STATUS_DTYPE_UNSUPPORTED);
    CHECK_CONTAINS(zmlx_error_last(), "cross_entropy");
    zmlx_array_release(tf);
    zmlx_array_release(t5);
    zmlx_array_release(lse);
    zmlx_array_release(t);
    zmlx_array_release(x);
  }
}

ZT_MAIN(ZT(test_axes), ZT(test_reduce_axes), ZT(test_special_values), ZT(test_cross_entropy_edges))
