/* Raw kernel bodies for reductions. Three kernels per zmlx_reduce:
 *
 *   row  the reduced elements of each output are one contiguous run. TPR
 *        lanes per row (RPB rows per block): a scalar head up to 16-byte
 *        alignment, VEC-wide loads with UNROLL in flight, a scalar tail,
 *        then a butterfly and shared-memory combine across the lanes.
 *   col  the last kept dimension is contiguous: each thread owns VEC
 *        adjacent outputs (16 bytes of input per load) and walks the
 *        reduced dimensions (any strides) with RY threads per column group
 *        interleaved; CX column groups per block; the RY partials meet in
 *        shared memory.
 *   fin  the second pass of a split: combines the S partial accumulators
 *        of each output and finalizes.
 *
 * A "task" is one (output, segment) pair; with PARTIAL the row and col
 * kernels store the task's accumulator into slot seg * M + output of a
 * byte buffer instead of finalizing, and fin reads them back.
 *
 * On the CPU each grid point is one task and runs the lanes one after the
 * other, so the CPU walks exactly the element partition the GPU does. */
#include <stdio.h>
#include <string.h>

#include "author/red_internal.h"

static const char vec_text[] =
    "typedef struct __attribute__((aligned(VEC * sizeof(x_t)))) zr_xvec { x_t v[VEC]; } zr_xvec;\n";

static const char store_text[] =
    "ZMLX_FN void zr_store(out_t *out, long long o, long long seg, long long M, long long n,\n"
    "                      const acc_t a) {\n"
    "#if PARTIAL\n"
    "  ((acc_t *)(void *)out)[seg * M + o] = a;\n"
    "  (void)n;\n"
    "#else\n"
    "  zmlx_store(out, o, zr_finalize(a, n));\n"
    "  (void)seg; (void)M;\n"
    "#endif\n"
    "}\n";

static const char row_text[] =
    "/* Elements [lo, hi) of the row at p, as lane `lane` of tpr sees them. */\n"
    "ZMLX_FN void zr_row_lane(acc_t *acc, const x_t *p, long long lo, long long hi, int lane,\n"
    "                         int tpr, const zr_scalars_t *zs) {\n"
    "  long long head = lo;\n"
    "#if VEC > 1\n"
    "  {\n"
    "    const long long mis = (long long)(((unsigned long long)(p + lo) / sizeof(x_t)) % VEC);\n"
    "    head = lo + (mis ? VEC - mis : 0);\n"
    "    if (head > hi) head = hi;\n"
    "  }\n"
    "#endif\n"
    "  for (long long j = lo + lane; j < head; j += tpr) zr_update(acc, ZR_TOC(p[j]), j, zs);\n"
    "  const long long nv = (hi - head) / VEC;\n"
    "  const zr_xvec *pv = (const zr_xvec *)(p + head);\n"
    "  long long v = lane;\n"
    "  for (; v + (UNROLL - 1) * tpr < nv; v += UNROLL * tpr) {\n"
    "    zr_xvec b[UNROLL];\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) b[u] = pv[v + u * tpr];\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) {\n"
    "      compute_t c[VEC];\n"
    "      ZR_TOCV(VEC, c, b[u].v);\n"
    "      zr_update_many(acc, c, (int)VEC, head + (v + u * tpr) * VEC, zs);\n"
    "    }\n"
    "  }\n"
    "  for (; v < nv; v += tpr) {\n"
    "    const zr_xvec b = pv[v];\n"
    "    compute_t c[VEC];\n"
    "    ZR_TOCV(VEC, c, b.v);\n"
    "    zr_update_many(acc, c, (int)VEC, head + v * VEC, zs);\n"
    "  }\n"
    "  for (long long j = head + nv * VEC + lane; j < hi; j += tpr) zr_update(acc, ZR_TOC(p[j]), j, zs);\n"
    "}\n"
    "/* Task t = row * S + seg covers [seg * L, min(R, (seg + 1) * L)) of its row. */\n"
    "ZMLX_FN void zr_row_task(acc_t *acc, const x_t *x, const long long *shape,\n"
    "                         const long long *strides, int nk, long long t, int lane, int tpr,\n"
    "                         long long S, long long L, long long R, const zr_scalars_t *zs) {\n"
    "  const long long row = t / S, seg = t - row * S;\n"
    "  const long long lo = seg * L, hi = lo + L < R ? lo + L : R;\n"
    "  zr_row_lane(acc, x + zr_kept_offset(row, shape, strides, nk), lo, hi, lane, tpr, zs);\n"
    "}\n";

/* Launch-shape constants: templates on CUDA, scalars on the CPU. */
static const char shape_macros[] =
    "#ifdef ZMLX_CUDA\n"
    "#define ZR_SHAPE(T, S) ((int)(T))\n"
    "#else\n"
    "#define ZR_SHAPE(T, S) ((int)(S))\n"
    "#endif\n";

