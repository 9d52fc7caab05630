/* Indexing beyond the catalog harness (whose indices are always in
 * range): out-of-range and negative indices gather zeros and scatter
 * nothing; the CPU's scatter-add gives the same bits run after run;
 * index arrays of a float dtype are refused. */
#include "zt_array.h"

static zmlx_array *ints(zmlx_dtype t, int n, const int64_t *v) {
  zmlx_array *a = NULL, *b = NULL;
  int64_t len = n;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_I64, 1, &len, ZMLX_CPU, &a));
  CHECK_OK(zmlx_array_astype(a, t, &b));
  zmlx_array_release(a);
  return b;
}

static void test_out_of_range(void) {
  uint64_t seed = 11;
  int64_t tsh[2] = {4, 6};
  zmlx_array *table = zt_random_array(ZMLX_DTYPE_F32, 2, tsh, 3, &seed, ZMLX_CPU, NULL);
  const int64_t idv[5] = {-1, 4, 2, 1000000, 2};
  zmlx_array *ids = ints(ZMLX_DTYPE_I32, 5, idv), *out = NULL, *dt = NULL, *dout = NULL;
  CHECK_OK(zmlx_embedding(table, ids, &out));
  double *t = zt_read_f64(table), *o = out ? zt_read_f64(out) : NULL;
  if (t && o)
    for (int n = 0; n < 5; n++)
      for (int d = 0; d < 6; d++) {
        double want = idv[n] == 2 ? t[2 * 6 + d] : 0;
        CHECK_MSG(o[n * 6 + d] == want, "row %d col %d: %g, want %g", n, d, o[n * 6 + d], want);
      }
  int64_t osh[2] = {5, 6};
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 2, osh, ZMLX_CPU, &dout));
  CHECK_OK(zmlx_embedding_backward(table, ids, dout, &dt));
  double *g = dt ? zt_read_f64(dt) : NULL;
  if (g)
    for (int v = 0; v < 4; v++)
      for (int d = 0; d < 6; d++) CHECK(g[v * 6 + d] == (v == 2 ? 2 : 0));
  free(t), free(o), free(g);
  zmlx_array *x = NULL, *y = NULL;
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 2, tsh, ZMLX_CPU, &x));
  const int64_t tv[8] = {0, 5, -1, 3, 3, 6, 2, -7};
  zmlx_array *idx = ints(ZMLX_DTYPE_I64, 8, tv), *idx2 = NULL;
  int64_t ish[2] = {4, 2};
  CHECK_OK(zmlx_array_reshape(idx, 2, ish, &idx2));
  CHECK_OK(zmlx_take_along_axis(x, idx2, 1, &y));
  double *yv = y ? zt_read_f64(y) : NULL;
  for (int i = 0; yv && i < 8; i++) CHECK(yv[i] == (tv[i] >= 0 && tv[i] < 6 ? 1 : 0));
  free(yv);
  zmlx_array *xs[] = {table, ids, out, dt, dout, x, y, idx, idx2};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) zmlx_array_release(xs[i]);
}

/* Many rows into a few: each element sums hundreds of f32 values. */
static void test_cpu_scatter_is_deterministic(void) {
  uint64_t seed = 5;
  int64_t xsh[2] = {3, 70}, ssh[2] = {5000, 70}, n = 5000;
  zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 2, xsh, 3, &seed, ZMLX_CPU, NULL);
  zmlx_array *src = zt_random_array(ZMLX_DTYPE_F32, 2, ssh, 3, &seed, ZMLX_CPU, NULL);
  int64_t *iv = malloc(sizeof *iv * (size_t)n);
  for (int64_t i = 0; iv && i < n; i++) iv[i] = (int64_t)(zt_next(&seed) % 3);
  zmlx_array *idx = iv ? ints(ZMLX_DTYPE_I32, (int)n, iv) : NULL, *a = NULL, *b = NULL;
  CHECK_OK(zmlx_scatter_add(x, idx, src, &a));
  CHECK_OK(zmlx_scatter_add(x, idx, src, &b));
  double *va = a ? zt_read_f64(a) : NULL, *vb = b ? zt_read_f64(b) : NULL;
  if (va && vb) CHECK(!memcmp(va, vb, sizeof(double) * 3 * 70));
  free(va), free(vb), free(iv);
  zmlx_array *all[] = {x, src, idx, a, b};
  for (int i = 0; i < 5; i++) zmlx_array_release(all[i]);
}

static void test_bad_index_dtypes(void) {
  int64_t sh[2] = {4, 8}, n = 3;
  zmlx_array *table = NULL, *fids = NULL, *out = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, sh, ZMLX_CPU, &table));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &fids));
  CHECK_STATUS(zmlx_embedding(table, fids, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "embedding");
  CHECK_STATUS(zmlx_take_along_axis(table, fids, 0, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_STATUS(zmlx_scatter_add(table, fids, table, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK(out == NULL);
  zmlx_array_release(table);
  zmlx_array_release(fids);
}

ZT_MAIN(ZT(test_out_of_range), ZT(test_cpu_scatter_is_deterministic), ZT(test_bad_index_dtypes))
