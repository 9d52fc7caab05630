/* Split patterns through PCRE2 with its JIT. `tokenizers` runs them with
 * Oniguruma (Oniguruma syntax, UTF-8, Unicode classes); the few places
 * where PCRE2's reading differs are rewritten before compiling:
 *   \s   Oniguruma's also matches U+0085 (NEL)      -> [\s\x{85}]
 *   \w   Oniguruma's is letters, marks, Nd and Pc    -> [\p{L}\p{M}\p{Nd}\p{Pc}]
 *   \h   Oniguruma's is a hex digit (PCRE2: blank)   -> [0-9a-fA-F]
 *   \uHHHH                                           -> \x{HHHH}
 * and ^/$ match at line breaks, as Oniguruma's always do (PCRE2_MULTILINE).
 * Matching uses one match-data block and one JIT stack per matcher. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "tokenizer/tok_internal.h"

struct ztok_regex {
  pcre2_code *code;
  int jit; /* JIT compiled */
};

struct ztok_matcher {
  pcre2_match_data *md;
  pcre2_match_context *mc;
  pcre2_jit_stack *stack;
};

/* The rewrite described above, into b. */
static zmlx_status translate(const char *p, size_t n, int literal, ztok_buf *b) {
  zmlx_status s = ZMLX_STATUS_OK;
  if (literal) {
    /* \Q...\E cannot hold "\E" itself: escape every ASCII punctuation mark. */
    for (size_t i = 0; i < n && !s; i++) {
      unsigned char c = (unsigned char)p[i];
      if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) &&
          c > 0x20)
        s = ztok_buf_put(b, "\\", 1);
      if (!s) s = ztok_buf_put(b, &p[i], 1);
    }
    return s;
  }
  int in_class = 0;
  for (size_t i = 0; i < n && !s; i++) {
    char c = p[i];
    if (c == '\\' && i + 1 < n) {
      char e = p[i + 1];
      const char *rep = NULL;
      if (e == 's') rep = in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      else if (e == 'S' && !in_class) rep = "[^\\s\\x{85}]";
      else if (e == 'w') rep = in_class ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}" : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
      else if (e == 'W' && !in_class) rep = "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
      else if (e == 'h') rep = in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
      else if (e == 'H' && !in_class) rep = "[^0-9a-fA-F]";
      if (rep) {
        s = ztok_buf_put(b, rep, strlen(rep));
        i++;
        continue;
      }
      if (e == 'u' && i + 6 <= n) {
        char hex[5] = {p[i + 2], p[i + 3], p[i + 4], p[i + 5], 0};
        char out[16];
        int ok = 1;
        for (int k = 0; k < 4; k++)
          if (!((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f') ||
                (hex[k] >= 'A' && hex[k] <= 'F')))
            ok = 0;
        if (ok) {
          snprintf(out, sizeof out, "\\x{%s}", hex);
          s = ztok_buf_put(b, out, strlen(out));
          i += 5;
          continue;
        }
      }
      /* Any other escape passes through whole (so "\\[" stays literal). */
      s = ztok_buf_put(b, &p[i], 2);
      i++;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = 1;
      s = ztok_buf_put(b, &c, 1);
      /* A ']' right after '[' or '[^' is a literal member. */
      if (!s && i + 1 < n && p[i + 1] == '^') {
        s = ztok_buf_put(b, "^", 1);
        i++;
      }
      if (!s && i + 1 < n && p[i + 1] == ']') {
        s = ztok_buf_put(b, "]", 1);
        i++;
      }
      continue;
    }
    if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') {
      /* A POSIX class [:alpha:] inside a class: copy through its ":]". */
      const char *close = NULL;
      for (size_t k = i + 2; k + 1 < n; k++)
        if (p[k] == ':' && p[k + 1] == ']') {
          close = p + k;
          break;
        }
      if (close) {
        size_t m = (size_t)(close - (p + i)) + 2;
        s = ztok_buf_put(b, p + i, m);
        i += m - 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = 0;
    s = ztok_buf_put(b, &c, 1);
  }
  return s;
}

zmlx_status ztok_regex_compile(const char *pattern, size_t len, int literal, ztok_regex **out) {
  *out = NULL;
  ztok_buf b = {0};
  zmlx_status s = translate(pattern, len, literal, &b);
  if (s) {
    ztok_buf_free(&b);
    return s;
  }
  int err = 0;
  PCRE2_SIZE at = 0;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)(b.data ? b.data : ""), b.len,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NO_UTF_CHECK,
                                   &err, &at, NULL);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                  "regex /%.*s/ does not compile (as PCRE2 /%.*s/, offset %zu): %s",
                  (int)(len > 300 ? 300 : len), pattern, (int)(b.len > 300 ? 300 : b.len),
                  b.data ? b.data : "", (size_t)at, (const char *)msg);
    ztok_buf_free(&b);
    return s;
  }
  ztok_buf_free(&b);
  ztok_regex *re = calloc(1, sizeof *re);
  if (!re) {
    pcre2_code_free(code);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  }
  re->code = code;
  /* Without JIT (a build without it, or no executable memory) the
   * interpreter gives the same matches, only slower. */
  re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  *out = re;
  return ZMLX_STATUS_OK;
}

void ztok_regex_free(ztok_regex *re) {
  if (!re) return;
  pcre2_code_free(re->code);
  free(re);
}

zmlx_status ztok_matcher_create(ztok_matcher **out) {
  ztok_matcher *m = calloc(1, sizeof *m);
  if (!m) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  /* Ten pairs: the patterns' groups are never read, only the whole match. */
  m->md = pcre2_match_data_create(10, NULL);
  m->mc = pcre2_match_context_create(NULL);
  /* Long runs of one class (a megabyte of spaces) backtrack deeply:
   * 64 KiB to start, growing to 64 MiB, as PCRE2 needs. */
  m->stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
  if (!m->md || !m->mc || !m->stack) {
    ztok_matcher_free(m);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory (regex state)");
  }
  pcre2_jit_stack_assign(m->mc, NULL, m->stack);
  *out = m;
  return ZMLX_STATUS_OK;
}

void ztok_matcher_free(ztok_matcher *m) {
  if (!m) return;
  pcre2_match_data_free(m->md);
  pcre2_match_context_free(m->mc);
  pcre2_jit_stack_free(m->stack);
  free(m);
}

int ztok_regex_next(const ztok_regex *re, ztok_matcher *m, const char *s, size_t n, size_t from,
                    size_t *start, size_t *end) {
  if (from > n) return 0;
  int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, from, 0, m->md, m->mc)
                   : pcre2_match(re->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, m->md,
                                 m->mc);
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    zmlx_fail(ZMLX_STATUS_INTERNAL, "tokenizer", "regex match failed at byte %zu of %zu: %s",
              from, n, (const char *)msg);
    return -1;
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
  *start = ov[0];
  *end = ov[1];
  return 1;
}
