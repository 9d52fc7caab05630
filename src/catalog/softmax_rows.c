/* The softmax family's row kernel (softmax_rows.h): TPR lanes per row
 * (RPB rows per block), VEC elements per 16-byte vector. Rows of up to
 * NV vectors per lane stay in registers between the reduction and the
 * writes (ONCHIP), so a and b are read once; longer rows are read twice.
 * The CPU runs one row per grid point and walks the same lanes in order,
 * so CPU tests cover the GPU's partition of a row. */
#include "catalog/softmax_rows.h"

#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"

static const char header[] =
    "typedef struct __attribute__((aligned(VEC * sizeof(a_t)))) zs_av { a_t v[VEC]; } zs_av;\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(b_t)))) zs_bv { b_t v[VEC]; } zs_bv;\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(out_t)))) zs_ov { out_t v[VEC]; } zs_ov;\n"
    "#define ZS_ONLINE (MODE != 1)\n"
    "#define USE_B (MODE == 1 || MODE == 2 || MODE == 4 || MASK != 0)\n"
    /* m: running maximum of z, s: sum of exp(z - m) (the online modes),
     * t: the sum the backward needs: sum(g * y) (mode 1), sum(g) (mode
     * 2), sum(g * exp(z - m)) rescaled with s (mode 4). */
    "typedef struct zs_acc { zs_t m, s, t; } zs_acc;\n"
    "ZMLX_FN void zs_init(zs_acc *a) { a->m = -INFINITY; a->s = 0; a->t = 0; }\n"
    "ZMLX_FN void zs_comb(zs_acc *a, const zs_acc o) {\n"
    "#if ZS_ONLINE\n"
    "  const zs_t m = a->m > o.m ? a->m : o.m;\n"
    "  if (m > -INFINITY) {\n"
    "    const zs_t fa = ZS_EXP(a->m - m), fo = ZS_EXP(o.m - m);\n"
    "    a->s = a->s * fa + o.s * fo;\n"
    "    a->t = MODE == 4 ? a->t * fa + o.t * fo : a->t + o.t;\n"
    "  } else {\n"
    "    a->s += o.s;\n"
    "    a->t += o.t;\n"
    "  }\n"
    "  a->m = m;\n"
    "#else\n"
    "  a->t += o.t;\n"
    "#endif\n"
    "}\n"
    /* The softmax's argument: scale * x, plus the mask. */
    "ZMLX_FN void zs_z(zs_t *z, const zs_av va, const zs_bv *vb, const zs_t scale) {\n"
    "  (void)vb;\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) {\n"
    "    const zs_t x = scale * ZS_TOC(va.v[i]);\n"
    "#if MASK == 1\n"
    "    z[i] = x + ZS_TOC(vb->v[i]);\n"
    "#elif MASK == 2\n"
    "    z[i] = vb->v[i] ? x : -INFINITY;\n"
    "#else\n"
    "    z[i] = x;\n"
    "#endif\n"
    "  }\n"
    "}\n"
    /* A vector's maximum rescales the sums at most once. fmax-style
     * comparisons skip NaN, which reaches the sum through its own
     * exponential; while every element so far is -inf (masked) the sum
     * stays 0 unless a NaN arrives. */
    "ZMLX_FN void zs_upd(zs_acc *acc, const zs_av va, const zs_bv *vb, const zs_t scale) {\n"
    "  (void)vb; (void)scale;\n"
    "#if ZS_ONLINE\n"
    "  zs_t z[VEC];\n"
    "  zs_z(z, va, vb, scale);\n"
    "  zs_t mx = z[0];\n"
    "  ZS_UNROLL\n"
    "  for (int i = 1; i < (int)VEC; i++) mx = mx > z[i] ? mx : z[i];\n"
    "  if (mx > acc->m) {\n"
    "    const zs_t f = ZS_EXP(acc->m - mx);\n"
    "    acc->s *= f;\n"
    "    if (MODE == 4) acc->t *= f;\n"
    "    acc->m = mx;\n"
    "  }\n"
    "  if (acc->m > -INFINITY) {\n"
    "    ZS_UNROLL\n"
    "    for (int i = 0; i < (int)VEC; i++) {\n"
    "      const zs_t e = ZS_EXP(z[i] - acc->m);\n"
    "      acc->s += e;\n"
    "#if MODE == 4\n"
    "      acc->t += ZS_TOC(vb->v[i]) * e;\n"
    "#endif\n"
    "    }\n"
    "  } else {\n"
    "    ZS_UNROLL\n"
    "    for (int i = 0; i < (int)VEC; i++) if (z[i] != z[i]) acc->s = z[i];\n"
    "  }\n"
    "#if MODE == 2\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) acc->t += ZS_TOC(vb->v[i]);\n"
    "#endif\n"
    "#else\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) acc->t += ZS_TOC(va.v[i]) * ZS_TOC(vb->v[i]);\n"
    "#endif\n"
    "}\n"
    /* Online modes: s becomes 1 / sum (a row with nothing left, every
     * element masked or -inf, gives zeros, or NaN if a NaN was seen);
     * mode 4's t becomes sum(g * softmax). */
    "ZMLX_FN void zs_fin(zs_acc *a) {\n"
    "#if ZS_ONLINE\n"
    "  a->s = a->m > -INFINITY ? 1 / a->s : (a->s != a->s ? a->s : (zs_t)0);\n"
    "  if (MODE == 4) a->t *= a->s;\n"
    "#else\n"
    "  (void)a;\n"
    "#endif\n"
    "}\n"
    "ZMLX_FN zs_ov zs_emit(const zs_acc *acc, const zs_av va, const zs_bv *vb, const zs_t scale,\n"
    "                      const zs_t cv) {\n"
    "  (void)vb; (void)scale; (void)cv;\n"
    "  zs_t o[VEC];\n"
    "#if ZS_ONLINE\n"
    "  zs_t z[VEC];\n"
    "  zs_z(z, va, vb, scale);\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) {\n"
    "    const zs_t p = acc->m > -INFINITY ? ZS_EXP(z[i] - acc->m) * acc->s : acc->s;\n"
    "#if MODE == 0\n"
    "    o[i] = p;\n"
    "#elif MODE == 2\n"
    "    o[i] = ZS_TOC(vb->v[i]) - p * acc->t;\n"
    "#elif MODE == 3\n"
    "    o[i] = p * cv;\n"
    "#else\n"
    "    o[i] = scale * p * (ZS_TOC(vb->v[i]) - acc->t);\n"
    "#endif\n"
    "  }\n"
    "#else\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) o[i] = scale * ZS_TOC(va.v[i]) * (ZS_TOC(vb->v[i]) - acc->t);\n"
    "#endif\n"
    "  zs_ov r;\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) zmlx_store(r.v, i, o[i]);\n"
    "  return r;\n"
    "}\n"
    "#if USE_B\n#define ZS_B(p, v) (&(p)[v])\n#else\n#define ZS_B(p, v) ((const zs_bv *)0)\n#endif\n";

