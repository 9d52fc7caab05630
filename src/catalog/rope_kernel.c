/* The rope kernel: one body for rope, rope_qk, their backwards and
 * rope_kv_cache. It rotates up to two "parts" (q and k, or k and v, where
 * a part with R = 0 is only copied) in one launch; the grid runs part a's
 * work items, then part b's.
 *
 * fast (contiguous parts, 16-byte aligned vectors): an item is a token, a
 * group of HPT heads and a chunk of VEC pairs (half layout: a vector at i
 * and one at i + R/2; interleaved: one vector of VEC/2 pairs) or of VEC
 * passed-through values. Its cosines and sines are computed once and used
 * for the HPT heads, whose vectors are all loaded before any is stored.
 * Otherwise an item is one pair (or one passed value) of one head, with
 * any input strides. Outputs are C-contiguous; with cache, token n's row
 * is its position (rows outside [0, rows_out) are skipped). */
#include "catalog/rope_internal.h"

static const char rope_header[] =
    ZCAT_DIV_TEXT
    "#if F64\n"
    "typedef double zr_c;\n"
    "#define ZR_LD(v) zmlx_tod(v)\n"
    "#else\n"
    "typedef float zr_c;\n"
    "#define ZR_LD(v) zmlx_tof(v)\n"
    "#endif\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(a_t)))) { a_t v[VEC]; } zr_vec;\n"
    /* The angle p * f in double, reduced to [-pi, pi] before a float sine
     * and cosine: accurate at any position. */
    "ZMLX_FN void zr_cs(long long p, double f, double scale, double sign, zr_c *c, zr_c *s) {\n"
    "  const double a = (double)p * f;\n"
    "#if F64\n"
    "  *c = (zr_c)(cos(a) * scale);\n"
    "  *s = (zr_c)(sin(a) * scale * sign);\n"
    "#else\n"
    "  const double k = rint(a * 0.15915494309189535);\n"
    "  const float r = (float)fma(-k, 6.283185307179586, a);\n"
    "#ifdef ZMLX_CUDA\n"
    "  float sn, cs;\n"
    "  __sincosf(r, &sn, &cs);\n"
    "#else\n"
    "  const float sn = sinf(r), cs = cosf(r);\n"
    "#endif\n"
    "  *c = cs * (float)scale;\n"
    "  *s = sn * (float)(scale * sign);\n"
    "#endif\n"
    "}\n"
    /* Token n's position: positions[n], or offset + its index along the
     * last leading axis. */
    "ZMLX_FN long long zr_pos(const pos_t *pos, long long n, long long offset, long long tlen) {\n"
    "#if POS\n"
    "  (void)offset, (void)tlen;\n"
    "  return (long long)pos[n];\n"
    "#else\n"
    "  (void)pos;\n"
    "  return offset + (n - ZDIV(n, tlen) * tlen);\n"
    "#endif\n"
    "}\n";

