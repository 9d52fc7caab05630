/* Reductions: every ready-made op on every device and float dtype against
 * f64 references, over rows (1, 7, 4097 elements), middle axes, several
 * axes, all axes (the two-pass split), transposed and sliced views,
 * keepdims, empty arrays, argmax ties and NaN, user-written reductions,
 * errors, and NVRTC compiles of every CUDA kernel. */
#include "author/red_internal.h"
#include "backend/cuda/cuda_api.h"
#include "zt_array.h"

static uint64_t seed = 0x5eed;
static const zmlx_dtype ftypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F64};

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN, N_ROPS } rop;
static const char *rop_names[] = {"sum", "mean", "max", "min", "argmax", "argmin"};

static zmlx_status call(rop o, zmlx_array *x, int na, const int *ax, int keep, zmlx_array **out) {
  switch (o) {
    case R_SUM: return zmlx_reduce_sum(x, na, ax, keep, out);
    case R_MEAN: return zmlx_reduce_mean(x, na, ax, keep, out);
    case R_MAX: return zmlx_reduce_max(x, na, ax, keep, out);
    case R_MIN: return zmlx_reduce_min(x, na, ax, keep, out);
    case R_ARGMAX: return zmlx_reduce_argmax(x, na, ax, keep, out);
    default: return zmlx_reduce_argmin(x, na, ax, keep, out);
  }
}

/* Which axes of an nd array are reduced (n_axes == 0: all). */
static void mask_of(int nd, int na, const int *ax, unsigned char *red) {
  memset(red, na == 0, ZMLX_MAX_DIMS);
  for (int i = 0; i < na; i++) red[ax[i] < 0 ? ax[i] + nd : ax[i]] = 1;
}

/* f64 reference over h (x's elements in C order). ref[o] for each output
 * o; sabs[o] = sum of |x| (the scale of rounding in a sum). */
static void reference(rop o, const double *h, int nd, const int64_t *shape,
                      const unsigned char *red, double *ref, double *sabs, int64_t M) {
  int64_t n = 1, R = 1;
  for (int d = 0; d < nd; d++) {
    n *= shape[d];
    if (red[d]) R *= shape[d];
  }
  double *best = malloc(((size_t)M + 1) * sizeof *best);
  for (int64_t i = 0; i < M; i++) {
    ref[i] = o == R_ARGMAX || o == R_ARGMIN ? -1 : o == R_MAX ? -INFINITY : o == R_MIN ? INFINITY : 0;
    best[i] = NAN;
    sabs[i] = 0;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, out = 0, r = 0, om = 1, rm = 1;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      if (red[d]) { r += c * rm; rm *= shape[d]; }
      else { out += c * om; om *= shape[d]; }
    }
    double v = h[i];
    sabs[out] += fabs(v);
    switch (o) {
      case R_SUM: case R_MEAN: ref[out] += v; break;
      case R_MAX: if (v > ref[out] || isnan(v)) { if (!isnan(ref[out])) ref[out] = v; } break;
      case R_MIN: if (v < ref[out] || isnan(v)) { if (!isnan(ref[out])) ref[out] = v; } break;
      default: {
        int better = ref[out] < 0 || (isnan(v) && !isnan(best[out])) ||
                     (!isnan(best[out]) && (o == R_ARGMAX ? v > best[out] : v < best[out]));
        if (better) { best[out] = v; ref[out] = (double)r; }
      }
    }
  }
  if (o == R_MEAN)
    for (int64_t i = 0; i < M; i++) ref[i] /= (double)R;
  free(best);
}

