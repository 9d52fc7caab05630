#ifndef ZMLX_CORE_ERROR_H
#define ZMLX_CORE_ERROR_H
/* Internal: setting the thread's last error, and logging. */
#include <stdarg.h>
#include "zmlx/status.h"

#if defined(__GNUC__)
#define ZMLX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ZMLX_PRINTF(f, a)
#endif

/* Set the thread's last-error text ("op: details") and return s, so that
 * `return zmlx_fail(ZMLX_STATUS_X, "op", "...", ...)` reads naturally. */
zmlx_status zmlx_fail(zmlx_status s, const char *op, const char *fmt, ...)
    ZMLX_PRINTF(3, 4);
/* Prefix the current last-error text with "op: " (for errors passed up). */
zmlx_status zmlx_fail_wrap(zmlx_status s, const char *op);

/* Bail out on a failing status, passing it up unchanged. */
#define ZMLX_TRY(expr)                              \
  do {                                              \
    zmlx_status zmlx_try_s_ = (expr);               \
    if (zmlx_try_s_ != ZMLX_STATUS_OK) return zmlx_try_s_; \
  } while (0)

typedef enum zmlx_log_level {
  ZMLX_LOG_ERROR = 0,
  ZMLX_LOG_WARN,
  ZMLX_LOG_INFO,
  ZMLX_LOG_DEBUG,
  ZMLX_LOG_TRACE
} zmlx_log_level;

/* $ZMLX_LOG: error|warn|info|debug|trace (default warn). To stderr. */
int zmlx_log_enabled(zmlx_log_level level);
void zmlx_log(zmlx_log_level level, const char *fmt, ...) ZMLX_PRINTF(2, 3);

/* Environment helpers: NULL/"" when unset. */
const char *zmlx_env(const char *name);
/* 0 for "0", "false", "off", "no"; 1 otherwise; dflt when unset. */
int zmlx_env_flag(const char *name, int dflt);

#endif