static const char row_body[] =
    "const zr_scalars_t _zsc = {0};\n"
    "const long long _zn = _zM * _zS;\n"
    "acc_t _za;\n"
    "zr_init(&_za);\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long _zt = gid / TPR;\n"
    "const int _zl = (int)(gid % TPR);\n"
    "if (_zt < _zn)\n"
    "  zr_row_task(&_za, x, x_shape, x_strides, ZR_SHAPE(NK, _zNK), _zt, _zl, ZR_SHAPE(TPR, _zTPR),\n"
    "              _zS, _zL, _zR, &_zsc);\n"
    "zr_group_reduce(&_za, _zl, (int)(threadIdx.x / TPR));\n"
    "if (_zl == 0 && _zt < _zn)\n"
    "#else\n"
    "const long long _zt = gid;\n"
    "for (int _zl = 0; _zl < (int)_zTPR; _zl++) {\n"
    "  acc_t _zp;\n"
    "  zr_init(&_zp);\n"
    "  zr_row_task(&_zp, x, x_shape, x_strides, (int)_zNK, _zt, _zl, (int)_zTPR, _zS, _zL, _zR, &_zsc);\n"
    "  zr_combine(&_za, _zp);\n"
    "}\n"
    "#endif\n"
    "  zr_store(out, _zt / _zS, _zt % _zS, _zM, _zR, _za);\n";

static const char col_text[] =
    "ZMLX_FN long long zr_red_offset(long long r, const long long *shape, const long long *strides,\n"
    "                                int nk, int nr) {\n"
    "  if (nr == 1) return r * strides[nk];\n"
    "  long long off = 0;\n"
    "  for (int d = nk + nr - 1; d >= nk; d--) {\n"
    "    const long long q = r / shape[d];\n"
    "    off += (r - q * shape[d]) * strides[d];\n"
    "    r = q;\n"
    "  }\n"
    "  return off;\n"
    "}\n"
    "/* VEC adjacent outputs starting at p: reduced rows lo + ty, lo + ty + ry, ... < hi. */\n"
    "ZMLX_FN void zr_col_lane(acc_t *acc, const x_t *p, long long lo, long long hi, int ty, int ry,\n"
    "                         const long long *shape, const long long *strides, int nk, int nr,\n"
    "                         const zr_scalars_t *zs) {\n"
    "  long long r = lo + ty;\n"
    "  for (; r + (UNROLL - 1) * ry < hi; r += UNROLL * ry) {\n"
    "    zr_xvec b[UNROLL];\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++)\n"
    "      b[u] = *(const zr_xvec *)(p + zr_red_offset(r + u * ry, shape, strides, nk, nr));\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) {\n"
    "      ZR_UNROLL\n"
    "      for (int e = 0; e < (int)VEC; e++) zr_update(&acc[e], ZR_TOC(b[u].v[e]), r + u * ry, zs);\n"
    "    }\n"
    "  }\n"
    "  for (; r < hi; r += ry) {\n"
    "    const zr_xvec b = *(const zr_xvec *)(p + zr_red_offset(r, shape, strides, nk, nr));\n"
    "    ZR_UNROLL\n"
    "    for (int e = 0; e < (int)VEC; e++) zr_update(&acc[e], ZR_TOC(b.v[e]), r, zs);\n"
    "  }\n"
    "}\n";

/* Scalars: _zM outputs, _zC length of the contiguous kept dimension, _zG
 * = _zC / VEC column groups, _zT groups per outer index as the launch
 * tiles them (CUDA: ceil(G / CX); CPU: G), _zR reduced elements, _zS
 * segments of _zL, and the CPU's launch shape (_zNK, _zNR, _zRY). */
