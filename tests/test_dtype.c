/* Element types: the dtype table (size, name, parse) and the scalar
 * conversions between f32 and the small float formats (f16, bf16, fp8 e4m3,
 * fp8 e5m2), checked against an independent reference written here in
 * double arithmetic; then the same conversions done by kernels
 * (zmlx_array_astype) on every available device, bit for bit against the
 * host functions.
 *
 * Random inputs come from a splitmix64 stream; the seed is printed at start
 * and again on failure; set ZT_SEED to reproduce a run. */
#include <float.h>
#include <stdint.h>

#define ZT_SUITE_NAME "test_dtype"
#define ZT_SUITE_SALT 0x5eedull
#include "zt_suite.h" /* seed, rnd, setup, devices, MISMATCH, host_read */

/* Bits of a float, and back. */
static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* ---- an independent reference for small float formats ------------------ */
typedef struct fmt {
  const char *name;
  int EB, M;        /* exponent and mantissa bits */
  int emin;         /* smallest normal exponent (1 - bias) */
  double maxf;      /* largest finite value */
  int ieee;         /* top exponent is inf/NaN; else only all-ones is NaN */
} fmt;

/* True constants of the formats. */
static const fmt F16 = {"f16", 5, 10, -14, 65504.0, 1};
static const fmt BF16 = {"bf16", 8, 7, -126, 0x1.fep127, 1};
static const fmt E4M3 = {"fp8_e4m3", 4, 3, -6, 448.0, 0};
static const fmt E5M2 = {"fp8_e5m2", 5, 2, -14, 57344.0, 1};

/* The value of code c, by the textbook formula. */
static double ref_decode(uint32_t c, const fmt *f) {
  uint32_t sign = (c >> (f->EB + f->M)) & 1u;
  uint32_t E = (c >> f->M) & ((1u << f->EB) - 1u);
  uint32_t m = c & ((1u << f->M) - 1u);
  uint32_t top = (1u << f->EB) - 1u;
  double v;
  if (f->ieee && E == top)
    v = m ? NAN : INFINITY;
  else if (!f->ieee && E == top && m == (1u << f->M) - 1u)
    v = NAN;
  else if (E == 0)
    v = ldexp((double)m, f->emin - f->M);
  else
    v = ldexp(1.0 + ldexp((double)m, -f->M), (int)E - 1 + f->emin);
  return sign ? -v : v;
}

/* x rounded to the format, to nearest, ties to even, in exact double
 * arithmetic: the two neighbours lo = k*q and hi = (k+1)*q of |x| on the
 * grid of its binade, the nearer wins. Past the largest finite value: inf
 * (IEEE-like formats) or NaN (e4m3). */
static double ref_round(double x, const fmt *f) {
  if (isnan(x)) return NAN;
  double ax = fabs(x), r;
  if (isinf(ax)) return f->ieee ? x : NAN;
  if (ax == 0) {
    r = 0;
  } else {
    int e;
    frexp(ax, &e); /* ax = m * 2^e, m in [0.5, 1) */
    int E = e - 1 < f->emin ? f->emin : e - 1;
    double q = ldexp(1.0, E - f->M);
    double k = floor(ax / q);
    double lo = k * q, hi = (k + 1) * q;
    double dlo = ax - lo, dhi = hi - ax;
    r = dlo < dhi ? lo : dhi < dlo ? hi : (fmod(k, 2.0) == 0 ? lo : hi);
  }
  if (r > f->maxf) r = f->ieee ? INFINITY : NAN;
  return copysign(r, x);
}

/* The code of a value of the format (not NaN). */
static uint32_t ref_encode(double r, const fmt *f) {
  uint32_t sign = signbit(r) ? 1u << (f->EB + f->M) : 0u;
  double ar = fabs(r);
  if (isinf(ar)) return sign | (((1u << f->EB) - 1u) << f->M);
  if (ar == 0) return sign;
  int e;
  frexp(ar, &e);
  int E = e - 1;
  if (E < f->emin) return sign | (uint32_t)ldexp(ar, f->M - f->emin);
  uint32_t mant = (uint32_t)((ldexp(ar, -E) - 1.0) * (double)(1u << f->M));
  return sign | ((uint32_t)(E - f->emin + 1) << f->M) | mant;
}

