/* Typed reads of tokenizer.json members. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tok_json.h"

zmlx_status ztok_json_wrong(const char *where, const zj_value *v, const char *want) {
  if (!v) return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s: missing (expected %s)",
                           where, want);
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s (line %d): expected %s, got %s",
                   where, v->line, want, zj_type_name(v->type));
}

static zmlx_status member_wrong(const char *where, const char *key, const zj_value *v,
                                const char *want) {
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s.%s (line %d): expected %s, got %s",
                   where, key, v->line, want, zj_type_name(v->type));
}

zmlx_status ztok_json_string(const zj_value *obj, const char *where, const char *key,
                             const char **out, size_t *len) {
  const zj_value *v = zj_get(obj, key);
  *out = NULL;
  if (len) *len = 0;
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type != ZJ_STRING) return member_wrong(where, key, v, "a string");
  *out = v->string;
  if (len) *len = v->len;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_json_dup(const zj_value *obj, const char *where, const char *key, char **out,
                          size_t *len) {
  const char *s;
  size_t n;
  *out = NULL;
  if (len) *len = 0;
  ZMLX_TRY(ztok_json_string(obj, where, key, &s, &n));
  if (!s) return ZMLX_STATUS_OK;
  char *c = malloc(n + 1);
  if (!c) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  memcpy(c, s, n + 1);
  *out = c;
  if (len) *len = n;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_json_bool(const zj_value *obj, const char *where, const char *key, int dflt,
                           int *out) {
  const zj_value *v = zj_get(obj, key);
  *out = dflt;
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type != ZJ_BOOL) return member_wrong(where, key, v, "true or false");
  *out = v->boolean;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_json_int(const zj_value *obj, const char *where, const char *key, long long lo,
                          long long hi, long long dflt, long long *out) {
  const zj_value *v = zj_get(obj, key);
  *out = dflt;
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type != ZJ_NUMBER || v->number != floor(v->number) || v->number < (double)lo ||
      v->number > (double)hi) {
    char want[96];
    snprintf(want, sizeof want, "an integer in [%lld, %lld]", lo, hi);
    return member_wrong(where, key, v, want);
  }
  *out = (long long)v->number;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_json_id(const zj_value *v, const char *where, const char *name, int32_t *out) {
  if (v->type != ZJ_NUMBER || v->number != floor(v->number) || v->number < 0 ||
      v->number > 2147483646.0)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                     "%s[\"%.80s\"] (line %d): expected an id (an integer in [0, 2^31-1)), got "
                     "%s",
                     where, name, v->line,
                     v->type == ZJ_NUMBER ? "a number out of range" : zj_type_name(v->type));
  *out = (int32_t)v->number;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_json_pattern(const zj_value *obj, const char *where, const char **text,
                              size_t *len, int *is_regex) {
  const zj_value *p = zj_get(obj, "pattern");
  if (!p || p->type != ZJ_OBJECT) {
    char w[96];
    snprintf(w, sizeof w, "%s.pattern", where);
    return ztok_json_wrong(w, p, "{\"String\": ...} or {\"Regex\": ...}");
  }
  const zj_value *s = zj_get(p, "String"), *r = zj_get(p, "Regex");
  const zj_value *v = s ? s : r;
  if (!v || v->type != ZJ_STRING) {
    char w[96];
    snprintf(w, sizeof w, "%s.pattern", where);
    return ztok_json_wrong(w, v ? v : p, "{\"String\": ...} or {\"Regex\": ...} with a string");
  }
  *text = v->string;
  *len = v->len;
  *is_regex = v == r;
  return ZMLX_STATUS_OK;
}
