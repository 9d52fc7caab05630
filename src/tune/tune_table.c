/* The table of measured configurations: keys as text, and an index from a
 * key to the chain of its entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "tune/tune_internal.h"

#define ZTUNE_HASH_SEED 0x74756e65ULL

static int field_ok(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  if (n == cap) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r') return 0;
  return 1;
}

/* "-" for a scalar, else "1024x4096". */
int ztune_shape_text(const zmlx_tune_key *k, char *out, size_t cap) {
  if (k->ndim == 0) return snprintf(out, cap, "-") > 0;
  size_t len = 0;
  for (int d = 0; d < k->ndim; d++) {
    int n = snprintf(out + len, cap - len, "%s%lld", d ? "x" : "", (long long)k->shape[d]);
    if (n < 0 || (size_t)n >= cap - len) return 0;
    len += (size_t)n;
  }
  return 1;
}

int ztune_key_text(const zmlx_tune_key *k, char out[ZTUNE_KEY_TEXT], const char **why) {
  char shape[ZMLX_TUNE_MAX_DIMS * 21 + 1];
  *why = NULL;
  if (!field_ok(k->kernel, sizeof k->kernel) || !k->kernel[0])
    *why = "the kernel name is empty, unterminated, or holds a tab or newline";
  else if (k->kernel[0] == '#')
    *why = "the kernel name starts with '#', which marks a comment in the file";
  else if (!field_ok(k->device, sizeof k->device) || !field_ok(k->arch, sizeof k->arch))
    *why = "the device name or arch is unterminated or holds a tab or newline";
  else if (k->ndim < 0 || k->ndim > ZMLX_TUNE_MAX_DIMS)
    *why = "ndim is outside 0..ZMLX_TUNE_MAX_DIMS";
  else if ((unsigned)k->dtype >= ZMLX_DTYPE_COUNT)
    *why = "the dtype is not valid";
  else if (k->sm_count < 0 || k->bw_class < 0 || k->bw_class > ZTUNE_MAX_BW_CLASS)
    *why = "sm_count is negative or bw_class is outside 0..64";
  if (*why) return 0;
  for (int d = 0; d < k->ndim; d++)
    if (k->shape[d] < 0) return (*why = "a size is negative"), 0;
  ztune_shape_text(k, shape, sizeof shape);
  int n = snprintf(out, ZTUNE_KEY_TEXT, "%s\t%s\t%s\t%d\t%d\t%s\t%s", k->kernel, k->device,
                   k->arch, k->sm_count, k->bw_class, shape, zmlx_dtype_name(k->dtype));
  if (n < 0 || n >= ZTUNE_KEY_TEXT) return (*why = "the key is too long"), 0;
  return 1;
}

uint64_t ztune_hash(const char *key_text) {
  return zmlx_hash64(key_text, strlen(key_text), ZTUNE_HASH_SEED);
}

static int same_config(const zmlx_tune_config *a, const zmlx_tune_config *b) {
  return a->block == b->block && a->items == b->items && a->vec == b->vec &&
         a->rows == b->rows;
}

/* The slot holding key, or the empty slot where it would go. */
static int probe(const ztune_table *t, const char *key, uint64_t hash) {
  int mask = t->n_slot - 1;
  for (int i = (int)(hash & (uint64_t)mask);; i = (i + 1) & mask) {
    int e = t->slot[i];
    if (e < 0 || (t->v[e].hash == hash && !strcmp(t->v[e].key, key))) return i;
  }
}

int ztune_table_first(const ztune_table *t, const char *key, uint64_t hash) {
  return t->n_slot ? t->slot[probe(t, key, hash)] : -1;
}

int ztune_table_find(const ztune_table *t, const char *key, uint64_t hash,
                     const zmlx_tune_config *c) {
  int e = ztune_table_first(t, key, hash);
  while (e >= 0 && !same_config(&t->v[e].config, c)) e = t->v[e].next;
  return e;
}

/* Keeps the index at most half full, so probes stay short. */
static int grow_index(ztune_table *t) {
  if (2 * (t->n_keys + 1) <= t->n_slot) return 0;
  int n_slot = t->n_slot ? 2 * t->n_slot : 64;
  int *slot = malloc(sizeof *slot * (size_t)n_slot);
  if (!slot) return -1;
  for (int i = 0; i < n_slot; i++) slot[i] = -1;
  int *old = t->slot;
  int old_n = t->n_slot;
  t->slot = slot;
  t->n_slot = n_slot;
  for (int i = 0; i < old_n; i++)
    if (old[i] >= 0) slot[probe(t, t->v[old[i]].key, t->v[old[i]].hash)] = old[i];
  free(old);
  return 0;
}

static int grow_entries(ztune_table *t) {
  if (t->n < t->cap) return 0;
  int cap = t->cap ? 2 * t->cap : 64;
  ztune_entry *v = realloc(t->v, sizeof *v * (size_t)cap);
  if (!v) return -1;
  t->v = v;
  t->cap = cap;
  return 0;
}

/* Adds a copy of e: a new key gets an index slot, a known one (whose
 * chain starts at first) gets e at the end of its chain. */
static int add(ztune_table *t, const ztune_entry *e, int first) {
  char *key = strdup(e->key);
  if (!key || (first < 0 && grow_index(t)) || grow_entries(t)) {
    free(key);
    return -1;
  }
  int i = t->n++;
  t->v[i] = *e;
  t->v[i].key = key;
  t->v[i].next = -1;
  if (first < 0) {
    t->slot[probe(t, key, e->hash)] = i;
    t->n_keys++;
    return 0;
  }
  int last = first;
  while (t->v[last].next >= 0) last = t->v[last].next;
  t->v[last].next = i;
  return 0;
}

int ztune_table_put(ztune_table *t, const ztune_entry *e) {
  int first = ztune_table_first(t, e->key, e->hash);
  int same = first < 0 ? -1 : ztune_table_find(t, e->key, e->hash, &e->config);
  if (same < 0) return add(t, e, first);
  ztune_entry *old = &t->v[same];
  if (strcmp(e->date, old->date) >= 0) {
    old->us = e->us;
    memcpy(old->status, e->status, sizeof old->status);
    memcpy(old->date, e->date, sizeof old->date);
  }
  return 0;
}

void ztune_table_free(ztune_table *t) {
  for (int i = 0; i < t->n; i++) free(t->v[i].key);
  free(t->v);
  free(t->slot);
  memset(t, 0, sizeof *t);
}
