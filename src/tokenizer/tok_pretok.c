/* Pre-tokenizers, as a chain: each stage cuts its piece and hands every
 * non-empty part to the next stage, the last to the model. Nothing is
 * collected in between, so a megabyte of text never becomes a list of a
 * quarter million pieces. Stages that write new bytes (ByteLevel's prefix
 * space, Metaspace) append them to w->text, so pieces are offsets, never
 * pointers, across calls. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

static zmlx_status run(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off, size_t len,
                       int first, zmlx_tokens *out);

/* ---- Split behaviours --------------------------------------------------------------- */

typedef struct span3 { size_t a, b; int match; } span3;
typedef struct span_list { span3 *v; size_t n, cap; } span_list;

static zmlx_status span_push(span_list *l, size_t a, size_t b, int match) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    span3 *p = realloc(l->v, cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n++] = (span3){a, b, match};
  return ZMLX_STATUS_OK;
}

/* NormalizedString::split's folds for the merging behaviours. */
static zmlx_status fold(span_list *in, ztok_split_behavior b, span_list *out) {
  int prev = 0;
  if (b == ZTOK_SPLIT_MERGED_NEXT) {
    for (size_t k = in->n; k-- > 0;) {
      span3 s = in->v[k];
      if (s.match && !prev && out->n) out->v[out->n - 1].a = s.a;
      else ZMLX_TRY(span_push(out, s.a, s.b, 0));
      prev = s.match;
    }
    for (size_t i = 0, j = out->n; i + 1 < j; i++, j--) {
      span3 x = out->v[i];
      out->v[i] = out->v[j - 1];
      out->v[j - 1] = x;
    }
    return ZMLX_STATUS_OK;
  }
  for (size_t k = 0; k < in->n; k++) {
    span3 s = in->v[k];
    int join = b == ZTOK_SPLIT_CONTIGUOUS ? s.match == prev : s.match && !prev;
    if (join && out->n) out->v[out->n - 1].b = s.b;
    else ZMLX_TRY(span_push(out, s.a, s.b, 0));
    prev = s.match;
  }
  return ZMLX_STATUS_OK;
}

/* The regex's matches and the gaps between them, as Pattern::find_matches:
 * an empty match cuts the gap there and the search steps one character on. */
typedef zmlx_status (*emit_fn)(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                               size_t a, size_t b, int match, int first, zmlx_tokens *out,
                               void *ctx);

static zmlx_status find_matches(const zmlx_tokenizer *t, ztok_work *w, const ztok_regex *re,
                                int stage, size_t off, size_t len, int first, zmlx_tokens *out,
                                emit_fn emit, void *ctx) {
  size_t prev = 0, from = 0;
  while (from <= len) {
    size_t ms, me;
    int r = ztok_regex_next(re, w->matcher, w->text.data + off, len, from, &ms, &me);
    if (r < 0) return ZMLX_STATUS_INTERNAL;
    if (r == 0) break;
    if (ms > prev) ZMLX_TRY(emit(t, w, stage, off, prev, ms, 0, first, out, ctx));
    if (me > ms) ZMLX_TRY(emit(t, w, stage, off, ms, me, 1, first, out, ctx));
    prev = me;
    if (me > ms) {
      from = me;
    } else {
      if (me >= len) break;
      from = me + ztok_utf8_len((unsigned char)w->text.data[off + me]);
    }
  }
  if (prev < len) ZMLX_TRY(emit(t, w, stage, off, prev, len, 0, first, out, ctx));
  return ZMLX_STATUS_OK;
}

/* Isolated and Removed: straight to the next stage. */
static zmlx_status emit_direct(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                               size_t a, size_t b, int match, int first, zmlx_tokens *out,
                               void *ctx) {
  const ztok_pre *p = ctx;
  if (p->invert) match = !match;
  if (p->behavior == ZTOK_SPLIT_REMOVED && match) return ZMLX_STATUS_OK;
  return run(t, w, stage + 1, off + a, b - a, first && a == 0, out);
}

static zmlx_status emit_collect(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                                size_t a, size_t b, int match, int first, zmlx_tokens *out,
                                void *ctx) {
  (void)t, (void)w, (void)stage, (void)off, (void)first, (void)out;
  return span_push(ctx, a, b, match);
}

static zmlx_status split_folded(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                                span_list *spans, ztok_split_behavior behavior, int first,
                                zmlx_tokens *out) {
  span_list folded = {0};
  zmlx_status s = fold(spans, behavior, &folded);
  for (size_t i = 0; i < folded.n && !s; i++)
    s = run(t, w, stage + 1, off + folded.v[i].a, folded.v[i].b - folded.v[i].a,
            first && folded.v[i].a == 0, out);
  free(folded.v);
  return s;
}

static zmlx_status split_stage(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                               size_t len, int first, zmlx_tokens *out) {
  const ztok_pre *p = &t->pres[stage];
  if (p->behavior == ZTOK_SPLIT_ISOLATED || p->behavior == ZTOK_SPLIT_REMOVED)
    return find_matches(t, w, p->re, stage, off, len, first, out, emit_direct, (void *)p);
  span_list spans = {0};
  zmlx_status s = find_matches(t, w, p->re, stage, off, len, first, out, emit_collect, &spans);
  if (!s && p->invert)
    for (size_t i = 0; i < spans.n; i++) spans.v[i].match = !spans.v[i].match;
  if (!s) s = split_folded(t, w, stage, off, &spans, p->behavior, first, out);
  free(spans.v);
  return s;
}

