/* Streaming decode, as `tokenizers`' DecodeStream::step: keep the ids from
 * the start of the last text returned; decode them with each new id; when
 * the result grew and does not end in U+FFFD (an unfinished character), the
 * part past the previous text is new. Decoding a window rather than one id
 * keeps what decoders do across tokens (Llama-2's stripped first space,
 * multi-token characters) right. */
#include <stdlib.h>

#include "tokenizer/tok_decode.h"
#include "tokenizer/tok_internal.h"

struct zmlx_token_stream {
  const zmlx_tokenizer *tok;
  int flags;
  int32_t *ids;
  size_t n, cap;
  size_t prefix_index;
  ztok_buf prefix, cur, out;
};

static int ends_with_fffd(const ztok_buf *b) {
  return b->len >= 3 && !memcmp(b->data + b->len - 3, "\xef\xbf\xbd", 3);
}

zmlx_status zmlx_token_stream_create(const zmlx_tokenizer *tok, int flags,
                                     zmlx_token_stream **out) {
  if (!tok || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_token_stream_create", "NULL argument");
  if (flags & ~ZMLX_TOKENIZE_SKIP_SPECIAL)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_token_stream_create",
                     "flags 0x%x: only ZMLX_TOKENIZE_SKIP_SPECIAL applies", (unsigned)flags);
  zmlx_token_stream *s = calloc(1, sizeof *s);
  if (!s) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "zmlx_token_stream_create", "out of memory");
  s->tok = tok;
  s->flags = flags;
  *out = s;
  return ZMLX_STATUS_OK;
}

void zmlx_token_stream_free(zmlx_token_stream *s) {
  if (!s) return;
  free(s->ids);
  ztok_buf_free(&s->prefix);
  ztok_buf_free(&s->cur);
  ztok_buf_free(&s->out);
  free(s);
}

static zmlx_status decode_ids(zmlx_token_stream *s, ztok_buf *into) {
  return ztok_decode_buf(s->tok, s->ids, (int64_t)s->n, s->flags, into);
}

static zmlx_status step(zmlx_token_stream *s, int32_t id) {
  if (s->prefix.len == 0 && s->n > 0) {
    ZMLX_TRY(decode_ids(s, &s->cur));
    if (!ends_with_fffd(&s->cur)) {
      ztok_buf x = s->prefix;
      s->prefix = s->cur;
      s->cur = x;
      s->prefix_index = s->n;
    }
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    int32_t *p = realloc(s->ids, cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "zmlx_token_stream_feed", "out of memory");
    s->ids = p;
    s->cap = cap;
  }
  s->ids[s->n++] = id;
  ZMLX_TRY(decode_ids(s, &s->cur));
  if (s->cur.len <= s->prefix.len || ends_with_fffd(&s->cur)) return ZMLX_STATUS_OK;
  if (s->prefix.len && memcmp(s->cur.data, s->prefix.data, s->prefix.len))
    return zmlx_fail(ZMLX_STATUS_INTERNAL, "zmlx_token_stream_feed",
                     "decoding id %d changed the text already returned (the decoder rewrites "
                     "earlier text)",
                     (int)id);
  ZMLX_TRY(ztok_buf_put(&s->out, s->cur.data + s->prefix.len, s->cur.len - s->prefix.len));
  size_t new_index = s->n - s->prefix_index;
  memmove(s->ids, s->ids + s->prefix_index, (s->n - s->prefix_index) * sizeof *s->ids);
  s->n -= s->prefix_index;
  ZMLX_TRY(decode_ids(s, &s->prefix));
  s->prefix_index = new_index;
  return ZMLX_STATUS_OK;
}

static zmlx_status finish(zmlx_token_stream *s, const char **text, size_t *len) {
  ZMLX_TRY(ztok_buf_put(&s->out, "", 1));
  s->out.len--;
  *text = s->out.data;
  if (len) *len = s->out.len;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_token_stream_feed(zmlx_token_stream *s, const int32_t *ids, int64_t n,
                                   const char **text, size_t *len) {
  if (!s || !text || (!ids && n) || n < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_token_stream_feed",
                     "NULL or negative argument");
  s->out.len = 0;
  for (int64_t i = 0; i < n; i++) ZMLX_TRY(step(s, ids[i]));
  return finish(s, text, len);
}

zmlx_status zmlx_token_stream_flush(zmlx_token_stream *s, const char **text, size_t *len) {
  if (!s || !text)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_token_stream_flush", "NULL argument");
  s->out.len = 0;
  if (s->n) {
    ZMLX_TRY(decode_ids(s, &s->cur));
    if (s->cur.len > s->prefix.len &&
        (!s->prefix.len || !memcmp(s->cur.data, s->prefix.data, s->prefix.len)))
      ZMLX_TRY(ztok_buf_put(&s->out, s->cur.data + s->prefix.len, s->cur.len - s->prefix.len));
  }
  s->n = 0;
  s->prefix_index = 0;
  s->prefix.len = 0;
  return finish(s, text, len);
}
