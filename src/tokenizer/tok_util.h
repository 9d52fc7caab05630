#ifndef ZMLX_TOKENIZER_UTIL_H
#define ZMLX_TOKENIZER_UTIL_H
/* Internal: the tokenizer's building blocks: a byte buffer, two hash maps,
 * UTF-8 helpers and the byte-level alphabet. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zmlx/status.h"

/* ---- A growable byte buffer (tok_util.c) ----------------------------------- */
typedef struct ztok_buf {
  char *data;
  size_t len, cap;
} ztok_buf;

zmlx_status ztok_buf_reserve(ztok_buf *b, size_t extra);
static inline zmlx_status ztok_buf_put(ztok_buf *b, const void *p, size_t n) {
  /* Storage even for n == 0, so offsets into a buffer never start from NULL. */
  if (b->len + n > b->cap || !b->data) {
    zmlx_status s = ztok_buf_reserve(b, n);
    if (s) return s;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return ZMLX_STATUS_OK;
}
void ztok_buf_free(ztok_buf *b);

/* ---- String -> int32 map (tok_util.c) ----------------------------------------
 * Open addressing; keys live in the map's own arena. */
typedef struct ztok_strent {
  uint64_t hash; /* 0: empty slot */
  uint64_t off;
  uint32_t len;
  int32_t val;
} ztok_strent;

typedef struct ztok_strmap {
  ztok_strent *slots;
  size_t mask, n;
  ztok_buf keys;
} ztok_strmap;

uint64_t ztok_hash(const void *p, size_t n);
/* Insert or overwrite. */
zmlx_status ztok_strmap_put(ztok_strmap *m, const char *key, size_t n, int32_t val);
/* 1 and *val if present, else 0. */
int ztok_strmap_get(const ztok_strmap *m, const char *key, size_t n, int32_t *val);
/* The key stored for a slot (for id -> text tables). */
static inline const char *ztok_strmap_key(const ztok_strmap *m, const ztok_strent *e) {
  return m->keys.data + e->off;
}
void ztok_strmap_free(ztok_strmap *m);

/* ---- uint64 -> uint64 map (tok_util.c); the key UINT64_MAX is reserved ----- */
typedef struct ztok_u64ent { uint64_t key, val; } ztok_u64ent; /* together: one cache line */
typedef struct ztok_u64map {
  ztok_u64ent *slots;
  size_t mask, n;
} ztok_u64map;

zmlx_status ztok_u64map_put(ztok_u64map *m, uint64_t key, uint64_t val);
static inline int ztok_u64map_get(const ztok_u64map *m, uint64_t key, uint64_t *val) {
  if (!m->slots) return 0;
  uint64_t h = key * 0x9e3779b97f4a7c15ULL;
  size_t i = (size_t)(h >> 20) & m->mask;
  for (;;) {
    uint64_t k = m->slots[i].key;
    if (k == key) {
      *val = m->slots[i].val;
      return 1;
    }
    if (k == UINT64_MAX) return 0;
    i = (i + 1) & m->mask;
  }
}
void ztok_u64map_free(ztok_u64map *m);

/* ---- UTF-8 (tok_utf8.c) -------------------------------------------------------- */
/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 if the bytes
 * there do not start one. */
size_t ztok_utf8_valid_len(const unsigned char *s, size_t n);
/* Decodes one character of valid UTF-8; returns its length. */
static inline size_t ztok_utf8_decode(const unsigned char *s, uint32_t *cp) {
  unsigned c = s[0];
  if (c < 0x80) { *cp = c; return 1; }
  if (c < 0xe0) { *cp = ((c & 0x1fu) << 6) | (s[1] & 0x3fu); return 2; }
  if (c < 0xf0) { *cp = ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu); return 3; }
  *cp = ((c & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
  return 4;
}
/* Length of the character starting with byte c (valid UTF-8 only). */
static inline size_t ztok_utf8_len(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}
size_t ztok_utf8_encode(uint32_t cp, char out[4]);
/* 1 if s[0..n) is valid UTF-8. */
int ztok_utf8_is_valid(const char *s, size_t n);
/* Appends s[0..n) to b with each maximal invalid subsequence replaced by
 * U+FFFD: the policy of Python's errors="replace" and Rust's
 * String::from_utf8_lossy (Unicode's "best practice"). */
zmlx_status ztok_utf8_sanitize(ztok_buf *b, const char *s, size_t n);
/* Rust's char::is_whitespace (the White_Space property). */
int ztok_is_whitespace(uint32_t cp);
/* Python's str.isspace, for the chat templates' strip(). */
int ztok_is_py_space(uint32_t cp);
/* The regex crate's \w (Alphabetic, M, Nd, Pc, Join_Control), close
 * enough: letters, marks, decimal and letter numbers, connector punctuation. */
int ztok_is_word_char(uint32_t cp);
/* 1 when NFC leaves cp alone whatever surrounds it (tok_normalize.c). */
int ztok_nfc_inert(uint32_t cp);

/* ---- The byte-level alphabet (GPT-2's bytes_to_unicode) -------------------- */
/* Each byte's character (U+0021..U+0143) and that character's UTF-8. */
extern const uint16_t ztok_byte_char[256];
/* The byte of a byte-level character, or -1. */
int ztok_char_byte(uint32_t cp);

#endif
