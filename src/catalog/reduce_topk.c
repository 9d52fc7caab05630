/* Top-k along the last axis by k rounds of selection: each round picks
 * the best element below the previous pick in the order (value
 * descending, NaN first, index ascending), so ties and NaN need no
 * special case and nothing is written back. Values are compared as
 * ordered integer keys (the float's bits, flipped so that integer order
 * is float order) paired with the index.
 *
 * CUDA: TPR lanes per row (RPB rows per block); a lane keeps its E
 * elements (j = e * TPR + lane, coalesced) as keys in registers and a
 * round is E compares and a group reduction; rows longer than the lanes
 * keep are read again each round (E == 0). The MoE router's top-8 of 128
 * is one warp per row with four keys a lane. The CPU scans the row each
 * round. */
#include <limits.h>
#include <string.h>

#include "catalog/softmax_kit.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_reduce.h"

static const char header[] =
    "#if ZS_F64\n"
    "typedef unsigned long long zs_key;\n"
    "#define ZS_KEY_MAX 0xffffffffffffffffULL\n"
    "ZMLX_FN zs_key zs_key_of(const double v) {\n"
    "#ifdef ZMLX_CUDA\n"
    "  unsigned long long u = (unsigned long long)__double_as_longlong(v);\n"
    "#else\n"
    "  unsigned long long u;\n"
    "  memcpy(&u, &v, 8);\n"
    "#endif\n"
    "  if (v != v) return ZS_KEY_MAX;\n"
    "  if (u == 0x8000000000000000ULL) u = 0;\n"
    "  return u >> 63 ? ~u : u | 0x8000000000000000ULL;\n"
    "}\n"
    "#else\n"
    "typedef unsigned int zs_key;\n"
    "#define ZS_KEY_MAX 0xffffffffu\n"
    "ZMLX_FN zs_key zs_key_of(const float v) {\n"
    "  unsigned int u = zmlx_f32_bits(v);\n"
    "  if (v != v) return ZS_KEY_MAX;\n"
    "  if (u == 0x80000000u) u = 0;\n"
    "  return u >> 31 ? ~u : u | 0x80000000u;\n"
    "}\n"
    "#endif\n"
    /* Every element's key is above 0 (-inf is 0x007fffff...), so key 0
     * marks "nothing" (which k <= D rules out; the reads guard it anyway).
     * NaN is all ones: equal NaNs tie, lowest index first. */
    "typedef struct zs_pick { zs_key k; int i; } zs_pick;\n"
    "ZMLX_FN int zs_better(const zs_key k, const int i, const zs_pick b) {\n"
    "  return k > b.k || (k == b.k && i < b.i);\n"
    "}\n"
    "ZMLX_FN int zs_below(const zs_key k, const int i, const zs_pick last) {\n"
    "  return k < last.k || (k == last.k && i > last.i);\n"
    "}\n"
    "ZMLX_FN void zs_take(zs_pick *b, const zs_key k, const int i, const zs_pick last) {\n"
    "  if (k != 0 && zs_below(k, i, last) && zs_better(k, i, *b)) { b->k = k; b->i = i; }\n"
    "}\n";

/* Scalars: M rows of D, K picks. */
static const char body[] =
    "zs_pick last;\n"
    "last.k = ZS_KEY_MAX;\n"
    "last.i = -1;\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long row = gid / TPR;\n"
    "const int lane = (int)(gid % TPR), ok = row < M;\n"
    "const x_t *px = x + (ok ? row : 0) * D;\n"
    "#if E > 0\n"
    "zs_key kk[E];\n"
    "ZS_UNROLL\n"
    "for (int e = 0; e < (int)E; e++) {\n"
    "  const long long j = (long long)e * TPR + lane;\n"
    "  kk[e] = ok && j < D ? zs_key_of(ZS_TOC(px[j])) : (zs_key)0;\n"
    "}\n"
    "#endif\n"
    "for (long long r = 0; r < K; r++) {\n"
    "  zs_pick b;\n"
    "  b.k = 0;\n"
    "  b.i = 0x7fffffff;\n"
    "#if E > 0\n"
    "  ZS_UNROLL\n"
    "  for (int e = 0; e < (int)E; e++) zs_take(&b, kk[e], e * (int)TPR + lane, last);\n"
    "#else\n"
    "  if (ok)\n"
    "    for (int j = lane; j < (int)D; j += (int)TPR) zs_take(&b, zs_key_of(ZS_TOC(px[j])), j, last);\n"
    "#endif\n"
    "  zs_group_reduce<(int)TPR, (int)RPB>(&b, lane, (int)(threadIdx.x / TPR),\n"
    "                                      [](zs_pick *p, const zs_pick o) {\n"
    "                                        if (zs_better(o.k, o.i, *p)) *p = o;\n"
    "                                      });\n"
    "  if (ok && lane == 0) {\n"
    "    values[row * K + r] = px[b.k ? b.i : 0];\n"
    "    indices[row * K + r] = b.i;\n"
    "  }\n"
    "  last = b;\n"
    "}\n"
    "#else\n"
    "const x_t *px = x + gid * D;\n"
    "for (long long r = 0; r < K; r++) {\n"
    "  zs_pick b;\n"
    "  b.k = 0;\n"
    "  b.i = 0x7fffffff;\n"
    "  for (int j = 0; j < (int)D; j++) zs_take(&b, zs_key_of(ZS_TOC(px[j])), j, last);\n"
    "  values[gid * K + r] = px[b.k ? b.i : 0];\n"
    "  indices[gid * K + r] = b.i;\n"
    "  last = b;\n"
    "}\n"
    "#endif\n";

