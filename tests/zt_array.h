#ifndef ZT_ARRAY_H
#define ZT_ARRAY_H
/* Test helpers around arrays: devices to run on, seeded random host data,
 * and reading any array back as f64 through host-side conversions. */
#include <stdint.h>
#include "zt.h"

/* The devices every test runs on: the CPU, and cuda:0 when present. */
static inline int zt_devices(zmlx_device *out) {
  int n = 0;
  out[n++] = ZMLX_CPU;
  if (zmlx_device_count(ZMLX_DEVICE_CUDA) > 0) out[n++] = ZMLX_CUDA(0);
  return n;
}

/* splitmix64: a tiny, well-mixed generator for test inputs. */
static inline uint64_t zt_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
/* Uniform in [-1, 1). */
static inline double zt_uniform(uint64_t *s) { return (double)(zt_next(s) >> 11) * 0x1p-52 - 1.0; }

static inline double zt_decode(zmlx_dtype t, const unsigned char *p) {
  switch (t) {
    case ZMLX_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    case ZMLX_DTYPE_F64: { double v; memcpy(&v, p, 8); return v; }
    case ZMLX_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return zmlx_f16_to_f32(v); }
    case ZMLX_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return zmlx_bf16_to_f32(v); }
    case ZMLX_DTYPE_FP8_E4M3: return zmlx_fp8_e4m3_to_f32(*p);
    case ZMLX_DTYPE_FP8_E5M2: return zmlx_fp8_e5m2_to_f32(*p);
    case ZMLX_DTYPE_I8: return (int8_t)*p;
    case ZMLX_DTYPE_U8: case ZMLX_DTYPE_BOOL: return *p;
    case ZMLX_DTYPE_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case ZMLX_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case ZMLX_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case ZMLX_DTYPE_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: return NAN;
  }
}

/* The array's elements in C order as f64; NULL on failure. The host buffer
 * is poisoned first so that unwritten elements cannot pass. */
static inline double *zt_read_f64(const zmlx_array *a) {
  if (!a) return NULL;
  size_t n = (size_t)zmlx_array_numel(a), es = zmlx_dtype_size(zmlx_array_dtype(a));
  unsigned char *raw = malloc(n * es + 1);
  double *out = malloc((n + 1) * sizeof *out);
  if (!raw || !out) { free(raw); free(out); return NULL; }
  memset(raw, 0xCD, n * es + 1);
  if (zmlx_array_to_host(a, raw, n * es) != ZMLX_STATUS_OK) {
    fprintf(stderr, "zt_read_f64: %s\n", zmlx_error_last());
    free(raw); free(out); return NULL;
  }
  for (size_t i = 0; i < n; i++) out[i] = zt_decode(zmlx_array_dtype(a), raw + i * es);
  free(raw);
  return out;
}

/* A random array of dtype on dev, values uniform in [-scale, scale); the
 * exact stored values (after rounding to dtype) go to *host if non-NULL. */
static inline zmlx_array *zt_random_array(zmlx_dtype t, int ndim, const int64_t *shape,
                                          double scale, uint64_t *seed, zmlx_device dev,
                                          double **host) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  zmlx_array *f = NULL, *a = NULL;
  if (host) *host = NULL;
  double *vals = malloc(((size_t)n + 1) * sizeof *vals);
  for (int64_t i = 0; i < n; i++) vals[i] = zt_uniform(seed) * scale;
  if (zmlx_array_from_host(vals, ZMLX_DTYPE_F64, ndim, shape, dev, &f) != ZMLX_STATUS_OK ||
      zmlx_array_astype(f, t, &a) != ZMLX_STATUS_OK) {
    fprintf(stderr, "zt_random_array: %s\n", zmlx_error_last());
    zmlx_array_release(f);
    free(vals);
    return NULL;
  }
  zmlx_array_release(f);
  free(vals);
  if (host) *host = zt_read_f64(a);
  return a;
}

/* Relative tolerance for results stored in dtype. */
static inline double zt_tol(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F64: return 1e-12;
    case ZMLX_DTYPE_F32: return 1e-6;
    case ZMLX_DTYPE_F16: return 1e-3;
    case ZMLX_DTYPE_BF16: return 8e-3;
    default: return 0;
  }
}

/* Use a fresh, private kernel cache folder for this process. */
static inline void zt_private_cache(void) {
  char tmpl[] = "/tmp/zmlx-test-cache-XXXXXX";
  if (mkdtemp(tmpl)) setenv("ZMLX_CACHE_DIR", tmpl, 1);
}

#endif
