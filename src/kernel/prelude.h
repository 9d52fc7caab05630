/* ZMLX kernel prelude.
 *
 * Every generated kernel starts with this file, on every backend: NVRTC
 * compiles it as CUDA C++, the system compiler as C11 for CPU kernels, and
 * the library itself #includes it (with ZMLX_PRELUDE_HOST) for its host-side
 * conversions. One text, so a bf16 rounds the same wherever it is rounded.
 * It includes no CUDA header: NVRTC compiles it in milliseconds. */
#ifndef ZMLX_PRELUDE_H
#define ZMLX_PRELUDE_H

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define ZMLX_CUDA 1
/* Not static: NVRTC warns about unused static functions, not inline ones. */
#define ZMLX_FN __device__ __forceinline__
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
#if defined(__CUDACC_RTC__) /* NVRTC has no libc headers */
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif
#else
#ifndef ZMLX_PRELUDE_HOST
#define ZMLX_CPU 1
#endif
#include <math.h>
#include <stdint.h>
#include <string.h>
#define ZMLX_FN static inline
#endif

/* Storage types. Arithmetic happens after zmlx_tof()/zmlx_tod(). */
typedef struct zmlx_f16 { uint16_t bits; } zmlx_f16;
typedef struct zmlx_bf16 { uint16_t bits; } zmlx_bf16;
typedef struct zmlx_fp8e4m3 { uint8_t bits; } zmlx_fp8e4m3;
typedef struct zmlx_fp8e5m2 { uint8_t bits; } zmlx_fp8e5m2;
typedef uint8_t zmlx_bool;

/* Shapes and strides travel by value, so a kernel needs no extra buffer. */
typedef struct zmlx_dims { long long d[8]; } zmlx_dims;

#ifdef ZMLX_CUDA
ZMLX_FN uint32_t zmlx_f32_bits(float f) { return __float_as_uint(f); }
ZMLX_FN float zmlx_bits_f32(uint32_t u) { return __uint_as_float(u); }
#else
ZMLX_FN uint32_t zmlx_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
ZMLX_FN float zmlx_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
#endif

/* Round |f| (bits ax, finite) to a small float with M mantissa bits and
 * exponent bias B, to nearest even. Returns the code without sign; codes at
 * or past the top exponent mean overflow, which the caller maps. */
ZMLX_FN uint32_t zmlx_round_mini(uint32_t ax, int M, int B) {
  int e = (int)(ax >> 23) - 127;
  uint32_t h, rem, half;
  if (e >= 1 - B) {
    uint32_t m = ax & 0x7fffffu;
    if (e + B > 0x7f) return 0xffffu; /* far past any target's range */
    h = ((uint32_t)(e + B) << M) | (m >> (23 - M));
    rem = m & ((1u << (23 - M)) - 1u);
    half = 1u << (22 - M);
  } else {
    /* Subnormal in the target: count quanta of 2^(1-B-M). */
    int s = 24 - B - M - e;
    uint32_t mf = (ax & 0x7fffffu) | 0x800000u;
    if (e == -127 || s > 25) return 0u;
    h = mf >> s;
    rem = mf & ((1u << s) - 1u);
    half = 1u << (s - 1);
  }
  if (rem > half || (rem == half && (h & 1u))) h++;
  return h;
}

ZMLX_FN float zmlx_mini_to_f32(uint32_t c, int EB, int M, int B, int ieee) {
  uint32_t sign = (c >> (EB + M)) & 1u;
  uint32_t E = (c >> M) & ((1u << EB) - 1u);
  uint32_t m = c & ((1u << M) - 1u);
  float v;
  if (E == 0) {
    v = (float)m * zmlx_bits_f32((uint32_t)(127 + 1 - B - M) << 23);
  } else if (ieee && E == (1u << EB) - 1u) {
    v = zmlx_bits_f32(0x7f800000u | (m << (23 - M)));
  } else if (!ieee && E == (1u << EB) - 1u && m == (1u << M) - 1u) {
    v = zmlx_bits_f32(0x7fc00000u); /* e4m3's only NaN code */
  } else {
    v = zmlx_bits_f32(((E - (uint32_t)B + 127u) << 23) | (m << (23 - M)));
  }
  return sign ? -v : v;
}

