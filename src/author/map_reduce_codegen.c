/* The raw kernel of a map_reduce: one task per row, TPR lanes per task
 * (RPB tasks per block), VEC elements per vector; rows are VEC-aligned
 * and a whole number of vectors (the launch picks VEC so).
 *
 *   ONCHIP  each lane loads its NV vectors (v = k * TPR + lane) once; on
 *           CUDA they stay in registers through the reduction and the
 *           writes, so the row is read once.
 *   else    streaming: the lanes walk the row with UNROLL loads in flight
 *           to reduce it, then walk it again to write.
 *
 * Between the passes the lanes' accumulators meet (zr_group_reduce gives
 * every lane the same bits) and finalize runs once per lane. The CPU runs
 * the lanes one after the other over the same vectors, reading the row
 * again for the writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"

static void emit_vec_types(zmlx_strbuf *sb, const zr_expr *e) {
  zmlx_sb_append(sb,
                 "typedef struct __attribute__((aligned(VEC * sizeof(x_t)))) zr_xvec { x_t v[VEC]; } zr_xvec;\n"
                 "typedef struct __attribute__((aligned(VEC * sizeof(out_t)))) zr_ovec { out_t v[VEC]; } zr_ovec;\n");
  for (int i = 0; i < e->n_params; i++)
    zmlx_sb_printf(sb,
                   "typedef struct __attribute__((aligned(VEC * sizeof(%s_t)))) zr_pvec_%s { %s_t v[VEC]; } zr_pvec_%s;\n",
                   e->param_names[i], e->param_names[i], e->param_names[i], e->param_names[i]);
}

static void emit_finalize_write(zmlx_strbuf *sb, const zr_expr *e, const char *kname) {
  zmlx_sb_append(sb, "ZMLX_FN void zr_mr_finalize(acc_t *_za, const long long n, const zr_scalars_t *_zs) {\n"
                     "  acc_t acc = *_za;\n  (void)n;\n");
  zr_emit_scalar_locals(sb, e);
  if (e->finalize) zr_emit_user(sb, e, kname, "finalize", e->finalize);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN compute_t zr_write(const acc_t *_za, const compute_t x, const long long idx,\n"
                     "                           const long long n, const compute_t *_zpv,\n"
                     "                           const zr_scalars_t *_zs) {\n"
                     "  const acc_t acc = *_za;\n  compute_t out = 0;\n"
                     "  (void)acc; (void)x; (void)idx; (void)n; (void)_zpv;\n");
  for (int i = 0; i < e->n_params; i++)
    zmlx_sb_printf(sb, "  const compute_t %s = _zpv[%d]; (void)%s;\n", e->param_names[i], i,
                   e->param_names[i]);
  zr_emit_scalar_locals(sb, e);
  zr_emit_user(sb, e, kname, "write", e->write);
  zmlx_sb_append(sb, "  return out;\n}\n");
}

/* `, const P_t *P` for each param (declarations) or `, P` (arguments). */
static void param_list(zmlx_strbuf *sb, const zr_expr *e, int decl) {
  for (int i = 0; i < e->n_params; i++)
    if (decl)
      zmlx_sb_printf(sb, ", const %s_t *%s", e->param_names[i], e->param_names[i]);
    else
      zmlx_sb_printf(sb, ", %s", e->param_names[i]);
}

/* zr_emit: writes vector _zv of a row (x already loaded). Its locals are
 * _z-prefixed: the user's param names are its arguments. */
