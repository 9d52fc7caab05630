/* Decoding: ids to token texts, then each decoder of the chain on the list
 * of texts (`tokenizers`' decode_chain), then the texts joined. Without a
 * decoder the texts are joined with spaces, as `tokenizers` does. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_decode.h"

typedef struct piece { size_t off, len; } piece;

typedef struct tlist {
  ztok_buf text;
  piece *v;
  size_t n, cap;
} tlist;

static void tlist_free(tlist *l) {
  ztok_buf_free(&l->text);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* Appends a new piece made of the bytes written from `start` on. */
static zmlx_status tlist_close(tlist *l, size_t start) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    piece *p = realloc(l->v, cap * sizeof *p);
    if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n++] = (piece){start, l->text.len - start};
  return ZMLX_STATUS_OK;
}

static zmlx_status tlist_add(tlist *l, const char *s, size_t n) {
  size_t start = l->text.len;
  ZMLX_TRY(ztok_buf_put(&l->text, s, n));
  return tlist_close(l, start);
}

static const char *at(const tlist *l, size_t i) {
  return l->text.data ? l->text.data + l->v[i].off : "";
}

/* ---- the decoders --------------------------------------------------------------------- */

/* Each token's characters back to bytes (a token with any other character
 * keeps its own bytes), all joined, then made valid UTF-8. */
static zmlx_status byte_level(const tlist *in, tlist *out) {
  ztok_buf raw = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (size_t i = 0; i < in->n && !s; i++) {
    const unsigned char *p = (const unsigned char *)at(in, i);
    size_t n = in->v[i].len, mark = raw.len;
    s = ztok_buf_reserve(&raw, n);
    for (size_t k = 0; k < n && !s;) {
      uint32_t cp;
      k += ztok_utf8_decode(p + k, &cp);
      int b = ztok_char_byte(cp);
      if (b < 0) {
        raw.len = mark;
        s = ztok_buf_put(&raw, p, n);
        break;
      }
      raw.data[raw.len++] = (char)b;
    }
  }
  size_t start = out->text.len;
  if (!s) s = ztok_utf8_sanitize(&out->text, raw.data, raw.len);
  if (!s) s = tlist_close(out, start);
  ztok_buf_free(&raw);
  return s;
}

