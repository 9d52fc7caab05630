/* The image family's kernels. Index arithmetic is done once per point, in
 * 32 bits when the sizes allow (IDX32); sums are in f32 (f64 for f64). */
#include <pthread.h>

#include "catalog/image_internal.h"
#include "core/error.h"

static const char header[] =
    "#if F64\ntypedef double zi_t;\n#define ZI_CV(v) zmlx_tod(v)\n"
    "#else\ntypedef float zi_t;\n#define ZI_CV(v) zmlx_tof(v)\n#endif\n"
    "#if IDX32\ntypedef int zi_i;\n#else\ntypedef long long zi_i;\n#endif\n"
    /* PyTorch's area_pixel_compute_scale / _source_index for linear modes,
     * in the accumulation type. */
    "ZMLX_FN zi_t zi_scale(long long in, long long out, int ac) {\n"
    "  if (ac) return out > 1 ? (zi_t)(in - 1) / (zi_t)(out - 1) : (zi_t)0;\n"
    "  return (zi_t)in / (zi_t)out;\n}\n"
    "ZMLX_FN zi_t zi_src(zi_t scale, long long dst, int ac) {\n"
    "  if (ac) return scale * (zi_t)dst;\n"
    "  const zi_t s = scale * ((zi_t)dst + (zi_t)0.5) - (zi_t)0.5;\n"
    "  return s < (zi_t)0 ? (zi_t)0 : s;\n}\n"
    /* The weight output pixel o gives input pixel i along one axis. */
    "ZMLX_FN zi_t zi_weight(zi_t scale, long long o, long long i, long long in, int ac) {\n"
    "  const zi_t s = zi_src(scale, o, ac);\n"
    "  const long long i0 = (long long)s, i1 = i0 + (i0 < in - 1);\n"
    "  const zi_t l1 = s - (zi_t)i0, l0 = (zi_t)1 - l1;\n"
    "  return (i0 == i ? l0 : (zi_t)0) + (i1 == i ? l1 : (zi_t)0);\n}\n"
    /* Output pixels that can read input pixel i (src in [i - 1, i + 1)),
     * widened by one on each side against rounding. */
    "ZMLX_FN void zi_range(zi_t scale, long long i, long long out, int ac, long long *lo,\n"
    "                      long long *hi) {\n"
    "  if (scale <= (zi_t)0) { *lo = 0; *hi = out - 1; return; }\n"
    "  const zi_t a = ac ? ((zi_t)i - 1) / scale : ((zi_t)i - (zi_t)0.5) / scale - (zi_t)0.5;\n"
    "  const zi_t b = ac ? ((zi_t)i + 1) / scale : ((zi_t)i + (zi_t)1.5) / scale - (zi_t)0.5;\n"
    "  long long l = (long long)floor((double)a) - 1, h = (long long)ceil((double)b) + 1;\n"
    "  *lo = l < 0 ? 0 : l;\n"
    "  *hi = h > out - 1 ? out - 1 : h;\n}\n";

/* Splits point i of an (N, A, B, C) array into its coordinates. */
#define SPLIT(A, B)                                      \
  "const zi_i i = (zi_i)gid;\n"                          \
  "const zi_i c = i % (zi_i)C;\n"                        \
  "zi_i r = i / (zi_i)C;\n"                              \
  "const zi_i px = r % (zi_i)" B ";\n"                   \
  "r /= (zi_i)" B ";\n"                                  \
  "const zi_i py = r % (zi_i)" A ";\n"                   \
  "const zi_i nn = r / (zi_i)" A ";\n"

static const char resize_body[] =
    "if (gid >= n) return;\n" SPLIT("OH", "OW")
    "const int ac = (int)align;\n"
    "const zi_t sy = zi_src(zi_scale(H, OH, ac), py, ac);\n"
    "const zi_t sx = zi_src(zi_scale(W, OW, ac), px, ac);\n"
    "const zi_i y0 = (zi_i)sy, x0 = (zi_i)sx;\n"
    "const zi_i y1 = y0 + (y0 < (zi_i)H - 1), x1 = x0 + (x0 < (zi_i)W - 1);\n"
    "const zi_t ly1 = sy - (zi_t)y0, ly0 = (zi_t)1 - ly1;\n"
    "const zi_t lx1 = sx - (zi_t)x0, lx0 = (zi_t)1 - lx1;\n"
    "const x_t *b0 = x + ((nn * (zi_i)H + y0) * (zi_i)W) * (zi_i)C + c;\n"
    "const x_t *b1 = x + ((nn * (zi_i)H + y1) * (zi_i)W) * (zi_i)C + c;\n"
    "const zi_t v = ly0 * (lx0 * ZI_CV(b0[x0 * (zi_i)C]) + lx1 * ZI_CV(b0[x1 * (zi_i)C])) +\n"
    "               ly1 * (lx0 * ZI_CV(b1[x0 * (zi_i)C]) + lx1 * ZI_CV(b1[x1 * (zi_i)C]));\n"
    "zmlx_store(out, i, v);\n";

