/* The cross-entropy kernels. Each row of V logits is split into S chunks
 * (blocks of BLK lanes on CUDA), so a few rows still fill the GPU and
 * many rows make several waves of short blocks:
 *
 *   part  each chunk streams its 16-byte vectors once (UNROLL in flight a
 *         lane) into an online (max, sum of exp, sum of x) triple; the
 *         row's first chunk also takes the elements before the first
 *         aligned vector, its last chunk those after the last one, so
 *         any V and any row alignment keep 16-byte loads;
 *   fin   one thread a row merges its S triples, gathers x[target] and
 *         writes loss and lse;
 *   bwd   each chunk reads its logits once and writes dlogits once:
 *         exp2(x log2e - lse log2e) is one FFMA and one SFU op.
 *
 * Nothing of the logits' size is allocated but dlogits. The CPU runs one
 * chunk per grid point and walks the same lanes in order, so CPU tests
 * cover the GPU's partition (chunks, heads, tails). */
#include <stdint.h>

#include "catalog/loss_internal.h"
#include "core/array_internal.h"
#include "core/error.h"

#define CE_COMMON \
    "typedef struct __attribute__((aligned(VEC * sizeof(x_t)))) zs_xv { x_t v[VEC]; } zs_xv;\n" \
    "#ifdef ZMLX_CUDA\n#define ZS_ADDR(p) ((unsigned long long)(p))\n" \
    "#else\n#define ZS_ADDR(p) ((unsigned long long)(uintptr_t)(p))\n#endif\n" \
    /* Elements before the first VEC-aligned one (head) and whole vectors \
     * after it (nvec) in a row of V starting at px. */ \
    "ZMLX_FN void zs_geom(const x_t *px, const long long V, long long *head, long long *nvec) {\n" \
    "  const long long mis = (long long)(ZS_ADDR(px) / sizeof(x_t) % VEC);\n" \
    "  long long h = mis ? (long long)VEC - mis : 0;\n" \
    "  if (h > V) h = V;\n" \
    "  *head = h;\n" \
    "  *nvec = (V - h) / VEC;\n" \
    "}\n" \
    /* Chunk c of S: vectors [v0, v1). */ \
    "ZMLX_FN void zs_chunk(const long long nvec, const long long S, const long long c, long long *v0,\n" \
    "                      long long *v1) {\n" \
    "  const long long per = (nvec + S - 1) / S;\n" \
    "  *v0 = c * per;\n" \
    "  *v1 = *v0 + per < nvec ? *v0 + per : nvec;\n" \
    "}\n" \
    "typedef struct zs_ce { zs_t m, s, sx; } zs_ce;\n" \
    "ZMLX_FN void zs_ce_init(zs_ce *a) { a->m = -INFINITY; a->s = 0; a->sx = 0; }\n" \
    "ZMLX_FN void zs_ce_comb(zs_ce *a, const zs_ce o) {\n" \
    "  const zs_t m = a->m > o.m ? a->m : o.m;\n" \
    "  if (m > -INFINITY)\n" \
    "    a->s = a->s * ZS_EXP2((a->m - m) * ZS_LOG2E) + o.s * ZS_EXP2((o.m - m) * ZS_LOG2E);\n" \
    "  else\n" \
    "    a->s += o.s;\n" \
    "  a->m = m;\n" \
    "  a->sx += o.sx;\n" \
    "}\n" \
    /* n logits: their maximum rescales the sum at most once; each costs \
     * one FFMA and one exp2. NaN reaches the sum through its own exp2. */ \
    "ZMLX_FN void zs_ce_upd(zs_ce *a, const zs_t *z, const int n) {\n" \
    "  zs_t mx = z[0];\n" \
    "  ZS_UNROLL\n" \
    "  for (int i = 1; i < n; i++) mx = mx > z[i] ? mx : z[i];\n" \
    "  if (mx > a->m) {\n" \
    "    a->s *= ZS_EXP2((a->m - mx) * ZS_LOG2E);\n" \
    "    a->m = mx;\n" \
    "  }\n" \
    "  if (a->m > -INFINITY) {\n" \
    "    const zs_t mb = a->m * ZS_LOG2E;\n" \
    "    ZS_UNROLL\n" \
    "    for (int i = 0; i < n; i++) a->s += ZS_EXP2(z[i] * ZS_LOG2E - mb);\n" \
    "  } else {\n" \
    "    ZS_UNROLL\n" \
    "    for (int i = 0; i < n; i++) if (z[i] != z[i]) a->s = z[i];\n" \
    "  }\n" \
    "#if SMOOTH\n" \
    "  ZS_UNROLL\n" \
    "  for (int i = 0; i < n; i++) a->sx += z[i];\n" \
    "#endif\n" \
    "}\n"

