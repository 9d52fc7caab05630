#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(zmlx_strbuf *sb, size_t extra) {
  if (sb->failed) return 0;
  if (sb->len + extra + 1 <= sb->cap) return 1;
  size_t cap = sb->cap ? sb->cap : 256;
  while (cap < sb->len + extra + 1) cap *= 2;
  char *p = realloc(sb->data, cap);
  if (!p) {
    sb->failed = 1;
    return 0;
  }
  sb->data = p;
  sb->cap = cap;
  return 1;
}

void zmlx_sb_append(zmlx_strbuf *sb, const char *text) {
  size_t n = strlen(text);
  if (!reserve(sb, n)) return;
  memcpy(sb->data + sb->len, text, n + 1);
  sb->len += n;
}

void zmlx_sb_printf(zmlx_strbuf *sb, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n >= 0 && reserve(sb, (size_t)n)) {
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
    sb->len += (size_t)n;
  } else if (n < 0) {
    sb->failed = 1;
  }
  va_end(ap2);
}

char *zmlx_sb_take(zmlx_strbuf *sb) {
  if (sb->failed || !reserve(sb, 0)) {
    zmlx_sb_free(sb);
    return NULL;
  }
  char *p = sb->data;
  sb->data = NULL;
  sb->len = sb->cap = 0;
  return p;
}

void zmlx_sb_free(zmlx_strbuf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}

void zmlx_sb_append_numbered(zmlx_strbuf *sb, const char *text, int skip_from, int skip_to,
                             const char *skip_note) {
  int line = 1;
  for (const char *p = text; *p; line++) {
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (line == skip_from)
      zmlx_sb_printf(sb, "%4d-%d| %s\n", skip_from, skip_to, skip_note);
    else if (line < skip_from || line > skip_to)
      zmlx_sb_printf(sb, "%4d| %.*s\n", line, (int)n, p);
    p += n + (end ? 1 : 0);
  }
}
