/* A strict JSON reader into a tree: recursive descent with a depth limit,
 * every error with its line and column. Input is untrusted (capsules come
 * from other programs), so every path is bounded and nothing aborts. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/error.h"

enum { MAX_DEPTH = 64, MAX_NUMBER_CHARS = 400 };

typedef struct reader {
  const char *p, *end;
  const char *line_start;
  int line;
  int depth;
  int flags;
} reader;

static int col_of(const reader *r, const char *at) { return (int)(at - r->line_start) + 1; }

static zmlx_status fail_at(const reader *r, const char *at, const char *what) {
  const char *shown = at < r->end ? at : NULL;
  char near[16] = "end of input";
  if (shown) {
    unsigned char ch = (unsigned char)*shown;
    if (ch >= 0x20 && ch < 0x7f)
      snprintf(near, sizeof near, "'%c'", ch);
    else
      snprintf(near, sizeof near, "byte 0x%02x", ch);
  }
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "json", "line %d, column %d: %s (at %s)", r->line,
                   col_of(r, at), what, near);
}

static void skip_space(reader *r) {
  while (r->p < r->end) {
    char c = *r->p;
    if (c == '\n') {
      r->line++;
      r->line_start = r->p + 1;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return;
    }
    r->p++;
  }
}

static int match_word(reader *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return 0;
  r->p += n;
  return 1;
}

/* ---- strings ------------------------------------------------------------- */

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    v = v * 16 + (unsigned)d;
  }
  *out = v;
  return 1;
}

/* Appends n bytes; strbuf's own append stops at a NUL, and "\u0000" may
 * put one in a string. */
static void put_bytes(zmlx_strbuf *sb, const char *p, size_t n) {
  if (sb->failed) return;
  if (sb->len + n + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + n + 1) cap *= 2;
    char *q = realloc(sb->data, cap);
    if (!q) {
      sb->failed = 1;
      return;
    }
    sb->data = q;
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, p, n);
  sb->len += n;
  sb->data[sb->len] = 0;
}

static void put_utf8(zmlx_strbuf *sb, unsigned cp) {
  char b[5] = {0};
  if (cp < 0x80) {
    b[0] = (char)cp;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
  } else {
    b[0] = (char)(0xf0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
  }
  put_bytes(sb, b, cp == 0 ? 1 : strlen(b));
}

/* After a backslash: one escape (\uXXXX with its low surrogate) into sb. */
static zmlx_status read_escape(reader *r, zmlx_strbuf *sb) {
  const char *at = r->p - 1;
  if (r->p >= r->end) return fail_at(r, r->p, "unfinished escape in a string");
  char c = *r->p++;
  const char *simple = strchr("\"\\/bfnrt", c);
  if (c && simple) {
    static const char repl[] = "\"\\/\b\f\n\r\t";
    put_bytes(sb, &repl[simple - "\"\\/bfnrt"], 1);
    return ZMLX_STATUS_OK;
  }
  unsigned cp, lo;
  if (c != 'u' || r->end - r->p < 4 || !hex4(r->p, &cp))
    return fail_at(r, at, "invalid escape in a string");
  r->p += 4;
  if (cp >= 0xdc00 && cp <= 0xdfff) return fail_at(r, at, "lone low surrogate in a string");
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || !hex4(r->p + 2, &lo) ||
        lo < 0xdc00 || lo > 0xdfff)
      return fail_at(r, at, "high surrogate without its low surrogate");
    r->p += 6;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (cp == 0 && !(r->flags & ZJ_ALLOW_NUL)) return fail_at(r, at, "\\u0000 in a string");
  put_utf8(sb, cp);
  return ZMLX_STATUS_OK;
}

/* At the opening quote; *out is malloc'd, *n_out its length. */
static zmlx_status read_string(reader *r, char **out, size_t *n_out) {
  zmlx_strbuf sb = {0};
  r->p++;
  /* The common case, no escape: one allocation of the exact size. */
  const char *q = r->p;
  while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
  if (q < r->end && *q == '"') {
    size_t n = (size_t)(q - r->p);
    char *s = malloc(n + 1);
    if (!s) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "json", "out of host memory");
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p = q + 1;
    *out = s;
    *n_out = n;
    return ZMLX_STATUS_OK;
  }
  put_bytes(&sb, "", 0);
  for (;;) {
    const char *run = r->p;
    while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20) r->p++;
    if (r->p > run) put_bytes(&sb, run, (size_t)(r->p - run));
    if (r->p >= r->end) {
      zmlx_sb_free(&sb);
      return fail_at(r, r->p, "unterminated string");
    }
    char c = *r->p++;
    if (c == '"') break;
    zmlx_status s = c == '\\' ? read_escape(r, &sb)
                              : fail_at(r, r->p - 1, "control character inside a string");
    if (s) {
      zmlx_sb_free(&sb);
      return s;
    }
  }
  *n_out = sb.len;
  *out = zmlx_sb_take(&sb);
  return *out ? ZMLX_STATUS_OK
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "json", "out of host memory");
}

/* ---- numbers ------------------------------------------------------------- */

static const char *digits(const char *p, const char *end) {
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p;
}

/* JSON's grammar first, then strtod on a copy whose '.' is the C library's
 * decimal point, so a program that set a locale reads the same numbers. */
