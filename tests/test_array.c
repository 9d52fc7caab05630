/* The array layer: creation (empty, from_host, zeros/ones/full, arange,
 * random), reference counting, inspection (describe, numel, dim, format),
 * conversion (astype between every pair of dtypes), copies (copy_into,
 * to_device, to_host), empty arrays and error reporting. Every check runs on
 * every available device: the CPU, and cuda:0 when CUDA works.
 *
 * References are computed here on the host in f64, never by the library's
 * own code path. Random inputs come from a splitmix64 stream whose seed is
 * printed at start and on failure (ZT_SEED reproduces a run). Host output
 * buffers are poisoned with 0xCD before every read back. */
#include <float.h>
#include <stdint.h>

#define ZT_SUITE_NAME "test_array"
#define ZT_SUITE_SALT 0xa77a7ull
#include "zt_suite.h" /* seed, rnd, setup, devices, MISMATCH, host_read, ALL_DTYPES */
#include "core/array_internal.h" /* white-box: reference counts */

static int is_float(zmlx_dtype t) {
  return t == ZMLX_DTYPE_F32 || t == ZMLX_DTYPE_F64 || t == ZMLX_DTYPE_F16 ||
         t == ZMLX_DTYPE_BF16 || t == ZMLX_DTYPE_FP8_E4M3 || t == ZMLX_DTYPE_FP8_E5M2;
}
static int is_unsigned(zmlx_dtype t) {
  return t == ZMLX_DTYPE_U8 || t == ZMLX_DTYPE_U32 || t == ZMLX_DTYPE_BOOL;
}
/* Largest magnitude a dtype holds (true constants of the formats). */
static double max_of(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F32: return FLT_MAX;
    case ZMLX_DTYPE_F64: return DBL_MAX;
    case ZMLX_DTYPE_F16: return 65504.0;
    case ZMLX_DTYPE_BF16: return 0x1.fep127;
    case ZMLX_DTYPE_FP8_E4M3: return 448.0;
    case ZMLX_DTYPE_FP8_E5M2: return 57344.0;
    case ZMLX_DTYPE_I8: return 127;
    case ZMLX_DTYPE_U8: return 255;
    case ZMLX_DTYPE_I16: return 32767;
    case ZMLX_DTYPE_I32: return 2147483647.0;
    case ZMLX_DTYPE_I64: return 9223372036854775807.0;
    case ZMLX_DTYPE_U32: return 4294967295.0;
    case ZMLX_DTYPE_BOOL: return 1;
    default: return 0;
  }
}

/* Host encoding of a value into one element. For the small floats it uses
 * the library's scalar conversions, which test_dtype checks exhaustively
 * against an independent reference. Integers: v must already be in range;
 * the fraction is dropped toward zero, as C converts. */
static void put(zmlx_dtype t, void *p, int64_t i, double v) {
  switch (t) {
    case ZMLX_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case ZMLX_DTYPE_F64: ((double *)p)[i] = v; break;
    case ZMLX_DTYPE_F16: ((uint16_t *)p)[i] = zmlx_f32_to_f16((float)v); break;
    case ZMLX_DTYPE_BF16: ((uint16_t *)p)[i] = zmlx_f32_to_bf16((float)v); break;
    case ZMLX_DTYPE_FP8_E4M3: ((uint8_t *)p)[i] = zmlx_f32_to_fp8_e4m3((float)v); break;
    case ZMLX_DTYPE_FP8_E5M2: ((uint8_t *)p)[i] = zmlx_f32_to_fp8_e5m2((float)v); break;
    case ZMLX_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case ZMLX_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case ZMLX_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case ZMLX_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case ZMLX_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case ZMLX_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case ZMLX_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
  }
}
static double get(zmlx_dtype t, const void *p, int64_t i) {
  switch (t) {
    case ZMLX_DTYPE_F32: return ((const float *)p)[i];
    case ZMLX_DTYPE_F64: return ((const double *)p)[i];
    case ZMLX_DTYPE_F16: return zmlx_f16_to_f32(((const uint16_t *)p)[i]);
    case ZMLX_DTYPE_BF16: return zmlx_bf16_to_f32(((const uint16_t *)p)[i]);
    case ZMLX_DTYPE_FP8_E4M3: return zmlx_fp8_e4m3_to_f32(((const uint8_t *)p)[i]);
    case ZMLX_DTYPE_FP8_E5M2: return zmlx_fp8_e5m2_to_f32(((const uint8_t *)p)[i]);
    case ZMLX_DTYPE_I8: return ((const int8_t *)p)[i];
    case ZMLX_DTYPE_U8: return ((const uint8_t *)p)[i];
    case ZMLX_DTYPE_I16: return ((const int16_t *)p)[i];
    case ZMLX_DTYPE_I32: return ((const int32_t *)p)[i];
    case ZMLX_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case ZMLX_DTYPE_U32: return ((const uint32_t *)p)[i];
    case ZMLX_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    default: return NAN;
  }
}
static int elem_eq(zmlx_dtype t, const void *a, const void *b, int64_t i) {
  size_t es = zmlx_dtype_size(t);
  return !memcmp((const char *)a + i * es, (const char *)b + i * es, es);
}
static void elem_hex(zmlx_dtype t, const void *p, int64_t i, char *buf) {
  size_t es = zmlx_dtype_size(t);
  const unsigned char *b = (const unsigned char *)p + i * es;
  buf[0] = 0;
  for (size_t k = es; k-- > 0;) sprintf(buf + strlen(buf), "%02x", b[k]);
}

/* Compare n elements of got and want bytewise; report the first few. */
static long compare_elems(const char *what, zmlx_dtype t, const void *got, const void *want,
                          int64_t n) {
  long bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!elem_eq(t, got, want, i)) {
      char g[20], w[20];
      elem_hex(t, got, i, g);
      elem_hex(t, want, i, w);
      MISMATCH(bad, "%s %s [%lld]: 0x%s, want 0x%s", what, zmlx_dtype_name(t), (long long)i, g,
               w);
    }
  CHECK_MSG(bad == 0, "%s %s: %ld of %lld elements wrong", what, zmlx_dtype_name(t), bad,
            (long long)n);
  return bad;
}

/* ---- creation ----------------------------------------------------------- */
static void check_layout(const zmlx_array *a, zmlx_dtype t, int ndim, const int64_t *shape,
                         zmlx_device dev) {
  zmlx_array_desc d = zmlx_array_describe(a);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  CHECK_EQ_INT(d.dtype, t);
  CHECK_EQ_INT(zmlx_array_dtype(a), t);
  CHECK_EQ_INT(d.ndim, ndim);
  CHECK_EQ_INT(zmlx_array_ndim(a), ndim);
  CHECK_EQ_INT(zmlx_array_numel(a), n);
  CHECK_EQ_INT(zmlx_array_nbytes(a), (size_t)n * zmlx_dtype_size(t));
  CHECK(zmlx_array_is_contiguous(a));
  CHECK(d.device.type == dev.type && d.device.index == dev.index);
  CHECK(zmlx_array_device(a).type == dev.type && zmlx_array_device(a).index == dev.index);
  CHECK_EQ_INT(d.offset, 0);
  CHECK_MSG((d.data == NULL) == (n == 0), "data %p for %lld elements", d.data, (long long)n);
  /* C-contiguous strides, computed here. */
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    CHECK_EQ_INT(d.shape[i], shape[i]);
    if (shape[i] > 1 && n > 0) CHECK_EQ_INT(d.strides[i], s); /* empty: any strides */
    s *= shape[i];
  }
}

static void t_empty_create(void) {
  setup();
  const int64_t shapes[][3] = {{1, 0, 0}, {7, 0, 0}, {4097, 0, 0}, {3, 5, 7}, {0, 0, 0},
                               {3, 0, 5}, {1, 1, 1}};
  const int ndims[] = {1, 1, 1, 3, 1, 3, 3};
  FOR_EACH_DEVICE(dev) {
    for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
      for (size_t s = 0; s < sizeof ndims / sizeof ndims[0]; s++) {
        zmlx_array *a = NULL;
        CHECK_OK(zmlx_array_empty(ALL_DTYPES[t], ndims[s], shapes[s], dev, &a));
        if (a) check_layout(a, ALL_DTYPES[t], ndims[s], shapes[s], dev);
        zmlx_array_release(a);
      }
      zmlx_array *sc = NULL; /* a scalar: ndim 0, one element, shape may be NULL */
      CHECK_OK(zmlx_array_empty(ALL_DTYPES[t], 0, NULL, dev, &sc));
      if (sc) check_layout(sc, ALL_DTYPES[t], 0, NULL, dev);
      zmlx_array_release(sc);
    }
  }
}

/* Random bytes of every dtype survive host -> device -> host unchanged. */
static void t_from_host_roundtrip(void) {
  setup();
  const int64_t sizes[] = {1, 7, 4097};
  FOR_EACH_DEVICE(dev) {
    for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
      zmlx_dtype dt = ALL_DTYPES[t];
      size_t es = zmlx_dtype_size(dt);
      for (int s = 0; s < 4; s++) {
        int64_t shape2[2] = {3, 5};
        int ndim = s < 3 ? 1 : 2;
        const int64_t *shape = s < 3 ? &sizes[s] : shape2;
        int64_t n = s < 3 ? sizes[s] : 15;
        unsigned char *src = malloc((size_t)n * es);
        rnd_bytes(src, (size_t)n * es);
        if (dt == ZMLX_DTYPE_BOOL)
          for (int64_t i = 0; i < n; i++) src[i] &= 1;
        zmlx_array *a = NULL;
        CHECK_OK(zmlx_array_from_host(src, dt, ndim, shape, dev, &a));
        if (a) {
          check_layout(a, dt, ndim, shape, dev);
          void *h = host_read(a);
          char what[64];
          snprintf(what, sizeof what, "%s from_host n=%lld", devname(dev), (long long)n);
          compare_elems(what, dt, h, src, n);
          free(h);
        }
        zmlx_array_release(a);
        free(src);
      }
    }
  }
}

/* The value full() should store, computed here. */
static void encode_expected(zmlx_dtype t, double v, void *out) { put(t, out, 0, v); }

