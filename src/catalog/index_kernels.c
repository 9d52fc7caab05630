/* The indexing kernels. Bodies index C-contiguous data (the launcher
 * copies other layouts first); gathers move VEC elements per point with
 * aligned vectors where the rows allow it. */
#include "catalog/index_internal.h"

#include "core/error.h"

#define ZI_LOADS                                                                        \
  ZCAT_DIV_TEXT                                                                         \
  "#if F64\n"                                                                           \
  "typedef double zi_c;\n"                                                              \
  "#define ZI_LD(v) zmlx_tod(v)\n"                                                      \
  "#else\n"                                                                             \
  "typedef float zi_c;\n"                                                               \
  "#define ZI_LD(v) zmlx_tof(v)\n"                                                      \
  "#endif\n"

static const char gather_header[] =
    ZI_LOADS "typedef struct __attribute__((aligned(VEC * sizeof(src_t)))) { src_t v[VEC]; } zi_vec;\n";

/* vec (run time): VEC elements per point with aligned vectors; else one. */
static const char gather_body[] =
    "if (vec) {\n"
    "  const long long cpr = D / VEC, n = ZDIV(gid, cpr), d0 = (gid - n * cpr) * VEC;\n"
    "  const long long id = (long long)idx[n];\n"
    "  const int ok = id >= 0 && id < M;\n"
    "  zi_vec s, o;\n"
    "  if (ok) s = *(const zi_vec *)(src + id * D + d0);\n"
    "#if ADD\n"
    "  const zi_vec xv = *(const zi_vec *)(x + n * D + d0);\n"
    "  for (int k = 0; k < VEC; k++)\n"
    "    zmlx_store(o.v, k, ZI_LD(xv.v[k]) + (ok ? ZI_LD(s.v[k]) : (zi_c)0));\n"
    "#else\n"
    "  if (ok) o = s;\n"
    "  else for (int k = 0; k < VEC; k++) zmlx_store(o.v, k, 0);\n"
    "#endif\n"
    "  *(zi_vec *)(y + n * D + d0) = o;\n"
    "} else {\n"
    "  const long long n = ZDIV(gid, D), d = gid - n * D;\n"
    "  const long long id = (long long)idx[n];\n"
    "  const int ok = id >= 0 && id < M;\n"
    "#if ADD\n"
    "  zmlx_store(y, gid, ZI_LD(x[gid]) + (ok ? ZI_LD(src[id * D + d]) : (zi_c)0));\n"
    "#else\n"
    "  if (ok) y[gid] = src[id * D + d];\n"
    "  else zmlx_store(y, gid, 0);\n"
    "#endif\n"
    "}\n";

static const char scatter_body[] =
    "#ifdef ZMLX_CUDA\n"
    "const long long n = ZDIV(gid, D), d = gid - n * D;\n"
    "const long long id = (long long)idx[n];\n"
    "if (id < 0 || id >= M) return;\n"
    "atomicAdd(&acc[id * D + d], (acc_t)ZI_LD(src[n * D + d]));\n"
    "#else\n"
    /* A point owns COLS columns of every row: additions in source order. */
    "const long long d0 = gid * COLS, d1 = d0 + COLS < D ? d0 + COLS : D;\n"
    "for (long long n = 0; n < N; n++) {\n"
    "  const long long id = (long long)idx[n];\n"
    "  if (id < 0 || id >= M) continue;\n"
    "  acc_t *a = acc + id * D;\n"
    "  const src_t *s = src + n * D;\n"
    "  for (long long d = d0; d < d1; d++) a[d] += (acc_t)ZI_LD(s[d]);\n"
    "}\n"
    "#endif\n";

static const char take_gather_body[] =
    "const long long KI = K * I, o = ZDIV(gid, KI), r = gid - o * KI, i = r - ZDIV(r, I) * I;\n"
    "const long long id = (long long)idx[gid];\n"
    "if (id >= 0 && id < M) y[gid] = x[(o * M + id) * I + i];\n"
    "else zmlx_store(y, gid, 0);\n";

static const char take_scatter_body[] =
    "const long long o = ZDIV(gid, I), i = gid - o * I;\n"
    "for (long long k = 0; k < K; k++) {\n"
    "  const long long e = (o * K + k) * I + i;\n"
    "  const long long id = (long long)idx[e];\n"
    "  if (id >= 0 && id < M) acc[(o * M + id) * I + i] += (acc_t)ZI_LD(dy[e]);\n"
    "}\n";

static zcat_raw_slot slots[4];

static zmlx_status get(int which, const char *name, const char *const *ins, int n_in,
                       const char *out, const char *const *scs, int n_sc, const char *header,
                       const char *body, zmlx_kernel **k) {
  static const zmlx_dtype i64[4] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  const char *outs[1] = {out};
  zmlx_kernel_desc d = {.name = name, .n_inputs = n_in, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .n_scalars = n_sc, .scalar_names = scs,
                        .scalar_dtypes = i64, .source = body, .header = header};
  return zcat_raw_get(&slots[which], &d, k);
}

zmlx_status zcat_gather_rows_kernel(zmlx_kernel **k) {
  static const char *const ins[] = {"src", "idx", "x"}, *const scs[] = {"N", "M", "D", "vec"};
  return get(0, "gather_rows", ins, 3, "y", scs, 4, gather_header, gather_body, k);
}

zmlx_status zcat_scatter_rows_kernel(zmlx_kernel **k) {
  static const char *const ins[] = {"src", "idx"}, *const scs[] = {"N", "M", "D"};
  return get(1, "scatter_rows", ins, 2, "acc", scs, 3, ZI_LOADS, scatter_body, k);
}

zmlx_status zcat_take_gather_kernel(zmlx_kernel **k) {
  static const char *const ins[] = {"x", "idx"}, *const scs[] = {"M", "K", "I"};
  return get(2, "take_gather", ins, 2, "y", scs, 3, ZI_LOADS, take_gather_body, k);
}

zmlx_status zcat_take_scatter_kernel(zmlx_kernel **k) {
  static const char *const ins[] = {"dy", "idx"}, *const scs[] = {"M", "K", "I"};
  return get(3, "take_scatter", ins, 2, "acc", scs, 3, ZI_LOADS, take_scatter_body, k);
}

zmlx_dtype zcat_index_acc_dtype(zmlx_dtype t) {
  return t == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
}

zmlx_status zcat_index_finish(zmlx_array *acc, zmlx_dtype t, zmlx_array **out) {
  if (zmlx_array_dtype(acc) == t) {
    *out = acc;
    return ZMLX_STATUS_OK;
  }
  zmlx_status s = zmlx_array_astype(acc, t, out);
  zmlx_array_release(acc);
  return s;
}
