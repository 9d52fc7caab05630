/* The tokenizer's lookups and its release. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

/* id -> text for decoding: the model's vocabulary, then added tokens over
 * it (as `tokenizers` looks in the added vocabulary first). Special-ness
 * belongs to the text, as `tokenizers` checks it by content. */
zmlx_status ztok_build_id_table(zmlx_tokenizer *t) {
  size_t n = (size_t)t->vocab_size;
  t->id_text = calloc(n + 1, sizeof *t->id_text);
  t->id_len = calloc(n + 1, sizeof *t->id_len);
  t->id_special = calloc(n + 1, 1);
  if (!t->id_text || !t->id_len || !t->id_special)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (%zu ids)", n);
  const ztok_strmap *v = &t->bpe.vocab;
  for (size_t i = 0; v->slots && i <= v->mask; i++) {
    const ztok_strent *e = &v->slots[i];
    if (!e->hash) continue;
    t->id_text[e->val] = ztok_strmap_key(v, e);
    t->id_len[e->val] = e->len;
  }
  for (int i = 0; i < t->added.n; i++) {
    const ztok_added_token *tk = &t->added.tokens[i];
    t->id_text[tk->id] = tk->content;
    t->id_len[tk->id] = (uint32_t)tk->len;
  }
  for (size_t id = 0; id < n; id++) {
    int32_t k;
    if (t->id_text[id] && ztok_strmap_get(&t->added.by_content, t->id_text[id], t->id_len[id], &k))
      t->id_special[id] = (unsigned char)t->added.tokens[k].special;
  }
  return ZMLX_STATUS_OK;
}

void zmlx_tokenizer_free(zmlx_tokenizer *tok) {
  if (!tok) return;
  ztok_work_free(&tok->shared);
  ztok_free_parts(tok);
  ztok_added_free(&tok->added);
  ztok_bpe_free(&tok->bpe);
  free(tok->id_text);
  free(tok->id_len);
  free(tok->id_special);
  pthread_mutex_destroy(&tok->lock);
  free(tok);
}

int64_t zmlx_tokenizer_vocab_size(const zmlx_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

zmlx_status zmlx_tokenizer_token_to_id(const zmlx_tokenizer *tok, const char *token, size_t len,
                                       int32_t *id) {
  if (!tok || !id || (!token && len))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_token_to_id", "NULL argument");
  int32_t k;
  if (ztok_strmap_get(&tok->added.by_content, token ? token : "", len, &k)) {
    *id = tok->added.tokens[k].id;
    return ZMLX_STATUS_OK;
  }
  if (ztok_strmap_get(&tok->bpe.vocab, token ? token : "", len, id)) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "zmlx_tokenizer_token_to_id",
                   "no token \"%.*s\" in the vocabulary", (int)(len > 80 ? 80 : len),
                   token ? token : "");
}

zmlx_status zmlx_tokenizer_id_to_token(const zmlx_tokenizer *tok, int32_t id, const char **token,
                                       size_t *len) {
  if (!tok || !token || !len)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_id_to_token", "NULL argument");
  if (id < 0 || id >= tok->vocab_size || !tok->id_text[id])
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "zmlx_tokenizer_id_to_token",
                     "id %d is not in the vocabulary (size %lld)", (int)id,
                     (long long)tok->vocab_size);
  *token = tok->id_text[id];
  *len = tok->id_len[id];
  return ZMLX_STATUS_OK;
}

int zmlx_tokenizer_is_special(const zmlx_tokenizer *tok, int32_t id) {
  return tok && id >= 0 && id < tok->vocab_size && tok->id_special[id];
}
