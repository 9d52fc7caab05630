/* The quantization family's kernels. Memory-bound: each point moves 8
 * values (16 bytes of bf16 out) with one load of the packed codes and one
 * vector store, and does its index divisions once, in 32 bits when the
 * sizes allow. The same bodies compile as C11 for the CPU. */
#include <pthread.h>

#include "catalog/quant_internal.h"
#include "core/error.h"

/* Helpers shared by the bodies: little-endian loads of packed codes, the
 * NF4 table, fp8 decoding and the compute type. */
static const char header[] =
    "#if F64\n"
    "typedef double zq_t;\n#define ZQ_CV(v) zmlx_tod(v)\n#define ZQ_H(fn) zmlx_##fn##d\n"
    "#else\n"
    "typedef float zq_t;\n#define ZQ_CV(v) zmlx_tof(v)\n#define ZQ_H(fn) zmlx_##fn##f\n"
    "#endif\n"
    "#if IDX32\ntypedef unsigned int zq_i;\n#else\ntypedef unsigned long long zq_i;\n#endif\n"
    "#ifdef ZMLX_CUDA\n"
    "#define zq_ld8(p) (*(const unsigned long long *)(p))\n"
    "#define zq_ld4(p) (*(const unsigned int *)(p))\n"
    "#else\n"
    "ZMLX_FN unsigned long long zq_ld8(const void *p) { unsigned long long v; memcpy(&v, p, 8); return v; }\n"
    "ZMLX_FN unsigned int zq_ld4(const void *p) { unsigned int v; memcpy(&v, p, 4); return v; }\n"
    "#endif\n"
    /* The QLoRA NF4 levels (bitsandbytes' table, as float32). */
    "#define ZQ_NF4_LEVELS {-1.0f, -0.6961928009986877f, -0.5250730514526367f,\\\n"
    "  -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,\\\n"
    "  -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,\\\n"
    "  0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,\\\n"
    "  0.5626170039176941f, 0.7229568362236023f, 1.0f}\n"
    "#ifndef ZMLX_CUDA\nstatic const float zq_nf4_tab[16] = ZQ_NF4_LEVELS;\n#endif\n"
    /* e5m2 is the top byte of an f16; e4m3 by the hardware from sm_89 (the
     * byte in both halves, so either half of the result is it). */
    "ZMLX_FN float zq_e5m2(unsigned c) {\n"
    "  zmlx_f16 h; h.bits = (uint16_t)(c << 8); return zmlx_tof(h);\n}\n"
    "ZMLX_FN float zq_e4m3(unsigned c) {\n"
    "#if defined(ZMLX_CUDA) && __CUDA_ARCH__ >= 890\n"
    "  unsigned int r; unsigned short a = (unsigned short)(c | (c << 8));\n"
    "  asm(\"cvt.rn.f16x2.e4m3x2 %0, %1;\" : \"=r\"(r) : \"h\"(a));\n"
    "  zmlx_f16 h; h.bits = (uint16_t)(r & 0xffffu); return zmlx_tof(h);\n"
    "#else\n"
    "  return zmlx_e4m3_bits_to_f32((uint8_t)c);\n"
    "#endif\n}\n";

/* One point: VEC consecutive values of one row (K % VEC == 0). On the CPU
 * the format, the activation and the layout of the scales are uniform
 * run-time branches (flags), so that one compiled variant per dtype serves
 * every format: compiles dominate the CPU tests. */
