/* Reading a whole file: configs, checkpoint indexes, tokenizer.json and
 * bench capsules all come in this way. */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

zmlx_status zmlx_file_read(const char *op, const char *path, size_t max_bytes, char **text,
                           size_t *len) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return zmlx_fail(errno == ENOENT ? ZMLX_STATUS_NOT_FOUND : ZMLX_STATUS_IO_ERROR, op,
                     "cannot open %s: %s", path, strerror(errno));
  size_t n = 0, cap = 0;
  char *buf = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  for (;;) {
    /* Room for one byte past max_bytes (to tell a larger file) and the
     * NUL: cap never passes max_bytes + 2. */
    if (n + 1 >= cap) {
      size_t want = cap ? 2 * cap : 65536;
      if (want > max_bytes + 2) want = max_bytes + 2;
      char *p = realloc(buf, want);
      if (!p) {
        s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory reading %s", path);
        break;
      }
      buf = p;
      cap = want;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    n += got;
    if (n > max_bytes) {
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, op, "%s is larger than %zu bytes", path, max_bytes);
      break;
    }
    if (got == 0) {
      if (ferror(f)) s = zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot read %s", path);
      break;
    }
  }
  fclose(f);
  if (s) {
    free(buf);
    return s;
  }
  buf[n] = 0;
  *text = buf;
  *len = n;
  return ZMLX_STATUS_OK;
}
