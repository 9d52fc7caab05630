/* The capsule in memory: rows, free-form metadata and the copy ceiling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "zmlx/bench.h"

void zmlx_bench_row_init(zmlx_bench_row *r) {
  memset(r, 0, sizeof *r);
  r->us = r->min_us = r->p10_us = r->p90_us = NAN;
  r->bytes = r->gbps = r->pct_of_copy = r->tflops = r->err = r->first_ms = NAN;
}

void zmlx_bench_capsule_set_copy(zmlx_bench_capsule *c, const zmlx_bench_copy *copy) {
  c->copy_bytes = (double)copy->bytes;
  c->copy_us = copy->time.median_us;
  c->copy_gbps = copy->gbps;
  snprintf(c->copy_method, sizeof c->copy_method, "%s", copy->method);
}

zmlx_status zmlx_bench_capsule_add_row(zmlx_bench_capsule *c, const zmlx_bench_row *r) {
  if (!c || !r) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_add_row", "NULL argument");
  if (c->n_rows == c->cap_rows) {
    int cap = c->cap_rows ? 2 * c->cap_rows : 32;
    zmlx_bench_row *rows = realloc(c->rows, (size_t)cap * sizeof *rows);
    if (!rows)
      return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "bench_capsule_add_row", "out of host memory");
    c->rows = rows;
    c->cap_rows = cap;
  }
  zmlx_bench_row *row = &c->rows[c->n_rows++];
  *row = *r;
  if (isnan(row->gbps)) row->gbps = zmlx_bench_gbps(row->bytes, row->us);
  if (isnan(row->pct_of_copy) && c->copy_gbps > 0 && row->gbps > 0)
    row->pct_of_copy = 100.0 * row->gbps / c->copy_gbps;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_bench_capsule_set_meta(zmlx_bench_capsule *c, const char *key,
                                        const char *value) {
  static const char *op = "bench_capsule_set_meta";
  if (!c || !key || !value) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  if (!key[0] || strlen(key) >= sizeof c->meta[0].key)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "key '%s': empty or over %zu bytes", key,
                     sizeof c->meta[0].key - 1);
  int i = 0;
  while (i < c->n_meta && strcmp(c->meta[i].key, key)) i++;
  if (i == ZMLX_BENCH_MAX_META)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "more than %d keys", ZMLX_BENCH_MAX_META);
  if (i == c->n_meta) c->n_meta++;
  snprintf(c->meta[i].key, sizeof c->meta[i].key, "%s", key);
  snprintf(c->meta[i].value, sizeof c->meta[i].value, "%s", value);
  return ZMLX_STATUS_OK;
}

const char *zmlx_bench_capsule_meta(const zmlx_bench_capsule *c, const char *key) {
  for (int i = 0; c && key && i < c->n_meta; i++)
    if (!strcmp(c->meta[i].key, key)) return c->meta[i].value;
  return NULL;
}

void zmlx_bench_capsule_free(zmlx_bench_capsule *c) {
  if (!c) return;
  free(c->rows);
  c->rows = NULL;
  c->n_rows = c->cap_rows = 0;
}
