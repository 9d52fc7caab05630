/* Writing JSON values: escaped strings and exact, locale-proof numbers. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

void zj_write_string(zmlx_strbuf *sb, const char *s) {
  zmlx_sb_append(sb, "\"");
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
      case '"': zmlx_sb_append(sb, "\\\""); break;
      case '\\': zmlx_sb_append(sb, "\\\\"); break;
      case '\n': zmlx_sb_append(sb, "\\n"); break;
      case '\r': zmlx_sb_append(sb, "\\r"); break;
      case '\t': zmlx_sb_append(sb, "\\t"); break;
      default:
        if (*p < 0x20) {
          zmlx_sb_printf(sb, "\\u%04x", *p);
        } else {
          char one[2] = {(char)*p, 0};
          zmlx_sb_append(sb, one);
        }
    }
  }
  zmlx_sb_append(sb, "\"");
}

/* printf's text for v with '.' as the decimal point whatever the locale. */
static void format(char *buf, size_t len, int precision, double v) {
  snprintf(buf, len, "%.*g", precision, v);
  char dp = localeconv()->decimal_point[0];
  if (dp && dp != '.') {
    char *p = strchr(buf, dp);
    if (p) *p = '.';
  }
}

static double reread(const char *text) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", text);
  char dp = localeconv()->decimal_point[0];
  char *p = strchr(buf, '.');
  if (p && dp) *p = dp;
  return strtod(buf, NULL);
}

/* The shortest of 15, 16 or 17 significant digits that reads back as v. */
void zj_write_number(zmlx_strbuf *sb, double v) {
  if (!isfinite(v)) {
    zmlx_sb_append(sb, "null");
    return;
  }
  char buf[64];
  for (int precision = 15; precision <= 17; precision++) {
    format(buf, sizeof buf, precision, v);
    if (reread(buf) == v) break;
  }
  zmlx_sb_append(sb, buf);
}