/* Run op o on x and compare with the reference. */
static void check_op(rop o, zmlx_array *x, int na, const int *ax, int keep, const char *what) {
  int nd = zmlx_array_ndim(x);
  int64_t shape[ZMLX_MAX_DIMS], want[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(x, d);
  unsigned char red[ZMLX_MAX_DIMS];
  mask_of(nd, na, ax, red);
  int wn = 0;
  int64_t M = 1;
  for (int d = 0; d < nd; d++) {
    if (!red[d]) M *= shape[d];
    if (!red[d] || keep) want[wn++] = red[d] ? 1 : shape[d];
  }
  zmlx_dtype t = zmlx_array_dtype(x);
  char b[300];
  zmlx_array *out = NULL;
  zmlx_status s = call(o, x, na, ax, keep, &out);
  CHECK_MSG(s == ZMLX_STATUS_OK, "%s %s on %s: %s", rop_names[o], what,
            zmlx_array_format(x, b, sizeof b), zmlx_error_last());
  if (s) return;
  int shape_ok = zmlx_array_ndim(out) == wn;
  for (int d = 0; shape_ok && d < wn; d++) shape_ok = zmlx_array_dim(out, d) == want[d];
  CHECK_MSG(shape_ok, "%s %s: output %s", rop_names[o], what, zmlx_array_format(out, b, sizeof b));
  int is_arg = o == R_ARGMAX || o == R_ARGMIN;
  CHECK_EQ_INT(zmlx_array_dtype(out), is_arg ? ZMLX_DTYPE_I64 : t);
  double *h = zt_read_f64(x), *got = zt_read_f64(out);
  double *ref = malloc(((size_t)M + 1) * sizeof *ref), *sabs = malloc(((size_t)M + 1) * sizeof *sabs);
  reference(o, h, nd, shape, red, ref, sabs, M);
  /* Sums round at most ~1e-6 |x| per element in f32 compute; results
   * round once more to the output dtype. */
  double acc_eps = t == ZMLX_DTYPE_F64 ? 1e-13 : 2e-6, out_tol = zt_tol(t) * 1.01;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; got && i < M; i++) {
    int ok;
    if (o == R_SUM || o == R_MEAN) {
      double scale = o == R_MEAN ? sabs[i] / (double)(M ? (double)zmlx_array_numel(x) / (double)M : 1) : sabs[i];
      ok = (isnan(ref[i]) && isnan(got[i])) ||
           fabs(got[i] - ref[i]) <= out_tol * fabs(ref[i]) + acc_eps * scale + 1e-300;
    } else {
      ok = got[i] == ref[i] || (isnan(got[i]) && isnan(ref[i]));
    }
    if (!ok && first < 0) first = i;
    bad += !ok;
  }
  CHECK_MSG(got && bad == 0, "%s %s on %s: %lld of %lld wrong, first [%lld] got %.9g want %.9g",
            rop_names[o], what, zmlx_array_format(x, b, sizeof b), (long long)bad, (long long)M,
            (long long)first, first >= 0 ? got[first] : 0, first >= 0 ? ref[first] : 0);
  free(h); free(got); free(ref); free(sabs);
  zmlx_array_release(out);
}

static void check_all_ops(zmlx_array *x, int na, const int *ax, int keep, const char *what) {
  for (int o = 0; o < N_ROPS; o++) check_op((rop)o, x, na, ax, keep, what);
}

static void test_rows(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const int64_t lens[] = {1, 7, 64, 4097, 4096};
  static const int64_t rows[] = {1, 3, 33};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++)
      for (int li = 0; li < 5; li++)
        for (int ri = 0; ri < 3; ri++) {
          int64_t sh[2] = {rows[ri], lens[li]};
          zmlx_array *x = zt_random_array(ftypes[ti], 2, sh, 3.0, &seed, devs[di], NULL);
          int ax = -1;
          check_all_ops(x, 1, &ax, ri == 1, "rows");
          zmlx_array_release(x);
        }
}

/* Axis 1 of (A, B, C): the column path, each thread walking B. */
static void test_middle_axis(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const int64_t shapes[][3] = {{4, 37, 24}, {2, 7, 256}, {3, 4097, 5}, {1, 1, 9}, {5, 64, 2}};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++)
      for (int si = 0; si < 5; si++) {
        zmlx_array *x = zt_random_array(ftypes[ti], 3, shapes[si], 2.0, &seed, devs[di], NULL);
        int ax = 1;
        check_all_ops(x, 1, &ax, si % 2, "middle axis");
        int ax0 = 0;
        check_all_ops(x, 1, &ax0, 0, "axis 0");
        zmlx_array_release(x);
      }
}

/* Several axes: contiguous runs (rows), leading axes (columns), and
 * interleaved ones (copied to rows first); negative axes. */
static void test_axis_sets(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  int64_t sh[4] = {3, 5, 6, 7};
  static const int sets[][3] = {{1, 2, 3}, {0, 1, 0}, {0, 2, 0}, {1, 3, 0}, {-1, -3, 0}, {0, 3, 0}};
  static const int counts[] = {3, 2, 2, 2, 2, 2};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      zmlx_array *x = zt_random_array(ftypes[ti], 4, sh, 1.0, &seed, devs[di], NULL);
      for (int si = 0; si < 6; si++) check_all_ops(x, counts[si], sets[si], si % 2, "axis set");
      check_all_ops(x, 0, NULL, 0, "all axes");
      check_all_ops(x, 0, NULL, 1, "all axes keepdims");
      zmlx_array_release(x);
    }
}

