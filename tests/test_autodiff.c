/* The reverse-mode tape: elementwise chains with gradient accumulation,
 * broadcast inputs, custom nodes (a reduction written as a raw kernel),
 * unwatched inputs, second derivatives (through a custom node and through
 * per-input backward kernels), and errors. Gradients are checked against
 * f64 host formulas and, for second derivatives, with zmlx_gradcheck. */
#include <time.h>

#include "zt_array.h"

static uint64_t seed = 0xad1ff; /* test_seed makes it fresh */

static double sig(double x) { return 1 / (1 + exp(-x)); }
static double silu(double x) { return x * sig(x); }
static double dsilu(double x) { return sig(x) * (1 + x * (1 - sig(x))); }

/* One output named "out". */
static zmlx_elementwise *ew(const char *name, int n_in, const char *const *ins, const char *expr,
                            const char *const *grads) {
  static const char *outs[] = {"out"};
  zmlx_elementwise_desc d = {.name = name, .n_inputs = n_in, .input_names = ins, .n_outputs = 1,
                             .output_names = outs, .expr = expr, .grad_exprs = grads};
  zmlx_elementwise *k = NULL;
  CHECK_OK(zmlx_elementwise_create(&d, &k));
  return k;
}

static zmlx_elementwise *make_swiglu(void) {
  static const char *ins[] = {"gate", "up"};
  static const char *grads[] = {
      "g * up * zmlx_sigmoidf(gate) * (1.0f + gate * (1.0f - zmlx_sigmoidf(gate)))",
      "g * zmlx_siluf(gate)"};
  return ew("swiglu", 2, ins, "out = zmlx_siluf(gate) * up;", grads);
}

static zmlx_elementwise *make_mul(void) {
  static const char *ins[] = {"x", "w"}, *grads[] = {"g * w", "g * x"};
  return ew("mul", 2, ins, "out = x * w;", grads);
}

static double tol_for(zmlx_dtype t) { return t == ZMLX_DTYPE_F32 ? 2e-5 : 3e-2; }

static double err_of(zmlx_array *a, const double *ref, size_t n) {
  double *got = zt_read_f64(a);
  double e = got ? zt_rel_err(got, ref, n) : INFINITY;
  free(got);
  return e;
}

/* y = swiglu(a, b); z = y * y + a: a reaches z twice, so its gradient is
 * the sum of two contributions. Asking for y too (an intermediate). */
static void chain_case(zmlx_device dev, zmlx_dtype t, zmlx_elementwise *swiglu,
                       zmlx_elementwise *sq_add) {
  enum { R = 5, C = 33, N = R * C };
  int64_t sh[2] = {R, C};
  double *ha, *hb, *hg;
  zmlx_array *a = zt_random_array(t, 2, sh, 3, &seed, dev, &ha);
  zmlx_array *b = zt_random_array(t, 2, sh, 2, &seed, dev, &hb);
  zmlx_array *g = zt_random_array(t, 2, sh, 1, &seed, dev, &hg);
  zmlx_tape *tape = NULL;
  CHECK_OK(zmlx_tape_create(&tape));
  CHECK_OK(zmlx_tape_watch(tape, a));
  CHECK_OK(zmlx_tape_watch(tape, b));
  zmlx_array *y = NULL, *z = NULL, *ab[2] = {a, b};
  CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, ab, 0, NULL, &y));
  zmlx_array *ya[2] = {y, a};
  CHECK_OK(zmlx_tape_elementwise(tape, sq_add, 2, ya, 0, NULL, &z));
  CHECK_EQ_INT(zmlx_tape_size(tape), 2);
  CHECK(zmlx_tape_contains(tape, z));
  double ra[N], rb[N], ry[N];
  for (int i = 0; i < N; i++) {
    double yy = silu(ha[i]) * hb[i];
    ra[i] = hg[i] * (2 * yy * dsilu(ha[i]) * hb[i] + 1);
    rb[i] = hg[i] * 2 * yy * silu(ha[i]);
    ry[i] = hg[i] * 2 * yy;
  }
  /* Twice: the tape is kept, and the second run gives the same answer. */
  for (int rep = 0; rep < 2; rep++) {
    zmlx_array *xs[3] = {a, b, y}, *grads[3] = {NULL, NULL, NULL};
    CHECK_OK(zmlx_tape_backward(tape, z, g, 3, xs, grads, 0));
    CHECK(grads[0] && zmlx_array_dtype(grads[0]) == t);
    double ea = err_of(grads[0], ra, N), eb = err_of(grads[1], rb, N), ey = err_of(grads[2], ry, N);
    CHECK_MSG(ea < tol_for(t) && eb < tol_for(t) && ey < tol_for(t),
              "%s on %d: rel errs a %g b %g y %g", zmlx_dtype_name(t), dev.type, ea, eb, ey);
    for (int i = 0; i < 3; i++) zmlx_array_release(grads[i]);
  }
  CHECK_EQ_INT(zmlx_tape_size(tape), 2); /* no CREATE_GRAPH: nothing recorded */
  zmlx_tape_destroy(tape);
  free(ha); free(hb); free(hg);
  zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(g);
  zmlx_array_release(y); zmlx_array_release(z);
}