static void emit_emit(zmlx_strbuf *sb, const zr_expr *e) {
  zmlx_sb_append(sb, "ZMLX_FN void zr_emit(out_t *_zq, const zr_xvec _zxv, long long _zv, const acc_t *_zacc,\n"
                     "                     long long _zn, const zr_scalars_t *_zs");
  param_list(sb, e, 1);
  zmlx_sb_append(sb, ") {\n");
  for (int i = 0; i < e->n_params; i++) {
    const char *n = e->param_names[i];
    zmlx_sb_printf(sb, "  const zr_pvec_%s _zpv_%s = *(const zr_pvec_%s *)(%s + _zv * VEC);\n"
                       "  compute_t _zpc_%s[VEC];\n  ZR_TOCV(VEC, _zpc_%s, _zpv_%s.v);\n",
                   n, n, n, n, n, n, n);
  }
  zmlx_sb_printf(sb, "  zr_ovec _zo;\n  compute_t _zx[VEC], _zc[VEC];\n  ZR_TOCV(VEC, _zx, _zxv.v);\n"
                     "  ZR_UNROLL\n  for (int _ze = 0; _ze < (int)VEC; _ze++) {\n"
                     "    compute_t _zp[%d];\n", e->n_params ? e->n_params : 1);
  for (int i = 0; i < e->n_params; i++)
    zmlx_sb_printf(sb, "    _zp[%d] = _zpc_%s[_ze];\n", i, e->param_names[i]);
  zmlx_sb_append(sb, "    _zc[_ze] = zr_write(_zacc, _zx[_ze], _zv * VEC + _ze, _zn, _zp, _zs);\n"
                     "  }\n  ZR_FROMCV(VEC, _zo.v, _zc);\n  *(zr_ovec *)(_zq + _zv * VEC) = _zo;\n}\n");
}

static const char lanes_text[] =
    "ZMLX_FN void zr_update_vec(acc_t *acc, const zr_xvec b, long long v, const zr_scalars_t *zs) {\n"
    "  compute_t c[VEC];\n"
    "  ZR_TOCV(VEC, c, b.v);\n"
    "  zr_update_many(acc, c, (int)VEC, v * VEC, zs);\n"
    "}\n"
    "/* Streaming pass 1: vectors lane, lane + tpr, ... of nvec. */\n"
    "ZMLX_FN void zr_stream_reduce(acc_t *acc, const zr_xvec *pv, long long nvec, int lane, int tpr,\n"
    "                              const zr_scalars_t *zs) {\n"
    "  long long v = lane;\n"
    "  for (; v + (UNROLL - 1) * tpr < nvec; v += UNROLL * tpr) {\n"
    "    zr_xvec b[UNROLL];\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) b[u] = pv[v + u * tpr];\n"
    "    ZR_UNROLL\n"
    "    for (int u = 0; u < (int)UNROLL; u++) zr_update_vec(acc, b[u], v + u * tpr, zs);\n"
    "  }\n"
    "  for (; v < nvec; v += tpr) zr_update_vec(acc, pv[v], v, zs);\n"
    "}\n";

/* Streaming pass 2, written per kernel for its params. */
static void emit_stream_write(zmlx_strbuf *sb, const zr_expr *e) {
  zmlx_sb_append(sb, "ZMLX_FN void zr_stream_write(out_t *_zq, const zr_xvec *_zpx, long long _znv, int _zl,\n"
                     "                             int _ztpr, const acc_t *_zacc, long long _zn,\n"
                     "                             const zr_scalars_t *_zs");
  param_list(sb, e, 1);
  zmlx_sb_append(sb, ") {\n  long long _zv = _zl;\n"
                     "  for (; _zv + (UNROLL - 1) * _ztpr < _znv; _zv += UNROLL * _ztpr) {\n"
                     "    zr_xvec _zb[UNROLL];\n    ZR_UNROLL\n"
                     "    for (int _zu = 0; _zu < (int)UNROLL; _zu++) _zb[_zu] = _zpx[_zv + _zu * _ztpr];\n"
                     "    ZR_UNROLL\n    for (int _zu = 0; _zu < (int)UNROLL; _zu++)\n"
                     "      zr_emit(_zq, _zb[_zu], _zv + _zu * _ztpr, _zacc, _zn, _zs");
  param_list(sb, e, 0);
  zmlx_sb_append(sb, ");\n  }\n  for (; _zv < _znv; _zv += _ztpr) zr_emit(_zq, _zpx[_zv], _zv, _zacc, _zn, _zs");
  param_list(sb, e, 0);
  zmlx_sb_append(sb, ");\n}\n");
}

