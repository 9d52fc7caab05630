/* Bit packing beyond the catalog harness: numpy's documented little-order
 * example, pack then unpack as the identity on x != 0 for every dtype, and
 * the errors. */
#include "zt_array.h"

/* numpy.packbits([1,0,1,1,0,0,0,1, 1], bitorder='little') = [141, 1]:
 * bits 0, 2, 3, 7 of the first byte, bit 0 of the second. */
static void test_numpy_example(void) {
  const unsigned char v[9] = {1, 0, 1, 1, 0, 0, 0, 1, 1};
  int64_t n = 9;
  zmlx_array *x = NULL, *p = NULL, *u = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_BOOL, 1, &n, ZMLX_CPU, &x));
  CHECK_OK(zmlx_pack_bits(x, &p));
  unsigned char got[2] = {0}, back[9] = {0};
  if (p) {
    CHECK_EQ_INT(zmlx_array_dim(p, 0), 2);
    CHECK_OK(zmlx_array_to_host(p, got, 2));
  }
  CHECK_EQ_INT(got[0], 141);
  CHECK_EQ_INT(got[1], 1);
  if (p) CHECK_OK(zmlx_unpack_bits(p, 9, ZMLX_DTYPE_U8, &u));
  if (u) CHECK_OK(zmlx_array_to_host(u, back, 9));
  CHECK(!memcmp(v, back, 9));
  zmlx_array_release(x), zmlx_array_release(p), zmlx_array_release(u);
}

static void test_round_trip_every_dtype(void) {
  int64_t sh[2] = {5, 37};
  for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
    zmlx_dtype dt = (zmlx_dtype)t;
    zmlx_array *x0 = NULL, *x = NULL;
    double *v = malloc(sizeof *v * 5 * 37);
    /* Zeros, ones and negatives in every dtype (including NaN in floats). */
    for (int i = 0; v && i < 5 * 37; i++) v[i] = i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : -2;
    if (v && zmlx_dtype_is_float(dt)) v[7] = NAN;
    zmlx_array *h = NULL, *p = NULL, *u = NULL;
    if (v) CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F64, 2, sh, ZMLX_CPU, &h));
    if (h) CHECK_OK(zmlx_array_astype(h, dt, &x));
    if (x) CHECK_OK(zmlx_pack_bits(x, &p));
    if (p) CHECK_OK(zmlx_unpack_bits(p, 37, ZMLX_DTYPE_F32, &u));
    double *b = u ? zt_read_f64(u) : NULL, *xv = x ? zt_read_f64(x) : NULL;
    for (int i = 0; b && xv && i < 5 * 37; i++)
      CHECK_MSG(b[i] == (xv[i] != 0), "%s element %d: %g from %g", zmlx_dtype_name(dt), i, b[i],
                xv[i]);
    free(v), free(b), free(xv);
    zmlx_array *all[] = {x0, x, h, p, u};
    for (int i = 0; i < 5; i++) zmlx_array_release(all[i]);
  }
}

static void test_errors(void) {
  int64_t sh[2] = {3, 2};
  zmlx_array *f = NULL, *u8 = NULL, *out = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, sh, ZMLX_CPU, &f));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_U8, 2, sh, ZMLX_CPU, &u8));
  CHECK_STATUS(zmlx_unpack_bits(f, -1, ZMLX_DTYPE_F32, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_STATUS(zmlx_unpack_bits(u8, -1, ZMLX_DTYPE_COUNT, &out), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_STATUS(zmlx_unpack_bits(u8, 17, ZMLX_DTYPE_F32, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "unpack_bits");
  CHECK_STATUS(zmlx_pack_bits(NULL, &out), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK(out == NULL);
  zmlx_array_release(f), zmlx_array_release(u8);
}

ZT_MAIN(ZT(test_numpy_example), ZT(test_round_trip_every_dtype), ZT(test_errors))
