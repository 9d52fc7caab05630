/* Optimizer steps over several steps, each with a fresh gradient, against
 * f64 references written from PyTorch's formulas (torch.optim.AdamW and
 * SGD, clip_grad_norm_), on every device: f32 and f64 params, bf16 params
 * with an f32 master copy, strided views updated in place, clipping over
 * gradients of mixed dtypes, and bad arguments. */
#define ZT_SUITE_NAME "test_catalog_optim"
#define ZT_SUITE_SALT 0x0971u
#include "zt_suite.h"

#define N_STEPS 5

/* Nearest-even rounding to bf16, written from the definition. */
static double round_bf16(double x) {
  if (x == 0 || !isfinite(x)) return x;
  int e = ilogb(x);
  if (e < -126) e = -126;
  double q = ldexp(1.0, e - 7);
  return nearbyint(x / q) * q;
}

static zmlx_array *make(zmlx_dtype t, int64_t n, const double *v, zmlx_device dev) {
  zmlx_array *f = NULL, *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F64, 1, &n, dev, &f));
  if (f) CHECK_OK(zmlx_array_astype(f, t, &a));
  zmlx_array_release(f);
  return a;
}

static double *randoms(int64_t n, double lo, double hi) {
  double *v = malloc(sizeof *v * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * rnd_unit();
  return v;
}

/* max |got - want| / max |want|, the got values read from a. */
static double rel_err(const zmlx_array *a, const double *want, int64_t n) {
  double *got = zt_read_f64(a), num = 0, den = 0;
  if (!got) return INFINITY;
  for (int64_t i = 0; i < n; i++) {
    num = fmax(num, fabs(got[i] - want[i]));
    den = fmax(den, fabs(want[i]));
    if (isnan(got[i])) num = INFINITY;
  }
  free(got);
  return den > 0 ? num / den : num;
}

/* AdamW: param dtype pt, optional f32 master, f32 state, gradient in gt. */
static void adamw_case(zmlx_device dev, zmlx_dtype pt, int master, zmlx_dtype gt, double tol) {
  const int64_t n = 1031;
  zmlx_adamw_config cfg = {2e-2, 0.9, 0.999, 1e-8, 0.05, 1};
  double *p = randoms(n, -2, 2), *m = calloc((size_t)n, sizeof(double)),
         *v = calloc((size_t)n, sizeof(double));
  if (pt != ZMLX_DTYPE_F32 && pt != ZMLX_DTYPE_F64)
    for (int64_t i = 0; i < n; i++) p[i] = round_bf16(p[i]);
  zmlx_array *P = make(pt, n, p, dev), *W = master ? make(ZMLX_DTYPE_F32, n, p, dev) : NULL;
  zmlx_dtype st = pt == ZMLX_DTYPE_F64 ? pt : ZMLX_DTYPE_F32;
  zmlx_array *M = make(st, n, m, dev), *V = make(st, n, v, dev);
  for (int s = 1; s <= N_STEPS; s++) {
    double *g = randoms(n, -1, 1);
    if (gt == ZMLX_DTYPE_BF16)
      for (int64_t i = 0; i < n; i++) g[i] = round_bf16(g[i]);
    zmlx_array *G = make(gt, n, g, dev);
    cfg.step = s;
    CHECK_OK(zmlx_adamw_step(P, W, G, M, V, &cfg));
    double bc1 = 1 - pow(cfg.beta1, s), bc2 = 1 - pow(cfg.beta2, s);
    for (int64_t i = 0; i < n; i++) {
      p[i] *= 1 - cfg.lr * cfg.weight_decay;
      m[i] += (1 - cfg.beta1) * (g[i] - m[i]);
      v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * g[i] * g[i];
      p[i] -= cfg.lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + cfg.eps);
    }
    zmlx_array_release(G);
    free(g);
  }
  double ep = rel_err(master ? W : P, p, n), em = rel_err(M, m, n), ev = rel_err(V, v, n);
  CHECK_MSG(ep <= tol && em <= tol && ev <= tol,
            "%s adamw %s%s: after %d steps rel err p %.3g m %.3g v %.3g (tol %.3g)", devname(dev),
            zmlx_dtype_name(pt), master ? " + f32 master" : "", N_STEPS, ep, em, ev, tol);
  if (master) {
    /* The param holds the master rounded to its dtype, exactly. */
    double *pw = zt_read_f64(W), *pp = zt_read_f64(P);
    int bad = 0;
    for (int64_t i = 0; pw && pp && i < n; i++)
      if (pp[i] != round_bf16(pw[i])) MISMATCH(bad, "p[%lld] %.9g, master %.9g", (long long)i, pp[i], pw[i]);
    CHECK_MSG(pw && pp && bad == 0, "%d params differ from their rounded master", bad);
    free(pw);
    free(pp);
  }
  zmlx_array_release(P);
  zmlx_array_release(W);
  zmlx_array_release(M);
  zmlx_array_release(V);
  free(p);
  free(m);
  free(v);
}

