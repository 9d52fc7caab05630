/* Generated code shared by reduce, map_reduce and scan: the start of
 * every header (math in compute precision, the user's statements as
 * functions, shuffles), the group reduction, kept offsets; creating the
 * raw kernels, their stats, and the CUDA sources of a launch for tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

static int sb_lines(const zmlx_strbuf *sb) {
  int n = 1;
  for (size_t i = 0; i < sb->len; i++) n += sb->data[i] == '\n';
  return n;
}

void zr_emit_user(zmlx_strbuf *sb, const zr_expr *e, const char *kname, const char *what,
                  const char *code) {
  zmlx_sb_printf(sb, "#line 1 \"%s.%s\"\n%s\n", e->name, what, code);
  int n = sb_lines(sb);
  zmlx_sb_printf(sb, "#line %d \"%s.header\"\n", n + 1, kname);
}

void zr_emit_scalar_locals(zmlx_strbuf *sb, const zr_expr *e) {
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "  const compute_t %s = _zs->%s; (void)%s;\n", e->scalar_names[i],
                   e->scalar_names[i], e->scalar_names[i]);
  if (e->pre_init) zmlx_sb_append(sb, "  const compute_t pre = _zs->_zpre; (void)pre;\n");
  zmlx_sb_append(sb, "  (void)_zs;\n");
}

void zr_emit_scalars_init(zmlx_strbuf *sb, const zr_expr *e) {
  zmlx_sb_append(sb, e->pre_init ? "zr_scalars_t _zsc = {" : "const zr_scalars_t _zsc = {");
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "%s(compute_t)%s", i ? ", " : "", e->scalar_names[i]);
  if (e->pre_init) zmlx_sb_append(sb, e->n_scalars ? ", 0" : "0");
  zmlx_sb_append(sb, e->n_scalars || e->pre_init ? "};\n" : "0};\n");
}

static const char math_text[] =
    "#if COMPUTE_F64\n"
    "#define ZR_TOC(v) zmlx_tod(v)\n"
    "#define zr_exp(v) exp(v)\n#define zr_log(v) log(v)\n"
    "#define zr_log1p(v) log1p(v)\n#define zr_sqrt(v) sqrt(v)\n"
    "#else\n"
    "#define ZR_TOC(v) zmlx_tof(v)\n"
    /* The GPU's fast exponential (ex2.approx, ~2 ulp) is within f32's
     * tolerances and takes softmax from 62% to 71% of copy in bf16. */
    "#ifdef ZMLX_CUDA\n#define zr_exp(v) __expf(v)\n#else\n#define zr_exp(v) expf(v)\n#endif\n"
    "#define zr_log(v) logf(v)\n"
    "#define zr_log1p(v) log1pf(v)\n#define zr_sqrt(v) sqrtf(v)\n"
    "#endif\n"
    "#ifdef ZMLX_CUDA\n#define ZR_UNROLL _Pragma(\"unroll\")\n#else\n#define ZR_UNROLL\n#endif\n"
    /* N elements to compute_t and back. A bf16 pair is one 32-bit word: its
     * halves are a shift and a mask away from f32, and one cvt.rn.bf16x2
     * rounds both back (the same round-to-nearest-even as one at a time). */
    "#ifdef ZMLX_CUDA\n"
    "template <int N, class T> ZMLX_FN void zr_tocv(compute_t *c, const T *v) {\n"
    "  ZR_UNROLL\n  for (int i = 0; i < N; i++) c[i] = ZR_TOC(v[i]);\n}\n"
    "template <int N, class T> ZMLX_FN void zr_fromcv(T *v, const compute_t *c) {\n"
    "  ZR_UNROLL\n  for (int i = 0; i < N; i++) zmlx_store(v, i, c[i]);\n}\n"
    "#if !COMPUTE_F64\n"
    "template <int N> ZMLX_FN void zr_tocv(compute_t *c, const zmlx_bf16 *v) {\n"
    "  if (N % 2) {\n    ZR_UNROLL\n    for (int i = 0; i < N; i++) c[i] = ZR_TOC(v[i]);\n    return;\n  }\n"
    "  const unsigned *w = (const unsigned *)v;\n"
    "  ZR_UNROLL\n  for (int i = 0; i < N / 2; i++) {\n"
    "    c[2 * i] = __uint_as_float(w[i] << 16);\n"
    "    c[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);\n  }\n}\n"
    "template <int N> ZMLX_FN void zr_fromcv(zmlx_bf16 *v, const compute_t *c) {\n"
    "  if (N % 2) {\n    ZR_UNROLL\n    for (int i = 0; i < N; i++) zmlx_store(v, i, c[i]);\n    return;\n  }\n"
    "  unsigned *w = (unsigned *)v;\n"
    "  ZR_UNROLL\n  for (int i = 0; i < N / 2; i++)\n"
    "    asm(\"cvt.rn.bf16x2.f32 %0, %1, %2;\" : \"=r\"(w[i]) : \"f\"(c[2 * i + 1]), \"f\"(c[2 * i]));\n}\n"
    "#endif\n"
    "#define ZR_TOCV(N, c, v) zr_tocv<N>(c, v)\n#define ZR_FROMCV(N, v, c) zr_fromcv<N>(v, c)\n"
    "#else\n"
    "#define ZR_TOCV(N, c, v) for (int _zi = 0; _zi < (int)(N); _zi++) (c)[_zi] = ZR_TOC((v)[_zi])\n"
    "#define ZR_FROMCV(N, v, c) for (int _zi = 0; _zi < (int)(N); _zi++) zmlx_store(v, _zi, (c)[_zi])\n"
    "#endif\n";

