/* The test helpers themselves: the gradient check passes right gradients
 * and fails wrong ones (naming the worst element), in f32 and f64
 * compute; zmlx_check_matches passes a right kernel and catches wrong ones
 * (spread errors, a single wrong element, NaN, wrong shapes) with
 * dtype-aware tolerances; errors that are not mismatches pass through. */
#include <time.h>

#include "testing/testing_internal.h"
#include "zt_array.h"

static uint64_t seed = 0x7e57; /* test_seed makes it fresh */

#define TRY(expr)                         \
  do {                                    \
    zmlx_status try_s_ = (expr);          \
    if (try_s_) return try_s_;            \
  } while (0)

static zmlx_elementwise *ew(const char *name, int n_in, const char *const *ins, const char *expr,
                            const char *const *grads, zmlx_dtype compute,
                            const zmlx_dtype *out_dtypes) {
  static const char *outs[] = {"out"};
  zmlx_elementwise_desc d = {.name = name, .n_inputs = n_in, .input_names = ins, .n_outputs = 1,
                             .output_names = outs, .expr = expr, .grad_exprs = grads,
                             .compute = compute, .out_dtypes = out_dtypes};
  zmlx_elementwise *k = NULL;
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  return k;
}

static const char *swiglu_ins[] = {"gate", "up"};
static const char *swiglu_grads[] = {
    "g * up * zmlx_sigmoidf(gate) * (1.0f + gate * (1.0f - zmlx_sigmoidf(gate)))",
    "g * zmlx_siluf(gate)"};
/* The gradient of `up` forgets nothing but is scaled wrong for gate < 0. */
static const char *swiglu_wrong[] = {
    "g * up * zmlx_sigmoidf(gate) * (1.0f + gate * (1.0f - zmlx_sigmoidf(gate)))",
    "g * (gate < 0.0f ? 1.1f : 1.0f) * zmlx_siluf(gate)"};

static void test_gradcheck_elementwise_f32(void) {
  zmlx_elementwise *good = ew("swiglu", 2, swiglu_ins, "out = zmlx_siluf(gate) * up;",
                              swiglu_grads, ZMLX_DTYPE_F32, NULL);
  zmlx_elementwise *bad = ew("swiglu_bad", 2, swiglu_ins, "out = zmlx_siluf(gate) * up;",
                             swiglu_wrong, ZMLX_DTYPE_F32, NULL);
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {6, 11}, row[1] = {11};
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 3, &seed, devs[di], NULL);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 1, row, 2, &seed, devs[di], NULL);
    zmlx_array *in[2] = {a, b};
    zmlx_gradcheck_report rep;
    CHECK_OK(zmlx_gradcheck_elementwise(good, 2, in, 0, NULL, 0, 0, 0, &rep));
    CHECK_MSG(rep.passed && !rep.mismatch && rep.f32_limited, "%s", rep.message);
    CHECK(rep.eps == 1e-3 && rep.seed != 0);
    CHECK_CONTAINS(rep.message, "passed");
    CHECK_STATUS(zmlx_gradcheck_elementwise(bad, 2, in, 0, NULL, 0, 0, 0, &rep), ZMLX_CHECK_FAILED);
    CHECK(!rep.passed && rep.mismatch);
    CHECK_EQ_INT(rep.worst_input, 1);
    CHECK(rep.worst_index >= 0 && rep.worst_index < 11);
    char want[64];
    snprintf(want, sizeof want, "element %lld [%lld]", (long long)rep.worst_index,
             (long long)rep.worst_index);
    CHECK_CONTAINS(zmlx_error_last(), want);
    CHECK_CONTAINS(rep.message, "input 1 (11,) f32");
    zmlx_array_release(a);
    zmlx_array_release(b);
  }
  zmlx_elementwise_destroy(good);
  zmlx_elementwise_destroy(bad);
}

/* With f64 inputs and f64 compute the check is tight: a gradient off by
 * one part in 1e4 fails. */