static void test_adamw(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    adamw_case(dev, ZMLX_DTYPE_F32, 0, ZMLX_DTYPE_F32, 1e-5);
    adamw_case(dev, ZMLX_DTYPE_F64, 0, ZMLX_DTYPE_F64, 1e-12);
    adamw_case(dev, ZMLX_DTYPE_BF16, 1, ZMLX_DTYPE_BF16, 1e-5);
    adamw_case(dev, ZMLX_DTYPE_BF16, 1, ZMLX_DTYPE_F32, 1e-5);
  }
}

static void sgd_case(zmlx_device dev, zmlx_dtype t, double mom, double damp, int nesterov,
                     double tol) {
  const int64_t n = 517;
  zmlx_sgd_config cfg = {.lr = 0.05, .momentum = mom, .dampening = damp, .weight_decay = 0.01,
                         .nesterov = nesterov};
  double *p = randoms(n, -2, 2), *b = randoms(n, -1, 1);
  zmlx_array *P = make(t, n, p, dev), *B = mom != 0 ? make(t, n, b, dev) : NULL;
  for (int s = 1; s <= N_STEPS; s++) {
    double *g = randoms(n, -1, 1);
    zmlx_array *G = make(t, n, g, dev);
    cfg.first = s == 1;
    CHECK_OK(zmlx_sgd_step(P, NULL, G, B, &cfg));
    for (int64_t i = 0; i < n; i++) {
      double d = g[i] + cfg.weight_decay * p[i];
      if (mom != 0) {
        b[i] = s == 1 ? d : mom * b[i] + (1 - damp) * d;
        d = nesterov ? d + mom * b[i] : b[i];
      }
      p[i] -= cfg.lr * d;
    }
    zmlx_array_release(G);
    free(g);
  }
  double ep = rel_err(P, p, n), eb = B ? rel_err(B, b, n) : 0;
  CHECK_MSG(ep <= tol && eb <= tol,
            "%s sgd %s momentum %g dampening %g nesterov %d: rel err p %.3g buf %.3g", devname(dev),
            zmlx_dtype_name(t), mom, damp, nesterov, ep, eb);
  zmlx_array_release(P);
  zmlx_array_release(B);
  free(p);
  free(b);
}

static void test_sgd(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    sgd_case(dev, ZMLX_DTYPE_F32, 0, 0, 0, 1e-5);
    sgd_case(dev, ZMLX_DTYPE_F32, 0.9, 0.1, 0, 1e-5);
    sgd_case(dev, ZMLX_DTYPE_F32, 0.9, 0, 1, 1e-5);
    sgd_case(dev, ZMLX_DTYPE_F64, 0.8, 0.3, 0, 1e-12);
    sgd_case(dev, ZMLX_DTYPE_F64, 0.7, 0, 1, 1e-12);
  }
}

/* A transposed view is updated in place, element for element. */
static void test_strided_in_place(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    int64_t shape[2] = {13, 7}, n = 91;
    double *p = randoms(n, -1, 1), *g = randoms(n, -1, 1);
    zmlx_array *buf = NULL, *P = NULL, *G = NULL, *f = NULL;
    int64_t tshape[2] = {7, 13};
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, tshape, dev, &buf));
    if (buf) CHECK_OK(zmlx_array_transpose(buf, 0, 1, &P));
    CHECK_OK(zmlx_array_from_host(p, ZMLX_DTYPE_F64, 2, shape, dev, &f));
    if (P && f) CHECK_OK(zmlx_array_copy_into(P, f));
    zmlx_array_release(f);
    f = NULL;
    CHECK_OK(zmlx_array_from_host(g, ZMLX_DTYPE_F64, 2, shape, dev, &f));
    if (f) CHECK_OK(zmlx_array_astype(f, ZMLX_DTYPE_F32, &G));
    zmlx_sgd_config cfg = {.lr = 0.5, .weight_decay = 0.2};
    if (P && G) CHECK_OK(zmlx_sgd_step(P, NULL, G, NULL, &cfg));
    double *want = malloc(sizeof *want * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
      double pf = (float)p[i];
      want[i] = pf - 0.5 * ((float)g[i] + 0.2 * pf);
    }
    CHECK_MSG(P && rel_err(P, want, n) < 1e-6, "%s: strided view not updated as expected",
              devname(dev));
    zmlx_array_release(buf);
    zmlx_array_release(P);
    zmlx_array_release(G);
    zmlx_array_release(f);
    free(p);
    free(g);
    free(want);
  }
}