/* Shuffles of any trivially copyable type, one 32-bit word at a time. */
static const char shfl_text[] =
    "#ifdef ZMLX_CUDA\n"
    "#define ZR_SHFL(NAME, CALL)                                                   \\\n"
    "  template <class T> ZMLX_FN T NAME(const T &v, int a, int w) {              \\\n"
    "    union { T t; int i[(sizeof(T) + 3) / 4]; } u;                            \\\n"
    "    u.t = v;                                                                 \\\n"
    "    ZR_UNROLL                                                                \\\n"
    "    for (int k = 0; k < (int)((sizeof(T) + 3) / 4); k++) u.i[k] = CALL;     \\\n"
    "    return u.t;                                                              \\\n"
    "  }\n"
    "ZR_SHFL(zr_shfl_xor, __shfl_xor_sync(0xffffffffu, u.i[k], a, w))\n"
    "ZR_SHFL(zr_shfl_up, __shfl_up_sync(0xffffffffu, u.i[k], a, w))\n"
    "ZR_SHFL(zr_shfl_idx, __shfl_sync(0xffffffffu, u.i[k], a, w))\n"
    "#endif\n";

void zr_emit_common(zmlx_strbuf *sb, const zr_expr *e, const char *kname) {
  zmlx_sb_append(sb, math_text);
  if (e->header[0]) zr_emit_user(sb, e, kname, "header", e->header);
  zmlx_sb_printf(sb, "typedef %s acc_t;\n", e->acc_type);
  zmlx_sb_append(sb, "typedef struct zr_scalars_t {");
  for (int i = 0; i < e->n_scalars; i++) zmlx_sb_printf(sb, " compute_t %s;", e->scalar_names[i]);
  /* The first pass's result travels with the scalars to every function. */
  if (e->pre_init) zmlx_sb_append(sb, " compute_t _zpre;");
  zmlx_sb_append(sb, e->n_scalars || e->pre_init ? " } zr_scalars_t;\n" : " int _zunused; } zr_scalars_t;\n");
  /* Slots for partial accumulators hold at most ACC_SLOT bytes. */
  zmlx_sb_append(sb, "typedef char zr_acc_fits_in_slot[sizeof(acc_t) <= ACC_SLOT ? 1 : -1];\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_init(acc_t *_za) {\n  acc_t acc;\n");
  zr_emit_user(sb, e, kname, "init", e->init);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_update(acc_t *_za, const compute_t x, const long long idx, "
                     "const zr_scalars_t *_zs) {\n  acc_t acc = *_za;\n  (void)x; (void)idx;\n");
  zr_emit_scalar_locals(sb, e);
  zr_emit_user(sb, e, kname, "update", e->update);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  /* nx consecutive elements from position idx; without the user's own
   * statement, update one at a time. */
  zmlx_sb_append(sb, "ZMLX_FN void zr_update_many(acc_t *_za, const compute_t *xs, const int nx, "
                     "const long long idx, const zr_scalars_t *_zs) {\n");
  if (e->update_many) {
    zmlx_sb_append(sb, "  acc_t acc = *_za;\n  (void)xs; (void)nx; (void)idx;\n");
    zr_emit_scalar_locals(sb, e);
    zr_emit_user(sb, e, kname, "update_many", e->update_many);
    zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  } else {
    zmlx_sb_append(sb, "  for (int _zi = 0; _zi < nx; _zi++) zr_update(_za, xs[_zi], idx + _zi, _zs);\n}\n");
  }
  zmlx_sb_append(sb, "ZMLX_FN void zr_combine(acc_t *_za, const acc_t other) {\n  acc_t acc = *_za;\n");
  zr_emit_user(sb, e, kname, "combine", e->combine);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, shfl_text);
}

