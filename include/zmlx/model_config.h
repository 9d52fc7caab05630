#ifndef ZMLX_MODEL_CONFIG_H
#define ZMLX_MODEL_CONFIG_H
/* Hugging Face config.json files as one model description, for the
 * families ZMLX runs, and MLX quantized checkpoints (the "quantization"
 * block, and the packed weights with their scales and biases).
 * See docs/MODEL_FILES.md.
 *
 * Both spellings transformers has used are read: rope_theta + rope_scaling
 * (4.x) and rope_parameters (5.x); torch_dtype and dtype. Required in every
 * file: model_type, vocab_size, hidden_size, intermediate_size (lfm2 also
 * takes block_ff_dim), num_hidden_layers and num_attention_heads; a file
 * without one of them is refused (a silently defaulted size would be a
 * different model). Every other field, when absent, takes the transformers
 * default of the family's config class:
 *
 *   field                  llama  qwen2  qwen3  qwen3_moe mixtral gpt_oss lfm2   lfm2_moe
 *   num_key_value_heads    heads  32     32     4         8       8       8      8
 *   head_dim               h/n    h/n    128    h/n       h/n     64      h/n    h/n
 *   max_position_embeddings 2048  32768  32768  32768     131072  131072  128000 128000
 *   rope theta             1e4    1e4    1e4    1e4       1e6     1.5e5   1e6    1e6
 *   rope scaling           -      -      -      -         -       yarn(1) -      -
 *   norm eps (rms_norm_eps / norm_eps)  1e-6 1e-6 1e-6 1e-6 1e-5 1e-5 1e-5 1e-5
 *   tie_word_embeddings    false  false  false  false     false   false   true   true
 *   attention bias         false  qkv(2) false  false     -       true    -      -
 *   bos / eos / pad        1/2/-  -/-/-  -/-/-  -/-/-     1/2/-   -/-/-   1/2/0  1/2/0
 *   experts / per token    -      -      -      128 / 8   8 / 2   128 / 4 -      32 / 4
 *   moe_intermediate_size  -      -      -      768       (3)     (3)     -      1792
 *   norm_topk_prob         -      -      -      false     true(4) true(4) -      true
 *   sliding window         -      4096 if use_sliding_window (5)  -   128    -      -
 *   layer kinds            full   (5)    (5)    (5)       (6)     (7)     (8)    (8)
 *   MoE layers             -      -      -      (9)       all     all     -      i >= num_dense_layers (2)
 *   hidden_act             silu everywhere (lfm2: no field, SwiGLU with silu)
 *
 * (h/n: hidden_size / num_attention_heads; "heads": num_attention_heads;
 *  "-": none.)
 * (1) factor 32, beta_fast 32, beta_slow 1, truncate false,
 *     original_max_position_embeddings 4096.
 * (2) Qwen2 always has q/k/v biases and no o_proj bias.
 * (3) the experts' width is intermediate_size.
 * (4) Mixtral and gpt-oss renormalize the chosen experts' weights always.
 * (5) layer_types when given; else layer i slides when use_sliding_window
 *     is true and i >= max_window_layers (28); sliding_window is ignored
 *     (0 here) unless use_sliding_window is true.
 * (6) every layer slides when sliding_window is set, else full attention.
 * (7) layer_types when given; else even layers slide, odd layers are full.
 * (8) layer_types when given; else full_attn_idxs (full attention there,
 *     short convolutions elsewhere); else every layer full attention.
 * (9) layer i is MoE when num_experts > 0, i is not in mlp_only_layers and
 *     (i + 1) % decoder_sparse_step == 0 (default step 1).
 *
 * A config whose rope type, layer type or dtype ZMLX does not know is
 * refused with an error naming the file and the field. */