static int is_nan_code(uint32_t c, const fmt *f) { return isnan(ref_decode(c, f)); }

/* The library's conversions, by format. */
static uint32_t lib_from_f32(float x, const fmt *f) {
  if (f == &F16) return zmlx_f32_to_f16(x);
  if (f == &BF16) return zmlx_f32_to_bf16(x);
  if (f == &E4M3) return zmlx_f32_to_fp8_e4m3(x);
  return zmlx_f32_to_fp8_e5m2(x);
}
static float lib_to_f32(uint32_t c, const fmt *f) {
  if (f == &F16) return zmlx_f16_to_f32((uint16_t)c);
  if (f == &BF16) return zmlx_bf16_to_f32((uint16_t)c);
  if (f == &E4M3) return zmlx_fp8_e4m3_to_f32((uint8_t)c);
  return zmlx_fp8_e5m2_to_f32((uint8_t)c);
}
static zmlx_dtype fmt_dtype(const fmt *f) {
  if (f == &F16) return ZMLX_DTYPE_F16;
  if (f == &BF16) return ZMLX_DTYPE_BF16;
  if (f == &E4M3) return ZMLX_DTYPE_FP8_E4M3;
  return ZMLX_DTYPE_FP8_E5M2;
}
static const fmt *const ALL_FMTS[] = {&F16, &BF16, &E4M3, &E5M2};

/* One conversion of x checked against the reference; returns 1 if wrong. */
static int check_one(float x, const fmt *f, long *bad) {
  uint32_t got = lib_from_f32(x, f);
  double want = ref_round((double)x, f);
  uint32_t sign_bit = 1u << (f->EB + f->M);
  if (isnan(want)) {
    /* NaN in, or e4m3 overflow: a NaN code, with x's sign. e4m3 has one NaN
     * code per sign (0x7f / 0xff), as OCP and the header specify. */
    int ok = is_nan_code(got, f) && (!!(got & sign_bit) == !!signbit(x));
    if (f == &E4M3) ok = got == (signbit(x) ? 0xffu : 0x7fu);
    if (!ok) {
      MISMATCH(*bad, "%s(%a = 0x%08x) -> 0x%x, want NaN", f->name, (double)x, f2u(x), got);
      return 1;
    }
    return 0;
  }
  uint32_t w = ref_encode(want, f);
  if (got != w) {
    MISMATCH(*bad, "%s(%a = 0x%08x) -> 0x%x (%a), want 0x%x (%a)", f->name, (double)x, f2u(x),
             got, ref_decode(got, f), w, want);
    return 1;
  }
  return 0;
}

/* ---- the dtype table ---------------------------------------------------- */
static void t_dtype_table(void) {
  setup();
  static const struct {
    zmlx_dtype t;
    const char *name;
    size_t size;
    int is_float;
  } want[] = {
      {ZMLX_DTYPE_F32, "f32", 4, 1},   {ZMLX_DTYPE_F64, "f64", 8, 1},
      {ZMLX_DTYPE_F16, "f16", 2, 1},   {ZMLX_DTYPE_BF16, "bf16", 2, 1},
      {ZMLX_DTYPE_I8, "i8", 1, 0},     {ZMLX_DTYPE_U8, "u8", 1, 0},
      {ZMLX_DTYPE_I16, "i16", 2, 0},   {ZMLX_DTYPE_I32, "i32", 4, 0},
      {ZMLX_DTYPE_I64, "i64", 8, 0},   {ZMLX_DTYPE_U32, "u32", 4, 0},
      {ZMLX_DTYPE_BOOL, "bool", 1, 0}, {ZMLX_DTYPE_FP8_E4M3, "fp8_e4m3", 1, 1},
      {ZMLX_DTYPE_FP8_E5M2, "fp8_e5m2", 1, 1},
  };
  CHECK_EQ_INT(sizeof want / sizeof want[0], ZMLX_DTYPE_COUNT);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    zmlx_dtype t = want[i].t;
    CHECK_EQ_INT(zmlx_dtype_size(t), want[i].size);
    CHECK_MSG(!strcmp(zmlx_dtype_name(t), want[i].name), "name of %d: \"%s\", want \"%s\"",
              (int)t, zmlx_dtype_name(t), want[i].name);
    CHECK_EQ_INT(zmlx_dtype_is_float(t), want[i].is_float);
    CHECK_EQ_INT(zmlx_dtype_is_integer(t), !want[i].is_float);
    zmlx_dtype p = (zmlx_dtype)77;
    CHECK_EQ_INT(zmlx_dtype_parse(want[i].name, &p), 0);
    CHECK_EQ_INT(p, t);
  }
  /* Names are distinct (parse would be ambiguous otherwise). */
  for (int i = 0; i < ZMLX_DTYPE_COUNT; i++)
    for (int j = i + 1; j < ZMLX_DTYPE_COUNT; j++)
      CHECK(strcmp(zmlx_dtype_name((zmlx_dtype)i), zmlx_dtype_name((zmlx_dtype)j)) != 0);
}

