/* UTF-8 validation, lossy repair and the character classes the pipeline
 * needs outside the regex engine. */
#include <utf8proc.h>

#include "tokenizer/tok_util.h"

/* The well-formed byte sequences of Unicode's Table 3-7. */
size_t ztok_utf8_valid_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xc2 || c > 0xf4) return 0;
  size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  if (n < need) return 0;
  unsigned lo = 0x80, hi = 0xbf;
  if (c == 0xe0) lo = 0xa0;
  else if (c == 0xed) hi = 0x9f;
  else if (c == 0xf0) lo = 0x90;
  else if (c == 0xf4) hi = 0x8f;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return need;
}

int ztok_utf8_is_valid(const char *s, size_t n) {
  /* s may be NULL when n is 0: no arithmetic on it. */
  const unsigned char *p = (const unsigned char *)s, *end = p ? p + n : p;
  while (p < end) {
    /* ASCII eight bytes at a time: most text is mostly ASCII. */
    while (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t k = ztok_utf8_valid_len(p, (size_t)(end - p));
    if (!k) return 0;
    p += k;
  }
  return 1;
}

size_t ztok_utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A maximal invalid subsequence is the longest prefix of a well-formed
 * sequence that is cut short (or one lone byte): it becomes one U+FFFD. */
static size_t invalid_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0xc2 || c > 0xf4) return 1;
  size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  unsigned lo = 0x80, hi = 0xbf;
  if (c == 0xe0) lo = 0xa0;
  else if (c == 0xed) hi = 0x9f;
  else if (c == 0xf0) lo = 0x90;
  else if (c == 0xf4) hi = 0x8f;
  size_t i = 1;
  if (i < n && i < need && s[i] >= lo && s[i] <= hi) {
    i++;
    while (i < n && i < need && (s[i] & 0xc0) == 0x80) i++;
  }
  return i;
}

zmlx_status ztok_utf8_sanitize(ztok_buf *b, const char *s, size_t n) {
  static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};
  /* s may be NULL when n is 0 (an empty decode): no arithmetic on it. The
   * result always gets storage, so later offsets into it are defined. */
  zmlx_status rs = ztok_buf_reserve(b, 1);
  if (rs) return rs;
  const unsigned char *p = (const unsigned char *)s, *end = p ? p + n : p;
  const unsigned char *run = p;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t k = ztok_utf8_valid_len(p, (size_t)(end - p));
    if (k) {
      p += k;
      continue;
    }
    zmlx_status st = ztok_buf_put(b, run, (size_t)(p - run));
    if (!st) st = ztok_buf_put(b, fffd, 3);
    if (st) return st;
    p += invalid_len(p, (size_t)(end - p));
    run = p;
  }
  return ztok_buf_put(b, run, (size_t)(p - run));
}

int ztok_is_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d);
  if (cp < 0x85) return 0;
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int ztok_is_py_space(uint32_t cp) {
  /* Python adds the information separators U+001C..U+001F. */
  return ztok_is_whitespace(cp) || (cp >= 0x1c && cp <= 0x1f);
}

int ztok_is_word_char(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  if (cp == 0x200c || cp == 0x200d) return 1; /* Join_Control */
  switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return 1;
    default:
      return 0;
  }
}
