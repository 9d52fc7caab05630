/* The BPE model on one pre-token, as `tokenizers`' BPE::merge_word and
 * Word::merge_all: the characters' ids (unknown characters through byte
 * fallback or the unknown token), then merges by rank, lowest first and
 * leftmost among equals, until none applies. Short words use a direct scan
 * (the same order of merges); long ones (Llama-2 sends whole lines) the
 * heap with lazy deletion that `tokenizers` uses. Results are cached by the
 * pre-token's bytes. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

enum {
  SHORT_WORD = 48,           /* up to this many symbols: the direct scan */
  CACHE_KEY_MAX = 256,       /* longer pre-tokens are not cached */
  CACHE_SLOTS_MIN = 1 << 10, /* the table starts small (most tokenizers encode little) */
  CACHE_SLOTS = 1 << 17,     /* and grows to this; entries at most half of it */
  CACHE_ARENA_MAX = 32 << 20 /* bytes of keys + ids before the cache is emptied */
};

/* ---- the cache --------------------------------------------------------------------- */

typedef struct cache_slot {
  uint64_t hash; /* 0: empty */
  uint32_t key_off, key_len, ids_off, ids_n;
} cache_slot;

struct ztok_cache {
  cache_slot *slots;
  size_t n, mask;
  ztok_buf keys, ids;
};

zmlx_status ztok_cache_create(ztok_cache **out) {
  ztok_cache *c = calloc(1, sizeof *c);
  if (c) c->slots = calloc(CACHE_SLOTS_MIN, sizeof *c->slots);
  if (c) c->mask = CACHE_SLOTS_MIN - 1;
  if (!c || !c->slots) {
    free(c);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (BPE cache)");
  }
  *out = c;
  return ZMLX_STATUS_OK;
}

void ztok_cache_free(ztok_cache *c) {
  if (!c) return;
  free(c->slots);
  ztok_buf_free(&c->keys);
  ztok_buf_free(&c->ids);
  free(c);
}

static const cache_slot *cache_find(const ztok_cache *c, const char *s, size_t n, uint64_t h) {
  size_t i = (size_t)h & c->mask;
  for (;;) {
    const cache_slot *e = &c->slots[i];
    if (!e->hash) return e;
    if (e->hash == h && e->key_len == n && !memcmp(c->keys.data + e->key_off, s, n)) return e;
    i = (i + 1) & c->mask;
  }
}

/* Doubles the table; 0 if there is no memory for it (the cache then stays
 * as it is, and is emptied when full). */
static int cache_grow(ztok_cache *c) {
  size_t cap = (c->mask + 1) * 2;
  cache_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return 0;
  for (size_t i = 0; i <= c->mask; i++) {
    if (!c->slots[i].hash) continue;
    size_t j = (size_t)c->slots[i].hash & (cap - 1);
    while (slots[j].hash) j = (j + 1) & (cap - 1);
    slots[j] = c->slots[i];
  }
  free(c->slots);
  c->slots = slots;
  c->mask = cap - 1;
  return 1;
}

static void cache_put(ztok_cache *c, const char *s, size_t n, uint64_t h, const int32_t *ids,
                      size_t k) {
  if (c->n + 1 > (c->mask + 1) / 2 && c->mask + 1 < CACHE_SLOTS) cache_grow(c);
  if (c->n + 1 > (c->mask + 1) / 2 || c->keys.len + c->ids.len > CACHE_ARENA_MAX) {
    /* Full: start over. Simpler than LRU, and text's frequent words come
     * straight back. */
    memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
    c->n = 0;
    c->keys.len = c->ids.len = 0;
  }
  cache_slot *e = (cache_slot *)cache_find(c, s, n, h);
  if (e->hash) return;
  size_t ko = c->keys.len, io = c->ids.len / sizeof(int32_t);
  /* A failed allocation only means this word is not cached. */
  if (ztok_buf_put(&c->keys, s, n)) return;
  if (ztok_buf_put(&c->ids, ids, k * sizeof *ids)) {
    c->keys.len = ko;
    return;
  }
  e->hash = h;
  e->key_off = (uint32_t)ko;
  e->key_len = (uint32_t)n;
  e->ids_off = (uint32_t)io;
  e->ids_n = (uint32_t)k;
  c->n++;
}