static void test_chain_accumulates(void) {
  static const char *ins[] = {"y", "a"}, *grads[] = {"2.0f * y * g", "g"};
  zmlx_elementwise *swiglu = make_swiglu(), *sq_add = ew("sq_add", 2, ins, "out = y * y + a;", grads);
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    chain_case(devs[di], ZMLX_DTYPE_F32, swiglu, sq_add);
    chain_case(devs[di], ZMLX_DTYPE_BF16, swiglu, sq_add);
  }
  zmlx_elementwise_destroy(swiglu);
  zmlx_elementwise_destroy(sq_add);
}

/* x * x: one node uses x twice, so its two gradients are summed. */
static void test_same_input_twice(void) {
  zmlx_elementwise *mul = make_mul();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[1] = {300};
    double *hx, *hg, r[300];
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 2, &seed, devs[di], &hx);
    zmlx_array *g = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, devs[di], &hg);
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, x));
    zmlx_array *y = NULL, *xx[2] = {x, x}, *gx = NULL;
    CHECK_OK(zmlx_tape_elementwise(tape, mul, 2, xx, 0, NULL, &y));
    CHECK_OK(zmlx_tape_backward(tape, y, g, 1, &x, &gx, 0));
    for (int i = 0; i < 300; i++) r[i] = 2 * hx[i] * hg[i];
    CHECK(gx && err_of(gx, r, 300) < 1e-6);
    zmlx_tape_destroy(tape);
    free(hx); free(hg);
    zmlx_array_release(x); zmlx_array_release(g); zmlx_array_release(y); zmlx_array_release(gx);
  }
  zmlx_elementwise_destroy(mul);
}

/* z = (x * w) * w with w a row (C,) or a column (R, 1): w's gradient sums
 * over the broadcast dimension, and w is used twice. */
static void broadcast_case(zmlx_device dev, zmlx_elementwise *mul, int column) {
  enum { R = 6, C = 40 };
  int64_t xs_[2] = {R, C}, row[1] = {C}, col[2] = {R, 1};
  double *hx, *hw, *hg;
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, xs_, 2, &seed, dev, &hx);
  zmlx_array *w = column ? zt_random_array(ZMLX_DTYPE_F32, 2, col, 2, &seed, dev, &hw)
                         : zt_random_array(ZMLX_DTYPE_F32, 1, row, 2, &seed, dev, &hw);
  zmlx_array *g = zt_random_array(ZMLX_DTYPE_F32, 2, xs_, 1, &seed, dev, &hg);
  zmlx_tape *tape = NULL;
  CHECK_OK(zmlx_tape_create(&tape));
  CHECK_OK(zmlx_tape_watch(tape, x));
  CHECK_OK(zmlx_tape_watch(tape, w));
  zmlx_array *xw = NULL, *z = NULL, *in1[2] = {x, w};
  CHECK_OK(zmlx_tape_elementwise(tape, mul, 2, in1, 0, NULL, &xw));
  zmlx_array *in2[2] = {xw, w};
  CHECK_OK(zmlx_tape_elementwise(tape, mul, 2, in2, 0, NULL, &z));
  zmlx_array *xs[2] = {x, w}, *grads[2] = {NULL, NULL};
  CHECK_OK(zmlx_tape_backward(tape, z, g, 2, xs, grads, 0));
  double rx[R * C], rw[R * C] = {0};
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) {
      double wv = column ? hw[i] : hw[j], gv = hg[i * C + j], xv = hx[i * C + j];
      rx[i * C + j] = gv * wv * wv;
      rw[column ? i : j] += gv * 2 * xv * wv;
    }
  CHECK(grads[1] && zmlx_array_ndim(grads[1]) == (column ? 2 : 1));
  double ex = err_of(grads[0], rx, R * C), ew_ = err_of(grads[1], rw, column ? R : C);
  CHECK_MSG(ex < 1e-5 && ew_ < 1e-5, "column %d dev %d: rel errs x %g w %g", column, dev.type, ex, ew_);
  zmlx_array_release(grads[0]); zmlx_array_release(grads[1]);
  zmlx_tape_destroy(tape);
  free(hx); free(hw); free(hg);
  zmlx_array_release(x); zmlx_array_release(w); zmlx_array_release(g);
  zmlx_array_release(xw); zmlx_array_release(z);
}

