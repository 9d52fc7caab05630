/* libFuzzer target: config.json text through the model description
 * parser. An accepted config must be internally consistent (per-layer
 * arrays present, sizes positive, heads divisible); a refused one must
 * leave the struct empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zmlx/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  zmlx_model_config c;
  zmlx_status s = zmlx_model_config_parse("fuzz.json", (const char *)data, size, &c);
  if (s != ZMLX_STATUS_OK) {
    if (c.layer_kinds || c.layer_is_moe || c.quant.overrides || c.mlp_only_layers) abort();
    return 0;
  }
  if (!c.layer_kinds || !c.layer_is_moe || c.num_hidden_layers <= 0 || c.hidden_size <= 0 ||
      c.head_dim <= 0 || c.num_key_value_heads <= 0 ||
      c.num_attention_heads % c.num_key_value_heads || c.rope.rotary_dim <= 0)
    abort();
  for (int64_t i = 0; i < c.num_hidden_layers; i++) {
    if ((unsigned)c.layer_kinds[i] > ZMLX_LAYER_KIND_CONV || c.layer_is_moe[i] > 1) abort();
    if (c.layer_kinds[i] == ZMLX_LAYER_KIND_SLIDING_ATTENTION && !c.sliding_window) abort();
  }
  zmlx_quant_params p;
  for (int i = 0; i < c.quant.n_overrides; i++)
    if (zmlx_quant_params_for(&c.quant, NULL, c.quant.overrides[i].path, &p) != ZMLX_STATUS_OK)
      abort();
  if (zmlx_quant_params_for(&c.quant, NULL, "model.layers.0.mlp.up_proj", &p) != ZMLX_STATUS_OK)
    abort();
  zmlx_model_config_free(&c);
  return 0;
}