static const char resize_bwd_body[] =
    "if (gid >= n) return;\n" SPLIT("H", "W")
    "const int ac = (int)align;\n"
    "const zi_t sh = zi_scale(H, OH, ac), sw = zi_scale(W, OW, ac);\n"
    "long long ylo, yhi, xlo, xhi;\n"
    "zi_range(sh, py, OH, ac, &ylo, &yhi);\n"
    "zi_range(sw, px, OW, ac, &xlo, &xhi);\n"
    "zi_t acc = 0;\n"
    "for (long long oy = ylo; oy <= yhi; oy++) {\n"
    "  const zi_t wy = zi_weight(sh, oy, py, H, ac);\n"
    "  if (wy == (zi_t)0) continue;\n"
    "  const dy_t *row = dy + ((nn * (zi_i)OH + (zi_i)oy) * (zi_i)OW) * (zi_i)C + c;\n"
    "  zi_t racc = 0;\n"
    "  for (long long ox = xlo; ox <= xhi; ox++) {\n"
    "    const zi_t wx = zi_weight(sw, ox, px, W, ac);\n"
    "    if (wx != (zi_t)0) racc += wx * ZI_CV(row[(zi_i)ox * (zi_i)C]);\n"
    "  }\n"
    "  acc += wy * racc;\n"
    "}\n"
    "zmlx_store(dx, i, acc);\n";

static const char dwconv_body[] =
    "if (gid >= n) return;\n" SPLIT("H", "W")
    "zi_t acc = has_bias ? ZI_CV(b[c]) : (zi_t)0;\n"
    "for (int di = 0; di < 3; di++) {\n"
    "  const zi_i y = py + di - 1;\n"
    "  if (y < 0 || y >= (zi_i)H) continue;\n"
    "  const x_t *row = x + ((nn * (zi_i)H + y) * (zi_i)W) * (zi_i)C + c;\n"
    "  for (int dj = 0; dj < 3; dj++) {\n"
    "    const zi_i xx = px + dj - 1;\n"
    "    if (xx < 0 || xx >= (zi_i)W) continue;\n"
    "    acc += ZI_CV(row[xx * (zi_i)C]) * ZI_CV(w[(di * 3 + dj) * (zi_i)C + c]);\n"
    "  }\n"
    "}\n"
    "zmlx_store(out, i, acc);\n";

/* dx[h, w] = sum over taps of dy[h - i + 1, w - j + 1] w[i, j]. */
static const char dwconv_dx_body[] =
    "if (gid >= n) return;\n" SPLIT("H", "W")
    "zi_t acc = 0;\n"
    "for (int di = 0; di < 3; di++) {\n"
    "  const zi_i y = py - di + 1;\n"
    "  if (y < 0 || y >= (zi_i)H) continue;\n"
    "  const dy_t *row = dy + ((nn * (zi_i)H + y) * (zi_i)W) * (zi_i)C + c;\n"
    "  for (int dj = 0; dj < 3; dj++) {\n"
    "    const zi_i xx = px - dj + 1;\n"
    "    if (xx < 0 || xx >= (zi_i)W) continue;\n"
    "    acc += ZI_CV(row[xx * (zi_i)C]) * ZI_CV(w[(di * 3 + dj) * (zi_i)C + c]);\n"
    "  }\n"
    "}\n"
    "zmlx_store(dx, i, acc);\n";

