/* The byte buffer, the two hash maps and the byte-level alphabet. */
#include <stdlib.h>

#include "core/error.h"
#include "core/hash.h"
#include "tokenizer/tok_util.h"

zmlx_status ztok_buf_reserve(ztok_buf *b, size_t extra) {
  if (b->data && b->len + extra <= b->cap) return ZMLX_STATUS_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) {
    if (cap > SIZE_MAX / 2)
      return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "buffer of %zu bytes too large",
                       b->len + extra);
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (%zu bytes)",
                     cap);
  b->data = p;
  b->cap = cap;
  return ZMLX_STATUS_OK;
}

void ztok_buf_free(ztok_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* ---- string map -------------------------------------------------------------- */

uint64_t ztok_hash(const void *p, size_t n) {
  uint64_t h = zmlx_hash64(p, n, 0x746f6b656eULL);
  return h ? h : 1;
}

static zmlx_status strmap_grow(ztok_strmap *m) {
  size_t cap = m->slots ? (m->mask + 1) * 2 : 1024;
  ztok_strent *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (map of %zu)",
                     cap);
  for (size_t i = 0; m->slots && i <= m->mask; i++) {
    ztok_strent e = m->slots[i];
    if (!e.hash) continue;
    size_t j = (size_t)e.hash & (cap - 1);
    while (slots[j].hash) j = (j + 1) & (cap - 1);
    slots[j] = e;
  }
  free(m->slots);
  m->slots = slots;
  m->mask = cap - 1;
  return ZMLX_STATUS_OK;
}

static ztok_strent *strmap_find(const ztok_strmap *m, const char *key, size_t n, uint64_t h) {
  size_t i = (size_t)h & m->mask;
  for (;;) {
    ztok_strent *e = &m->slots[i];
    if (!e->hash) return e;
    if (e->hash == h && e->len == n && !memcmp(m->keys.data + e->off, key, n)) return e;
    i = (i + 1) & m->mask;
  }
}

zmlx_status ztok_strmap_put(ztok_strmap *m, const char *key, size_t n, int32_t val) {
  if (n > UINT32_MAX)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tokenizer", "token of %zu bytes", n);
  if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
    zmlx_status s = strmap_grow(m);
    if (s) return s;
  }
  uint64_t h = ztok_hash(key, n);
  ztok_strent *e = strmap_find(m, key, n, h);
  if (e->hash) {
    e->val = val;
    return ZMLX_STATUS_OK;
  }
  size_t off = m->keys.len;
  /* Keys are NUL-terminated in the arena so they can be shown in messages. */
  zmlx_status s = ztok_buf_put(&m->keys, key, n);
  if (!s) s = ztok_buf_put(&m->keys, "", 1);
  if (s) return s;
  e->hash = h;
  e->off = off;
  e->len = (uint32_t)n;
  e->val = val;
  m->n++;
  return ZMLX_STATUS_OK;
}

int ztok_strmap_get(const ztok_strmap *m, const char *key, size_t n, int32_t *val) {
  if (!m->slots) return 0;
  ztok_strent *e = strmap_find(m, key, n, ztok_hash(key, n));
  if (!e->hash) return 0;
  *val = e->val;
  return 1;
}

void ztok_strmap_free(ztok_strmap *m) {
  free(m->slots);
  ztok_buf_free(&m->keys);
  memset(m, 0, sizeof *m);
}

/* ---- u64 map ------------------------------------------------------------------- */

