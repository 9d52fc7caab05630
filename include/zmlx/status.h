#ifndef ZMLX_STATUS_H
#define ZMLX_STATUS_H
/* Status codes and error text.
 *
 * Every fallible ZMLX call returns a zmlx_status. On failure the calling
 * thread's last-error text says what went wrong, naming the op, the shapes,
 * dtypes and device involved. ZMLX never aborts or exits on a user's error. */
#ifdef __cplusplus
extern "C" {
#endif

typedef enum zmlx_status {
#define X(name, value, msg) ZMLX_STATUS_##name = value,
#include "zmlx/status_list.h"
#undef X
} zmlx_status;

/* "ZMLX_STATUS_OUT_OF_MEMORY" etc.; a static string, never NULL. */
const char *zmlx_status_name(zmlx_status s);
/* A one-line generic description of the code; static, never NULL. */
const char *zmlx_status_message(zmlx_status s);
/* The detailed text of the last failure on this thread ("" if none).
 * Valid until the next ZMLX call on this thread. */
const char *zmlx_error_last(void);
/* Forget the last error of this thread. */
void zmlx_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