/* ---- symbols ----------------------------------------------------------------------- */

zmlx_status ztok_tokens_push(zmlx_tokens *out, int32_t id) {
  if (out->n == out->cap) {
    int64_t cap = out->cap ? out->cap * 2 : 256;
    int32_t *p = realloc(out->ids, (size_t)cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (ids)");
    out->ids = p;
    out->cap = cap;
  }
  out->ids[out->n++] = id;
  return ZMLX_STATUS_OK;
}

/* Symbols are built in out itself, past out->n, and merged in place. */
static zmlx_status reserve_ids(zmlx_tokens *out, size_t extra) {
  if ((size_t)(out->cap - out->n) >= extra) return ZMLX_STATUS_OK;
  int64_t cap = out->cap ? out->cap : 256;
  while ((size_t)(cap - out->n) < extra) cap *= 2;
  int32_t *p = realloc(out->ids, (size_t)cap * sizeof *p);
  if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (ids)");
  out->ids = p;
  out->cap = cap;
  return ZMLX_STATUS_OK;
}

static inline int pair_merge(const ztok_bpe *m, int32_t a, int32_t b, uint32_t *rank,
                             int32_t *new_id) {
  uint64_t v;
  if (!ztok_u64map_get(&m->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v)) return 0;
  *rank = (uint32_t)(v >> 32);
  *new_id = (int32_t)(uint32_t)v;
  return 1;
}

/* The direct scan: sym[0..n) merged in place; returns the new count. */
static size_t merge_short(const ztok_bpe *m, int32_t *sym, size_t n) {
  uint32_t rank[SHORT_WORD];
  int32_t nid[SHORT_WORD];
  for (size_t i = 0; i + 1 < n; i++)
    if (!pair_merge(m, sym[i], sym[i + 1], &rank[i], &nid[i])) rank[i] = UINT32_MAX;
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; i++)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == UINT32_MAX) break;
    sym[best] = nid[best];
    memmove(sym + best + 1, sym + best + 2, (n - best - 2) * sizeof *sym);
    memmove(rank + best, rank + best + 1, (n - best - 2) * sizeof *rank);
    memmove(nid + best, nid + best + 1, (n - best - 2) * sizeof *nid);
    n--;
    if (best > 0 && !pair_merge(m, sym[best - 1], sym[best], &rank[best - 1], &nid[best - 1]))
      rank[best - 1] = UINT32_MAX;
    if (best + 1 < n && !pair_merge(m, sym[best], sym[best + 1], &rank[best], &nid[best]))
      rank[best] = UINT32_MAX;
  }
  return n;
}

/* ---- the heap (long words) ------------------------------------------------------------ */

typedef struct heap_ent {
  uint64_t key; /* rank << 32 | position: the smallest first */
  int32_t new_id;
} heap_ent;

typedef struct long_state {
  int32_t *prev, *next;
  heap_ent *heap;
  size_t n_heap;
} long_state;

static void heap_push(long_state *st, heap_ent e) {
  size_t i = st->n_heap++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (st->heap[p].key <= e.key) break;
    st->heap[i] = st->heap[p];
    i = p;
  }
  st->heap[i] = e;
}

static heap_ent heap_pop(long_state *st) {
  heap_ent top = st->heap[0], last = st->heap[--st->n_heap];
  size_t i = 0, n = st->n_heap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && st->heap[c + 1].key < st->heap[c].key) c++;
    if (last.key <= st->heap[c].key) break;
    st->heap[i] = st->heap[c];
    i = c;
  }
  if (n) st->heap[i] = last;
  return top;
}

/* Word::merge_all: symbols keep their first position; a merged-away one is
 * marked by sym = -1. Entries whose pair changed since they were pushed
 * are recognized by their new id and skipped. */