static zmlx_status u64map_grow(ztok_u64map *m) {
  size_t cap = m->slots ? (m->mask + 1) * 2 : 1024;
  ztok_u64ent *slots = malloc(cap * sizeof *slots);
  if (!slots)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (map of %zu)",
                     cap);
  for (size_t i = 0; i < cap; i++) slots[i].key = UINT64_MAX;
  for (size_t i = 0; m->slots && i <= m->mask; i++) {
    if (m->slots[i].key == UINT64_MAX) continue;
    size_t j = (size_t)((m->slots[i].key * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
    while (slots[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->mask = cap - 1;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_u64map_put(ztok_u64map *m, uint64_t key, uint64_t val) {
  if (key == UINT64_MAX)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, "tokenizer", "reserved map key");
  if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
    zmlx_status s = u64map_grow(m);
    if (s) return s;
  }
  size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & m->mask;
  while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key) i = (i + 1) & m->mask;
  if (m->slots[i].key == UINT64_MAX) m->n++;
  m->slots[i].key = key;
  m->slots[i].val = val;
  return ZMLX_STATUS_OK;
}

void ztok_u64map_free(ztok_u64map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

/* ---- byte-level alphabet ----------------------------------------------------------
 * GPT-2's bytes_to_unicode: printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC,
 * U+00AE..U+00FF) stand for themselves; the other 68 bytes, in order, get
 * U+0100, U+0101, ... (tests/test_tokenizer.c rebuilds it from this rule). */
const uint16_t ztok_byte_char[256] = {
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b,
    0x10c, 0x10d, 0x10e, 0x10f, 0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117,
    0x118, 0x119, 0x11a, 0x11b, 0x11c, 0x11d, 0x11e, 0x11f, 0x120, 0x021, 0x022, 0x023,
    0x024, 0x025, 0x026, 0x027, 0x028, 0x029, 0x02a, 0x02b, 0x02c, 0x02d, 0x02e, 0x02f,
    0x030, 0x031, 0x032, 0x033, 0x034, 0x035, 0x036, 0x037, 0x038, 0x039, 0x03a, 0x03b,
    0x03c, 0x03d, 0x03e, 0x03f, 0x040, 0x041, 0x042, 0x043, 0x044, 0x045, 0x046, 0x047,
    0x048, 0x049, 0x04a, 0x04b, 0x04c, 0x04d, 0x04e, 0x04f, 0x050, 0x051, 0x052, 0x053,
    0x054, 0x055, 0x056, 0x057, 0x058, 0x059, 0x05a, 0x05b, 0x05c, 0x05d, 0x05e, 0x05f,
    0x060, 0x061, 0x062, 0x063, 0x064, 0x065, 0x066, 0x067, 0x068, 0x069, 0x06a, 0x06b,
    0x06c, 0x06d, 0x06e, 0x06f, 0x070, 0x071, 0x072, 0x073, 0x074, 0x075, 0x076, 0x077,
    0x078, 0x079, 0x07a, 0x07b, 0x07c, 0x07d, 0x07e, 0x121, 0x122, 0x123, 0x124, 0x125,
    0x126, 0x127, 0x128, 0x129, 0x12a, 0x12b, 0x12c, 0x12d, 0x12e, 0x12f, 0x130, 0x131,
    0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13a, 0x13b, 0x13c, 0x13d,
    0x13e, 0x13f, 0x140, 0x141, 0x142, 0x0a1, 0x0a2, 0x0a3, 0x0a4, 0x0a5, 0x0a6, 0x0a7,
    0x0a8, 0x0a9, 0x0aa, 0x0ab, 0x0ac, 0x143, 0x0ae, 0x0af, 0x0b0, 0x0b1, 0x0b2, 0x0b3,
    0x0b4, 0x0b5, 0x0b6, 0x0b7, 0x0b8, 0x0b9, 0x0ba, 0x0bb, 0x0bc, 0x0bd, 0x0be, 0x0bf,
    0x0c0, 0x0c1, 0x0c2, 0x0c3, 0x0c4, 0x0c5, 0x0c6, 0x0c7, 0x0c8, 0x0c9, 0x0ca, 0x0cb,
    0x0cc, 0x0cd, 0x0ce, 0x0cf, 0x0d0, 0x0d1, 0x0d2, 0x0d3, 0x0d4, 0x0d5, 0x0d6, 0x0d7,
    0x0d8, 0x0d9, 0x0da, 0x0db, 0x0dc, 0x0dd, 0x0de, 0x0df, 0x0e0, 0x0e1, 0x0e2, 0x0e3,
    0x0e4, 0x0e5, 0x0e6, 0x0e7, 0x0e8, 0x0e9, 0x0ea, 0x0eb, 0x0ec, 0x0ed, 0x0ee, 0x0ef,
    0x0f0, 0x0f1, 0x0f2, 0x0f3, 0x0f4, 0x0f5, 0x0f6, 0x0f7, 0x0f8, 0x0f9, 0x0fa, 0x0fb,
    0x0fc, 0x0fd, 0x0fe, 0x0ff,
};

int ztok_char_byte(uint32_t cp) {
  if (cp >= 0x21 && cp <= 0xff && cp != 0x7f && cp != 0xa0 && cp != 0xad &&
      !(cp >= 0x80 && cp <= 0xa0))
    return (int)cp;
  if (cp < 0x100 || cp > 0x143) return -1;
  /* U+0100.. in order: bytes 0x00-0x20, 0x7f-0xa0, 0xad. */
  uint32_t k = cp - 0x100;
  if (k <= 0x20) return (int)k;
  if (k <= 0x20 + 34) return (int)(0x7f + (k - 0x21));
  return 0xad;
}