ZMLX_FN uint16_t zmlx_f16_bits_from_f32(float f) {
  uint32_t x = zmlx_f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (ax == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
  uint32_t h = zmlx_round_mini(ax, 10, 15);
  return (uint16_t)(sign | (h >= 0x7c00u ? 0x7c00u : h));
}
ZMLX_FN float zmlx_f16_bits_to_f32(uint16_t h) { return zmlx_mini_to_f32(h, 5, 10, 15, 1); }

ZMLX_FN uint16_t zmlx_bf16_bits_from_f32(float f) {
  uint32_t x = zmlx_f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
ZMLX_FN float zmlx_bf16_bits_to_f32(uint16_t b) { return zmlx_bits_f32((uint32_t)b << 16); }

/* OCP FP8 E4M3 ("fn": no infinity). Overflow and inf become NaN (0x7f), as
 * PyTorch's float8_e4m3fn conversion does. */
ZMLX_FN uint8_t zmlx_e4m3_bits_from_f32(float f) {
  uint32_t x = zmlx_f32_bits(f), sign = (x >> 24) & 0x80u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (uint8_t)(sign | 0x7fu);
  uint32_t h = zmlx_round_mini(ax, 3, 7);
  return (uint8_t)(sign | (h >= 0x7fu ? 0x7fu : h));
}
ZMLX_FN float zmlx_e4m3_bits_to_f32(uint8_t v) { return zmlx_mini_to_f32(v, 4, 3, 7, 0); }

/* OCP FP8 E5M2: IEEE-like, with infinities. */
ZMLX_FN uint8_t zmlx_e5m2_bits_from_f32(float f) {
  uint32_t x = zmlx_f32_bits(f), sign = (x >> 24) & 0x80u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint8_t)(sign | 0x7eu);
  if (ax == 0x7f800000u) return (uint8_t)(sign | 0x7cu);
  uint32_t h = zmlx_round_mini(ax, 2, 15);
  return (uint8_t)(sign | (h >= 0x7cu ? 0x7cu : h));
}
ZMLX_FN float zmlx_e5m2_bits_to_f32(uint8_t v) { return zmlx_mini_to_f32(v, 5, 2, 15, 1); }

#ifndef ZMLX_PRELUDE_HOST
/* ---- conversions used in kernel bodies ---------------------------------- */
#ifdef ZMLX_CUDA
/* Hardware conversions round to nearest even like the software ones. */
ZMLX_FN float zmlx_tof(zmlx_f16 v) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
  return f;
}
ZMLX_FN float zmlx_tof(zmlx_bf16 v) { return __uint_as_float((uint32_t)v.bits << 16); }
ZMLX_FN float zmlx_tof(zmlx_fp8e4m3 v) { return zmlx_e4m3_bits_to_f32(v.bits); }
ZMLX_FN float zmlx_tof(zmlx_fp8e5m2 v) { return zmlx_e5m2_bits_to_f32(v.bits); }
template <class T> ZMLX_FN float zmlx_tof(T v) { return (float)v; }
template <class T> ZMLX_FN double zmlx_tod(T v) { return (double)zmlx_tof(v); }
ZMLX_FN double zmlx_tod(double v) { return v; }
ZMLX_FN double zmlx_tod(long long v) { return (double)v; }
ZMLX_FN double zmlx_tod(int v) { return (double)v; }
ZMLX_FN double zmlx_tod(unsigned int v) { return (double)v; }