/* Scalars: scale, M rows of R; the CPU's copy of the launch shape. */
static const char body[] =
    "const long long nvec = R / VEC;\n"
    "const zs_t zscale = (zs_t)scale;\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long row = gid / TPR;\n"
    "const int lane = (int)(gid % TPR), ok = row < M;\n"
    "const long long rr = ok ? row : 0;\n"
    "#else\n"
    "const long long rr = gid;\n"
    "#endif\n"
    "const zs_av *pa = (const zs_av *)(a + rr * R);\n"
    "const zs_bv *pb = (const zs_bv *)(b + zs_row_off(rr, b_shape, b_strides, b_ndim - 1));\n"
    "zs_ov *po = (zs_ov *)(out + rr * R);\n"
    "const zs_t cv = MODE == 3 ? ZS_TOC(c[rr]) : (zs_t)0;\n"
    "(void)pb;\n"
    "zs_acc acc;\n"
    "zs_init(&acc);\n"
    "#ifdef ZMLX_CUDA\n"
    "#if ONCHIP\n"
    "zs_av ra[NV];\n"
    "#if USE_B\n"
    "zs_bv rb[NV];\n"
    "#endif\n"
    "ZS_UNROLL\n"
    "for (int k = 0; k < (int)NV; k++) {\n"
    "  const long long v = (long long)k * TPR + lane;\n"
    "  if (ok && v < nvec) {\n"
    "    ra[k] = pa[v];\n"
    "#if USE_B\n"
    "    rb[k] = pb[v];\n"
    "#endif\n"
    "    zs_upd(&acc, ra[k], ZS_B(rb, k), zscale);\n"
    "  }\n"
    "}\n"
    "#else\n"
    "if (ok) {\n"
    "  long long v = lane;\n"
    "  for (; v + (UNROLL - 1) * TPR < nvec; v += UNROLL * TPR) {\n"
    "    zs_av ba[UNROLL];\n"
    "#if USE_B\n"
    "    zs_bv bb[UNROLL];\n"
    "#endif\n"
    "    ZS_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) {\n"
    "      ba[u] = pa[v + u * TPR];\n"
    "#if USE_B\n"
    "      bb[u] = pb[v + u * TPR];\n"
    "#endif\n"
    "    }\n"
    "    ZS_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) zs_upd(&acc, ba[u], ZS_B(bb, u), zscale);\n"
    "  }\n"
    "  for (; v < nvec; v += TPR) zs_upd(&acc, pa[v], ZS_B(pb, v), zscale);\n"
    "}\n"
    "#endif\n"
    "zs_group_reduce<(int)TPR, (int)RPB>(&acc, lane, (int)(threadIdx.x / TPR),\n"
    "                                    [](zs_acc *p, const zs_acc o) { zs_comb(p, o); });\n"
    "zs_fin(&acc);\n"
    "#if ONCHIP\n"
    "ZS_UNROLL\n"
    "for (int k = 0; k < (int)NV; k++) {\n"
    "  const long long v = (long long)k * TPR + lane;\n"
    "  if (ok && v < nvec) po[v] = zs_emit(&acc, ra[k], ZS_B(rb, k), zscale, cv);\n"
    "}\n"
    "#else\n"
    "if (ok) {\n"
    "  long long v = lane;\n"
    "  for (; v + (UNROLL - 1) * TPR < nvec; v += UNROLL * TPR) {\n"
    "    zs_av ba[UNROLL];\n"
    "#if USE_B\n"
    "    zs_bv bb[UNROLL];\n"
    "#endif\n"
    "    ZS_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) {\n"
    "      ba[u] = pa[v + u * TPR];\n"
    "#if USE_B\n"
    "      bb[u] = pb[v + u * TPR];\n"
    "#endif\n"
    "    }\n"
    "    ZS_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++)\n"
    "      po[v + u * TPR] = zs_emit(&acc, ba[u], ZS_B(bb, u), zscale, cv);\n"
    "  }\n"
    "  for (; v < nvec; v += TPR) po[v] = zs_emit(&acc, pa[v], ZS_B(pb, v), zscale, cv);\n"
    "}\n"
    "#endif\n"
    "#else\n"
    "const int tp = (int)tpr;\n"
    "for (int lane = 0; lane < tp; lane++) {\n"
    "  zs_acc p;\n"
    "  zs_init(&p);\n"
    "  if (onchip) {\n"
    "    for (long long k = 0; k < nv; k++) {\n"
    "      const long long v = k * tp + lane;\n"
    "      if (v < nvec) zs_upd(&p, pa[v], ZS_B(pb, v), zscale);\n"
    "    }\n"
    "  } else {\n"
    "    for (long long v = lane; v < nvec; v += tp) zs_upd(&p, pa[v], ZS_B(pb, v), zscale);\n"
    "  }\n"
    "  zs_comb(&acc, p);\n"
    "}\n"
    "zs_fin(&acc);\n"
    "for (long long v = 0; v < nvec; v++) po[v] = zs_emit(&acc, pa[v], ZS_B(pb, v), zscale, cv);\n"
    "#endif\n";