const char zr_group_reduce_text[] =
    "#ifdef ZMLX_CUDA\n"
    "/* Butterfly within warps; across the group's warps, warp 0 combines the\n"
    " * warp results and shares its total through shared memory. Every lane\n"
    " * ends with the same bits. */\n"
    "ZMLX_FN void zr_group_reduce(acc_t *a, int lane, int grp) {\n"
    "  ZR_UNROLL\n"
    "  for (int m = (int)(TPR < 32 ? TPR : 32) / 2; m > 0; m >>= 1) zr_combine(a, zr_shfl_xor(*a, m, 32));\n"
    "#if TPR > 32\n"
    "  const int NW = (int)(TPR / 32), w = lane >> 5, wl = lane & 31;\n"
    "  __shared__ acc_t zr_gsm[RPB][TPR / 32 + 1];\n"
    "  if (wl == 0) zr_gsm[grp][w] = *a;\n"
    "  __syncthreads();\n"
    "  if (w == 0) {\n"
    "    acc_t s = zr_gsm[grp][wl < NW ? wl : 0];\n"
    "    ZR_UNROLL\n"
    "    for (int m = NW / 2; m > 0; m >>= 1) zr_combine(&s, zr_shfl_xor(s, m, 32));\n"
    "    if (wl == 0) zr_gsm[grp][NW] = s;\n"
    "  }\n"
    "  __syncthreads();\n"
    "  *a = zr_gsm[grp][NW];\n"
    "#else\n"
    "  *a = zr_shfl_idx(*a, 0, (int)TPR);\n"
    "  (void)lane; (void)grp;\n"
    "#endif\n"
    "}\n"
    "#endif\n";

const char zr_kept_offset_text[] =
    "ZMLX_FN long long zr_kept_offset(long long o, const long long *shape, const long long *strides,\n"
    "                                 const int nk) {\n"
    "  long long off = 0;\n"
    "  ZR_UNROLL\n"
    "  for (int d = nk - 1; d >= 0; d--) {\n"
    "    const long long q = o / shape[d];\n"
    "    off += (o - q * shape[d]) * strides[d];\n"
    "    o = q;\n"
    "  }\n"
    "  (void)shape; (void)strides;\n"
    "  return off;\n"
    "}\n";

zmlx_status zr_make_kernel(const char *op, const char *name, const char *suffix, int n_in,
                           const char *const *in_names, int n_sc, const char *const *sc_names,
                           const zmlx_dtype *sc_types, const char *body, const char *header,
                           zmlx_kernel **out) {
  static const char *outs[] = {"out"};
  if (!body || !header) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  char kname[256];
  snprintf(kname, sizeof kname, "%s_%s", name, suffix);
  zmlx_kernel_desc d = {.name = kname, .n_inputs = n_in, .input_names = in_names,
                        .n_outputs = 1, .output_names = outs, .n_scalars = n_sc,
                        .scalar_names = sc_names, .scalar_dtypes = sc_types, .source = body,
                        .header = header};
  zmlx_status s = zmlx_kernel_create(&d, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zr_sources_add(zr_sources *s, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                           const zmlx_launch_config *cfg, const zmlx_array *out) {
  if (s->n >= ZR_MAX_SOURCES)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, "reduce_sources", "more than %d kernels", ZR_MAX_SOURCES);
  zmlx_launch_config c = *cfg;
  zmlx_dtype t = out->dtype;
  int nd = out->ndim;
  const int64_t *shape = out->shape;
  c.output_dtypes = &t;
  c.output_ndims = &nd;
  c.output_shapes = &shape;
  ZMLX_TRY(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, &c, &s->src[s->n]));
  snprintf(s->entry[s->n], sizeof s->entry[s->n], "zmlx_%s", k->name);
  zr_launch_rec *r = &s->rec[s->n++];
  r->k = k;
  r->n_in = n_in;
  for (int i = 0; i < n_in; i++) r->in[i] = zmlx_array_retain(in[i]);
  r->out = zmlx_array_retain((zmlx_array *)out);
  r->grid = cfg->grid[0];
  r->block = cfg->block[0];
  r->n_sc = cfg->n_scalars;
  for (int i = 0; i < cfg->n_scalars; i++) r->sc[i] = cfg->scalars[i];
  return ZMLX_STATUS_OK;
}

void zr_sources_free(zr_sources *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->src[i]);
    for (int j = 0; j < s->rec[i].n_in; j++) zmlx_array_release(s->rec[i].in[j]);
    zmlx_array_release(s->rec[i].out);
  }
  memset(s, 0, sizeof *s);
}

zmlx_status zr_stats_sum(int n, zmlx_kernel *const *ks, zmlx_kernel_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < n; i++) {
    zmlx_kernel_stats s;
    if (!ks[i]) continue;
    ZMLX_TRY(zmlx_kernel_stats_get(ks[i], &s));
    out->n_variants += s.n_variants;
    out->n_compiles += s.n_compiles;
    out->compile_ms += s.compile_ms;
    out->n_memory_hits += s.n_memory_hits;
    out->n_disk_hits += s.n_disk_hits;
    out->n_launches += s.n_launches;
  }
  return ZMLX_STATUS_OK;
}