/* text with every `from` replaced by `to` (malloc'd; NULL on OOM). */
static char *replace_all(const char *text, const char *from, const char *to) {
  zmlx_strbuf sb = {0};
  size_t nf = strlen(from);
  for (const char *p = text, *q; *p; p = q + nf) {
    q = strstr(p, from);
    if (!q) {
      zmlx_sb_append(&sb, p);
      break;
    }
    zmlx_sb_printf(&sb, "%.*s%s", (int)(q - p), p, to);
  }
  return zmlx_sb_take(&sb);
}

/* The first pass: a compute_t accumulator with its own statements, the
 * group reduction and streaming loop written for it. Its functions see the
 * scalars but not `pre`, which they are computing. */
static void emit_pre(zmlx_strbuf *sb, const zr_expr *e, const char *kname) {
  const char *locals_head = "  (void)_zs;\n";
  zmlx_sb_append(sb, "ZMLX_FN void zr_pre_init(compute_t *_za) {\n  compute_t acc;\n");
  zr_emit_user(sb, e, kname, "pre_init", e->pre_init);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_pre_update(compute_t *_za, const compute_t x, const long long idx,\n"
                     "                           const zr_scalars_t *_zs) {\n"
                     "  compute_t acc = *_za;\n  (void)x; (void)idx;\n");
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "  const compute_t %s = _zs->%s; (void)%s;\n", e->scalar_names[i],
                   e->scalar_names[i], e->scalar_names[i]);
  zmlx_sb_append(sb, locals_head);
  zr_emit_user(sb, e, kname, "pre_update", e->pre_update);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_pre_combine(compute_t *_za, const compute_t other) {\n"
                     "  compute_t acc = *_za;\n");
  zr_emit_user(sb, e, kname, "pre_combine", e->pre_combine);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_pre_finalize(compute_t *_za, const long long n, const zr_scalars_t *_zs) {\n"
                     "  compute_t acc = *_za;\n  (void)n;\n");
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "  const compute_t %s = _zs->%s; (void)%s;\n", e->scalar_names[i],
                   e->scalar_names[i], e->scalar_names[i]);
  zmlx_sb_append(sb, locals_head);
  if (e->pre_finalize && e->pre_finalize[0])
    zr_emit_user(sb, e, kname, "pre_finalize", e->pre_finalize);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb,
                 "ZMLX_FN void zr_pre_update_vec(compute_t *acc, const zr_xvec b, long long v, const zr_scalars_t *zs) {\n"
                 "  compute_t c[VEC];\n"
                 "  ZR_TOCV(VEC, c, b.v);\n"
                 "  ZR_UNROLL\n"
                 "  for (int e = 0; e < (int)VEC; e++) zr_pre_update(acc, c[e], v * VEC + e, zs);\n"
                 "}\n"
                 "ZMLX_FN void zr_pre_stream(compute_t *acc, const zr_xvec *pv, long long nvec, int lane, int tpr,\n"
                 "                           const zr_scalars_t *zs) {\n"
                 "  long long v = lane;\n"
                 "  for (; v + (UNROLL - 1) * tpr < nvec; v += UNROLL * tpr) {\n"
                 "    zr_xvec b[UNROLL];\n"
                 "    ZR_UNROLL\n"
                 "    for (int u = 0; u < (int)UNROLL; u++) b[u] = pv[v + u * tpr];\n"
                 "    ZR_UNROLL\n"
                 "    for (int u = 0; u < (int)UNROLL; u++) zr_pre_update_vec(acc, b[u], v + u * tpr, zs);\n"
                 "  }\n"
                 "  for (; v < nvec; v += tpr) zr_pre_update_vec(acc, pv[v], v, zs);\n"
                 "}\n");
  char *a = replace_all(zr_group_reduce_text, "acc_t", "compute_t");
  char *b = a ? replace_all(a, "zr_combine", "zr_pre_combine") : NULL;
  char *c = b ? replace_all(b, "zr_group_reduce", "zr_pre_group_reduce") : NULL;
  char *d = c ? replace_all(c, "zr_gsm", "zr_pre_gsm") : NULL;
  if (d) zmlx_sb_append(sb, d);
  else sb->failed = 1;
  free(a);
  free(b);
  free(c);
  free(d);
}

