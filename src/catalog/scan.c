/* The backward of cumsum: a reverse (suffix) scan. TPR lanes per row (RPB
 * rows per block) walk the row's chunks of TPR vectors from the last one:
 * each lane sums its vector from the end, the group adds up the lanes
 * after it (shuffles, and shared memory across warps), and the chunk's
 * total joins the carry for the chunks before. The CPU walks the same
 * chunks and lanes in order, so CPU tests cover the GPU's partition. */
#include "catalog/softmax_kit.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_scan.h"

static const char header[] =
    "typedef struct __attribute__((aligned(VEC * sizeof(g_t)))) zs_gv { g_t v[VEC]; } zs_gv;\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(out_t)))) zs_ov { out_t v[VEC]; } zs_ov;\n"
    "#ifdef ZMLX_CUDA\n"
    /* The sum of v over the lanes after this one in its group of G lanes
     * (NG groups a block); *total gets the group's sum. Every thread of
     * the block calls it. */
    "template <int G, int NG> ZMLX_FN zs_t zs_after(const zs_t v, const int lane, const int grp,\n"
    "                                               zs_t *total) {\n"
    "  const int W = G < 32 ? G : 32, wl = lane & (W - 1);\n"
    "  zs_t inc = v;\n"
    "  ZS_UNROLL\n"
    "  for (int off = 1; off < W; off <<= 1) {\n"
    "    const zs_t y = zs_shfl_down(inc, off, W);\n"
    "    if (wl + off < W) inc += y;\n"
    "  }\n"
    "  const zs_t nxt = zs_shfl_down(inc, 1, W);\n"
    "  zs_t after = wl + 1 < W ? nxt : (zs_t)0;\n"
    "  if (G > 32) {\n"
    "    __shared__ zs_t zs_ssm[NG][G / 32 + 1];\n"
    "    const int NW = G / 32, w = lane >> 5;\n"
    "    if (wl == 0) zs_ssm[grp][w] = inc;\n"
    "    __syncthreads();\n"
    "    if (w == 0) {\n"
    "      zs_t t = wl < NW ? zs_ssm[grp][wl] : (zs_t)0;\n"
    "      ZS_UNROLL\n"
    "      for (int off = 1; off < 32; off <<= 1) {\n"
    "        const zs_t y = zs_shfl_down(t, off, 32);\n"
    "        if (wl + off < 32) t += y;\n"
    "      }\n"
    "      if (wl < NW) zs_ssm[grp][wl] = t;\n"
    "    }\n"
    "    __syncthreads();\n"
    "    after += w + 1 < NW ? zs_ssm[grp][w + 1] : (zs_t)0;\n"
    "    *total = zs_ssm[grp][0];\n"
    "    __syncthreads();\n"
    "  } else {\n"
    "    *total = zs_shfl_idx(inc, 0, W);\n"
    "  }\n"
    "  return after;\n"
    "}\n"
    "#endif\n"
    /* Suffix sums of one vector (from its end); returns the total. */
    "ZMLX_FN zs_t zs_vec_suffix(const zs_gv gv, zs_t *suf) {\n"
    "  zs_t tot = 0;\n"
    "  ZS_UNROLL\n"
    "  for (int i = (int)VEC - 1; i >= 0; i--) {\n"
    "    tot += ZS_TOC(gv.v[i]);\n"
    "    suf[i] = tot;\n"
    "  }\n"
    "  return tot;\n"
    "}\n"
    "ZMLX_FN zs_ov zs_vec_out(const zs_t *suf, const zs_t add) {\n"
    "  zs_ov o;\n"
    "  ZS_UNROLL\n"
    "  for (int i = 0; i < (int)VEC; i++) zmlx_store(o.v, i, suf[i] + add);\n"
    "  return o;\n"
    "}\n";