static void test_broadcast(void) {
  zmlx_elementwise *mul = make_mul();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    broadcast_case(devs[di], mul, 0);
    broadcast_case(devs[di], mul, 1);
  }
  zmlx_elementwise_destroy(mul);
}

/* ---- a custom node: the sum of all elements, as a raw kernel ----------- */

static int n_ctx_freed;

typedef struct sum_ctx {
  zmlx_elementwise *expand; /* out = gs, broadcast to x's shape */
} sum_ctx;

static void sum_ctx_free(void *ctx) {
  n_ctx_freed++;
  free(ctx);
}

static zmlx_status sum_backward(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  const sum_ctx *c = ctx;
  zmlx_array *ins[2] = {in[0], og[0]};
  return zmlx_tape_elementwise(t, c->expand, 2, ins, 0, NULL, &ig[0]);
}

static zmlx_status sum_all(zmlx_tape *t, zmlx_kernel *k, zmlx_elementwise *expand, zmlx_array *x,
                           zmlx_array **out) {
  zmlx_dtype dt = zmlx_array_dtype(x);
  int nd = 0;
  int64_t none[1] = {1};
  const int64_t *shapes[1] = {none};
  double n = (double)zmlx_array_numel(x);
  zmlx_launch_config cfg = {.output_dtypes = &dt, .output_ndims = &nd, .output_shapes = shapes,
                            .n_scalars = 1, .scalars = &n};
  zmlx_status s = zmlx_kernel_launch(k, 1, &x, &cfg, out);
  if (s) return s;
  sum_ctx *c = malloc(sizeof *c);
  c->expand = expand;
  s = zmlx_tape_record_custom(t, "sum_all", 1, &x, 1, out, sum_backward, c, sum_ctx_free);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

static zmlx_kernel *make_sum_kernel(void) {
  static const char *ins[] = {"x"}, *outs[] = {"out"}, *scs[] = {"n"};
  static const zmlx_dtype st[] = {ZMLX_DTYPE_I64};
  zmlx_kernel_desc d = {.name = "sum_all", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = 1, .scalar_names = scs,
                        .scalar_dtypes = st,
                        .source = "double acc = 0;\n"
                                  "for (long long i = 0; i < n; i++) acc += zmlx_tod(x[i]);\n"
                                  "zmlx_store(out, 0, acc);\n"};
  zmlx_kernel *k = NULL;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  return k;
}

static void test_custom_node(void) {
  static const char *eins[] = {"x", "gs"}, *egrads[] = {NULL, "g"};
  zmlx_elementwise *swiglu = make_swiglu(), *expand = ew("expand", 2, eins, "out = gs;", egrads);
  zmlx_kernel *sum = make_sum_kernel();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    enum { R = 7, C = 19, N = R * C };
    int64_t sh[2] = {R, C};
    double *ha, *hb;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 3, &seed, devs[di], &ha);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 2, &seed, devs[di], &hb);
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, a));
    CHECK_OK(zmlx_tape_watch(tape, b));
    zmlx_array *y = NULL, *L = NULL, *ab[2] = {a, b};
    CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, ab, 0, NULL, &y));
    n_ctx_freed = 0;
    CHECK_OK(sum_all(tape, sum, expand, y, &L));
    CHECK(L && zmlx_array_ndim(L) == 0);
    zmlx_array *L2 = NULL; /* the sum of a 0-d array: L itself */
    CHECK_OK(sum_all(tape, sum, expand, L, &L2));
    CHECK_EQ_INT(n_ctx_freed, 0); /* both recorded: the tape keeps ctx */
    zmlx_array *grads[2] = {NULL, NULL};
    CHECK_OK(zmlx_tape_backward(tape, L, NULL, 2, ab, grads, 0));
    double ra[N], rb[N];
    for (int i = 0; i < N; i++) {
      ra[i] = dsilu(ha[i]) * hb[i];
      rb[i] = silu(ha[i]);
    }
    double ea = err_of(grads[0], ra, N), eb = err_of(grads[1], rb, N);
    CHECK_MSG(ea < 1e-5 && eb < 1e-5, "dev %d: rel errs %g %g", devs[di].type, ea, eb);
    zmlx_array_release(grads[0]); zmlx_array_release(grads[1]);
    /* sum(sum(y)): the gradient flows through two custom nodes. */
    CHECK_OK(zmlx_tape_backward(tape, L2, NULL, 1, ab, grads, 0));
    CHECK_MSG(err_of(grads[0], ra, N) < 1e-5, "through two custom nodes");
    zmlx_array_release(grads[0]);
    zmlx_tape_destroy(tape);
    CHECK_EQ_INT(n_ctx_freed, 2);
    free(ha); free(hb);
    zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(y);
    zmlx_array_release(L); zmlx_array_release(L2);
  }
  /* With no input on the tape, nothing is recorded and ctx goes at once. */
  zmlx_tape *tape = NULL;
  CHECK_OK(zmlx_tape_create(&tape));
  int64_t sh[1] = {9};
  zmlx_array *c = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, ZMLX_CPU, NULL), *s = NULL;
  n_ctx_freed = 0;
  CHECK_OK(sum_all(tape, sum, expand, c, &s));
  CHECK_EQ_INT(n_ctx_freed, 1);
  CHECK_EQ_INT(zmlx_tape_size(tape), 0);
  zmlx_tape_destroy(tape);
  zmlx_array_release(c);
  zmlx_array_release(s);
  zmlx_kernel_destroy(sum);
  zmlx_elementwise_destroy(swiglu);
  zmlx_elementwise_destroy(expand);
}