/* Long reductions split into segments and combined by a second pass. */
static void test_split(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      int64_t full[1] = {300001};
      zmlx_array *x = zt_random_array(ftypes[ti], 1, full, 1.0, &seed, devs[di], NULL);
      check_all_ops(x, 0, NULL, 0, "all of 300001");
      zmlx_array_release(x);
      int64_t rows[2] = {3, 70001};
      x = zt_random_array(ftypes[ti], 2, rows, 1.0, &seed, devs[di], NULL);
      int ax = 1;
      check_all_ops(x, 1, &ax, 0, "3 long rows");
      zmlx_array_release(x);
      int64_t mid[3] = {2, 30011, 16};
      x = zt_random_array(ftypes[ti], 3, mid, 1.0, &seed, devs[di], NULL);
      check_all_ops(x, 1, &ax, 1, "long middle axis");
      zmlx_array_release(x);
    }
}

/* Transposed, sliced and broadcast views, reduced without a copy where the
 * layout allows (the transpose of rows is columns). */
static void test_views(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      int64_t sh[2] = {45, 130};
      zmlx_array *x = zt_random_array(ftypes[ti], 2, sh, 1.0, &seed, devs[di], NULL), *t = NULL,
                 *s = NULL, *s3 = NULL, *t3 = NULL;
      CHECK_OK(zmlx_array_transpose(x, 0, 1, &t));
      int a0 = 0, a1 = 1;
      check_all_ops(t, 1, &a0, 0, "transposed axis 0");
      check_all_ops(t, 1, &a1, 1, "transposed axis 1");
      check_all_ops(t, 0, NULL, 0, "transposed all");
      CHECK_OK(zmlx_array_slice(x, 1, 3, 120, 2, &s));
      check_all_ops(s, 1, &a1, 0, "sliced step 2");
      check_all_ops(s, 1, &a0, 0, "sliced axis 0");
      int64_t sh3[3] = {6, 10, 12};
      zmlx_array *y = zt_random_array(ftypes[ti], 3, sh3, 1.0, &seed, devs[di], NULL);
      CHECK_OK(zmlx_array_slice(y, 2, 11, -100, -3, &s3));  /* negative step */
      int a2 = 2;
      check_all_ops(s3, 1, &a2, 0, "negative step");
      check_all_ops(s3, 1, &a1, 0, "negative step middle");
      int perm[3] = {2, 0, 1};
      CHECK_OK(zmlx_array_permute(y, perm, &t3));
      int axes[2] = {0, 2};
      check_all_ops(t3, 2, axes, 0, "permuted");
      /* Broadcast views (stride 0) along kept and reduced axes. */
      zmlx_array *row = NULL, *bc = NULL;
      int64_t bsh[2] = {5, 37};
      CHECK_OK(zmlx_array_slice(x, 0, 0, 1, 1, &row));
      zmlx_array *row37 = NULL;
      CHECK_OK(zmlx_array_slice(row, 1, 0, 37, 1, &row37));
      CHECK_OK(zmlx_array_broadcast_to(row37, 2, bsh, &bc));
      check_all_ops(bc, 1, &a0, 0, "broadcast axis 0");
      check_all_ops(bc, 1, &a1, 0, "broadcast axis 1");
      check_all_ops(bc, 0, NULL, 0, "broadcast all");
      zmlx_array_release(row); zmlx_array_release(row37); zmlx_array_release(bc);
      zmlx_array_release(x); zmlx_array_release(t); zmlx_array_release(s);
      zmlx_array_release(y); zmlx_array_release(s3); zmlx_array_release(t3);
    }
}

static void test_scalar_input(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 0, NULL, 1.0, &seed, devs[di], NULL);
    check_all_ops(x, 0, NULL, 0, "0-d");
    zmlx_array_release(x);
  }
}

