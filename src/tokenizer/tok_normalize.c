/* Normalizers, applied in order to each stretch of text between added
 * tokens (as `tokenizers` normalizes each such piece on its own): Unicode
 * forms through utf8proc, Prepend, Replace and Strip. */
#include <stdlib.h>
#include <utf8proc.h>

#include "tokenizer/tok_internal.h"

/* Characters that NFC leaves alone whatever surrounds them: starters with
 * no decomposition that differs under NFC and that never combine with a
 * preceding character. Text made only of these skips utf8proc entirely
 * (ASCII, CJK ideographs, kana, Hangul syllables, emoji are the bulk of
 * real text). tests/test_tokenizer.c checks every one against utf8proc. */
int ztok_nfc_inert(uint32_t cp) {
  if (cp < 0x300) return 1;
  if (cp < 0x3000) {
    if (cp >= 0x0400 && cp <= 0x0482) return 1; /* Cyrillic letters */
    if (cp >= 0x048a && cp <= 0x04ff) return 1;
    if (cp >= 0x2010 && cp <= 0x2027) return 1; /* punctuation */
    if (cp >= 0x2030 && cp <= 0x205e) return 1;
    return 0;
  }
  if (cp <= 0x3029) return 1;                    /* CJK symbols (not 302A-302F) */
  if (cp >= 0x3030 && cp <= 0x303f) return 1;
  if (cp >= 0x3041 && cp <= 0x3096) return 1;    /* hiragana */
  if (cp >= 0x30a1 && cp <= 0x30fa) return 1;    /* katakana */
  if (cp >= 0x30fc && cp <= 0x30ff) return 1;
  if (cp >= 0x3400 && cp <= 0x4dbf) return 1;    /* CJK extension A */
  if (cp >= 0x4e00 && cp <= 0x9fff) return 1;    /* CJK unified ideographs */
  if (cp >= 0xac00 && cp <= 0xd7a3) return 1;    /* Hangul syllables */
  if (cp >= 0xff01 && cp <= 0xff9d) return 1;    /* full- and halfwidth forms */
  if (cp >= 0x1f300 && cp <= 0x1faff) return 1;  /* emoji */
  return 0;
}

static int nfc_is_noop(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    uint32_t cp;
    p += ztok_utf8_decode(p, &cp);
    if (!ztok_nfc_inert(cp)) return 0;
  }
  return 1;
}

static int all_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return 0;
  return 1;
}

static zmlx_status unicode_form(ztok_work *w, ztok_norm_kind kind, size_t off, size_t len,
                                size_t *out_off, size_t *out_len) {
  const char *s = w->text.data + off;
  if (kind == ZTOK_NORM_NFC ? nfc_is_noop(s, len) : all_ascii(s, len)) {
    *out_off = off;
    *out_len = len;
    return ZMLX_STATUS_OK;
  }
  int opts = UTF8PROC_STABLE;
  if (kind == ZTOK_NORM_NFC || kind == ZTOK_NORM_NFKC) opts |= UTF8PROC_COMPOSE;
  else opts |= UTF8PROC_DECOMPOSE;
  if (kind == ZTOK_NORM_NFKC || kind == ZTOK_NORM_NFKD) opts |= UTF8PROC_COMPAT;
  utf8proc_uint8_t *dst = NULL;
  utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                    (utf8proc_option_t)opts);
  if (n < 0) {
    free(dst);
    return zmlx_fail(n == UTF8PROC_ERROR_NOMEM ? ZMLX_STATUS_OUT_OF_MEMORY : ZMLX_STATUS_INTERNAL,
                     "tokenizer", "Unicode normalization of %zu bytes failed: %s", len,
                     utf8proc_errmsg(n));
  }
  *out_off = w->text.len;
  *out_len = (size_t)n;
  zmlx_status st = ztok_buf_put(&w->text, dst, (size_t)n);
  free(dst);
  return st;
}