static void t_dtype_invalid(void) {
  setup();
  const zmlx_dtype bad[] = {ZMLX_DTYPE_COUNT, (zmlx_dtype)99, (zmlx_dtype)-1,
                            (zmlx_dtype)0x7fffffff};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_EQ_INT(zmlx_dtype_size(bad[i]), 0);
    CHECK(!strcmp(zmlx_dtype_name(bad[i]), "?"));
    CHECK_EQ_INT(zmlx_dtype_is_float(bad[i]), 0);
    CHECK_EQ_INT(zmlx_dtype_is_integer(bad[i]), 0);
  }
  const char *names[] = {"", "F32", "f32 ", " f32", "f3", "f322", "float32", "fp8",
                         "fp8_e4m3fn", "?", "bool\n"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    zmlx_dtype p = (zmlx_dtype)55;
    CHECK_MSG(zmlx_dtype_parse(names[i], &p) != 0, "parse(\"%s\") succeeded", names[i]);
    CHECK_EQ_INT(p, 55); /* untouched on failure */
  }
  zmlx_dtype p = (zmlx_dtype)55;
  CHECK(zmlx_dtype_parse(NULL, &p) != 0);
  CHECK_EQ_INT(p, 55);
}

/* ---- exhaustive decoding and round trips -------------------------------- */
/* Every code decodes to the textbook value; every non-NaN code survives
 * f32 and back bit for bit; NaN codes stay NaN. */
static void exhaustive(const fmt *f) {
  uint32_t ncodes = 1u << (1 + f->EB + f->M);
  long bad_dec = 0, bad_rt = 0, n_nan = 0;
  for (uint32_t c = 0; c < ncodes; c++) {
    double want = ref_decode(c, f);
    float got = lib_to_f32(c, f);
    if (isnan(want)) {
      n_nan++;
      if (!isnan(got)) MISMATCH(bad_dec, "%s 0x%x -> %a, want NaN", f->name, c, (double)got);
      uint32_t back = lib_from_f32(got, f);
      if (!is_nan_code(back, f))
        MISMATCH(bad_rt, "%s NaN 0x%x -> f32 -> 0x%x (not NaN)", f->name, c, back);
      continue;
    }
    if ((double)got != want || !signbit(got) != !signbit(want))
      MISMATCH(bad_dec, "%s 0x%x -> %a, want %a", f->name, c, (double)got, want);
    uint32_t back = lib_from_f32(got, f);
    if (back != c) MISMATCH(bad_rt, "%s 0x%x -> %a -> 0x%x", f->name, c, (double)got, back);
  }
  CHECK_MSG(bad_dec == 0, "%s: %ld of %u codes decode wrong", f->name, bad_dec, ncodes);
  CHECK_MSG(bad_rt == 0, "%s: %ld of %u codes fail the round trip", f->name, bad_rt, ncodes);
  /* NaN code counts are properties of the formats. */
  uint32_t want_nans = f->ieee ? 2u * ((1u << f->M) - 1u) : 2u;
  CHECK_MSG(n_nan == (long)want_nans, "%s: %ld NaN codes, want %u", f->name, n_nan, want_nans);
}

