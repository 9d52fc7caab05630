/* config.json -> zmlx_model_config. The defaults below are those of the
 * transformers config classes (the table in include/zmlx/model_config.h);
 * each family's row says where it differs from the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file.h"
#include "model/config_internal.h"
#include "model/model_internal.h"

typedef struct family_row {
  const char *name;
  int64_t kv_heads;      /* -1: num_attention_heads */
  int64_t head_dim;      /* -1: hidden_size / num_attention_heads */
  int64_t max_pos;
  double theta;
  double eps;
  int tie;
  int64_t bos, eos, pad; /* -1: none */
  int qk_norm;
} family_row;

static const family_row FAMILIES[ZMLX_MODEL_FAMILY_COUNT] = {
    [ZMLX_MODEL_FAMILY_LLAMA] = {"llama", -1, -1, 2048, 1e4, 1e-6, 0, 1, 2, -1, 0},
    [ZMLX_MODEL_FAMILY_QWEN2] = {"qwen2", 32, -1, 32768, 1e4, 1e-6, 0, -1, -1, -1, 0},
    [ZMLX_MODEL_FAMILY_QWEN3] = {"qwen3", 32, 128, 32768, 1e4, 1e-6, 0, -1, -1, -1, 1},
    [ZMLX_MODEL_FAMILY_QWEN3_MOE] = {"qwen3_moe", 4, -1, 32768, 1e4, 1e-6, 0, -1, -1, -1, 1},
    [ZMLX_MODEL_FAMILY_MIXTRAL] = {"mixtral", 8, -1, 131072, 1e6, 1e-5, 0, 1, 2, -1, 0},
    [ZMLX_MODEL_FAMILY_GPT_OSS] = {"gpt_oss", 8, 64, 131072, 1.5e5, 1e-5, 0, -1, -1, -1, 0},
    [ZMLX_MODEL_FAMILY_LFM2] = {"lfm2", 8, -1, 128000, 1e6, 1e-5, 1, 1, 2, 0, 1},
    [ZMLX_MODEL_FAMILY_LFM2_MOE] = {"lfm2_moe", 8, -1, 128000, 1e6, 1e-5, 1, 1, 2, 0, 1},
};

const char *zmlx_model_family_name(zmlx_model_family f) {
  return (unsigned)f < ZMLX_MODEL_FAMILY_COUNT ? FAMILIES[f].name : "?";
}

static int is_lfm2(const zmlx_model_config *c) {
  return c->family == ZMLX_MODEL_FAMILY_LFM2 || c->family == ZMLX_MODEL_FAMILY_LFM2_MOE;
}

/* ---- pieces ------------------------------------------------------------- */

static zmlx_status positive(const zmc_src *s, const char *key, int64_t v, int64_t max) {
  if (v <= 0 || v > max)
    return zmc_bad(s, key, "%lld is outside 1..%lld", (long long)v, (long long)max);
  return ZMLX_STATUS_OK;
}

/* bos/eos/pad: absent -> the family's default; null -> none; an integer
 * or a list of integers. */
static zmlx_status token_ids(const zmc_src *s, const char *key, int64_t dflt, int64_t *ids,
                             int *n) {
  const zj_value *v = zj_get(s->obj, key);
  *n = 0;
  if (!v) {
    if (dflt >= 0) ids[(*n)++] = dflt;
    return ZMLX_STATUS_OK;
  }
  if (v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type == ZJ_NUMBER) {
    ZMLX_TRY(zmc_int(s, key, 0, &ids[0]));
    *n = 1;
    return ZMLX_STATUS_OK;
  }
  if (v->type != ZJ_ARRAY)
    return zmc_bad(s, key, "expected an integer or a list of integers, found %s",
                   zj_type_name(v->type));
  if (v->n > ZMLX_MODEL_MAX_TOKEN_IDS)
    return zmc_bad(s, key, "%d ids; ZMLX keeps up to %d", v->n, ZMLX_MODEL_MAX_TOKEN_IDS);
  for (int i = 0; i < v->n; i++) ZMLX_TRY(zmc_int_value(s, key, i, &v->items[i], &ids[i]));
  *n = v->n;
  return ZMLX_STATUS_OK;
}