/* ---- part: per-chunk (max, sum exp, sum x) ------------------------------- */

#define CE_PART_LANE \
    /* Lane tid of nl in chunk c of the row at px. */ \
    "ZMLX_FN void zs_part_lane(zs_ce *acc, const x_t *px, const long long V, const long long S,\n" \
    "                          const long long c, const int tid, const int nl) {\n" \
    "  long long head, nvec, v0, v1;\n" \
    "  zs_geom(px, V, &head, &nvec);\n" \
    "  zs_chunk(nvec, S, c, &v0, &v1);\n" \
    "  const zs_xv *pv = (const zs_xv *)(px + head);\n" \
    "  long long v = v0 + tid;\n" \
    "  for (; v + (UNROLL - 1) * nl < v1; v += UNROLL * nl) {\n" \
    "    zs_xv b[UNROLL];\n" \
    "    ZS_UNROLL\n" \
    "    for (int u = 0; u < (int)UNROLL; u++) b[u] = pv[v + u * nl];\n" \
    "    ZS_UNROLL\n" \
    "    for (int u = 0; u < (int)UNROLL; u++) {\n" \
    "      zs_t z[VEC];\n" \
    "      ZS_UNROLL\n" \
    "      for (int i = 0; i < (int)VEC; i++) z[i] = ZS_TOC(b[u].v[i]);\n" \
    "      zs_ce_upd(acc, z, (int)VEC);\n" \
    "    }\n" \
    "  }\n" \
    "  for (; v < v1; v += nl) {\n" \
    "    const zs_xv b = pv[v];\n" \
    "    zs_t z[VEC];\n" \
    "    ZS_UNROLL\n" \
    "    for (int i = 0; i < (int)VEC; i++) z[i] = ZS_TOC(b.v[i]);\n" \
    "    zs_ce_upd(acc, z, (int)VEC);\n" \
    "  }\n" \
    "  const long long tail = V - head - nvec * VEC;\n" \
    "  if (c == 0 && tid < head) {\n" \
    "    const zs_t z = ZS_TOC(px[tid]);\n" \
    "    zs_ce_upd(acc, &z, 1);\n" \
    "  }\n" \
    "  if (c == S - 1 && tid < tail) {\n" \
    "    const zs_t z = ZS_TOC(px[head + nvec * VEC + tid]);\n" \
    "    zs_ce_upd(acc, &z, 1);\n" \
    "  }\n" \
    "}\n"

static const char part_body[] =
    "#ifdef ZMLX_CUDA\n"
    "const long long b = gid / BLK;\n"
    "const int tid = (int)(gid % BLK);\n"
    "zs_ce acc;\n"
    "zs_ce_init(&acc);\n"
    "zs_part_lane(&acc, x + b / S * V, V, S, b % S, tid, (int)BLK);\n"
    "zs_group_reduce<(int)BLK, 1>(&acc, tid, 0, [](zs_ce *p, const zs_ce o) { zs_ce_comb(p, o); });\n"
    "if (tid == 0) {\n"
    "#else\n"
    "const long long b = gid;\n"
    "zs_ce acc;\n"
    "zs_ce_init(&acc);\n"
    "for (int tid = 0; tid < (int)blk; tid++) {\n"
    "  zs_ce p;\n"
    "  zs_ce_init(&p);\n"
    "  zs_part_lane(&p, x + b / S * V, V, S, b % S, tid, (int)blk);\n"
    "  zs_ce_comb(&acc, p);\n"
    "}\n"
    "{\n"
    "#endif\n"
    "  zmlx_store(part, b * 3, acc.m);\n"
    "  zmlx_store(part, b * 3 + 1, acc.s);\n"
    "  zmlx_store(part, b * 3 + 2, acc.sx);\n"
    "}\n";

