#ifndef ZMLX_CORE_STRBUF_H
#define ZMLX_CORE_STRBUF_H
/* A growable string for generated code and messages. On allocation
 * failure it sets `failed` and ignores further appends, so callers check
 * once at the end. */
#include <stddef.h>

#include "core/error.h"

typedef struct zmlx_strbuf {
  char *data;
  size_t len, cap;
  int failed;
} zmlx_strbuf;

void zmlx_sb_append(zmlx_strbuf *sb, const char *text);
void zmlx_sb_printf(zmlx_strbuf *sb, const char *fmt, ...) ZMLX_PRINTF(2, 3);
/* Hand the text over (malloc'd; caller frees); NULL if anything failed. */
char *zmlx_sb_take(zmlx_strbuf *sb);
void zmlx_sb_free(zmlx_strbuf *sb);
/* The text with "%4d| " line numbers, for compile errors; lines
 * skip_from..skip_to (1-based; 0, 0 for none) become one line saying
 * skip_note, and every other line keeps its real number. */
void zmlx_sb_append_numbered(zmlx_strbuf *sb, const char *text, int skip_from, int skip_to,
                             const char *skip_note);

#endif