/* Scalars: M rows of R; tpr, the CPU's lanes per row. */
static const char body[] =
    "const long long nvec = R / VEC;\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long row = gid / TPR;\n"
    "const int lane = (int)(gid % TPR), ok = row < M;\n"
    "const long long rr = ok ? row : 0, nch = (nvec + TPR - 1) / TPR;\n"
    "const zs_gv *pg = (const zs_gv *)(g + rr * R);\n"
    "zs_ov *po = (zs_ov *)(out + rr * R);\n"
    "zs_t carry = 0;\n"
    "for (long long c = nch - 1; c >= 0; c--) {\n"
    "  const long long v = c * TPR + lane;\n"
    "  const int live = ok && v < nvec;\n"
    "  zs_t suf[VEC], total;\n"
    "  zs_gv gv;\n"
    "  if (live) gv = pg[v];\n"
    "  const zs_t tot = live ? zs_vec_suffix(gv, suf) : (zs_t)0;\n"
    "  const zs_t after = zs_after<(int)TPR, (int)RPB>(tot, lane, (int)(threadIdx.x / TPR), &total);\n"
    "  if (live) po[v] = zs_vec_out(suf, after + carry);\n"
    "  carry += total;\n"
    "}\n"
    "#else\n"
    "const zs_gv *pg = (const zs_gv *)(g + gid * R);\n"
    "zs_ov *po = (zs_ov *)(out + gid * R);\n"
    "const int tp = (int)tpr;\n"
    "const long long nch = (nvec + tp - 1) / tp;\n"
    "zs_t carry = 0;\n"
    "for (long long c = nch - 1; c >= 0; c--) {\n"
    "  zs_t after = 0;\n"
    "  for (int lane = tp - 1; lane >= 0; lane--) {\n"
    "    const long long v = c * tp + lane;\n"
    "    if (v >= nvec) continue;\n"
    "    zs_t suf[VEC];\n"
    "    const zs_t tot = zs_vec_suffix(pg[v], suf);\n"
    "    po[v] = zs_vec_out(suf, after + carry);\n"
    "    after += tot;\n"
    "  }\n"
    "  carry += after;\n"
    "}\n"
    "#endif\n";

static zsm_slot slot;

enum { MAX_TPR = 1024 };

/* g: contiguous rows (..., R); out: like g. */
static zmlx_status reverse_cumsum(const char *op, zmlx_array *g, zmlx_array *out) {
  int nd = g->ndim;
  int64_t R = nd ? g->shape[nd - 1] : 1, M = R ? zmlx_array_numel(g) / R : 0;
  if (M == 0 || R == 0) return ZMLX_STATUS_OK;
  static const char *const ins[] = {"g"}, *const outs[] = {"out"}, *const scs[] = {"M", "R", "tpr"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  zmlx_kernel_desc d = {.name = "zsm_rcumsum", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = 3, .scalar_names = scs,
                        .scalar_dtypes = sct, .source = body, .header = header};
  zmlx_kernel *k;
  ZMLX_TRY(zsm_kernel_get(op, &slot, &d, &k));
  void *ptrs[2] = {zmlx_array_data(g), zmlx_array_data(out)};
  size_t sizes[2] = {zmlx_dtype_size(g->dtype), zmlx_dtype_size(out->dtype)};
  int vec = zsm_vec(sizes[0], 1, &R, 2, ptrs, sizes);
  int64_t nvec = R / vec;
  int tpr = zsm_pow2(nvec, 1, MAX_TPR), rpb = tpr >= 128 ? 1 : 128 / tpr;
  int cuda = zsm_cuda_shapes(zmlx_array_device(g));
  zmlx_template_arg t[4] = {{"VEC", ZMLX_TEMPLATE_INT, vec},
                            {"ZS_F64", ZMLX_TEMPLATE_BOOL, g->dtype == ZMLX_DTYPE_F64},
                            {"TPR", ZMLX_TEMPLATE_INT, tpr},
                            {"RPB", ZMLX_TEMPLATE_INT, rpb}};
  double sc[3] = {(double)M, (double)R, tpr};
  zmlx_launch_config cfg = {.grid = {cuda ? (M + rpb - 1) / rpb * rpb * tpr : M, 1, 1},
                            .block = {tpr * rpb, 1, 1}, .n_templates = cuda ? 4 : 2,
                            .templates = t, .n_scalars = 3, .scalars = sc};
  return zsm_launch(op, k, 1, &g, &cfg, 1, &out);
}

zmlx_status zmlx_cumsum_backward(zmlx_array *x, zmlx_array *dy, int axis, zmlx_array **dx) {
  const char *op = "cumsum";
  static const char *const names[] = {"dy"};
  ZMLX_TRY(zcat_check_out(op, "dx", dx));
  *dx = NULL;
  ZMLX_TRY(zcat_check_dtype(op, "x", x, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "dy", dy, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "x", x, 1, names, &dy));
  ZMLX_TRY(zcat_check_same_shape(op, "x", x, "dy", dy));
  ZMLX_TRY(zsm_norm_axis(op, dy, &axis));
  zmlx_array *v = NULL, *g = NULL, *r = NULL;
  zmlx_status s = zsm_axis_last(dy, axis, &v);
  if (!s) s = zmlx_array_contiguous(v, &g);
  if (!s) s = zmlx_array_empty(g->dtype, g->ndim, g->shape, zmlx_array_device(g), &r);
  if (!s) s = reverse_cumsum(op, g, r);
  if (!s) s = zsm_axis_back(r, dy->ndim, axis, dx);
  zmlx_array_release(v);
  zmlx_array_release(g);
  zmlx_array_release(r);
  return s ? zmlx_fail_wrap(s, op) : s;
}