/* ---- fin: one row a thread ---------------------------------------------- */

static const char fin_body[] =
    "if (gid < M) {\n"
    "  zs_ce acc;\n"
    "  zs_ce_init(&acc);\n"
    "  for (long long c = 0; c < S; c++) {\n"
    "    zs_ce p;\n"
    "    p.m = part[(gid * S + c) * 3];\n"
    "    p.s = part[(gid * S + c) * 3 + 1];\n"
    "    p.sx = part[(gid * S + c) * 3 + 2];\n"
    "    zs_ce_comb(&acc, p);\n"
    "  }\n"
    "  const zs_t ls = acc.m > -INFINITY ? acc.m + ZS_LOG(acc.s) : (acc.s != acc.s ? acc.s : acc.m);\n"
    "  const long long t = (long long)targets[gid];\n"
    "  const zs_t e = (zs_t)eps;\n"
    "  zs_t l = 0;\n"
    "  if (t != ii) {\n"
    "    if (t < 0 || t >= V) {\n"
    "      l = NAN;\n"
    "    } else {\n"
    "      const zs_t xt = ZS_TOC(x[gid * V + t]);\n"
    "      l = ls - (1 - e) * xt + (zs_t)zl * ls * ls;\n"
    "      if (SMOOTH) l -= e / (zs_t)V * acc.sx;\n"
    "    }\n"
    "  }\n"
    "  zmlx_store(loss, gid, l);\n"
    "  zmlx_store(lse, gid, ls);\n"
    "}\n";

/* ---- bwd: dlogits ---------------------------------------------------------- */