static void t_f16_exhaustive(void) { setup(); exhaustive(&F16); }
static void t_bf16_exhaustive(void) { setup(); exhaustive(&BF16); }
static void t_e4m3_exhaustive(void) { setup(); exhaustive(&E4M3); }
static void t_e5m2_exhaustive(void) { setup(); exhaustive(&E5M2); }

/* Constants every reader knows, as a guard on the reference itself. */
static void t_known_codes(void) {
  setup();
  CHECK_EQ_INT(zmlx_f32_to_bf16(1.0f), 0x3F80);
  CHECK_EQ_INT(zmlx_f32_to_bf16(-2.0f), 0xC000);
  CHECK_EQ_INT(zmlx_f32_to_f16(1.0f), 0x3C00);
  CHECK_EQ_INT(zmlx_f32_to_f16(-2.0f), 0xC000);
  CHECK_EQ_INT(zmlx_f32_to_f16(65504.0f), 0x7BFF);
  CHECK_EQ_INT(zmlx_f32_to_f16(0x1p-24f), 0x0001);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(1.0f), 0x38);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(448.0f), 0x7E);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(0x1p-9f), 0x01);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(1.0f), 0x3C);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(57344.0f), 0x7B);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(0x1p-16f), 0x01);
  /* The reference agrees on the same constants. */
  CHECK_EQ_INT(ref_encode(ref_round(1.0, &BF16), &BF16), 0x3F80);
  CHECK_EQ_INT(ref_encode(ref_round(65504.0, &F16), &F16), 0x7BFF);
  CHECK_EQ_INT(ref_encode(ref_round(448.0, &E4M3), &E4M3), 0x7E);
  CHECK_EQ_INT(ref_encode(ref_round(57344.0, &E5M2), &E5M2), 0x7B);
  CHECK(ref_decode(0x7C00, &F16) == INFINITY);
  CHECK(ref_decode(0x7F80, &BF16) == INFINITY);
  CHECK(isnan(ref_decode(0x7F, &E4M3)) && isnan(ref_decode(0xFF, &E4M3)));
  CHECK(ref_decode(0x7E, &E4M3) == 448.0 && ref_decode(0xFE, &E4M3) == -448.0);
  CHECK(ref_decode(0x7C, &E5M2) == INFINITY && ref_decode(0xFC, &E5M2) == -INFINITY);
}

/* ---- rounding f32 -> small formats -------------------------------------- */
/* Random f32 bit patterns: every exponent, NaNs and infinities included. */
static long round_random_bits(const fmt *f, long n) {
  long bad = 0;
  for (long i = 0; i < n; i++) check_one(u2f((uint32_t)rnd()), f, &bad);
  return bad;
}

/* Random f32 with exponents around the format's range (subnormals of the
 * format, normals, overflow), random mantissas and signs. */
static long round_random_in_range(const fmt *f, long n) {
  long bad = 0;
  int emax = (int)ceil(log2(f->maxf));
  int lo = f->emin - f->M - 3, hi = emax + 2;
  if (lo < -126) lo = -126;
  if (hi > 127) hi = 127;
  for (long i = 0; i < n; i++) {
    uint64_t r = rnd();
    int e = lo + (int)(r % (uint64_t)(hi - lo + 1));
    uint32_t bits = ((uint32_t)(e + 127) << 23) | ((uint32_t)(r >> 20) & 0x7fffffu) |
                    ((uint32_t)(r >> 63) << 31);
    check_one(u2f(bits), f, &bad);
  }
  /* f32 subnormals too. */
  for (long i = 0; i < n / 16; i++) {
    uint64_t r = rnd();
    uint32_t bits = ((uint32_t)r & 0x7fffffu) | ((uint32_t)(r >> 63) << 31);
    check_one(u2f(bits ? bits : 1u), f, &bad);
  }
  return bad;
}

/* Every tie: the exact midpoint between each pair of neighbouring codes,
 * and the f32 values just below and above it, both signs; including the
 * midpoint between the largest finite value and the next binade step
 * (the overflow threshold). Midpoints are exact in f32 since every format
 * here has at most 11 significant bits. */