static const char dequant_body[] =
    /* FMTC/ACTC >= 0 (CUDA): compile-time constants, so the branches fold
     * away where the compile is cheap; -1 (CPU): read from flags. */
    "const int fmt = FMTC >= 0 ? (int)FMTC : (int)(flags >> 4) & 15;\n"
    "const int act = ACTC >= 0 ? (int)ACTC : (int)(flags >> 8) & 15;\n"
    "const int has_b = (flags & 1) != 0, scal = (flags & 2) != 0, sameg = (flags & 4) != 0;\n"
    "const zq_i e0 = (zq_i)gid * (zq_i)VEC;\n"
    "#if FULLWARP\n"
    "const int live = (long long)e0 < n;\n"
    "const zq_i e = live ? e0 : 0;\n"
    "#else\n"
    "if ((long long)e0 >= n) return;\n"
    "const int live = 1;\n"
    "const zq_i e = e0;\n"
    "#endif\n"
    "const unsigned char *qb = (const unsigned char *)q;\n"
    "const zq_i row = e / (zq_i)K, col = e - row * (zq_i)K;\n"
    "#if defined(ZMLX_CUDA) && FULLWARP\n"
    /* NF4 on CUDA: each lane holds one level, a shuffle looks codes up. */
    "const float levels[16] = ZQ_NF4_LEVELS;\n"
    "const float lane_level = levels[threadIdx.x & 15];\n"
    "#define ZQ_NF4(c) __shfl_sync(0xffffffffu, lane_level, (int)(c))\n"
    "#elif defined(ZMLX_CUDA)\n"
    "const float levels[16] = ZQ_NF4_LEVELS;\n"
    "#define ZQ_NF4(c) levels[c]\n"
    "#else\n"
    "#define ZQ_NF4(c) zq_nf4_tab[c]\n"
    "#endif\n"
    "zq_t s0 = 0, b0 = 0;\n"
    "if (scal || sameg) {\n"
    "  const zq_i g0 = scal ? 0 : row * (zq_i)S + col / (zq_i)G;\n"
    "  s0 = ZQ_CV(s[g0]);\n"
    "  if (has_b) b0 = ZQ_CV(b[g0]);\n"
    "}\n"
    "#if VEC == 8\n"
    "#if NIB\n"
    "const unsigned long long bits = zq_ld4(qb + e / 2);\n"
    "#else\n"
    "const unsigned long long bits = zq_ld8(qb + e);\n"
    "#endif\n"
    "#endif\n"
    "typedef struct __attribute__((aligned(VEC * sizeof(out_t)))) { out_t v[VEC]; } zq_vec;\n"
    "zq_vec o;\n"
    "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
    "for (int j = 0; j < VEC; j++) {\n"
    "  unsigned c;\n"
    "#if VEC == 8 && NIB\n"
    /* value j sits in nibble j (INT4: low first) or j ^ 1 (NF4: high first) */
    "  c = (unsigned)(bits >> (4 * (fmt == 4 ? (j ^ 1) : j))) & 15u;\n"
    "#elif VEC == 8\n"
    "  c = (unsigned)(bits >> (8 * j)) & 255u;\n"
    "#elif NIB\n"
    "  { const unsigned byte = qb[e / 2]; const int hi = (int)(e & 1) ^ (fmt == 4);\n"
    "    c = hi ? byte >> 4 : byte & 15u; }\n"
    "#else\n"
    "  c = qb[e];\n"
    "#endif\n"
    "  zq_t v;\n"
    "#if NIB\n"
    "  if (fmt == 4) v = (zq_t)ZQ_NF4(c);\n"
    "  else v = (zq_t)((int)c - (int)((c & 8u) << 1));\n"
    "#else\n"
    "  if (fmt == 2) v = (zq_t)zq_e4m3(c);\n"
    "  else if (fmt == 3) v = (zq_t)zq_e5m2(c);\n"
    "  else v = (zq_t)(signed char)c;\n"
    "#endif\n"
    "  zq_t sj = s0, bj = b0;\n"
    "  if (!scal && !sameg) {\n"
    "    const zq_i gj = row * (zq_i)S + (col + (zq_i)j) / (zq_i)G;\n"
    "    sj = ZQ_CV(s[gj]);\n"
    "    if (has_b) bj = ZQ_CV(b[gj]);\n"
    "  }\n"
    "  zq_t w = v * sj + bj;\n"
    "  if (act == 1) w = ZQ_H(silu)(w);\n"
    "  else if (act == 2) w = ZQ_H(gelu_tanh_stable)(w);\n"
    "  else if (act == 3) w = ZQ_H(gelu_erf_stable)(w);\n"
    "  zmlx_store(o.v, j, w);\n"
    "}\n"
    "if (live) *(zq_vec *)(out + e) = o;\n";

/* MLX affine dequantization, one u32 word per point (32 / BITS values,
 * all in one group since GROUP >= 32). The product and the sum are each
 * rounded to out_t, as MLX's multiply-then-add does: explicit roundings
 * for 16-bit types, and for f32 operations the compilers may not fuse
 * (__fmul_rn on CUDA, a volatile product on the CPU). */
static const char affine_dequant_body[] =
    "#define ZQ_PF (32 / BITS)\n"
    "const zq_i wi = (zq_i)gid;\n"
    "if ((long long)wi >= n) return;\n"
    "const zq_i e = wi * ZQ_PF;\n"
    "const zq_i g = e / (zq_i)group;\n"
    "const float sc = zmlx_tof(s[g]), bi = zmlx_tof(b[g]);\n"
    "const unsigned int word = wq[wi];\n"
    "typedef struct __attribute__((aligned(ZQ_PF * sizeof(out_t)))) { out_t v[ZQ_PF]; } zq_vec;\n"
    "zq_vec o;\n"
    "#ifdef ZMLX_CUDA\n#pragma unroll\n#endif\n"
    "for (int j = 0; j < ZQ_PF; j++) {\n"
    "  const float qv = (float)((word >> (BITS * j)) & ((1u << BITS) - 1u));\n"
    "  float w;\n"
    "#ifdef ZMLX_CUDA\n"
    "  float p = __fmul_rn(sc, qv);\n"
    "#else\n"
    "  volatile float pv = sc * qv; float p = pv;\n"
    "#endif\n"
    "  out_t pr[1]; zmlx_store(pr, 0, p); p = zmlx_tof(pr[0]);\n"
    "#ifdef ZMLX_CUDA\n"
    "  w = __fadd_rn(p, bi);\n"
    "#else\n"
    "  w = p + bi;\n"
    "#endif\n"
    "  const int ac = ACTC >= 0 ? (int)ACTC : (int)act;\n"
    "  if (ac == 1) w = zmlx_siluf(w);\n"
    "  else if (ac == 2) w = zmlx_gelu_tanh_stablef(w);\n"
    "  else if (ac == 3) w = zmlx_gelu_erf_stablef(w);\n"
    "  zmlx_store(o.v, j, w);\n"
    "}\n"
    "*(zq_vec *)(out + e) = o;\n";

