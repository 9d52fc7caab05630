/* Inverse frequencies and attention scaling from a rope config, following
 * transformers' modeling_rope_utils.py (`_compute_default_rope_parameters`
 * and the linear, dynamic, yarn and llama3 variants) in f64. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "zmlx/catalog_rope.h"

static const char *op = "rope_inv_freq";

static zmlx_status check(const zmlx_rope_config *r, int64_t max_pos) {
  if (!r) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "rope config is NULL");
  int64_t R = r->rotary_dim;
  if (R < 2 || R % 2)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "rotary_dim %lld: must be even and at least 2", (long long)R);
  if (!(r->theta > 1) || !isfinite(r->theta))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "theta %g: must be a number above 1",
                     r->theta);
  if ((unsigned)r->type > ZMLX_ROPE_TYPE_LLAMA3)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "rope type %d is unknown", (int)r->type);
  if (r->type != ZMLX_ROPE_TYPE_DEFAULT && !(r->factor > 0 && isfinite(r->factor)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%s rope: factor %g must be positive",
                     zmlx_rope_type_name(r->type), r->factor);
  if (r->type == ZMLX_ROPE_TYPE_DYNAMIC && (max_pos <= 0 || R < 4))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "dynamic rope needs max_position_embeddings > 0 (got %lld) and rotary_dim "
                     ">= 4 (got %lld)", (long long)max_pos, (long long)R);
  if (r->type == ZMLX_ROPE_TYPE_LLAMA3 &&
      (r->original_max_position_embeddings <= 0 || !(r->high_freq_factor > r->low_freq_factor) ||
       !(r->low_freq_factor > 0)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "llama3 rope needs original_max_position_embeddings > 0 (got %lld) and "
                     "high_freq_factor > low_freq_factor > 0 (got %g, %g)",
                     (long long)r->original_max_position_embeddings, r->high_freq_factor,
                     r->low_freq_factor);
  if (r->type == ZMLX_ROPE_TYPE_YARN && r->original_max_position_embeddings <= 0 && max_pos <= 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "yarn rope needs original_max_position_embeddings or "
                     "max_position_embeddings");
  return ZMLX_STATUS_OK;
}

/* get_mscale in transformers' yarn. */
static double mscale_of(double scale, double m) {
  return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

/* find_correction_dim: the pair index that turns num_rot times over len. */
static double correction_dim(double num_rot, double dim, double base, double len) {
  return dim * log(len / (num_rot * 2 * M_PI)) / (2 * log(base));
}

static void yarn(const zmlx_rope_config *r, int64_t max_pos, double *inv, double *att) {
  const double dim = (double)r->rotary_dim, base = r->theta, factor = r->factor;
  double orig = (double)(r->original_max_position_embeddings > 0
                             ? r->original_max_position_embeddings
                             : max_pos);
  if (r->has_attention_factor)
    *att = r->attention_factor;
  else if (r->mscale != 0 && r->mscale_all_dim != 0)
    *att = mscale_of(factor, r->mscale) / mscale_of(factor, r->mscale_all_dim);
  else
    *att = mscale_of(factor, 1.0);
  double fast = r->beta_fast != 0 ? r->beta_fast : 32, slow = r->beta_slow != 0 ? r->beta_slow : 1;
  double lo = correction_dim(fast, dim, base, orig), hi = correction_dim(slow, dim, base, orig);
  if (r->truncate) {
    lo = floor(lo);
    hi = ceil(hi);
  }
  lo = fmax(lo, 0);
  hi = fmin(hi, dim - 1);
  if (lo == hi) hi += 0.001; /* transformers' guard against a zero-width ramp */
  for (int64_t i = 0; i < r->rotary_dim / 2; i++) {
    double extrap = pow(base, -(double)(2 * i) / dim);
    double ramp = fmin(fmax(((double)i - lo) / (hi - lo), 0), 1);
    /* inv_freq_extrapolation_factor = 1 - ramp */
    inv[i] = extrap / factor * ramp + extrap * (1 - ramp);
  }
}

static void llama3(const zmlx_rope_config *r, double *inv) {
  const double old = (double)r->original_max_position_embeddings, lf = r->low_freq_factor,
               hf = r->high_freq_factor, factor = r->factor;
  const double low_wavelen = old / lf, high_wavelen = old / hf;
  for (int64_t i = 0; i < r->rotary_dim / 2; i++) {
    double f = inv[i], wavelen = 2 * M_PI / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      inv[i] = f / factor;
    } else {
      double smooth = (old / wavelen - lf) / (hf - lf);
      inv[i] = (1 - smooth) * f / factor + smooth * f;
    }
  }
}

zmlx_status zmlx_rope_inv_freq(const zmlx_rope_config *rope, int64_t max_position_embeddings,
                               int64_t seq_len, double *inv_freq, double *attention_scaling) {
  ZMLX_TRY(check(rope, max_position_embeddings));
  if (!inv_freq || !attention_scaling)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "result pointer is NULL");
  const int64_t half = rope->rotary_dim / 2;
  const double dim = (double)rope->rotary_dim;
  double base = rope->theta;
  *attention_scaling = 1.0;
  if (rope->type == ZMLX_ROPE_TYPE_YARN) {
    yarn(rope, max_position_embeddings, inv_freq, attention_scaling);
    return ZMLX_STATUS_OK;
  }
  if (rope->type == ZMLX_ROPE_TYPE_DYNAMIC) {
    double mp = (double)max_position_embeddings;
    double len = seq_len > max_position_embeddings ? (double)seq_len : mp;
    base *= pow(rope->factor * len / mp - (rope->factor - 1), dim / (dim - 2));
  }
  for (int64_t i = 0; i < half; i++) inv_freq[i] = 1.0 / pow(base, (double)(2 * i) / dim);
  if (rope->type == ZMLX_ROPE_TYPE_LINEAR)
    for (int64_t i = 0; i < half; i++) inv_freq[i] /= rope->factor;
  if (rope->type == ZMLX_ROPE_TYPE_LLAMA3) llama3(rope, inv_freq);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_rope_inv_freq_array(const zmlx_rope_config *rope,
                                     int64_t max_position_embeddings, int64_t seq_len,
                                     zmlx_dtype dtype, zmlx_device dev, zmlx_array **inv_freq,
                                     double *attention_scaling) {
  if (!inv_freq) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "result pointer is NULL");
  *inv_freq = NULL;
  if (dtype != ZMLX_DTYPE_F32 && dtype != ZMLX_DTYPE_F64)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "dtype %s: inv_freq is f32 or f64",
                     zmlx_dtype_name(dtype));
  ZMLX_TRY(check(rope, max_position_embeddings));
  int64_t half = rope->rotary_dim / 2;
  double *v = malloc(sizeof *v * (size_t)half);
  if (!v) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_status s = zmlx_rope_inv_freq(rope, max_position_embeddings, seq_len, v, attention_scaling);
  zmlx_array *host = NULL;
  if (!s) s = zmlx_array_from_host(v, ZMLX_DTYPE_F64, 1, &half, ZMLX_CPU, &host);
  if (!s && dtype == ZMLX_DTYPE_F64 && dev.type == ZMLX_DEVICE_CPU)
    *inv_freq = zmlx_array_retain(host);
  else if (!s) {
    zmlx_array *t = NULL;
    s = zmlx_array_astype(host, dtype, &t);
    if (!s) s = zmlx_array_to_device(t, dev, inv_freq);
    zmlx_array_release(t);
  }
  zmlx_array_release(host);
  free(v);
  return s ? zmlx_fail_wrap(s, op) : s;
}