#define CE_BWD_LANE \
    /* One lane's elements of chunk c: d = a p + b, and ct more at the \
     * target; p = exp2(x log2e - lsb), lsb = lse log2e. */ \
    "typedef struct __attribute__((aligned(VEC * sizeof(dx_t)))) zs_dv { dx_t v[VEC]; } zs_dv;\n" \
    "typedef struct zs_row { zs_t a, b, ct, lsb; long long t; } zs_row;\n" \
    "ZMLX_FN zs_t zs_grad(const zs_row *r, const zs_t x, const long long j) {\n" \
    "  zs_t d = r->a * ZS_EXP2(x * ZS_LOG2E - r->lsb) + r->b;\n" \
    "  return j == r->t ? d + r->ct : d;\n" \
    "}\n" \
    "ZMLX_FN void zs_bwd_lane(dx_t *pd, const x_t *px, const long long V, const long long S,\n" \
    "                         const long long c, const int tid, const int nl, const zs_row *r) {\n" \
    "  long long head, nvec, v0, v1;\n" \
    "  zs_geom(px, V, &head, &nvec);\n" \
    "  zs_chunk(nvec, S, c, &v0, &v1);\n" \
    "  const zs_xv *pv = (const zs_xv *)(px + head);\n" \
    "  zs_dv *qv = (zs_dv *)(pd + head);\n" \
    "  long long v = v0 + tid;\n" \
    "  for (; v + (UNROLL - 1) * nl < v1; v += UNROLL * nl) {\n" \
    "    zs_xv b[UNROLL];\n" \
    "    ZS_UNROLL\n" \
    "    for (int u = 0; u < (int)UNROLL; u++) b[u] = pv[v + u * nl];\n" \
    "    ZS_UNROLL\n" \
    "    for (int u = 0; u < (int)UNROLL; u++) {\n" \
    "      const long long vv = v + u * nl, j0 = head + vv * VEC;\n" \
    "      zs_t o[VEC];\n" \
    "      ZS_UNROLL\n" \
    "      for (int i = 0; i < (int)VEC; i++) o[i] = r->a * ZS_EXP2(ZS_TOC(b[u].v[i]) * ZS_LOG2E - r->lsb) + r->b;\n" \
    "      if ((unsigned long long)(r->t - j0) < (unsigned long long)VEC) {\n" \
    "        const int di = (int)(r->t - j0);\n" \
    "        ZS_UNROLL\n" \
    "        for (int i = 0; i < (int)VEC; i++) o[i] += i == di ? r->ct : (zs_t)0;\n" \
    "      }\n" \
    "      zs_dv q;\n" \
    "      ZS_UNROLL\n" \
    "      for (int i = 0; i < (int)VEC; i++) zmlx_store(q.v, i, o[i]);\n" \
    "      qv[vv] = q;\n" \
    "    }\n" \
    "  }\n" \
    "  for (; v < v1; v += nl) {\n" \
    "    const zs_xv b = pv[v];\n" \
    "    const long long j0 = head + v * VEC;\n" \
    "    zs_dv q;\n" \
    "    ZS_UNROLL\n" \
    "    for (int i = 0; i < (int)VEC; i++) zmlx_store(q.v, i, zs_grad(r, ZS_TOC(b.v[i]), j0 + i));\n" \
    "    qv[v] = q;\n" \
    "  }\n" \
    "  const long long tail = V - head - nvec * VEC;\n" \
    "  if (c == 0 && tid < head) zmlx_store(pd, tid, zs_grad(r, ZS_TOC(px[tid]), tid));\n" \
    "  if (c == S - 1 && tid < tail) {\n" \
    "    const long long j = head + nvec * VEC + tid;\n" \
    "    zmlx_store(pd, j, zs_grad(r, ZS_TOC(px[j]), j));\n" \
    "  }\n" \
    "}\n" \
    /* The row's coefficients: dlogits_j = a softmax_j + b + [j == t] ct. */ \
    "ZMLX_FN zs_row zs_row_of(const long long t, const long long ii, const zs_t ls, const zs_t dl0,\n" \
    "                         const zs_t dls, const zs_t eps, const zs_t zl, const long long V) {\n" \
    "  const zs_t dl = t != ii ? dl0 : (zs_t)0;\n" \
    "  zs_row r;\n" \
    "  r.a = dl * (1 + 2 * zl * ls) + dls;\n" \
    "  r.b = -dl * eps / (zs_t)V;\n" \
    "  r.ct = -dl * (1 - eps);\n" \
    "  r.lsb = ls * ZS_LOG2E;\n" \
    "  r.t = t;\n" \
    "  return r;\n" \
    "}\n"

static const char bwd_body[] =
    "#ifdef ZMLX_CUDA\n"
    "const long long b = gid / BLK;\n"
    "const int tid = (int)(gid % BLK);\n"
    "#else\n"
    "const long long b = gid;\n"
    "#endif\n"
    "const long long row = b / S;\n"
    "const zs_row r = zs_row_of((long long)targets[row], ii, ZS_TOC(lse[row]), ZS_TOC(dloss[row]),\n"
    "                           HAS_DLSE ? ZS_TOC(dlse[row]) : (zs_t)0, (zs_t)eps, (zs_t)zl, V);\n"
    "#ifdef ZMLX_CUDA\n"
    "zs_bwd_lane(dx + row * V, x + row * V, V, S, b % S, tid, (int)BLK, &r);\n"
    "#else\n"
    "for (int tid = 0; tid < (int)blk; tid++)\n"
    "  zs_bwd_lane(dx + row * V, x + row * V, V, S, b % S, tid, (int)blk, &r);\n"
    "#endif\n";

/* ---- mean and its backward: one block ---------------------------------- */

static const char mean_header[] = "typedef struct zs_sn { double s, n; } zs_sn;\n";

static const char mean_body[] =
    "#ifdef ZMLX_CUDA\n"
    "const int tid = (int)gid, nl = (int)BLK;\n"
    "#else\n"
    "const int tid = 0, nl = 1;\n"
    "#endif\n"
    "zs_sn a;\n"
    "a.s = 0;\n"
    "a.n = 0;\n"
    "for (long long r = tid; r < M; r += nl)\n"
    "  if ((long long)targets[r] != ii) {\n"
    "    a.s += zmlx_tod(loss[r]);\n"
    "    a.n += 1;\n"
    "  }\n"
    "#ifdef ZMLX_CUDA\n"
    "zs_group_reduce<(int)BLK, 1>(&a, tid, 0, [](zs_sn *p, const zs_sn o) { p->s += o.s; p->n += o.n; });\n"
    "#endif\n"
    "if (tid == 0) zmlx_store(out, 0, a.s / a.n);\n";

