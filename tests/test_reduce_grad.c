/* Backward rules carried by reduce and map_reduce descriptions: the
 * ready-made ones and a user's, checked against central differences in
 * f64 on the CPU (zmlx_gradcheck), recorded on a tape (first and second
 * order), and on every device against the CPU's f64 gradients. */
#include <time.h>

#include "zt.h"
#include "zt_array.h"
#include "core/error.h"
#include "zmlx/testing.h"

static uint64_t seed;

/* ---- functions for zmlx_gradcheck ----------------------------------------- */

typedef struct red_case {
  zmlx_reduce *k;
  int n_axes;
  const int *axes;
  int keepdims;
} red_case;

static zmlx_status red_fn(void *c, int n, zmlx_array *const *in, zmlx_array **out) {
  red_case *r = c;
  return zmlx_reduce_launch(r->k, in[0], r->n_axes, r->axes, r->keepdims, out);
}

static zmlx_status red_vjp(void *c, int n, zmlx_array *const *in, zmlx_array *g, zmlx_array **gr) {
  red_case *r = c;
  zmlx_array *out = NULL;
  ZMLX_TRY(zmlx_reduce_launch(r->k, in[0], r->n_axes, r->axes, r->keepdims, &out));
  zmlx_status s = zmlx_reduce_backward(r->k, in[0], r->n_axes, r->axes, r->keepdims, out, g, &gr[0]);
  zmlx_array_release(out);
  return s;
}

typedef struct mr_case {
  zmlx_map_reduce *k;
  int axis, n_params;
  double eps;
} mr_case;

static zmlx_status mr_fn(void *c, int n, zmlx_array *const *in, zmlx_array **out) {
  mr_case *m = c;
  int ns = m->eps > 0;
  return zmlx_map_reduce_launch(m->k, in[0], m->axis, m->n_params, in + 1, ns, &m->eps, out);
}

static zmlx_status mr_vjp(void *c, int n, zmlx_array *const *in, zmlx_array *g, zmlx_array **gr) {
  mr_case *m = c;
  int ns = m->eps > 0;
  zmlx_array *out = NULL;
  ZMLX_TRY(zmlx_map_reduce_launch(m->k, in[0], m->axis, m->n_params, in + 1, ns, &m->eps, &out));
  zmlx_status s = zmlx_map_reduce_backward(m->k, in[0], m->axis, m->n_params, in + 1, ns, &m->eps,
                                           out, g, &gr[0], gr + 1);
  zmlx_array_release(out);
  return s;
}

static void check_report(zmlx_status s, const zmlx_gradcheck_report *r, const char *what) {
  CHECK_MSG(s == ZMLX_STATUS_OK && r->passed, "%s: %s (%s)", what, r->message, zmlx_error_last());
}

static void test_builtin_reductions(void) {
  static const char *names[] = {"sum", "mean", "max", "min"};
  static const int ax1[] = {1}, ax02[] = {0, 2}, axneg[] = {-1};
  const int *axes[] = {ax1, ax02, axneg, NULL};
  int nax[] = {1, 2, 1, 0};
  int64_t shape[3] = {3, 5, 7};
  for (int o = 0; o < 4; o++) {
    zmlx_reduce *k = NULL;
    CHECK_OK(zmlx_reduce_builtin(names[o], &k));
    for (int a = 0; k && a < 4; a++)
      for (int keep = 0; keep < 2; keep++) {
        zmlx_array *x = zt_random_array(ZMLX_DTYPE_F64, 3, shape, 2.0, &seed, ZMLX_CPU, NULL);
        red_case c = {k, nax[a], axes[a], keep};
        zmlx_gradcheck_report r;
        char what[96];
        snprintf(what, sizeof what, "%s axes case %d keepdims %d", names[o], a, keep);
        check_report(zmlx_gradcheck(red_fn, &c, 1, &x, red_vjp, &c, 0, 0, 0, &r), &r, what);
        zmlx_array_release(x);
      }
  }
}

