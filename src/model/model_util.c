/* Paths and JSON files for the model-file readers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "model/model_internal.h"

char *zmd_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a && dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

char *zmd_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  size_t n = (size_t)(slash - path);
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, path, n);
  p[n] = 0;
  return p;
}

zmlx_status zmd_parse_json(const char *op, const char *label, const char *text, size_t len,
                           zj_value *out) {
  zmlx_status s = zj_parse(text, len, out);
  if (s) {
    char *why = strdup(zmlx_error_last());
    s = zmlx_fail(s, op, "%s: %s", label, why ? why : "invalid JSON");
    free(why);
  }
  return s;
}

zmlx_status zmd_read_json(const char *op, const char *path, zj_value *out) {
  memset(out, 0, sizeof *out);
  char *text;
  size_t len;
  ZMLX_TRY(zmlx_file_read(op, path, ZMD_MAX_JSON_BYTES, &text, &len));
  zmlx_status s = zmd_parse_json(op, path, text, len, out);
  free(text);
  return s;
}