static zmlx_status read_dtype(const zmc_src *s, zmlx_model_config *c) {
  const char *key = zmc_get(s, "dtype") ? "dtype" : "torch_dtype";
  char name[32];
  ZMLX_TRY(zmc_str(s, key, "", name, sizeof name));
  if (!name[0]) return ZMLX_STATUS_OK;
  static const struct {
    const char *name;
    zmlx_dtype dtype;
  } names[] = {{"float32", ZMLX_DTYPE_F32}, {"float16", ZMLX_DTYPE_F16},
               {"bfloat16", ZMLX_DTYPE_BF16}, {"float64", ZMLX_DTYPE_F64},
               {"float", ZMLX_DTYPE_F32},     {"half", ZMLX_DTYPE_F16}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(name, names[i].name)) {
      c->has_dtype = 1;
      c->dtype = names[i].dtype;
      return ZMLX_STATUS_OK;
    }
  return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, ZMC_OP,
                   "%s: field '%s': dtype '%s' is not one ZMLX loads models in (float32, "
                   "float16, bfloat16, float64)",
                   s->label, key, name);
}

/* lfm2's MLP width: 2/3 of the configured size, times the multiplier,
 * rounded up to block_multiple_of (as transformers' Lfm2MLP computes it). */
static zmlx_status lfm2_ffn(const zmc_src *s, zmlx_model_config *c) {
  int adjust;
  double mult;
  int64_t multiple;
  ZMLX_TRY(zmc_bool(s, "block_auto_adjust_ff_dim", 1, &adjust));
  ZMLX_TRY(zmc_num(s, "block_ffn_dim_multiplier", 1.0, &mult));
  ZMLX_TRY(zmc_int(s, "block_multiple_of", 256, &multiple));
  c->ffn_dim = c->intermediate_size;
  if (c->family != ZMLX_MODEL_FAMILY_LFM2 || !adjust) return ZMLX_STATUS_OK;
  ZMLX_TRY(positive(s, "block_multiple_of", multiple, (int64_t)1 << 40));
  if (!(mult > 0 && mult < 1e6)) return zmc_bad(s, "block_ffn_dim_multiplier", "must be positive");
  int64_t d = (int64_t)(2 * c->intermediate_size / 3);
  d = (int64_t)(mult * (double)d);
  c->ffn_dim = multiple * ((d + multiple - 1) / multiple);
  return ZMLX_STATUS_OK;
}

