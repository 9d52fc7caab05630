#ifndef ZMLX_TOKENIZER_JSON_H
#define ZMLX_TOKENIZER_JSON_H
/* Internal: typed reads of tokenizer.json members, each failing with
 * CORRUPT_DATA and a message naming the member and its line. */
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

/* "where: expected WANT, got TYPE (line L)". v may be NULL (missing). */
zmlx_status ztok_json_wrong(const char *where, const zj_value *v, const char *want);
/* obj[key] as a string: *out NULL when missing or null; *len may be NULL. */
zmlx_status ztok_json_string(const zj_value *obj, const char *where, const char *key,
                             const char **out, size_t *len);
/* The same, copied (malloc'd; NULL when missing or null). */
zmlx_status ztok_json_dup(const zj_value *obj, const char *where, const char *key, char **out,
                          size_t *len);
/* obj[key] as a boolean; dflt when missing or null. */
zmlx_status ztok_json_bool(const zj_value *obj, const char *where, const char *key, int dflt,
                           int *out);
/* obj[key] as an int in [lo, hi]; dflt when missing or null. */
zmlx_status ztok_json_int(const zj_value *obj, const char *where, const char *key, long long lo,
                          long long hi, long long dflt, long long *out);
/* v as a token id (an integer in [0, 2^31)). */
zmlx_status ztok_json_id(const zj_value *v, const char *where, const char *name, int32_t *out);
/* A pattern object {"String": s} or {"Regex": r}: *is_regex set. */
zmlx_status ztok_json_pattern(const zj_value *obj, const char *where, const char **text,
                              size_t *len, int *is_regex);

#endif
