/* The "quantization" block mlx-lm writes into config.json: default bits
 * and group_size (and mode), then per-module entries that override them
 * ({"bits":8,"group_size":64}) or leave a module unquantized (false). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/config_internal.h"
#include "model/st_internal.h"

static int is_param_key(const char *k) {
  return !strcmp(k, "bits") || !strcmp(k, "group_size") || !strcmp(k, "mode");
}

static zmlx_status read_params(const zmc_src *s, const zmlx_quant_params *dflt,
                               zmlx_quant_params *p) {
  int64_t bits, gs;
  if (dflt) {
    ZMLX_TRY(zmc_int(s, "bits", dflt->bits, &bits));
    ZMLX_TRY(zmc_int(s, "group_size", dflt->group_size, &gs));
  } else {
    ZMLX_TRY(zmc_int_required(s, "bits", &bits));
    ZMLX_TRY(zmc_int_required(s, "group_size", &gs));
  }
  ZMLX_TRY(zmc_str(s, "mode", dflt ? dflt->mode : "affine", p->mode, sizeof p->mode));
  if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8)
    return zmc_bad(s, "bits", "%lld is not one of 2, 3, 4, 5, 6, 8", (long long)bits);
  if (gs != 16 && gs != 32 && gs != 64 && gs != 128)
    return zmc_bad(s, "group_size", "%lld is not one of 16, 32, 64, 128", (long long)gs);
  static const char *const modes[] = {"affine", "mxfp4", "nvfp4", "mxfp8"};
  int known = 0;
  for (int i = 0; i < 4; i++) known |= !strcmp(p->mode, modes[i]);
  if (!known)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, ZMC_OP,
                     "%s: field '%smode': '%s' is not a quantization mode ZMLX knows (affine, "
                     "mxfp4, nvfp4, mxfp8)",
                     s->label, s->where ? s->where : "", p->mode);
  p->quantized = 1;
  p->bits = (int)bits;
  p->group_size = (int)gs;
  return ZMLX_STATUS_OK;
}

zmlx_status zmc_quant(const zmc_src *root, zmlx_model_config *c) {
  const zj_value *qc = zmc_get(root, "quantization_config");
  if (qc && qc->type == ZJ_OBJECT) {
    zmc_src s = {root->label, qc, "quantization_config."};
    ZMLX_TRY(zmc_str(&s, "quant_method", "", c->quant_method, sizeof c->quant_method));
  }
  const char *key = "quantization";
  const zj_value *q = zmc_get(root, key);
  if (!q && qc && qc->type == ZJ_OBJECT && zj_get(qc, "bits") && zj_get(qc, "group_size"))
    q = qc, key = "quantization_config"; /* mlx-lm writes the block under both names */
  if (!q) return ZMLX_STATUS_OK;
  if (q->type != ZJ_OBJECT)
    return zmc_bad(root, key, "expected an object, found %s", zj_type_name(q->type));
  char where[48];
  snprintf(where, sizeof where, "%s.", key);
  zmc_src s = {root->label, q, where};
  zmlx_quant_config *out = &c->quant;
  ZMLX_TRY(read_params(&s, NULL, &out->defaults));
  out->present = 1;
  int n = 0;
  for (int i = 0; i < q->n; i++) n += !is_param_key(q->keys[i]) && strcmp(q->keys[i], "quant_method");
  out->overrides = calloc((size_t)(n ? n : 1), sizeof *out->overrides);
  if (!out->overrides) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, ZMC_OP, "out of host memory");
  for (int i = 0; i < q->n; i++) {
    const char *k = q->keys[i];
    const zj_value *v = &q->items[i];
    if (is_param_key(k) || !strcmp(k, "quant_method")) continue;
    for (int j = 0; j < out->n_overrides; j++)
      if (!strcmp(out->overrides[j].path, k)) return zmc_bad(&s, k, "appears twice");
    zmlx_quant_override *o = &out->overrides[out->n_overrides];
    if (!(o->path = strdup(k))) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, ZMC_OP, "out of host memory");
    out->n_overrides++;
    if (v->type == ZJ_BOOL) {
      o->params = out->defaults;
      o->params.quantized = v->boolean;
    } else if (v->type == ZJ_OBJECT) {
      char w[300];
      snprintf(w, sizeof w, "%s%.200s.", where, k);
      zmc_src os = {root->label, v, w};
      ZMLX_TRY(read_params(&os, &out->defaults, &o->params));
    } else {
      return zmc_bad(&s, k, "expected an object with bits and group_size, or false; found %s",
                     zj_type_name(v->type));
    }
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_quant_params_for(const zmlx_quant_config *q, const zmlx_safetensors *st,
                                  const char *path, zmlx_quant_params *out) {
  if (!q || !path || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "quant_params_for", "NULL argument");
  memset(out, 0, sizeof *out);
  for (int i = 0; i < q->n_overrides; i++)
    if (!strcmp(q->overrides[i].path, path)) {
      *out = q->overrides[i].params;
      return ZMLX_STATUS_OK;
    }
  if (!q->present) return ZMLX_STATUS_OK;
  *out = q->defaults;
  if (st) {
    size_t n = strlen(path);
    char *scales = malloc(n + sizeof ".scales");
    if (!scales) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "quant_params_for", "out of host memory");
    memcpy(scales, path, n);
    memcpy(scales + n, ".scales", sizeof ".scales");
    out->quantized = zmlx_safetensors_has(st, scales);
    free(scales);
  }
  return ZMLX_STATUS_OK;
}