static const char mean_bwd_body[] =
    "#ifdef ZMLX_CUDA\n"
    "const int tid = (int)gid, nl = (int)BLK;\n"
    "#else\n"
    "const int tid = 0, nl = 1;\n"
    "#endif\n"
    "zs_sn a;\n"
    "a.s = 0;\n"
    "a.n = 0;\n"
    "for (long long r = tid; r < M; r += nl) a.n += (long long)targets[r] != ii;\n"
    "#ifdef ZMLX_CUDA\n"
    "zs_group_reduce<(int)BLK, 1>(&a, tid, 0, [](zs_sn *p, const zs_sn o) { p->n += o.n; });\n"
    "#endif\n"
    "const double k = zmlx_tod(g[0]) / a.n;\n"
    "for (long long r = tid; r < M; r += nl) zmlx_store(dloss, r, (long long)targets[r] != ii ? k : 0.0);\n";

/* ---- launching ----------------------------------------------------------- */

enum { K_PART, K_FIN, K_BWD, K_MEAN, K_MEAN_BWD, N_K };
static zsm_slot slots[N_K];

static zmlx_status kernel(const char *op, int which, zmlx_kernel **k) {
  static const char *const in_part[] = {"x"}, *const out_part[] = {"part"},
                           *const in_fin[] = {"x", "targets", "part"},
                           *const out_fin[] = {"loss", "lse"},
                           *const in_bwd[] = {"x", "targets", "lse", "dloss", "dlse"},
                           *const out_bwd[] = {"dx"}, *const in_mean[] = {"loss", "targets"},
                           *const out_mean[] = {"out"}, *const in_mb[] = {"targets", "g"},
                           *const out_mb[] = {"dloss"};
  static const char *const sc_part[] = {"M", "V", "S", "blk"},
                           *const sc_fin[] = {"M", "V", "S", "ii", "eps", "zl"},
                           *const sc_bwd[] = {"M", "V", "S", "ii", "eps", "zl", "blk"},
                           *const sc_mean[] = {"M", "ii"};
  static const zmlx_dtype I = ZMLX_DTYPE_I64, F = ZMLX_DTYPE_F64;
  static const zmlx_dtype t_part[] = {I, I, I, I}, t_fin[] = {I, I, I, I, F, F},
                          t_bwd[] = {I, I, I, I, F, F, I}, t_mean[] = {I, I};
  static const char header[] = CE_COMMON, part_header[] = CE_COMMON CE_PART_LANE,
                    bwd_header[] = CE_COMMON CE_BWD_LANE;
  static const zmlx_kernel_desc descs[N_K] = {
      [K_PART] = {.name = "zsm_ce_part", .n_inputs = 1, .input_names = in_part, .n_outputs = 1,
                  .output_names = out_part, .n_scalars = 4, .scalar_names = sc_part,
                  .scalar_dtypes = t_part, .source = part_body, .header = part_header},
      [K_FIN] = {.name = "zsm_ce_fin", .n_inputs = 3, .input_names = in_fin, .n_outputs = 2,
                 .output_names = out_fin, .n_scalars = 6, .scalar_names = sc_fin,
                 .scalar_dtypes = t_fin, .source = fin_body, .header = header},
      [K_BWD] = {.name = "zsm_ce_bwd", .n_inputs = 5, .input_names = in_bwd, .n_outputs = 1,
                 .output_names = out_bwd, .n_scalars = 7, .scalar_names = sc_bwd,
                 .scalar_dtypes = t_bwd, .source = bwd_body, .header = bwd_header},
      [K_MEAN] = {.name = "zsm_ce_mean", .n_inputs = 2, .input_names = in_mean, .n_outputs = 1,
                  .output_names = out_mean, .n_scalars = 2, .scalar_names = sc_mean,
                  .scalar_dtypes = t_mean, .source = mean_body, .header = mean_header},
      [K_MEAN_BWD] = {.name = "zsm_ce_mean_bwd", .n_inputs = 2, .input_names = in_mb,
                      .n_outputs = 1, .output_names = out_mb, .n_scalars = 2,
                      .scalar_names = sc_mean, .scalar_dtypes = t_mean, .source = mean_bwd_body,
                      .header = mean_header},
  };
  return zsm_kernel_get(op, &slots[which], &descs[which], k);
}

