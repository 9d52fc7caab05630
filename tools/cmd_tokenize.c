/* zmlx tokenize: text to ids, ids to text, chat prompts, and a batch mode
 * for comparing with other tokenizers (scripts/check_tokenizer_peer.py). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "zmlx/zmlx.h"

enum { MAX_MESSAGES = 256 };

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmlx tokenize --tokenizer PATH [options] [TEXT...]\n"
          "  PATH               a tokenizer.json, or a folder holding one\n"
          "  TEXT               text to encode (several: joined with spaces); ids print on one\n"
          "                     line, separated by spaces\n"
          "  --file F           encode the bytes of file F instead ('-': standard input)\n"
          "  --add-special      add the post-processor's special tokens (Llama-2's <s>)\n"
          "  --decode           TEXT (or F) holds ids: print their text\n"
          "  --skip-special     with --decode: leave out special tokens\n"
          "  --stream           with --decode: through the streaming decoder, one id at a time\n"
          "  --chat qwen3|llama3  TEXT is ROLE=CONTENT messages (system, user, assistant):\n"
          "                     encode the chat prompt\n"
          "  --gen              with --chat: end with the assistant's header\n"
          "  --no-think         with --chat qwen3: enable_thinking=False\n"
          "  --render           with --chat: print the prompt text, not its ids\n"
          "  --batch F          many inputs: F holds records \"<bytes>\\n<text>\\n\"; one line of\n"
          "                     ids per record (with --decode: F holds a line of ids per\n"
          "                     record, and records of text come out)\n"
          "Invalid UTF-8 is read as Python's errors=\"replace\" reads it (U+FFFD).\n");
}

typedef struct args {
  const char *tokenizer, *file, *batch, *chat;
  int add_special, decode, skip_special, stream, gen, no_think, render;
  int n_text;
  char **text;
} args;

static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->text = calloc((size_t)argc + 1, sizeof *a->text);
  if (!a->text) return 1;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(s, "--tokenizer") && more) a->tokenizer = argv[++i];
    else if (!strcmp(s, "--file") && more) a->file = argv[++i];
    else if (!strcmp(s, "--batch") && more) a->batch = argv[++i];
    else if (!strcmp(s, "--chat") && more) a->chat = argv[++i];
    else if (!strcmp(s, "--add-special")) a->add_special = 1;
    else if (!strcmp(s, "--decode")) a->decode = 1;
    else if (!strcmp(s, "--skip-special")) a->skip_special = 1;
    else if (!strcmp(s, "--stream")) a->stream = 1;
    else if (!strcmp(s, "--gen")) a->gen = 1;
    else if (!strcmp(s, "--no-think")) a->no_think = 1;
    else if (!strcmp(s, "--render")) a->render = 1;
    else if (!strcmp(s, "--help") || !strcmp(s, "-h")) return -1;
    else if (!strcmp(s, "--")) {
      while (++i < argc) a->text[a->n_text++] = argv[i];
    } else if (s[0] == '-' && s[1] == '-') {
      fprintf(stderr, "zmlx tokenize: unknown option %s\n", s);
      return 1;
    } else {
      a->text[a->n_text++] = argv[i];
    }
  }
  if (!a->tokenizer && !(a->chat && a->render)) {
    fprintf(stderr, "zmlx tokenize: --tokenizer PATH is required\n");
    return 1;
  }
  return 0;
}

/* The whole of a file ('-': standard input); *data malloc'd. */
static int read_all(const char *path, char **data, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "zmlx tokenize: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  size_t cap = 1 << 16, n = 0;
  char *p = malloc(cap + 1);
  for (;;) {
    if (!p) break;
    size_t got = fread(p + n, 1, cap - n, f);
    n += got;
    if (n < cap) break;
    char *q = realloc(p, 2 * cap + 1);
    if (!q) {
      free(p);
      p = NULL;
      break;
    }
    p = q;
    cap *= 2;
  }
  int bad = !p || ferror(f);
  if (f != stdin) fclose(f);
  if (bad) {
    free(p);
    fprintf(stderr, "zmlx tokenize: cannot read %s\n", path);
    return 1;
  }
  p[n] = 0;
  *data = p;
  *len = n;
  return 0;
}