static long round_midpoints(const fmt *f) {
  long bad = 0;
  uint32_t nonneg = 1u << (f->EB + f->M);
  for (uint32_t c = 0; c < nonneg; c++) {
    double v = ref_decode(c, f);
    if (isnan(v) || isinf(v)) continue;
    double w;
    if (v == f->maxf) {
      int e;
      frexp(v, &e);
      w = v + ldexp(1.0, e - 1 - f->M); /* one step past the top */
    } else {
      w = ref_decode(c + 1, f);
    }
    double mid = (v + w) / 2;
    float m = (float)mid;
    CHECK_MSG((double)m == mid, "%s: midpoint %a not exact in f32", f->name, mid);
    float probes[3] = {m, nextafterf(m, 0.0f), nextafterf(m, INFINITY)};
    for (int k = 0; k < 3; k++) {
      check_one(probes[k], f, &bad);
      check_one(-probes[k], f, &bad);
    }
    /* The code itself and its f32 neighbours. */
    float vf = (float)v;
    check_one(vf, f, &bad);
    check_one(-vf, f, &bad);
    if (v != 0) {
      check_one(nextafterf(vf, 0.0f), f, &bad);
      check_one(nextafterf(vf, INFINITY), f, &bad);
    }
  }
  return bad;
}

static void rounding(const fmt *f) {
  long b1 = round_random_bits(f, 1000000);
  CHECK_MSG(b1 == 0, "%s: %ld wrong conversions of random f32 bit patterns", f->name, b1);
  long b2 = round_random_in_range(f, 1000000);
  CHECK_MSG(b2 == 0, "%s: %ld wrong conversions of random in-range f32", f->name, b2);
  long b3 = round_midpoints(f);
  CHECK_MSG(b3 == 0, "%s: %ld wrong conversions at or near ties", f->name, b3);
}

/* Specials: signed zero, inf, NaN, the overflow thresholds and the
 * underflow tie (half the smallest subnormal rounds to even, i.e. zero). */
static void specials(const fmt *f) {
  uint32_t sign = 1u << (f->EB + f->M);
  uint32_t top = ((1u << f->EB) - 1u) << f->M;
  CHECK_EQ_INT(lib_from_f32(0.0f, f), 0);
  CHECK_EQ_INT(lib_from_f32(-0.0f, f), sign);
  double tiny = ldexp(1.0, f->emin - f->M); /* smallest subnormal */
  CHECK_EQ_INT(lib_from_f32((float)tiny, f), 1);
  CHECK_EQ_INT(lib_from_f32((float)(-tiny), f), sign | 1);
  CHECK_EQ_INT(lib_from_f32((float)(tiny / 2), f), 0);                  /* tie: to even 0 */
  CHECK_EQ_INT(lib_from_f32((float)(-tiny / 2), f), sign);              /* -0 */
  CHECK_EQ_INT(lib_from_f32(nextafterf((float)(tiny / 2), 1.0f), f), 1); /* past the tie */
  CHECK_EQ_INT(lib_from_f32((float)(tiny * 1.5), f), 2);                /* tie: to even 2 */
  CHECK_EQ_INT(lib_from_f32(1e-30f, f) , f == &BF16 ? ref_encode(ref_round(1e-30, f), f) : 0);
  CHECK_EQ_INT(lib_from_f32(-1e-30f, f),
               f == &BF16 ? ref_encode(ref_round((double)-1e-30f, f), f) : sign);
  CHECK(is_nan_code(lib_from_f32(NAN, f), f));
  CHECK(is_nan_code(lib_from_f32(-NAN, f), f));
  CHECK(is_nan_code(lib_from_f32(u2f(0x7f800001u), f), f)); /* signaling NaN */
  CHECK(is_nan_code(lib_from_f32(u2f(0xffbfffffu), f), f));
  if (f->ieee) {
    CHECK_EQ_INT(lib_from_f32(INFINITY, f), top);
    CHECK_EQ_INT(lib_from_f32(-INFINITY, f), sign | top);
    CHECK_EQ_INT(lib_from_f32(FLT_MAX, f), top);
  } else {
    CHECK_EQ_INT(lib_from_f32(INFINITY, f), 0x7f);
    CHECK_EQ_INT(lib_from_f32(-INFINITY, f), 0xff);
    CHECK_EQ_INT(lib_from_f32(FLT_MAX, f), 0x7f);
  }
}