/* CUDA: BLK lanes a chunk, UNROLL vectors in flight a lane; the CPU walks
 * 32 lanes (so small tests split rows too) with no unrolling. */
enum { CUDA_BLK = 256, CUDA_UNROLL = 4, CPU_BLK = 32, MEAN_BLK = 1024 };

typedef struct shape {
  int cuda, blk, unroll, vec;
  int64_t M, V, S;
} shape;

/* Chunks per row: about eight waves of blocks (8 resident a
 * multiprocessor), so the last wave's idle tail stays small; a chunk has
 * UNROLL vectors a lane at least. */
static shape shape_of(const zmlx_array *logits, int64_t M, int vec) {
  shape s;
  s.cuda = zsm_cuda_shapes(zmlx_array_device(logits));
  s.blk = s.cuda ? CUDA_BLK : CPU_BLK;
  s.unroll = s.cuda ? CUDA_UNROLL : 1;
  s.vec = vec;
  int nd = logits->ndim;
  s.V = nd ? logits->shape[nd - 1] : 1;
  s.M = M;
  int64_t target = (int64_t)zsm_sms(zmlx_array_device(logits)) * 64;
  int64_t most = s.V / vec / ((int64_t)s.blk * s.unroll);
  s.S = s.M ? (target + s.M - 1) / s.M : 1;
  if (s.S > most) s.S = most;
  if (s.S < 1) s.S = 1;
  return s;
}

static int n_templates(const shape *s, zmlx_template_arg *t, zmlx_dtype compute, int flag,
                       const char *flag_name) {
  int n = 0;
  t[n++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, s->vec};
  t[n++] = (zmlx_template_arg){"ZS_F64", ZMLX_TEMPLATE_BOOL, compute == ZMLX_DTYPE_F64};
  t[n++] = (zmlx_template_arg){"UNROLL", ZMLX_TEMPLATE_INT, s->unroll};
  t[n++] = (zmlx_template_arg){flag_name, ZMLX_TEMPLATE_BOOL, flag};
  if (s->cuda) t[n++] = (zmlx_template_arg){"BLK", ZMLX_TEMPLATE_INT, s->blk};
  return n;
}

static zmlx_dtype compute_of(const zmlx_array *logits) {
  return logits->dtype == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
}

zmlx_status zsm_ce_forward(const char *op, const zsm_ce_args *a, zmlx_array *loss,
                           zmlx_array *lse) {
  zmlx_array *x = a->logits;
  /* The rows are the targets' (V == 0 still has a logsumexp, -inf). */
  shape sh = shape_of(x, zmlx_array_numel(a->targets), (int)(16 / zmlx_dtype_size(x->dtype)));
  if (sh.M == 0) return ZMLX_STATUS_OK;
  zmlx_dtype ct = compute_of(x);
  zmlx_kernel *kp, *kf;
  ZMLX_TRY(kernel(op, K_PART, &kp));
  ZMLX_TRY(kernel(op, K_FIN, &kf));
  int64_t pshape[2] = {sh.M * sh.S, 3};
  zmlx_array *part = NULL;
  ZMLX_TRY(zmlx_array_empty(ct, 2, pshape, zmlx_array_device(x), &part));
  zmlx_template_arg t[6];
  int smooth = a->eps != 0;
  int nt = n_templates(&sh, t, ct, smooth, "SMOOTH");
  double sp[4] = {(double)sh.M, (double)sh.V, (double)sh.S, sh.blk};
  zmlx_launch_config cp = {.grid = {sh.cuda ? sh.M * sh.S * sh.blk : sh.M * sh.S, 1, 1},
                           .block = {sh.blk, 1, 1}, .n_templates = nt, .templates = t,
                           .n_scalars = 4, .scalars = sp};
  zmlx_status s = zsm_launch(op, kp, 1, &x, &cp, 1, &part);
  double sf[6] = {(double)sh.M, (double)sh.V, (double)sh.S, (double)a->ignore_index, a->eps, a->z};
  zmlx_launch_config cf = {.grid = {sh.cuda ? (sh.M + 255) / 256 * 256 : sh.M, 1, 1},
                           .block = {256, 1, 1}, .n_templates = nt, .templates = t,
                           .n_scalars = 6, .scalars = sf};
  zmlx_array *in[3] = {x, a->targets, part}, *out[2] = {loss, lse};
  if (!s) s = zsm_launch(op, kf, 3, in, &cf, 2, out);
  zmlx_array_release(part);
  return s;
}