static void test_gradcheck_f64(void) {
  static const char *ins[] = {"x", "y"};
  static const char *grads[] = {"g * exp(x) * sin(y)", "g * exp(x) * cos(y)"};
  static const char *wrong[] = {"g * exp(x) * sin(y)", "g * exp(x) * cos(y) * 1.0001"};
  zmlx_elementwise *good = ew("expsin", 2, ins, "out = exp(x) * sin(y);", grads, ZMLX_DTYPE_F64, NULL);
  zmlx_elementwise *bad = ew("expsin_bad", 2, ins, "out = exp(x) * sin(y);", wrong, ZMLX_DTYPE_F64, NULL);
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {3, 7};
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F64, 2, sh, 1, &seed, devs[di], NULL);
    zmlx_array *y = zt_random_array(ZMLX_DTYPE_F64, 2, sh, 3, &seed, devs[di], NULL);
    zmlx_array *in[2] = {x, y};
    zmlx_gradcheck_report rep;
    CHECK_OK(zmlx_gradcheck_elementwise(good, 2, in, 0, NULL, 0, 0, 0, &rep));
    CHECK_MSG(rep.passed && !rep.f32_limited && rep.eps == 1e-6 && rep.rtol == 1e-6, "%s",
              rep.message);
    CHECK_MSG(rep.max_abs_err < 1e-7, "max abs err %g", rep.max_abs_err);
    CHECK_STATUS(zmlx_gradcheck_elementwise(bad, 2, in, 0, NULL, 0, 0, 0, &rep), ZMLX_CHECK_FAILED);
    CHECK(rep.mismatch && rep.worst_input == 1);
    /* A looser rtol lets the same error through. */
    CHECK_OK(zmlx_gradcheck_elementwise(bad, 2, in, 0, NULL, 0, 1e-3, 0, &rep));
    zmlx_array_release(x);
    zmlx_array_release(y);
  }
  zmlx_elementwise_destroy(good);
  zmlx_elementwise_destroy(bad);
}

/* The generic form, with a vjp that forgets an input (NULL counts as
 * zeros, so it fails) and one that returns the wrong shape. */
typedef struct gen_ctx {
  zmlx_elementwise *k;
  int mode; /* 0: right, 1: drop input 1, 2: wrong shape */
} gen_ctx;

static zmlx_status gen_fn(void *ctx, int n, zmlx_array *const *in, zmlx_array **out) {
  return zmlx_elementwise_launch(((gen_ctx *)ctx)->k, n, in, 0, NULL, out);
}

static zmlx_status gen_vjp(void *ctx, int n, zmlx_array *const *in, zmlx_array *g,
                           zmlx_array **grads) {
  const gen_ctx *c = ctx;
  TRY(zmlx_elementwise_backward(c->k, n, in, 0, NULL, g, grads));
  if (c->mode == 1) {
    zmlx_array_release(grads[1]);
    grads[1] = NULL;
  } else if (c->mode == 2) {
    zmlx_array *v = NULL;
    int64_t flat[1] = {-1};
    TRY(zmlx_array_reshape(grads[0], 1, flat, &v));
    zmlx_array_release(grads[0]);
    grads[0] = v;
  }
  return ZMLX_STATUS_OK;
}

static void test_gradcheck_generic(void) {
  gen_ctx c = {ew("swiglu", 2, swiglu_ins, "out = zmlx_siluf(gate) * up;", swiglu_grads,
                  ZMLX_DTYPE_F32, NULL), 0};
  int64_t sh[2] = {4, 5};
  zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 3, &seed, ZMLX_CPU, NULL);
  zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 2, &seed, ZMLX_CPU, NULL);
  zmlx_array *in[2] = {a, b};
  zmlx_gradcheck_report rep;
  CHECK_OK(zmlx_gradcheck(gen_fn, &c, 2, in, gen_vjp, &c, 0, 0, 0, &rep));
  c.mode = 1;
  CHECK_STATUS(zmlx_gradcheck(gen_fn, &c, 2, in, gen_vjp, &c, 0, 0, 0, &rep), ZMLX_CHECK_FAILED);
  CHECK(rep.mismatch && rep.worst_input == 1 && rep.worst_analytic == 0);
  c.mode = 2;
  CHECK_STATUS(zmlx_gradcheck(gen_fn, &c, 2, in, gen_vjp, &c, 0, 0, 0, &rep),
               ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK(!rep.mismatch && !rep.passed);
  CHECK_CONTAINS(rep.message, "vjp returned a gradient (20,) f32");
  CHECK_STATUS(zmlx_gradcheck(NULL, &c, 2, in, gen_vjp, &c, 0, 0, 0, &rep),
               ZMLX_STATUS_INVALID_ARGUMENT);
  /* A NULL report is allowed. */
  c.mode = 0;
  CHECK_OK(zmlx_gradcheck(gen_fn, &c, 2, in, gen_vjp, &c, 0, 0, 0, NULL));
  zmlx_elementwise_destroy(c.k);
  zmlx_array_release(a);
  zmlx_array_release(b);
}