#include <stddef.h>
#include <stdint.h>
#include "zmlx/array.h"
#include "zmlx/safetensors.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum zmlx_model_family {
  ZMLX_MODEL_FAMILY_LLAMA = 0,
  ZMLX_MODEL_FAMILY_QWEN2,
  ZMLX_MODEL_FAMILY_QWEN3,
  ZMLX_MODEL_FAMILY_QWEN3_MOE,
  ZMLX_MODEL_FAMILY_MIXTRAL,
  ZMLX_MODEL_FAMILY_GPT_OSS,
  ZMLX_MODEL_FAMILY_LFM2,
  ZMLX_MODEL_FAMILY_LFM2_MOE,
  ZMLX_MODEL_FAMILY_COUNT
} zmlx_model_family;

/* The model_type string ("qwen3_moe"); "?" when invalid. */
const char *zmlx_model_family_name(zmlx_model_family f);

typedef enum zmlx_rope_type {
  ZMLX_ROPE_TYPE_DEFAULT = 0,
  ZMLX_ROPE_TYPE_LINEAR,
  ZMLX_ROPE_TYPE_DYNAMIC,
  ZMLX_ROPE_TYPE_YARN,
  ZMLX_ROPE_TYPE_LLAMA3
} zmlx_rope_type;
const char *zmlx_rope_type_name(zmlx_rope_type t); /* "default", "yarn", ... */

/* Rotary embedding parameters as the file gives them. Fields the file
 * leaves out hold the value shown, which is what transformers assumes;
 * the has_* flags tell the two apart where the model math differs. */
typedef struct zmlx_rope_config {
  zmlx_rope_type type;
  double theta;
  double factor;                          /* 1 */
  int64_t original_max_position_embeddings; /* 0 when absent */
  double low_freq_factor;                 /* llama3; 1 */
  double high_freq_factor;                /* llama3; 4 */
  double beta_fast, beta_slow;            /* yarn; 32, 1 */
  int has_attention_factor;
  double attention_factor;                /* yarn; 0 when absent */
  double mscale, mscale_all_dim;          /* yarn (DeepSeek style); 0 when absent */
  int truncate;                           /* yarn; 1 */
  double partial_rotary_factor;           /* 1 */
  int64_t rotary_dim;                     /* head_dim * partial_rotary_factor */
} zmlx_rope_config;

typedef enum zmlx_layer_kind {
  ZMLX_LAYER_KIND_FULL_ATTENTION = 0,
  ZMLX_LAYER_KIND_SLIDING_ATTENTION,
  ZMLX_LAYER_KIND_CONV /* lfm2 short convolution */
} zmlx_layer_kind;
const char *zmlx_layer_kind_name(zmlx_layer_kind k); /* as layer_types spells it */

/* MLX quantization: one (bits, group_size, mode) per weight. */
typedef struct zmlx_quant_params {
  int quantized;     /* 0: stored unquantized */
  int bits;          /* 2, 3, 4, 5, 6 or 8 */
  int group_size;    /* 32, 64 or 128 */
  char mode[16];     /* "affine" unless the file says otherwise */
} zmlx_quant_params;

typedef struct zmlx_quant_override {
  char *path;        /* module path, e.g. "model.layers.0.mlp.gate" */
  zmlx_quant_params params;
} zmlx_quant_override;

typedef struct zmlx_quant_config {
  int present;       /* the file has a "quantization" block */
  zmlx_quant_params defaults;
  zmlx_quant_override *overrides; /* in file order */
  int n_overrides;
} zmlx_quant_config;

#define ZMLX_MODEL_MAX_TOKEN_IDS 32