static void t_f16_rounding(void) {
  setup();
  rounding(&F16);
  specials(&F16);
  CHECK_EQ_INT(zmlx_f32_to_f16(65504.0f), 0x7bff);
  CHECK_EQ_INT(zmlx_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7bff);
  CHECK_EQ_INT(zmlx_f32_to_f16(65520.0f), 0x7c00); /* overflow to inf at 65520 */
  CHECK_EQ_INT(zmlx_f32_to_f16(-65520.0f), 0xfc00);
  CHECK_EQ_INT(zmlx_f32_to_f16(0x1p-14f), 0x0400); /* smallest normal */
  CHECK_EQ_INT(zmlx_f32_to_f16(nextafterf(0x1p-14f, 0.0f)), 0x0400); /* rounds up into it */
  CHECK_EQ_INT(zmlx_f32_to_f16(0x1.ffcp-15f), 0x0400); /* tie at the subnormal top: even */
  CHECK_EQ_INT(zmlx_f32_to_f16(0x1.ff8p-15f), 0x03ff); /* largest subnormal, 1023 * 2^-24 */
  CHECK_EQ_INT(zmlx_f32_to_f16(0x1.ff4p-15f), 0x03fe); /* tie 1022.5 quanta: even 1022 */
}

static void t_bf16_rounding(void) {
  setup();
  rounding(&BF16);
  specials(&BF16);
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x3f808000u)), 0x3f80); /* tie, even down */
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x3f818000u)), 0x3f82); /* tie, even up */
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x3f808001u)), 0x3f81);
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x7f7f7fffu)), 0x7f7f);
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x00008000u)), 0x0000); /* subnormal tie to even */
  CHECK_EQ_INT(zmlx_f32_to_bf16(u2f(0x00018000u)), 0x0002);
  /* NaN stays NaN even when only low mantissa bits are set (a truncating
   * conversion would make it inf). */
  CHECK(is_nan_code(zmlx_f32_to_bf16(u2f(0x7f800001u)), &BF16));
  CHECK(is_nan_code(zmlx_f32_to_bf16(u2f(0xff800001u)), &BF16));
}

static void t_e4m3_rounding(void) {
  setup();
  rounding(&E4M3);
  specials(&E4M3);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(448.0f), 0x7e);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(-448.0f), 0xfe);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(460.0f), 0x7e);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(464.0f), 0x7e); /* the tie goes to even 448 */
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(nextafterf(464.0f, INFINITY)), 0x7f); /* > 464: NaN */
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(-nextafterf(464.0f, INFINITY)), 0xff);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(480.0f), 0x7f);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(1e6f), 0x7f);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(NAN), 0x7f);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e4m3(-NAN), 0xff);
  CHECK(zmlx_fp8_e4m3_to_f32(0x7e) == 448.0f);
  CHECK(isnan(zmlx_fp8_e4m3_to_f32(0x7f)) && isnan(zmlx_fp8_e4m3_to_f32(0xff)));
  CHECK(zmlx_fp8_e4m3_to_f32(0x78) == 256.0f); /* E=15 is a normal binade in fn */
}

static void t_e5m2_rounding(void) {
  setup();
  rounding(&E5M2);
  specials(&E5M2);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(57344.0f), 0x7b);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(nextafterf(61440.0f, 0.0f)), 0x7b);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(61440.0f), 0x7c); /* the tie goes to inf (even) */
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(-61440.0f), 0xfc);
  CHECK_EQ_INT(zmlx_f32_to_fp8_e5m2(1e6f), 0x7c);
  CHECK(zmlx_fp8_e5m2_to_f32(0x7b) == 57344.0f);
  CHECK(zmlx_fp8_e5m2_to_f32(0x7c) == INFINITY);
  CHECK(zmlx_fp8_e5m2_to_f32(0xfc) == -INFINITY);
  for (uint32_t c = 0x7d; c <= 0x7f; c++) {
    CHECK(isnan(zmlx_fp8_e5m2_to_f32((uint8_t)c)));
    CHECK(isnan(zmlx_fp8_e5m2_to_f32((uint8_t)(c | 0x80))));
  }
}