static void check_filled(zmlx_device dev, zmlx_dtype t, int ndim, const int64_t *shape,
                         double v, const char *how, zmlx_array *a) {
  unsigned char want[8];
  encode_expected(t, v, want);
  int64_t n = zmlx_array_numel(a);
  void *h = host_read(a);
  size_t es = zmlx_dtype_size(t);
  long bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (memcmp((char *)h + i * es, want, es)) {
      char g[20], w[20];
      elem_hex(t, h, i, g);
      elem_hex(t, want, 0, w);
      MISMATCH(bad, "%s %s %s(%.17g) [%lld] = 0x%s, want 0x%s", devname(dev),
               zmlx_dtype_name(t), how, v, (long long)i, g, w);
    }
  CHECK_MSG(bad == 0, "%s %s %s(%.17g): %ld of %lld wrong", devname(dev), zmlx_dtype_name(t),
            how, v, bad, (long long)n);
  check_layout(a, t, ndim, shape, dev);
  free(h);
}

/* A random value full() of dtype t stores exactly as computed here: in
 * range, with a fraction for integers (dropped toward zero) and never 0. */
static double random_fill_value(zmlx_dtype t) {
  double lim = max_of(t);
  if (t == ZMLX_DTYPE_BOOL) return (rnd() & 1 ? 1 : -1) * (0.25 + rnd_unit());
  if (is_float(t)) {
    double m = lim < 1e6 ? lim : 1e6;
    return (rnd() & 1 ? 1 : -1) * (0.001 + rnd_unit() * m);
  }
  double lo = is_unsigned(t) ? 1 : -lim + 1, hi = lim - 1;
  if (t == ZMLX_DTYPE_I64) lo = -0x1p62, hi = 0x1p62; /* integers exact in double */
  double k = floor(lo + rnd_unit() * (hi - lo));
  if (k == 0) k = 1;
  double frac = 0.05 + 0.9 * rnd_unit();
  return k > 0 ? k + frac * (t == ZMLX_DTYPE_I64 ? 0 : 1) : k - frac * (t == ZMLX_DTYPE_I64 ? 0 : 1);
}

static void t_fill_every_dtype(void) {
  setup();
  const int64_t sizes[] = {1, 7, 4097, 100003};
  FOR_EACH_DEVICE(dev) {
    for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
      zmlx_dtype dt = ALL_DTYPES[t];
      for (int s = 0; s < 5; s++) {
        int64_t shape2[2] = {7, 9};
        int ndim = s < 4 ? 1 : 2;
        const int64_t *shape = s < 4 ? &sizes[s] : shape2;
        zmlx_array *z = NULL, *o = NULL, *f = NULL;
        double v = random_fill_value(dt);
        CHECK_OK(zmlx_array_zeros(dt, ndim, shape, dev, &z));
        CHECK_OK(zmlx_array_ones(dt, ndim, shape, dev, &o));
        CHECK_OK(zmlx_array_full(dt, ndim, shape, v, dev, &f));
        if (z) check_filled(dev, dt, ndim, shape, 0.0, "zeros", z);
        if (o) check_filled(dev, dt, ndim, shape, 1.0, "ones", o);
        if (f) check_filled(dev, dt, ndim, shape, v, "full", f);
        zmlx_array_release(z);
        zmlx_array_release(o);
        zmlx_array_release(f);
      }
    }
  }
}

/* 8-byte elements: the halves of the pattern differ, so a fill that
 * writes 4-byte words (or the wrong half) shows. Also the exact integer
 * edges of narrower types, and the known bit patterns of 1.0. */
static void t_fill_patterns(void) {
  setup();
  const int64_t sizes[] = {1, 7, 4097, 65537};
  FOR_EACH_DEVICE(dev) {
    for (int s = 0; s < 4; s++) {
      const int64_t *shape = &sizes[s];
      for (int rep = 0; rep < 4; rep++) {
        /* f64: random finite bits with distinct halves */
        uint64_t bits;
        double d;
        do {
          bits = rnd();
          memcpy(&d, &bits, 8);
        } while (!isfinite(d) || (uint32_t)bits == (uint32_t)(bits >> 32));
        zmlx_array *a = NULL;
        CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F64, 1, shape, d, dev, &a));
        if (a) check_filled(dev, ZMLX_DTYPE_F64, 1, shape, d, "full", a);
        zmlx_array_release(a);
        /* i64: an integer exact in double, halves differ, sign random */
        int64_t iv = (int64_t)(rnd() >> 11) | ((int64_t)1 << 40);
        if (rnd() & 1) iv = -iv;
        CHECK_OK(zmlx_array_full(ZMLX_DTYPE_I64, 1, shape, (double)iv, dev, &a));
        if (a) {
          int64_t *h = host_read(a);
          long bad = 0;
          for (int64_t i = 0; i < sizes[s]; i++)
            if (h[i] != iv) MISMATCH(bad, "i64 full [%lld] = %lld, want %lld", (long long)i,
                                     (long long)h[i], (long long)iv);
          CHECK_MSG(bad == 0, "%s i64 full(%lld): %ld wrong", devname(dev), (long long)iv, bad);
          free(h);
        }
        zmlx_array_release(a);
      }
      /* True constants. */
      struct { zmlx_dtype t; double v; uint64_t want; } k[] = {
          {ZMLX_DTYPE_BF16, 1.0, 0x3F80},   {ZMLX_DTYPE_F16, 1.0, 0x3C00},
          {ZMLX_DTYPE_F32, 1.0, 0x3F800000}, {ZMLX_DTYPE_F64, 1.0, 0x3FF0000000000000ull},
          {ZMLX_DTYPE_FP8_E4M3, 1.0, 0x38}, {ZMLX_DTYPE_FP8_E5M2, 1.0, 0x3C},
          {ZMLX_DTYPE_I8, -128, 0x80},      {ZMLX_DTYPE_U8, 255, 0xFF},
          {ZMLX_DTYPE_I16, -32768, 0x8000}, {ZMLX_DTYPE_I32, -2147483648.0, 0x80000000u},
          {ZMLX_DTYPE_U32, 4000000000.0, 4000000000u}, {ZMLX_DTYPE_BOOL, -0.5, 1},
          {ZMLX_DTYPE_BOOL, 2.0, 1},        {ZMLX_DTYPE_BOOL, 0.0, 0},
          {ZMLX_DTYPE_I32, -2.75, 0xFFFFFFFEu}, {ZMLX_DTYPE_I8, 3.99, 3},
          {ZMLX_DTYPE_F32, -0.0, 0x80000000u},  {ZMLX_DTYPE_F16, -0.0, 0x8000},
      };
      for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        zmlx_array *a = NULL;
        CHECK_OK(zmlx_array_full(k[i].t, 1, shape, k[i].v, dev, &a));
        if (!a) continue;
        unsigned char *h = host_read(a);
        size_t es = zmlx_dtype_size(k[i].t);
        long bad = 0;
        for (int64_t j = 0; j < sizes[s]; j++) {
          uint64_t got = 0;
          for (size_t b = 0; b < es; b++) got |= (uint64_t)h[j * (int64_t)es + (int64_t)b] << (8 * b);
          if (got != k[i].want)
            MISMATCH(bad, "%s full(%g) [%lld] = 0x%llx, want 0x%llx", zmlx_dtype_name(k[i].t),
                     k[i].v, (long long)j, (unsigned long long)got,
                     (unsigned long long)k[i].want);
        }
        CHECK_MSG(bad == 0, "%s %s full(%g): %ld wrong", devname(dev), zmlx_dtype_name(k[i].t),
                  k[i].v, bad);
        free(h);
        zmlx_array_release(a);
      }
    }
  }
}

/* arange: element i is start + step*i in f64, then converted (integers
 * truncate toward zero). A backend may contract the multiply-add into one
 * fma, so either rounding of the f64 value is accepted. */
static void t_arange(void) {
  setup();
  const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_I32, ZMLX_DTYPE_I64,
                              ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
  const int64_t sizes[] = {1, 7, 4097};
  FOR_EACH_DEVICE(dev) {
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
      zmlx_dtype dt = types[t];
      for (int s = 0; s < 3; s++) {
        int64_t n = sizes[s];
        for (int rep = 0; rep < 3; rep++) {
          double start = (rnd_unit() - 0.5) * 200;
          double step = (rnd_unit() + 0.01) * (rnd() & 1 ? 1 : -1);
          if (dt == ZMLX_DTYPE_F16 || dt == ZMLX_DTYPE_BF16) step *= 0.01;
          if (rep == 0) step = rnd() & 1 ? 0.75 : -1.25; /* exact steps */
          if (rep == 1) step = 0.1;                      /* inexact step */
          zmlx_array *a = NULL;
          CHECK_OK(zmlx_array_arange(dt, n, start, step, dev, &a));
          if (!a) continue;
          check_layout(a, dt, 1, &n, dev);
          void *h = host_read(a);
          size_t es = zmlx_dtype_size(dt);
          unsigned char w1[8], w2[8];
          long bad = 0;
          for (int64_t i = 0; i < n; i++) {
            double v1 = start + step * (double)i, v2 = fma(step, (double)i, start);
            put(dt, w1, 0, v1);
            put(dt, w2, 0, v2);
            const unsigned char *g = (unsigned char *)h + i * (int64_t)es;
            if (memcmp(g, w1, es) && memcmp(g, w2, es))
              MISMATCH(bad, "%s arange %s(start %.17g, step %.17g) [%lld] = %.17g, want %.17g",
                       devname(dev), zmlx_dtype_name(dt), start, step, (long long)i,
                       get(dt, h, i), v1);
          }
          CHECK_MSG(bad == 0, "%s arange %s n=%lld: %ld wrong", devname(dev),
                    zmlx_dtype_name(dt), (long long)n, bad);
          free(h);
          zmlx_array_release(a);
        }
      }
    }
    zmlx_array *e = NULL;
    CHECK_OK(zmlx_array_arange(ZMLX_DTYPE_F32, 0, 1.5, 0.5, dev, &e));
    if (e) CHECK_EQ_INT(zmlx_array_numel(e), 0);
    zmlx_array_release(e);
  }
}

/* ---- random ------------------------------------------------------------- */
static double *read_as_f64(const zmlx_array *a) {
  int64_t n = zmlx_array_numel(a);
  zmlx_dtype t = zmlx_array_dtype(a);
  void *h = host_read(a);
  double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
  for (int64_t i = 0; i < n; i++) d[i] = get(t, h, i);
  free(h);
  return d;
}

/* Uniform draws: in [low, high) (closed for types whose rounding can reach
 * high), and mean, variance and a 16-bin histogram within 6 sigma. */