static void print_ids(const zmlx_tokens *t) {
  for (int64_t i = 0; i < t->n; i++) printf(i ? " %d" : "%d", (int)t->ids[i]);
  printf("\n");
}

/* Ids written as integers separated by spaces, commas or brackets. */
static int parse_ids(const char *s, const char *end, zmlx_tokens *out) {
  out->n = 0;
  while (s < end) {
    if (*s == ' ' || *s == ',' || *s == '\t' || *s == '[' || *s == ']' || *s == '\n' ||
        *s == '\r') {
      s++;
      continue;
    }
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (e == s || errno || v < -2147483647L - 1 || v > 2147483647L) {
      fprintf(stderr, "zmlx tokenize: not an id: \"%.20s\"\n", s);
      return 1;
    }
    if (out->n == out->cap) {
      int64_t cap = out->cap ? out->cap * 2 : 256;
      int32_t *p = realloc(out->ids, (size_t)cap * sizeof *p);
      if (!p) return 1;
      out->ids = p;
      out->cap = cap;
    }
    out->ids[out->n++] = (int32_t)v;
    s = e;
  }
  return 0;
}

static int fail(const char *what) {
  fprintf(stderr, "zmlx tokenize: %s: %s\n", what, zmlx_error_last());
  return 1;
}

static int decode_one(const zmlx_tokenizer *tok, const args *a, const zmlx_tokens *ids,
                      char **text, size_t *len) {
  int flags = a->skip_special ? ZMLX_TOKENIZE_SKIP_SPECIAL : 0;
  if (!a->stream) {
    if (zmlx_tokenizer_decode(tok, ids->ids, ids->n, flags, text, len)) return fail("decode");
    return 0;
  }
  zmlx_token_stream *s;
  if (zmlx_token_stream_create(tok, flags, &s)) return fail("stream");
  size_t cap = 256, n = 0;
  char *buf = malloc(cap);
  int rc = buf ? 0 : 1;
  for (int64_t i = 0; i <= ids->n && !rc; i++) {
    const char *piece;
    size_t k;
    zmlx_status st = i < ids->n ? zmlx_token_stream_feed(s, &ids->ids[i], 1, &piece, &k)
                                : zmlx_token_stream_flush(s, &piece, &k);
    if (st) {
      rc = fail("stream");
      break;
    }
    if (n + k + 1 > cap) {
      while (n + k + 1 > cap) cap *= 2;
      char *q = realloc(buf, cap);
      if (!q) {
        rc = 1;
        break;
      }
      buf = q;
    }
    memcpy(buf + n, piece, k);
    n += k;
  }
  zmlx_token_stream_free(s);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *text = buf;
  *len = n;
  return 0;
}

static int run_batch(const zmlx_tokenizer *tok, const args *a) {
  char *data;
  size_t len;
  if (read_all(a->batch, &data, &len)) return 1;
  zmlx_tokens ids = {0};
  int rc = 0;
  const char *p = data, *end = data + len;
  int flags = a->add_special ? ZMLX_TOKENIZE_ADD_SPECIAL : 0;
  while (p < end && !rc) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    if (a->decode) {
      char *text;
      size_t n;
      rc = parse_ids(p, nl, &ids);
      if (!rc) rc = decode_one(tok, a, &ids, &text, &n);
      if (!rc) {
        printf("%zu\n", n);
        fwrite(text, 1, n, stdout);
        printf("\n");
        free(text);
      }
      p = nl + 1;
      continue;
    }
    char *e;
    unsigned long long n = strtoull(p, &e, 10);
    if (e != nl || n > (unsigned long long)(end - nl - 1)) {
      fprintf(stderr, "zmlx tokenize: %s: bad record header at byte %zu\n", a->batch,
              (size_t)(p - data));
      rc = 1;
      break;
    }
    if (zmlx_tokenizer_encode(tok, nl + 1, (size_t)n, flags, &ids)) {
      rc = fail("encode");
      break;
    }
    print_ids(&ids);
    p = nl + 1 + n + 1;
  }
  zmlx_tokens_free(&ids);
  free(data);
  return rc;
}