static zmlx_status merge_long(const ztok_bpe *m, int32_t *sym, size_t n, size_t *n_out) {
  long_state st = {0};
  /* Each merge pushes at most two entries: n - 1 + 2 (n - 1). */
  st.prev = malloc(n * sizeof *st.prev);
  st.next = malloc(n * sizeof *st.next);
  st.heap = malloc(3 * n * sizeof *st.heap);
  if (!st.prev || !st.next || !st.heap) {
    free(st.prev);
    free(st.next);
    free(st.heap);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (BPE of %zu)", n);
  }
  for (size_t i = 0; i < n; i++) {
    st.prev[i] = (int32_t)i - 1;
    st.next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
  }
  for (size_t i = 0; i + 1 < n; i++) {
    uint32_t r;
    int32_t nid;
    if (pair_merge(m, sym[i], sym[i + 1], &r, &nid))
      heap_push(&st, (heap_ent){(uint64_t)r << 32 | i, nid});
  }
  while (st.n_heap) {
    heap_ent top = heap_pop(&st);
    size_t pos = (size_t)(uint32_t)top.key;
    if (sym[pos] < 0 || st.next[pos] < 0) continue;
    size_t right = (size_t)st.next[pos];
    uint32_t r;
    int32_t nid;
    if (!pair_merge(m, sym[pos], sym[right], &r, &nid) || nid != top.new_id) continue;
    sym[pos] = top.new_id;
    sym[right] = -1;
    st.next[pos] = st.next[right];
    if (st.next[right] >= 0) st.prev[st.next[right]] = (int32_t)pos;
    if (st.prev[pos] >= 0) {
      size_t p = (size_t)st.prev[pos];
      if (pair_merge(m, sym[p], sym[pos], &r, &nid))
        heap_push(&st, (heap_ent){(uint64_t)r << 32 | p, nid});
    }
    if (st.next[pos] >= 0 && pair_merge(m, sym[pos], sym[st.next[pos]], &r, &nid))
      heap_push(&st, (heap_ent){(uint64_t)r << 32 | pos, nid});
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (sym[i] >= 0) sym[k++] = sym[i];
  free(st.prev);
  free(st.next);
  free(st.heap);
  *n_out = k;
  return ZMLX_STATUS_OK;
}

static zmlx_status merge_all(const ztok_bpe *m, int32_t *sym, size_t n, size_t *n_out) {
  if (n > UINT32_MAX / 4)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tokenizer", "pre-token of %zu characters", n);
  if (n <= SHORT_WORD) {
    *n_out = merge_short(m, sym, n);
    return ZMLX_STATUS_OK;
  }
  return merge_long(m, sym, n, n_out);
}

/* ---- characters to symbols (BPE::merge_word) ---------------------------------------------- */

/* s is text (UTF-8 characters, already byte-level mapped when that
 * applies). Symbols are written at out->ids[out->n...]; *k gets their count. */
static zmlx_status char_symbols(const ztok_bpe *m, ztok_work *w, const char *s, size_t n,
                                zmlx_tokens *out, size_t *k) {
  ZMLX_TRY(reserve_ids(out, n + 1));
  int32_t *sym = out->ids + out->n;
  size_t c = 0;
  int32_t unk_id = -1;
  size_t unk_pending = 0;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t cl = ztok_utf8_len(p[i]);
    int is_first = i == 0, is_last = i + cl >= n;
    const char *key = s + i;
    size_t key_len = cl;
    if ((!is_first && m->prefix_len) || (is_last && m->suffix_len)) {
      w->scratch.len = 0;
      if (!is_first) ZMLX_TRY(ztok_buf_put(&w->scratch, m->prefix, m->prefix_len));
      ZMLX_TRY(ztok_buf_put(&w->scratch, s + i, cl));
      if (is_last) ZMLX_TRY(ztok_buf_put(&w->scratch, m->suffix, m->suffix_len));
      key = w->scratch.data;
      key_len = w->scratch.len;
    }
    /* Room for this character's symbols, whatever path it takes. */
    ZMLX_TRY(reserve_ids(out, c + key_len + 2));
    sym = out->ids + out->n;
    int32_t id;
    if (ztok_strmap_get(&m->vocab, key, key_len, &id)) {
      if (unk_pending) {
        sym[c++] = unk_id;
        unk_pending = 0;
      }
      sym[c++] = id;
      i += cl;
      continue;
    }
    if (m->byte_fallback) {
      int all = 1;
      for (size_t b = 0; b < key_len; b++)
        if (m->fallback_ids[(unsigned char)key[b]] < 0) all = 0;
      if (all) {
        /* The pending unknown token is not written first here, as in
         * `tokenizers`. */
        for (size_t b = 0; b < key_len; b++) sym[c++] = m->fallback_ids[(unsigned char)key[b]];
        i += cl;
        continue;
      }
    }
    if (m->unk_id >= 0) {
      if (unk_pending && m->fuse_unk) {
        unk_pending += cl;
      } else {
        if (unk_pending) sym[c++] = unk_id;
        unk_id = m->unk_id;
        unk_pending = cl;
      }
    }
    i += cl;
  }
  if (unk_pending) sym[c++] = unk_id;
  *k = c;
  return ZMLX_STATUS_OK;
}