/* Point (p, c): rows [p R, p R + R) of the N * H image rows. */
static const char dwconv_part_body[] =
    "if (gid >= n) return;\n"
    "const zi_i c = (zi_i)gid % (zi_i)C, p = (zi_i)gid / (zi_i)C;\n"
    "zi_t acc[10];\n"
    "for (int k = 0; k < 10; k++) acc[k] = 0;\n"
    "const zi_i r_end = (p + 1) * (zi_i)R < (zi_i)rows ? (p + 1) * (zi_i)R : (zi_i)rows;\n"
    "for (zi_i r = p * (zi_i)R; r < r_end; r++) {\n"
    "  const zi_i h = r % (zi_i)H, base = r - h;\n"
    "  const dy_t *g = dy + r * (zi_i)W * (zi_i)C + c;\n"
    "  for (zi_i xw = 0; xw < (zi_i)W; xw++) {\n"
    "    const zi_t gv = ZI_CV(g[xw * (zi_i)C]);\n"
    "    acc[9] += gv;\n"
    /* unrolled on CUDA, so acc[] stays in registers */
    "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
    "    for (int di = 0; di < 3; di++) {\n"
    "      const zi_i y = h + di - 1;\n"
    "      if (y < 0 || y >= (zi_i)H) continue;\n"
    "      const x_t *row = x + ((base + y) * (zi_i)W) * (zi_i)C + c;\n"
    "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
    "      for (int dj = 0; dj < 3; dj++) {\n"
    "        const zi_i xx = xw + dj - 1;\n"
    "        if (xx >= 0 && xx < (zi_i)W) acc[di * 3 + dj] += gv * ZI_CV(row[xx * (zi_i)C]);\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n"
    "for (int k = 0; k < 10; k++) part[(p * 10 + k) * (zi_i)C + c] = acc[k];\n";

static const char dwconv_sum_body[] =
    "if (gid >= n) return;\n"
    "const zi_i c = (zi_i)gid % (zi_i)C, k = (zi_i)gid / (zi_i)C;\n"
    "zi_t acc = 0;\n"
    "for (zi_i p = 0; p < (zi_i)P; p++) acc += ZI_CV(part[(p * 10 + k) * (zi_i)C + c]);\n"
    "if (k < 9) zmlx_store(dw, k * (zi_i)C + c, acc);\n"
    "else zmlx_store(db, c, acc);\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *kernels[ZI_KERNEL_COUNT];

zmlx_status zi_kernel(zi_kernel_id id, zmlx_kernel **out) {
  static const char *const rs_sc[] = {"n", "H", "W", "OH", "OW", "C", "align"};
  static const char *const dw_sc[] = {"n", "H", "W", "C", "has_bias"};
  static const char *const pt_sc[] = {"n", "rows", "H", "W", "C", "R"};
  static const char *const sm_sc[] = {"n", "P", "C"};
  static const zmlx_dtype i64[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                   ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  static const char *const in_x[] = {"x"}, *const in_dy[] = {"dy"};
  static const char *const in_xwb[] = {"x", "w", "b"}, *const in_dyw[] = {"dy", "w"};
  static const char *const in_xdy[] = {"x", "dy"}, *const in_part[] = {"part"};
  static const char *const o_out[] = {"out"}, *const o_dx[] = {"dx"}, *const o_part[] = {"part"};
  static const char *const o_dwdb[] = {"dw", "db"};
#define D(NAME, NI, IN, NO, OUT, NS, SC, BODY)                                                 \
  {.name = NAME, .n_inputs = NI, .input_names = IN, .n_outputs = NO, .output_names = OUT,     \
   .n_scalars = NS, .scalar_names = SC, .scalar_dtypes = i64, .source = BODY, .header = header}
  static const zmlx_kernel_desc descs[ZI_KERNEL_COUNT] = {
      [ZI_RESIZE] = D("resize_bilinear", 1, in_x, 1, o_out, 7, rs_sc, resize_body),
      [ZI_RESIZE_BWD] = D("resize_bilinear_bwd", 1, in_dy, 1, o_dx, 7, rs_sc, resize_bwd_body),
      [ZI_DWCONV] = D("dwconv3x3", 3, in_xwb, 1, o_out, 5, dw_sc, dwconv_body),
      [ZI_DWCONV_DX] = D("dwconv3x3_dx", 2, in_dyw, 1, o_dx, 4, dw_sc, dwconv_dx_body),
      [ZI_DWCONV_PART] = D("dwconv3x3_part", 2, in_xdy, 1, o_part, 6, pt_sc, dwconv_part_body),
      [ZI_DWCONV_SUM] = D("dwconv3x3_sum", 1, in_part, 2, o_dwdb, 3, sm_sc, dwconv_sum_body),
  };
#undef D
  if ((unsigned)id >= ZI_KERNEL_COUNT)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "image", "no kernel %d", (int)id);
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!kernels[id]) s = zmlx_kernel_create(&descs[id], &kernels[id]);
  *out = kernels[id];
  pthread_mutex_unlock(&lock);
  return s;
}

void zcat_image_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < ZI_KERNEL_COUNT; i++) {
    zmlx_kernel_destroy(kernels[i]);
    kernels[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}