/* ---- ByteLevel ------------------------------------------------------------------------- */

static zmlx_status bytelevel_piece(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                                   size_t a, size_t b, int match, int first, zmlx_tokens *out,
                                   void *ctx) {
  (void)match, (void)ctx;
  const ztok_pre *p = &t->pres[stage];
  size_t o = off + a, n = b - a;
  if (p->materialize) {
    ZMLX_TRY(ztok_buf_reserve(&w->text, 2 * n));
    size_t start = w->text.len;
    for (size_t i = 0; i < n; i++) {
      char u[4];
      size_t k = ztok_utf8_encode(ztok_byte_char[(unsigned char)w->text.data[o + i]], u);
      memcpy(w->text.data + w->text.len, u, k);
      w->text.len += k;
    }
    o = start;
    n = w->text.len - start;
  }
  return run(t, w, stage + 1, o, n, first && a == 0, out);
}

static zmlx_status bytelevel_stage(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                                   size_t len, int first, zmlx_tokens *out) {
  const ztok_pre *p = &t->pres[stage];
  if (p->add_prefix_space && w->text.data[off] != ' ') {
    ZMLX_TRY(ztok_buf_reserve(&w->text, len + 1));
    size_t start = w->text.len;
    w->text.data[start] = ' ';
    memcpy(w->text.data + start + 1, w->text.data + off, len);
    w->text.len += len + 1;
    off = start;
    len += 1;
  }
  if (p->re) return find_matches(t, w, p->re, stage, off, len, first, out, bytelevel_piece, NULL);
  return bytelevel_piece(t, w, stage, off, 0, len, 0, first, out, NULL);
}

/* ---- Metaspace --------------------------------------------------------------------------- */

static zmlx_status metaspace_stage(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off,
                                   size_t len, int first, zmlx_tokens *out) {
  const ztok_pre *p = &t->pres[stage];
  char rep[4];
  size_t rl = ztok_utf8_encode(p->replacement, rep);
  size_t spaces = 0;
  for (size_t i = 0; i < len; i++) spaces += w->text.data[off + i] == ' ';
  ZMLX_TRY(ztok_buf_reserve(&w->text, len + spaces * rl + rl));
  const char *s = w->text.data + off;
  char *o = w->text.data + w->text.len;
  size_t k = 0;
  int starts = len >= rl && !memcmp(s, rep, rl);
  if (!starts && s[0] == ' ') starts = 1; /* it will, once replaced */
  if (!starts && (p->prepend == 1 || (p->prepend == 2 && first))) {
    memcpy(o, rep, rl);
    k = rl;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] == ' ') {
      memcpy(o + k, rep, rl);
      k += rl;
    } else {
      o[k++] = s[i];
    }
  }
  size_t start = w->text.len;
  w->text.len += k;
  if (!p->split) return run(t, w, stage + 1, start, k, first, out);
  /* Split before each replacement character (MergedWithNext). */
  span_list spans = {0};
  zmlx_status st = ZMLX_STATUS_OK;
  size_t prev = 0;
  const char *m = w->text.data + start;
  for (size_t i = 0; i + rl <= k && !st; i++) {
    if (memcmp(m + i, rep, rl)) continue;
    if (i > prev) st = span_push(&spans, prev, i, 0);
    if (!st) st = span_push(&spans, i, i + rl, 1);
    prev = i + rl;
    i += rl - 1;
  }
  if (!st && prev < k) st = span_push(&spans, prev, k, 0);
  if (!st) st = split_folded(t, w, stage, start, &spans, ZTOK_SPLIT_MERGED_NEXT, first, out);
  free(spans.v);
  return st;
}

/* ---- the chain --------------------------------------------------------------------------- */

static zmlx_status run(const zmlx_tokenizer *t, ztok_work *w, int stage, size_t off, size_t len,
                       int first, zmlx_tokens *out) {
  if (len == 0) return ZMLX_STATUS_OK; /* empty pieces are dropped at every step */
  if (stage == t->n_pres)
    return ztok_bpe_word(t, w, w->text.data + off, len, t->byte_level_input, out);
  switch (t->pres[stage].kind) {
    case ZTOK_PRE_SPLIT: return split_stage(t, w, stage, off, len, first, out);
    case ZTOK_PRE_BYTELEVEL: return bytelevel_stage(t, w, stage, off, len, first, out);
    case ZTOK_PRE_METASPACE: return metaspace_stage(t, w, stage, off, len, first, out);
  }
  return zmlx_fail(ZMLX_STATUS_INTERNAL, "tokenizer", "unknown pre-tokenizer %d",
                   (int)t->pres[stage].kind);
}

zmlx_status ztok_pretokenize_and_model(const zmlx_tokenizer *t, ztok_work *w, size_t off,
                                       size_t len, int first, zmlx_tokens *out) {
  return run(t, w, 0, off, len, first, out);
}