static void t_uniform_range_stats(void) {
  setup();
  const int64_t n = 1000000;
  FOR_EACH_DEVICE(dev) {
    const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
    for (int t = 0; t < 4; t++) {
      /* Bounds exact in every type drawn, so the range check is exact. */
      const double los[] = {-2.0, -2.5, -1.75}, his[] = {3.0, 3.25, 2.5};
      int pick = (int)(rnd() % 3);
      double lo = los[pick], hi = his[pick];
      uint64_t seed = rnd();
      zmlx_array *a = NULL;
      CHECK_OK(zmlx_array_random_uniform(types[t], 1, &n, seed, lo, hi, dev, &a));
      if (!a) continue;
      check_layout(a, types[t], 1, &n, dev);
      double *x = read_as_f64(a);
      long out = 0;
      double sum = 0, sum2 = 0;
      long bins[16] = {0};
      for (int64_t i = 0; i < n; i++) {
        int in = t < 2 ? (x[i] >= lo && x[i] < hi) : (x[i] >= lo && x[i] <= hi);
        if (!in) MISMATCH(out, "%s uniform %s [%lld] = %.17g outside [%g, %g)", devname(dev),
                          zmlx_dtype_name(types[t]), (long long)i, x[i], lo, hi);
        sum += x[i];
        int b = (int)((x[i] - lo) / (hi - lo) * 16);
        bins[b < 0 ? 0 : b > 15 ? 15 : b]++;
      }
      double mean = sum / n;
      for (int64_t i = 0; i < n; i++) sum2 += (x[i] - mean) * (x[i] - mean);
      double var = sum2 / (n - 1), w = hi - lo;
      double want_var = w * w / 12, sd_mean = sqrt(want_var / n);
      double sd_var = sqrt(w * w * w * w * (1.0 / 80 - 1.0 / 144) / n);
      double tol_q = types[t] == ZMLX_DTYPE_F16 || types[t] == ZMLX_DTYPE_BF16 ? 0.02 : 0;
      CHECK_MSG(out == 0, "%s uniform %s: %ld values out of range", devname(dev),
                zmlx_dtype_name(types[t]), out);
      CHECK_MSG(fabs(mean - (lo + hi) / 2) <= 6 * sd_mean + tol_q,
                "%s uniform %s mean %.6f, want %.6f (seed %llu)", devname(dev),
                zmlx_dtype_name(types[t]), mean, (lo + hi) / 2, (unsigned long long)seed);
      CHECK_MSG(fabs(var - want_var) <= 6 * sd_var + tol_q,
                "%s uniform %s variance %.6f, want %.6f", devname(dev),
                zmlx_dtype_name(types[t]), var, want_var);
      if (t < 2) {
        double p = 1.0 / 16, sd_bin = sqrt(n * p * (1 - p));
        for (int b = 0; b < 16; b++)
          CHECK_MSG(fabs(bins[b] - n * p) <= 6 * sd_bin, "%s uniform %s bin %d holds %ld of %lld",
                    devname(dev), zmlx_dtype_name(types[t]), b, bins[b], (long long)n);
      }
      free(x);
      zmlx_array_release(a);
    }
  }
}

static void *draw(zmlx_dtype t, int ndim, const int64_t *shape, uint64_t seed, int normal,
                  zmlx_device dev) {
  zmlx_array *a = NULL;
  if (normal)
    CHECK_OK(zmlx_array_random_normal(t, ndim, shape, seed, 0.5, 2.0, dev, &a));
  else
    CHECK_OK(zmlx_array_random_uniform(t, ndim, shape, seed, -1.0, 2.0, dev, &a));
  void *h = a ? host_read(a) : NULL;
  zmlx_array_release(a);
  return h;
}

/* Same seed: the same bits. Other seeds (low or high half changed):
 * different draws. */
static void t_random_determinism(void) {
  setup();
  const int64_t n = 4097;
  FOR_EACH_DEVICE(dev) {
    for (int normal = 0; normal < 2; normal++)
      for (int f64 = 0; f64 < 2; f64++) {
        zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
        size_t es = zmlx_dtype_size(t);
        uint64_t seed = rnd();
        void *a = draw(t, 1, &n, seed, normal, dev);
        void *b = draw(t, 1, &n, seed, normal, dev);
        void *c = draw(t, 1, &n, seed ^ 1, normal, dev);
        void *d = draw(t, 1, &n, seed ^ (1ull << 40), normal, dev);
        if (a && b && c && d) {
          CHECK_MSG(!memcmp(a, b, (size_t)n * es), "%s %s: same seed, different draws",
                    devname(dev), normal ? "normal" : "uniform");
          long same_c = 0, same_d = 0;
          for (int64_t i = 0; i < n; i++) {
            same_c += elem_eq(t, a, c, i);
            same_d += elem_eq(t, a, d, i);
          }
          CHECK_MSG(same_c < n / 100, "%s: seeds differing in bit 0 share %ld of %lld draws",
                    devname(dev), same_c, (long long)n);
          CHECK_MSG(same_d < n / 100, "%s: seeds differing in bit 40 share %ld of %lld draws",
                    devname(dev), same_d, (long long)n);
        }
        free(a);
        free(b);
        free(c);
        free(d);
      }
  }
}

/* Element i depends on (seed, i) only: any shape's draw is a prefix of a
 * longer one. */
static void t_random_prefix(void) {
  setup();
  const int64_t n = 4097;
  FOR_EACH_DEVICE(dev) {
    for (int normal = 0; normal < 2; normal++)
      for (int f64 = 0; f64 < 2; f64++) {
        zmlx_dtype t = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
        size_t es = zmlx_dtype_size(t);
        uint64_t seed = rnd();
        void *full = draw(t, 1, &n, seed, normal, dev);
        const int64_t k1 = 1, k7 = 7, sh[2] = {3, 5}, sq[2] = {64, 64};
        void *p1 = draw(t, 1, &k1, seed, normal, dev);
        void *p7 = draw(t, 1, &k7, seed, normal, dev);
        void *p15 = draw(t, 2, sh, seed, normal, dev);
        void *p4096 = draw(t, 2, sq, seed, normal, dev);
        void *p0 = draw(t, 0, NULL, seed, normal, dev); /* a scalar is element 0 */
        if (full && p1 && p7 && p15 && p4096 && p0) {
          CHECK(!memcmp(full, p1, es));
          CHECK(!memcmp(full, p7, 7 * es));
          CHECK(!memcmp(full, p15, 15 * es));
          CHECK(!memcmp(full, p4096, 4096 * es));
          CHECK(!memcmp(full, p0, es));
        }
        free(full);
        free(p1);
        free(p7);
        free(p15);
        free(p4096);
        free(p0);
      }
  }
}

/* f64 uniform draws carry more than f32's 24 bits; f32 draws on [0, 1) are
 * multiples of 2^-24 (the documented 24 bits). */
static void t_uniform_bits(void) {
  setup();
  const int64_t n = 100003;
  FOR_EACH_DEVICE(dev) {
    zmlx_array *a = NULL, *b = NULL;
    CHECK_OK(zmlx_array_random_uniform(ZMLX_DTYPE_F64, 1, &n, rnd(), 0.0, 1.0, dev, &a));
    CHECK_OK(zmlx_array_random_uniform(ZMLX_DTYPE_F32, 1, &n, rnd(), 0.0, 1.0, dev, &b));
    if (a && b) {
      double *x = host_read(a);
      float *y = host_read(b);
      long fine = 0, coarse_bad = 0, distinct_low = 0;
      for (int64_t i = 0; i < n; i++) {
        double s = ldexp(x[i], 24);
        if (s != floor(s)) fine++;
        double l = ldexp(x[i], 40);
        if (l != floor(l)) distinct_low++;
        double t = ldexp((double)y[i], 24);
        if (t != floor(t)) coarse_bad++;
      }
      CHECK_MSG(fine > n * 99 / 100, "%s f64 uniform: only %ld of %lld have bits below 2^-24",
                devname(dev), fine, (long long)n);
      CHECK_MSG(distinct_low > n * 99 / 100,
                "%s f64 uniform: only %ld of %lld have bits below 2^-40", devname(dev),
                distinct_low, (long long)n);
      CHECK_MSG(coarse_bad == 0, "%s f32 uniform: %ld not multiples of 2^-24", devname(dev),
                coarse_bad);
      free(x);
      free(y);
    }
    zmlx_array_release(a);
    zmlx_array_release(b);
  }
}

static void normal_stats(zmlx_device dev, zmlx_dtype t, double mu, double sigma) {
  const int64_t n = 1000000;
  zmlx_array *a = NULL;
  uint64_t seed = rnd();
  CHECK_OK(zmlx_array_random_normal(t, 1, &n, seed, mu, sigma, dev, &a));
  if (!a) return;
  double *x = read_as_f64(a);
  double sum = 0, sum2 = 0;
  long nonfinite = 0, tail = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) nonfinite++;
    sum += x[i];
  }
  double mean = sum / n;
  for (int64_t i = 0; i < n; i++) {
    sum2 += (x[i] - mean) * (x[i] - mean);
    if (fabs(x[i] - mu) > 2 * sigma) tail++;
  }
  double var = sum2 / (n - 1);
  /* P(|z| > 2) = erfc(sqrt 2) */
  double p = erfc(sqrt(2.0)), sd_tail = sqrt(n * p * (1 - p));
  CHECK_MSG(nonfinite == 0, "%s normal %s: %ld non-finite", devname(dev), zmlx_dtype_name(t),
            nonfinite);
  CHECK_MSG(fabs(mean - mu) <= 6 * sigma / sqrt((double)n),
            "%s normal %s(%g, %g) mean %.6f (seed %llu)", devname(dev), zmlx_dtype_name(t), mu,
            sigma, mean, (unsigned long long)seed);
  CHECK_MSG(fabs(var - sigma * sigma) <= 6 * sigma * sigma * sqrt(2.0 / n),
            "%s normal %s(%g, %g) variance %.6f", devname(dev), zmlx_dtype_name(t), mu, sigma,
            var);
  CHECK_MSG(fabs(tail - n * p) <= 6 * sd_tail, "%s normal %s: %ld beyond 2 sigma, want ~%.0f",
            devname(dev), zmlx_dtype_name(t), tail, n * p);
  free(x);
  zmlx_array_release(a);
}