static const char rope_body[] =
    "long long it = gid;\n"
    "const int pb = it >= items_a;\n"
    "if (pb) it -= items_a;\n"
    "const int H = pb ? Hb : Ha, D = pb ? Db : Da, R = pb ? Rb : Ra, hr = R / 2;\n"
    "const a_t *src = pb ? b : a;\n"
    "ao_t *dst = pb ? bo : ao;\n"
    "if (fast) {\n"
    "  const int crot = LAYOUT == 0 ? R / (2 * VEC) : R / VEC;\n"
    "  const int C = crot + (D - R) / VEC;\n"
    "  const long long GC = (long long)((H + HPT - 1) / HPT) * C;\n"
    "  const long long n = ZDIV(it, GC);\n"
    "  const int gc = (int)(it - n * GC), g = gc / C, c = gc - g * C;\n"
    "  const long long p = zr_pos(pos, n, offset, tlen), orow = cache ? p : n;\n"
    "  if (cache && (orow < 0 || orow >= rows_out)) return;\n"
    "  zr_vec u[HPT], w[HPT];\n"
    "  if (c < crot) {\n"
    "    const int np = LAYOUT == 0 ? VEC : VEC / 2, i0 = c * np;\n"
    "    const int d1 = LAYOUT == 0 ? i0 : 2 * i0;\n"
    "    zr_c cs[VEC], sn[VEC];\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "    for (int k = 0; k < np; k++) zr_cs(p, (double)inv[i0 + k], scale, sign, &cs[k], &sn[k]);\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "    for (int j = 0; j < HPT; j++) {\n"
    "      const int h = g * HPT + j;\n"
    "      if (h < H) {\n"
    "        const a_t *x = src + (n * H + h) * D;\n"
    "        u[j] = *(const zr_vec *)(x + d1);\n"
    "        if (LAYOUT == 0) w[j] = *(const zr_vec *)(x + hr + i0);\n"
    "      }\n"
    "    }\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "    for (int j = 0; j < HPT; j++) {\n"
    "      const int h = g * HPT + j;\n"
    "      if (h >= H) break;\n"
    "      ao_t *y = dst + (orow * H + h) * D;\n"
    "      zr_vec ou, ow;\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "      for (int k = 0; k < np; k++) {\n"
    "        const zr_c x1 = ZR_LD(LAYOUT == 0 ? u[j].v[k] : u[j].v[2 * k]);\n"
    "        const zr_c x2 = ZR_LD(LAYOUT == 0 ? w[j].v[k] : u[j].v[2 * k + 1]);\n"
    "        const zr_c y1 = x1 * cs[k] - x2 * sn[k], y2 = x2 * cs[k] + x1 * sn[k];\n"
    "        if (LAYOUT == 0) {\n"
    "          zmlx_store(ou.v, k, y1);\n"
    "          zmlx_store(ow.v, k, y2);\n"
    "        } else {\n"
    "          zmlx_store(ou.v, 2 * k, y1);\n"
    "          zmlx_store(ou.v, 2 * k + 1, y2);\n"
    "        }\n"
    "      }\n"
    "      *(zr_vec *)(y + d1) = ou;\n"
    "      if (LAYOUT == 0) *(zr_vec *)(y + hr + i0) = ow;\n"
    "    }\n"
    "  } else {\n"
    "    const int d0 = R + (c - crot) * VEC;\n"
    "#ifdef ZMLX_CUDA\n"
    "#pragma unroll\n"
    "#endif\n"
    "    for (int j = 0; j < HPT; j++) {\n"
    "      const int h = g * HPT + j;\n"
    "      if (h < H) u[j] = *(const zr_vec *)(src + (n * H + h) * D + d0);\n"
    "    }\n"
    "    for (int j = 0; j < HPT; j++) {\n"
    "      const int h = g * HPT + j;\n"
    "      if (h < H) *(zr_vec *)(dst + (orow * H + h) * D + d0) = u[j];\n"
    "    }\n"
    "  }\n"
    "} else {\n"
    "  const int P = hr + (D - R);\n"
    "  const long long row = ZDIV(it, P);\n"
    "  const int s = (int)(it - row * P);\n"
    "  const long long n = ZDIV(row, H);\n"
    "  const int h = (int)(row - n * H);\n"
    "  const long long p = zr_pos(pos, n, offset, tlen), orow = cache ? p : n;\n"
    "  if (cache && (orow < 0 || orow >= rows_out)) return;\n"
    "  const int nd = pb ? b_ndim : a_ndim;\n"
    "  const long long *shp = pb ? b_shape : a_shape, *str = pb ? b_strides : a_strides;\n"
    "  const long long base = zmlx_offset(n, nd - 2, shp, str) + h * str[nd - 2], sd = str[nd - 1];\n"
    "  ao_t *y = dst + (orow * H + h) * D;\n"
    "  if (s < hr) {\n"
    "    const int d1 = LAYOUT == 0 ? s : 2 * s, d2 = LAYOUT == 0 ? s + hr : 2 * s + 1;\n"
    "    zr_c cs, sn;\n"
    "    zr_cs(p, (double)inv[s], scale, sign, &cs, &sn);\n"
    "    const zr_c x1 = ZR_LD(src[base + d1 * sd]), x2 = ZR_LD(src[base + d2 * sd]);\n"
    "    zmlx_store(y, d1, x1 * cs - x2 * sn);\n"
    "    zmlx_store(y, d2, x2 * cs + x1 * sn);\n"
    "  } else {\n"
    "    const int d = R + (s - hr);\n"
    "    y[d] = src[base + d * sd];\n"
    "  }\n"
    "}\n";

static zcat_raw_slot slot;

zmlx_status zcat_rope_kernel(zmlx_kernel **out) {
  static const char *const ins[] = {"a", "b", "inv", "pos"}, *const outs[] = {"ao", "bo"};
  static const char *const scs[] = {"items_a", "Ha", "Da", "Ra", "Hb", "Db", "Rb",
                                    "tlen", "offset", "rows_out", "scale", "sign",
                                    "fast", "cache"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I32, ZMLX_DTYPE_I32, ZMLX_DTYPE_I32,
                                   ZMLX_DTYPE_I32, ZMLX_DTYPE_I32, ZMLX_DTYPE_I32, ZMLX_DTYPE_I64,
                                   ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_F64, ZMLX_DTYPE_F64,
                                   ZMLX_DTYPE_I32, ZMLX_DTYPE_I32};
  zmlx_kernel_desc d = {.name = "rope", .n_inputs = 4, .input_names = ins, .n_outputs = 2,
                        .output_names = outs, .n_scalars = ZR_N_SCALARS, .scalar_names = scs,
                        .scalar_dtypes = sct, .source = rope_body, .header = rope_header};
  return zcat_raw_get(&slot, &d, out);
}
