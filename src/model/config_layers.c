/* Per-layer structure: attention kind (full, sliding window, lfm2
 * convolution) and whether the MLP is a mixture of experts. layer_types
 * wins when the file has it; otherwise each family's transformers rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/config_internal.h"

static const char *const KIND_NAMES[] = {"full_attention", "sliding_attention", "conv"};

const char *zmlx_layer_kind_name(zmlx_layer_kind k) {
  return (unsigned)k < 3 ? KIND_NAMES[k] : "?";
}

static zmlx_status sliding(const zmc_src *s, zmlx_model_config *c) {
  int use = 1;
  switch (c->family) {
    case ZMLX_MODEL_FAMILY_QWEN2:
    case ZMLX_MODEL_FAMILY_QWEN3:
    case ZMLX_MODEL_FAMILY_QWEN3_MOE:
      ZMLX_TRY(zmc_bool(s, "use_sliding_window", 0, &use));
      ZMLX_TRY(zmc_int(s, "sliding_window", 4096, &c->sliding_window));
      if (!zmc_get(s, "sliding_window")) c->sliding_window = zj_get(s->obj, "sliding_window") ? 0 : 4096;
      if (!use) c->sliding_window = 0;
      break;
    case ZMLX_MODEL_FAMILY_MIXTRAL:
      ZMLX_TRY(zmc_int(s, "sliding_window", 0, &c->sliding_window));
      break;
    case ZMLX_MODEL_FAMILY_GPT_OSS:
      ZMLX_TRY(zmc_int(s, "sliding_window", 128, &c->sliding_window));
      if (zj_get(s->obj, "sliding_window") && !zmc_get(s, "sliding_window")) c->sliding_window = 0;
      break;
    default:
      c->sliding_window = 0;
  }
  if (c->sliding_window < 0) return zmc_bad(s, "sliding_window", "is negative");
  return ZMLX_STATUS_OK;
}

static zmlx_status from_layer_types(const zmc_src *s, zmlx_model_config *c, const zj_value *lt) {
  if (lt->type != ZJ_ARRAY)
    return zmc_bad(s, "layer_types", "expected a list of strings, found %s",
                   zj_type_name(lt->type));
  if (lt->n != c->num_hidden_layers)
    return zmc_bad(s, "layer_types", "%d entries for %lld layers", lt->n,
                   (long long)c->num_hidden_layers);
  int lfm2 = c->family == ZMLX_MODEL_FAMILY_LFM2 || c->family == ZMLX_MODEL_FAMILY_LFM2_MOE;
  for (int i = 0; i < lt->n; i++) {
    const zj_value *v = &lt->items[i];
    char name[40];
    snprintf(name, sizeof name, "layer_types[%d]", i);
    if (v->type != ZJ_STRING)
      return zmc_bad(s, name, "expected a string, found %s", zj_type_name(v->type));
    const char *t = !strcmp(v->string, "attention") ? "full_attention" : v->string;
    int k = -1;
    for (int j = 0; j < 3; j++)
      if (!strcmp(t, KIND_NAMES[j])) k = j;
    if (k < 0 || (k == ZMLX_LAYER_KIND_CONV && !lfm2))
      return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, ZMC_OP,
                       "%s: field '%s': layer type '%.60s' is not one ZMLX runs for %s "
                       "(full_attention, sliding_attention%s)",
                       s->label, name, v->string, c->model_type, lfm2 ? ", conv" : "");
    c->layer_kinds[i] = (zmlx_layer_kind)k;
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status default_kinds(const zmc_src *s, zmlx_model_config *c) {
  int64_t n = c->num_hidden_layers, max_window = 28;
  switch (c->family) {
    case ZMLX_MODEL_FAMILY_QWEN2:
    case ZMLX_MODEL_FAMILY_QWEN3:
    case ZMLX_MODEL_FAMILY_QWEN3_MOE:
      ZMLX_TRY(zmc_int(s, "max_window_layers", 28, &max_window));
      for (int64_t i = 0; i < n; i++)
        c->layer_kinds[i] = c->sliding_window && i >= max_window
                                ? ZMLX_LAYER_KIND_SLIDING_ATTENTION : ZMLX_LAYER_KIND_FULL_ATTENTION;
      break;
    case ZMLX_MODEL_FAMILY_MIXTRAL:
      for (int64_t i = 0; i < n; i++)
        c->layer_kinds[i] = c->sliding_window ? ZMLX_LAYER_KIND_SLIDING_ATTENTION
                                              : ZMLX_LAYER_KIND_FULL_ATTENTION;
      break;
    case ZMLX_MODEL_FAMILY_GPT_OSS:
      for (int64_t i = 0; i < n; i++)
        c->layer_kinds[i] = (i + 1) % 2 ? ZMLX_LAYER_KIND_SLIDING_ATTENTION
                                        : ZMLX_LAYER_KIND_FULL_ATTENTION;
      break;
    case ZMLX_MODEL_FAMILY_LFM2:
    case ZMLX_MODEL_FAMILY_LFM2_MOE: {
      const zj_value *idx = zmc_get(s, "full_attn_idxs");
      if (idx && idx->type != ZJ_ARRAY)
        return zmc_bad(s, "full_attn_idxs", "expected a list of layer indices, found %s",
                       zj_type_name(idx->type));
      for (int64_t i = 0; i < n; i++)
        c->layer_kinds[i] = idx ? ZMLX_LAYER_KIND_CONV : ZMLX_LAYER_KIND_FULL_ATTENTION;
      for (int j = 0; idx && j < idx->n; j++) {
        int64_t i;
        ZMLX_TRY(zmc_int_value(s, "full_attn_idxs", j, &idx->items[j], &i));
        if (i < 0 || i >= n)
          return zmc_bad(s, "full_attn_idxs", "layer %lld is outside 0..%lld", (long long)i,
                         (long long)n - 1);
        c->layer_kinds[i] = ZMLX_LAYER_KIND_FULL_ATTENTION;
      }
      break;
    }
    default:
      break; /* calloc'd: full attention */
  }
  return ZMLX_STATUS_OK;
}