static void t_normal_stats(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    normal_stats(dev, ZMLX_DTYPE_F32, 0.0, 1.0);
    normal_stats(dev, ZMLX_DTYPE_F64, 0.0, 1.0);
    normal_stats(dev, ZMLX_DTYPE_F64, 5.0 + rnd_unit(), 3.0 + rnd_unit());
    normal_stats(dev, ZMLX_DTYPE_F32, -2.0 - rnd_unit(), 0.5 + rnd_unit());
  }
}

static void t_random_integer_dtype_fails(void) {
  setup();
  const int64_t shape[2] = {3, 4};
  const zmlx_dtype bad[] = {ZMLX_DTYPE_I8,  ZMLX_DTYPE_U8,  ZMLX_DTYPE_I16,  ZMLX_DTYPE_I32,
                            ZMLX_DTYPE_I64, ZMLX_DTYPE_U32, ZMLX_DTYPE_BOOL, (zmlx_dtype)99};
  FOR_EACH_DEVICE(dev) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      zmlx_array *a = (zmlx_array *)&a; /* a non-NULL sentinel: failure must clear it */
      zmlx_error_clear();
      CHECK_STATUS(zmlx_array_random_uniform(bad[i], 2, shape, 1, 0, 1, dev, &a),
                   ZMLX_STATUS_DTYPE_UNSUPPORTED);
      CHECK_CONTAINS(zmlx_error_last(), "array_random_uniform");
      CHECK_MSG(a == NULL, "random_uniform failed but left *out = %p", (void *)a);
      if (a != (zmlx_array *)&a) zmlx_array_release(a);
      a = (zmlx_array *)&a;
      zmlx_error_clear();
      CHECK_STATUS(zmlx_array_random_normal(bad[i], 2, shape, 1, 0, 1, dev, &a),
                   ZMLX_STATUS_DTYPE_UNSUPPORTED);
      CHECK_CONTAINS(zmlx_error_last(), "array_random_normal");
      CHECK_MSG(a == NULL, "random_normal failed but left *out = %p", (void *)a);
      if (a != (zmlx_array *)&a) zmlx_array_release(a);
    }
  }
}

/* CUDA against the CPU: uniform draws bit for bit (f32, f64 and the
 * 16-bit floats they are rounded to); normal draws within 1e-5. */
static void t_random_cuda_matches_cpu(void) {
  setup();
  if (g_ndev < 2) {
    printf("  (no CUDA device: CPU-only run, nothing to compare)\n");
    CHECK(zmlx_device_count(ZMLX_DEVICE_CUDA) == 0);
    return;
  }
  const int64_t sizes[] = {1, 7, 4097, 1000003};
  for (int s = 0; s < 4; s++) {
    const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
    for (int t = 0; t < 4; t++) {
      uint64_t seed = rnd();
      double lo = -10 * rnd_unit(), hi = 10 * rnd_unit() + 0.5;
      zmlx_array *c = NULL, *g = NULL;
      CHECK_OK(zmlx_array_random_uniform(types[t], 1, &sizes[s], seed, lo, hi, ZMLX_CPU, &c));
      CHECK_OK(zmlx_array_random_uniform(types[t], 1, &sizes[s], seed, lo, hi, ZMLX_CUDA(0), &g));
      if (c && g) {
        void *hc = host_read(c), *hg = host_read(g);
        compare_elems("uniform cuda vs cpu", types[t], hg, hc, sizes[s]);
        free(hc);
        free(hg);
      }
      zmlx_array_release(c);
      zmlx_array_release(g);
      if (t >= 2) continue;
      CHECK_OK(zmlx_array_random_normal(types[t], 1, &sizes[s], seed, lo, hi, ZMLX_CPU, &c));
      CHECK_OK(zmlx_array_random_normal(types[t], 1, &sizes[s], seed, lo, hi, ZMLX_CUDA(0), &g));
      if (c && g) {
        double *xc = read_as_f64(c), *xg = read_as_f64(g);
        long bad = 0;
        for (int64_t i = 0; i < sizes[s]; i++)
          if (!(fabs(xg[i] - xc[i]) <= 1e-5 * fmax(1.0, fabs(xc[i]))))
            MISMATCH(bad, "normal %s [%lld]: cuda %.9g, cpu %.9g", zmlx_dtype_name(types[t]),
                     (long long)i, xg[i], xc[i]);
        CHECK_MSG(bad == 0, "normal %s n=%lld: %ld differ by more than 1e-5",
                  zmlx_dtype_name(types[t]), (long long)sizes[s], bad);
        CHECK(zt_rel_err(xg, xc, (size_t)sizes[s]) <= 1e-5);
        free(xc);
        free(xg);
      }
      zmlx_array_release(c);
      zmlx_array_release(g);
    }
  }
}

/* ---- reference counting ------------------------------------------------- */
static void t_refcount(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {6, 7};
    float src[42];
    for (int i = 0; i < 42; i++) src[i] = (float)(rnd_unit() * 100 - 50);
    zmlx_array *a = NULL;
    CHECK_OK(zmlx_array_from_host(src, ZMLX_DTYPE_F32, 2, shape, dev, &a));
    if (!a) continue;
    CHECK_EQ_INT(atomic_load(&a->refs), 1);
    CHECK_EQ_INT(atomic_load(&a->storage->refs), 1);
    CHECK(zmlx_array_retain(a) == a);
    CHECK_EQ_INT(atomic_load(&a->refs), 2);
    zmlx_array_release(a);
    CHECK_EQ_INT(atomic_load(&a->refs), 1);
    CHECK(zmlx_array_retain(NULL) == NULL);
    zmlx_array_release(NULL);

    /* Views share the storage, hold it alive, and outlive the base. */
    zmlx_array *v = NULL, *w = NULL;
    CHECK_OK(zmlx_array_slice(a, 0, 5, 0, -2, &v)); /* rows 5, 3, 1 */
    CHECK_OK(zmlx_array_transpose(a, 0, 1, &w));
    if (!v || !w) {
      zmlx_array_release(a);
      zmlx_array_release(v);
      zmlx_array_release(w);
      continue;
    }
    zmlx_storage *st = a->storage;
    CHECK(v->storage == st && w->storage == st);
    CHECK_EQ_INT(atomic_load(&st->refs), 3);
    CHECK_EQ_INT(atomic_load(&v->refs), 1);
    zmlx_array_release(a); /* the base goes first */
    CHECK_EQ_INT(atomic_load(&st->refs), 2);
    float *hv = host_read(v);
    long bad = 0;
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 7; c++)
        if (hv[r * 7 + c] != src[(5 - 2 * r) * 7 + c]) bad++;
    CHECK_MSG(bad == 0, "%s: a view read after its base was released: %ld wrong", devname(dev),
              bad);
    free(hv);
    zmlx_array_release(v);
    CHECK_EQ_INT(atomic_load(&st->refs), 1);
    float *hw = host_read(w);
    bad = 0;
    for (int r = 0; r < 7; r++)
      for (int c = 0; c < 6; c++)
        if (hw[r * 6 + c] != src[c * 7 + r]) bad++;
    CHECK_MSG(bad == 0, "%s: the last view: %ld wrong", devname(dev), bad);
    free(hw);
    /* Retain/release balance on the last handle; ASan/LSan see the rest. */
    zmlx_array_retain(w);
    zmlx_array_retain(w);
    CHECK_EQ_INT(atomic_load(&w->refs), 3);
    zmlx_array_release(w);
    zmlx_array_release(w);
    CHECK_EQ_INT(atomic_load(&w->refs), 1);
    zmlx_array_release(w);
  }
}

/* ---- inspection ---------------------------------------------------------- */
static void t_describe(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {4, 6, 5};
    zmlx_array *a = NULL, *s = NULL, *t = NULL;
    CHECK_OK(zmlx_array_random_uniform(ZMLX_DTYPE_F64, 3, shape, rnd(), -1, 1, dev, &a));
    if (!a) continue;
    zmlx_array_desc d = zmlx_array_describe(a);
    CHECK_EQ_INT(d.dtype, ZMLX_DTYPE_F64);
    CHECK_EQ_INT(d.ndim, 3);
    CHECK(d.shape[0] == 4 && d.shape[1] == 6 && d.shape[2] == 5);
    CHECK(d.strides[0] == 30 && d.strides[1] == 5 && d.strides[2] == 1);
    CHECK_EQ_INT(d.offset, 0);
    CHECK(d.data != NULL);
    CHECK(d.device.type == dev.type && d.device.index == dev.index);
    /* a[:, 1::2, :] then axes 0 and 2 swapped */
    CHECK_OK(zmlx_array_slice(a, 1, 1, 6, 2, &s));
    if (s) CHECK_OK(zmlx_array_transpose(s, 0, -1, &t));
    if (s && t) {
      zmlx_array_desc ds = zmlx_array_describe(s), dt = zmlx_array_describe(t);
      CHECK(ds.shape[0] == 4 && ds.shape[1] == 3 && ds.shape[2] == 5);
      CHECK(ds.strides[0] == 30 && ds.strides[1] == 10 && ds.strides[2] == 1);
      CHECK_EQ_INT(ds.offset, 5);
      CHECK((char *)ds.data == (char *)d.data + 5 * sizeof(double));
      CHECK(dt.shape[0] == 5 && dt.shape[1] == 3 && dt.shape[2] == 4);
      CHECK(dt.strides[0] == 1 && dt.strides[1] == 10 && dt.strides[2] == 30);
      CHECK_EQ_INT(dt.offset, 5);
      CHECK(dt.data == ds.data);
      CHECK(!zmlx_array_is_contiguous(s));
      CHECK(!zmlx_array_is_contiguous(t));
      CHECK(dt.device.type == dev.type && dt.device.index == dev.index);
    }
    zmlx_array_release(a);
    zmlx_array_release(s);
    zmlx_array_release(t);
    /* Empty: no data. */
    const int64_t es[2] = {3, 0};
    zmlx_array *e = NULL;
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_I16, 2, es, dev, &e));
    if (e) {
      zmlx_array_desc de = zmlx_array_describe(e);
      CHECK(de.data == NULL);
      CHECK(de.ndim == 2 && de.shape[0] == 3 && de.shape[1] == 0);
    }
    zmlx_array_release(e);
  }
}