/* Inputs that are not watched are constants: no gradient, and operations
 * on constants alone are not recorded. */
static void test_unwatched(void) {
  zmlx_elementwise *swiglu = make_swiglu();
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[1] = {37};
    double *ha, *hb;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 3, &seed, devs[di], &ha);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 2, &seed, devs[di], &hb);
    zmlx_array *other = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, devs[di], NULL);
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, a));
    CHECK_OK(zmlx_tape_watch(tape, other));
    CHECK_OK(zmlx_tape_watch(tape, a)); /* twice: no effect */
    zmlx_array *y = NULL, *c = NULL, *ab[2] = {a, b}, *bb[2] = {b, b};
    CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, ab, 0, NULL, &y));
    CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, bb, 0, NULL, &c));
    CHECK_EQ_INT(zmlx_tape_size(tape), 1);
    CHECK(zmlx_tape_contains(tape, y) && !zmlx_tape_contains(tape, c) && !zmlx_tape_contains(tape, b));
    /* b: not on the tape; other: on it, but y does not depend on it; y:
     * its own gradient is g (ones). */
    zmlx_array *xs[4] = {a, b, other, y}, *grads[4] = {NULL, NULL, NULL, NULL};
    CHECK_OK(zmlx_tape_backward(tape, y, NULL, 4, xs, grads, 0));
    CHECK(grads[0]);
    CHECK(!grads[1]);
    CHECK(!grads[2]);
    CHECK(grads[3]);
    double ra[37], ones[37];
    for (int i = 0; i < 37; i++) {
      ra[i] = dsilu(ha[i]) * hb[i];
      ones[i] = 1;
    }
    CHECK(err_of(grads[0], ra, 37) < 1e-5);
    CHECK(err_of(grads[3], ones, 37) == 0);
    for (int i = 0; i < 4; i++) zmlx_array_release(grads[i]);
    /* A watched leaf is its own output. */
    CHECK_OK(zmlx_tape_backward(tape, a, NULL, 1, &a, grads, 0));
    CHECK(grads[0] && err_of(grads[0], ones, 37) == 0);
    zmlx_array_release(grads[0]);
    zmlx_tape_destroy(tape);
    free(ha); free(hb);
    zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(other);
    zmlx_array_release(y); zmlx_array_release(c);
  }
  zmlx_elementwise_destroy(swiglu);
}