/* out_dtypes fixed to f32: the kernel cannot run in f64, so it cannot be
 * checked; say so rather than compare f32 differences. */
static void test_gradcheck_unsupported(void) {
  static const char *ins[] = {"x"}, *grads[] = {"2.0f * x * g"};
  static const zmlx_dtype f32[] = {ZMLX_DTYPE_F32};
  zmlx_elementwise *k = ew("sq32", 1, ins, "out = x * x;", grads, ZMLX_DTYPE_F32, f32);
  int64_t sh[1] = {5};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, ZMLX_CPU, NULL);
  zmlx_gradcheck_report rep;
  CHECK_STATUS(zmlx_gradcheck_elementwise(k, 1, &x, 0, NULL, 0, 0, 0, &rep), ZMLX_STATUS_UNSUPPORTED);
  CHECK(!rep.mismatch);
  CHECK_CONTAINS(rep.message, "out_dtypes");
  CHECK_STATUS(zmlx_gradcheck_elementwise(NULL, 1, &x, 0, NULL, 0, 0, 0, &rep),
               ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_elementwise_destroy(k);
  zmlx_array_release(x);
}

/* ---- check_matches ------------------------------------------------------ */

typedef struct match_ctx {
  zmlx_elementwise *impl, *ref;
  int poison;       /* add `value` to element `at` of impl's output */
  int64_t at;
  double value;
  int wrong_shape;  /* impl returns a reshaped output */
  int fail;         /* impl fails */
} match_ctx;

/* value added to element `at` of a (any dtype), through an f64 round trip. */
static zmlx_status poke(zmlx_array **a, int64_t at, double value) {
  if (zmlx_array_numel(*a) <= at) return ZMLX_STATUS_OK;
  double *h = zt_read_f64(*a);
  if (!h) return ZMLX_STATUS_INTERNAL;
  h[at] += value;
  int nd = zmlx_array_ndim(*a);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(*a, d);
  zmlx_array *f = NULL, *t = NULL;
  zmlx_status s = zmlx_array_from_host(h, ZMLX_DTYPE_F64, nd, shape, zmlx_array_device(*a), &f);
  if (!s) s = zmlx_array_astype(f, zmlx_array_dtype(*a), &t);
  free(h);
  zmlx_array_release(f);
  if (!s) {
    zmlx_array_release(*a);
    *a = t;
  }
  return s;
}