static void t_numel_dim(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
      const int64_t shape[4] = {2, 3, 5, 7};
      zmlx_array *a = NULL, *s = NULL, *e = NULL;
      CHECK_OK(zmlx_array_empty(ALL_DTYPES[t], 4, shape, dev, &a));
      CHECK_OK(zmlx_array_empty(ALL_DTYPES[t], 0, NULL, dev, &s));
      const int64_t es[3] = {3, 0, 2};
      CHECK_OK(zmlx_array_empty(ALL_DTYPES[t], 3, es, dev, &e));
      if (a) {
        CHECK_EQ_INT(zmlx_array_numel(a), 210);
        CHECK_EQ_INT(zmlx_array_nbytes(a), 210 * zmlx_dtype_size(ALL_DTYPES[t]));
        for (int ax = 0; ax < 4; ax++) {
          CHECK_EQ_INT(zmlx_array_dim(a, ax), shape[ax]);
          CHECK_EQ_INT(zmlx_array_dim(a, ax - 4), shape[ax]);
        }
        CHECK_EQ_INT(zmlx_array_dim(a, 4), -1);
        CHECK_EQ_INT(zmlx_array_dim(a, -5), -1);
        CHECK_EQ_INT(zmlx_array_dim(a, 1 << 30), -1);
        CHECK_EQ_INT(zmlx_array_dim(a, -(1 << 30)), -1);
      }
      if (s) {
        CHECK_EQ_INT(zmlx_array_ndim(s), 0);
        CHECK_EQ_INT(zmlx_array_numel(s), 1);
        CHECK_EQ_INT(zmlx_array_nbytes(s), zmlx_dtype_size(ALL_DTYPES[t]));
        CHECK_EQ_INT(zmlx_array_dim(s, 0), -1);
        CHECK_EQ_INT(zmlx_array_dim(s, -1), -1);
      }
      if (e) {
        CHECK_EQ_INT(zmlx_array_numel(e), 0);
        CHECK_EQ_INT(zmlx_array_nbytes(e), 0);
        CHECK_EQ_INT(zmlx_array_dim(e, -2), 0);
        CHECK_EQ_INT(zmlx_array_dim(e, -1), 2);
      }
      zmlx_array_release(a);
      zmlx_array_release(s);
      zmlx_array_release(e);
    }
  }
}

static void t_format(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const char *dn = devname(dev);
    struct { zmlx_dtype t; int ndim; int64_t shape[3]; const char *shape_text; } cases[] = {
        {ZMLX_DTYPE_F32, 2, {2, 3}, "(2, 3)"},
        {ZMLX_DTYPE_BF16, 1, {7}, "(7,)"},
        {ZMLX_DTYPE_I64, 0, {0}, "()"},
        {ZMLX_DTYPE_U8, 2, {0, 4}, "(0, 4)"},
        {ZMLX_DTYPE_FP8_E4M3, 3, {4097, 1, 5}, "(4097, 1, 5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      zmlx_array *a = NULL;
      CHECK_OK(zmlx_array_empty(cases[i].t, cases[i].ndim, cases[i].shape, dev, &a));
      if (!a) continue;
      char want[128], buf[128];
      snprintf(want, sizeof want, "%s %s %s", cases[i].shape_text, zmlx_dtype_name(cases[i].t),
               dn);
      memset(buf, 0xCD, sizeof buf);
      CHECK(zmlx_array_format(a, buf, sizeof buf) == buf);
      CHECK_MSG(!strcmp(buf, want), "format: \"%s\", want \"%s\"", buf, want);
      /* A short buffer gets a terminated prefix and nothing past it. */
      char small[12];
      memset(small, 0xCD, sizeof small);
      zmlx_array_format(a, small, 6);
      CHECK(memchr(small, 0, 6) != NULL);
      CHECK(!strncmp(small, want, strlen(small)));
      CHECK_EQ_INT((unsigned char)small[6], 0xCD);
      zmlx_array_release(a);
    }
    if (dev.type == ZMLX_DEVICE_CUDA) CHECK(!strcmp(dn, "cuda:0"));
    else CHECK(!strcmp(dn, "cpu"));
  }
}

/* ---- astype ----------------------------------------------------------- */
/* n values for a conversion src -> dst: in the range both hold, random
 * magnitudes, with zeros, -0, and fractions (+-0.5 becomes integer 0 but
 * bool 1). Stored as src elements in *src; their exact values in v. */
static void astype_inputs(zmlx_dtype s, zmlx_dtype d, int64_t n, void *src, double *v) {
  double lim = fmin(max_of(s), max_of(d)) * 0.9;
  int nonneg = is_unsigned(s) || is_unsigned(d);
  for (int64_t i = 0; i < n; i++) {
    double x;
    for (;;) {
      uint64_t r = rnd();
      if (s == ZMLX_DTYPE_BOOL) {
        x = (double)(r & 1);
      } else if (!is_float(s)) {
        double lo = nonneg ? 0 : -floor(lim), hi = floor(lim);
        if (d == ZMLX_DTYPE_BOOL) lo = nonneg ? 0 : -3, hi = 3;
        uint64_t span = (uint64_t)(int64_t)hi - (uint64_t)(int64_t)lo + 1;
        x = (double)(int64_t)((uint64_t)(int64_t)lo + rnd() % span);
        if (s == ZMLX_DTYPE_I64 && fabs(x) >= 0x1p53) {
          /* keep it exact in double (the reference's arithmetic): clear
           * the low bits a double cannot hold */
          x = (double)((int64_t)x & ~(int64_t)0x7ff);
        }
      } else {
        double mag = lim * rnd_unit() * ldexp(1.0, -(int)(r % 24));
        if (mag > 1e30) mag = ldexp(mag, -(int)(r % 90));
        x = (nonneg || (r >> 63)) ? mag : -mag;
        switch (r % 16) {
          case 0: x = 0.0; break;
          case 1: x = nonneg ? 0.0 : -0.0; break;
          case 2: x = (r >> 62) & 1 ? 0.5 : -0.5; break;
          case 3: x = 1.0; break;
          default: break;
        }
        if (nonneg && x < 0 && x != -0.5) x = -x;
      }
      put(s, src, i, x);
      v[i] = get(s, src, i); /* the exact source value */
      if (!is_float(d) && d != ZMLX_DTYPE_BOOL) {
        double tr = trunc(v[i]);
        if (tr > max_of(d) || tr < (is_unsigned(d) ? 0 : -max_of(d) - 1)) continue; /* retry */
      }
      if (is_float(d) && fabs(v[i]) > max_of(d)) continue;
      break;
    }
  }
}

/* The expected element of dst for exact source value x (computed here:
 * integers truncate toward zero, bool is x != 0, small floats round from
 * the f32 value per the header). */
static void astype_expect(zmlx_dtype d, int64_t i, double x, void *out) {
  if (d == ZMLX_DTYPE_BOOL) {
    ((uint8_t *)out)[i] = x != 0;
    return;
  }
  if (!is_float(d)) {
    put(d, out, i, trunc(x));
    return;
  }
  put(d, out, i, x);
}

static void astype_pair(zmlx_device dev, zmlx_dtype s, zmlx_dtype d, int64_t n) {
  size_t ss = zmlx_dtype_size(s), ds = zmlx_dtype_size(d);
  void *src = malloc((size_t)n * ss), *want = malloc((size_t)n * ds);
  double *v = malloc((size_t)n * sizeof *v);
  astype_inputs(s, d, n, src, v);
  for (int64_t i = 0; i < n; i++) astype_expect(d, i, v[i], want);
  zmlx_array *a = NULL, *b = NULL;
  CHECK_OK(zmlx_array_from_host(src, s, 1, &n, dev, &a));
  if (a) CHECK_OK(zmlx_array_astype(a, d, &b));
  if (b) {
    check_layout(b, d, 1, &n, dev);
    void *h = host_read(b);
    char what[64];
    snprintf(what, sizeof what, "%s astype %s->", devname(dev), zmlx_dtype_name(s));
    if (compare_elems(what, d, h, want, n))
      for (int64_t i = 0; i < n && i < 3; i++) fprintf(stderr, "    src[%lld] = %.17g\n", (long long)i, v[i]);
    free(h);
  }
  zmlx_array_release(a);
  zmlx_array_release(b);
  free(src);
  free(want);
  free(v);
}

static void t_astype_all_pairs(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int i = 0; i < ZMLX_DTYPE_COUNT; i++)
      for (int j = 0; j < ZMLX_DTYPE_COUNT; j++)
        astype_pair(dev, ALL_DTYPES[i], ALL_DTYPES[j], 257);
  }
}

/* astype reads any layout: a transposed, reversed source. */
static void t_astype_strided_source(void) {
  setup();
  const zmlx_dtype to[] = {ZMLX_DTYPE_F16, ZMLX_DTYPE_I32, ZMLX_DTYPE_F64, ZMLX_DTYPE_BOOL};
  FOR_EACH_DEVICE(dev) {
    const int64_t R = 33, C = 17, shape[2] = {33, 17};
    float *src = malloc(R * C * sizeof *src);
    for (int64_t i = 0; i < R * C; i++) src[i] = (float)((rnd_unit() - 0.5) * 2000);
    src[5] = 0.0f;
    zmlx_array *a = NULL, *t = NULL, *r = NULL;
    CHECK_OK(zmlx_array_from_host(src, ZMLX_DTYPE_F32, 2, shape, dev, &a));
    if (a) CHECK_OK(zmlx_array_transpose(a, 0, 1, &t));
    if (t) CHECK_OK(zmlx_array_slice(t, 0, -1, -1000, -1, &r)); /* columns reversed */
    for (int k = 0; r && k < 4; k++) {
      zmlx_array *b = NULL;
      CHECK_OK(zmlx_array_astype(r, to[k], &b));
      if (!b) continue;
      CHECK_EQ_INT(zmlx_array_dim(b, 0), C);
      CHECK_EQ_INT(zmlx_array_dim(b, 1), R);
      CHECK(zmlx_array_is_contiguous(b));
      void *h = host_read(b);
      void *want = malloc((size_t)(R * C) * zmlx_dtype_size(to[k]));
      for (int64_t i = 0; i < C; i++)
        for (int64_t j = 0; j < R; j++) {
          double x = src[j * C + (C - 1 - i)];
          astype_expect(to[k], i * R + j, x, want);
        }
      char what[64];
      snprintf(what, sizeof what, "%s astype of a strided f32 ->", devname(dev));
      compare_elems(what, to[k], h, want, R * C);
      free(h);
      free(want);
      zmlx_array_release(b);
    }
    zmlx_array_release(a);
    zmlx_array_release(t);
    zmlx_array_release(r);
    free(src);
  }
}

