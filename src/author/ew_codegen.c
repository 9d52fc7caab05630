/* Elementwise kernels are written as raw kernel bodies. Two bodies per
 * kernel:
 *   fast     every input is dense, a row vector (i % M), a column vector
 *            (i / M) or a scalar; VEC elements per grid point through
 *            aligned vector loads and stores, scalar tail
 *   general  any strides: coordinates from the (collapsed) output shape,
 *            NDIM unrolled at compile time
 * Inside, each user name becomes a compute-type local; the arrays are
 * reached through _zp<name> aliases so the locals may shadow them. */
#include "author/ew_internal.h"

#include <stdio.h>

static void loads_scalar(zmlx_strbuf *sb, const zmlx_elementwise_desc *d, const char *ct,
                         const char *conv, const char *index_fmt) {
  for (int i = 0; i < d->n_inputs; i++) {
    const char *n = d->input_names[i];
    zmlx_sb_printf(sb, "    const %s %s = (%s)%s(_zp%s[", ct, n, ct, conv, n);
    zmlx_sb_printf(sb, index_fmt, n, n, n, n, n, n, n, n);
    zmlx_sb_append(sb, "]);\n");
  }
}

static void declare_outputs(zmlx_strbuf *sb, const zmlx_elementwise_desc *d, const char *ct) {
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(sb, "    %s %s = 0;\n", ct, d->output_names[i]);
}

static void aliases(zmlx_strbuf *sb, const zmlx_elementwise_desc *d) {
  for (int i = 0; i < d->n_inputs; i++)
    zmlx_sb_printf(sb, "const %s_t *const _zp%s = %s;\n", d->input_names[i], d->input_names[i],
                   d->input_names[i]);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(sb, "%s_t *const _zp%s = %s;\n", d->output_names[i], d->output_names[i],
                   d->output_names[i]);
}

/* The user's expression, with #line directives so that compiler messages
 * name "<kernel>.expr" and its own line numbers, then return to the body's
 * numbering. */
static void emit_expr(zmlx_strbuf *sb, const zmlx_elementwise_desc *d) {
  zmlx_sb_printf(sb, "    {\n#line 1 \"%s.expr\"\n%s\n", d->name, d->expr);
  int line = 1;
  for (size_t i = 0; i < sb->len; i++) line += sb->data[i] == '\n';
  zmlx_sb_printf(sb, "#line %d \"%s.body\"\n    }\n", line + 1, d->name);
}

static const char *ctype(const zmlx_elementwise_desc *d) {
  return d->compute == ZMLX_DTYPE_F64 ? "double" : "float";
}
static const char *conv(const zmlx_elementwise_desc *d) {
  return d->compute == ZMLX_DTYPE_F64 ? "zmlx_tod" : "zmlx_tof";
}

/* Vector j of this grid point. On CUDA the ITEMS vectors of a thread sit
 * a block apart, so every load instruction of a warp is coalesced; on the
 * CPU they are adjacent. */
static const char fast_index[] =
    "#ifdef ZMLX_CUDA\n"
    "#define ZMLX_EW_VEC(j) (((long long)blockIdx.x * ITEMS + (j)) * blockDim.x + threadIdx.x)\n"
    "#else\n"
    "#define ZMLX_EW_VEC(j) (gid * ITEMS + (j))\n"
    "#endif\n";

static void fast_load(zmlx_strbuf *sb, const char *n) {
  zmlx_sb_printf(sb,
                 "#if MODE_%s == 0\n      _zv%s[_zj] = *(const %s_vec *)(_zp%s + _zb);\n"
                 "#elif MODE_%s == 1\n      _zv%s[_zj] = *(const %s_vec *)(_zp%s + _zb %% _zm);\n"
                 "#else\n      { const %s_t _zs = _zp%s[MODE_%s == 2 ? _zb / _zm : 0];\n"
                 "        for (int _zi = 0; _zi < VEC; _zi++) _zv%s[_zj].v[_zi] = _zs; }\n#endif\n",
                 n, n, n, n, n, n, n, n, n, n, n, n);
}