static void test_empty(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      int64_t sh[2] = {3, 0};
      zmlx_array *x = NULL, *out = NULL;
      CHECK_OK(zmlx_array_empty(ftypes[ti], 2, sh, devs[di], &x));
      int ax = 1;
      /* Zero elements per output: the identity, or NaN for the mean. */
      check_op(R_SUM, x, 1, &ax, 0, "empty axis");
      check_op(R_MAX, x, 1, &ax, 1, "empty axis");
      check_op(R_MIN, x, 1, &ax, 0, "empty axis");
      check_op(R_MEAN, x, 1, &ax, 0, "empty axis");
      CHECK_STATUS(zmlx_reduce_argmax(x, 1, &ax, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
      CHECK_CONTAINS(zmlx_error_last(), "zero elements");
      CHECK_CONTAINS(zmlx_error_last(), "(3, 0)");
      CHECK(out == NULL);
      CHECK_STATUS(zmlx_reduce_argmin(x, 0, NULL, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
      /* Zero outputs: an empty result, even for argmax. */
      int a0 = 0;
      check_all_ops(x, 1, &a0, 0, "empty outputs");
      check_op(R_SUM, x, 0, NULL, 0, "empty all");
      zmlx_array_release(x);
    }
}

static zmlx_array *from_values(const float *v, int nd, const int64_t *sh, zmlx_dtype t,
                               zmlx_device dev) {
  zmlx_array *f = NULL, *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F32, nd, sh, dev, &f));
  CHECK_OK(zmlx_array_astype(f, t, &a));
  zmlx_array_release(f);
  return a;
}

/* Ties go to the lowest index, on every path; NaN wins and the first NaN
 * is reported; -0.0 ties with 0.0. */
static void test_argmax_ties(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 4; ti++) {
      /* Few distinct values: many ties, in long rows split in segments. */
      int64_t sh[2] = {5, 9000};
      float *v = malloc(sizeof(float) * 5 * 9000);
      for (int i = 0; i < 5 * 9000; i++) v[i] = (float)((zt_next(&seed) >> 40) % 5) - 2.0f;
      v[3 * 9000 + 8990] = 7.0f;  /* a late maximum */
      v[3 * 9000 + 8995] = 7.0f;
      v[4 * 9000 + 100] = NAN;    /* NaN wins */
      v[4 * 9000 + 200] = NAN;
      v[2 * 9000 + 5] = -0.0f;
      zmlx_array *x = from_values(v, 2, sh, ftypes[ti], devs[di]), *t = NULL;
      int a1 = 1, a0 = 0;
      check_all_ops(x, 1, &a1, 0, "ties");
      check_all_ops(x, 1, &a0, 0, "ties axis 0");
      check_all_ops(x, 0, NULL, 0, "ties all");
      CHECK_OK(zmlx_array_transpose(x, 0, 1, &t));
      check_all_ops(t, 1, &a0, 0, "ties transposed");
      zmlx_array *am = NULL;
      CHECK_OK(zmlx_reduce_argmax(x, 1, &a1, 0, &am));
      double *g = zt_read_f64(am);
      CHECK(g && g[3] == 8990 && g[4] == 100);
      free(g);
      zmlx_array_release(am);
      /* A row of equal values: index 0. */
      int64_t one[1] = {4097};
      for (int i = 0; i < 4097; i++) v[i] = 1.5f;
      zmlx_array *c = from_values(v, 1, one, ftypes[ti], devs[di]);
      CHECK_OK(zmlx_reduce_argmin(c, 0, NULL, 0, &am));
      g = zt_read_f64(am);
      CHECK(g && g[0] == 0);
      free(g);
      zmlx_array_release(am);
      zmlx_array_release(c);
      free(v);
      zmlx_array_release(x);
      zmlx_array_release(t);
    }
}

/* User reductions: a struct accumulator (sum of squares in f64 compute with
 * an L2 finalize), an f32 output dtype for bf16 input, an integer count. */
