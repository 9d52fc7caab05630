/* Reading a capsule back: JSON into the struct, with every type checked.
 * Unknown keys are skipped (newer writers may add some); a wrong type or
 * a missing required key is an error naming the key and where it is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/capsule_fields.h"
#include "core/json.h"
#include "core/error.h"
#include "core/file.h"
#include "zmlx/bench.h"

enum { MAX_FILE_BYTES = 64 << 20 };

static zmlx_status wrong(const char *where, const char *k, const zj_value *v, const char *want) {
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule",
                   "line %d, column %d: %s\"%s\" should be %s, not %s", v->line, v->col, where, k,
                   want, zj_type_name(v->type));
}

/* Optional string member into buf (cut to fit); required ones must exist. */
static zmlx_status get_string(const zj_value *obj, const char *where, const char *k, char *buf,
                              size_t len, int required) {
  const zj_value *v = zj_get(obj, k);
  if (!v) {
    if (!required) return ZMLX_STATUS_OK;
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule",
                     "line %d, column %d: %smissing \"%s\"", obj->line, obj->col, where, k);
  }
  if (v->type != ZJ_STRING) return wrong(where, k, v, "a string");
  snprintf(buf, len, "%s", v->string);
  return ZMLX_STATUS_OK;
}

/* Optional number member: null or absent leaves *out as it is (NAN). */
static zmlx_status get_number(const zj_value *obj, const char *where, const char *k, double *out) {
  const zj_value *v = zj_get(obj, k);
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type != ZJ_NUMBER) return wrong(where, k, v, "a number or null");
  *out = v->number;
  return ZMLX_STATUS_OK;
}

static zmlx_status get_int(const zj_value *obj, const char *where, const char *k, int *out) {
  double d = NAN;
  ZMLX_TRY(get_number(obj, where, k, &d));
  if (isnan(d)) return ZMLX_STATUS_OK;
  if (d != floor(d) || fabs(d) > 2147483647.0) return wrong(where, k, zj_get(obj, k), "an int");
  *out = (int)d;
  return ZMLX_STATUS_OK;
}

static zmlx_status get_u64(const zj_value *obj, const char *where, const char *k, uint64_t *out) {
  double d = NAN;
  ZMLX_TRY(get_number(obj, where, k, &d));
  if (isnan(d)) return ZMLX_STATUS_OK;
  if (d != floor(d) || d < 0 || d >= 18446744073709551616.0)
    return wrong(where, k, zj_get(obj, k), "a count of bytes");
  *out = (uint64_t)d;
  return ZMLX_STATUS_OK;
}

static zmlx_status read_device(const zj_value *root, zmlx_bench_capsule *c) {
  const zj_value *d = zj_get(root, "device");
  if (!d) return ZMLX_STATUS_OK;
  if (d->type != ZJ_OBJECT) return wrong("", "device", d, "an object");
  const char *w = "device: ";
  ZMLX_TRY(get_string(d, w, "id", c->device_id, sizeof c->device_id, 0));
#define S(k, m) ZMLX_TRY(get_string(d, w, #k, c->device.m, sizeof c->device.m, 0));
#define I(k, m) ZMLX_TRY(get_int(d, w, #k, &c->device.m));
#define U(k, m) ZMLX_TRY(get_u64(d, w, #k, &c->device.m));
  ZMLX_BENCH_DEVICE_STRINGS(S)
  ZMLX_BENCH_DEVICE_INTS(I)
  ZMLX_BENCH_DEVICE_U64S(U)
#undef S
#undef I
#undef U
  return ZMLX_STATUS_OK;
}

static zmlx_status read_copy(const zj_value *root, zmlx_bench_capsule *c) {
  const zj_value *v = zj_get(root, "copy");
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (v->type != ZJ_OBJECT) return wrong("", "copy", v, "an object");
  ZMLX_TRY(get_number(v, "copy: ", "bytes", &c->copy_bytes));
  ZMLX_TRY(get_number(v, "copy: ", "us", &c->copy_us));
  ZMLX_TRY(get_number(v, "copy: ", "gbps", &c->copy_gbps));
  return get_string(v, "copy: ", "method", c->copy_method, sizeof c->copy_method, 0);
}