/* ---- kernels convert exactly as the host does -------------------------- */
/* n f32 inputs: random values across the format's range and beyond, every
 * tie of the format, and the specials. */
static float *conversion_inputs(const fmt *f, int64_t n) {
  float *x = malloc((size_t)n * sizeof *x);
  int emax = (int)ceil(log2(f->maxf));
  int lo = f->emin - f->M - 3 < -126 ? -126 : f->emin - f->M - 3;
  int hi = emax + 2 > 127 ? 127 : emax + 2;
  static const float specials_[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MAX,
                                    -FLT_MAX, 0x1p-149f, -0x1p-149f, 1.0f, -1.0f};
  int ns = (int)(sizeof specials_ / sizeof specials_[0]);
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = rnd();
    if (i < ns) {
      x[i] = specials_[i];
    } else if (r % 4 == 0) {
      x[i] = u2f((uint32_t)(r >> 32)); /* any bit pattern */
    } else if (r % 4 == 1) {
      /* a tie of the format: the midpoint above a random finite code */
      uint32_t nonneg = 1u << (f->EB + f->M);
      uint32_t c = (uint32_t)(r >> 8) % nonneg;
      double v = ref_decode(c, f), w = ref_decode(c + 1, f);
      if (isnan(v) || isinf(v) || isnan(w) || isinf(w)) w = v = 1.0;
      x[i] = (float)((v + w) / 2) * ((r >> 63) ? -1.0f : 1.0f);
    } else {
      int e = lo + (int)((r >> 2) % (uint64_t)(hi - lo + 1));
      x[i] = u2f(((uint32_t)(e + 127) << 23) | ((uint32_t)(r >> 24) & 0x7fffffu) |
                 ((uint32_t)(r >> 63) << 31));
    }
  }
  return x;
}

/* f32 -> fmt by astype on dev, against the host function. */
static void kernel_from_f32(zmlx_device dev, const fmt *f, int64_t n) {
  char db[32];
  zmlx_device_format(dev, db, sizeof db);
  float *x = conversion_inputs(f, n);
  zmlx_array *a = NULL, *b = NULL;
  CHECK_OK(zmlx_array_from_host(x, ZMLX_DTYPE_F32, 1, &n, dev, &a));
  CHECK_OK(zmlx_array_astype(a, fmt_dtype(f), &b));
  if (a && b) {
    CHECK_EQ_INT(zmlx_array_dtype(b), fmt_dtype(f));
    CHECK_EQ_INT(zmlx_array_numel(b), n);
    CHECK(zmlx_array_is_contiguous(b));
    void *h = host_read(b);
    long bad = 0;
    for (int64_t i = 0; i < n; i++) {
      uint32_t got = f->EB + f->M == 7 ? ((uint8_t *)h)[i] : ((uint16_t *)h)[i];
      uint32_t want = lib_from_f32(x[i], f);
      /* A NaN's payload is the backend's business (hardware conversions
       * may canonicalize); the sign-preserving NaN code of e4m3 is not. */
      if ((isnan(x[i]) && f != &E4M3) ? is_nan_code(got, f) : got == want) continue;
      MISMATCH(bad, "%s astype f32->%s [%lld] %a: 0x%x, host 0x%x", db, f->name, (long long)i,
               (double)x[i], got, want);
    }
    CHECK_MSG(bad == 0, "%s: f32 -> %s astype differs from the host in %ld of %lld", db,
              f->name, bad, (long long)n);
    free(h);
  }
  zmlx_array_release(a);
  zmlx_array_release(b);
  free(x);
}

