#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Large enough for a compile log excerpt plus shapes; longer text is cut
 * with a marker rather than dropped. */
#define ZMLX_ERR_CAP 65536
static _Thread_local char err_text[ZMLX_ERR_CAP];

const char *zmlx_error_last(void) { return err_text; }
void zmlx_error_clear(void) { err_text[0] = 0; }

static void mark_truncated(int n) {
  if (n >= ZMLX_ERR_CAP) memcpy(err_text + ZMLX_ERR_CAP - 16, "\n...(truncated)", 16);
}

zmlx_status zmlx_fail(zmlx_status s, const char *op, const char *fmt, ...) {
  int n = snprintf(err_text, ZMLX_ERR_CAP, "%s: ", op ? op : "zmlx");
  if (n < 0) n = 0;
  if (n < ZMLX_ERR_CAP) {
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(err_text + n, ZMLX_ERR_CAP - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0) n += m;
  }
  mark_truncated(n);
  zmlx_log(ZMLX_LOG_DEBUG, "%s (%s)", err_text, zmlx_status_name(s));
  return s;
}

zmlx_status zmlx_fail_wrap(zmlx_status s, const char *op) {
  char *old = strdup(err_text);
  if (!old) return s;
  zmlx_fail(s, op, "%s", old[0] ? old : zmlx_status_message(s));
  free(old);
  return s;
}

const char *zmlx_env(const char *name) {
  const char *v = getenv(name);
  return (v && v[0]) ? v : NULL;
}

int zmlx_env_flag(const char *name, int dflt) {
  const char *v = zmlx_env(name);
  if (!v) return dflt;
  if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
      !strcasecmp(v, "no"))
    return 0;
  return 1;
}

static int log_level(void) {
  static int level = -1;
  if (level < 0) {
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    const char *v = zmlx_env("ZMLX_LOG");
    int l = ZMLX_LOG_WARN;
    for (int i = 0; v && i < 5; i++)
      if (!strcasecmp(v, names[i])) l = i;
    level = l;
  }
  return level;
}

int zmlx_log_enabled(zmlx_log_level level) { return (int)level <= log_level(); }

void zmlx_log(zmlx_log_level level, const char *fmt, ...) {
  if (!zmlx_log_enabled(level)) return;
  static const char *tags[] = {"error", "warn", "info", "debug", "trace"};
  fprintf(stderr, "[zmlx %s] ", tags[level]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
