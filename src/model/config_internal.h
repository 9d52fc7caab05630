#ifndef ZMLX_MODEL_CONFIG_INTERNAL_H
#define ZMLX_MODEL_CONFIG_INTERNAL_H
/* Internal: typed reads of config.json fields with errors that name the
 * file and the field, and the parts of the config parser. */
#include "core/json.h"
#include "zmlx/model_config.h"

#define ZMC_OP "model_config"

/* Where fields come from: the file's label and an object in it; `where`
 * prefixes field names in errors ("rope_parameters."). */
typedef struct zmc_src {
  const char *label;
  const zj_value *obj;
  const char *where;
} zmc_src;

/* The member, or NULL when absent or JSON null. */
const zj_value *zmc_get(const zmc_src *s, const char *key);
/* Absent or null: *out = dflt. Wrong type: CORRUPT_DATA naming the field. */
zmlx_status zmc_int(const zmc_src *s, const char *key, int64_t dflt, int64_t *out);
zmlx_status zmc_num(const zmc_src *s, const char *key, double dflt, double *out);
zmlx_status zmc_bool(const zmc_src *s, const char *key, int dflt, int *out);
zmlx_status zmc_str(const zmc_src *s, const char *key, const char *dflt, char *buf, size_t n);
/* As zmc_int, but absent or null is an error. */
zmlx_status zmc_int_required(const zmc_src *s, const char *key, int64_t *out);
/* An error about field key ("expected ..., found ..."). */
zmlx_status zmc_bad(const zmc_src *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A value that must be an integer, for array members (field names key[i]). */
zmlx_status zmc_int_value(const zmc_src *s, const char *key, int index, const zj_value *v,
                          int64_t *out);

/* Parts of the parser (config_rope.c, config_layers.c, quant_config.c). */
zmlx_status zmc_rope(const zmc_src *root, zmlx_model_config *c, double default_theta);
zmlx_status zmc_layers(const zmc_src *root, zmlx_model_config *c);
zmlx_status zmc_quant(const zmc_src *root, zmlx_model_config *c);

#endif