char *zk_ew_fast_body(const zmlx_elementwise_desc *d) {
  zmlx_strbuf sb = {0};
  const char *ct = ctype(d), *cv = conv(d);
  aliases(&sb, d);
  zmlx_sb_append(&sb, "const long long _znv = _zn / VEC; /* whole vectors */\n");
  for (int i = 0; i < d->n_inputs; i++)
    zmlx_sb_printf(&sb, "%s_vec _zv%s[ITEMS];\n", d->input_names[i], d->input_names[i]);
  /* Every load of every item first: ITEMS x inputs requests in flight. */
  zmlx_sb_append(&sb, "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
                      "for (int _zj = 0; _zj < ITEMS; _zj++) {\n"
                      "  const long long _zb = ZMLX_EW_VEC(_zj) * VEC;\n"
                      "  if (ZMLX_EW_VEC(_zj) < _znv) {\n");
  for (int i = 0; i < d->n_inputs; i++) fast_load(&sb, d->input_names[i]);
  zmlx_sb_append(&sb, "  }\n}\n#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
                      "for (int _zj = 0; _zj < ITEMS; _zj++) {\n"
                      "  const long long _zb = ZMLX_EW_VEC(_zj) * VEC;\n"
                      "  if (ZMLX_EW_VEC(_zj) < _znv) {\n");
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "    %s_vec _zw%s;\n", d->output_names[i], d->output_names[i]);
  zmlx_sb_append(&sb, "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
                      "    for (int _zi = 0; _zi < VEC; _zi++) {\n");
  for (int i = 0; i < d->n_inputs; i++)
    zmlx_sb_printf(&sb, "      const %s %s = (%s)%s(_zv%s[_zj].v[_zi]);\n", ct, d->input_names[i], ct,
                   cv, d->input_names[i]);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "      %s %s = 0;\n", ct, d->output_names[i]);
  emit_expr(&sb, d);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "      zmlx_store(_zw%s.v, _zi, %s);\n", d->output_names[i], d->output_names[i]);
  zmlx_sb_append(&sb, "    }\n");
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "    *(%s_vec *)(_zp%s + _zb) = _zw%s;\n", d->output_names[i],
                   d->output_names[i], d->output_names[i]);
  /* The point that owns the first partial vector also does the tail. */
  zmlx_sb_append(&sb, "  } else if (ZMLX_EW_VEC(_zj) == _znv) {\n"
                      "    for (long long _zk = _zb; _zk < _zn; _zk++) {\n");
  loads_scalar(&sb, d, ct, cv, "MODE_%s == 0 ? _zk : MODE_%s == 1 ? _zk %% _zm : MODE_%s == 2 ? _zk / _zm : 0");
  declare_outputs(&sb, d, ct);
  emit_expr(&sb, d);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "    zmlx_store(_zp%s, _zk, %s);\n", d->output_names[i], d->output_names[i]);
  zmlx_sb_append(&sb, "    }\n  }\n}\n");
  return zmlx_sb_take(&sb);
}

char *zk_ew_fast_header(const zmlx_elementwise_desc *d) {
  zmlx_strbuf sb = {0};
  /* One aligned struct per array: a single 16-byte (or narrower) access. */
  for (int side = 0; side < 2; side++) {
    int n = side ? d->n_outputs : d->n_inputs;
    for (int i = 0; i < n; i++) {
      const char *nm = side ? d->output_names[i] : d->input_names[i];
      zmlx_sb_printf(&sb,
                     "typedef struct __attribute__((aligned(VEC * sizeof(%s_t)))) { %s_t v[VEC]; } %s_vec;\n",
                     nm, nm, nm);
    }
  }
  zmlx_sb_append(&sb, fast_index);
  if (d->header) zmlx_sb_printf(&sb, "%s\n", d->header);
  char *s = zmlx_sb_take(&sb);
  return s;
}

char *zk_ew_general_body(const zmlx_elementwise_desc *d) {
  zmlx_strbuf sb = {0};
  const char *ct = ctype(d), *cv = conv(d);
  aliases(&sb, d);
  /* Coordinates once, then one dot product per array. */
  zmlx_sb_append(&sb, "long long _zr = gid;\n");
  for (int i = 0; i < d->n_inputs; i++) zmlx_sb_printf(&sb, "long long _zo%s = 0;\n", d->input_names[i]);
  for (int i = 0; i < d->n_outputs; i++) zmlx_sb_printf(&sb, "long long _zo%s = OUT_CONTIG ? gid : 0;\n", d->output_names[i]);
  zmlx_sb_printf(&sb, "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
                      "for (int _zd = NDIM - 1; _zd >= 0; _zd--) {\n"
                      "  const long long _zc = _zr %% %s_shape[_zd];\n  _zr /= %s_shape[_zd];\n",
                 d->output_names[0], d->output_names[0]);
  for (int i = 0; i < d->n_inputs; i++)
    zmlx_sb_printf(&sb, "  _zo%s += _zc * %s_strides[_zd];\n", d->input_names[i], d->input_names[i]);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "  if (!OUT_CONTIG) _zo%s += _zc * %s_strides[_zd];\n", d->output_names[i],
                   d->output_names[i]);
  zmlx_sb_append(&sb, "}\n{\n");
  loads_scalar(&sb, d, ct, cv, "_zo%s");
  declare_outputs(&sb, d, ct);
  emit_expr(&sb, d);
  for (int i = 0; i < d->n_outputs; i++)
    zmlx_sb_printf(&sb, "    zmlx_store(_zp%s, _zo%s, %s);\n", d->output_names[i], d->output_names[i],
                   d->output_names[i]);
  zmlx_sb_append(&sb, "}\n");
  return zmlx_sb_take(&sb);
}

