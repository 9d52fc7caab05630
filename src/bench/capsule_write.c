/* The capsule as JSON text: one row per line, so a diff of two runs reads
 * row by row. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/capsule_fields.h"
#include "core/json.h"
#include "core/error.h"
#include "zmlx/bench.h"

static void key(zmlx_strbuf *sb, const char *sep, const char *name) {
  zmlx_sb_printf(sb, "%s\"%s\": ", sep, name);
}

static void write_device(zmlx_strbuf *sb, const zmlx_bench_capsule *c) {
  const zmlx_device_info *d = &c->device;
  zmlx_sb_append(sb, "  \"device\": {\"id\": ");
  zj_write_string(sb, c->device_id);
#define S(k, m) key(sb, ", ", #k); zj_write_string(sb, d->m);
#define I(k, m) key(sb, ", ", #k); zmlx_sb_printf(sb, "%d", d->m);
#define U(k, m) key(sb, ", ", #k); zmlx_sb_printf(sb, "%llu", (unsigned long long)d->m);
  ZMLX_BENCH_DEVICE_STRINGS(S)
  ZMLX_BENCH_DEVICE_INTS(I)
  ZMLX_BENCH_DEVICE_U64S(U)
#undef S
#undef I
#undef U
  zmlx_sb_append(sb, "},\n");
}

static void write_row(zmlx_strbuf *sb, const zmlx_bench_row *r) {
  const char *sep = "{";
#define S(k, m) key(sb, sep, #k); zj_write_string(sb, r->m); sep = ", ";
#define N(k, m) key(sb, ", ", #k); zj_write_number(sb, r->m);
#define I(k, m) key(sb, ", ", #k); zmlx_sb_printf(sb, "%d", r->m);
  ZMLX_BENCH_ROW_KEYS(S)
  ZMLX_BENCH_ROW_NUMBERS(N)
  ZMLX_BENCH_ROW_INTS(I)
  ZMLX_BENCH_ROW_STRINGS(S)
#undef S
#undef N
#undef I
  zmlx_sb_append(sb, "}");
}

zmlx_status zmlx_bench_capsule_to_json(const zmlx_bench_capsule *c, char **out) {
  if (!c || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_to_json", "NULL argument");
  zmlx_strbuf sb = {0};
  zmlx_sb_printf(&sb, "{\n  \"format\": \"%s\",\n  \"format_version\": %d,\n", ZMLX_BENCH_FORMAT,
                 ZMLX_BENCH_FORMAT_VERSION);
#define S(k, m) key(&sb, "  ", #k); zj_write_string(&sb, c->m); zmlx_sb_append(&sb, ",\n");
  ZMLX_BENCH_TOP_STRINGS(S)
#undef S
  write_device(&sb, c);
  zmlx_sb_append(&sb, "  \"copy\": {\"bytes\": ");
  zj_write_number(&sb, c->copy_bytes);
  zmlx_sb_append(&sb, ", \"us\": ");
  zj_write_number(&sb, c->copy_us);
  zmlx_sb_append(&sb, ", \"gbps\": ");
  zj_write_number(&sb, c->copy_gbps);
  zmlx_sb_append(&sb, ", \"method\": ");
  zj_write_string(&sb, c->copy_method);
  zmlx_sb_append(&sb, "},\n  \"meta\": {");
  for (int i = 0; i < c->n_meta; i++) {
    zmlx_sb_append(&sb, i ? ", " : "");
    zj_write_string(&sb, c->meta[i].key);
    zmlx_sb_append(&sb, ": ");
    zj_write_string(&sb, c->meta[i].value);
  }
  zmlx_sb_append(&sb, "},\n  \"rows\": [");
  for (int i = 0; i < c->n_rows; i++) {
    zmlx_sb_append(&sb, i ? ",\n    " : "\n    ");
    write_row(&sb, &c->rows[i]);
  }
  zmlx_sb_append(&sb, c->n_rows ? "\n  ]\n}\n" : "]\n}\n");
  *out = zmlx_sb_take(&sb);
  return *out ? ZMLX_STATUS_OK
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "bench_capsule_to_json", "out of host memory");
}

zmlx_status zmlx_bench_capsule_write(const zmlx_bench_capsule *c, const char *path) {
  static const char *op = "bench_capsule_write";
  if (!path) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "path is NULL");
  char *text;
  ZMLX_TRY(zmlx_bench_capsule_to_json(c, &text));
  int to_stdout = !strcmp(path, "-");
  FILE *f = to_stdout ? stdout : fopen(path, "w");
  zmlx_status s = ZMLX_STATUS_OK;
  if (!f) {
    s = zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot create %s: %s", path, strerror(errno));
  } else {
    int bad = fputs(text, f) < 0;
    bad |= to_stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (bad) s = zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot write %s: %s", path, strerror(errno));
  }
  free(text);
  return s;
}