static const char col_body[] =
    "const zr_scalars_t _zsc = {0};\n"
    "acc_t _za[VEC];\n"
    "ZR_UNROLL\n"
    "for (int _ze = 0; _ze < (int)VEC; _ze++) zr_init(&_za[_ze]);\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long _zb = gid / (CX * RY);\n"
    "const int _zi = (int)(gid % (CX * RY)), _ztx = _zi % (int)CX, _zty = _zi / (int)CX;\n"
    "const long long _zseg = _zb % _zS, _zrest = _zb / _zS;\n"
    "const long long _zg = (_zrest % _zT) * CX + _ztx;\n"
    "#else\n"
    "const long long _zseg = gid % _zS, _zrest = gid / _zS;\n"
    "const long long _zg = _zrest % _zT;\n"
    "#endif\n"
    "const long long _zo = (_zrest / _zT) * _zC + _zg * VEC;\n"
    "const int _zok = _zg < _zG;\n"
    "const long long _zlo = _zseg * _zL, _zhi = _zlo + _zL < _zR ? _zlo + _zL : _zR;\n"
    "const int _znk = ZR_SHAPE(NK, _zNK), _znr = ZR_SHAPE(NR, _zNR), _zry = ZR_SHAPE(RY, _zRY);\n"
    "const x_t *_zp = _zok ? x + zr_kept_offset(_zo, x_shape, x_strides, _znk) : x;\n"
    "#ifdef ZMLX_CUDA\n"
    "if (_zok) zr_col_lane(_za, _zp, _zlo, _zhi, _zty, _zry, x_shape, x_strides, _znk, _znr, &_zsc);\n"
    "__shared__ acc_t _zsm[RY][CX];\n"
    "ZR_UNROLL\n"
    "for (int _ze = 0; _ze < (int)VEC; _ze++) {\n"
    "  _zsm[_zty][_ztx] = _za[_ze];\n"
    "  __syncthreads();\n"
    "  if (_zty == 0)\n"
    "    for (int _zk = 1; _zk < (int)RY; _zk++) zr_combine(&_za[_ze], _zsm[_zk][_ztx]);\n"
    "  __syncthreads();\n"
    "}\n"
    "if (_zty == 0 && _zok)\n"
    "#else\n"
    "for (int _zty = 0; _zty < _zry; _zty++) {\n"
    "  acc_t _zq[VEC];\n"
    "  for (int _ze = 0; _ze < (int)VEC; _ze++) zr_init(&_zq[_ze]);\n"
    "  zr_col_lane(_zq, _zp, _zlo, _zhi, _zty, _zry, x_shape, x_strides, _znk, _znr, &_zsc);\n"
    "  for (int _ze = 0; _ze < (int)VEC; _ze++) zr_combine(&_za[_ze], _zq[_ze]);\n"
    "}\n"
    "if (_zok)\n"
    "#endif\n"
    "  for (int _ze = 0; _ze < (int)VEC; _ze++) zr_store(out, _zo + _ze, _zseg, _zM, _zR, _za[_ze]);\n";

static const char fin_body[] =
    "const acc_t *_zpa = (const acc_t *)(const void *)_zparts;\n"
    "acc_t _za;\n"
    "zr_init(&_za);\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long _zt = gid / TPR;\n"
    "const int _zl = (int)(gid % TPR);\n"
    "if (_zt < _zM)\n"
    "  for (long long _zs = _zl; _zs < _zS; _zs += TPR) zr_combine(&_za, _zpa[_zs * _zM + _zt]);\n"
    "zr_group_reduce(&_za, _zl, (int)(threadIdx.x / TPR));\n"
    "if (_zl == 0 && _zt < _zM)\n"
    "#else\n"
    "const long long _zt = gid;\n"
    "for (int _zl = 0; _zl < (int)_zTPR; _zl++) {\n"
    "  acc_t _zp;\n"
    "  zr_init(&_zp);\n"
    "  for (long long _zs = _zl; _zs < _zS; _zs += _zTPR) zr_combine(&_zp, _zpa[_zs * _zM + _zt]);\n"
    "  zr_combine(&_za, _zp);\n"
    "}\n"
    "#endif\n"
    "  zmlx_store(out, _zt, zr_finalize(_za, _zR));\n";

static void emit_finalize(zmlx_strbuf *sb, const zr_expr *e, const char *kname) {
  zmlx_sb_append(sb, "ZMLX_FN result_t zr_finalize(const acc_t acc, const long long n) {\n"
                     "  result_t out = 0;\n  (void)n;\n");
  zr_emit_user(sb, e, kname, "finalize", e->finalize ? e->finalize : "out = acc;");
  zmlx_sb_append(sb, "  return out;\n}\n");
}

static char *kname_of(const zr_expr *e, const char *suffix, char *buf, size_t len) {
  snprintf(buf, len, "%s_%s", e->name, suffix);
  return buf;
}

/* The header of the `suffix` kernel ("row", "col" or "fin"). */
char *zr_reduce_header(const zr_expr *e, const char *suffix) {
  char kname[256];
  kname_of(e, suffix, kname, sizeof kname);
  zmlx_strbuf sb = {0};
  zr_emit_common(&sb, e, kname);
  zmlx_sb_append(&sb, shape_macros);
  emit_finalize(&sb, e, kname);
  if (suffix[0] != 'f') {
    zmlx_sb_append(&sb, vec_text);
    zmlx_sb_append(&sb, zr_kept_offset_text);
    zmlx_sb_append(&sb, store_text);
  }
  if (suffix[0] != 'c') zmlx_sb_append(&sb, zr_group_reduce_text);
  if (suffix[0] == 'r') zmlx_sb_append(&sb, row_text);
  if (suffix[0] == 'c') zmlx_sb_append(&sb, col_text);
  return zmlx_sb_take(&sb);
}

char *zr_reduce_body(const char *suffix) {
  const char *b = suffix[0] == 'r' ? row_body : suffix[0] == 'c' ? col_body : fin_body;
  return strdup(b);
}