static void test_builtin_map_reductions(void) {
  static const char *names[] = {"softmax", "log_softmax", "layernorm", "layernorm_w",
                                "layernorm_b", "layernorm_wb"};
  static const int np[] = {0, 0, 0, 1, 1, 2};
  int64_t shape[2] = {4, 9}, D = 9;
  for (int o = 0; o < 6; o++) {
    zmlx_map_reduce *k = NULL;
    CHECK_OK(zmlx_map_reduce_builtin(names[o], &k));
    for (int axis = -1; k && axis <= (o < 2 ? 0 : -1); axis++) {
      zmlx_array *in[3] = {zt_random_array(ZMLX_DTYPE_F64, 2, shape, 2.0, &seed, ZMLX_CPU, NULL)};
      for (int i = 0; i < np[o]; i++) in[1 + i] = zt_random_array(ZMLX_DTYPE_F64, 1, &D, 1.5, &seed, ZMLX_CPU, NULL);
      mr_case c = {k, axis, np[o], o >= 2 ? 1e-5 : 0};
      zmlx_gradcheck_report r;
      char what[96];
      snprintf(what, sizeof what, "%s axis %d", names[o], axis);
      check_report(zmlx_gradcheck(mr_fn, &c, 1 + np[o], in, mr_vjp, &c, 0, 0, 0, &r), &r, what);
      for (int i = 0; i <= np[o]; i++) zmlx_array_release(in[i]);
    }
  }
}

/* ---- a user's reduction with its own rule: sum of squares ---------------- */

static zmlx_elementwise *twice_k;

static zmlx_status sumsq_rule(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx,
                              zmlx_array **dp) {
  int64_t shape[ZMLX_MAX_DIMS];
  int nd = zmlx_array_ndim(a->x);
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(a->x, d);
  for (int i = 0; i < a->n_axes; i++) shape[a->axes[i]] = 1;
  zmlx_array *gk = NULL;
  ZMLX_TRY(zmlx_tape_reshape(t, a->g, nd, shape, &gk));
  zmlx_array *in[2] = {a->x, gk}, *outs[4] = {NULL};
  zmlx_status s = zmlx_tape_elementwise(t, twice_k, 2, in, 0, NULL, outs);
  zmlx_array_release(gk);
  *dx = outs[0];
  return s;
}

static void test_user_rule(void) {
  static const char *ins[] = {"x", "v"}, *outs[] = {"out"}, *grads[] = {"2 * g * v", "2 * g * x"};
  zmlx_elementwise_desc ed = {.name = "twice_xv", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                              .output_names = outs, .expr = "out = 2 * x * v;", .grad_exprs = grads,
                              .compute = ZMLX_DTYPE_F64};
  CHECK_OK(zmlx_elementwise_create(&ed, &twice_k));
  zmlx_reduce_desc d = {.name = "sumsq", .init = "acc = 0;", .update = "acc += x * x;",
                        .combine = "acc += other;", .compute = ZMLX_DTYPE_F64,
                        .backward = sumsq_rule};
  zmlx_reduce *k = NULL;
  CHECK_OK(zmlx_reduce_create(&d, &k));
  static const int ax[] = {1};
  int64_t shape[2] = {6, 11};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F64, 2, shape, 2.0, &seed, ZMLX_CPU, NULL);
  red_case c = {k, 1, ax, 0};
  zmlx_gradcheck_report r;
  check_report(zmlx_gradcheck(red_fn, &c, 1, &x, red_vjp, &c, 0, 0, 0, &r), &r, "user sumsq");

  /* Second order through the tape: L = sum(sumsq(x)^2 weights), its
   * gradient recorded, then differentiated again. d/dx of sum(grad * v)
   * for grad = 4 * s * x (s = sumsq over the row): checked by differences
   * of the first gradient. */
  zmlx_tape *t = NULL;
  CHECK_OK(zmlx_tape_create(&t));
  CHECK_OK(zmlx_tape_watch(t, x));
  zmlx_array *s1 = NULL, *gx = NULL, *h = NULL, *gx_hi = NULL, *gx_lo = NULL;
  CHECK_OK(zmlx_tape_reduce(t, k, x, 1, ax, 0, &s1));
  CHECK_OK(zmlx_tape_backward(t, s1, NULL, 1, &x, &gx, ZMLX_TAPE_CREATE_GRAPH));
  CHECK_MSG(gx && zmlx_tape_contains(t, gx), "first gradient is on the tape");
  if (gx) CHECK_OK(zmlx_tape_backward(t, gx, NULL, 1, &x, &h, 0));
  /* d/dx sum_j 2 x_j = 2 everywhere */
  double *hv = h ? zt_read_f64(h) : NULL;
  for (int64_t i = 0; hv && i < 66; i++) CHECK_MSG(fabs(hv[i] - 2) < 1e-12, "hessian diag %lld: %g", (long long)i, hv[i]);
  free(hv);
  zmlx_array_release(gx_hi);
  zmlx_array_release(gx_lo);
  zmlx_array_release(h);
  zmlx_array_release(gx);
  zmlx_array_release(s1);
  zmlx_tape_destroy(t);
  zmlx_array_release(x);
  zmlx_reduce_destroy(k);
  zmlx_elementwise_destroy(twice_k);
}

