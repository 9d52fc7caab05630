/* Chat templates of Qwen3 and Llama-3, written out from their Jinja
 * sources (Qwen3's tokenizer_config.json; Llama-3-Instruct's). Python's
 * string methods that the templates call (strip, split) are reproduced
 * exactly, including which characters count as whitespace. */
#include <stdlib.h>

#include "tokenizer/tok_util.h"
#include "core/error.h"
#include "zmlx/tokenizer.h"

typedef struct str { const char *p; size_t n; } str;

static str mk(const char *s) { return (str){s, strlen(s)}; }

static zmlx_status put(ztok_buf *b, str s) { return ztok_buf_put(b, s.p, s.n); }
static zmlx_status puts_(ztok_buf *b, const char *s) { return ztok_buf_put(b, s, strlen(s)); }

/* s.lstrip(chars) / s.rstrip(chars) with chars = "\n". */
static str lstrip_nl(str s) {
  while (s.n && s.p[0] == '\n') s.p++, s.n--;
  return s;
}
static str rstrip_nl(str s) {
  while (s.n && s.p[s.n - 1] == '\n') s.n--;
  return s;
}

/* s.strip() with no argument: Python's whitespace (str.isspace). */
static str py_strip(str s) {
  const unsigned char *p = (const unsigned char *)s.p;
  size_t a = 0, b = s.n;
  while (a < b) {
    size_t k = ztok_utf8_valid_len(p + a, b - a);
    uint32_t cp;
    if (!k) break;
    ztok_utf8_decode(p + a, &cp);
    if (!ztok_is_py_space(cp)) break;
    a += k;
  }
  while (b > a) {
    size_t j = b - 1;
    while (j > a && (p[j] & 0xc0) == 0x80) j--;
    if (ztok_utf8_valid_len(p + j, b - j) != b - j) break;
    uint32_t cp;
    ztok_utf8_decode(p + j, &cp);
    if (!ztok_is_py_space(cp)) break;
    b = j;
  }
  return (str){s.p + a, b - a};
}

static const char *find(str s, const char *needle) {
  size_t k = strlen(needle);
  return k <= s.n ? memmem(s.p, s.n, needle, k) : NULL;
}

/* s.split(sep)[-1] and s.split(sep)[0]. */
static str after_last(str s, const char *sep) {
  size_t k = strlen(sep);
  const char *last = NULL;
  for (const char *h = find(s, sep); h; h = find((str){h + k, s.n - (size_t)(h + k - s.p)}, sep))
    last = h;
  if (!last) return s;
  return (str){last + k, s.n - (size_t)(last + k - s.p)};
}
static str before_first(str s, const char *sep) {
  const char *h = find(s, sep);
  return h ? (str){s.p, (size_t)(h - s.p)} : s;
}

static int is_role(const char *r, const char *want) { return r && !strcmp(r, want); }

static int is_tool_response(str c) {
  static const char open[] = "<tool_response>", close[] = "</tool_response>";
  return c.n >= sizeof open - 1 && !memcmp(c.p, open, sizeof open - 1) &&
         c.n >= sizeof close - 1 && !memcmp(c.p + c.n - (sizeof close - 1), close, sizeof close - 1);
}

