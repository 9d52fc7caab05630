/* The raw kernel of a scan: one task per row, TPR lanes per task (RPB
 * tasks per block). A row is walked in chunks of TPR * NV vectors; lane l
 * owns the NV consecutive vectors l * NV ... of each chunk:
 *
 *   1. load them (registers on CUDA) and fold them into the lane's total;
 *   2. an exclusive scan of the lane totals across the group (shuffles up
 *      within warps, shared memory across warps) gives each lane the
 *      combination of everything before it in the chunk, and the chunk's
 *      total;
 *   3. the lane replays its elements from carry + prefix, writing each
 *      result (before or after folding the element in: exclusive or
 *      inclusive), with 16-byte stores;
 *   4. carry absorbs the chunk's total.
 *
 * The CPU runs the lanes in order, carrying the running prefix from lane to
 * lane, over the same vectors. */
#include <stdio.h>
#include <string.h>

#include "author/red_internal.h"

static const char scan_text[] =
    "typedef struct __attribute__((aligned(VEC * sizeof(x_t)))) zr_xvec { x_t v[VEC]; } zr_xvec;\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(out_t)))) zr_ovec { out_t v[VEC]; } zr_ovec;\n"
    "ZMLX_FN void zr_update_vec(acc_t *acc, const zr_xvec b, long long v, const zr_scalars_t *zs) {\n"
    "  ZR_UNROLL\n"
    "  for (int e = 0; e < (int)VEC; e++) zr_update(acc, ZR_TOC(b.v[e]), v * VEC + e, zs);\n"
    "}\n"
    "/* Results for vector v, starting from run (which advances past it). */\n"
    "ZMLX_FN void zr_emit(out_t *q, const zr_xvec b, long long v, acc_t *run, const zr_scalars_t *zs) {\n"
    "  zr_ovec o;\n"
    "  ZR_UNROLL\n"
    "  for (int e = 0; e < (int)VEC; e++) {\n"
    "    const long long j = v * VEC + e;\n"
    "    if (EXCL) zmlx_store(o.v, e, zr_scan_out(*run, j));\n"
    "    zr_update(run, ZR_TOC(b.v[e]), j, zs);\n"
    "    if (!EXCL) zmlx_store(o.v, e, zr_scan_out(*run, j));\n"
    "  }\n"
    "  *(zr_ovec *)(q + v * VEC) = o;\n"
    "}\n"
    "#ifdef ZMLX_CUDA\n"
    "/* Exclusive scan of v over the TPR lanes of group grp: *excl gets the\n"
    " * combination of the lanes before this one (init for lane 0), *total\n"
    " * that of all lanes. combine(acc, other) always has other later. */\n"
    "ZMLX_FN void zr_group_scan(const acc_t v, int lane, int grp, acc_t *excl, acc_t *total) {\n"
    "  const int W = (int)(TPR < 32 ? TPR : 32), sl = lane & (W - 1);\n"
    "  acc_t inc = v;\n"
    "  ZR_UNROLL\n"
    "  for (int d = 1; d < W; d <<= 1) {\n"
    "    acc_t o = zr_shfl_up(inc, d, W);\n"
    "    if (sl >= d) { zr_combine(&o, inc); inc = o; }\n"
    "  }\n"
    "  acc_t ex = zr_shfl_up(inc, 1, W);\n"
    "  if (sl == 0) zr_init(&ex);\n"
    "#if TPR > 32\n"
    "  const int NW = (int)(TPR / 32), w = lane >> 5;\n"
    "  __shared__ acc_t zr_ssm[RPB][TPR / 32];\n"
    "  __shared__ acc_t zr_ssx[RPB][TPR / 32 + 1];\n"
    "  if (sl == 31) zr_ssm[grp][w] = inc;\n"
    "  __syncthreads();\n"
    "  if (w == 0) {\n"
    "    acc_t s;\n"
    "    if (sl < NW) s = zr_ssm[grp][sl]; else zr_init(&s);\n"
    "    for (int d = 1; d < NW; d <<= 1) {\n"
    "      acc_t o = zr_shfl_up(s, d, NW);\n"
    "      if ((sl & (NW - 1)) >= d) { zr_combine(&o, s); s = o; }\n"
    "    }\n"
    "    acc_t se = zr_shfl_up(s, 1, NW);\n"
    "    if ((sl & (NW - 1)) == 0) zr_init(&se);\n"
    "    if (sl < NW) zr_ssx[grp][sl] = se;\n"
    "    if (sl == NW - 1) zr_ssx[grp][NW] = s;\n"
    "  }\n"
    "  __syncthreads();\n"
    "  acc_t wp = zr_ssx[grp][w];\n"
    "  zr_combine(&wp, ex);\n"
    "  *excl = wp;\n"
    "  *total = zr_ssx[grp][NW];\n"
    "#else\n"
    "  *excl = ex;\n"
    "  *total = zr_shfl_idx(inc, W - 1, W);\n"
    "  (void)grp;\n"
    "#endif\n"
    "}\n"
    "#endif\n";