static void test_user_reductions(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  static const zmlx_dtype f32 = ZMLX_DTYPE_F32, i32 = ZMLX_DTYPE_I32;
  zmlx_reduce_desc l2d = {.name = "l2norm", .header = "typedef struct ss { compute_t s; long long c; } ss;\n",
                          .acc_type = "ss", .init = "acc.s = 0; acc.c = 0;",
                          .update = "acc.s += x * x; acc.c += 1;",
                          .combine = "acc.s += other.s; acc.c += other.c;",
                          .finalize = "out = zr_sqrt(acc.s) + (acc.c == n ? 0 : 1000);",
                          .out_dtype = &f32, .compute = ZMLX_DTYPE_F64};
  zmlx_reduce_desc cntd = {.name = "count_pos", .init = "acc = 0;", .update = "acc += x > 0;",
                           .combine = "acc += other;", .out_dtype = &i32};
  zmlx_reduce *l2 = NULL, *cnt = NULL;
  CHECK_OK(zmlx_reduce_create(&l2d, &l2));
  CHECK_OK(zmlx_reduce_create(&cntd, &cnt));
  for (int di = 0; di < nd; di++) {
    int64_t sh[3] = {4, 333, 6};
    double *h = NULL;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_BF16, 3, sh, 2.0, &seed, devs[di], &h), *o = NULL,
               *c = NULL;
    int axes[2] = {0, 1};
    CHECK_OK(zmlx_reduce_launch(l2, x, 2, axes, 0, &o));
    CHECK_OK(zmlx_reduce_launch(cnt, x, 2, axes, 0, &c));
    CHECK(o && zmlx_array_dtype(o) == ZMLX_DTYPE_F32 && zmlx_array_ndim(o) == 1);
    CHECK(c && zmlx_array_dtype(c) == ZMLX_DTYPE_I32);
    double *g = zt_read_f64(o), *gc = zt_read_f64(c), ref[6] = {0}, refc[6] = {0};
    for (int i = 0; i < 4 * 333; i++)
      for (int j = 0; j < 6; j++) {
        ref[j] += h[i * 6 + j] * h[i * 6 + j];
        refc[j] += h[i * 6 + j] > 0;
      }
    for (int j = 0; j < 6; j++) ref[j] = sqrt(ref[j]);
    CHECK(g && zt_rel_err(g, ref, 6) < 1e-6);
    CHECK(gc && zt_rel_err(gc, refc, 6) == 0);
    /* Into a strided destination. */
    int64_t dsh[2] = {6, 2};
    zmlx_array *buf = NULL, *col = NULL;
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, dsh, devs[di], &buf));
    CHECK_OK(zmlx_array_slice(buf, 1, 1, 2, 1, &col));
    zmlx_array *col1 = NULL;
    CHECK_OK(zmlx_array_squeeze(col, 1, &col1));
    CHECK_OK(zmlx_reduce_launch_into(l2, x, 2, axes, 0, col1));
    double *gb = zt_read_f64(buf);
    int bad = !gb;
    for (int j = 0; gb && j < 6; j++) bad += gb[j * 2] != 0 || fabs(gb[j * 2 + 1] - ref[j]) > 1e-5 * ref[j];
    CHECK_EQ_INT(bad, 0);
    zmlx_kernel_stats st;
    CHECK_OK(zmlx_reduce_stats_get(l2, &st));
    CHECK(st.n_launches >= 2);
    free(g); free(gc); free(gb); free(h);
    zmlx_array_release(x); zmlx_array_release(o); zmlx_array_release(c);
    zmlx_array_release(buf); zmlx_array_release(col); zmlx_array_release(col1);
  }
  zmlx_reduce_destroy(l2);
  zmlx_reduce_destroy(cnt);
}