static void clip_case(zmlx_device dev, double max_norm, int mixed) {
  const zmlx_dtype types[3] = {ZMLX_DTYPE_F32, mixed ? ZMLX_DTYPE_BF16 : ZMLX_DTYPE_F64,
                               mixed ? ZMLX_DTYPE_F16 : ZMLX_DTYPE_F64};
  const int64_t sizes[3] = {300, 17, 1025};
  zmlx_array *g[3];
  double *vals[3], sum = 0;
  for (int i = 0; i < 3; i++) {
    zmlx_dtype t = mixed ? types[i] : ZMLX_DTYPE_F64;
    double *v = randoms(sizes[i], -1, 1);
    g[i] = make(t, sizes[i], v, dev);
    free(v);
    vals[i] = g[i] ? zt_read_f64(g[i]) : NULL; /* the stored values */
    for (int64_t k = 0; vals[i] && k < sizes[i]; k++) sum += vals[i][k] * vals[i][k];
  }
  zmlx_array *norm = NULL;
  CHECK_OK(zmlx_clip_grad_norm(3, g, max_norm, &norm));
  double total = sqrt(sum), coef = max_norm / (total + 1e-6);
  double *got = norm ? zt_read_f64(norm) : NULL;
  CHECK_MSG(norm && zmlx_array_ndim(norm) == 0 &&
                zmlx_array_dtype(norm) == (mixed ? ZMLX_DTYPE_F32 : ZMLX_DTYPE_F64),
            "%s: norm is not a 0-d array of the right dtype", devname(dev));
  CHECK_MSG(got && fabs(got[0] - total) <= (mixed ? 2e-6 : 1e-13) * total,
            "%s: norm %.9g, want %.9g", devname(dev), got ? got[0] : NAN, total);
  for (int i = 0; i < 3; i++) {
    double *after = g[i] ? zt_read_f64(g[i]) : NULL;
    int bad = 0;
    double tol = !mixed ? 1e-13 : i == 0 ? 1e-6 : i == 1 ? 8e-3 : 1e-3;
    for (int64_t k = 0; after && vals[i] && k < sizes[i]; k++) {
      double want = coef < 1 ? vals[i][k] * coef : vals[i][k];
      /* Unclipped gradients are left exactly as they were. */
      /* f16 (grads[2] when mixed) keeps only 2^-24 steps below 2^-14:
       * subnormal results get half a step of absolute slack. */
      double sub = mixed && i == 2 ? 0x1p-25 : 0;
      double allowed = coef < 1 ? tol * fabs(want) + sub + 1e-30 : 0;
      if (!(fabs(after[k] - want) <= allowed))
        MISMATCH(bad, "%s grads[%d][%lld] %.9g, want %.9g", devname(dev), i, (long long)k,
                 after[k], want);
    }
    CHECK_MSG(after && bad == 0, "%d values wrong (max_norm %g)", bad, max_norm);
    free(after);
    free(vals[i]);
    zmlx_array_release(g[i]);
  }
  free(got);
  zmlx_array_release(norm);
}

static void test_clip(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    clip_case(dev, 1.0, 1);  /* clips */
    clip_case(dev, 1e3, 1);  /* leaves them */
    clip_case(dev, 2.0, 0);  /* all f64: an f64 norm */
  }
}

static void test_bad_arguments(void) {
  setup();
  int64_t n = 4, n2 = 5;
  zmlx_array *a = NULL, *b = NULL, *c = NULL, *i32 = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &a));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &b));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n2, ZMLX_CPU, &c));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I32, 1, &n, ZMLX_CPU, &i32));
  zmlx_adamw_config ac = {1e-3, 0.9, 0.999, 1e-8, 0, 1};
  zmlx_sgd_config sc = {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = 1};
  CHECK_STATUS(zmlx_adamw_step(a, NULL, b, b, b, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "adamw");
  CHECK_STATUS(zmlx_adamw_step(a, NULL, c, b, b, &ac), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_STATUS(zmlx_adamw_step(a, i32, b, b, b, &ac), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "adamw_master");
  ac.beta2 = 1;
  CHECK_STATUS(zmlx_adamw_step(a, NULL, b, b, b, &ac), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_sgd_step(a, NULL, b, b, &sc), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "sgd_nesterov");
  sc.nesterov = 0;
  CHECK_STATUS(zmlx_sgd_step(a, NULL, b, NULL, &sc), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_array *list[2] = {a, i32};
  CHECK_STATUS(zmlx_clip_grad_norm(2, list, 1.0, NULL), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_STATUS(zmlx_clip_grad_norm(1, list, NAN, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_clip_grad_norm(1, NULL, 1.0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  /* Nothing was written by the failed calls. */
  double *va = zt_read_f64(a);
  CHECK(va && va[0] == 0 && va[3] == 0);
  free(va);
  zmlx_array_release(a);
  zmlx_array_release(b);
  zmlx_array_release(c);
  zmlx_array_release(i32);
}

ZT_MAIN(ZT(test_adamw), ZT(test_sgd), ZT(test_strided_in_place), ZT(test_clip),
        ZT(test_bad_arguments))