static zmlx_status moe(const zmc_src *s, zmlx_model_config *c) {
  c->routed_scaling_factor = 1;
  c->decoder_sparse_step = 1;
  const char *experts_key = zmc_get(s, "num_local_experts") ? "num_local_experts" : "num_experts";
  int64_t experts = 0, per_tok = 0, moe_inter = c->intermediate_size;
  int norm_topk = 0;
  switch (c->family) {
    case ZMLX_MODEL_FAMILY_QWEN3_MOE:
      experts = 128, per_tok = 8, moe_inter = 768;
      break;
    case ZMLX_MODEL_FAMILY_MIXTRAL:
      experts = 8, per_tok = 2, norm_topk = 1;
      break;
    case ZMLX_MODEL_FAMILY_GPT_OSS:
      experts = 128, per_tok = 4, norm_topk = 1;
      c->router_bias = 1;
      ZMLX_TRY(zmc_num(s, "swiglu_limit", 7.0, &c->swiglu_limit));
      ZMLX_TRY(zmc_num(s, "swiglu_alpha", 1.702, &c->swiglu_alpha));
      break;
    case ZMLX_MODEL_FAMILY_LFM2_MOE:
      experts = 32, per_tok = 4, moe_inter = 1792, norm_topk = 1;
      ZMLX_TRY(zmc_bool(s, "use_expert_bias", 1, &c->expert_bias));
      ZMLX_TRY(zmc_num(s, "routed_scaling_factor", 1.0, &c->routed_scaling_factor));
      ZMLX_TRY(zmc_int(s, "num_dense_layers", 2, &c->num_dense_layers));
      if (c->num_dense_layers < 0) return zmc_bad(s, "num_dense_layers", "is negative");
      break;
    default:
      return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(zmc_int(s, experts_key, experts, &c->num_experts));
  /* gpt-oss's own files also say experts_per_token. */
  const char *tok_key = !zmc_get(s, "num_experts_per_tok") && zmc_get(s, "experts_per_token")
                            ? "experts_per_token" : "num_experts_per_tok";
  ZMLX_TRY(zmc_int(s, tok_key, per_tok, &c->num_experts_per_tok));
  ZMLX_TRY(zmc_int(s, "moe_intermediate_size", moe_inter, &c->moe_intermediate_size));
  if (c->family == ZMLX_MODEL_FAMILY_MIXTRAL || c->family == ZMLX_MODEL_FAMILY_GPT_OSS)
    c->norm_topk_prob = 1; /* both always renormalize the chosen experts */
  else
    ZMLX_TRY(zmc_bool(s, "norm_topk_prob", norm_topk, &c->norm_topk_prob));
  ZMLX_TRY(zmc_num(s, "router_aux_loss_coef", 0.001, &c->router_aux_loss_coef));
  ZMLX_TRY(zmc_int(s, zmc_get(s, "n_shared_experts") ? "n_shared_experts" : "num_shared_experts",
                   0, &c->num_shared_experts));
  ZMLX_TRY(zmc_int(s, "shared_expert_intermediate_size", 0, &c->shared_expert_intermediate_size));
  ZMLX_TRY(positive(s, experts_key, c->num_experts, 1 << 20));
  if (c->num_experts_per_tok <= 0 || c->num_experts_per_tok > c->num_experts)
    return zmc_bad(s, tok_key, "%lld is outside 1..%lld (the number of experts)",
                   (long long)c->num_experts_per_tok, (long long)c->num_experts);
  ZMLX_TRY(positive(s, "moe_intermediate_size", c->moe_intermediate_size, (int64_t)1 << 40));
  if (c->num_shared_experts < 0) return zmc_bad(s, "num_shared_experts", "is negative");
  if (c->family == ZMLX_MODEL_FAMILY_QWEN3_MOE) {
    ZMLX_TRY(zmc_int(s, "decoder_sparse_step", 1, &c->decoder_sparse_step));
    ZMLX_TRY(positive(s, "decoder_sparse_step", c->decoder_sparse_step, 1 << 20));
    const zj_value *m = zmc_get(s, "mlp_only_layers");
    if (m && m->type != ZJ_ARRAY)
      return zmc_bad(s, "mlp_only_layers", "expected a list of layer indices, found %s",
                     zj_type_name(m->type));
    if (m && m->n) {
      c->mlp_only_layers = malloc((size_t)m->n * sizeof *c->mlp_only_layers);
      if (!c->mlp_only_layers) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, ZMC_OP, "out of host memory");
      for (int i = 0; i < m->n; i++) {
        ZMLX_TRY(zmc_int_value(s, "mlp_only_layers", i, &m->items[i], &c->mlp_only_layers[i]));
        c->n_mlp_only_layers = i + 1;
      }
    }
  }
  return ZMLX_STATUS_OK;
}

/* ---- the whole file ----------------------------------------------------- */

static zmlx_status family_of(const zmc_src *s, zmlx_model_config *c) {
  const zj_value *v = zmc_get(s, "model_type");
  if (!v)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP, "%s: missing required field 'model_type'",
                     s->label);
  ZMLX_TRY(zmc_str(s, "model_type", "", c->model_type, sizeof c->model_type));
  for (int f = 0; f < ZMLX_MODEL_FAMILY_COUNT; f++)
    if (!strcmp(c->model_type, FAMILIES[f].name)) {
      c->family = (zmlx_model_family)f;
      return ZMLX_STATUS_OK;
    }
  return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, ZMC_OP,
                   "%s: field 'model_type': '%s' is not a family ZMLX runs (llama, qwen2, qwen3, "
                   "qwen3_moe, mixtral, gpt_oss, lfm2, lfm2_moe)",
                   s->label, c->model_type);
}