zmlx_status zsm_ce_backward(const char *op, const zsm_ce_args *a, zmlx_array *lse,
                            zmlx_array *dloss, zmlx_array *dlse, zmlx_array *dx) {
  zmlx_array *x = a->logits;
  /* dx's vectors must start where x's do. */
  size_t es = zmlx_dtype_size(x->dtype);
  int vec = (int)(16 / es);
  uintptr_t px = (uintptr_t)zmlx_array_data(x), pd = (uintptr_t)zmlx_array_data(dx);
  while (vec > 1 && (px - pd) % ((uintptr_t)vec * es)) vec /= 2;
  shape sh = shape_of(x, zmlx_array_numel(a->targets), vec);
  if (sh.M == 0 || sh.V == 0) return ZMLX_STATUS_OK;
  zmlx_kernel *k;
  ZMLX_TRY(kernel(op, K_BWD, &k));
  zmlx_template_arg t[6];
  int nt = n_templates(&sh, t, compute_of(x), dlse != NULL, "HAS_DLSE");
  double sc[7] = {(double)sh.M, (double)sh.V, (double)sh.S, (double)a->ignore_index, a->eps,
                  a->z, sh.blk};
  zmlx_launch_config cfg = {.grid = {sh.cuda ? sh.M * sh.S * sh.blk : sh.M * sh.S, 1, 1},
                            .block = {sh.blk, 1, 1}, .n_templates = nt, .templates = t,
                            .n_scalars = 7, .scalars = sc};
  zmlx_array *in[5] = {x, a->targets, lse, dloss, dlse ? dlse : dloss};
  return zsm_launch(op, k, 5, in, &cfg, 1, &dx);
}

static zmlx_status one_block(const char *op, int which, zmlx_array *a, zmlx_array *b, int64_t M,
                             int64_t ignore_index, zmlx_array *out) {
  zmlx_kernel *k;
  ZMLX_TRY(kernel(op, which, &k));
  int cuda = zsm_cuda_shapes(zmlx_array_device(out));
  zmlx_template_arg t = {"BLK", ZMLX_TEMPLATE_INT, MEAN_BLK};
  double sc[2] = {(double)M, (double)ignore_index};
  zmlx_launch_config cfg = {.grid = {cuda ? MEAN_BLK : 1, 1, 1}, .block = {MEAN_BLK, 1, 1},
                            .n_templates = cuda, .templates = &t, .n_scalars = 2, .scalars = sc};
  zmlx_array *in[2] = {a, b};
  return zsm_launch(op, k, 2, in, &cfg, 1, &out);
}

zmlx_status zsm_ce_mean(const char *op, zmlx_array *loss, zmlx_array *targets,
                        int64_t ignore_index, zmlx_array *out) {
  return one_block(op, K_MEAN, loss, targets, zmlx_array_numel(loss), ignore_index, out);
}

zmlx_status zsm_ce_mean_backward(const char *op, zmlx_array *targets, int64_t ignore_index,
                                 zmlx_array *dmean, zmlx_array *dloss) {
  int64_t M = zmlx_array_numel(targets);
  if (M == 0) return ZMLX_STATUS_OK;
  return one_block(op, K_MEAN_BWD, targets, dmean, M, ignore_index, dloss);
}