/* ---- second derivatives through a custom node -------------------------
 * f(x) = x^3 from an elementwise kernel. Its backward is a custom rule
 * that computes 3 x^2 g with a second elementwise kernel launched through
 * the tape, and that kernel has grad expressions of its own. */

typedef struct cube_ctx {
  zmlx_elementwise *cube, *dcube;
} cube_ctx;

static zmlx_status cube_rule(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                             zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  const cube_ctx *c = ctx;
  zmlx_array *ins[2] = {in[0], og[0]};
  return zmlx_tape_elementwise(t, c->dcube, 2, ins, 0, NULL, &ig[0]);
}

static zmlx_status cube_on_tape(zmlx_tape *t, cube_ctx *c, zmlx_array *x, zmlx_array **y) {
  zmlx_status s = zmlx_elementwise_launch(c->cube, 1, &x, 0, NULL, y);
  if (!s) s = zmlx_tape_record_custom(t, "cube", 1, &x, 1, y, cube_rule, c, NULL);
  if (s) {
    zmlx_array_release(*y);
    *y = NULL;
  }
  return s;
}

/* f'(x) = 3 x^2 through a tape with CREATE_GRAPH: the function whose
 * gradient the second backward computes. */
static zmlx_status first_derivative(void *ctx, int n, zmlx_array *const *in, zmlx_array **out) {
  zmlx_tape *t = NULL;
  zmlx_array *y = NULL;
  zmlx_status s = zmlx_tape_create(&t);
  if (!s) s = zmlx_tape_watch(t, in[0]);
  if (!s) s = cube_on_tape(t, ctx, in[0], &y);
  if (!s) s = zmlx_tape_backward(t, y, NULL, 1, in, out, ZMLX_TAPE_CREATE_GRAPH);
  zmlx_array_release(y);
  zmlx_tape_destroy(t);
  return s;
}

static zmlx_status second_derivative_vjp(void *ctx, int n, zmlx_array *const *in, zmlx_array *g,
                                         zmlx_array **grads) {
  zmlx_tape *t = NULL;
  zmlx_array *y = NULL, *d1 = NULL;
  zmlx_status s = zmlx_tape_create(&t);
  if (!s) s = zmlx_tape_watch(t, in[0]);
  if (!s) s = cube_on_tape(t, ctx, in[0], &y);
  if (!s) s = zmlx_tape_backward(t, y, NULL, 1, in, &d1, ZMLX_TAPE_CREATE_GRAPH);
  if (!s) s = zmlx_tape_backward(t, d1, g, 1, in, grads, 0);
  zmlx_array_release(y);
  zmlx_array_release(d1);
  zmlx_tape_destroy(t);
  return s;
}

static void test_second_derivative_custom(void) {
  static const char *xin[] = {"x"}, *cube_grad[] = {"3*x*x*g"};
  static const char *dins[] = {"x", "gy"}, *dgrads[] = {"6*x*gy*g", "3*x*x*g"};
  cube_ctx c = {ew("cube", 1, xin, "out = x*x*x;", cube_grad),
                ew("dcube", 2, dins, "out = 3*x*x*gy;", dgrads)};
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[2] = {4, 9};
    double *hx;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 2, &seed, devs[di], &hx);
    /* The cube kernel's own grad expression is right. */
    zmlx_gradcheck_report rep;
    CHECK_OK(zmlx_gradcheck_elementwise(c.cube, 1, &x, 0, NULL, 0, 0, 0, &rep));
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, x));
    zmlx_array *y = NULL, *d1 = NULL, *d2 = NULL;
    CHECK_OK(cube_on_tape(tape, &c, x, &y));
    CHECK_OK(zmlx_tape_backward(tape, y, NULL, 1, &x, &d1, ZMLX_TAPE_CREATE_GRAPH));
    CHECK(d1 && zmlx_tape_contains(tape, d1));
    CHECK_EQ_INT(zmlx_tape_size(tape), 2); /* cube, and dcube from the backward */
    CHECK_OK(zmlx_tape_backward(tape, d1, NULL, 1, &x, &d2, 0));
    double r1[36], r2[36];
    for (int i = 0; i < 36; i++) {
      r1[i] = 3 * hx[i] * hx[i];
      r2[i] = 6 * hx[i];
    }
    CHECK_MSG(d1 && err_of(d1, r1, 36) < 1e-6, "first derivative");
    CHECK_MSG(d2 && err_of(d2, r2, 36) < 1e-6, "second derivative: rel err %g",
              d2 ? err_of(d2, r2, 36) : -1);
    /* And numerically: central differences of f' against the second
     * backward. */
    CHECK_OK(zmlx_gradcheck(first_derivative, &c, 1, &x, second_derivative_vjp, &c, 0, 0, 0, &rep));
    CHECK_MSG(rep.passed, "%s", rep.message);
    zmlx_tape_destroy(tape);
    free(hx);
    zmlx_array_release(x); zmlx_array_release(y); zmlx_array_release(d1); zmlx_array_release(d2);
  }
  zmlx_elementwise_destroy(c.cube);
  zmlx_elementwise_destroy(c.dcube);
}