/* Every code of fmt -> f32 and f64 by astype on dev, against the host. */
static void kernel_to_f32(zmlx_device dev, const fmt *f) {
  char db[32];
  zmlx_device_format(dev, db, sizeof db);
  int64_t n = (int64_t)1 << (1 + f->EB + f->M);
  size_t es = zmlx_dtype_size(fmt_dtype(f));
  unsigned char *codes = malloc((size_t)n * es);
  /* The codes in a shuffled order, so position says nothing about value. */
  uint32_t *perm = malloc((size_t)n * sizeof *perm);
  for (int64_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(rnd() % (uint64_t)(i + 1));
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (int64_t i = 0; i < n; i++) {
    if (es == 1) codes[i] = (unsigned char)perm[i];
    else ((uint16_t *)codes)[i] = (uint16_t)perm[i];
  }
  zmlx_array *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(zmlx_array_from_host(codes, fmt_dtype(f), 1, &n, dev, &a));
  CHECK_OK(zmlx_array_astype(a, ZMLX_DTYPE_F32, &b));
  CHECK_OK(zmlx_array_astype(a, ZMLX_DTYPE_F64, &c));
  if (a && b && c) {
    float *hb = host_read(b);
    double *hc = host_read(c);
    long bad = 0;
    for (int64_t i = 0; i < n; i++) {
      float want = lib_to_f32(perm[i], f);
      int ok = isnan(want) ? (isnan(hb[i]) && isnan(hc[i]))
                           : (f2u(hb[i]) == f2u(want) && hc[i] == (double)want &&
                              !signbit(hc[i]) == !signbit(want));
      if (!ok)
        MISMATCH(bad, "%s astype %s->f32/f64 code 0x%x: %a / %a, host %a", db, f->name, perm[i],
                 (double)hb[i], hc[i], (double)want);
    }
    CHECK_MSG(bad == 0, "%s: %s -> f32/f64 astype differs from the host in %ld codes", db,
              f->name, bad);
    free(hb);
    free(hc);
  }
  zmlx_array_release(a);
  zmlx_array_release(b);
  zmlx_array_release(c);
  free(codes);
  free(perm);
}

/* f64 -> fmt goes through f32 (the header: kernels convert small floats
 * to and from f32). */
static void kernel_from_f64(zmlx_device dev, const fmt *f, int64_t n) {
  char db[32];
  zmlx_device_format(dev, db, sizeof db);
  double *x = malloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++) {
    x[i] = (rnd_unit() * 2 - 1) * fmin(f->maxf * 1.05, FLT_MAX);
    if (i % 3 == 0) x[i] = ldexp(x[i], -(int)(rnd() % 40)); /* small magnitudes */
  }
  zmlx_array *a = NULL, *b = NULL;
  CHECK_OK(zmlx_array_from_host(x, ZMLX_DTYPE_F64, 1, &n, dev, &a));
  CHECK_OK(zmlx_array_astype(a, fmt_dtype(f), &b));
  if (a && b) {
    void *h = host_read(b);
    long bad = 0;
    for (int64_t i = 0; i < n; i++) {
      uint32_t got = f->EB + f->M == 7 ? ((uint8_t *)h)[i] : ((uint16_t *)h)[i];
      uint32_t want = lib_from_f32((float)x[i], f);
      if (got != want)
        MISMATCH(bad, "%s astype f64->%s [%lld] %a: 0x%x, host 0x%x", db, f->name,
                 (long long)i, x[i], got, want);
    }
    CHECK_MSG(bad == 0, "%s: f64 -> %s astype differs from the host in %ld of %lld", db,
              f->name, bad, (long long)n);
    free(h);
  }
  zmlx_array_release(a);
  zmlx_array_release(b);
  free(x);
}

static void t_kernel_matches_host(void) {
  setup();
  const int64_t sizes[] = {1, 7, 4097, 200003};
  for (int d = 0; d < g_ndev; d++)
    for (int k = 0; k < 4; k++) {
      for (int s = 0; s < 4; s++) kernel_from_f32(g_devs[d], ALL_FMTS[k], sizes[s]);
      kernel_to_f32(g_devs[d], ALL_FMTS[k]);
      kernel_from_f64(g_devs[d], ALL_FMTS[k], 4097);
    }
}

ZT_MAIN(ZT(t_dtype_table), ZT(t_dtype_invalid), ZT(t_known_codes), ZT(t_f16_exhaustive),
        ZT(t_bf16_exhaustive), ZT(t_e4m3_exhaustive), ZT(t_e5m2_exhaustive),
        ZT(t_f16_rounding), ZT(t_bf16_rounding), ZT(t_e4m3_rounding), ZT(t_e5m2_rounding),
        ZT(t_kernel_matches_host))