/* Second order through softmax's rule: the Hessian-vector product from the
 * tape against differences of the first gradient. */
typedef struct sm2_ctx {
  zmlx_map_reduce *k;
  zmlx_array *c; /* fixed weights: L = sum(c * softmax(x)) */
} sm2_ctx;

static zmlx_status sm_grad_fn(void *p, int n, zmlx_array *const *in, zmlx_array **out) {
  sm2_ctx *c = p;
  zmlx_array *y = NULL;
  ZMLX_TRY(zmlx_map_reduce_launch(c->k, in[0], -1, 0, NULL, 0, NULL, &y));
  zmlx_status s = zmlx_map_reduce_backward(c->k, in[0], -1, 0, NULL, 0, NULL, y, c->c, out, NULL);
  zmlx_array_release(y);
  return s;
}

static zmlx_status sm_hvp(void *p, int n, zmlx_array *const *in, zmlx_array *v, zmlx_array **gr) {
  sm2_ctx *c = p;
  zmlx_tape *t = NULL;
  ZMLX_TRY(zmlx_tape_create(&t));
  zmlx_array *y = NULL, *gx = NULL;
  zmlx_status s = zmlx_tape_watch(t, in[0]);
  if (!s) s = zmlx_tape_map_reduce(t, c->k, in[0], -1, 0, NULL, 0, NULL, &y);
  if (!s) s = zmlx_tape_backward(t, y, c->c, 1, in, &gx, ZMLX_TAPE_CREATE_GRAPH);
  if (!s) s = zmlx_tape_backward(t, gx, v, 1, in, gr, 0);
  zmlx_array_release(gx);
  zmlx_array_release(y);
  zmlx_tape_destroy(t);
  return s;
}

static void test_second_order_softmax(void) {
  zmlx_map_reduce *k = NULL;
  CHECK_OK(zmlx_map_reduce_builtin("softmax", &k));
  int64_t shape[2] = {3, 8};
  sm2_ctx c = {k, zt_random_array(ZMLX_DTYPE_F64, 2, shape, 1.0, &seed, ZMLX_CPU, NULL)};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F64, 2, shape, 2.0, &seed, ZMLX_CPU, NULL);
  zmlx_gradcheck_report r;
  check_report(zmlx_gradcheck(sm_grad_fn, &c, 1, &x, sm_hvp, &c, 0, 0, 0, &r), &r,
               "softmax second order");
  zmlx_array_release(x);
  zmlx_array_release(c.c);
}

/* Every device, f32/bf16: the rules' gradients against the CPU's f64 ones. */
static void test_devices(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16};
  int64_t shape[2] = {33, 4097}, D = 4097;
  zmlx_map_reduce *k = NULL;
  CHECK_OK(zmlx_map_reduce_builtin("layernorm_wb", &k));
  for (int di = 0; k && di < nd; di++)
    for (int ti = 0; ti < 2; ti++) {
      double *hx, *hw, *hb, *hg;
      zmlx_array *x = zt_random_array(types[ti], 2, shape, 2.0, &seed, devs[di], &hx);
      zmlx_array *w = zt_random_array(types[ti], 1, &D, 1.0, &seed, devs[di], &hw);
      zmlx_array *b = zt_random_array(types[ti], 1, &D, 1.0, &seed, devs[di], &hb);
      zmlx_array *g = zt_random_array(types[ti], 2, shape, 1.0, &seed, devs[di], &hg);
      zmlx_array *X = NULL, *W = NULL, *B = NULL, *G = NULL;
      CHECK_OK(zmlx_array_from_host(hx, ZMLX_DTYPE_F64, 2, shape, ZMLX_CPU, &X));
      CHECK_OK(zmlx_array_from_host(hw, ZMLX_DTYPE_F64, 1, &D, ZMLX_CPU, &W));
      CHECK_OK(zmlx_array_from_host(hb, ZMLX_DTYPE_F64, 1, &D, ZMLX_CPU, &B));
      CHECK_OK(zmlx_array_from_host(hg, ZMLX_DTYPE_F64, 2, shape, ZMLX_CPU, &G));
      double eps = 1e-5;
      zmlx_array *p[2] = {w, b}, *P[2] = {W, B}, *y = NULL, *Y = NULL;
      zmlx_array *dx = NULL, *dp[2] = {NULL}, *DX = NULL, *DP[2] = {NULL};
      CHECK_OK(zmlx_map_reduce_launch(k, x, -1, 2, p, 1, &eps, &y));
      CHECK_OK(zmlx_map_reduce_launch(k, X, -1, 2, P, 1, &eps, &Y));
      CHECK_OK(zmlx_map_reduce_backward(k, x, -1, 2, p, 1, &eps, y, g, &dx, dp));
      CHECK_OK(zmlx_map_reduce_backward(k, X, -1, 2, P, 1, &eps, Y, G, &DX, DP));
      zmlx_array *got[3] = {dx, dp[0], dp[1]}, *want[3] = {DX, DP[0], DP[1]};
      for (int j = 0; j < 3; j++) {
        double *a = got[j] ? zt_read_f64(got[j]) : NULL, *e = want[j] ? zt_read_f64(want[j]) : NULL;
        int64_t n = j ? D : 33 * D;
        double num = 0, den = 0;
        for (int64_t i = 0; a && e && i < n; i++) {
          num += (a[i] - e[i]) * (a[i] - e[i]);
          den += e[i] * e[i];
        }
        double rel = a && e ? sqrt(num / (den > 0 ? den : 1)) : INFINITY;
        double tol = types[ti] == ZMLX_DTYPE_F32 ? 1e-4 : 2e-2;
        CHECK_MSG(rel <= tol, "layernorm_wb gradient %d on %s %s: rel err %g (tol %g)", j,
                  zmlx_dtype_name(types[ti]), devs[di].type == ZMLX_DEVICE_CUDA ? "cuda" : "cpu", rel, tol);
        free(a);
        free(e);
      }
      zmlx_array *all[] = {x, w, b, g, X, W, B, G, y, Y, dx, dp[0], dp[1], DX, DP[0], DP[1]};
      for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
      free(hx); free(hw); free(hb); free(hg);
    }
}