static zmlx_status qwen3(const zmlx_chat_message *m, int n, const zmlx_chat_options *o,
                         ztok_buf *b) {
  zmlx_status s = ZMLX_STATUS_OK;
  if (n > 0 && is_role(m[0].role, "system")) {
    s = puts_(b, "<|im_start|>system\n");
    if (!s) s = puts_(b, m[0].content);
    if (!s) s = puts_(b, "<|im_end|>\n");
  }
  /* The last user turn that is not a tool's answer: thinking shown after it. */
  int last_query = n - 1, multi_step = 1;
  for (int i = n - 1; i >= 0; i--)
    if (multi_step && is_role(m[i].role, "user") && !is_tool_response(mk(m[i].content))) {
      multi_step = 0;
      last_query = i;
    }
  for (int i = 0; i < n && !s; i++) {
    const char *role = m[i].role;
    str content = mk(m[i].content);
    if (is_role(role, "user") || (is_role(role, "system") && i > 0)) {
      s = puts_(b, "<|im_start|>");
      if (!s) s = puts_(b, role);
      if (!s) s = puts_(b, "\n");
      if (!s) s = put(b, content);
      if (!s) s = puts_(b, "<|im_end|>\n");
    } else if (is_role(role, "assistant")) {
      str reasoning = {"", 0};
      if (find(content, "</think>")) {
        str whole = content;
        content = lstrip_nl(after_last(whole, "</think>"));
        reasoning = lstrip_nl(after_last(rstrip_nl(before_first(whole, "</think>")), "<think>"));
      }
      s = puts_(b, "<|im_start|>assistant\n");
      if (!s && i > last_query && (i == n - 1 || reasoning.n)) {
        str r = lstrip_nl(rstrip_nl(reasoning));
        s = puts_(b, "<think>\n");
        if (!s) s = put(b, r);
        if (!s) s = puts_(b, "\n</think>\n\n");
        content = lstrip_nl(content);
      }
      if (!s) s = put(b, content);
      if (!s) s = puts_(b, "<|im_end|>\n");
    } else if (is_role(role, "tool")) {
      if (i == 0 || !is_role(m[i - 1].role, "tool")) s = puts_(b, "<|im_start|>user");
      if (!s) s = puts_(b, "\n<tool_response>\n");
      if (!s) s = put(b, content);
      if (!s) s = puts_(b, "\n</tool_response>");
      if (!s && (i == n - 1 || !is_role(m[i + 1].role, "tool"))) s = puts_(b, "<|im_end|>\n");
    }
  }
  if (!s && o && o->add_generation_prompt) {
    s = puts_(b, "<|im_start|>assistant\n");
    if (!s && o->enable_thinking == 0) s = puts_(b, "<think>\n\n</think>\n\n");
  }
  return s;
}

static zmlx_status llama3(const zmlx_chat_message *m, int n, const zmlx_chat_options *o,
                          ztok_buf *b) {
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n && !s; i++) {
    if (i == 0) s = puts_(b, "<|begin_of_text|>");
    if (!s) s = puts_(b, "<|start_header_id|>");
    if (!s) s = puts_(b, m[i].role);
    if (!s) s = puts_(b, "<|end_header_id|>\n\n");
    if (!s) s = put(b, py_strip(mk(m[i].content)));
    if (!s) s = puts_(b, "<|eot_id|>");
  }
  if (!s && o && o->add_generation_prompt)
    s = puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
  return s;
}

zmlx_status zmlx_chat_render(zmlx_chat_format format, const zmlx_chat_message *messages,
                             int n_messages, const zmlx_chat_options *opts, char **text,
                             size_t *len) {
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!text || (!messages && n_messages) || n_messages < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_chat_render", "NULL or negative argument");
  for (int i = 0; i < n_messages; i++)
    if (!messages[i].role || !messages[i].content)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_chat_render",
                       "message %d has a NULL %s", i, messages[i].role ? "content" : "role");
  ztok_buf b = {0};
  zmlx_status s;
  if (format == ZMLX_CHAT_QWEN3)
    s = qwen3(messages, n_messages, opts, &b);
  else if (format == ZMLX_CHAT_LLAMA3)
    s = llama3(messages, n_messages, opts, &b);
  else
    s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_chat_render",
                  "unknown chat format %d (ZMLX_CHAT_QWEN3 or ZMLX_CHAT_LLAMA3)", (int)format);
  if (!s) s = ztok_buf_put(&b, "", 1);
  if (s) {
    ztok_buf_free(&b);
    return s;
  }
  *text = b.data;
  if (len) *len = b.len - 1;
  return ZMLX_STATUS_OK;
}