static zmlx_status read_meta(const zj_value *root, zmlx_bench_capsule *c) {
  const zj_value *v = zj_get(root, "meta");
  if (!v) return ZMLX_STATUS_OK;
  if (v->type != ZJ_OBJECT) return wrong("", "meta", v, "an object");
  for (int i = 0; i < v->n && c->n_meta < ZMLX_BENCH_MAX_META; i++) {
    if (v->items[i].type != ZJ_STRING) return wrong("meta: ", v->keys[i], &v->items[i], "a string");
    zmlx_bench_meta *m = &c->meta[c->n_meta++];
    snprintf(m->key, sizeof m->key, "%s", v->keys[i]);
    snprintf(m->value, sizeof m->value, "%s", v->items[i].string);
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status read_row(const zj_value *v, int index, zmlx_bench_row *r) {
  char name[24], w[32];
  snprintf(name, sizeof name, "rows[%d]", index);
  snprintf(w, sizeof w, "%s: ", name);
  if (v->type != ZJ_OBJECT) return wrong("", name, v, "an object");
  zmlx_bench_row_init(r);
#define K(k, m) ZMLX_TRY(get_string(v, w, #k, r->m, sizeof r->m, 1));
#define S(k, m) ZMLX_TRY(get_string(v, w, #k, r->m, sizeof r->m, 0));
#define N(k, m) ZMLX_TRY(get_number(v, w, #k, &r->m));
#define I(k, m) ZMLX_TRY(get_int(v, w, #k, &r->m));
  ZMLX_BENCH_ROW_KEYS(K)
  ZMLX_BENCH_ROW_STRINGS(S)
  ZMLX_BENCH_ROW_NUMBERS(N)
  ZMLX_BENCH_ROW_INTS(I)
#undef K
#undef S
#undef N
#undef I
  return ZMLX_STATUS_OK;
}

static zmlx_status read_rows(const zj_value *root, zmlx_bench_capsule *c) {
  const zj_value *rows = zj_get(root, "rows");
  if (!rows)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule", "no \"rows\" array");
  if (rows->type != ZJ_ARRAY) return wrong("", "rows", rows, "an array");
  for (int i = 0; i < rows->n; i++) {
    zmlx_bench_row r;
    ZMLX_TRY(read_row(&rows->items[i], i, &r));
    ZMLX_TRY(zmlx_bench_capsule_add_row(c, &r));
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status check_format(const zj_value *root) {
  if (root->type != ZJ_OBJECT)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule",
                     "the document is %s, not an object", zj_type_name(root->type));
  const zj_value *f = zj_get(root, "format");
  if (!f || f->type != ZJ_STRING || strcmp(f->string, ZMLX_BENCH_FORMAT))
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule",
                     "not a bench capsule: no \"format\": \"" ZMLX_BENCH_FORMAT "\"");
  int version = 0;
  ZMLX_TRY(get_int(root, "", "format_version", &version));
  if (version < 1 || version > ZMLX_BENCH_FORMAT_VERSION)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "bench_capsule",
                     "format_version %d; this zmlx reads version %d", version,
                     ZMLX_BENCH_FORMAT_VERSION);
  return ZMLX_STATUS_OK;
}

static zmlx_status read_top(const zj_value *root, zmlx_bench_capsule *c) {
  ZMLX_TRY(check_format(root));
#define S(k, m) ZMLX_TRY(get_string(root, "", #k, c->m, sizeof c->m, 0));
  ZMLX_BENCH_TOP_STRINGS(S)
#undef S
  ZMLX_TRY(read_device(root, c));
  ZMLX_TRY(read_copy(root, c));
  ZMLX_TRY(read_meta(root, c));
  return read_rows(root, c);
}

zmlx_status zmlx_bench_capsule_parse(const char *json, size_t len, zmlx_bench_capsule *c) {
  if (!c) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_parse", "c is NULL");
  memset(c, 0, sizeof *c);
  c->copy_bytes = c->copy_us = c->copy_gbps = NAN;
  if (!json) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_parse", "json is NULL");
  zj_value root;
  ZMLX_TRY(zj_parse(json, len, &root));
  zmlx_status s = read_top(&root, c);
  zj_free(&root);
  if (s) zmlx_bench_capsule_free(c);
  return s;
}

/* The whole file, up to MAX_FILE_BYTES (pipes too). A path that cannot be
 * read is IO_ERROR here, a missing file too: the capsule API has no
 * NOT_FOUND. */
static zmlx_status slurp(const char *path, char **text, size_t *len) {
  zmlx_status s = zmlx_file_read("bench_capsule_read", path, MAX_FILE_BYTES, text, len);
  return s == ZMLX_STATUS_NOT_FOUND ? ZMLX_STATUS_IO_ERROR : s; /* the message stays */
}

zmlx_status zmlx_bench_capsule_read(const char *path, zmlx_bench_capsule *c) {
  if (!c || !path)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_read", "NULL argument");
  memset(c, 0, sizeof *c);
  c->copy_bytes = c->copy_us = c->copy_gbps = NAN;
  char *text = NULL;
  size_t n = 0;
  ZMLX_TRY(slurp(path, &text, &n));
  zmlx_status s = zmlx_bench_capsule_parse(text, n, c);
  if (s) zmlx_fail_wrap(s, path);
  free(text);
  return s;
}