static int run_chat(const zmlx_tokenizer *tok, const args *a) {
  zmlx_chat_format fmt = !strcmp(a->chat, "qwen3") ? ZMLX_CHAT_QWEN3
                         : !strcmp(a->chat, "llama3") ? ZMLX_CHAT_LLAMA3 : (zmlx_chat_format)0;
  if (!fmt) {
    fprintf(stderr, "zmlx tokenize: --chat %s: expected qwen3 or llama3\n", a->chat);
    return 2;
  }
  zmlx_chat_message msgs[MAX_MESSAGES];
  if (a->n_text > MAX_MESSAGES) {
    fprintf(stderr, "zmlx tokenize: more than %d messages\n", MAX_MESSAGES);
    return 2;
  }
  for (int i = 0; i < a->n_text; i++) {
    char *eq = strchr(a->text[i], '=');
    if (!eq) {
      fprintf(stderr, "zmlx tokenize: --chat message \"%.40s\" is not ROLE=CONTENT\n", a->text[i]);
      return 2;
    }
    *eq = 0;
    msgs[i].role = a->text[i];
    msgs[i].content = eq + 1;
  }
  zmlx_chat_options o = {a->gen, a->no_think ? 0 : 1};
  char *text;
  size_t len;
  if (zmlx_chat_render(fmt, msgs, a->n_text, &o, &text, &len)) return fail("chat");
  int rc = 0;
  if (a->render) {
    fwrite(text, 1, len, stdout);
  } else {
    zmlx_tokens ids = {0};
    if (zmlx_tokenizer_encode(tok, text, len, 0, &ids)) rc = fail("encode");
    else print_ids(&ids);
    zmlx_tokens_free(&ids);
  }
  free(text);
  return rc;
}

static int run(const args *a) {
  zmlx_tokenizer *tok = NULL;
  if (a->tokenizer && zmlx_tokenizer_load(a->tokenizer, &tok)) return fail("load");
  int rc = 0;
  if (a->chat) {
    rc = run_chat(tok, a);
  } else if (a->batch) {
    rc = run_batch(tok, a);
  } else {
    char *data = NULL;
    size_t len = 0;
    if (a->file) {
      rc = read_all(a->file, &data, &len);
    } else {
      size_t total = 1;
      for (int i = 0; i < a->n_text; i++) total += strlen(a->text[i]) + 1;
      data = calloc(total, 1);
      if (!data) rc = 1;
      for (int i = 0; i < a->n_text && data; i++) {
        if (i) data[len++] = ' ';
        memcpy(data + len, a->text[i], strlen(a->text[i]));
        len += strlen(a->text[i]);
      }
    }
    zmlx_tokens ids = {0};
    if (!rc && a->decode) {
      char *text;
      size_t n;
      rc = parse_ids(data, data + len, &ids);
      if (!rc) rc = decode_one(tok, a, &ids, &text, &n);
      if (!rc) {
        fwrite(text, 1, n, stdout);
        printf("\n");
        free(text);
      }
    } else if (!rc) {
      if (zmlx_tokenizer_encode(tok, data, len, a->add_special ? ZMLX_TOKENIZE_ADD_SPECIAL : 0,
                                &ids))
        rc = fail("encode");
      else
        print_ids(&ids);
    }
    zmlx_tokens_free(&ids);
    free(data);
  }
  zmlx_tokenizer_free(tok);
  return rc;
}

int zmlx_cmd_tokenize(int argc, char **argv) {
  args a;
  int p = parse(argc, argv, &a);
  if (p) {
    usage(p < 0 ? stdout : stderr);
    free(a.text);
    return p < 0 ? 0 : 2;
  }
  int rc = run(&a);
  free(a.text);
  return rc;
}
