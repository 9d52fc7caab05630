/* Encoding, in `tokenizers`' order: added tokens split off the raw text,
 * each stretch between them normalized on its own, normalized added tokens
 * split off that, pre-tokenizers and the model on what is left; the
 * post-processor's special tokens around the whole when asked. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

enum { KEEP_MAX = 64 << 20 }; /* working buffers above this are released after a call */

zmlx_status ztok_work_init(ztok_work *w, int with_cache) {
  memset(w, 0, sizeof *w);
  ZMLX_TRY(ztok_matcher_create(&w->matcher));
  if (with_cache) {
    zmlx_status s = ztok_cache_create(&w->cache);
    if (s) {
      ztok_matcher_free(w->matcher);
      w->matcher = NULL;
      return s;
    }
  }
  return ZMLX_STATUS_OK;
}

void ztok_work_free(ztok_work *w) {
  ztok_buf_free(&w->text);
  ztok_buf_free(&w->scratch);
  free(w->outer.v);
  free(w->inner.v);
  ztok_matcher_free(w->matcher);
  ztok_cache_free(w->cache);
  memset(w, 0, sizeof *w);
}

static zmlx_status push_all(zmlx_tokens *out, const int32_t *ids, int n) {
  for (int i = 0; i < n; i++) ZMLX_TRY(ztok_tokens_push(out, ids[i]));
  return ZMLX_STATUS_OK;
}

static zmlx_status encode_text(const zmlx_tokenizer *t, ztok_work *w, size_t len, int flags,
                               zmlx_tokens *out) {
  if (flags & ZMLX_TOKENIZE_ADD_SPECIAL) ZMLX_TRY(push_all(out, t->post.before, t->post.n_before));
  ZMLX_TRY(ztok_added_split(t, t->added.raw, w, 0, len, &w->outer));
  for (size_t i = 0; i < w->outer.n; i++) {
    ztok_span sp = w->outer.v[i];
    if (sp.end <= sp.start) continue;
    if (sp.id >= 0) {
      ZMLX_TRY(ztok_tokens_push(out, sp.id));
      continue;
    }
    size_t off, n;
    ZMLX_TRY(ztok_normalize(t, w, sp.start, sp.end - sp.start, &off, &n));
    ZMLX_TRY(ztok_added_split(t, t->added.norm, w, off, n, &w->inner));
    for (size_t j = 0; j < w->inner.n; j++) {
      ztok_span in = w->inner.v[j];
      if (in.end <= in.start) continue;
      if (in.id >= 0) {
        ZMLX_TRY(ztok_tokens_push(out, in.id));
        continue;
      }
      int first = sp.start == 0 && in.start == 0;
      ZMLX_TRY(ztok_pretokenize_and_model(t, w, off + in.start, in.end - in.start, first, out));
    }
  }
  if (flags & ZMLX_TOKENIZE_ADD_SPECIAL) ZMLX_TRY(push_all(out, t->post.after, t->post.n_after));
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tokenizer_encode(const zmlx_tokenizer *tok, const char *text, size_t len,
                                  int flags, zmlx_tokens *out) {
  if (!tok || !out || (!text && len))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_encode",
                     "NULL %s", !tok ? "tokenizer" : !out ? "output" : "text");
  if (flags & ~ZMLX_TOKENIZE_ADD_SPECIAL)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_encode",
                     "flags 0x%x: only ZMLX_TOKENIZE_ADD_SPECIAL applies", (unsigned)flags);
  out->n = 0;
  zmlx_tokenizer *t = (zmlx_tokenizer *)tok; /* the lock and shared state only */
  ztok_work local, *w = &t->shared;
  int locked = pthread_mutex_trylock(&t->lock) == 0;
  if (!locked) {
    /* Another thread holds the cached state: work without a cache. */
    ZMLX_TRY(ztok_work_init(&local, 0));
    w = &local;
  }
  w->text.len = 0;
  zmlx_status s = ZMLX_STATUS_OK;
  if (len && ztok_utf8_is_valid(text, len))
    s = ztok_buf_put(&w->text, text, len);
  else if (len)
    s = ztok_utf8_sanitize(&w->text, text, len);
  if (!s) s = encode_text(t, w, w->text.len, flags, out);
  if (locked) {
    if (w->text.cap > KEEP_MAX) ztok_buf_free(&w->text);
    if (w->scratch.cap > KEEP_MAX) ztok_buf_free(&w->scratch);
    pthread_mutex_unlock(&t->lock);
  } else {
    ztok_work_free(&local);
  }
  if (s) {
    out->n = 0;
    return zmlx_fail_wrap(s, "zmlx_tokenizer_encode");
  }
  return ZMLX_STATUS_OK;
}

void zmlx_tokens_free(zmlx_tokens *t) {
  if (!t) return;
  free(t->ids);
  memset(t, 0, sizeof *t);
}