static zmlx_status prepend(ztok_work *w, const ztok_norm *nm, size_t off, size_t len,
                           size_t *out_off, size_t *out_len) {
  if (len == 0) {
    *out_off = off;
    *out_len = 0;
    return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(ztok_buf_reserve(&w->text, nm->a_len + len));
  *out_off = w->text.len;
  *out_len = nm->a_len + len;
  memcpy(w->text.data + w->text.len, nm->a, nm->a_len);
  memcpy(w->text.data + w->text.len + nm->a_len, w->text.data + off, len);
  w->text.len += nm->a_len + len;
  return ZMLX_STATUS_OK;
}

/* Replace every non-overlapping occurrence, left to right. */
static zmlx_status replace(ztok_work *w, const ztok_norm *nm, size_t off, size_t len,
                           size_t *out_off, size_t *out_len) {
  /* Worst case: every byte a match of a one-byte pattern. */
  size_t grow = nm->b_len > nm->a_len ? len / (nm->a_len ? nm->a_len : 1) * nm->b_len + len : len;
  ZMLX_TRY(ztok_buf_reserve(&w->text, grow + 1));
  const char *s = w->text.data + off;
  char *o = w->text.data + w->text.len;
  size_t i = 0, k = 0;
  while (i < len) {
    size_t ms, me;
    if (nm->re) {
      int r = ztok_regex_next(nm->re, w->matcher, s, len, i, &ms, &me);
      if (r < 0) return ZMLX_STATUS_INTERNAL;
      if (r == 0) break;
      if (me == ms) { /* an empty match replaces nothing; step over a character */
        if (ms >= len) break;
        size_t step = ztok_utf8_len((unsigned char)s[ms]);
        memcpy(o + k, s + i, ms + step - i);
        k += ms + step - i;
        i = ms + step;
        continue;
      }
    } else {
      const char *hit = memmem(s + i, len - i, nm->a, nm->a_len);
      if (!hit) break;
      ms = (size_t)(hit - s);
      me = ms + nm->a_len;
    }
    memcpy(o + k, s + i, ms - i);
    k += ms - i;
    memcpy(o + k, nm->b, nm->b_len);
    k += nm->b_len;
    i = me;
  }
  memcpy(o + k, s + i, len - i);
  k += len - i;
  *out_off = w->text.len;
  *out_len = k;
  w->text.len += k;
  return ZMLX_STATUS_OK;
}

static void strip(const ztok_work *w, const ztok_norm *nm, size_t *off, size_t *len) {
  const unsigned char *s = (const unsigned char *)w->text.data + *off;
  size_t a = 0, b = *len;
  if (nm->left)
    while (a < b) {
      uint32_t cp;
      size_t k = ztok_utf8_decode(s + a, &cp);
      if (!ztok_is_whitespace(cp)) break;
      a += k;
    }
  if (nm->right)
    while (b > a) {
      size_t i = b - 1;
      while (i > a && (s[i] & 0xc0) == 0x80) i--;
      uint32_t cp;
      ztok_utf8_decode(s + i, &cp);
      if (!ztok_is_whitespace(cp)) break;
      b = i;
    }
  *off += a;
  *len = b - a;
}

zmlx_status ztok_normalize(const zmlx_tokenizer *t, ztok_work *w, size_t off, size_t len,
                           size_t *out_off, size_t *out_len) {
  for (int i = 0; i < t->n_norms; i++) {
    const ztok_norm *nm = &t->norms[i];
    switch (nm->kind) {
      case ZTOK_NORM_NFC: case ZTOK_NORM_NFD: case ZTOK_NORM_NFKC: case ZTOK_NORM_NFKD:
        ZMLX_TRY(unicode_form(w, nm->kind, off, len, &off, &len));
        break;
      case ZTOK_NORM_PREPEND:
        ZMLX_TRY(prepend(w, nm, off, len, &off, &len));
        break;
      case ZTOK_NORM_REPLACE:
        ZMLX_TRY(replace(w, nm, off, len, &off, &len));
        break;
      case ZTOK_NORM_STRIP:
        strip(w, nm, &off, &len);
        break;
    }
  }
  *out_off = off;
  *out_len = len;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_normalize_string(const zmlx_tokenizer *t, const char *s, size_t n, char **out,
                                  size_t *out_len) {
  ztok_work w;
  *out = NULL;
  ZMLX_TRY(ztok_work_init(&w, 0));
  size_t off, len;
  zmlx_status st = ztok_buf_put(&w.text, s, n);
  if (!st) st = ztok_normalize(t, &w, 0, n, &off, &len);
  if (!st) {
    *out = malloc(len + 1);
    if (!*out) st = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  }
  if (!st) {
    memcpy(*out, w.text.data + off, len);
    (*out)[len] = 0;
    *out_len = len;
  }
  ztok_work_free(&w);
  return st;
}
