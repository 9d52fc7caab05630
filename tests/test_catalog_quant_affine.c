/* MLX's affine format, bit for bit: zmlx_affine_quantize and
 * zmlx_affine_dequantize against test vectors derived here from MLX's
 * published layout and formulas (see zmlx/catalog_quant.h), for f32, f16
 * and bf16, bits 2, 4 and 8 and groups of 32, 64 and 128, on every device.
 * The groups include the cases where MLX's formula branches: all
 * negative (w_max stays 0), all zero, constant, a range below eps, a
 * code exactly halfway between two levels, |w_min| == |w_max|. */
#define ZT_SUITE_NAME "test_catalog_quant_affine"
#define ZT_SUITE_SALT 0x51a7u
#include "zt_suite.h"

/* x rounded to nearest even with p significant bits and smallest normal
 * exponent emin (f32: 24, -126; f16: 11, -14; bf16: 8, -126). Written from
 * the definition, not from the library's conversions. */
static double round_bits(double x, int p, int emin) {
  if (x == 0 || !isfinite(x)) return x;
  int e = ilogb(x);
  if (e < emin) e = emin;
  double quantum = ldexp(1.0, e - p + 1);
  return nearbyint(x / quantum) * quantum;
}

static double round_to(zmlx_dtype t, double x) {
  switch (t) {
    case ZMLX_DTYPE_F16: return round_bits(x, 11, -14);
    case ZMLX_DTYPE_BF16: return round_bits(x, 8, -126);
    default: return (float)x;
  }
}

static double dtype_max(zmlx_dtype t) {
  return t == ZMLX_DTYPE_F16 ? 65504.0 : t == ZMLX_DTYPE_BF16 ? 0x1.fep127 : 0x1.fffffep127;
}

/* Bitwise equality of two doubles (so -0 and +0 differ). */
static int same(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* Expected MLX affine quantization of one group (f32 arithmetic). */
static void expect_group(const double *w, int group, int bits, zmlx_dtype t, uint32_t *words,
                         double *scale_t, double *bias_t) {
  float lo = (float)dtype_max(t), hi = 0.0f, n_bins = (float)((1 << bits) - 1);
  for (int i = 0; i < group; i++) {
    lo = fminf(lo, (float)w[i]);
    hi = fmaxf(hi, (float)w[i]);
  }
  float scale = fmaxf((hi - lo) / n_bins, 1e-7f);
  int side = fabsf(lo) > fabsf(hi);
  if (!side) scale = -scale;
  float edge = side ? lo : hi, q0 = roundf(edge / scale), bias = 0.0f;
  if (q0 != 0.0f) {
    scale = edge / q0;
    bias = edge;
  }
  *scale_t = round_to(t, scale);
  *bias_t = round_to(t, bias);
  int per = 32 / bits;
  for (int k = 0; k < group / per; k++) {
    uint32_t word = 0;
    for (int j = 0; j < per; j++) {
      float q = roundf(((float)w[k * per + j] - bias) / scale);
      q = fminf(fmaxf(q, 0.0f), n_bins);
      word |= (uint32_t)q << (bits * j);
    }
    words[k] = word;
  }
}

/* Groups that take each branch of the formula; the rest stay random. */
static void special_groups(double *w, int64_t n_groups, int group, int bits, zmlx_dtype t) {
  for (int64_t g = 0; g < n_groups && g < 8; g++) {
    double *v = w + g * group;
    for (int i = 0; i < group; i++) {
      switch (g) {
        case 0: v[i] = -0.25 - 0.5 * (double)i / group; break; /* all negative */
        case 1: v[i] = 0; break;                              /* all zero */
        case 2: v[i] = 0.375; break;                          /* constant */
        case 3: v[i] = 1e-9 * (i % 3); break;                 /* range below eps */
        case 4: v[i] = i % 2 ? 0.5 : -0.5; break;             /* |min| == |max| */
        case 5: /* codes halfway between levels: min -(2^bits - 1), max 0 */
          v[i] = i == 0 ? -(double)((1 << bits) - 1) : i == 1 ? 0 : -0.5 - (double)(i % 4);
          break;
        case 6: v[i] = 2.0 + (double)i / group; break;        /* all positive */
        default: v[i] = 3e-8 * ((i % 5) - 2); break;          /* tiny, both signs */
      }
      v[i] = round_to(t, v[i]);
    }
  }
}

static zmlx_array *make(zmlx_dtype t, int nd, const int64_t *shape, const double *v,
                        zmlx_device dev) {
  zmlx_array *f = NULL, *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F64, nd, shape, dev, &f));
  if (f) CHECK_OK(zmlx_array_astype(f, t, &a));
  zmlx_array_release(f);
  return a;
}

