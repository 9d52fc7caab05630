#ifndef ZMLX_CORE_JSON_H
#define ZMLX_CORE_JSON_H
/* Internal: the small JSON reader and writer (bench capsules, model files).
 * The reader takes strict RFC 8259 JSON (no comments, no trailing commas,
 * no NaN) into a tree; every error names the line and column. */
#include <stddef.h>

#include "core/strbuf.h"
#include "zmlx/status.h"

typedef enum zj_type { ZJ_NULL, ZJ_BOOL, ZJ_NUMBER, ZJ_STRING, ZJ_ARRAY, ZJ_OBJECT } zj_type;

typedef struct zj_value {
  zj_type type;
  int boolean;
  double number;
  char *string;           /* STRING: UTF-8, NUL-terminated */
  size_t len;             /* STRING: bytes (differs from strlen with ZJ_ALLOW_NUL) */
  int n;                  /* ARRAY, OBJECT: members */
  struct zj_value *items; /* ARRAY, OBJECT: the values */
  char **keys;            /* OBJECT: the keys */
  size_t *key_lens;       /* OBJECT: their lengths in bytes */
  int line, col;          /* where the value starts (1-based) */
} zj_value;

/* Parse text[0..len); on failure CORRUPT_DATA, "line L, column C: ...". */
zmlx_status zj_parse(const char *text, size_t len, zj_value *out);
/* With flags: ZJ_ALLOW_NUL accepts "\u0000" in strings (see len, key_lens). */
enum { ZJ_ALLOW_NUL = 1 };
zmlx_status zj_parse_ex(const char *text, size_t len, int flags, zj_value *out);
void zj_free(zj_value *v);
/* The member named key of an object, or NULL. */
const zj_value *zj_get(const zj_value *obj, const char *key);
const char *zj_type_name(zj_type t);

/* Writing: a JSON string literal, quotes included; a number (null when
 * not finite), exact on reading back and independent of the C locale. */
void zj_write_string(zmlx_strbuf *sb, const char *s);
void zj_write_number(zmlx_strbuf *sb, double v);

#endif