/* ---- copy_into ---------------------------------------------------------- */
static zmlx_array *random_f32(zmlx_device dev, int ndim, const int64_t *shape, float **host) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
  for (int64_t i = 0; i < n; i++) h[i] = (float)((rnd_unit() - 0.5) * 100);
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_from_host(h, ZMLX_DTYPE_F32, ndim, shape, dev, &a));
  if (host) *host = h;
  else free(h);
  return a;
}

static void t_copy_into_broadcast(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t R = 4, C = 5;
    const int64_t dshape[2] = {4, 5};
    struct { int ndim; int64_t shape[2]; } srcs[] = {{1, {5}}, {2, {4, 1}}, {2, {1, 5}},
                                                     {0, {0}}, {2, {4, 5}}};
    for (size_t k = 0; k < sizeof srcs / sizeof srcs[0]; k++) {
      float *hs = NULL, *hd = NULL;
      zmlx_array *src = random_f32(dev, srcs[k].ndim, srcs[k].shape, &hs);
      zmlx_array *dst = random_f32(dev, 2, dshape, &hd);
      if (src && dst) {
        CHECK_OK(zmlx_array_copy_into(dst, src));
        float *h = host_read(dst);
        long bad = 0;
        for (int64_t i = 0; i < R; i++)
          for (int64_t j = 0; j < C; j++) {
            int64_t si;
            if (srcs[k].ndim == 0) si = 0;
            else if (srcs[k].ndim == 1) si = j;
            else si = (srcs[k].shape[0] == 1 ? 0 : i) * srcs[k].shape[1] +
                      (srcs[k].shape[1] == 1 ? 0 : j);
            if (h[i * C + j] != hs[si])
              MISMATCH(bad, "broadcast copy case %zu [%lld,%lld] = %g, want %g", k,
                       (long long)i, (long long)j, h[i * C + j], hs[si]);
          }
        CHECK_MSG(bad == 0, "%s copy_into with broadcasting, case %zu: %ld wrong", devname(dev), k,
                  bad);
        free(h);
      }
      zmlx_array_release(src);
      zmlx_array_release(dst);
      free(hs);
      free(hd);
    }
  }
}

/* The destination is a transposed view: the base receives src^T. */
static void t_copy_into_transposed_dst(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t bshape[2] = {5, 7}, sshape[2] = {7, 5};
    float *hb = NULL, *hs = NULL;
    zmlx_array *base = random_f32(dev, 2, bshape, &hb);
    zmlx_array *src = random_f32(dev, 2, sshape, &hs);
    zmlx_array *dst = NULL;
    if (base) CHECK_OK(zmlx_array_transpose(base, 0, 1, &dst));
    if (dst && src) {
      CHECK(!zmlx_array_is_contiguous(dst));
      CHECK_OK(zmlx_array_copy_into(dst, src));
      float *h = host_read(base);
      long bad = 0;
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 7; j++)
          if (h[i * 7 + j] != hs[j * 5 + i]) bad++;
      CHECK_MSG(bad == 0, "%s copy_into a transposed view: %ld wrong", devname(dev), bad);
      free(h);
    }
    zmlx_array_release(base);
    zmlx_array_release(src);
    zmlx_array_release(dst);
    free(hb);
    free(hs);
  }
}

/* f32 into every other column of an i32 array, walked backwards: values
 * truncate toward zero; the columns in between keep their values. */
static void t_copy_into_convert_strided(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t R = 9, C = 8, shape[2] = {9, 8};
    int32_t hb[72];
    for (int i = 0; i < 72; i++) hb[i] = (int32_t)(rnd() % 2000) - 1000;
    zmlx_array *base = NULL, *dst = NULL;
    CHECK_OK(zmlx_array_from_host(hb, ZMLX_DTYPE_I32, 2, shape, dev, &base));
    if (base) CHECK_OK(zmlx_array_slice(base, -1, 7, -100, -2, &dst)); /* cols 7, 5, 3, 1 */
    const int64_t sshape[2] = {9, 4};
    float *hs = NULL;
    zmlx_array *src = random_f32(dev, 2, sshape, &hs);
    if (dst && src) {
      CHECK_EQ_INT(zmlx_array_dim(dst, 1), 4);
      CHECK_OK(zmlx_array_copy_into(dst, src));
      int32_t *h = host_read(base);
      long bad = 0;
      for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < C; j++) {
          int32_t want = (j % 2) ? (int32_t)trunc(hs[i * 4 + (7 - j) / 2]) : hb[i * C + j];
          if (h[i * C + j] != want)
            MISMATCH(bad, "[%lld,%lld] = %d, want %d", (long long)i, (long long)j, h[i * C + j],
                     want);
        }
      CHECK_MSG(bad == 0, "%s copy_into f32 -> strided i32 view: %ld wrong", devname(dev), bad);
      free(h);
    }
    zmlx_array_release(base);
    zmlx_array_release(dst);
    zmlx_array_release(src);
    free(hs);
  }
}

/* Across devices, both ways (when CUDA exists). */
static void t_copy_into_cross_device(void) {
  setup();
  if (g_ndev < 2) {
    printf("  (no CUDA device: cross-device copies not run)\n");
    CHECK(zmlx_device_count(ZMLX_DEVICE_CUDA) == 0);
    return;
  }
  for (int dir = 0; dir < 2; dir++) {
    zmlx_device from = dir ? ZMLX_CPU : ZMLX_CUDA(0), to = dir ? ZMLX_CUDA(0) : ZMLX_CPU;
    const int64_t shape[2] = {33, 65}, tshape[2] = {65, 33};
    float *hs = NULL, *hb = NULL;
    zmlx_array *src = random_f32(from, 2, shape, &hs);
    zmlx_array *base = random_f32(to, 2, tshape, &hb);
    zmlx_array *dst = NULL, *srcb = NULL;
    if (base) CHECK_OK(zmlx_array_transpose(base, 0, 1, &dst));
    if (dst && src) {
      CHECK_OK(zmlx_array_copy_into(dst, src));
      float *h = host_read(base);
      long bad = 0;
      for (int i = 0; i < 65; i++)
        for (int j = 0; j < 33; j++)
          if (h[i * 33 + j] != hs[j * 65 + i]) bad++;
      CHECK_MSG(bad == 0, "copy_into %s -> %s (transposed dst): %ld wrong", devname(from),
                devname(to), bad);
      free(h);
      /* A broadcast source across devices. */
      const int64_t one = 65;
      zmlx_array *row = random_f32(from, 1, &one, NULL);
      if (row) {
        CHECK_OK(zmlx_array_copy_into(dst, row));
        float *hr = host_read(row), *h2 = host_read(base);
        bad = 0;
        for (int i = 0; i < 65; i++)
          for (int j = 0; j < 33; j++)
            if (h2[i * 33 + j] != hr[i]) bad++;
        CHECK_MSG(bad == 0, "broadcast copy_into %s -> %s: %ld wrong", devname(from),
                  devname(to), bad);
        free(hr);
        free(h2);
      }
      zmlx_array_release(row);
    }
    zmlx_array_release(src);
    zmlx_array_release(srcb);
    zmlx_array_release(base);
    zmlx_array_release(dst);
    free(hs);
    free(hb);
  }
}

static void t_copy_into_errors(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t d2[2] = {4, 5}, s1[1] = {4}, s3[3] = {2, 4, 5}, s0[2] = {4, 0};
    zmlx_array *dst = random_f32(dev, 2, d2, NULL), *a = random_f32(dev, 1, s1, NULL);
    zmlx_array *b = random_f32(dev, 3, s3, NULL), *e = NULL, *e2 = NULL;
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F32, 2, s0, dev, &e));
    CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_I8, 2, s0, dev, &e2));
    if (dst && a && b && e && e2) {
      float before[20], after[20];
      memset(before, 0xCD, sizeof before);
      CHECK_OK(zmlx_array_to_host(dst, before, sizeof before));
      zmlx_error_clear();
      CHECK_STATUS(zmlx_array_copy_into(dst, a), ZMLX_STATUS_SHAPE_MISMATCH);
      CHECK_CONTAINS(zmlx_error_last(), "array_copy_into");
      CHECK_CONTAINS(zmlx_error_last(), "(4,)");
      CHECK_CONTAINS(zmlx_error_last(), "(4, 5)");
      CHECK_STATUS(zmlx_array_copy_into(dst, b), ZMLX_STATUS_SHAPE_MISMATCH);
      CHECK_CONTAINS(zmlx_error_last(), "array_copy_into");
      CHECK_STATUS(zmlx_array_copy_into(dst, e), ZMLX_STATUS_SHAPE_MISMATCH);
      CHECK_STATUS(zmlx_array_copy_into(NULL, a), ZMLX_STATUS_INVALID_ARGUMENT);
      CHECK_CONTAINS(zmlx_error_last(), "array_copy_into");
      CHECK_STATUS(zmlx_array_copy_into(dst, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
      memset(after, 0xCD, sizeof after);
      CHECK_OK(zmlx_array_to_host(dst, after, sizeof after));
      CHECK_MSG(!memcmp(before, after, sizeof after), "a failed copy_into changed dst");
      /* Empty into empty (and with conversion) is fine. */
      CHECK_OK(zmlx_array_copy_into(e, e2));
    }
    zmlx_array_release(dst);
    zmlx_array_release(a);
    zmlx_array_release(b);
    zmlx_array_release(e);
    zmlx_array_release(e2);
  }
}