/* The byte-level character string of raw bytes, into w->scratch. */
static zmlx_status map_bytes(ztok_work *w, const char *s, size_t n) {
  w->scratch.len = 0;
  ZMLX_TRY(ztok_buf_reserve(&w->scratch, 2 * n));
  char *o = w->scratch.data;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ztok_utf8_encode(ztok_byte_char[(unsigned char)s[i]], o + k);
  w->scratch.len = k;
  return ZMLX_STATUS_OK;
}

/* One pre-token (whole: ignore_merges may keep it as it is) or one safe
 * segment of one. */
static zmlx_status bpe_one(const ztok_bpe *m, ztok_work *w, const char *s, size_t n, int bytes,
                           int whole, zmlx_tokens *out) {
  if (n == 0) return ZMLX_STATUS_OK;
  uint64_t h = 0;
  if (w->cache && n <= CACHE_KEY_MAX) {
    h = ztok_hash(s, n);
    const cache_slot *e = cache_find(w->cache, s, n, h);
    if (e->hash) {
      ZMLX_TRY(reserve_ids(out, e->ids_n));
      memcpy(out->ids + out->n, w->cache->ids.data + (size_t)e->ids_off * sizeof(int32_t),
             e->ids_n * sizeof(int32_t));
      out->n += e->ids_n;
      return ZMLX_STATUS_OK;
    }
  }
  size_t k = 0;
  int fast = bytes && !m->prefix_len && !m->suffix_len;
  if (m->ignore_merges && whole) {
    /* Llama-3 / GPT-4o style: a pre-token that is itself a token is kept. */
    const char *key = s;
    size_t key_len = n;
    if (bytes) {
      ZMLX_TRY(map_bytes(w, s, n));
      key = w->scratch.data;
      key_len = w->scratch.len;
    }
    int32_t id;
    if (ztok_strmap_get(&m->vocab, key, key_len, &id)) {
      ZMLX_TRY(reserve_ids(out, 1));
      out->ids[out->n] = id;
      k = 1;
      goto done;
    }
  }
  if (fast) {
    ZMLX_TRY(reserve_ids(out, n));
    int32_t *sym = out->ids + out->n;
    for (size_t i = 0; i < n; i++) {
      int32_t id = m->byte_ids[(unsigned char)s[i]];
      if (id < 0) {
        fast = 0;
        break;
      }
      sym[i] = id;
    }
    k = n;
  }
  if (!fast) {
    const char *text = s;
    size_t len = n;
    ztok_buf mapped = {0};
    if (bytes) {
      /* Characters of the byte-level alphabet that the vocabulary lacks:
       * take them through the general path, as `tokenizers` sees them. */
      ZMLX_TRY(map_bytes(w, s, n));
      ZMLX_TRY(ztok_buf_put(&mapped, w->scratch.data, w->scratch.len));
      text = mapped.data;
      len = mapped.len;
    }
    zmlx_status st = char_symbols(m, w, text, len, out, &k);
    ztok_buf_free(&mapped);
    if (st) return st;
  }
  ZMLX_TRY(merge_all(m, out->ids + out->n, k, &k));
done:
  if (w->cache && n <= CACHE_KEY_MAX) cache_put(w->cache, s, n, h, out->ids + out->n, k);
  out->n += (int64_t)k;
  return ZMLX_STATUS_OK;
}