static zmlx_status match_impl(void *ctx, int n_in, zmlx_array *const *in, int n_out,
                              zmlx_array **out) {
  const match_ctx *c = ctx;
  if (c->fail) return ZMLX_STATUS_UNSUPPORTED;
  TRY(zmlx_elementwise_launch(c->impl, n_in, in, 0, NULL, out));
  if (c->poison) return poke(out, c->at, c->value);
  if (c->wrong_shape) {
    zmlx_array *v = NULL;
    TRY(zmlx_array_expand_dims(out[0], 0, &v));
    zmlx_array_release(out[0]);
    out[0] = v;
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status match_ref(void *ctx, int n_in, zmlx_array *const *in, int n_out,
                             zmlx_array **out) {
  return zmlx_elementwise_launch(((const match_ctx *)ctx)->ref, n_in, in, 0, NULL, out);
}

static zmlx_elementwise *swiglu_scaled(const char *name, const char *scale) {
  char expr[200];
  snprintf(expr, sizeof expr, "out = zmlx_siluf(gate) * up * %s;", scale);
  return ew(name, 2, swiglu_ins, expr, NULL, ZMLX_DTYPE_F32, NULL);
}

static void test_check_matches_passes(void) {
  static const zmlx_dtype dts[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F16, ZMLX_DTYPE_F64};
  match_ctx c = {.impl = swiglu_scaled("swiglu", "1.0f"),
                 .ref = ew("swiglu_ref", 2, swiglu_ins, "out = gate / (1.0 + exp(-gate)) * up;",
                           NULL, ZMLX_DTYPE_F64, NULL)};
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    /* The default shapes, f32 / bf16 / f16 (f64 needs f64 compute: below). */
    zmlx_check_spec spec = {.impl = match_impl, .ref = match_ref, .ctx = &c, .n_inputs = 2,
                            .n_dtypes = 3, .dtypes = dts, .device = devs[di]};
    zmlx_check_report rep;
    CHECK_OK(zmlx_check_matches(&spec, &rep));
    CHECK_MSG(rep.passed && rep.n_run == 15 && rep.n_failed == 0 && rep.failed_case == -1, "%s",
              rep.message);
    CHECK(rep.seed != 0);
    /* Broadcast cases, and the default dtypes. */
    zmlx_check_shape bshapes[2] = {{2, {33, 64}}, {1, {64}}}, cshapes[2] = {{2, {9, 5}}, {2, {9, 1}}};
    zmlx_check_case cases[2] = {{.input_shapes = bshapes}, {.input_shapes = cshapes}};
    zmlx_check_spec bspec = {.impl = match_impl, .ref = match_ref, .ctx = &c, .n_inputs = 2,
                             .n_cases = 2, .cases = cases, .device = devs[di], .seed = 42};
    CHECK_OK(zmlx_check_matches(&bspec, &rep));
    CHECK(rep.n_run == 6 && rep.seed == 42);
    /* f32 compute is not f64-accurate: f64 inputs fail the f64 tolerance. */
    spec.dtypes = dts + 3;
    spec.n_dtypes = 1;
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
    CHECK(rep.mismatch && rep.dtype == ZMLX_DTYPE_F64);
  }
  zmlx_elementwise_destroy(c.impl);
  zmlx_elementwise_destroy(c.ref);
}

static void test_check_matches_catches(void) {
  static const zmlx_dtype f32[] = {ZMLX_DTYPE_F32}, bf16[] = {ZMLX_DTYPE_BF16};
  match_ctx c = {.ref = ew("swiglu_ref", 2, swiglu_ins, "out = gate / (1.0 + exp(-gate)) * up;",
                           NULL, ZMLX_DTYPE_F64, NULL)};
  zmlx_elementwise *one = swiglu_scaled("swiglu_1pct", "1.01f");
  zmlx_elementwise *five = swiglu_scaled("swiglu_5pct", "1.05f");
  zmlx_elementwise *right = swiglu_scaled("swiglu", "1.0f");
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    c.impl = one;
    zmlx_check_spec spec = {.impl = match_impl, .ref = match_ref, .ctx = &c, .n_inputs = 2,
                            .n_dtypes = 1, .dtypes = f32, .device = devs[di]};
    zmlx_check_report rep;
    /* Off by 1e-2: caught in f32 at the first case ... */
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
    CHECK(rep.mismatch && rep.failed_case == 0 && rep.dtype == ZMLX_DTYPE_F32);
    CHECK(rep.n_failed == 4 && rep.n_run == 5); /* all but the empty case */
    CHECK(fabs(rep.rel_err - 1e-2) < 1e-3);
    CHECK_CONTAINS(rep.message, "case 0, inputs (1,) f32 on");
    CHECK_CONTAINS(zmlx_error_last(), "4 of 5 cases failed");
    /* ... but within bf16's tolerance, which 5e-2 is not. */
    spec.dtypes = bf16;
    CHECK_OK(zmlx_check_matches(&spec, &rep));
    c.impl = five;
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
    CHECK(rep.dtype == ZMLX_DTYPE_BF16);
    /* One wrong element among 4097: the norm averages it away, the max
     * test does not. Case 2 is (4097,), the first with an element 100. */
    c.impl = right;
    c.poison = 1;
    c.at = 100;
    c.value = 0.4;
    for (int t = 0; t < 2; t++) {
      spec.dtypes = t ? bf16 : f32;
      CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
      CHECK_EQ_INT(rep.failed_case, 2);
      CHECK_EQ_INT(rep.worst_index, 100);
      CHECK_CONTAINS(rep.message, "at element 100 [100]");
    }
    CHECK_MSG(rep.rel_err < rep.tol, "bf16: the norm alone passes it (%g vs %g)", rep.rel_err,
              rep.tol);
    /* NaN where the reference has none fails; case 1, (7,), is the first
     * with an element 3. */
    c.value = NAN;
    c.at = 3;
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
    CHECK_EQ_INT(rep.failed_case, 1);
    CHECK_CONTAINS(rep.message, "NaN at element 3");
    c.poison = 0;
    /* A wrong shape is a mismatch too. */
    c.wrong_shape = 1;
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_CHECK_FAILED);
    CHECK_CONTAINS(rep.message, "impl gave (1, 1) bf16");
    c.wrong_shape = 0;
    /* A failing impl is an error, not a mismatch. */
    c.fail = 1;
    CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_STATUS_UNSUPPORTED);
    CHECK(!rep.mismatch && !rep.passed);
    CHECK_CONTAINS(rep.message, "impl");
    c.fail = 0;
  }
  zmlx_elementwise_destroy(one);
  zmlx_elementwise_destroy(five);
  zmlx_elementwise_destroy(right);
  zmlx_elementwise_destroy(c.ref);
}