/* ---- to_device / to_host ----------------------------------------------- */
/* Same device: a real copy; changing it leaves the original alone. */
static void t_to_device_same(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {7, 9};
    float *h0 = NULL;
    zmlx_array *a = random_f32(dev, 2, shape, &h0), *c = NULL;
    if (a) CHECK_OK(zmlx_array_to_device(a, dev, &c));
    if (a && c) {
      CHECK(c != a);
      CHECK(zmlx_array_describe(c).data != zmlx_array_describe(a).data);
      check_layout(c, ZMLX_DTYPE_F32, 2, shape, dev);
      zmlx_array *v = NULL;
      CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 0, NULL, 12345.5, dev, &v));
      if (v) CHECK_OK(zmlx_array_copy_into(c, v));
      float *ha = host_read(a), *hc = host_read(c);
      CHECK_MSG(!memcmp(ha, h0, sizeof(float) * 63), "%s: changing a to_device copy changed "
                "the original", devname(dev));
      long bad = 0;
      for (int i = 0; i < 63; i++) bad += hc[i] != 12345.5f;
      CHECK_EQ_INT(bad, 0);
      free(ha);
      free(hc);
      zmlx_array_release(v);
    }
    zmlx_array_release(a);
    zmlx_array_release(c);
    /* A strided source comes out contiguous, in logical order. */
    const int64_t s3[3] = {3, 4, 5};
    float *h3 = NULL;
    zmlx_array *b = random_f32(dev, 3, s3, &h3), *p = NULL, *q = NULL;
    const int perm[3] = {2, 0, 1};
    if (b) CHECK_OK(zmlx_array_permute(b, perm, &p));
    if (p) CHECK_OK(zmlx_array_to_device(p, dev, &q));
    if (q) {
      CHECK(zmlx_array_is_contiguous(q));
      float *hq = host_read(q);
      long bad = 0;
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
          for (int k = 0; k < 4; k++)
            if (hq[(i * 3 + j) * 4 + k] != h3[(j * 4 + k) * 5 + i]) bad++;
      CHECK_MSG(bad == 0, "%s to_device of a permuted view: %ld wrong", devname(dev), bad);
      free(hq);
    }
    zmlx_array_release(b);
    zmlx_array_release(p);
    zmlx_array_release(q);
    free(h3);
    free(h0);
  }
}

/* CPU -> CUDA -> CPU for every dtype, bytes unchanged; CUDA -> CUDA. */
static void t_to_device_cuda_roundtrip(void) {
  setup();
  if (g_ndev < 2) {
    printf("  (no CUDA device: CPU<->CUDA transfers not run)\n");
    CHECK(zmlx_device_count(ZMLX_DEVICE_CUDA) == 0);
    zmlx_array *a = NULL;
    const int64_t n = 3;
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &a));
    zmlx_array *b = (zmlx_array *)&b;
    if (a) CHECK_STATUS(zmlx_array_to_device(a, ZMLX_CUDA(0), &b), ZMLX_STATUS_DEVICE_UNAVAILABLE);
    CHECK(b == NULL || b == (zmlx_array *)&b);
    zmlx_array_release(a);
    return;
  }
  const int64_t sizes[] = {1, 7, 4097};
  for (int t = 0; t < ZMLX_DTYPE_COUNT; t++)
    for (int s = 0; s < 3; s++) {
      zmlx_dtype dt = ALL_DTYPES[t];
      int64_t n = sizes[s];
      size_t nb = (size_t)n * zmlx_dtype_size(dt);
      unsigned char *src = malloc(nb);
      rnd_bytes(src, nb);
      if (dt == ZMLX_DTYPE_BOOL)
        for (size_t i = 0; i < nb; i++) src[i] &= 1;
      zmlx_array *c = NULL, *g = NULL, *g2 = NULL, *back = NULL;
      CHECK_OK(zmlx_array_from_host(src, dt, 1, &n, ZMLX_CPU, &c));
      if (c) CHECK_OK(zmlx_array_to_device(c, ZMLX_CUDA(0), &g));
      if (g) CHECK_OK(zmlx_array_to_device(g, ZMLX_CUDA(0), &g2));
      if (g2) CHECK_OK(zmlx_array_to_device(g2, ZMLX_CPU, &back));
      if (g) check_layout(g, dt, 1, &n, ZMLX_CUDA(0));
      if (back) {
        check_layout(back, dt, 1, &n, ZMLX_CPU);
        /* A CPU array's data is host memory: read it directly too. */
        CHECK(!memcmp(zmlx_array_describe(back).data, src, nb));
        void *h = host_read(back);
        compare_elems("cpu->cuda->cuda->cpu", dt, h, src, n);
        free(h);
      }
      if (g) {
        void *h = host_read(g);
        compare_elems("cuda to_host", dt, h, src, n);
        free(h);
      }
      zmlx_array_release(c);
      zmlx_array_release(g);
      zmlx_array_release(g2);
      zmlx_array_release(back);
      free(src);
    }
  /* A transposed CUDA view to the CPU. */
  const int64_t shape[2] = {31, 17};
  float *h0 = NULL;
  zmlx_array *a = random_f32(ZMLX_CUDA(0), 2, shape, &h0), *t = NULL, *c = NULL;
  if (a) CHECK_OK(zmlx_array_transpose(a, 0, 1, &t));
  if (t) CHECK_OK(zmlx_array_to_device(t, ZMLX_CPU, &c));
  if (c) {
    float *h = host_read(c);
    long bad = 0;
    for (int i = 0; i < 17; i++)
      for (int j = 0; j < 31; j++)
        if (h[i * 31 + j] != h0[j * 17 + i]) bad++;
    CHECK_MSG(bad == 0, "transposed cuda view to the cpu: %ld wrong", bad);
    free(h);
  }
  zmlx_array_release(a);
  zmlx_array_release(t);
  zmlx_array_release(c);
  free(h0);
}

