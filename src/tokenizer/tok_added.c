/* Added tokens: found in the text before anything else, leftmost first and
 * longest at one position (as `tokenizers`' Aho-Corasick automaton in
 * LeftmostLongest mode), then single_word, lstrip and rstrip applied exactly
 * as AddedVocabulary::find_matches does. A byte trie is enough: tokenizers
 * have at most a few thousand added tokens, and a table of the bytes that
 * start one lets the scan skip everything else. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

typedef struct trie_node {
  int32_t child, sibling;
  int32_t term; /* added token index ending here, -1 if none */
  unsigned char byte;
} trie_node;

struct ztok_trie {
  trie_node *nodes;
  int32_t n, cap;
  unsigned char first[256];
};

static zmlx_status trie_new_node(ztok_trie *t, unsigned char byte, int32_t *out) {
  if (t->n == t->cap) {
    int32_t cap = t->cap ? t->cap * 2 : 64;
    trie_node *p = realloc(t->nodes, (size_t)cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
    t->nodes = p;
    t->cap = cap;
  }
  trie_node *nd = &t->nodes[t->n];
  nd->child = nd->sibling = nd->term = -1;
  nd->byte = byte;
  *out = t->n++;
  return ZMLX_STATUS_OK;
}

static zmlx_status trie_insert(ztok_trie *t, const char *s, size_t n, int32_t term) {
  if (t->n == 0) {
    int32_t root;
    ZMLX_TRY(trie_new_node(t, 0, &root));
  }
  int32_t at = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int32_t k = t->nodes[at].child;
    while (k >= 0 && t->nodes[k].byte != c) k = t->nodes[k].sibling;
    if (k < 0) {
      ZMLX_TRY(trie_new_node(t, c, &k));
      t->nodes[k].sibling = t->nodes[at].child;
      t->nodes[at].child = k;
    }
    at = k;
  }
  /* The same pattern twice: the first one inserted wins, as in the
   * automaton (patterns are inserted specials first, like `tokenizers`). */
  if (t->nodes[at].term < 0) t->nodes[at].term = term;
  t->first[(unsigned char)s[0]] = 1;
  return ZMLX_STATUS_OK;
}

/* The longest pattern starting at s[0]: its length and token, or 0. */
static size_t trie_longest(const ztok_trie *t, const unsigned char *s, size_t n, int32_t *term) {
  int32_t at = 0;
  size_t best = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t k = t->nodes[at].child;
    while (k >= 0 && t->nodes[k].byte != s[i]) k = t->nodes[k].sibling;
    if (k < 0) break;
    at = k;
    if (t->nodes[at].term >= 0) {
      best = i + 1;
      *term = t->nodes[at].term;
    }
  }
  return best;
}

static void trie_free(ztok_trie *t) {
  if (!t) return;
  free(t->nodes);
  free(t);
}

zmlx_status ztok_added_build(zmlx_tokenizer *t) {
  ztok_added *a = &t->added;
  a->raw = calloc(1, sizeof *a->raw);
  a->norm = calloc(1, sizeof *a->norm);
  if (!a->raw || !a->norm) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < a->n; i++) {
      ztok_added_token *tk = &a->tokens[i];
      if (tk->special != (pass == 0)) continue;
      if (!tk->normalized) {
        ZMLX_TRY(trie_insert(a->raw, tk->content, tk->len, i));
        continue;
      }
      char *pat;
      size_t n;
      ZMLX_TRY(ztok_normalize_string(t, tk->content, tk->len, &pat, &n));
      zmlx_status s = n ? trie_insert(a->norm, pat, n, i) : ZMLX_STATUS_OK;
      free(pat);
      if (s) return s;
    }
  }
  return ZMLX_STATUS_OK;
}

void ztok_added_free(ztok_added *a) {
  for (int i = 0; a->tokens && i < a->n; i++) free(a->tokens[i].content);
  free(a->tokens);
  trie_free(a->raw);
  trie_free(a->norm);
  ztok_u64map_free(&a->by_id);
  ztok_strmap_free(&a->by_content);
  memset(a, 0, sizeof *a);
}

/* ---- find_matches ---------------------------------------------------------------- */

static zmlx_status push_span(ztok_spans *l, size_t start, size_t end, int32_t id) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    ztok_span *p = realloc(l->v, cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n++] = (ztok_span){start, end, id};
  return ZMLX_STATUS_OK;
}

/* The last character of s[0..n) (valid UTF-8). */
static uint32_t last_char(const unsigned char *s, size_t n) {
  size_t i = n - 1;
  while (i > 0 && (s[i] & 0xc0) == 0x80) i--;
  uint32_t cp;
  ztok_utf8_decode(s + i, &cp);
  return cp;
}

/* Where the run of whitespace ending at s[n] starts (`\s*$`). */
static size_t trailing_space_start(const unsigned char *s, size_t n) {
  while (n > 0) {
    size_t i = n - 1;
    while (i > 0 && (s[i] & 0xc0) == 0x80) i--;
    uint32_t cp;
    ztok_utf8_decode(s + i, &cp);
    if (!ztok_is_whitespace(cp)) break;
    n = i;
  }
  return n;
}

/* Length of the whitespace run at the start of s[0..n) (`^\s*`). */
static size_t leading_space_len(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    size_t k = ztok_utf8_decode(s + i, &cp);
    if (!ztok_is_whitespace(cp)) break;
    i += k;
  }
  return i;
}

zmlx_status ztok_added_split(const zmlx_tokenizer *t, const ztok_trie *trie, const ztok_work *w,
                             size_t off, size_t len, ztok_spans *spans) {
  spans->n = 0;
  const unsigned char *s = w->text.data ? (const unsigned char *)w->text.data + off : NULL;
  size_t start_offset = 0;
  if (trie && trie->n > 0) {
    size_t p = 0;
    while (p < len) {
      /* The next position where some token starts. */
      size_t q = p, m = 0;
      int32_t term = -1;
      for (; q < len; q++)
        if (trie->first[s[q]] && (m = trie_longest(trie, s + q, len - q, &term)) > 0) break;
      if (q >= len) break;
      p = q + m; /* the automaton goes on after the match, kept or not */
      const ztok_added_token *tk = &t->added.tokens[term];
      size_t start = q, stop = q + m;
      if (tk->single_word) {
        uint32_t cp;
        int start_space = start == 0 || !ztok_is_word_char(last_char(s, start));
        int stop_space = stop == len ||
                         (ztok_utf8_decode(s + stop, &cp), !ztok_is_word_char(cp));
        if (!start_space || !stop_space) continue;
      }
      if (tk->lstrip) {
        size_t ns = trailing_space_start(s, start);
        start = ns > start_offset ? ns : start_offset;
      }
      if (tk->rstrip) stop += leading_space_len(s + stop, len - stop);
      if (start_offset < start) ZMLX_TRY(push_span(spans, start_offset, start, -1));
      ZMLX_TRY(push_span(spans, start, stop, tk->id));
      start_offset = stop;
    }
  }
  if (start_offset != len) ZMLX_TRY(push_span(spans, start_offset, len, -1));
  return ZMLX_STATUS_OK;
}