/* Scalars: _zM rows of _zR elements; the CPU's launch shape _zNK, _zTPR,
 * _zNV. */
static const char scan_body[] =
    "const zr_scalars_t _zsc = {0};\n"
    "const long long _znv = _zR / VEC;\n"
    "acc_t _zcarry;\n"
    "zr_init(&_zcarry);\n"
    "#ifdef ZMLX_CUDA\n"
    "const long long _zrow = gid / TPR;\n"
    "const int _zl = (int)(gid % TPR), _zok = _zrow < _zM;\n"
    "const zr_xvec *_zpv = (const zr_xvec *)(x + (_zok ? zr_kept_offset(_zrow, x_shape, x_strides, (int)NK) : 0));\n"
    "out_t *_zq = out + (_zok ? _zrow : 0) * _zR;\n"
    "for (long long _zc = 0; _zc * (TPR * NV) < _znv; _zc++) {\n"
    "  const long long _zv0 = _zc * (TPR * NV) + (long long)_zl * NV;\n"
    "  zr_xvec _zbuf[NV];\n"
    "  acc_t _ztot;\n"
    "  zr_init(&_ztot);\n"
    "  ZR_UNROLL\n"
    "  for (int _zk = 0; _zk < (int)NV; _zk++)\n"
    "    if (_zok && _zv0 + _zk < _znv) {\n"
    "      _zbuf[_zk] = _zpv[_zv0 + _zk];\n"
    "      zr_update_vec(&_ztot, _zbuf[_zk], _zv0 + _zk, &_zsc);\n"
    "    }\n"
    "  acc_t _zex, _zall;\n"
    "  zr_group_scan(_ztot, _zl, (int)(threadIdx.x / TPR), &_zex, &_zall);\n"
    "  acc_t _zrun = _zcarry;\n"
    "  zr_combine(&_zrun, _zex);\n"
    "  ZR_UNROLL\n"
    "  for (int _zk = 0; _zk < (int)NV; _zk++)\n"
    "    if (_zok && _zv0 + _zk < _znv) zr_emit(_zq, _zbuf[_zk], _zv0 + _zk, &_zrun, &_zsc);\n"
    "  zr_combine(&_zcarry, _zall);\n"
    "}\n"
    "#else\n"
    "const zr_xvec *_zpv = (const zr_xvec *)(x + zr_kept_offset(gid, x_shape, x_strides, (int)_zNK));\n"
    "out_t *_zq = out + gid * _zR;\n"
    "const long long _ztpr = _zTPR, _zch = _zTPR * _zNV;\n"
    "for (long long _zc = 0; _zc * _zch < _znv; _zc++)\n"
    "  for (long long _zl = 0; _zl < _ztpr; _zl++) {\n"
    "    const long long _zv0 = _zc * _zch + _zl * _zNV;\n"
    "    acc_t _ztot, _zrun = _zcarry;\n"
    "    zr_init(&_ztot);\n"
    "    for (long long _zv = _zv0; _zv < _zv0 + _zNV && _zv < _znv; _zv++) {\n"
    "      zr_update_vec(&_ztot, _zpv[_zv], _zv, &_zsc);\n"
    "      zr_emit(_zq, _zpv[_zv], _zv, &_zrun, &_zsc);\n"
    "    }\n"
    "    zr_combine(&_zcarry, _ztot);\n"
    "  }\n"
    "#endif\n";

char *zr_scan_header(const zr_expr *e) {
  char kname[256];
  snprintf(kname, sizeof kname, "%s_scan", e->name);
  zmlx_strbuf sb = {0};
  zr_emit_common(&sb, e, kname);
  zmlx_sb_append(&sb, "ZMLX_FN compute_t zr_scan_out(const acc_t acc, const long long idx) {\n"
                      "  compute_t out = 0;\n  (void)idx;\n");
  zr_emit_user(&sb, e, kname, "finalize", e->finalize ? e->finalize : "out = acc;");
  zmlx_sb_append(&sb, "  return out;\n}\n");
  zmlx_sb_append(&sb, zr_kept_offset_text);
  zmlx_sb_append(&sb, scan_text);
  return zmlx_sb_take(&sb);
}

char *zr_scan_body(void) { return strdup(scan_body); }