static void moe_layers(zmlx_model_config *c) {
  for (int64_t i = 0; i < c->num_hidden_layers; i++) {
    int m = 0;
    switch (c->family) {
      case ZMLX_MODEL_FAMILY_QWEN3_MOE:
        m = c->num_experts > 0 && (i + 1) % c->decoder_sparse_step == 0;
        for (int j = 0; j < c->n_mlp_only_layers; j++)
          if (c->mlp_only_layers[j] == i) m = 0;
        break;
      case ZMLX_MODEL_FAMILY_MIXTRAL:
      case ZMLX_MODEL_FAMILY_GPT_OSS:
        m = 1;
        break;
      case ZMLX_MODEL_FAMILY_LFM2_MOE:
        m = i >= c->num_dense_layers;
        break;
      default:
        break;
    }
    c->layer_is_moe[i] = (uint8_t)m;
  }
}

zmlx_status zmc_layers(const zmc_src *s, zmlx_model_config *c) {
  size_t n = (size_t)c->num_hidden_layers;
  c->layer_kinds = calloc(n, sizeof *c->layer_kinds);
  c->layer_is_moe = calloc(n, sizeof *c->layer_is_moe);
  if (!c->layer_kinds || !c->layer_is_moe)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, ZMC_OP, "out of host memory");
  ZMLX_TRY(sliding(s, c));
  const zj_value *lt = zmc_get(s, "layer_types");
  ZMLX_TRY(lt ? from_layer_types(s, c, lt) : default_kinds(s, c));
  for (size_t i = 0; i < n; i++)
    if (c->layer_kinds[i] == ZMLX_LAYER_KIND_SLIDING_ATTENTION && !c->sliding_window)
      return zmc_bad(s, "layer_types", "layer %zu slides but the config has no sliding window",
                     i);
  moe_layers(c);
  return ZMLX_STATUS_OK;
}