static zsm_slot slot;

/* Keys a lane keeps at most (E); lanes per row at most. */
enum { MAX_E = 16, MAX_TPR = 1024, MAX_TPR_F64 = 256 };

zmlx_status zmlx_topk(zmlx_array *x, int64_t k, zmlx_array **values, zmlx_array **indices) {
  const char *op = "topk";
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  ZMLX_TRY(zcat_check_out(op, "values", values));
  ZMLX_TRY(zcat_check_out(op, "indices", indices));
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  char b[300];
  if (x->ndim == 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "x is %s: it needs an axis",
                     zmlx_array_format(x, b, sizeof b));
  int nd = x->ndim;
  int64_t D = x->shape[nd - 1], M = D ? zmlx_array_numel(x) / D : 0;
  if (k < 0 || k > D)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "k = %lld for x %s: k must be in [0, %lld], the last axis' length",
                     (long long)k, zmlx_array_format(x, b, sizeof b), (long long)D);
  if (D > INT_MAX)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "x is %s: rows above %d elements",
                     zmlx_array_format(x, b, sizeof b), INT_MAX);
  int64_t shape[ZMLX_MAX_DIMS];
  memcpy(shape, x->shape, sizeof(int64_t) * (size_t)nd);
  shape[nd - 1] = k;
  zmlx_device dev = zmlx_array_device(x);
  zmlx_array *out[2] = {NULL, NULL};
  zmlx_status s = zmlx_array_empty(x->dtype, nd, shape, dev, &out[0]);
  if (!s) s = zmlx_array_empty(ZMLX_DTYPE_I64, nd, shape, dev, &out[1]);
  zmlx_kernel *kern = NULL;
  if (!s && M > 0 && k > 0) {
    static const char *const ins[] = {"x"}, *const outs[] = {"values", "indices"},
                             *const scs[] = {"M", "D", "K"};
    static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
    zmlx_kernel_desc d = {.name = "zsm_topk", .n_inputs = 1, .input_names = ins, .n_outputs = 2,
                          .output_names = outs, .n_scalars = 3, .scalar_names = scs,
                          .scalar_dtypes = sct, .source = body, .header = header};
    s = zsm_kernel_get(op, &slot, &d, &kern);
  }
  if (!s && M > 0 && k > 0) {
    int f64 = x->dtype == ZMLX_DTYPE_F64, cuda = zsm_cuda_shapes(dev);
    int tpr = zsm_pow2((D + 3) / 4, 1, f64 ? MAX_TPR_F64 : MAX_TPR);
    int64_t e = (D + tpr - 1) / tpr;
    if (e > MAX_E) e = 0;
    int rpb = tpr >= 128 ? 1 : 128 / tpr;
    zmlx_template_arg t[4] = {{"ZS_F64", ZMLX_TEMPLATE_BOOL, f64},
                              {"TPR", ZMLX_TEMPLATE_INT, tpr},
                              {"RPB", ZMLX_TEMPLATE_INT, rpb},
                              {"E", ZMLX_TEMPLATE_INT, e}};
    double sc[3] = {(double)M, (double)D, (double)k};
    zmlx_launch_config cfg = {.grid = {cuda ? (M + rpb - 1) / rpb * rpb * tpr : M, 1, 1},
                              .block = {tpr * rpb, 1, 1}, .n_templates = cuda ? 4 : 1,
                              .templates = t, .n_scalars = 3, .scalars = sc};
    s = zsm_launch(op, kern, 1, &x, &cfg, 2, out);
  }
  if (s) {
    zmlx_array_release(out[0]);
    zmlx_array_release(out[1]);
    return s;
  }
  *values = out[0];
  *indices = out[1];
  return ZMLX_STATUS_OK;
}