static void test_errors(void) {
  int64_t sh[2] = {4, 5};
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, sh, 1, &seed, ZMLX_CPU, NULL), *out = NULL;
  int bad = 2, rep[2] = {1, -1}, neg = -3;
  CHECK_STATUS(zmlx_reduce_sum(x, 1, &bad, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "axis 2 is out of range for (4, 5) f32 cpu");
  CHECK_CONTAINS(zmlx_error_last(), "sum");
  CHECK_STATUS(zmlx_reduce_max(x, 1, &neg, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "axis -3");
  CHECK_STATUS(zmlx_reduce_sum(x, 2, rep, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "repeated");
  CHECK_STATUS(zmlx_reduce_sum(x, 1, NULL, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "axes is NULL");
  CHECK_STATUS(zmlx_reduce_sum(NULL, 0, NULL, 0, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "NULL");
  CHECK_STATUS(zmlx_reduce_sum(x, 0, NULL, 0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_array *xi = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I32, 2, sh, ZMLX_CPU, &xi));
  CHECK_STATUS(zmlx_reduce_mean(xi, 0, NULL, 0, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "(4, 5) i32 cpu");
  CHECK(out == NULL);
  /* launch_into: wrong shape, and keepdims changes the shape wanted. */
  zmlx_reduce_desc d = {.name = "s", .init = "acc = 0;", .update = "acc += x;", .combine = "acc += other;"};
  zmlx_reduce *k = NULL;
  CHECK_OK(zmlx_reduce_create(&d, &k));
  int64_t osh[2] = {4, 1};
  zmlx_array *o = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, osh, ZMLX_CPU, &o));
  int ax = 1;
  CHECK_STATUS(zmlx_reduce_launch_into(k, x, 1, &ax, 0, o), ZMLX_STATUS_SHAPE_MISMATCH);
  CHECK_CONTAINS(zmlx_error_last(), "needs shape (4,)");
  CHECK_OK(zmlx_reduce_launch_into(k, x, 1, &ax, 1, o));
  CHECK_STATUS(zmlx_reduce_launch_into(k, x, 1, &ax, 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_reduce_destroy(k);
  /* Descriptions. */
  d.combine = NULL;
  CHECK_STATUS(zmlx_reduce_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "no combine");
  d.combine = "acc += other;";
  d.name = "not an identifier";
  CHECK_STATUS(zmlx_reduce_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  d.name = "s";
  d.compute = ZMLX_DTYPE_I32;
  CHECK_STATUS(zmlx_reduce_create(&d, &k), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  d.compute = ZMLX_DTYPE_F32;
  /* A broken statement fails at the first launch, naming it. */
  d.update = "acc += x * * 2;";
  CHECK_OK(zmlx_reduce_create(&d, &k));
  CHECK_STATUS(zmlx_reduce_launch(k, x, 0, NULL, 0, &out), ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(zmlx_error_last(), "s.update");
  CHECK_CONTAINS(zmlx_error_last(), "acc += x * * 2;");
  zmlx_reduce_destroy(k);
  zmlx_array_release(x); zmlx_array_release(xi); zmlx_array_release(o);
}

/* ---- NVRTC compile checks (no GPU needed) ---------------------------- */

static const char *arch(void) {
  const char *a = getenv("ZMLX_CUDA_ARCH");
  return a ? a : "sm_90";
}

static void compile_sources(zr_sources *s, const char *what) {
  for (int i = 0; i < s->n; i++) {
    char *log = NULL;
    void *cubin = NULL;
    size_t len = 0;
    zmlx_status st = zb_nvrtc_compile(s->src[i], s->entry[i], arch(), &cubin, &len, &log);
    CHECK_MSG(st == ZMLX_STATUS_OK, "%s (%s): %s\n%s", what, s->entry[i], zmlx_error_last(),
              log ? log : "");
    free(log);
    free(cubin);
  }
}

typedef zmlx_status (*op_fn)(zmlx_array *, int, const int *, int, zmlx_array **);

static void test_nvrtc(void) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("  (NVRTC not found: %s)\n", why);
    CHECK(1);
    return;
  }
  /* Shapes that take each path: rows, columns (+ split), copy to rows,
   * rows split in segments, and a tiny one. */
  static const int64_t shapes[][3] = {{16, 4096, 1}, {32, 2048, 64}, {2, 100000, 8}, {1, 1, 300001}, {3, 7, 1}};
  static const int axes[][2] = {{1, 0}, {1, 0}, {1, 0}, {2, 0}, {1, 0}};
  for (int o = 0; o < N_ROPS; o++) {
    zmlx_reduce *k = NULL;
    CHECK_OK(zr_reduce_op(rop_names[o], &k));
    /* Every dtype on the row and split-column paths; f32 on the rest. */
    for (int ti = 0; ti < 4 && k; ti++)
      for (int si = 0; si < (ti ? 2 : 5); si++) {
        zmlx_array *x = NULL;
        CHECK_OK(zmlx_array_empty(ftypes[ti], 3, shapes[si], ZMLX_CPU, &x));
        zr_sources src;
        CHECK_OK(zr_reduce_cuda_sources(k, x, 1, axes[si], 0, &src));
        char what[96];
        snprintf(what, sizeof what, "%s %s shape %d", rop_names[o], zmlx_dtype_name(ftypes[ti]), si);
        compile_sources(&src, what);
        if (si == 3) CHECK_MSG(src.n == 2, "%s: expected a split (2 kernels), got %d", what, src.n);
        if (si == 1)
          CHECK_MSG(src.n == 2 && strstr(src.entry[0], "_col") && strstr(src.entry[1], "_fin"),
                    "%s: expected a split column reduction", what);
        zr_sources_free(&src);
        if (si == 0) {
          /* Interleaved axes: copied to rows. */
          int ax2[2] = {0, 2};
          CHECK_OK(zr_reduce_cuda_sources(k, x, 2, ax2, 0, &src));
          compile_sources(&src, what);
          zr_sources_free(&src);
        }
        zmlx_array_release(x);
      }
  }
}

ZT_MAIN(ZT(test_rows), ZT(test_middle_axis), ZT(test_axis_sets), ZT(test_split), ZT(test_views),
        ZT(test_scalar_input), ZT(test_empty), ZT(test_argmax_ties), ZT(test_user_reductions),
        ZT(test_errors), ZT(test_nvrtc))