ZMLX_FN zmlx_f16 zmlx_f16_fromf(float f) {
  zmlx_f16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
  return h;
}
ZMLX_FN zmlx_bf16 zmlx_bf16_fromf(float f) {
  zmlx_bf16 b;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b.bits) : "f"(f));
  return b;
}
ZMLX_FN zmlx_fp8e4m3 zmlx_fp8e4m3_fromf(float f) { zmlx_fp8e4m3 r; r.bits = zmlx_e4m3_bits_from_f32(f); return r; }
ZMLX_FN zmlx_fp8e5m2 zmlx_fp8e5m2_fromf(float f) { zmlx_fp8e5m2 r; r.bits = zmlx_e5m2_bits_from_f32(f); return r; }
template <class V> ZMLX_FN void zmlx_store(zmlx_f16 *p, long long i, V v) { p[i] = zmlx_f16_fromf((float)v); }
template <class V> ZMLX_FN void zmlx_store(zmlx_bf16 *p, long long i, V v) { p[i] = zmlx_bf16_fromf((float)v); }
template <class V> ZMLX_FN void zmlx_store(zmlx_fp8e4m3 *p, long long i, V v) { p[i] = zmlx_fp8e4m3_fromf((float)v); }
template <class V> ZMLX_FN void zmlx_store(zmlx_fp8e5m2 *p, long long i, V v) { p[i] = zmlx_fp8e5m2_fromf((float)v); }
template <class T, class V> ZMLX_FN void zmlx_store(T *p, long long i, V v) { p[i] = (T)v; }
#define zmlx_sqrtf sqrtf
#else
ZMLX_FN float zmlx_f16_tof(zmlx_f16 v) { return zmlx_f16_bits_to_f32(v.bits); }
ZMLX_FN float zmlx_bf16_tof(zmlx_bf16 v) { return zmlx_bf16_bits_to_f32(v.bits); }
ZMLX_FN float zmlx_e4m3_tof(zmlx_fp8e4m3 v) { return zmlx_e4m3_bits_to_f32(v.bits); }
ZMLX_FN float zmlx_e5m2_tof(zmlx_fp8e5m2 v) { return zmlx_e5m2_bits_to_f32(v.bits); }
ZMLX_FN float zmlx_num_tof(double v) { return (float)v; }
ZMLX_FN double zmlx_num_tod(double v) { return v; }
ZMLX_FN zmlx_f16 zmlx_f16_fromf(float f) { zmlx_f16 h = {zmlx_f16_bits_from_f32(f)}; return h; }
ZMLX_FN zmlx_bf16 zmlx_bf16_fromf(float f) { zmlx_bf16 b = {zmlx_bf16_bits_from_f32(f)}; return b; }
ZMLX_FN zmlx_fp8e4m3 zmlx_fp8e4m3_fromf(float f) { zmlx_fp8e4m3 r = {zmlx_e4m3_bits_from_f32(f)}; return r; }
ZMLX_FN zmlx_fp8e5m2 zmlx_fp8e5m2_fromf(float f) { zmlx_fp8e5m2 r = {zmlx_e5m2_bits_from_f32(f)}; return r; }
#define zmlx_tof(v)                                                            \
  _Generic((v), zmlx_f16: zmlx_f16_tof, zmlx_bf16: zmlx_bf16_tof,              \
           zmlx_fp8e4m3: zmlx_e4m3_tof, zmlx_fp8e5m2: zmlx_e5m2_tof,           \
           default: zmlx_num_tof)(v)
#define zmlx_tod(v)                                                            \
  _Generic((v), zmlx_f16: zmlx_f16_tof, zmlx_bf16: zmlx_bf16_tof,              \
           zmlx_fp8e4m3: zmlx_e4m3_tof, zmlx_fp8e5m2: zmlx_e5m2_tof,           \
           default: zmlx_num_tod)(v)
#define zmlx_store(p, i, v)                                                    \
  ((p)[i] = _Generic((p)[0], zmlx_f16: zmlx_f16_fromf((float)(v)),             \
                     zmlx_bf16: zmlx_bf16_fromf((float)(v)),                   \
                     zmlx_fp8e4m3: zmlx_fp8e4m3_fromf((float)(v)),             \
                     zmlx_fp8e5m2: zmlx_fp8e5m2_fromf((float)(v)),             \
                     default: (v)))
#endif

