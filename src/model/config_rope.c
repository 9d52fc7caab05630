/* Rotary embedding parameters: rope_parameters (transformers 5) or
 * rope_theta + rope_scaling (4.x, and the files on the Hub). The scaling
 * types' required fields are those transformers' validation requires. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "model/config_internal.h"

static const char *const ROPE_NAMES[] = {"default", "linear", "dynamic", "yarn", "llama3"};

const char *zmlx_rope_type_name(zmlx_rope_type t) {
  return (unsigned)t < sizeof ROPE_NAMES / sizeof ROPE_NAMES[0] ? ROPE_NAMES[t] : "?";
}

/* The object holding the rope fields (or NULL) and its name for errors. */
static zmlx_status rope_object(const zmc_src *root, const zj_value **obj, const char **where) {
  const char *key = zmc_get(root, "rope_parameters") ? "rope_parameters" : "rope_scaling";
  const zj_value *v = zmc_get(root, key);
  *obj = NULL;
  *where = key;
  if (!v) return ZMLX_STATUS_OK;
  if (v->type != ZJ_OBJECT)
    return zmc_bad(root, key, "expected an object, found %s", zj_type_name(v->type));
  /* Per layer type (lfm2, gemma-style): the full-attention layers' set. */
  const zj_value *full = zj_get(v, "full_attention");
  if (!zj_get(v, "rope_type") && !zj_get(v, "type") && !zj_get(v, "rope_theta") && full &&
      full->type == ZJ_OBJECT) {
    v = full;
    *where = "rope_parameters.full_attention";
  }
  *obj = v;
  return ZMLX_STATUS_OK;
}

zmlx_status zmc_rope(const zmc_src *root, zmlx_model_config *c, double default_theta) {
  zmlx_rope_config *r = &c->rope;
  const zj_value *obj;
  const char *where;
  ZMLX_TRY(rope_object(root, &obj, &where));
  char prefix[64];
  snprintf(prefix, sizeof prefix, "%s.", where);
  zmc_src s = {root->label, obj, prefix};
  static const zj_value empty = {.type = ZJ_OBJECT};
  if (!obj) s.obj = &empty;
  if (!obj && c->family == ZMLX_MODEL_FAMILY_GPT_OSS) {
    /* GptOssConfig's own default when the file has no rope fields. */
    ZMLX_TRY(zmc_num(root, "rope_theta", default_theta, &r->theta));
    r->type = ZMLX_ROPE_TYPE_YARN;
    r->factor = 32;
    r->beta_fast = 32;
    r->beta_slow = 1;
    r->truncate = 0;
    r->original_max_position_embeddings = 4096;
    r->low_freq_factor = 1;
    r->high_freq_factor = 4;
    r->partial_rotary_factor = 1;
    r->rotary_dim = c->head_dim;
    return ZMLX_STATUS_OK;
  }

  const char *theta_key = c->family == ZMLX_MODEL_FAMILY_LFM2 && zmc_get(root, "theta")
                              ? "theta" : "rope_theta";
  ZMLX_TRY(zmc_num(root, theta_key, default_theta, &r->theta));
  ZMLX_TRY(zmc_num(&s, "rope_theta", r->theta, &r->theta));
  if (!(r->theta > 1)) return zmc_bad(root, "rope_theta", "must be greater than 1");

  char type[32];
  ZMLX_TRY(zmc_str(&s, zmc_get(&s, "rope_type") ? "rope_type" : "type", "default", type,
                   sizeof type));
  int t = -1;
  for (int i = 0; i < (int)(sizeof ROPE_NAMES / sizeof ROPE_NAMES[0]); i++)
    if (!strcmp(type, ROPE_NAMES[i])) t = i;
  if (t < 0)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, ZMC_OP,
                     "%s: field '%srope_type': '%s' is not supported (default, linear, dynamic, "
                     "yarn, llama3)",
                     root->label, prefix, type);
  r->type = (zmlx_rope_type)t;

  int needs_factor = r->type != ZMLX_ROPE_TYPE_DEFAULT;
  if (needs_factor && !zmc_get(&s, "factor"))
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP,
                     "%s: missing required field '%sfactor' (rope_type %s)", root->label, prefix,
                     type);
  ZMLX_TRY(zmc_num(&s, "factor", 1.0, &r->factor));
  if (needs_factor && !(r->factor >= 1)) return zmc_bad(&s, "factor", "must be at least 1");
  if (r->type == ZMLX_ROPE_TYPE_LLAMA3) {
    static const char *const need[] = {"low_freq_factor", "high_freq_factor",
                                       "original_max_position_embeddings"};
    for (int i = 0; i < 3; i++)
      if (!zmc_get(&s, need[i]))
        return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP,
                         "%s: missing required field '%s%s' (rope_type llama3)", root->label,
                         prefix, need[i]);
  }
  ZMLX_TRY(zmc_int(&s, "original_max_position_embeddings", 0,
                   &r->original_max_position_embeddings));
  if (r->original_max_position_embeddings < 0)
    return zmc_bad(&s, "original_max_position_embeddings", "is negative");
  ZMLX_TRY(zmc_num(&s, "low_freq_factor", 1.0, &r->low_freq_factor));
  ZMLX_TRY(zmc_num(&s, "high_freq_factor", 4.0, &r->high_freq_factor));
  if (r->type == ZMLX_ROPE_TYPE_LLAMA3 && !(r->high_freq_factor > r->low_freq_factor))
    return zmc_bad(&s, "high_freq_factor", "must be greater than low_freq_factor");
  ZMLX_TRY(zmc_num(&s, "beta_fast", 32.0, &r->beta_fast));
  ZMLX_TRY(zmc_num(&s, "beta_slow", 1.0, &r->beta_slow));
  r->has_attention_factor = zmc_get(&s, "attention_factor") != NULL;
  ZMLX_TRY(zmc_num(&s, "attention_factor", 0.0, &r->attention_factor));
  ZMLX_TRY(zmc_num(&s, "mscale", 0.0, &r->mscale));
  ZMLX_TRY(zmc_num(&s, "mscale_all_dim", 0.0, &r->mscale_all_dim));
  ZMLX_TRY(zmc_bool(&s, "truncate", 1, &r->truncate));

  ZMLX_TRY(zmc_num(root, "partial_rotary_factor", 1.0, &r->partial_rotary_factor));
  ZMLX_TRY(zmc_num(&s, "partial_rotary_factor", r->partial_rotary_factor,
                   &r->partial_rotary_factor));
  if (!(r->partial_rotary_factor > 0 && r->partial_rotary_factor <= 1))
    return zmc_bad(root, "partial_rotary_factor", "must be in (0, 1]");
  r->rotary_dim = (int64_t)((double)c->head_dim * r->partial_rotary_factor);
  if (r->rotary_dim < 2 || r->rotary_dim % 2)
    return zmc_bad(root, "partial_rotary_factor",
                   "gives %lld rotary dimensions of head_dim %lld (must be even and >= 2)",
                   (long long)r->rotary_dim, (long long)c->head_dim);
  return ZMLX_STATUS_OK;
}