typedef struct zmlx_model_config {
  zmlx_model_family family;
  char model_type[32];
  char architecture[128];        /* architectures[0], "" when absent */

  int64_t vocab_size, hidden_size, num_hidden_layers, max_position_embeddings;
  int64_t intermediate_size;     /* as written (lfm2: block_ff_dim) */
  int64_t ffn_dim;               /* the dense MLP's real width (lfm2 adjusts it) */
  int64_t num_attention_heads, num_key_value_heads, head_dim;

  zmlx_rope_config rope;
  double norm_eps;
  char hidden_act[32];

  int tie_word_embeddings;
  int attn_qkv_bias, attn_out_bias, mlp_bias;
  int qk_norm;                   /* per-head RMSNorm of q and k (qwen3, lfm2) */

  /* Mixture of experts (num_experts 0: dense). */
  int64_t num_experts, num_experts_per_tok, moe_intermediate_size;
  int norm_topk_prob;
  int64_t num_shared_experts, shared_expert_intermediate_size;
  int router_bias;               /* gpt_oss: the router has a bias */
  int expert_bias;               /* lfm2_moe: use_expert_bias */
  double routed_scaling_factor;  /* 1 */
  double router_aux_loss_coef;
  int64_t decoder_sparse_step;   /* qwen3_moe; 1 */
  int64_t num_dense_layers;      /* lfm2_moe */
  int64_t *mlp_only_layers;      /* qwen3_moe; n_mlp_only_layers entries */
  int n_mlp_only_layers;

  /* Per layer (num_hidden_layers entries each). */
  zmlx_layer_kind *layer_kinds;
  uint8_t *layer_is_moe;
  int64_t sliding_window;        /* 0: none */

  /* gpt_oss experts: clamped SwiGLU. 0 elsewhere. */
  double swiglu_limit, swiglu_alpha;
  /* lfm2 short convolutions. */
  int64_t conv_l_cache;
  int conv_bias;

  int has_dtype;
  zmlx_dtype dtype;              /* torch_dtype / dtype */

  int n_bos, n_eos, n_pad;       /* 0: none */
  int64_t bos_token_ids[ZMLX_MODEL_MAX_TOKEN_IDS];
  int64_t eos_token_ids[ZMLX_MODEL_MAX_TOKEN_IDS];
  int64_t pad_token_ids[ZMLX_MODEL_MAX_TOKEN_IDS];

  zmlx_quant_config quant;       /* MLX "quantization" (or its copy in
                                    "quantization_config") */
  char quant_method[32];         /* quantization_config.quant_method, if any */
} zmlx_model_config;

/* Parse path (a config.json, or a folder holding one) into *out. The
 * struct owns its arrays: free them with zmlx_model_config_free. On
 * failure *out is zeroed and needs no free. */
zmlx_status zmlx_model_config_load(const char *path, zmlx_model_config *out);
/* The same from text; label names it in errors. */
zmlx_status zmlx_model_config_parse(const char *label, const char *text, size_t len,
                                    zmlx_model_config *out);
void zmlx_model_config_free(zmlx_model_config *c); /* NULL-safe; zeroes it */

/* The quantization of the weight of module path ("model.layers.0.mlp.up_proj",
 * without ".weight"): an override for that path if there is one, else the
 * defaults when the checkpoint st holds path + ".scales" (as mlx-lm
 * decides), else not quantized. st may be NULL (then the defaults apply
 * whenever the config has a quantization block). */
zmlx_status zmlx_quant_params_for(const zmlx_quant_config *q, const zmlx_safetensors *st,
                                  const char *path, zmlx_quant_params *out);

/* A quantized linear weight as MLX stores it, ready for MLX-affine
 * kernels: each row of `weight` holds in_features values of `bits` bits,
 * packed little-endian into uint32 words; value = scale * q + bias per
 * group of group_size along the row. Leading dimensions (experts) may
 * precede (out, ...). */
typedef struct zmlx_quantized_weight {
  zmlx_array *weight;   /* u32 (..., out, in * bits / 32) */
  zmlx_array *scales;   /* f16, bf16 or f32 (..., out, in / group_size) */
  zmlx_array *biases;   /* same dtype and shape as scales */
  int bits, group_size;
  int64_t in_features, out_features;
} zmlx_quantized_weight;

/* Load path + ".weight", ".scales" and ".biases" from st onto dev and
 * check them against p (affine mode only): dtypes, matching leading
 * dimensions, packed width and group count. Ownership: the struct holds
 * one reference to each array; zmlx_quantized_weight_release gives them
 * back. On failure *out is zeroed. */
zmlx_status zmlx_quantized_weight_load(zmlx_safetensors *st, const char *path,
                                       const zmlx_quant_params *p, zmlx_device dev,
                                       zmlx_quantized_weight *out);
void zmlx_quantized_weight_release(zmlx_quantized_weight *w); /* NULL-safe; zeroes it */

#ifdef __cplusplus
}
#endif
#endif