static zmlx_status sizes(const zmc_src *s, zmlx_model_config *c, const family_row *f) {
  const int64_t big = (int64_t)1 << 40;
  ZMLX_TRY(zmc_int_required(s, "vocab_size", &c->vocab_size));
  ZMLX_TRY(positive(s, "vocab_size", c->vocab_size, big));
  ZMLX_TRY(zmc_int_required(s, "hidden_size", &c->hidden_size));
  ZMLX_TRY(positive(s, "hidden_size", c->hidden_size, big));
  const char *inter = is_lfm2(c) && zmc_get(s, "block_ff_dim") ? "block_ff_dim"
                                                                : "intermediate_size";
  ZMLX_TRY(zmc_int_required(s, inter, &c->intermediate_size));
  ZMLX_TRY(positive(s, inter, c->intermediate_size, big));
  ZMLX_TRY(zmc_int_required(s, "num_hidden_layers", &c->num_hidden_layers));
  ZMLX_TRY(positive(s, "num_hidden_layers", c->num_hidden_layers, 1 << 16));
  ZMLX_TRY(zmc_int_required(s, "num_attention_heads", &c->num_attention_heads));
  ZMLX_TRY(positive(s, "num_attention_heads", c->num_attention_heads, 1 << 20));
  int64_t kv = f->kv_heads < 0 ? c->num_attention_heads : f->kv_heads;
  if (zj_get(s->obj, "num_key_value_heads") && !zmc_get(s, "num_key_value_heads"))
    kv = c->num_attention_heads; /* null: transformers falls back to the heads */
  ZMLX_TRY(zmc_int(s, "num_key_value_heads", kv, &c->num_key_value_heads));
  ZMLX_TRY(positive(s, "num_key_value_heads", c->num_key_value_heads, c->num_attention_heads));
  if (c->num_attention_heads % c->num_key_value_heads)
    return zmc_bad(s, "num_key_value_heads", "%lld does not divide num_attention_heads (%lld)",
                   (long long)c->num_key_value_heads, (long long)c->num_attention_heads);
  int64_t hd = f->head_dim < 0 ? c->hidden_size / c->num_attention_heads : f->head_dim;
  ZMLX_TRY(zmc_int(s, "head_dim", hd, &c->head_dim));
  ZMLX_TRY(positive(s, "head_dim", c->head_dim, 1 << 20));
  ZMLX_TRY(zmc_int(s, "max_position_embeddings", f->max_pos, &c->max_position_embeddings));
  return positive(s, "max_position_embeddings", c->max_position_embeddings, big);
}