static zsm_slot slot;

static zmlx_status kernel(const char *op, zmlx_kernel **k) {
  static const char *const ins[] = {"a", "b", "c"}, *const outs[] = {"out"};
  static const char *const scs[] = {"scale", "M", "R", "tpr", "nv", "onchip"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                   ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  zmlx_kernel_desc d = {.name = "zsm_rows", .n_inputs = 3, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = 6, .scalar_names = scs,
                        .scalar_dtypes = sct, .source = body, .header = header};
  return zsm_kernel_get(op, &slot, &d, k);
}

/* Lanes per row at most; vectors per lane kept on chip at most (two
 * inputs of 8 vectors is 64 registers a lane). */
enum { MAX_TPR = 512, MAX_TPR_F64 = 256, MAX_NV = 8, AIM_NV = 4, UNROLL = 4 };

zmlx_status zsm_rows_run(const char *op, zsm_rows_mode mode, zsm_mask_kind mask, zmlx_array *a,
                         zmlx_array *b, zmlx_array *c, double scale, zmlx_array *out) {
  int nd = a->ndim;
  int64_t R = nd ? a->shape[nd - 1] : 1, M = R ? zmlx_array_numel(a) / R : 0;
  if (M == 0 || R == 0) return ZMLX_STATUS_OK;
  zmlx_kernel *k;
  ZMLX_TRY(kernel(op, &k));
  if (!b) b = a;
  if (!c) c = a;
  /* Vectors must not straddle rows of a or b, nor start unaligned. */
  int64_t mults[ZMLX_MAX_DIMS + 1];
  int nm = 0;
  mults[nm++] = R;
  for (int d = 0; d + 1 < b->ndim; d++)
    if (b->shape[d] > 1) mults[nm++] = b->strides[d];
  void *ptrs[3] = {zmlx_array_data(a), zmlx_array_data(out), zmlx_array_data(b)};
  size_t sizes[3] = {zmlx_dtype_size(a->dtype), zmlx_dtype_size(out->dtype),
                     zmlx_dtype_size(b->dtype)};
  int vec = zsm_vec(sizes[0], nm, mults, 3, ptrs, sizes);
  int64_t nvec = R / vec;
  int f64 = a->dtype == ZMLX_DTYPE_F64;
  int max_tpr = f64 ? MAX_TPR_F64 : MAX_TPR;
  int onchip = nvec <= (int64_t)max_tpr * MAX_NV;
  int tpr = onchip ? zsm_pow2((nvec + AIM_NV - 1) / AIM_NV, 1, max_tpr)
                   : zsm_pow2((nvec + UNROLL - 1) / UNROLL, 1, max_tpr);
  int nv = onchip ? (int)((nvec + tpr - 1) / tpr) : 1;
  int rpb = tpr >= 128 ? 1 : 128 / tpr;
  int cuda = zsm_cuda_shapes(zmlx_array_device(a));
  zmlx_template_arg t[9];
  int nt = 0;
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, vec};
  t[nt++] = (zmlx_template_arg){"MODE", ZMLX_TEMPLATE_INT, mode};
  t[nt++] = (zmlx_template_arg){"MASK", ZMLX_TEMPLATE_INT, mode == ZSM_ROWS_SOFTMAX ? mask : 0};
  t[nt++] = (zmlx_template_arg){"ZS_F64", ZMLX_TEMPLATE_BOOL, f64};
  if (cuda) {
    t[nt++] = (zmlx_template_arg){"TPR", ZMLX_TEMPLATE_INT, tpr};
    t[nt++] = (zmlx_template_arg){"RPB", ZMLX_TEMPLATE_INT, rpb};
    t[nt++] = (zmlx_template_arg){"NV", ZMLX_TEMPLATE_INT, nv};
    t[nt++] = (zmlx_template_arg){"ONCHIP", ZMLX_TEMPLATE_BOOL, onchip};
    t[nt++] = (zmlx_template_arg){"UNROLL", ZMLX_TEMPLATE_INT, UNROLL};
  }
  double sc[6] = {scale, (double)M, (double)R, tpr, nv, onchip};
  int64_t grid = cuda ? (M + rpb - 1) / rpb * rpb * tpr : M;
  zmlx_launch_config cfg = {.grid = {grid, 1, 1}, .block = {tpr * rpb, 1, 1}, .n_templates = nt,
                            .templates = t, .n_scalars = 6, .scalars = sc};
  zmlx_array *in[3] = {a, b, c};
  return zsm_launch(op, k, 3, in, &cfg, 1, &out);
}