/* ---- indexing ----------------------------------------------------------- */
/* Element offset of the linear (C-order) index i in a strided array. */
ZMLX_FN long long zmlx_offset(long long i, int ndim, const long long *shape,
                              const long long *strides) {
  long long off = 0;
  for (int d = ndim - 1; d >= 0; d--) {
    long long q = i / shape[d];
    off += (i - q * shape[d]) * strides[d];
    i = q;
  }
  return off;
}

/* ---- counter-based random numbers (Philox-4x32-10) ----------------------
 * Element i of a draw depends only on (seed, i), never on the launch. */
ZMLX_FN uint32_t zmlx_mulhi32(uint32_t a, uint32_t b) {
  return (uint32_t)(((uint64_t)a * b) >> 32);
}
ZMLX_FN void zmlx_philox(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    uint32_t hi0 = zmlx_mulhi32(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    uint32_t hi1 = zmlx_mulhi32(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
/* Uniform in [0, 1): 24 random bits for f32, 53 for f64. */
ZMLX_FN float zmlx_uniformf(uint64_t seed, uint64_t i) {
  uint32_t w[4];
  zmlx_philox(seed, i, w);
  return (float)(w[0] >> 8) * 5.9604644775390625e-08f;
}
ZMLX_FN double zmlx_uniform(uint64_t seed, uint64_t i) {
  uint32_t w[4];
  zmlx_philox(seed, i, w);
  return (double)(((uint64_t)(w[0] >> 5) << 26) | (w[1] >> 6)) * 1.1102230246251565e-16;
}
/* Standard normal by Box-Muller on two words of the same draw. */
ZMLX_FN float zmlx_normalf(uint64_t seed, uint64_t i) {
  uint32_t w[4];
  zmlx_philox(seed, i, w);
  float u1 = (float)((w[0] >> 8) + 1u) * 5.9604644775390625e-08f; /* (0, 1] */
  float u2 = (float)(w[1] >> 8) * 5.9604644775390625e-08f;
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795865f * u2);
}
ZMLX_FN double zmlx_normal(uint64_t seed, uint64_t i) {
  uint32_t w[4];
  zmlx_philox(seed, i, w);
  double u1 = (double)(((uint64_t)(w[0] >> 5) << 26) | (w[1] >> 6)) * 1.1102230246251565e-16;
  double u2 = (double)(((uint64_t)(w[2] >> 5) << 26) | (w[3] >> 6)) * 1.1102230246251565e-16;
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* ---- numerically stable math helpers (float) ---------------------------- */
ZMLX_FN float zmlx_sigmoidf(float x) {
  float z = expf(-fabsf(x)); /* never overflows */
  return x >= 0.0f ? 1.0f / (1.0f + z) : z / (1.0f + z);
}
ZMLX_FN float zmlx_siluf(float x) { return x * zmlx_sigmoidf(x); }
ZMLX_FN float zmlx_gelu_erff(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
ZMLX_FN float zmlx_gelu_tanhf(float x) {
  return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
ZMLX_FN float zmlx_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
/* Derivatives and the remaining activations. A `_grad` helper is d/dx of
 * its function, written from x alone so a backward kernel needs no
 * stored output, and without the cancellation of 1 - y or 1 - y*y where
 * y nears 1 (so far tails keep their relative accuracy). */
ZMLX_FN float zmlx_sigmoid_gradf(float x) {
  float z = expf(-fabsf(x));
  return z / ((1.0f + z) * (1.0f + z));
}
ZMLX_FN float zmlx_tanh_gradf(float x) {
  float z = expf(-2.0f * fabsf(x));
  return 4.0f * z / ((1.0f + z) * (1.0f + z));
}
ZMLX_FN float zmlx_silu_gradf(float x) {
  float s = zmlx_sigmoidf(x);
  return s * (1.0f + x * (1.0f - s));
}
/* gelu with erfc and sigmoid rather than 1 + erf and 1 + tanh: the same
 * functions, accurate in the negative tail too. */
ZMLX_FN float zmlx_gelu_erf_stablef(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
ZMLX_FN float zmlx_gelu_erf_gradf(float x) {
  return 0.5f * erfcf(-x * 0.70710678118654752f) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}
/* 0.5 (1 + tanh(u)) = sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). */
ZMLX_FN float zmlx_gelu_tanh_stablef(float x) {
  return x * zmlx_sigmoidf(1.5957691216057308f * (x + 0.044715f * x * x * x));
}
ZMLX_FN float zmlx_gelu_tanh_gradf(float x) {
  float v = 1.5957691216057308f * (x + 0.044715f * x * x * x);
  return zmlx_sigmoidf(v) + x * zmlx_sigmoid_gradf(v) * 1.5957691216057308f * (1.0f + 0.134145f * x * x);
}
/* x * sigmoid(1.702 x), the CLIP approximation of gelu. */
ZMLX_FN float zmlx_quick_geluf(float x) { return x * zmlx_sigmoidf(1.702f * x); }
ZMLX_FN float zmlx_quick_gelu_gradf(float x) {
  float s = zmlx_sigmoidf(1.702f * x);
  return s * (1.0f + 1.702f * x * (1.0f - s));
}
ZMLX_FN float zmlx_mishf(float x) { return x * tanhf(zmlx_softplusf(x)); }
ZMLX_FN float zmlx_mish_gradf(float x) {
  float t = tanhf(zmlx_softplusf(x));
  return t + x * zmlx_sigmoidf(x) * (1.0f - t * t);
}

/* ---- the same helpers in double, for f64 kernels -------------------------
 * Named with a "d" as the float ones have an "f": a bare zmlx_<name> is the
 * entry symbol of a kernel called <name>. */
ZMLX_FN double zmlx_sigmoidd(double x) {
  double z = exp(-fabs(x));
  return x >= 0.0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
}
ZMLX_FN double zmlx_sigmoid_gradd(double x) {
  double z = exp(-fabs(x));
  return z / ((1.0 + z) * (1.0 + z));
}
ZMLX_FN double zmlx_tanh_gradd(double x) {
  double z = exp(-2.0 * fabs(x));
  return 4.0 * z / ((1.0 + z) * (1.0 + z));
}
ZMLX_FN double zmlx_silud(double x) { return x * zmlx_sigmoidd(x); }
ZMLX_FN double zmlx_silu_gradd(double x) {
  double s = zmlx_sigmoidd(x);
  return s * (1.0 + x * (1.0 - s));
}
ZMLX_FN double zmlx_gelu_erf_stabled(double x) { return 0.5 * x * erfc(-x * 0.70710678118654752); }
ZMLX_FN double zmlx_gelu_erf_gradd(double x) {
  return 0.5 * erfc(-x * 0.70710678118654752) + x * 0.39894228040143268 * exp(-0.5 * x * x);
}
ZMLX_FN double zmlx_gelu_tanh_stabled(double x) {
  return x * zmlx_sigmoidd(1.5957691216057308 * (x + 0.044715 * x * x * x));
}
ZMLX_FN double zmlx_gelu_tanh_gradd(double x) {
  double v = 1.5957691216057308 * (x + 0.044715 * x * x * x);
  return zmlx_sigmoidd(v) + x * zmlx_sigmoid_gradd(v) * 1.5957691216057308 * (1.0 + 0.134145 * x * x);
}
ZMLX_FN double zmlx_quick_gelud(double x) { return x * zmlx_sigmoidd(1.702 * x); }
ZMLX_FN double zmlx_quick_gelu_gradd(double x) {
  double s = zmlx_sigmoidd(1.702 * x);
  return s * (1.0 + 1.702 * x * (1.0 - s));
}
ZMLX_FN double zmlx_softplusd(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
ZMLX_FN double zmlx_mishd(double x) { return x * tanh(zmlx_softplusd(x)); }
ZMLX_FN double zmlx_mish_gradd(double x) {
  double t = tanh(zmlx_softplusd(x));
  return t + x * zmlx_sigmoidd(x) * (1.0 - t * t);
}
#endif /* !ZMLX_PRELUDE_HOST */

#endif