static zmlx_status misc(const zmc_src *s, zmlx_model_config *c, const family_row *f) {
  const char *eps_key = zmc_get(s, "rms_norm_eps") ? "rms_norm_eps"
                        : zmc_get(s, "norm_eps")   ? "norm_eps"
                                                   : "layer_norm_eps";
  ZMLX_TRY(zmc_num(s, eps_key, f->eps, &c->norm_eps));
  if (!(c->norm_eps > 0 && c->norm_eps < 1)) return zmc_bad(s, eps_key, "must be in (0, 1)");
  ZMLX_TRY(zmc_str(s, "hidden_act", "silu", c->hidden_act, sizeof c->hidden_act));
  const char *tie = is_lfm2(c) && zmc_get(s, "tie_embedding") ? "tie_embedding"
                                                              : "tie_word_embeddings";
  ZMLX_TRY(zmc_bool(s, tie, f->tie, &c->tie_word_embeddings));
  int bias = c->family == ZMLX_MODEL_FAMILY_GPT_OSS;
  switch (c->family) {
    case ZMLX_MODEL_FAMILY_QWEN2:
      c->attn_qkv_bias = 1; /* Qwen2 always: q/k/v biased, o_proj not */
      break;
    case ZMLX_MODEL_FAMILY_LLAMA:
    case ZMLX_MODEL_FAMILY_QWEN3:
    case ZMLX_MODEL_FAMILY_QWEN3_MOE:
    case ZMLX_MODEL_FAMILY_GPT_OSS:
      ZMLX_TRY(zmc_bool(s, "attention_bias", bias, &bias));
      c->attn_qkv_bias = c->attn_out_bias = bias;
      break;
    default:
      break;
  }
  if (c->family == ZMLX_MODEL_FAMILY_LLAMA) ZMLX_TRY(zmc_bool(s, "mlp_bias", 0, &c->mlp_bias));
  if (c->family == ZMLX_MODEL_FAMILY_GPT_OSS) c->mlp_bias = 1;
  c->qk_norm = f->qk_norm;
  if (is_lfm2(c)) {
    ZMLX_TRY(zmc_int(s, "conv_L_cache", 3, &c->conv_l_cache));
    ZMLX_TRY(positive(s, "conv_L_cache", c->conv_l_cache, 1 << 20));
    ZMLX_TRY(zmc_bool(s, "conv_bias", 0, &c->conv_bias));
  }
  const zj_value *arch = zmc_get(s, "architectures");
  if (arch && (arch->type != ZJ_ARRAY || (arch->n && arch->items[0].type != ZJ_STRING)))
    return zmc_bad(s, "architectures", "expected a list of strings");
  if (arch && arch->n) snprintf(c->architecture, sizeof c->architecture, "%s", arch->items[0].string);
  ZMLX_TRY(read_dtype(s, c));
  ZMLX_TRY(token_ids(s, "bos_token_id", f->bos, c->bos_token_ids, &c->n_bos));
  ZMLX_TRY(token_ids(s, "eos_token_id", f->eos, c->eos_token_ids, &c->n_eos));
  return token_ids(s, "pad_token_id", f->pad, c->pad_token_ids, &c->n_pad);
}

zmlx_status zmlx_model_config_parse(const char *label, const char *text, size_t len,
                                    zmlx_model_config *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, ZMC_OP, "out is NULL");
  memset(out, 0, sizeof *out);
  if (!text) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, ZMC_OP, "text is NULL");
  if (!label) label = "config.json";
  zj_value root;
  ZMLX_TRY(zmd_parse_json(ZMC_OP, label, text, len, &root));
  zmc_src s = {label, &root, NULL};
  zmlx_status st = root.type == ZJ_OBJECT
                       ? ZMLX_STATUS_OK
                       : zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP, "%s: not a JSON object", label);
  if (!st) st = family_of(&s, out);
  const family_row *f = &FAMILIES[out->family];
  if (!st) st = sizes(&s, out, f);
  if (!st) st = misc(&s, out, f);
  if (!st) st = lfm2_ffn(&s, out);
  if (!st) st = moe(&s, out);
  if (!st) st = zmc_rope(&s, out, f->theta);
  if (!st) st = zmc_layers(&s, out);
  if (!st) st = zmc_quant(&s, out);
  zj_free(&root);
  if (st) zmlx_model_config_free(out);
  return st;
}

zmlx_status zmlx_model_config_load(const char *path, zmlx_model_config *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, ZMC_OP, "out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, ZMC_OP, "path is NULL");
  struct stat sb;
  char *file = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? zmd_join(path, "config.json")
                                                           : strdup(path);
  if (!file) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, ZMC_OP, "out of host memory");
  char *text;
  size_t len;
  zmlx_status s = zmlx_file_read(ZMC_OP, file, ZMD_MAX_JSON_BYTES, &text, &len);
  if (!s) s = zmlx_model_config_parse(file, text, len, out);
  free(text);
  free(file);
  return s;
}

void zmlx_model_config_free(zmlx_model_config *c) {
  if (!c) return;
  for (int i = 0; i < c->quant.n_overrides; i++) free(c->quant.overrides[i].path);
  free(c->quant.overrides);
  free(c->mlp_only_layers);
  free(c->layer_kinds);
  free(c->layer_is_moe);
  memset(c, 0, sizeof *c);
}