static void test_errors(void) {
  zmlx_reduce_desc d = {.name = "norule", .init = "acc = 0;", .update = "acc += x;",
                        .combine = "acc += other;"};
  zmlx_reduce *k = NULL, *am = NULL;
  CHECK_OK(zmlx_reduce_create(&d, &k));
  CHECK_OK(zmlx_reduce_builtin("argmax", &am));
  int64_t shape[2] = {4, 5}, bad[1] = {3};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, shape, 1.0, &seed, ZMLX_CPU, NULL);
  zmlx_array *y = NULL, *g = NULL, *dx = NULL;
  CHECK_OK(zmlx_reduce_launch(k, x, 0, NULL, 0, &y));
  CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 0, NULL, 1.0, ZMLX_CPU, &g));
  CHECK_STATUS(zmlx_reduce_backward(k, x, 0, NULL, 0, y, g, &dx), ZMLX_STATUS_UNSUPPORTED);
  CHECK_MSG(strstr(zmlx_error_last(), "norule") != NULL, "names the kernel: %s", zmlx_error_last());
  CHECK(dx == NULL);
  CHECK_STATUS(zmlx_reduce_backward(am, x, 0, NULL, 0, y, g, &dx), ZMLX_STATUS_UNSUPPORTED);
  zmlx_array *g3 = NULL, *y1 = NULL;
  zmlx_reduce *sum = NULL;
  CHECK_OK(zmlx_reduce_builtin("sum", &sum));
  static const int ax1[] = {1};
  CHECK_OK(zmlx_reduce_launch(sum, x, 1, ax1, 0, &y1));
  CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 1, bad, 1.0, ZMLX_CPU, &g3));
  CHECK_STATUS(zmlx_reduce_backward(sum, x, 1, ax1, 0, y1, g3, &dx), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_STATUS(zmlx_reduce_builtin("nope", &sum), ZMLX_STATUS_NOT_FOUND);
  zmlx_map_reduce *mr = NULL;
  CHECK_STATUS(zmlx_map_reduce_builtin("nope", &mr), ZMLX_STATUS_NOT_FOUND);
  zmlx_array *all[] = {x, y, g, g3, y1};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) zmlx_array_release(all[i]);
  zmlx_reduce_destroy(k);
}

static void init_seed(void) {
  const char *e = getenv("ZMLX_TEST_SEED");
  seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
  printf("seed 0x%llx (ZMLX_TEST_SEED replays it)\n", (unsigned long long)seed);
}

static void test_seed(void) { init_seed(); }

ZT_MAIN(ZT(test_seed), ZT(test_builtin_reductions), ZT(test_builtin_map_reductions),
        ZT(test_user_rule), ZT(test_second_order_softmax), ZT(test_devices), ZT(test_errors))