static void t_to_host_errors(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {3, 5};
    float *h0 = NULL;
    zmlx_array *a = random_f32(dev, 2, shape, &h0);
    if (!a) continue;
    unsigned char buf[80];
    memset(buf, 0xCD, sizeof buf);
    zmlx_error_clear();
    CHECK_STATUS(zmlx_array_to_host(a, buf, 59), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_to_host");
    CHECK_CONTAINS(zmlx_error_last(), "(3, 5)");
    CHECK_CONTAINS(zmlx_error_last(), "60");
    long touched = 0;
    for (size_t i = 0; i < sizeof buf; i++) touched += buf[i] != 0xCD;
    CHECK_MSG(touched == 0, "a failed to_host wrote %ld bytes", touched);
    CHECK_STATUS(zmlx_array_to_host(a, buf, 0), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_to_host(a, NULL, 60), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_to_host(NULL, buf, sizeof buf), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_to_host");
    /* A larger buffer: exactly nbytes written, the rest untouched. */
    CHECK_OK(zmlx_array_to_host(a, buf, sizeof buf));
    CHECK(!memcmp(buf, h0, 60));
    touched = 0;
    for (size_t i = 60; i < sizeof buf; i++) touched += buf[i] != 0xCD;
    CHECK_MSG(touched == 0, "to_host wrote %ld bytes past nbytes", touched);
    zmlx_array_release(a);
    free(h0);
  }
}

/* ---- empty arrays through every op --------------------------------------- */
static void check_empty(zmlx_array *a, int ndim, const int64_t *shape, const char *what) {
  if (!a) return;
  CHECK_MSG(zmlx_array_numel(a) == 0, "%s: numel %lld", what, (long long)zmlx_array_numel(a));
  CHECK_MSG(zmlx_array_ndim(a) == ndim, "%s: ndim %d, want %d", what, zmlx_array_ndim(a), ndim);
  for (int i = 0; i < ndim && i < zmlx_array_ndim(a); i++)
    CHECK_MSG(zmlx_array_dim(a, i) == shape[i], "%s: dim %d is %lld, want %lld", what, i,
              (long long)zmlx_array_dim(a, i), (long long)shape[i]);
  CHECK(zmlx_array_describe(a).data == NULL);
  CHECK_OK(zmlx_array_to_host(a, NULL, 0));
  unsigned char poison = 0xCD;
  CHECK_OK(zmlx_array_to_host(a, &poison, 1));
  CHECK_EQ_INT(poison, 0xCD);
}

static void t_empty_through_ops(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t s30[2] = {3, 0}, s03[2] = {0, 3}, s0[1] = {0}, s130[3] = {1, 3, 0};
    zmlx_array *r[24] = {0};
    int k = 0;
#define OP(expr, ndim, shape)                   \
  do {                                          \
    CHECK_OK(expr);                             \
    check_empty(r[k], ndim, shape, #expr);      \
    k++;                                        \
  } while (0)
    OP(zmlx_array_empty(ZMLX_DTYPE_F32, 2, s30, dev, &r[k]), 2, s30);
    zmlx_array *e = r[0];
    OP(zmlx_array_zeros(ZMLX_DTYPE_BF16, 2, s03, dev, &r[k]), 2, s03);
    OP(zmlx_array_ones(ZMLX_DTYPE_I64, 1, s0, dev, &r[k]), 1, s0);
    OP(zmlx_array_full(ZMLX_DTYPE_U8, 2, s30, 7, dev, &r[k]), 2, s30);
    OP(zmlx_array_from_host(NULL, ZMLX_DTYPE_F64, 2, s03, dev, &r[k]), 2, s03);
    OP(zmlx_array_arange(ZMLX_DTYPE_I32, 0, 0.5, 1.5, dev, &r[k]), 1, s0);
    OP(zmlx_array_random_uniform(ZMLX_DTYPE_F32, 2, s30, 1, 0, 1, dev, &r[k]), 2, s30);
    OP(zmlx_array_random_normal(ZMLX_DTYPE_F64, 1, s0, 1, 0, 1, dev, &r[k]), 1, s0);
    if (e) {
      const int64_t m1[1] = {-1}, s0_5[2] = {0, 5}, s530[3] = {5, 3, 0};
      OP(zmlx_array_reshape(e, 1, m1, &r[k]), 1, s0);
      OP(zmlx_array_reshape(e, 2, s0_5, &r[k]), 2, s0_5);
      OP(zmlx_array_transpose(e, 0, 1, &r[k]), 2, s03);
      const int perm[2] = {1, 0};
      OP(zmlx_array_permute(e, perm, &r[k]), 2, s03);
      OP(zmlx_array_slice(e, 1, 0, 10, 1, &r[k]), 2, s30);
      OP(zmlx_array_slice(e, 1, 5, -10, -3, &r[k]), 2, s30);
      OP(zmlx_array_broadcast_to(e, 3, s530, &r[k]), 3, s530);
      OP(zmlx_array_expand_dims(e, 0, &r[k]), 3, s130);
      OP(zmlx_array_contiguous(e, &r[k]), 2, s30);
      OP(zmlx_array_astype(e, ZMLX_DTYPE_FP8_E5M2, &r[k]), 2, s30);
      OP(zmlx_array_to_device(e, dev, &r[k]), 2, s30);
      OP(zmlx_array_to_device(e, ZMLX_CPU, &r[k]), 2, s30);
      zmlx_array *x = r[k - 1];
      if (x) OP(zmlx_array_squeeze(r[k - 5], 0, &r[k]), 2, s30); /* of the expand_dims */
      if (x) CHECK_OK(zmlx_array_copy_into(e, x));
      /* A non-empty array sliced to nothing. */
      const int64_t s4[1] = {4};
      zmlx_array *ne = random_f32(dev, 1, s4, NULL);
      if (ne) OP(zmlx_array_slice(ne, 0, 3, 1, 1, &r[k]), 1, s0);
      zmlx_array_release(ne);
      /* Empty broadcast from a length-1 array, and its contiguous copy. */
      const int64_t one[1] = {1};
      zmlx_array *o = random_f32(dev, 1, one, NULL);
      if (o) OP(zmlx_array_broadcast_to(o, 2, s30, &r[k]), 2, s30);
      zmlx_array_release(o);
      if (r[k - 1]) OP(zmlx_array_contiguous(r[k - 1], &r[k]), 2, s30);
    }
#undef OP
    CHECK(k <= 24);
    for (int i = 0; i < k; i++) zmlx_array_release(r[i]);
  }
}

/* ---- errors -------------------------------------------------------------- */
typedef enum { C_EMPTY, C_FROM_HOST, C_ZEROS, C_ONES, C_FULL, C_UNIFORM, C_NORMAL, C_N } ckind;
static const char *const C_OP[C_N] = {"array_empty", "array_from_host", "array_zeros",
                                      "array_ones", "array_full", "array_random_uniform",
                                      "array_random_normal"};

static zmlx_status create(ckind k, zmlx_dtype t, int ndim, const int64_t *shape,
                          zmlx_device dev, zmlx_array **out) {
  static unsigned char data[4096];
  switch (k) {
    case C_EMPTY: return zmlx_array_empty(t, ndim, shape, dev, out);
    case C_FROM_HOST: return zmlx_array_from_host(data, t, ndim, shape, dev, out);
    case C_ZEROS: return zmlx_array_zeros(t, ndim, shape, dev, out);
    case C_ONES: return zmlx_array_ones(t, ndim, shape, dev, out);
    case C_FULL: return zmlx_array_full(t, ndim, shape, 2.5, dev, out);
    case C_UNIFORM: return zmlx_array_random_uniform(t, ndim, shape, 7, 0, 1, dev, out);
    default: return zmlx_array_random_normal(t, ndim, shape, 7, 0, 1, dev, out);
  }
}

/* One failing call: the status, *out cleared, and an error text that
 * names the op (and, where given, the detail). */
static void expect_fail(ckind k, zmlx_dtype t, int ndim, const int64_t *shape, zmlx_device dev,
                        zmlx_status want, const char *detail, const char *why) {
  zmlx_array *a = (zmlx_array *)&a;
  zmlx_error_clear();
  zmlx_status s = create(k, t, ndim, shape, dev, &a);
  CHECK_MSG(s == want, "%s with %s -> %s, want %s (%s)", C_OP[k], why, zmlx_status_name(s),
            zmlx_status_name(want), zmlx_error_last());
  CHECK_MSG(zmlx_error_last()[0] != 0, "%s with %s: no error text", C_OP[k], why);
  CHECK_MSG(strstr(zmlx_error_last(), C_OP[k]) != NULL, "%s with %s: error \"%s\" does not name "
            "the op", C_OP[k], why, zmlx_error_last());
  if (detail)
    CHECK_MSG(strstr(zmlx_error_last(), detail) != NULL, "%s with %s: error \"%s\" lacks \"%s\"",
              C_OP[k], why, zmlx_error_last(), detail);
  CHECK_MSG(a == NULL, "%s with %s failed but left *out = %p", C_OP[k], why, (void *)a);
  if (s == ZMLX_STATUS_OK && a != (zmlx_array *)&a) zmlx_array_release(a);
}

static void t_creation_errors(void) {
  setup();
  const int64_t neg[2] = {2, -3}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  const int64_t huge[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 1 << 20};
  const int64_t ok[2] = {2, 3};
  zmlx_device nodev = {ZMLX_DEVICE_CPU, 1};
  zmlx_device nocuda = ZMLX_CUDA(zmlx_device_count(ZMLX_DEVICE_CUDA));
  FOR_EACH_DEVICE(dev) {
    for (int k = 0; k < C_N; k++) {
      zmlx_dtype t = ZMLX_DTYPE_F32;
      expect_fail(k, t, 2, neg, dev, ZMLX_STATUS_INVALID_ARGUMENT, "(2, -3)", "a negative dim");
      expect_fail(k, t, 9, nine, dev, ZMLX_STATUS_INVALID_ARGUMENT, "9", "ndim 9");
      expect_fail(k, t, -1, ok, dev, ZMLX_STATUS_INVALID_ARGUMENT, NULL, "ndim -1");
      expect_fail(k, t, 2, NULL, dev, ZMLX_STATUS_INVALID_ARGUMENT, NULL, "a NULL shape");
      expect_fail(k, t, 3, huge, dev, ZMLX_STATUS_INVALID_ARGUMENT, NULL, "an overflowing shape");
      expect_fail(k, (zmlx_dtype)99, 2, ok, dev, ZMLX_STATUS_DTYPE_UNSUPPORTED, NULL, "dtype 99");
      expect_fail(k, (zmlx_dtype)-1, 2, ok, dev, ZMLX_STATUS_DTYPE_UNSUPPORTED, NULL, "dtype -1");
      /* NULL out: nothing to clear. */
      zmlx_error_clear();
      zmlx_status s = create(k, t, 2, ok, dev, NULL);
      CHECK_MSG(s == ZMLX_STATUS_INVALID_ARGUMENT, "%s with out NULL -> %s", C_OP[k],
                zmlx_status_name(s));
      CHECK_MSG(strstr(zmlx_error_last(), C_OP[k]) != NULL, "%s with out NULL: error \"%s\"",
                C_OP[k], zmlx_error_last());
    }
  }
  for (int k = 0; k < C_N; k++) {
    expect_fail(k, ZMLX_DTYPE_F32, 2, ok, nodev, ZMLX_STATUS_DEVICE_UNAVAILABLE, NULL, "cpu:1");
    expect_fail(k, ZMLX_DTYPE_F32, 2, ok, nocuda, ZMLX_STATUS_DEVICE_UNAVAILABLE, NULL,
                "a CUDA device that does not exist");
  }
  /* from_host with no data for a non-empty shape. */
  zmlx_array *a = (zmlx_array *)&a;
  CHECK_STATUS(zmlx_array_from_host(NULL, ZMLX_DTYPE_F32, 2, ok, ZMLX_CPU, &a),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "array_from_host");
  CHECK(a == NULL);
  /* arange: negative length, bad dtype, NULL out. */
  a = (zmlx_array *)&a;
  CHECK_STATUS(zmlx_array_arange(ZMLX_DTYPE_F32, -1, 0, 1, ZMLX_CPU, &a),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "array_arange");
  CHECK(a == NULL);
  a = (zmlx_array *)&a;
  CHECK_STATUS(zmlx_array_arange((zmlx_dtype)99, 4, 0, 1, ZMLX_CPU, &a),
               ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "array_arange");
  CHECK(a == NULL);
  CHECK_STATUS(zmlx_array_arange(ZMLX_DTYPE_F32, 4, 0, 1, ZMLX_CPU, NULL),
               ZMLX_STATUS_INVALID_ARGUMENT);
  /* Ops on NULL arrays. */
  zmlx_array *o = NULL;
  CHECK_STATUS(zmlx_array_astype(NULL, ZMLX_DTYPE_F32, &o), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "array_astype");
  CHECK_STATUS(zmlx_array_to_device(NULL, ZMLX_CPU, &o), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "array_to_device");
  CHECK_STATUS(zmlx_array_contiguous(NULL, &o), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "array_contiguous");
  /* astype to an invalid dtype. */
  zmlx_array *b = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 2, ok, ZMLX_CPU, &b));
  if (b) {
    o = (zmlx_array *)&o;
    CHECK_STATUS(zmlx_array_astype(b, (zmlx_dtype)99, &o), ZMLX_STATUS_DTYPE_UNSUPPORTED);
    CHECK_CONTAINS(zmlx_error_last(), "array_astype");
    CHECK(o == NULL);
    CHECK_STATUS(zmlx_array_astype(b, ZMLX_DTYPE_F16, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    o = (zmlx_array *)&o;
    CHECK_STATUS(zmlx_array_to_device(b, nodev, &o), ZMLX_STATUS_DEVICE_UNAVAILABLE);
    CHECK_CONTAINS(zmlx_error_last(), "array_to_device");
    CHECK(o == NULL || o == (zmlx_array *)&o);
  }
  zmlx_array_release(b);
}

/* The CPU's peak: reset to what is in use, raised by an allocation. */
static void t_cpu_alloc_peak(void) {
  zmlx_alloc_stats a, b;
  CHECK_OK(zmlx_alloc_stats_reset_peak(ZMLX_CPU));
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CPU, &a));
  CHECK_EQ_INT(a.peak_in_use, a.bytes_in_use);
  int64_t n = 12345;
  zmlx_array *x = NULL;
  CHECK_OK(zmlx_array_empty(ZMLX_DTYPE_F64, 1, &n, ZMLX_CPU, &x));
  zmlx_array_release(x);
  CHECK_OK(zmlx_alloc_stats_get(ZMLX_CPU, &b));
  CHECK(b.peak_in_use >= a.bytes_in_use + (uint64_t)n * 8);
}

ZT_MAIN(ZT(t_empty_create), ZT(t_from_host_roundtrip), ZT(t_fill_every_dtype),
        ZT(t_fill_patterns), ZT(t_arange), ZT(t_uniform_range_stats), ZT(t_random_determinism),
        ZT(t_random_prefix), ZT(t_uniform_bits), ZT(t_normal_stats),
        ZT(t_random_integer_dtype_fails), ZT(t_random_cuda_matches_cpu), ZT(t_refcount),
        ZT(t_describe), ZT(t_numel_dim), ZT(t_format), ZT(t_astype_all_pairs),
        ZT(t_astype_strided_source), ZT(t_copy_into_broadcast), ZT(t_copy_into_transposed_dst),
        ZT(t_copy_into_convert_strided), ZT(t_copy_into_cross_device), ZT(t_copy_into_errors),
        ZT(t_to_device_same), ZT(t_to_device_cuda_roundtrip), ZT(t_to_host_errors),
        ZT(t_empty_through_ops), ZT(t_creation_errors), ZT(t_cpu_alloc_peak))