/* ---- second derivatives through per-input backward kernels ------------
 * y = x * w^2, w broadcast along rows. The backward kernels' grad
 * expressions give the second derivatives; the sum over rows that w's
 * gradient needs is recorded too. */
static void test_second_derivative_backward_kernels(void) {
  static const char *ins[] = {"x", "w"}, *bins[] = {"x", "w", "gy"};
  static const char *gx_grads[] = {NULL, "2.0f * g * gy * w", "g * w * w"};
  static const char *gw_grads[] = {"2.0f * g * gy * w", "2.0f * g * gy * x", "2.0f * g * x * w"};
  zmlx_elementwise *k = ew("xw2", 2, ins, "out = x * w * w;", NULL);
  zmlx_elementwise *bx = ew("xw2_dx", 3, bins, "out = gy * w * w;", gx_grads);
  zmlx_elementwise *bw = ew("xw2_dw", 3, bins, "out = 2.0f * gy * x * w;", gw_grads);
  zmlx_elementwise *bwd[2] = {bx, bw};
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    enum { R = 6, C = 8 };
    int64_t xsh[2] = {R, C}, wsh[1] = {C};
    double *hx, *hw;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, xsh, 2, &seed, devs[di], &hx);
    zmlx_array *w = zt_random_array(ZMLX_DTYPE_F32, 1, wsh, 2, &seed, devs[di], &hw);
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, x));
    CHECK_OK(zmlx_tape_watch(tape, w));
    zmlx_array *y = NULL, *xw[2] = {x, w}, *d1[2] = {NULL, NULL}, *d2[2] = {NULL, NULL};
    CHECK_OK(zmlx_tape_elementwise_with_backward(tape, k, bwd, 2, xw, 0, NULL, &y));
    CHECK_OK(zmlx_tape_backward(tape, y, NULL, 2, xw, d1, ZMLX_TAPE_CREATE_GRAPH));
    double rgx[R * C], rgw[C] = {0}, rxx[R * C], rww[C] = {0}, rw12[C];
    for (int i = 0; i < R; i++)
      for (int j = 0; j < C; j++) {
        rgx[i * C + j] = hw[j] * hw[j];
        rgw[j] += 2 * hx[i * C + j] * hw[j];
        rxx[i * C + j] = 2 * hw[j];     /* d/dx sum(dy/dw) */
        rww[j] += 2 * hx[i * C + j];   /* d/dw sum(dy/dw) */
      }
    for (int j = 0; j < C; j++) rw12[j] = 2 * R * hw[j]; /* d/dw sum(dy/dx) */
    CHECK(d1[0] && err_of(d1[0], rgx, R * C) < 1e-6);
    CHECK(d1[1] && err_of(d1[1], rgw, C) < 1e-6);
    CHECK(zmlx_tape_contains(tape, d1[0]) && zmlx_tape_contains(tape, d1[1]));
    /* d/d(x, w) of sum(dy/dw): through the recorded row sum and xw2_dw. */
    CHECK_OK(zmlx_tape_backward(tape, d1[1], NULL, 2, xw, d2, 0));
    CHECK(d2[0] && err_of(d2[0], rxx, R * C) < 1e-6);
    CHECK(d2[1] && err_of(d2[1], rww, C) < 1e-6);
    zmlx_array_release(d2[0]); zmlx_array_release(d2[1]);
    /* d/d(x, w) of sum(dy/dx) = sum(w^2): nothing for x. */
    CHECK_OK(zmlx_tape_backward(tape, d1[0], NULL, 2, xw, d2, 0));
    CHECK(!d2[0] && d2[1] && err_of(d2[1], rw12, C) < 1e-6);
    zmlx_array_release(d2[1]);
    /* Third derivatives would go through xw2_dw's fused backward. */
    CHECK_STATUS(zmlx_tape_backward(tape, d1[1], NULL, 2, xw, d2, ZMLX_TAPE_CREATE_GRAPH),
                 ZMLX_STATUS_UNSUPPORTED);
    CHECK(!d2[0] && !d2[1]);
    zmlx_tape_destroy(tape);
    free(hx); free(hw);
    zmlx_array_release(x); zmlx_array_release(w); zmlx_array_release(y);
    zmlx_array_release(d1[0]); zmlx_array_release(d1[1]);
  }
  zmlx_elementwise_destroy(k);
  zmlx_elementwise_destroy(bx);
  zmlx_elementwise_destroy(bw);
}

