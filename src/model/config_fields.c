/* Typed reads of config.json fields. JSON null counts as absent, as
 * transformers treats None as "use the default". */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "model/config_internal.h"

const zj_value *zmc_get(const zmc_src *s, const char *key) {
  const zj_value *v = zj_get(s->obj, key);
  return v && v->type != ZJ_NULL ? v : NULL;
}

zmlx_status zmc_bad(const zmc_src *s, const char *key, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP, "%s: field '%s%s': %s", s->label,
                   s->where ? s->where : "", key, why);
}

static zmlx_status as_int(const zmc_src *s, const char *key, const zj_value *v, int64_t *out) {
  if (v->type != ZJ_NUMBER)
    return zmc_bad(s, key, "expected an integer, found %s", zj_type_name(v->type));
  double d = v->number;
  if (d != floor(d) || fabs(d) > 9007199254740992.0)
    return zmc_bad(s, key, "expected an integer, found %g", d);
  *out = (int64_t)d;
  return ZMLX_STATUS_OK;
}

zmlx_status zmc_int_value(const zmc_src *s, const char *key, int index, const zj_value *v,
                          int64_t *out) {
  char name[160];
  snprintf(name, sizeof name, "%s[%d]", key, index);
  return as_int(s, name, v, out);
}

zmlx_status zmc_int(const zmc_src *s, const char *key, int64_t dflt, int64_t *out) {
  const zj_value *v = zmc_get(s, key);
  if (!v) {
    *out = dflt;
    return ZMLX_STATUS_OK;
  }
  return as_int(s, key, v, out);
}

zmlx_status zmc_int_required(const zmc_src *s, const char *key, int64_t *out) {
  const zj_value *v = zmc_get(s, key);
  if (!v)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, ZMC_OP, "%s: missing required field '%s%s'",
                     s->label, s->where ? s->where : "", key);
  return as_int(s, key, v, out);
}

zmlx_status zmc_num(const zmc_src *s, const char *key, double dflt, double *out) {
  const zj_value *v = zmc_get(s, key);
  if (!v) {
    *out = dflt;
    return ZMLX_STATUS_OK;
  }
  if (v->type != ZJ_NUMBER)
    return zmc_bad(s, key, "expected a number, found %s", zj_type_name(v->type));
  *out = v->number;
  return ZMLX_STATUS_OK;
}

zmlx_status zmc_bool(const zmc_src *s, const char *key, int dflt, int *out) {
  const zj_value *v = zmc_get(s, key);
  if (!v) {
    *out = dflt;
    return ZMLX_STATUS_OK;
  }
  if (v->type != ZJ_BOOL)
    return zmc_bad(s, key, "expected true or false, found %s", zj_type_name(v->type));
  *out = v->boolean;
  return ZMLX_STATUS_OK;
}

zmlx_status zmc_str(const zmc_src *s, const char *key, const char *dflt, char *buf, size_t n) {
  const zj_value *v = zmc_get(s, key);
  const char *text = dflt;
  if (v) {
    if (v->type != ZJ_STRING)
      return zmc_bad(s, key, "expected a string, found %s", zj_type_name(v->type));
    text = v->string;
  }
  if (strlen(text) >= n) return zmc_bad(s, key, "longer than %zu bytes", n - 1);
  memcpy(buf, text, strlen(text) + 1);
  return ZMLX_STATUS_OK;
}
