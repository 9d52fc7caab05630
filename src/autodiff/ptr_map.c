/* A small open-addressing hash map keyed by array handles. The tape looks
 * up every input of every operation it sees, so lookups must not scan the
 * node list. */
#include <stdlib.h>

#include "autodiff/autodiff_internal.h"
#include "core/error.h"

static size_t slot_of(const void *key, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)key;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (size_t)h & (cap - 1);
}

int zad_map_get(const zad_map *m, const void *key, intptr_t *val) {
  if (!m->cap || !key) return 0;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (!m->keys[i]) return 0;
    if (m->keys[i] == key) {
      if (val) *val = m->vals[i];
      return 1;
    }
  }
}

static void insert(const void **keys, intptr_t *vals, size_t cap, const void *key, intptr_t val) {
  size_t i = slot_of(key, cap);
  while (keys[i] && keys[i] != key) i = (i + 1) & (cap - 1);
  keys[i] = key;
  vals[i] = val;
}

/* Keep the load at most one half so probes stay short. */
static zmlx_status grow(zad_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  const void **keys = calloc(cap, sizeof *keys);
  intptr_t *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape", "out of host memory");
  }
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) insert(keys, vals, cap, m->keys[i], m->vals[i]);
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return ZMLX_STATUS_OK;
}

zmlx_status zad_map_reserve(zad_map *m, size_t extra) {
  while (2 * (m->len + extra) > m->cap) ZMLX_TRY(grow(m));
  return ZMLX_STATUS_OK;
}

zmlx_status zad_map_put(zad_map *m, const void *key, intptr_t val) {
  if (!key) return zmlx_fail(ZMLX_STATUS_INTERNAL, "tape", "NULL map key");
  if (zad_map_get(m, key, NULL)) {
    insert(m->keys, m->vals, m->cap, key, val);
    return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(zad_map_reserve(m, 1));
  insert(m->keys, m->vals, m->cap, key, val);
  m->len++;
  return ZMLX_STATUS_OK;
}

void zad_map_free(zad_map *m) {
  free(m->keys);
  free(m->vals);
  *m = (zad_map){0};
}