char *zr_map_reduce_header(const zr_expr *e) {
  char kname[256];
  snprintf(kname, sizeof kname, "%s_mr", e->name);
  zmlx_strbuf sb = {0};
  zr_emit_common(&sb, e, kname);
  emit_vec_types(&sb, e);
  zmlx_sb_append(&sb, zr_kept_offset_text);
  zmlx_sb_append(&sb, zr_group_reduce_text);
  emit_finalize_write(&sb, e, kname);
  emit_emit(&sb, e);
  zmlx_sb_append(&sb, lanes_text);
  emit_stream_write(&sb, e);
  if (e->pre_init) emit_pre(&sb, e, kname);
  return zmlx_sb_take(&sb);
}

/* Scalars besides the user's: _zM rows of _zR elements; the CPU's launch
 * shape _zNK, _zTPR, _zNV. */
char *zr_map_reduce_body(const zr_expr *e) {
  zmlx_strbuf sb = {0};
  zr_emit_scalars_init(&sb, e);
  zmlx_sb_append(&sb,
                 "const long long _znv = _zR / VEC;\n"
                 "acc_t _za;\n"
                 "zr_init(&_za);\n"
                 "#ifdef ZMLX_CUDA\n"
                 "const long long _zrow = gid / TPR;\n"
                 "const int _zl = (int)(gid % TPR), _zok = _zrow < _zM;\n"
                 "const zr_xvec *_zpv = (const zr_xvec *)(x + (_zok ? zr_kept_offset(_zrow, x_shape, x_strides, (int)NK) : 0));\n"
                 "out_t *_zq = out + (_zok ? _zrow : 0) * _zR;\n"
                 "#if ONCHIP\n"
                 "zr_xvec _zbuf[NV];\n"
                 "ZR_UNROLL\n"
                 "for (int _zk = 0; _zk < (int)NV; _zk++) {\n"
                 "  const long long _zv = (long long)_zk * TPR + _zl;\n"
                 "  if (_zok && _zv < _znv) _zbuf[_zk] = _zpv[_zv];\n"
                 "}\n"
                 "#endif\n");
  if (e->pre_init)
    zmlx_sb_append(&sb,
                   "{\n"
                   "  compute_t _zpa;\n"
                   "  zr_pre_init(&_zpa);\n"
                   "#if ONCHIP\n"
                   "  ZR_UNROLL\n"
                   "  for (int _zk = 0; _zk < (int)NV; _zk++) {\n"
                   "    const long long _zv = (long long)_zk * TPR + _zl;\n"
                   "    if (_zok && _zv < _znv) zr_pre_update_vec(&_zpa, _zbuf[_zk], _zv, &_zsc);\n"
                   "  }\n"
                   "#else\n"
                   "  if (_zok) zr_pre_stream(&_zpa, _zpv, _znv, _zl, (int)TPR, &_zsc);\n"
                   "#endif\n"
                   "  zr_pre_group_reduce(&_zpa, _zl, (int)(threadIdx.x / TPR));\n"
                   "  zr_pre_finalize(&_zpa, _zR, &_zsc);\n"
                   "  _zsc._zpre = _zpa;\n"
                   "}\n");
  zmlx_sb_append(&sb,
                 "#if ONCHIP\n"
                 "ZR_UNROLL\n"
                 "for (int _zk = 0; _zk < (int)NV; _zk++) {\n"
                 "  const long long _zv = (long long)_zk * TPR + _zl;\n"
                 "  if (_zok && _zv < _znv) zr_update_vec(&_za, _zbuf[_zk], _zv, &_zsc);\n"
                 "}\n"
                 "#else\n"
                 "if (_zok) zr_stream_reduce(&_za, _zpv, _znv, _zl, (int)TPR, &_zsc);\n"
                 "#endif\n"
                 "zr_group_reduce(&_za, _zl, (int)(threadIdx.x / TPR));\n"
                 "zr_mr_finalize(&_za, _zR, &_zsc);\n"
                 "#if ONCHIP\n"
                 "ZR_UNROLL\n"
                 "for (int _zk = 0; _zk < (int)NV; _zk++) {\n"
                 "  const long long _zv = (long long)_zk * TPR + _zl;\n"
                 "  if (_zok && _zv < _znv) zr_emit(_zq, _zbuf[_zk], _zv, &_za, _zR, &_zsc");
  param_list(&sb, e, 0);
  zmlx_sb_append(&sb, ");\n"
                      "}\n"
                      "#else\n"
                      "if (_zok) zr_stream_write(_zq, _zpv, _znv, _zl, (int)TPR, &_za, _zR, &_zsc");
  param_list(&sb, e, 0);
  zmlx_sb_append(&sb, ");\n"
                      "#endif\n"
                      "#else\n"
                      "const zr_xvec *_zpv = (const zr_xvec *)(x + zr_kept_offset(gid, x_shape, x_strides, (int)_zNK));\n"
                      "out_t *_zq = out + gid * _zR;\n"
                      "const int _ztpr = (int)_zTPR;\n");
  if (e->pre_init)
    zmlx_sb_append(&sb,
                   "{\n"
                   "  compute_t _zpa;\n"
                   "  zr_pre_init(&_zpa);\n"
                   "  for (int _zl = 0; _zl < _ztpr; _zl++) {\n"
                   "    compute_t _zpp;\n"
                   "    zr_pre_init(&_zpp);\n"
                   "    if (ONCHIP)\n"
                   "      for (long long _zk = 0; _zk < _zNV; _zk++) {\n"
                   "        const long long _zv = _zk * _ztpr + _zl;\n"
                   "        if (_zv < _znv) zr_pre_update_vec(&_zpp, _zpv[_zv], _zv, &_zsc);\n"
                   "      }\n"
                   "    else\n"
                   "      zr_pre_stream(&_zpp, _zpv, _znv, _zl, _ztpr, &_zsc);\n"
                   "    zr_pre_combine(&_zpa, _zpp);\n"
                   "  }\n"
                   "  zr_pre_finalize(&_zpa, _zR, &_zsc);\n"
                   "  _zsc._zpre = _zpa;\n"
                   "}\n");
  zmlx_sb_append(&sb, ""
                      "for (int _zl = 0; _zl < _ztpr; _zl++) {\n"
                      "  acc_t _zp;\n"
                      "  zr_init(&_zp);\n"
                      "  if (ONCHIP)\n"
                      "    for (long long _zk = 0; _zk < _zNV; _zk++) {\n"
                      "      const long long _zv = _zk * _ztpr + _zl;\n"
                      "      if (_zv < _znv) zr_update_vec(&_zp, _zpv[_zv], _zv, &_zsc);\n"
                      "    }\n"
                      "  else\n"
                      "    zr_stream_reduce(&_zp, _zpv, _znv, _zl, _ztpr, &_zsc);\n"
                      "  zr_combine(&_za, _zp);\n"
                      "}\n"
                      "zr_mr_finalize(&_za, _zR, &_zsc);\n"
                      "for (int _zl = 0; _zl < _ztpr; _zl++) {\n"
                      "  if (ONCHIP) {\n"
                      "    for (long long _zk = 0; _zk < _zNV; _zk++) {\n"
                      "      const long long _zv = _zk * _ztpr + _zl;\n"
                      "      if (_zv < _znv) zr_emit(_zq, _zpv[_zv], _zv, &_za, _zR, &_zsc");
  param_list(&sb, e, 0);
  zmlx_sb_append(&sb, ");\n"
                      "    }\n"
                      "  } else {\n"
                      "    zr_stream_write(_zq, _zpv, _znv, _zl, _ztpr, &_za, _zR, &_zsc");
  param_list(&sb, e, 0);
  zmlx_sb_append(&sb, ");\n"
                      "  }\n"
                      "}\n"
                      "#endif\n");
  return zmlx_sb_take(&sb);
}