/* y = x * x with backward kernels: under CREATE_GRAPH the two gradients of
 * x are summed by a recorded operation, so the second backward sees both
 * paths: d2y/dx2 = 2. */
static void test_second_derivative_accumulated(void) {
  static const char *ins[] = {"x", "w"}, *bins[] = {"x", "w", "gy"};
  static const char *dx_grads[] = {NULL, "g * gy", "g * w"}, *dw_grads[] = {"g * gy", NULL, "g * x"};
  zmlx_elementwise *k = ew("mul_nograd", 2, ins, "out = x * w;", NULL);
  zmlx_elementwise *bx = ew("mul_dx", 3, bins, "out = gy * w;", dx_grads);
  zmlx_elementwise *bw = ew("mul_dw", 3, bins, "out = gy * x;", dw_grads);
  zmlx_elementwise *bwd[2] = {bx, bw};
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t sh[1] = {50};
    double *hx, r1[50], r2[50];
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 2, &seed, devs[di], &hx);
    zmlx_tape *tape = NULL;
    CHECK_OK(zmlx_tape_create(&tape));
    CHECK_OK(zmlx_tape_watch(tape, x));
    zmlx_array *y = NULL, *xx[2] = {x, x}, *d1 = NULL, *d2 = NULL;
    CHECK_OK(zmlx_tape_elementwise_with_backward(tape, k, bwd, 2, xx, 0, NULL, &y));
    CHECK_OK(zmlx_tape_backward(tape, y, NULL, 1, &x, &d1, ZMLX_TAPE_CREATE_GRAPH));
    CHECK_OK(zmlx_tape_backward(tape, d1, NULL, 1, &x, &d2, 0));
    for (int i = 0; i < 50; i++) {
      r1[i] = 2 * hx[i];
      r2[i] = 2;
    }
    CHECK(d1 && err_of(d1, r1, 50) < 1e-6);
    CHECK(d2 && err_of(d2, r2, 50) == 0);
    zmlx_tape_destroy(tape);
    free(hx);
    zmlx_array_release(x); zmlx_array_release(y); zmlx_array_release(d1); zmlx_array_release(d2);
  }
  zmlx_elementwise_destroy(k);
  zmlx_elementwise_destroy(bx);
  zmlx_elementwise_destroy(bw);
}

static zmlx_status wrong_shape_rule(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                    zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  int64_t sh[1] = {3};
  return zmlx_array_ones(ZMLX_DTYPE_F32, 1, sh, ZMLX_CPU, &ig[0]);
}

static zmlx_status failing_rule(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  return ZMLX_STATUS_UNSUPPORTED;
}

