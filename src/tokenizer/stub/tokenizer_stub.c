/* The tokenizer's API in a build without PCRE2 or utf8proc
 * (cmake/tokenizer_deps.cmake): every call fails with UNSUPPORTED and says
 * how to get the real one. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "zmlx/tokenizer.h"

static zmlx_status missing(const char *op) {
  return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op,
                   "this ZMLX was built without PCRE2 and utf8proc, which the tokenizer needs "
                   "(install libpcre2-dev and libutf8proc-dev, e.g. scripts/deps.sh, and "
                   "rebuild)");
}

zmlx_status zmlx_tokenizer_load(const char *path, zmlx_tokenizer **out) {
  if (out) *out = NULL;
  (void)path;
  return missing("zmlx_tokenizer_load");
}
zmlx_status zmlx_tokenizer_load_json(const char *json, size_t len, zmlx_tokenizer **out) {
  if (out) *out = NULL;
  (void)json, (void)len;
  return missing("zmlx_tokenizer_load_json");
}
void zmlx_tokenizer_free(zmlx_tokenizer *tok) { (void)tok; }
void zmlx_tokens_free(zmlx_tokens *t) {
  if (!t) return;
  free(t->ids);
  memset(t, 0, sizeof *t);
}
zmlx_status zmlx_tokenizer_encode(const zmlx_tokenizer *tok, const char *text, size_t len,
                                  int flags, zmlx_tokens *out) {
  (void)tok, (void)text, (void)len, (void)flags, (void)out;
  return missing("zmlx_tokenizer_encode");
}
zmlx_status zmlx_tokenizer_decode(const zmlx_tokenizer *tok, const int32_t *ids, int64_t n,
                                  int flags, char **text, size_t *len) {
  if (text) *text = NULL;
  if (len) *len = 0;
  (void)tok, (void)ids, (void)n, (void)flags;
  return missing("zmlx_tokenizer_decode");
}
int64_t zmlx_tokenizer_vocab_size(const zmlx_tokenizer *tok) {
  (void)tok;
  return 0;
}
zmlx_status zmlx_tokenizer_token_to_id(const zmlx_tokenizer *tok, const char *token, size_t len,
                                       int32_t *id) {
  (void)tok, (void)token, (void)len, (void)id;
  return missing("zmlx_tokenizer_token_to_id");
}
zmlx_status zmlx_tokenizer_id_to_token(const zmlx_tokenizer *tok, int32_t id, const char **token,
                                       size_t *len) {
  (void)tok, (void)id, (void)token, (void)len;
  return missing("zmlx_tokenizer_id_to_token");
}
int zmlx_tokenizer_is_special(const zmlx_tokenizer *tok, int32_t id) {
  (void)tok, (void)id;
  return 0;
}
zmlx_status zmlx_token_stream_create(const zmlx_tokenizer *tok, int flags,
                                     zmlx_token_stream **out) {
  if (out) *out = NULL;
  (void)tok, (void)flags;
  return missing("zmlx_token_stream_create");
}
zmlx_status zmlx_token_stream_feed(zmlx_token_stream *s, const int32_t *ids, int64_t n,
                                   const char **text, size_t *len) {
  (void)s, (void)ids, (void)n, (void)text, (void)len;
  return missing("zmlx_token_stream_feed");
}
zmlx_status zmlx_token_stream_flush(zmlx_token_stream *s, const char **text, size_t *len) {
  (void)s, (void)text, (void)len;
  return missing("zmlx_token_stream_flush");
}
void zmlx_token_stream_free(zmlx_token_stream *s) { (void)s; }
zmlx_status zmlx_chat_render(zmlx_chat_format format, const zmlx_chat_message *messages,
                             int n_messages, const zmlx_chat_options *opts, char **text,
                             size_t *len) {
  if (text) *text = NULL;
  if (len) *len = 0;
  (void)format, (void)messages, (void)n_messages, (void)opts;
  return missing("zmlx_chat_render");
}
