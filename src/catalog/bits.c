/* pack_bits and unpack_bits (numpy's little bit order). Inputs with other
 * strides are copied to C order by the launcher. */
#include "catalog/bits_internal.h"
#include "catalog/cat_internal.h"
#include "core/error.h"
#include "zmlx/catalog_bits.h"

static const char pack_header[] = ZCAT_DIV_TEXT;

static const char pack_body[] =
    "const long long r = ZDIV(gid, B), j = gid - r * B;\n"
    "const x_t *row = x + r * N;\n"
    "unsigned v = 0;\n"
    "for (int k = 0; k < 8; k++) {\n"
    "  const long long e = 8 * j + k;\n"
    "  if (e < N && zmlx_tod(row[e]) != 0) v |= 1u << k;\n"
    "}\n"
    "y[gid] = (uint8_t)v;\n";

static const char unpack_header[] =
    ZCAT_DIV_TEXT
    "typedef struct __attribute__((aligned(8 * sizeof(y_t) < 16 ? 8 * sizeof(y_t) : 16))) {\n"
    "  y_t v[8];\n"
    "} zb_y8;\n";

static const char unpack_body[] =
    "const long long r = ZDIV(gid, B), j = gid - r * B;\n"
    "const unsigned v = p[gid];\n"
    "#if FAST\n"
    "zb_y8 o;\n"
    "for (int k = 0; k < 8; k++) zmlx_store(o.v, k, (int)((v >> k) & 1u));\n"
    "*(zb_y8 *)(y + r * N + 8 * j) = o;\n"
    "#else\n"
    "for (int k = 0; k < 8 && 8 * j + k < N; k++)\n"
    "  zmlx_store(y, r * N + 8 * j + k, (int)((v >> k) & 1u));\n"
    "#endif\n";

static zcat_raw_slot slots[2];

static zmlx_status get(int which, const char *name, const char *in, const char *header,
                       const char *body, zmlx_kernel **k) {
  static const char *const outs[] = {"y"}, *const scs[] = {"N", "B"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  const char *ins[1] = {in};
  zmlx_kernel_desc d = {.name = name, .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = 2, .scalar_names = scs,
                        .scalar_dtypes = sct, .source = body, .header = header};
  return zcat_raw_get(&slots[which], &d, k);
}

zmlx_status zcat_pack_bits_kernel(zmlx_kernel **k) {
  return get(0, "pack_bits", "x", pack_header, pack_body, k);
}

zmlx_status zcat_unpack_bits_kernel(zmlx_kernel **k) {
  return get(1, "unpack_bits", "p", unpack_header, unpack_body, k);
}

/* A new array of a's shape with the last size `last`. */
static zmlx_status shaped(const zmlx_array *a, int64_t last, zmlx_dtype t, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(a, d);
  sh[nd - 1] = last;
  return zmlx_array_empty(t, nd, sh, zmlx_array_device(a), out);
}

static zmlx_status needs_axis(const char *op, const char *name, const zmlx_array *a) {
  if (zmlx_array_ndim(a) >= 1) return ZMLX_STATUS_OK;
  char b[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s: needs at least one dimension", name,
                   zmlx_array_format(a, b, sizeof b));
}

zmlx_status zmlx_pack_bits(zmlx_array *x, zmlx_array **out) {
  const char *op = "pack_bits";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  if (!x) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "input x is NULL");
  ZMLX_TRY(needs_axis(op, "x", x));
  int64_t N = zmlx_array_dim(x, -1), B = (N + 7) / 8;
  zmlx_array *y = NULL;
  zmlx_kernel *k = NULL;
  zmlx_status s = shaped(x, B, ZMLX_DTYPE_U8, &y);
  if (!s) s = zcat_pack_bits_kernel(&k);
  if (!s) {
    double sc[2] = {(double)N, (double)B};
    s = zcat_raw_launch(k, 1, &x, 1, &y, zmlx_array_numel(y), 0, NULL, 2, sc);
  }
  if (s) {
    zmlx_array_release(y);
    return zmlx_fail_wrap(s, op);
  }
  *out = y;
  return s;
}

zmlx_status zmlx_unpack_bits(zmlx_array *packed, int64_t count, zmlx_dtype dtype,
                             zmlx_array **out) {
  const char *op = "unpack_bits";
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "packed", packed, 1u << ZMLX_DTYPE_U8));
  ZMLX_TRY(needs_axis(op, "packed", packed));
  if ((unsigned)dtype >= ZMLX_DTYPE_COUNT)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "dtype %d is not a zmlx_dtype", (int)dtype);
  int64_t B = zmlx_array_dim(packed, -1), N = count < 0 ? 8 * B : count;
  if (count < -1 || N > 8 * B) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "count %lld: packed %s holds %lld bits per row (count -1 takes them all)",
                     (long long)count, zmlx_array_format(packed, b, sizeof b), (long long)(8 * B));
  }
  zmlx_array *y = NULL;
  zmlx_kernel *k = NULL;
  zmlx_status s = shaped(packed, N, dtype, &y);
  if (!s) s = zcat_unpack_bits_kernel(&k);
  if (!s) {
    /* Bytes past the count's end are not read at all. */
    int64_t Bn = (N + 7) / 8;
    zmlx_array *p = NULL;
    s = Bn == B ? ZMLX_STATUS_OK : zmlx_array_slice(packed, -1, 0, Bn, 1, &p);
    zmlx_array *in = p ? p : packed;
    zmlx_template_arg tp[1] = {{"FAST", ZMLX_TEMPLATE_BOOL, N % 8 == 0}};
    double sc[2] = {(double)N, (double)Bn};
    if (!s) s = zcat_raw_launch(k, 1, &in, 1, &y, zmlx_array_numel(in), 1, tp, 2, sc);
    zmlx_array_release(p);
  }
  if (s) {
    zmlx_array_release(y);
    return zmlx_fail_wrap(s, op);
  }
  *out = y;
  return s;
}