static void test_errors(void) {
  zmlx_elementwise *swiglu = make_swiglu();
  int64_t sh[1] = {10}, other[1] = {11};
  zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, ZMLX_CPU, NULL);
  zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 1, sh, 1, &seed, ZMLX_CPU, NULL);
  zmlx_array *g11 = zt_random_array(ZMLX_DTYPE_F32, 1, other, 1, &seed, ZMLX_CPU, NULL);
  zmlx_tape *tape = NULL;
  CHECK_OK(zmlx_tape_create(&tape));
  CHECK_OK(zmlx_tape_watch(tape, a));
  zmlx_array *y = NULL, *c = NULL, *ab[2] = {a, b}, *bb[2] = {b, b}, *grad = NULL;
  CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, ab, 0, NULL, &y));
  CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, bb, 0, NULL, &c));
  /* An array the tape did not produce. */
  CHECK_STATUS(zmlx_tape_backward(tape, c, NULL, 1, &a, &grad, 0), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "not on this tape");
  CHECK(!grad);
  /* g with the wrong shape. */
  CHECK_STATUS(zmlx_tape_backward(tape, y, g11, 1, &a, &grad, 0), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "(11,) f32 cpu");
  CHECK_STATUS(zmlx_tape_backward(NULL, y, NULL, 1, &a, &grad, 0), ZMLX_STATUS_INVALID_ARGUMENT);
  /* CREATE_GRAPH through a plain elementwise node. */
  CHECK_STATUS(zmlx_tape_backward(tape, y, NULL, 1, &a, &grad, ZMLX_TAPE_CREATE_GRAPH),
               ZMLX_STATUS_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "zmlx_tape_elementwise_with_backward");
  CHECK(!grad);
  /* Custom nodes: an output that is already on the tape (ctx still freed),
   * a rule that returns the wrong shape, a rule that fails. */
  n_ctx_freed = 0;
  CHECK_STATUS(zmlx_tape_record_custom(tape, "dup", 1, &a, 1, &y, failing_rule, malloc(8),
                                       sum_ctx_free), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_EQ_INT(n_ctx_freed, 1);
  zmlx_array *w1 = NULL, *w2 = NULL;
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 1, sh, ZMLX_CPU, &w1));
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 1, sh, ZMLX_CPU, &w2));
  CHECK_OK(zmlx_tape_record_custom(tape, "bad_shape", 1, &a, 1, &w1, wrong_shape_rule, NULL, NULL));
  CHECK_STATUS(zmlx_tape_backward(tape, w1, NULL, 1, &a, &grad, 0), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "bad_shape");
  CHECK_OK(zmlx_tape_record_custom(tape, "refuses", 1, &a, 1, &w2, failing_rule, NULL, NULL));
  CHECK_STATUS(zmlx_tape_backward(tape, w2, NULL, 1, &a, &grad, 0), ZMLX_STATUS_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "custom 'refuses'");
  /* A gradient that reaches output 1 of an elementwise kernel. */
  static const char *ins[] = {"x"}, *outs[] = {"p", "q"}, *grads[] = {"2.0f * x * g"};
  zmlx_elementwise_desc d = {.name = "two", .n_inputs = 1, .input_names = ins, .n_outputs = 2,
                             .output_names = outs, .expr = "p = x * x; q = 2.0f * x;",
                             .grad_exprs = grads};
  zmlx_elementwise *two = NULL;
  CHECK_OK(zmlx_elementwise_create(&d, &two));
  zmlx_array *pq[2] = {NULL, NULL}, *qq = NULL;
  CHECK_OK(zmlx_tape_elementwise(tape, two, 1, &a, 0, NULL, pq));
  zmlx_array *qin[2] = {pq[1], pq[1]};
  CHECK_OK(zmlx_tape_elementwise(tape, swiglu, 2, qin, 0, NULL, &qq));
  CHECK_STATUS(zmlx_tape_backward(tape, qq, NULL, 1, &a, &grad, 0), ZMLX_STATUS_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "output 1");
  /* Output 0 alone is fine. */
  CHECK_OK(zmlx_tape_backward(tape, pq[0], NULL, 1, &a, &grad, 0));
  zmlx_array_release(grad);
  zmlx_tape_destroy(tape);
  zmlx_elementwise_destroy(two);
  zmlx_elementwise_destroy(swiglu);
  zmlx_array_release(a); zmlx_array_release(b); zmlx_array_release(g11);
  zmlx_array_release(y); zmlx_array_release(c); zmlx_array_release(w1); zmlx_array_release(w2);
  zmlx_array_release(pq[0]); zmlx_array_release(pq[1]); zmlx_array_release(qq);
}

static void init_seed(void) {
  const char *env = getenv("ZMLX_TEST_SEED");
  seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
  printf("seed 0x%llx (set ZMLX_TEST_SEED to replay)\n", (unsigned long long)seed);
}

static void test_seed(void) {
  init_seed();
  CHECK(seed != 0 || getenv("ZMLX_TEST_SEED"));
}

ZT_MAIN(ZT(test_seed), ZT(test_chain_accumulates), ZT(test_same_input_twice), ZT(test_broadcast),
        ZT(test_custom_node), ZT(test_unwatched), ZT(test_second_derivative_custom),
        ZT(test_second_derivative_backward_kernels), ZT(test_second_derivative_accumulated),
        ZT(test_errors))