/* ---- long words in safe segments ------------------------------------------------------------
 * A merge joins two symbols into a vocabulary token, so a merge across the
 * boundary between characters x and y can only make a token whose text has
 * "xy" in it. Where no token has (and x and y are tokens themselves, so
 * their symbols are exactly x and y), nothing ever merges across: BPE on
 * the two sides alone gives the same result. Llama-2 sends whole lines as
 * one pre-token; cut at such boundaries they become word-sized pieces that
 * the cache knows. */

zmlx_status ztok_bpe_build_pairs(ztok_bpe *m) {
  const ztok_strmap *v = &m->vocab;
  for (size_t i = 0; v->slots && i <= v->mask; i++) {
    const ztok_strent *e = &v->slots[i];
    if (!e->hash) continue;
    const unsigned char *p = (const unsigned char *)ztok_strmap_key(v, e);
    uint32_t prev = 0;
    for (size_t k = 0; k < e->len;) {
      uint32_t cp;
      k += ztok_utf8_decode(p + k, &cp);
      if (k > ztok_utf8_len(p[0])) ZMLX_TRY(ztok_u64map_put(&m->pairs, (uint64_t)prev << 32 | cp, 1));
      prev = cp;
    }
  }
  for (uint32_t c = 0; c < 128; c++) {
    char b = (char)c;
    int32_t id;
    m->ascii_ids[c] = ztok_strmap_get(&m->vocab, &b, 1, &id) ? id : -1;
  }
  m->split_long = 1;
  return ZMLX_STATUS_OK;
}

static int is_token_char(const ztok_bpe *m, const char *s, size_t n) {
  int32_t id;
  if (n == 1 && (unsigned char)s[0] < 128) return m->ascii_ids[(unsigned char)s[0]] >= 0;
  return ztok_strmap_get(&m->vocab, s, n, &id);
}

static zmlx_status split_long(const ztok_bpe *m, ztok_work *w, const char *s, size_t n,
                              zmlx_tokens *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = 0, i = 0;
  uint32_t x = 0;
  size_t xl = 0;
  while (i < n) {
    uint32_t y;
    size_t yl = ztok_utf8_decode(p + i, &y);
    uint64_t unused;
    if (i > start && !ztok_u64map_get(&m->pairs, (uint64_t)x << 32 | y, &unused) &&
        is_token_char(m, s + i - xl, xl) && is_token_char(m, s + i, yl)) {
      ZMLX_TRY(bpe_one(m, w, s + start, i - start, 0, 0, out));
      start = i;
    }
    x = y;
    xl = yl;
    i += yl;
  }
  return bpe_one(m, w, s + start, n - start, 0, 0, out);
}

zmlx_status ztok_bpe_word(const zmlx_tokenizer *t, ztok_work *w, const char *s, size_t n,
                          int bytes, zmlx_tokens *out) {
  const ztok_bpe *m = &t->bpe;
  if (!m->split_long || bytes || n <= SHORT_WORD || m->prefix_len || m->suffix_len)
    return bpe_one(m, w, s, n, bytes, 1, out);
  int32_t id;
  if (m->ignore_merges && ztok_strmap_get(&m->vocab, s, n, &id)) return ztok_tokens_push(out, id);
  return split_long(m, w, s, n, out);
}