static int hex_val(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "<0xXX>" as u8::from_str_radix reads XX (which takes "+F" too). */
static int fallback_byte(const char *s, size_t n) {
  if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
  if (s[3] == '+') return hex_val(s[4]);
  int hi = hex_val(s[3]), lo = hex_val(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static zmlx_status flush_bytes(ztok_buf *bytes, tlist *out) {
  if (!bytes->len) return ZMLX_STATUS_OK;
  if (ztok_utf8_is_valid(bytes->data, bytes->len)) {
    ZMLX_TRY(tlist_add(out, bytes->data, bytes->len));
  } else {
    /* Not UTF-8: one U+FFFD per byte, as `tokenizers` does. */
    for (size_t i = 0; i < bytes->len; i++) ZMLX_TRY(tlist_add(out, "\xef\xbf\xbd", 3));
  }
  bytes->len = 0;
  return ZMLX_STATUS_OK;
}

static zmlx_status byte_fallback(const tlist *in, tlist *out) {
  ztok_buf bytes = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (size_t i = 0; i < in->n && !s; i++) {
    int b = fallback_byte(at(in, i), in->v[i].len);
    if (b >= 0) {
      char c = (char)b;
      s = ztok_buf_put(&bytes, &c, 1);
      continue;
    }
    s = flush_bytes(&bytes, out);
    if (!s) s = tlist_add(out, at(in, i), in->v[i].len);
  }
  if (!s) s = flush_bytes(&bytes, out);
  ztok_buf_free(&bytes);
  return s;
}

static zmlx_status fuse(const tlist *in, tlist *out) {
  size_t start = out->text.len;
  for (size_t i = 0; i < in->n; i++) ZMLX_TRY(ztok_buf_put(&out->text, at(in, i), in->v[i].len));
  return tlist_close(out, start);
}

static zmlx_status replace(const ztok_dec *d, const tlist *in, tlist *out) {
  for (size_t i = 0; i < in->n; i++) {
    const char *s = at(in, i);
    size_t n = in->v[i].len, k = 0, start = out->text.len;
    while (k < n) {
      const char *hit = memmem(s + k, n - k, d->a, d->a_len);
      size_t stop = hit ? (size_t)(hit - s) : n;
      ZMLX_TRY(ztok_buf_put(&out->text, s + k, stop - k));
      s = at(in, i); /* the same list: never moved, but keep it plain */
      if (!hit) break;
      ZMLX_TRY(ztok_buf_put(&out->text, d->b, d->b_len));
      k = stop + d->a_len;
    }
    ZMLX_TRY(tlist_close(out, start));
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status strip(const ztok_dec *d, const tlist *in, tlist *out) {
  for (size_t i = 0; i < in->n; i++) {
    const unsigned char *s = (const unsigned char *)at(in, i);
    size_t n = in->v[i].len, a = 0, b = n;
    for (int k = 0; k < d->start && a < n; k++) {
      uint32_t cp;
      size_t l = ztok_utf8_decode(s + a, &cp);
      if (cp != d->ch) break;
      a += l;
    }
    for (int k = 0; k < d->stop && b > a; k++) {
      size_t j = b - 1;
      while (j > a && (s[j] & 0xc0) == 0x80) j--;
      uint32_t cp;
      ztok_utf8_decode(s + j, &cp);
      if (cp != d->ch) break;
      b = j;
    }
    ZMLX_TRY(tlist_add(out, (const char *)s + a, b - a));
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status metaspace(const ztok_dec *d, const tlist *in, tlist *out) {
  for (size_t i = 0; i < in->n; i++) {
    const unsigned char *s = (const unsigned char *)at(in, i);
    size_t n = in->v[i].len, start = out->text.len;
    for (size_t k = 0; k < n;) {
      uint32_t cp;
      size_t l = ztok_utf8_decode(s + k, &cp);
      if (cp == d->ch) {
        if (!(i == 0 && d->prepend)) ZMLX_TRY(ztok_buf_put(&out->text, " ", 1));
      } else {
        ZMLX_TRY(ztok_buf_put(&out->text, s + k, l));
      }
      k += l;
    }
    ZMLX_TRY(tlist_close(out, start));
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status apply(const ztok_dec *d, const tlist *in, tlist *out) {
  switch (d->kind) {
    case ZTOK_DEC_BYTELEVEL: return byte_level(in, out);
    case ZTOK_DEC_BYTEFALLBACK: return byte_fallback(in, out);
    case ZTOK_DEC_FUSE: return fuse(in, out);
    case ZTOK_DEC_REPLACE: return replace(d, in, out);
    case ZTOK_DEC_STRIP: return strip(d, in, out);
    case ZTOK_DEC_METASPACE: return metaspace(d, in, out);
  }
  return zmlx_fail(ZMLX_STATUS_INTERNAL, "tokenizer", "unknown decoder %d", (int)d->kind);
}

zmlx_status ztok_decode_buf(const zmlx_tokenizer *t, const int32_t *ids, int64_t n, int flags,
                            ztok_buf *res) {
  tlist a = {0}, b = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  int skip = (flags & ZMLX_TOKENIZE_SKIP_SPECIAL) != 0;
  for (int64_t i = 0; i < n && !s; i++) {
    int32_t id = ids[i];
    if (id < 0 || id >= t->vocab_size || !t->id_text[id]) continue;
    if (skip && t->id_special[id]) continue;
    s = tlist_add(&a, t->id_text[id], t->id_len[id]);
  }
  for (int k = 0; k < t->n_decs && !s; k++) {
    b.text.len = 0;
    b.n = 0;
    s = apply(&t->decs[k], &a, &b);
    tlist x = a;
    a = b;
    b = x;
  }
  res->len = 0;
  for (size_t i = 0; i < a.n && !s; i++) {
    if (i && !t->has_decoder) s = ztok_buf_put(res, " ", 1);
    if (!s) s = ztok_buf_put(res, at(&a, i), a.v[i].len);
  }
  if (!s) s = ztok_buf_put(res, "", 1); /* a NUL past the end */
  if (!s) res->len--;
  tlist_free(&a);
  tlist_free(&b);
  return s;
}

zmlx_status zmlx_tokenizer_decode(const zmlx_tokenizer *tok, const int32_t *ids, int64_t n,
                                  int flags, char **text, size_t *len) {
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!tok || !text || (!ids && n) || n < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_decode",
                     "NULL or negative argument");
  if (flags & ~ZMLX_TOKENIZE_SKIP_SPECIAL)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_decode",
                     "flags 0x%x: only ZMLX_TOKENIZE_SKIP_SPECIAL applies", (unsigned)flags);
  ztok_buf res = {0};
  zmlx_status s = ztok_decode_buf(tok, ids, n, flags, &res);
  if (s) {
    ztok_buf_free(&res);
    return zmlx_fail_wrap(s, "zmlx_tokenizer_decode");
  }
  *text = res.data;
  if (len) *len = res.len;
  return ZMLX_STATUS_OK;
}