/* MLX affine quantization of one group, in f32 as MLX's kernels compute it
 * (see zmlx/catalog_quant.h for the formula and the sources). */
static const char affine_quant_body[] =
    "if (gid >= n) return;\n"
    "const int nb = (int)bits, gs = (int)group, pf = 32 / nb;\n"
    "const zq_i g = (zq_i)gid;\n"
    "const w_t *wg = w + g * (zq_i)gs;\n"
    /* w_min starts at the dtype's largest finite value, w_max at 0 (MLX) */
    "#if TMAX == 1\n"
    "float w_min = 65504.0f;\n"
    "#elif TMAX == 2\n"
    "float w_min = 3.38953138925153547590e+38f;\n"
    "#else\n"
    "float w_min = 3.40282346638528859812e+38f;\n"
    "#endif\n"
    "float w_max = 0.0f;\n"
    "for (int i = 0; i < gs; i++) {\n"
    "  const float v = zmlx_tof(wg[i]);\n"
    "  w_min = fminf(w_min, v);\n"
    "  w_max = fmaxf(w_max, v);\n"
    "}\n"
    "const float n_bins = (float)((1 << nb) - 1);\n"
    "float scale = fmaxf((w_max - w_min) / n_bins, 1e-7f);\n"
    "const int side = fabsf(w_min) > fabsf(w_max);\n"
    "scale = side ? scale : -scale;\n"
    "const float edge = side ? w_min : w_max;\n"
    "const float q0 = roundf(edge / scale);\n"
    "const int at_zero = q0 == 0.0f;\n"
    "scale = at_zero ? scale : edge / q0;\n"
    "const float bias = at_zero ? 0.0f : edge;\n"
    "zmlx_store(s, g, scale);\n"
    "zmlx_store(b, g, bias);\n"
    "uint32_t *out = wq + g * (zq_i)(gs / pf);\n"
    "for (int k = 0; k < gs / pf; k++) {\n"
    "  uint32_t word = 0;\n"
    "  for (int j = 0; j < pf; j++) {\n"
    "    float c = roundf((zmlx_tof(wg[k * pf + j]) - bias) / scale);\n"
    "    c = fminf(fmaxf(c, 0.0f), n_bins);\n"
    "    word |= (uint32_t)c << (nb * j);\n"
    "  }\n"
    "  out[k] = word;\n"
    "}\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *kernels[ZQ_KERNEL_COUNT];

zmlx_status zq_kernel(zq_kernel_id id, zmlx_kernel **out) {
  static const char *const dq_in[] = {"q", "s", "b"}, *const dq_out[] = {"out"};
  static const char *const dq_sc[] = {"n", "K", "G", "S", "flags"};
  static const zmlx_dtype i64x5[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                     ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  static const char *const ad_in[] = {"wq", "s", "b"}, *const aq_in[] = {"w"};
  static const char *const ad_sc[] = {"n", "group", "act"}, *const aq_sc[] = {"n", "bits", "group"};
  static const char *const aq_out[] = {"wq", "s", "b"};
  static const zmlx_kernel_desc descs[ZQ_KERNEL_COUNT] = {
      [ZQ_DEQUANT] = {.name = "dequant", .n_inputs = 3, .input_names = dq_in, .n_outputs = 1,
                      .output_names = dq_out, .n_scalars = 5, .scalar_names = dq_sc,
                      .scalar_dtypes = i64x5, .source = dequant_body, .header = header},
      [ZQ_AFFINE_DEQUANT] = {.name = "affine_dequant", .n_inputs = 3, .input_names = ad_in,
                             .n_outputs = 1, .output_names = dq_out, .n_scalars = 3,
                             .scalar_names = ad_sc, .scalar_dtypes = i64x5,
                             .source = affine_dequant_body, .header = header},
      [ZQ_AFFINE_QUANT] = {.name = "affine_quant", .n_inputs = 1, .input_names = aq_in,
                           .n_outputs = 3, .output_names = aq_out, .n_scalars = 3,
                           .scalar_names = aq_sc, .scalar_dtypes = i64x5,
                           .source = affine_quant_body, .header = header},
  };
  if ((unsigned)id >= ZQ_KERNEL_COUNT)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "quant", "no kernel %d", (int)id);
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!kernels[id]) s = zmlx_kernel_create(&descs[id], &kernels[id]);
  *out = kernels[id];
  pthread_mutex_unlock(&lock);
  return s;
}

void zcat_quant_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < ZQ_KERNEL_COUNT; i++) {
    zmlx_kernel_destroy(kernels[i]);
    kernels[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

const char *zq_act_suffix(zmlx_dequant_act act) {
  static const char *const s[ZMLX_DEQUANT_ACT_COUNT] = {"", "_silu", "_gelu", "_gelu_erf"};
  return (unsigned)act < ZMLX_DEQUANT_ACT_COUNT ? s[act] : NULL;
}
