#ifndef ZMLX_CORE_FILE_H
#define ZMLX_CORE_FILE_H
#include <stddef.h>

#include "zmlx/status.h"

/* The whole file at path (pipes too), at most max_bytes, in a malloc'd
 * buffer (the caller frees *text) with a NUL after its *len bytes. A
 * missing file is NOT_FOUND, another open or read failure IO_ERROR, a
 * larger file CORRUPT_DATA; op names the caller in the message. */
zmlx_status zmlx_file_read(const char *op, const char *path, size_t max_bytes, char **text,
                           size_t *len);

#endif