/* The transpose tile path (CUDA): a block of (32, 8) threads owns a 32x32
 * tile of a 2-D output, each thread 4 elements. Inputs stored column-major
 * (TMODE 1) are read along their contiguous dimension into shared memory,
 * so both the reads and the writes are coalesced; other inputs are read
 * directly. Each thread finds its addresses once and then steps by 8 rows
 * or columns: the per-element cost is a bounds check, a load and a store,
 * which is what bounds the 2-byte dtypes. (Measured on the H100: see
 * docs/BENCHMARKS.md; 64-wide and padded tiles were slower.) */
char *zk_ew_tile_body(const zmlx_elementwise_desc *d) {
  zmlx_strbuf sb = {0};
  const char *ct = ctype(d), *cv = conv(d), *o0 = d->output_names[0];
  zmlx_sb_append(&sb, "#ifdef ZMLX_CUDA\n");
  aliases(&sb, d);
  zmlx_sb_printf(&sb,
                 "const long long _zR = %s_shape[0], _zC = %s_shape[1];\n"
                 "const long long _zr0 = (long long)blockIdx.y * 32, _zc0 = (long long)blockIdx.x * 32;\n"
                 "const int _ztx = (int)threadIdx.x, _zty = (int)threadIdx.y;\n"
                 /* Rows and columns of this tile that exist. */
                 "const int _znr = (int)(_zR - _zr0 < 32 ? _zR - _zr0 : 32);\n"
                 "const int _znc = (int)(_zC - _zc0 < 32 ? _zC - _zc0 : 32);\n",
                 o0, o0);
  for (int i = 0; i < d->n_inputs; i++) {
    const char *n = d->input_names[i];
    zmlx_sb_printf(&sb,
                   "#if TMODE_%s == 1\n__shared__ %s_t _zs%s[32][33];\n"
                   "{\n"
                   "  const %s_t *_zq = _zp%s + (_zr0 + _ztx) * %s_strides[0] + (_zc0 + _zty) * %s_strides[1];\n"
                   "  const long long _zst = 8 * %s_strides[1];\n"
                   "  #pragma unroll\n"
                   "  for (int _zu = 0; _zu < 4; _zu++)\n"
                   "    if (_ztx < _znr && _zty + 8 * _zu < _znc) _zs%s[_zty + 8 * _zu][_ztx] = _zq[_zu * _zst];\n"
                   "}\n#endif\n",
                   n, n, n, n, n, n, n, n, n);
  }
  zmlx_sb_append(&sb, "__syncthreads();\n");
  /* Write phase: element (_zr0 + _zty + 8u, _zc0 + _ztx). */
  for (int i = 0; i < d->n_inputs; i++) {
    const char *n = d->input_names[i];
    zmlx_sb_printf(&sb,
                   "#if TMODE_%s != 1\n"
                   "const %s_t *_zq%s = _zp%s + (_zr0 + _zty) * %s_strides[0] + (_zc0 + _ztx) * %s_strides[1];\n"
                   "const long long _zst%s = 8 * %s_strides[0];\n#endif\n",
                   n, n, n, n, n, n, n, n);
  }
  for (int i = 0; i < d->n_outputs; i++) {
    const char *n = d->output_names[i];
    zmlx_sb_printf(&sb,
                   "%s_t *_zq%s = _zp%s + (_zr0 + _zty) * %s_strides[0] + (_zc0 + _ztx) * %s_strides[1];\n"
                   "const long long _zst%s = 8 * %s_strides[0];\n",
                   n, n, n, n, n, n, n);
  }
  zmlx_sb_append(&sb, "#pragma unroll\n"
                      "for (int _zu = 0; _zu < 4; _zu++) {\n"
                      "  const int _zj = _zty + 8 * _zu;\n"
                      "  if (_zj < _znr && _ztx < _znc) {\n");
  for (int i = 0; i < d->n_inputs; i++) {
    const char *n = d->input_names[i];
    zmlx_sb_printf(&sb,
                   "#if TMODE_%s == 1\n    const %s %s = (%s)%s(_zs%s[_ztx][_zj]);\n#else\n"
                   "    const %s %s = (%s)%s(_zq%s[_zu * _zst%s]);\n#endif\n",
                   n, ct, n, ct, cv, n, ct, n, ct, cv, n, n);
  }
  declare_outputs(&sb, d, ct);
  emit_expr(&sb, d);
  for (int i = 0; i < d->n_outputs; i++) {
    const char *n = d->output_names[i];
    zmlx_sb_printf(&sb, "    zmlx_store(_zq%s, _zu * _zst%s, %s);\n", n, n, n);
  }
  zmlx_sb_append(&sb, "  }\n}\n#endif\n");
  return zmlx_sb_take(&sb);
}