/* NaN in both at the same places (sqrt of the negative inputs) matches;
 * NaN against a number fails (test_check_matches_catches). */
static void test_check_matches_nan(void) {
  static const char *x[] = {"x"};
  static const zmlx_dtype f32[] = {ZMLX_DTYPE_F32};
  match_ctx c = {.impl = ew("sqrt", 1, x, "out = sqrtf(x);", NULL, ZMLX_DTYPE_F32, NULL),
                 .ref = ew("sqrt_ref", 1, x, "out = sqrt(x);", NULL, ZMLX_DTYPE_F64, NULL)};
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    zmlx_check_spec spec = {.impl = match_impl, .ref = match_ref, .ctx = &c, .n_inputs = 1,
                            .n_dtypes = 1, .dtypes = f32, .device = devs[di]};
    zmlx_check_report rep;
    CHECK_OK(zmlx_check_matches(&spec, &rep));
    CHECK_MSG(rep.passed && rep.n_run == 5, "%s", rep.message);
  }
  zmlx_elementwise_destroy(c.impl);
  zmlx_elementwise_destroy(c.ref);
}

static void test_check_spec_errors(void) {
  static const zmlx_dtype i32[] = {ZMLX_DTYPE_I32};
  match_ctx c = {0};
  zmlx_check_spec spec = {.impl = match_impl, .ref = match_ref, .ctx = &c, .n_inputs = 2,
                          .n_dtypes = 1, .dtypes = i32};
  zmlx_check_report rep;
  CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  spec.n_dtypes = 0;
  spec.ref = NULL;
  CHECK_STATUS(zmlx_check_matches(&spec, &rep), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_check_matches(NULL, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK(zmlx_check_default_tol(ZMLX_DTYPE_F32) == 1e-5);
  CHECK(zmlx_check_default_tol(ZMLX_DTYPE_BF16) == 1.6e-2);
  CHECK(zmlx_check_default_tol(ZMLX_DTYPE_F16) == 2e-3);
  CHECK(zmlx_check_default_tol(ZMLX_DTYPE_F64) == 1e-12);
}

/* A sum of terms of size 1 that cancel to 1e-3: an error of 1e-6 is 1e-3
 * of what is left, too much for tol 1e-5, yet 1e-6 of the terms, within
 * it; a size below |ref| changes nothing. */
static void test_compare_sized(void) {
  const double ref[2] = {1e-3, -2e-3}, got[2] = {1e-3 + 1e-6, -2e-3};
  const double size[2] = {1, 1}, small[2] = {1e-9, 1e-9};
  ztst_cmp plain, sized, tiny;
  ztst_compare(got, ref, 2, 1e-5, 0, &plain);
  ztst_compare_sized(got, ref, size, 2, 1e-5, 0, &sized);
  ztst_compare_sized(got, ref, small, 2, 1e-5, 0, &tiny);
  CHECK_MSG(plain.score > 1, "score %g", plain.score);
  CHECK_MSG(sized.score <= 1, "score %g", sized.score);
  CHECK_MSG(tiny.score == plain.score, "score %g vs %g", tiny.score, plain.score);
  CHECK(sized.worst == 0 && sized.got == got[0] && sized.ref == ref[0]);
  /* An error as large as the terms fails whatever their size. */
  const double bad[2] = {1.5, -2e-3};
  ztst_compare_sized(bad, ref, size, 2, 1e-5, 0, &sized);
  CHECK_MSG(sized.score > 1, "score %g", sized.score);
}

static void test_seed(void) {
  const char *env = getenv("ZMLX_TEST_SEED");
  seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
  printf("seed 0x%llx (set ZMLX_TEST_SEED to replay)\n", (unsigned long long)seed);
  CHECK(seed != 0 || env);
}

ZT_MAIN(ZT(test_seed), ZT(test_gradcheck_elementwise_f32), ZT(test_gradcheck_f64), ZT(test_gradcheck_generic),
        ZT(test_gradcheck_unsupported), ZT(test_check_matches_passes), ZT(test_check_matches_nan),
        ZT(test_check_matches_catches), ZT(test_check_spec_errors), ZT(test_compare_sized))