static zmlx_status read_number(reader *r, double *out) {
  const char *start = r->p, *p = r->p, *end = r->end;
  if (p < end && *p == '-') p++;
  const char *d = digits(p, end);
  if (d == p) return fail_at(r, start, "invalid value");
  if (d - p > 1 && *p == '0') return fail_at(r, start, "number with a leading zero");
  p = d;
  if (p < end && *p == '.') {
    d = digits(p + 1, end);
    if (d == p + 1) return fail_at(r, start, "number without digits after '.'");
    p = d;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    d = digits(p, end);
    if (d == p) return fail_at(r, start, "number without digits in its exponent");
    p = d;
  }
  if (p - start > MAX_NUMBER_CHARS) return fail_at(r, start, "number too long");
  char buf[MAX_NUMBER_CHARS + 1];
  size_t n = (size_t)(p - start);
  memcpy(buf, start, n);
  buf[n] = 0;
  char dp = localeconv()->decimal_point[0];
  char *dot = strchr(buf, '.');
  if (dot && dp) *dot = dp;
  errno = 0;
  double v = strtod(buf, NULL);
  if (!isfinite(v)) return fail_at(r, start, "number out of range");
  *out = v;
  r->p = p;
  return ZMLX_STATUS_OK;
}

/* ---- values -------------------------------------------------------------- */

static zmlx_status read_value(reader *r, zj_value *v);

static zmlx_status grow(zj_value *v, int *cap, int with_keys) {
  if (v->n < *cap) return ZMLX_STATUS_OK;
  if (*cap > (1 << 29)) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "json", "too many members");
  int nc = *cap ? *cap * 2 : 8;
  zj_value *items = realloc(v->items, (size_t)nc * sizeof *items);
  if (items) v->items = items;
  char **keys = with_keys ? realloc(v->keys, (size_t)nc * sizeof *keys) : NULL;
  if (keys) v->keys = keys;
  size_t *key_lens = with_keys ? realloc(v->key_lens, (size_t)nc * sizeof *key_lens) : NULL;
  if (key_lens) v->key_lens = key_lens;
  if (!items || (with_keys && (!keys || !key_lens)))
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "json", "out of host memory");
  *cap = nc;
  return ZMLX_STATUS_OK;
}

/* Arrays and objects: members separated by commas up to the closer. */
static zmlx_status read_members(reader *r, zj_value *v, int is_object) {
  const char closer = is_object ? '}' : ']';
  int cap = 0;
  r->p++;
  skip_space(r);
  if (r->p < r->end && *r->p == closer) {
    r->p++;
    return ZMLX_STATUS_OK;
  }
  for (;;) {
    ZMLX_TRY(grow(v, &cap, is_object));
    char *key = NULL;
    size_t key_len = 0;
    if (is_object) {
      skip_space(r);
      if (r->p >= r->end || *r->p != '"') return fail_at(r, r->p, "expected a key string");
      ZMLX_TRY(read_string(r, &key, &key_len));
      skip_space(r);
      if (r->p >= r->end || *r->p != ':') {
        free(key);
        return fail_at(r, r->p, "expected ':' after a key");
      }
      r->p++;
      v->keys[v->n] = key;
      v->key_lens[v->n] = key_len;
    }
    zj_value *item = &v->items[v->n];
    memset(item, 0, sizeof *item);
    v->n++; /* counted now, so zj_free releases a half-read member */
    ZMLX_TRY(read_value(r, item));
    skip_space(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == closer) {
      r->p++;
      return ZMLX_STATUS_OK;
    }
    return fail_at(r, r->p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static zmlx_status read_value(reader *r, zj_value *v) {
  skip_space(r);
  v->line = r->line;
  v->col = col_of(r, r->p);
  if (r->p >= r->end) return fail_at(r, r->p, "expected a value");
  char c = *r->p;
  if (c == '{' || c == '[') {
    if (r->depth >= MAX_DEPTH) return fail_at(r, r->p, "nested too deeply");
    r->depth++;
    v->type = c == '{' ? ZJ_OBJECT : ZJ_ARRAY;
    zmlx_status s = read_members(r, v, c == '{');
    r->depth--;
    return s;
  }
  if (c == '"') {
    v->type = ZJ_STRING;
    return read_string(r, &v->string, &v->len);
  }
  if (match_word(r, "true") || match_word(r, "false")) {
    v->type = ZJ_BOOL;
    v->boolean = c == 't';
    return ZMLX_STATUS_OK;
  }
  if (match_word(r, "null")) {
    v->type = ZJ_NULL;
    return ZMLX_STATUS_OK;
  }
  v->type = ZJ_NUMBER;
  return read_number(r, &v->number);
}

zmlx_status zj_parse(const char *text, size_t len, zj_value *out) {
  return zj_parse_ex(text, len, 0, out);
}

zmlx_status zj_parse_ex(const char *text, size_t len, int flags, zj_value *out) {
  if (!text || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "json", "NULL argument");
  memset(out, 0, sizeof *out);
  reader r = {text, text + len, text, 1, 0, flags};
  zmlx_status s = read_value(&r, out);
  if (!s) {
    skip_space(&r);
    if (r.p < r.end) s = fail_at(&r, r.p, "unexpected text after the document");
  }
  if (s) zj_free(out);
  return s;
}

void zj_free(zj_value *v) {
  if (!v) return;
  for (int i = 0; i < v->n; i++) {
    zj_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->key_lens);
  free(v->string);
  memset(v, 0, sizeof *v);
}

const zj_value *zj_get(const zj_value *obj, const char *key) {
  if (!obj || obj->type != ZJ_OBJECT) return NULL;
  for (int i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}

const char *zj_type_name(zj_type t) {
  static const char *names[] = {"null", "a boolean", "a number", "a string", "an array",
                                "an object"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}