static const zmlx_dtype dtypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};
static const int bits_list[] = {2, 4, 8}, groups[] = {32, 64, 128};

static void test_quantize_bit_exact(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int ti = 0; ti < 3; ti++)
      for (int bi = 0; bi < 3; bi++)
        for (int gi = 0; gi < 3; gi++) {
          zmlx_dtype t = dtypes[ti];
          int bits = bits_list[bi], group = groups[gi], per = 32 / bits;
          int64_t rows = 3, K = 4 * group, shape[2] = {rows, K}, n = rows * K;
          double *w = malloc(sizeof *w * (size_t)n);
          for (int64_t i = 0; i < n; i++) w[i] = round_to(t, (rnd_unit() - 0.4) * 3);
          special_groups(w, n / group, group, bits, t);
          zmlx_array *x = make(t, 2, shape, w, dev), *wq = NULL, *sc = NULL, *bs = NULL;
          CHECK_OK(zmlx_affine_quantize(x, bits, group, &wq, &sc, &bs));
          if (wq && sc && bs) {
            CHECK_EQ_INT(zmlx_array_dtype(wq), ZMLX_DTYPE_U32);
            CHECK_EQ_INT(zmlx_array_dim(wq, 1), K * bits / 32);
            CHECK_EQ_INT(zmlx_array_dtype(sc), t);
            CHECK_EQ_INT(zmlx_array_dim(sc, 1), K / group);
            uint32_t *gw = host_read(wq);
            double *gs = zt_read_f64(sc), *gb = zt_read_f64(bs);
            int bad = 0;
            for (int64_t g = 0; g < n / group && gs && gb; g++) {
              uint32_t want[64];
              double ws, wb;
              expect_group(w + g * group, group, bits, t, want, &ws, &wb);
              if (!same(gs[g], ws) || !same(gb[g], wb))
                MISMATCH(bad, "%s %s bits %d group %d: group %lld scale %.9g bias %.9g, want "
                         "%.9g %.9g", devname(dev), zmlx_dtype_name(t), bits, group,
                         (long long)g, gs[g], gb[g], ws, wb);
              for (int k = 0; k < group / per; k++)
                if (gw[g * (group / per) + k] != want[k])
                  MISMATCH(bad, "%s %s bits %d group %d: group %lld word %d is %08x, want %08x",
                           devname(dev), zmlx_dtype_name(t), bits, group, (long long)g, k,
                           gw[g * (group / per) + k], want[k]);
            }
            CHECK_MSG(bad == 0, "%d mismatches", bad);
            free(gw);
            free(gs);
            free(gb);
          }
          zmlx_array_release(x);
          zmlx_array_release(wq);
          zmlx_array_release(sc);
          zmlx_array_release(bs);
          free(w);
        }
  }
}

