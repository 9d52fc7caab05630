#ifndef ZMLX_CATALOG_ROPE_H
#define ZMLX_CATALOG_ROPE_H
#include "zmlx/array.h"
#include "zmlx/model_config.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Rotary position embeddings. Conventions as in zmlx/catalog.h.
 *
 * A head of D values rotates its first R (the rotary dimensions, R even,
 * R <= D) in R/2 pairs; the last D - R values pass through unchanged
 * (partial rotary). Pair i turns by the angle position * inv_freq[i]:
 *     y1 = x1 cos - x2 sin,   y2 = x2 cos + x1 sin
 * (both times `scale`). The pairs are, by layout:
 *     ZMLX_ROPE_HALF         (x[i], x[i + R/2])  NeoX / Llama / Qwen
 *                            ("rotate_half" in transformers)
 *     ZMLX_ROPE_INTERLEAVED  (x[2i], x[2i + 1])  GPT-J / GLM
 * The angle is formed in double precision and reduced to [-pi, pi] before
 * a float sine and cosine, so f32 results keep their accuracy at any
 * position (transformers forms it in f32). f64 inputs are computed in f64.
 * The backward of a rotation is the inverse rotation (times scale). */
typedef enum zmlx_rope_layout {
  ZMLX_ROPE_HALF = 0,
  ZMLX_ROPE_INTERLEAVED = 1
} zmlx_rope_layout;

/* What every rope call shares. Arrays are borrowed. */
typedef struct zmlx_rope_spec {
  zmlx_array *inv_freq;   /* (R/2,) f32 or f64: the pairs' inverse frequencies */
  zmlx_array *positions;  /* the tokens' leading shape, i32 or i64; or NULL: */
  int64_t offset;         /* ... token (..., t) then sits at offset + t */
  double scale;           /* multiplies cos and sin (YaRN's attention
                             scaling); 0 means 1 */
  zmlx_rope_layout layout;
} zmlx_rope_spec;

/* x: (..., H, D); *out: (..., H, D) new, x's dtype. positions, when
 * given, has x's leading shape (...). */
zmlx_status zmlx_rope(const zmlx_rope_spec *r, zmlx_array *x, zmlx_array **out);
/* dy: (..., H, D); *dx: the inverse rotation of dy. */
zmlx_status zmlx_rope_backward(const zmlx_rope_spec *r, zmlx_array *dy, zmlx_array **dx);

/* q and k of grouped-query attention in one launch: q (..., Hq, D),
 * k (..., Hk, D) with one leading shape, dtype and head size. */
zmlx_status zmlx_rope_qk(const zmlx_rope_spec *r, zmlx_array *q, zmlx_array *k,
                         zmlx_array **q_out, zmlx_array **k_out);
zmlx_status zmlx_rope_qk_backward(const zmlx_rope_spec *r, zmlx_array *dq_out,
                                  zmlx_array *dk_out, zmlx_array **dq, zmlx_array **dk);

/* Rotate k and write it, with v, into a cache: k (T, Hk, D), v (T, Hk, Dv),
 * k_cache (M, Hk, D) and v_cache (M, Hk, Dv), C-contiguous, one dtype.
 * Token t goes to row positions[t] (positions (T,)), or to row offset + t;
 * the caches are written in place (other rows are left as they are).
 * With positions, rows outside [0, M) are skipped and two tokens should
 * not share a row (which one lands is then unspecified); without them,
 * offset + T must not exceed M. No backward (an inference op). */
zmlx_status zmlx_rope_kv_cache(const zmlx_rope_spec *r, zmlx_array *k, zmlx_array *v,
                               zmlx_array *k_cache, zmlx_array *v_cache);

/* ---- frequencies from a model's config ----------------------------------
 * inv_freq and the attention scaling as transformers computes them
 * (modeling_rope_utils.py, `_compute_<type>_parameters`), in f64, for
 * rope->type default, linear, dynamic, yarn and llama3 (model_config.h;
 * rope->rotary_dim must be set). max_position_embeddings is the model's;
 * seq_len is the current length for dynamic NTK (0: none yet) and is
 * ignored otherwise.
 *   default   inv_freq[i] = theta^(-2i/R)
 *   linear    default / factor
 *   dynamic   theta' = theta ((factor L / max) - (factor - 1))^(R / (R - 2)),
 *             L = max(seq_len, max)
 *   llama3    wavelengths above original/low_freq_factor divided by factor,
 *             below original/high_freq_factor kept, a smooth blend between
 *   yarn      blend of default and default / factor across the correction
 *             range of beta_fast and beta_slow rotations over
 *             original_max_position_embeddings (floor/ceil unless
 *             truncate is 0, as GPT-OSS sets); attention scaling
 *             attention_factor when given, else mscale / mscale_all_dim
 *             (DeepSeek) or 0.1 ln(factor) + 1.
 * yarn follows transformers 5: factor as given, original 0 meaning
 * max_position_embeddings (transformers 4.x replaced factor by max /
 * original when the file gave original; configs that set max = factor x
 * original, as Qwen3's and GPT-OSS's do, agree either way). The scaling is
 * 1 for the other types. inv_freq has room for rotary_dim / 2 values. */
zmlx_status zmlx_rope_inv_freq(const zmlx_rope_config *rope, int64_t max_position_embeddings,
                               int64_t seq_len, double *inv_freq, double *attention_scaling);
/* The same as a new (rotary_dim / 2,) array of dtype (f32 or f64) on dev. */
zmlx_status zmlx_rope_inv_freq_array(const zmlx_rope_config *rope,
                                     int64_t max_position_embeddings, int64_t seq_len,
                                     zmlx_dtype dtype, zmlx_device dev, zmlx_array **inv_freq,
                                     double *attention_scaling);

#ifdef __cplusplus
}
#endif
#endif