/* Dequantization: T(T(scale * q) + bias), each operation rounded to T. */
static void test_dequantize_bit_exact(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int ti = 0; ti < 3; ti++)
      for (int bi = 0; bi < 3; bi++)
        for (int gi = 0; gi < 3; gi++) {
          zmlx_dtype t = dtypes[ti];
          int bits = bits_list[bi], group = groups[gi], per = 32 / bits;
          int64_t rows = 2, K = 3 * group, W = K / per, S = K / group;
          int64_t wshape[2] = {rows, W}, sshape[2] = {rows, S};
          double *wv = malloc(sizeof *wv * (size_t)(rows * W));
          double *sv = malloc(sizeof *sv * (size_t)(rows * S));
          double *bv = malloc(sizeof *bv * (size_t)(rows * S));
          for (int64_t i = 0; i < rows * W; i++) wv[i] = (double)(uint32_t)rnd();
          for (int64_t i = 0; i < rows * S; i++) {
            sv[i] = round_to(t, (rnd_unit() - 0.3) * 0.07);
            bv[i] = round_to(t, (rnd_unit() - 0.5) * 4);
          }
          zmlx_array *wq = make(ZMLX_DTYPE_U32, 2, wshape, wv, dev);
          zmlx_array *sc = make(t, 2, sshape, sv, dev), *bs = make(t, 2, sshape, bv, dev);
          zmlx_array *out = NULL;
          CHECK_OK(zmlx_affine_dequantize(wq, sc, bs, bits, group, ZMLX_DEQUANT_ACT_NONE, &out));
          double *got = out ? zt_read_f64(out) : NULL;
          int bad = 0;
          for (int64_t i = 0; got && i < rows * K; i++) {
            uint32_t word = (uint32_t)wv[i / per];
            double q = (double)((word >> (bits * (i % per))) & ((1u << bits) - 1));
            double s = sv[i / group], b = bv[i / group];
            double p = round_to(t, s * q);
            double want = t == ZMLX_DTYPE_F32 ? (double)((float)p + (float)b) : round_to(t, p + b);
            if (!same(got[i], want))
              MISMATCH(bad, "%s %s bits %d group %d: element %lld is %.9g, want %.9g",
                       devname(dev), zmlx_dtype_name(t), bits, group, (long long)i, got[i], want);
          }
          CHECK_MSG(got && bad == 0, "%d mismatches", bad);
          free(got);
          free(wv);
          free(sv);
          free(bv);
          zmlx_array_release(wq);
          zmlx_array_release(sc);
          zmlx_array_release(bs);
          zmlx_array_release(out);
        }
  }
}

/* Quantize then dequantize: every value within one step (plus the
 * rounding of scale and bias to the dtype). Not half a step: MLX rescales
 * so the edge of larger magnitude lands on a code, and the far edge can
 * then overshoot the top code by up to a step (4 bits) and be clamped. */
static void test_round_trip(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int ti = 0; ti < 3; ti++) {
      zmlx_dtype t = dtypes[ti];
      int64_t shape[3] = {2, 3, 256}, n = 2 * 3 * 256;
      double *w = malloc(sizeof *w * (size_t)n);
      for (int64_t i = 0; i < n; i++) w[i] = round_to(t, (rnd_unit() - 0.5) * 2);
      zmlx_array *x = make(t, 3, shape, w, dev), *wq = NULL, *sc = NULL, *bs = NULL, *y = NULL;
      CHECK_OK(zmlx_affine_quantize(x, 4, 64, &wq, &sc, &bs));
      if (wq) CHECK_OK(zmlx_affine_dequantize(wq, sc, bs, 4, 64, ZMLX_DEQUANT_ACT_NONE, &y));
      double *got = y ? zt_read_f64(y) : NULL, *s = sc ? zt_read_f64(sc) : NULL;
      int bad = 0;
      for (int64_t i = 0; got && s && i < n; i++) {
        double allowed = fabs(s[i / 64]) * 1.02 + 0.02 * fabs(w[i]) + 1e-6;
        if (!(fabs(got[i] - w[i]) <= allowed))
          MISMATCH(bad, "%s %s: element %lld: %.6g back as %.6g (step %.3g)", devname(dev),
                   zmlx_dtype_name(t), (long long)i, w[i], got[i], s[i / 64]);
      }
      CHECK_MSG(got && s && bad == 0, "%d values off", bad);
      free(got);
      free(s);
      free(w);
      zmlx_array_release(x);
      zmlx_array_release(wq);
      zmlx_array_release(sc);
      zmlx_array_release(bs);
      zmlx_array_release(y);
    }
  }
}

ZT_MAIN(ZT(test_quantize_bit_exact), ZT(test_dequantize_bit_exact), ZT(test_round_trip))
