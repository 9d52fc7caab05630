/* The tokenizer against independent references:
 *  - UTF-8 repair against Unicode's maximal-subpart rule (Python's
 *    errors="replace"), worked by hand, and on fresh random bytes;
 *  - the byte-level alphabet rebuilt here from GPT-2's rule; the NFC
 *    shortcut table against utf8proc's own data, code point by code point;
 *  - BPE on toy tokenizer.json files against a plain merge loop written
 *    here (string concatenation, lowest rank then leftmost), on fresh random
 *    words long and short; added tokens' single_word/lstrip/rstrip;
 *  - the real Qwen3, Llama-2 and GPT-4o files (scripts/fetch_tokenizers.sh;
 *    skipped with a reason when absent): ids from the files' own
 *    vocabularies, round trips, the streaming decoder on split characters,
 *    and the committed ids that Hugging Face `tokenizers` produced for
 *    tests/data/tokenizer/text.txt (scripts/gen_token_vectors.py; skipped
 *    with a reason until generated);
 *  - chat templates worked by hand from the Jinja sources;
 *  - malformed tokenizer.json files: an error with a message, no crash. */
#define ZT_SUITE_NAME "test_tokenizer"
#define ZT_SUITE_SALT 0x746f6bULL
#ifdef ZMLX_NO_TOKENIZER
#include "zt.h"
int main(void) {
  ZT_SKIP("this build has no tokenizer (PCRE2 or utf8proc missing: scripts/deps.sh installs them)");
}
#else
#include <pthread.h>
#include <utf8proc.h>

#include "core/json.h"
#include "tokenizer/tok_util.h"
#include "zt_suite.h"

/* ---- helpers ------------------------------------------------------------------------ */

static char src_root[4096];

static const char *root(void) {
  if (!src_root[0]) {
    snprintf(src_root, sizeof src_root, "%s", __FILE__);
    char *t = strstr(src_root, "/tests/test_tokenizer.c");
    if (t) *t = 0;
    else snprintf(src_root, sizeof src_root, ".");
  }
  return src_root;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[n] = 0;
    if (len) *len = (size_t)n;
  }
  return p;
}

static zmlx_tokenizer *load_text(const char *json) {
  zmlx_tokenizer *t = NULL;
  CHECK_OK(zmlx_tokenizer_load_json(json, strlen(json), &t));
  return t;
}

static int encode(const zmlx_tokenizer *t, const char *s, size_t n, int flags, zmlx_tokens *out) {
  zmlx_status st = zmlx_tokenizer_encode(t, s, n, flags, out);
  CHECK_MSG(st == ZMLX_STATUS_OK, "encode: %s", zmlx_error_last());
  return st == ZMLX_STATUS_OK;
}

static char *decode(const zmlx_tokenizer *t, const zmlx_tokens *ids, int flags, size_t *len) {
  char *s = NULL;
  size_t n = 0;
  CHECK_OK(zmlx_tokenizer_decode(t, ids->ids, ids->n, flags, &s, &n));
  if (len) *len = n;
  return s;
}

static int32_t id_of(const zmlx_tokenizer *t, const char *tok) {
  int32_t id = -1;
  CHECK_OK(zmlx_tokenizer_token_to_id(t, tok, strlen(tok), &id));
  return id;
}

static int ids_equal(const zmlx_tokens *a, const int32_t *b, int64_t n) {
  if (a->n != n) return 0;
  for (int64_t i = 0; i < n; i++)
    if (a->ids[i] != b[i]) return 0;
  return 1;
}

static int same_tokens(const zmlx_tokens *a, const zmlx_tokens *b) {
  return a->n == b->n && (a->n == 0 || !memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids));
}

static void print_ids(const char *label, const int32_t *v, int64_t n) {
  fprintf(stderr, "  %s (%lld):", label, (long long)n);
  for (int64_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", (int)v[i]);
  fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

#define CHECK_IDS(tok, text, ...)                                                      \
  do {                                                                                 \
    const int32_t want_[] = {__VA_ARGS__};                                             \
    zmlx_tokens got_ = {0};                                                            \
    if (encode(tok, text, strlen(text), 0, &got_)) {                                   \
      int same_ = ids_equal(&got_, want_, (int64_t)(sizeof want_ / sizeof *want_));    \
      CHECK_MSG(same_, "ids of \"%s\" differ", text);                                  \
      if (!same_) {                                                                    \
        print_ids("got", got_.ids, got_.n);                                            \
        print_ids("want", want_, (int64_t)(sizeof want_ / sizeof *want_));             \
      }                                                                                \
    }                                                                                  \
    zmlx_tokens_free(&got_);                                                           \
  } while (0)

/* ---- UTF-8 repair ------------------------------------------------------------------ */

static void sanitized(const char *in, size_t n, const char *want) {
  ztok_buf b = {0};
  CHECK_OK(ztok_utf8_sanitize(&b, in, n));
  int ok = b.len == strlen(want) && !memcmp(b.data, want, b.len);
  CHECK_MSG(ok, "sanitize of %zu bytes: got %zu bytes, want %zu", n, b.len, strlen(want));
  ztok_buf_free(&b);
}

#define R "\xef\xbf\xbd"
static void test_utf8_repair(void) {
  setup();
  /* Worked from Unicode 15 section 3.9, "U+FFFD Substitution of Maximal
   * Subparts" (Table 3-8's row and its neighbours); Python and Rust agree. */
  sanitized("\xc0\xaf\xe0\x80\xbf\xf0\x81\x82\x41", 9, R R R R R R R R "A");
  sanitized("\xed\xa0\x80\xed\xbf\xbf\xed\xaf\x41", 9, R R R R R R R R "A");
  sanitized("\xf4\x91\x92\x93\xff\x41\x80\xbf\x42", 9, R R R R R "A" R R "B");
  sanitized("\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", 9, R R R R "A");
  sanitized("a\xe4\xbd", 3, "a" R);              /* cut-short 3-byte sequence: one */
  sanitized("\xf0\x9f\x98", 3, R);               /* cut-short 4-byte sequence: one */
  sanitized("\xc3", 1, R);
  sanitized("ok \xe4\xbd\xa0", 6, "ok \xe4\xbd\xa0");
  /* Random bytes: the result is valid, valid input is kept, and repairing
   * twice changes nothing. */
  for (int round = 0; round < 200; round++) {
    size_t n = (size_t)rnd_in(0, 64);
    unsigned char in[64];
    for (size_t i = 0; i < n; i++) {
      uint64_t r = rnd();
      /* Mostly bytes that start or continue sequences. */
      in[i] = (unsigned char)(r % 4 == 0 ? 0x80 + (r >> 8) % 64 : r % 4 == 1 ? 0xc0 + (r >> 8) % 64 : r >> 8);
    }
    ztok_buf a = {0}, b = {0};
    CHECK_OK(ztok_utf8_sanitize(&a, (const char *)in, n));
    CHECK(ztok_utf8_is_valid(a.data ? a.data : "", a.len));
    CHECK_OK(ztok_utf8_sanitize(&b, a.data ? a.data : "", a.len));
    CHECK(a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len)));
    if (ztok_utf8_is_valid((const char *)in, n)) CHECK(a.len == n && (!n || !memcmp(a.data, in, n)));
    ztok_buf_free(&a);
    ztok_buf_free(&b);
  }
}

/* ---- tables --------------------------------------------------------------------------- */

static void test_byte_alphabet(void) {
  setup();
  /* GPT-2's bytes_to_unicode, rebuilt. */
  int next = 256;
  for (int b = 0; b < 256; b++) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    int want = printable ? b : next++;
    CHECK_MSG(ztok_byte_char[b] == want, "byte 0x%02x -> U+%04X, want U+%04X", b,
              ztok_byte_char[b], want);
    CHECK_EQ_INT(ztok_char_byte(ztok_byte_char[b]), b);
  }
  int mapped = 0;
  for (uint32_t cp = 0; cp < 0x200; cp++) mapped += ztok_char_byte(cp) >= 0;
  CHECK_EQ_INT(mapped, 256);
}

static void test_nfc_inert_table(void) {
  setup();
  /* Characters that can be the second of a canonical composition: every
   * non-first character of a canonical decomposition, and Hangul V/T jamo. */
  static unsigned char second[0x110000 / 8];
  memset(second, 0, sizeof second);
  for (int32_t cp = 0; cp < 0x110000; cp++) {
    utf8proc_int32_t d[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 32, UTF8PROC_DECOMPOSE, &last);
    for (utf8proc_ssize_t i = 1; i < n && i < 32; i++) second[d[i] >> 3] |= (unsigned char)(1 << (d[i] & 7));
  }
  for (int32_t cp = 0x1161; cp <= 0x1175; cp++) second[cp >> 3] |= (unsigned char)(1 << (cp & 7));
  for (int32_t cp = 0x11a8; cp <= 0x11c2; cp++) second[cp >> 3] |= (unsigned char)(1 << (cp & 7));
  int bad = 0, n = 0;
  for (int32_t cp = 0; cp < 0x110000; cp++) {
    if (!ztok_nfc_inert((uint32_t)cp)) continue;
    n++;
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    utf8proc_uint8_t in[8], *out = NULL;
    utf8proc_ssize_t k = utf8proc_encode_char(cp, in);
    utf8proc_ssize_t m = utf8proc_map(in, k, &out, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int same = m == k && out && !memcmp(in, out, (size_t)k);
    free(out);
    if (p->combining_class != 0 || (second[cp >> 3] >> (cp & 7) & 1) || !same) {
      if (bad++ < 5) fprintf(stderr, "  U+%04X is not NFC-inert\n", cp);
    }
  }
  CHECK_MSG(bad == 0, "%d characters marked inert are not", bad);
  CHECK(n > 40000);
}

/* ---- JSON strings with NUL --------------------------------------------------------- */

static void test_json_nul(void) {
  setup();
  const char *doc = "{\"a\\u0000b\": \"x\\u0000y\"}";
  zj_value v;
  CHECK_STATUS(zj_parse(doc, strlen(doc), &v), ZMLX_STATUS_CORRUPT_DATA);
  CHECK_OK(zj_parse_ex(doc, strlen(doc), ZJ_ALLOW_NUL, &v));
  CHECK(v.type == ZJ_OBJECT && v.n == 1);
  if (v.n == 1) {
    CHECK_EQ_INT(v.key_lens[0], 3);
    CHECK(!memcmp(v.keys[0], "a\0b", 3));
    CHECK_EQ_INT(v.items[0].len, 3);
    CHECK(!memcmp(v.items[0].string, "x\0y", 3));
  }
  zj_free(&v);
}

/* ---- toy BPE against a plain merge loop --------------------------------------------- */

/* A random toy: alphabet a..a+k-1, random merges of existing tokens. The
 * reference merge below works on strings only. */
typedef struct toy {
  int k; /* alphabet size */
  int n_tok;
  char tok[400][24];
  int n_merge;
  int ml[400], mr[400]; /* token indices of each merge, by rank */
} toy;

static int toy_find(const toy *t, const char *s) {
  for (int i = 0; i < t->n_tok; i++)
    if (!strcmp(t->tok[i], s)) return i;
  return -1;
}

static void toy_make(toy *t, int k, int merges) {
  memset(t, 0, sizeof *t);
  t->k = k;
  for (int i = 0; i < k; i++) {
    t->tok[i][0] = (char)('a' + i);
    t->n_tok++;
  }
  int tries = 0;
  while (t->n_merge < merges && tries++ < 10000) {
    int a = (int)rnd_in(0, t->n_tok - 1), b = (int)rnd_in(0, t->n_tok - 1);
    char cat[48];
    snprintf(cat, sizeof cat, "%s%s", t->tok[a], t->tok[b]);
    if (strlen(cat) >= 20) continue;
    int dup = 0;
    for (int m = 0; m < t->n_merge; m++) dup |= t->ml[m] == a && t->mr[m] == b;
    if (dup) continue;
    if (toy_find(t, cat) < 0) snprintf(t->tok[t->n_tok++], 24, "%s", cat);
    t->ml[t->n_merge] = a;
    t->mr[t->n_merge] = b;
    t->n_merge++;
  }
}

static char *toy_json(const toy *t) {
  size_t cap = 65536;
  char *j = malloc(cap);
  size_t n = (size_t)snprintf(j, cap, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
  for (int i = 0; i < t->n_tok; i++)
    n += (size_t)snprintf(j + n, cap - n, "%s\"%s\": %d", i ? ", " : "", t->tok[i], i);
  n += (size_t)snprintf(j + n, cap - n, "}, \"merges\": [");
  for (int m = 0; m < t->n_merge; m++)
    n += (size_t)snprintf(j + n, cap - n, m % 2 ? "%s[\"%s\", \"%s\"]" : "%s\"%s %s\"",
                          m ? ", " : "", t->tok[t->ml[m]], t->tok[t->mr[m]]);
  snprintf(j + n, cap - n, "]}}");
  return j;
}

/* The plain loop: lowest rank first, leftmost among equals. */
static int toy_reference(const toy *t, const char *word, int *out) {
  int n = (int)strlen(word);
  char (*sym)[24] = malloc((size_t)n * sizeof *sym);
  for (int i = 0; i < n; i++) {
    sym[i][0] = word[i];
    sym[i][1] = 0;
  }
  for (;;) {
    int best = -1, best_rank = 1 << 30;
    for (int i = 0; i + 1 < n; i++) {
      int a = toy_find(t, sym[i]), b = toy_find(t, sym[i + 1]);
      for (int m = 0; m < t->n_merge && m < best_rank; m++)
        if (t->ml[m] == a && t->mr[m] == b) {
          best_rank = m;
          best = i;
        }
    }
    if (best < 0) break;
    size_t la = strlen(sym[best]), lb = strlen(sym[best + 1]);
    memcpy(sym[best] + la, sym[best + 1], lb + 1);
    memmove(sym + best + 1, sym + best + 2, (size_t)(n - best - 2) * sizeof *sym);
    n--;
  }
  for (int i = 0; i < n; i++) out[i] = toy_find(t, sym[i]);
  free(sym);
  return n;
}

static void test_bpe_against_reference(void) {
  setup();
  for (int round = 0; round < 6; round++) {
    toy *t = malloc(sizeof *t);
    toy_make(t, (int)rnd_in(2, 6), (int)rnd_in(5, 120));
    char *json = toy_json(t);
    zmlx_tokenizer *tok = load_text(json);
    for (int w = 0; w < 25 && tok; w++) {
      /* Lengths both sides of the short/long switch (48 symbols). */
      int len = (int)(w < 12 ? rnd_in(1, 48) : rnd_in(49, 400));
      char word[401];
      for (int i = 0; i < len; i++) word[i] = (char)('a' + rnd_in(0, t->k - 1));
      word[len] = 0;
      int *want = malloc((size_t)len * sizeof *want);
      int nw = toy_reference(t, word, want);
      zmlx_tokens got = {0};
      if (encode(tok, word, (size_t)len, 0, &got)) {
        int same = got.n == nw;
        for (int i = 0; same && i < nw; i++) same = got.ids[i] == want[i];
        CHECK_MSG(same, "toy %d word %d (%d chars): BPE differs from the reference", round, w, len);
        if (!same) {
          fprintf(stderr, "  word %s\n", word);
          print_ids("got", got.ids, got.n);
          print_ids("want", want, nw);
        }
        /* Decoding without a decoder joins the tokens with spaces. */
        char *s = decode(tok, &got, 0, NULL);
        char joined[401];
        size_t k = 0;
        for (int i = 0; s && s[i] && k < 400; i++)
          if (s[i] != ' ') joined[k++] = s[i];
        joined[k] = 0;
        CHECK_MSG(s && !strcmp(joined, word), "decode of toy %d word %d differs", round, w);
        free(s);
      }
      zmlx_tokens_free(&got);
      free(want);
    }
    zmlx_tokenizer_free(tok);
    free(json);
    free(t);
  }
}

/* ---- added tokens on a toy ------------------------------------------------------------ */

static const char toy_added[] =
    "{\"added_tokens\": ["
    " {\"id\": 10, \"content\": \"<x>\", \"single_word\": false, \"lstrip\": false, "
    "  \"rstrip\": false, \"normalized\": false, \"special\": true},"
    " {\"id\": 11, \"content\": \"<xy>\", \"single_word\": false, \"lstrip\": true, "
    "  \"rstrip\": true, \"normalized\": false, \"special\": false},"
    " {\"id\": 12, \"content\": \"ab\", \"single_word\": true, \"lstrip\": false, "
    "  \"rstrip\": false, \"normalized\": false, \"special\": false}],"
    " \"normalizer\": null,"
    " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+|[^\\\\s]+\"},"
    "   \"behavior\": \"Isolated\", \"invert\": false},"
    " \"post_processor\": {\"type\": \"TemplateProcessing\","
    "   \"single\": [{\"SpecialToken\": {\"id\": \"<x>\", \"type_id\": 0}},"
    "               {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
    "   \"special_tokens\": {\"<x>\": {\"id\": \"<x>\", \"ids\": [7], \"tokens\": [\"<x>\"]}}},"
    " \"decoder\": {\"type\": \"Fuse\"},"
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \" \": 2, \"<\": 3, "
    "   \">\": 4, \"x\": 5, \"y\": 6},"
    "   \"merges\": []}}";

static void test_added_tokens(void) {
  setup();
  zmlx_tokenizer *t = load_text(toy_added);
  if (!t) return;
  /* As `tokenizers` does, added tokens that the vocabulary lacks get the
   * ids after it, in order (7, 8, 9); the file's ids (10, 11, 12) are only
   * checked against that there. */
  /* Leftmost, then longest: "<xy>" over "<x>". */
  CHECK_IDS(t, "a<xy>b<x>", 0, 8, 1, 7);
  /* lstrip/rstrip take the spaces around "<xy>" into it. */
  CHECK_IDS(t, "a  <xy>  b", 0, 8, 1);
  /* single_word: "ab" only stands alone. */
  CHECK_IDS(t, "ab", 9);
  CHECK_IDS(t, "a ab b", 0, 2, 9, 2, 1);
  CHECK_IDS(t, "aab", 0, 0, 1);
  CHECK_IDS(t, "ab<x>", 9, 7);
  /* The post-processor's <x> only when asked. */
  zmlx_tokens ids = {0};
  CHECK_OK(zmlx_tokenizer_encode(t, "a", 1, ZMLX_TOKENIZE_ADD_SPECIAL, &ids));
  CHECK(ids.n == 2 && ids.ids[0] == 7 && ids.ids[1] == 0);
  CHECK(zmlx_tokenizer_is_special(t, 7) && !zmlx_tokenizer_is_special(t, 8));
  /* Decoding: special <x> skipped only when asked; unknown ids skipped. */
  const int32_t d[] = {0, 7, 8, 999, -5, 1};
  zmlx_tokens in = {(int32_t *)d, 6, 6};
  char *s = decode(t, &in, 0, NULL);
  CHECK(s && !strcmp(s, "a<x><xy>b"));
  free(s);
  s = decode(t, &in, ZMLX_TOKENIZE_SKIP_SPECIAL, NULL);
  CHECK(s && !strcmp(s, "a<xy>b"));
  free(s);
  CHECK_EQ_INT(zmlx_tokenizer_vocab_size(t), 10);
  const char *txt;
  size_t n;
  CHECK_OK(zmlx_tokenizer_id_to_token(t, 8, &txt, &n));
  CHECK(n == 4 && !memcmp(txt, "<xy>", 4));
  CHECK_STATUS(zmlx_tokenizer_id_to_token(t, 10, &txt, &n), ZMLX_STATUS_NOT_FOUND);
  int32_t id;
  CHECK_STATUS(zmlx_tokenizer_token_to_id(t, "zz", 2, &id), ZMLX_STATUS_NOT_FOUND);
  zmlx_tokens_free(&ids);
  zmlx_tokenizer_free(t);
}

/* ---- malformed files ------------------------------------------------------------------ */

static void bad_file(const char *json, zmlx_status want, const char *needle) {
  zmlx_tokenizer *t = (zmlx_tokenizer *)1;
  zmlx_status s = zmlx_tokenizer_load_json(json, strlen(json), &t);
  CHECK_MSG(s == want, "load of %.60s: %s, want %s (%s)", json, zmlx_status_name(s),
            zmlx_status_name(want), zmlx_error_last());
  CHECK(t == NULL);
  if (needle) CHECK_CONTAINS(zmlx_error_last(), needle);
}

#define MODEL(v, m) "{\"model\": {\"type\": \"BPE\", \"vocab\": " v ", \"merges\": " m "}"
static void test_malformed_files(void) {
  setup();
  bad_file("", ZMLX_STATUS_CORRUPT_DATA, "line 1");
  bad_file("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}", ZMLX_STATUS_CORRUPT_DATA, "line 1");
  bad_file("[]", ZMLX_STATUS_CORRUPT_DATA, "object");
  bad_file("{}", ZMLX_STATUS_CORRUPT_DATA, "model");
  bad_file("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", ZMLX_STATUS_UNSUPPORTED, "Unigram");
  bad_file(MODEL("{\"a\": -1}", "[]") "}", ZMLX_STATUS_CORRUPT_DATA, "model.vocab");
  bad_file(MODEL("{\"a\": 0.5}", "[]") "}", ZMLX_STATUS_CORRUPT_DATA, "model.vocab");
  bad_file(MODEL("{\"a\": 0, \"b\": 1}", "[\"a b c\"]") "}", ZMLX_STATUS_CORRUPT_DATA, "merges[0]");
  bad_file(MODEL("{\"a\": 0, \"b\": 1}", "[\"a b\"]") "}", ZMLX_STATUS_CORRUPT_DATA, "\"ab\"");
  bad_file(MODEL("{\"a\": 0, \"b\": 1}", "[\"a z\"]") "}", ZMLX_STATUS_CORRUPT_DATA, "\"z\"");
  bad_file(MODEL("{\"a\": 0}", "[[\"a\"]]") "}", ZMLX_STATUS_CORRUPT_DATA, "merges[0]");
  bad_file(MODEL("{\"a\": 0}", "7") "}", ZMLX_STATUS_CORRUPT_DATA, "merges");
  bad_file(MODEL("{\"a\": 0}", "[]") ", \"normalizer\": {\"type\": \"BertNormalizer\"}}",
           ZMLX_STATUS_UNSUPPORTED, "BertNormalizer");
  bad_file(MODEL("{\"a\": 0}", "[]") ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
           "{\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}",
           ZMLX_STATUS_CORRUPT_DATA, "regex");
  bad_file(MODEL("{\"a\": 0}", "[]") ", \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
           "{\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}}",
           ZMLX_STATUS_CORRUPT_DATA, "Sideways");
  bad_file(MODEL("{\"a\": 0}", "[]") ", \"decoder\": {\"type\": \"WordPiece\"}}",
           ZMLX_STATUS_UNSUPPORTED, "WordPiece");
  bad_file(MODEL("{\"a\": 0}", "[]") ", \"added_tokens\": [{\"id\": 1}]}",
           ZMLX_STATUS_CORRUPT_DATA, "content");
  bad_file("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [], \"unk_token\": \"<u>\"}}",
           ZMLX_STATUS_CORRUPT_DATA, "unk_token");
  bad_file("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [], \"dropout\": 0.1}}",
           ZMLX_STATUS_UNSUPPORTED, "dropout");
  zmlx_tokenizer *t = NULL;
  CHECK_STATUS(zmlx_tokenizer_load("/nonexistent/zmlx/tokenizer", &t), ZMLX_STATUS_NOT_FOUND);
  CHECK_STATUS(zmlx_tokenizer_load_json(NULL, 0, &t), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tokenizer_encode(NULL, "a", 1, 0, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  /* Truncations of a valid file: every prefix fails cleanly. */
  const char *good = toy_added;
  size_t n = strlen(good);
  for (size_t cut = 0; cut < n; cut += 1 + (size_t)rnd_in(0, 6)) {
    zmlx_status s = zmlx_tokenizer_load_json(good, cut, &t);
    CHECK_MSG(s != ZMLX_STATUS_OK && t == NULL, "prefix of %zu bytes loaded", cut);
  }
}

/* ---- chat templates ---------------------------------------------------------------------- */

static void check_chat(zmlx_chat_format f, const zmlx_chat_message *m, int n,
                       const zmlx_chat_options *o, const char *want) {
  char *s = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_chat_render(f, m, n, o, &s, &len));
  CHECK_MSG(s && !strcmp(s, want) && len == strlen(want), "chat render:\n--- got\n%s\n--- want\n%s",
            s ? s : "(null)", want);
  free(s);
}

static void test_chat_templates(void) {
  setup();
  /* Worked by hand from Qwen3's Jinja template. */
  const zmlx_chat_message a[] = {{"system", "You are helpful."}, {"user", "Hi"},
                                 {"assistant", "<think>\nplan\n</think>\n\nHello!"},
                                 {"user", "Again"}};
  zmlx_chat_options gen_nothink = {1, 0}, plain = {0, 1};
  check_chat(ZMLX_CHAT_QWEN3, a, 4, &gen_nothink,
             "<|im_start|>system\nYou are helpful.<|im_end|>\n"
             "<|im_start|>user\nHi<|im_end|>\n"
             "<|im_start|>assistant\nHello!<|im_end|>\n"
             "<|im_start|>user\nAgain<|im_end|>\n"
             "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  const zmlx_chat_message b[] = {{"user", "Q"}, {"assistant", "<think>r</think>A"}};
  check_chat(ZMLX_CHAT_QWEN3, b, 2, &plain,
             "<|im_start|>user\nQ<|im_end|>\n"
             "<|im_start|>assistant\n<think>\nr\n</think>\n\nA<|im_end|>\n");
  check_chat(ZMLX_CHAT_QWEN3, b, 1, NULL, "<|im_start|>user\nQ<|im_end|>\n");
  zmlx_chat_options gen = {1, 1};
  check_chat(ZMLX_CHAT_QWEN3, NULL, 0, &gen, "<|im_start|>assistant\n");
  /* Llama-3: content trimmed as Python's str.strip() does. */
  const zmlx_chat_message c[] = {{"system", " \t sys \n"}, {"user", "hi\n\x1f"}};
  check_chat(ZMLX_CHAT_LLAMA3, c, 2, &gen,
             "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nsys<|eot_id|>"
             "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\n");
  char *s;
  size_t len;
  CHECK_STATUS(zmlx_chat_render((zmlx_chat_format)9, c, 2, NULL, &s, &len),
               ZMLX_STATUS_INVALID_ARGUMENT);
  const zmlx_chat_message bad[] = {{"user", NULL}};
  CHECK_STATUS(zmlx_chat_render(ZMLX_CHAT_QWEN3, bad, 1, NULL, &s, &len),
               ZMLX_STATUS_INVALID_ARGUMENT);
}

/* ---- the real tokenizers ---------------------------------------------------------------- */

static const char *names[] = {"qwen3", "llama2", "gpt4o"};

static zmlx_tokenizer *load_real(const char *name) {
  char path[4200];
  const char *dir = getenv("ZMLX_TOKENIZERS_DIR");
  if (dir) snprintf(path, sizeof path, "%s/%s", dir, name);
  else snprintf(path, sizeof path, "%s/.data/tokenizers/%s", root(), name);
  zmlx_tokenizer *t = NULL;
  zmlx_status s = zmlx_tokenizer_load(path, &t);
  if (s == ZMLX_STATUS_NOT_FOUND) {
    printf("  (%s: no %s; scripts/fetch_tokenizers.sh fetches it)\n", name, path);
    return NULL;
  }
  CHECK_MSG(s == ZMLX_STATUS_OK, "load %s: %s", path, zmlx_error_last());
  return t;
}

static int any_real(void) {
  for (int i = 0; i < 3; i++) {
    zmlx_tokenizer *t = load_real(names[i]);
    if (t) {
      zmlx_tokenizer_free(t);
      return 1;
    }
  }
  return 0;
}

static void test_real_known_ids(void) {
  setup();
  zmlx_tokenizer *q = load_real("qwen3");
  if (q) {
    /* Whole words the vocabulary holds; special tokens from added_tokens. */
    CHECK_IDS(q, "Hello world", id_of(q, "Hello"), id_of(q, "\xc4\xa0world"));
    CHECK_IDS(q, "<|im_start|>user\n", 151644, id_of(q, "user"), id_of(q, "\xc4\x8a"));
    CHECK_IDS(q, "<think></think>", 151667, 151668);
    /* An unfinished special token is plain text. */
    zmlx_tokens part = {0};
    if (encode(q, "<|endoftext", 11, 0, &part)) {
      for (int64_t k = 0; k < part.n; k++) CHECK(part.ids[k] < 151643);
      char *s = decode(q, &part, 0, NULL);
      CHECK(s && !strcmp(s, "<|endoftext"));
      free(s);
    }
    zmlx_tokens_free(&part);
    /* Digits one by one (\p{N}). */
    CHECK_IDS(q, "2024", id_of(q, "2"), id_of(q, "0"), id_of(q, "2"), id_of(q, "4"));
    /* NFC: e + combining acute is encoded as the precomposed character. */
    zmlx_tokens a = {0}, b = {0};
    if (encode(q, "caf\x65\xcc\x81", 6, 0, &a) && encode(q, "caf\xc3\xa9", 5, 0, &b))
      CHECK(same_tokens(&a, &b));
    zmlx_tokens_free(&a);
    zmlx_tokens_free(&b);
    zmlx_tokenizer_free(q);
  }
  zmlx_tokenizer *l = load_real("llama2");
  if (l) {
    CHECK_IDS(l, "Hello world", id_of(l, "\xe2\x96\x81Hello"), id_of(l, "\xe2\x96\x81world"));
    /* Byte fallback for a character the vocabulary lacks (U+1D54F). */
    CHECK_IDS(l, "\xf0\x9d\x95\x8f", id_of(l, "\xe2\x96\x81"), id_of(l, "<0xF0>"), id_of(l, "<0x9D>"),
              id_of(l, "<0x95>"), id_of(l, "<0x8F>"));
    zmlx_tokens ids = {0};
    CHECK_OK(zmlx_tokenizer_encode(l, "Hi", 2, ZMLX_TOKENIZE_ADD_SPECIAL, &ids));
    CHECK(ids.n >= 2 && ids.ids[0] == 1);
    zmlx_tokens_free(&ids);
    zmlx_tokenizer_free(l);
  }
  zmlx_tokenizer *g = load_real("gpt4o");
  if (g) {
    CHECK_IDS(g, "Hello world", id_of(g, "Hello"), id_of(g, "\xc4\xa0world"));
    /* Up to three digits a piece. */
    CHECK_IDS(g, "1234567", id_of(g, "123"), id_of(g, "456"), id_of(g, "7"));
    CHECK_IDS(g, "<|endoftext|>", 199999);
    zmlx_tokenizer_free(g);
  }
}

/* Random valid text from a mix of scripts, spaces and specials. */
static size_t random_text(char *out, size_t cap, int with_specials) {
  static const char *parts[] = {"the", " quick", "  ", "\n", "\t", "\xe4\xb8\xad\xe6\x96\x87",
                                "\xe3\x81\x8b\xe3\x81\xaa", "\xed\x95\x9c", "\xf0\x9f\x98\x80",
                                "123", "4567", "!?", " ", "\xc3\xa9", "e\xcc\x81", "'s", "'LL",
                                "\xf0\x9d\x95\x8f", "\xe2\x80\x8b", "\r\n", "x"};
  static const char *specials[] = {"<|endoftext|>", "<|im_start|>", "<s>", "</s>", "<think>"};
  size_t n = 0;
  int k = (int)rnd_in(0, 40);
  for (int i = 0; i < k; i++) {
    const char *p = with_specials && rnd() % 10 == 0 ? specials[rnd() % 5]
                                                      : parts[rnd() % (sizeof parts / sizeof *parts)];
    size_t l = strlen(p);
    if (n + l >= cap) break;
    memcpy(out + n, p, l);
    n += l;
  }
  out[n] = 0;
  return n;
}

static void test_real_round_trips(void) {
  setup();
  for (int i = 0; i < 3; i++) {
    zmlx_tokenizer *t = load_real(names[i]);
    if (!t) continue;
    for (int round = 0; round < 200; round++) {
      char text[512];
      size_t n = random_text(text, sizeof text, 0);
      zmlx_tokens ids = {0};
      if (!encode(t, text, n, 0, &ids)) break;
      size_t dn;
      char *back = decode(t, &ids, 0, &dn);
      /* Qwen3 normalizes to NFC first: compare with the NFC text. */
      char *want = text;
      utf8proc_uint8_t *nfc = NULL;
      if (i == 0) {
        utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)n, &nfc,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (k >= 0) want = (char *)nfc;
      }
      int same = back && dn == strlen(want) && !memcmp(back, want, dn);
      CHECK_MSG(same, "%s: decode(encode(x)) != x for \"%s\" -> \"%s\"", names[i], text,
                back ? back : "(null)");
      free(nfc);
      free(back);
      zmlx_tokens_free(&ids);
      if (!same) break;
    }
    /* Invalid UTF-8 reads as its repaired form. */
    const char bad[] = "ok\xff\xe4\xbd end";
    zmlx_tokens a = {0}, b = {0};
    ztok_buf fixed = {0};
    CHECK_OK(ztok_utf8_sanitize(&fixed, bad, sizeof bad - 1));
    if (encode(t, bad, sizeof bad - 1, 0, &a) && encode(t, fixed.data, fixed.len, 0, &b))
      CHECK(same_tokens(&a, &b));
    ztok_buf_free(&fixed);
    zmlx_tokens_free(&a);
    zmlx_tokens_free(&b);
    zmlx_tokenizer_free(t);
  }
}

static void test_real_stream(void) {
  setup();
  for (int i = 0; i < 3; i++) {
    zmlx_tokenizer *t = load_real(names[i]);
    if (!t) continue;
    for (int round = 0; round < 60; round++) {
      char text[512];
      size_t n = random_text(text, sizeof text, 1);
      zmlx_tokens ids = {0};
      if (!encode(t, text, n, 0, &ids)) break;
      int flags = round % 2 ? ZMLX_TOKENIZE_SKIP_SPECIAL : 0;
      char *whole = NULL;
      size_t wn = 0;
      CHECK_OK(zmlx_tokenizer_decode(t, ids.ids, ids.n, flags, &whole, &wn));
      zmlx_token_stream *s = NULL;
      CHECK_OK(zmlx_token_stream_create(t, flags, &s));
      char acc[4096];
      size_t an = 0;
      int ok = s != NULL;
      for (int64_t k = 0; ok && k <= ids.n;) {
        int64_t step = k < ids.n ? rnd_in(1, 3) : 0;
        if (k + step > ids.n) step = ids.n - k;
        const char *piece;
        size_t pn;
        zmlx_status st = step ? zmlx_token_stream_feed(s, ids.ids + k, step, &piece, &pn)
                              : zmlx_token_stream_flush(s, &piece, &pn);
        CHECK_MSG(st == ZMLX_STATUS_OK, "stream: %s", zmlx_error_last());
        if (st) break;
        /* Every piece is whole characters (flush may hold U+FFFD). */
        CHECK(ztok_utf8_is_valid(piece, pn));
        if (an + pn < sizeof acc) memcpy(acc + an, piece, pn);
        an += pn;
        if (!step) break;
        k += step;
      }
      CHECK_MSG(an == wn && (wn == 0 || !memcmp(acc, whole, wn)), "%s: stream != decode for \"%s\"",
                names[i], text);
      zmlx_token_stream_free(s);
      free(whole);
      zmlx_tokens_free(&ids);
    }
    /* A character cut across byte tokens comes out once, whole. */
    int32_t b[4];
    const char *hex[4] = {"<0xF0>", "<0x9D>", "<0x95>", "<0x8F>"};
    int have = 1;
    for (int k = 0; k < 4; k++) have &= zmlx_tokenizer_token_to_id(t, hex[k], 6, &b[k]) == ZMLX_STATUS_OK;
    if (!have) {
      /* Byte-level vocabularies: the bytes' own characters. */
      const unsigned char raw[4] = {0xf0, 0x9d, 0x95, 0x8f};
      have = 1;
      for (int k = 0; k < 4; k++) {
        char u[4];
        size_t l = ztok_utf8_encode(ztok_byte_char[raw[k]], u);
        have &= zmlx_tokenizer_token_to_id(t, u, l, &b[k]) == ZMLX_STATUS_OK;
      }
    }
    zmlx_error_clear();
    if (have) {
      zmlx_token_stream *s = NULL;
      CHECK_OK(zmlx_token_stream_create(t, 0, &s));
      size_t total = 0;
      for (int k = 0; s && k < 4; k++) {
        const char *piece;
        size_t pn;
        CHECK_OK(zmlx_token_stream_feed(s, &b[k], 1, &piece, &pn));
        CHECK_MSG(k == 3 ? strstr(piece, "\xf0\x9d\x95\x8f") != NULL : pn == 0,
                  "%s: piece %d of a split character: %zu bytes", names[i], k, pn);
        total += pn;
      }
      CHECK(total > 0);
      zmlx_token_stream_free(s);
    }
    zmlx_tokenizer_free(t);
  }
}

typedef struct thread_arg {
  const zmlx_tokenizer *t;
  const char *text;
  size_t n;
  zmlx_tokens ids;
  int ok;
} thread_arg;

static void *encode_thread(void *p) {
  thread_arg *a = p;
  a->ok = 1;
  for (int i = 0; i < 20 && a->ok; i++)
    a->ok = zmlx_tokenizer_encode(a->t, a->text, a->n, 0, &a->ids) == ZMLX_STATUS_OK;
  return NULL;
}

static void test_real_threads_and_junk(void) {
  setup();
  for (int i = 0; i < 3; i++) {
    zmlx_tokenizer *t = load_real(names[i]);
    if (!t) continue;
    char text[512];
    size_t n = random_text(text, sizeof text, 1);
    thread_arg a[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
      a[k] = (thread_arg){t, text, n, {0}, 0};
      pthread_create(&th[k], NULL, encode_thread, &a[k]);
    }
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) {
      CHECK(a[k].ok);
      CHECK(same_tokens(&a[k].ids, &a[0].ids));
    }
    for (int k = 0; k < 4; k++) zmlx_tokens_free(&a[k].ids);
    /* Random bytes never fail and decode to valid UTF-8. */
    for (int round = 0; round < 50; round++) {
      unsigned char junk[300];
      size_t jn = (size_t)rnd_in(0, sizeof junk);
      rnd_bytes(junk, jn);
      zmlx_tokens ids = {0};
      if (encode(t, (const char *)junk, jn, round % 2 ? ZMLX_TOKENIZE_ADD_SPECIAL : 0, &ids)) {
        size_t dn;
        char *s = decode(t, &ids, 0, &dn);
        CHECK(s && ztok_utf8_is_valid(s, dn));
        free(s);
      }
      zmlx_tokens_free(&ids);
    }
    zmlx_tokenizer_free(t);
  }
}

/* ---- committed vectors from Hugging Face `tokenizers` ---------------------------------- */

typedef struct corpus_doc { char name[128]; const char *p; size_t n; } corpus_doc;

static corpus_doc *read_corpus(char *data, size_t len, int *n_docs) {
  const char head[] = "zmlx-tok-corpus v1\n";
  *n_docs = 0;
  if (len < sizeof head - 1 || memcmp(data, head, sizeof head - 1)) return NULL;
  corpus_doc *d = calloc(4096, sizeof *d);
  char *p = data + sizeof head - 1, *end = data + len;
  while (d && p < end && *n_docs < 4096) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *sp = nl ? memrchr(p, ' ', (size_t)(nl - p)) : NULL;
    if (!sp) break;
    corpus_doc *c = &d[(*n_docs)++];
    snprintf(c->name, sizeof c->name, "%.*s", (int)(sp - p), p);
    c->n = strtoull(sp + 1, NULL, 10);
    c->p = nl + 1;
    p = nl + 1 + c->n + 1;
  }
  return d;
}

/* <name>.ids: "# ..." comments, then per document
 *   "<doc> plain|special <n>: id id ..."   the ids of encode(text, add_special_tokens)
 *   "<doc> decode|decode_skip <sha256>"    (checked by the peer script, not here) */
static void test_hf_vectors(void) {
  setup();
  char path[4200];
  snprintf(path, sizeof path, "%s/tests/data/tokenizer/text.txt", root());
  size_t tlen;
  char *text = slurp(path, &tlen);
  int n_docs = 0;
  corpus_doc *docs = text ? read_corpus(text, tlen, &n_docs) : NULL;
  CHECK_MSG(docs && n_docs > 50, "cannot read %s", path);
  int checked = 0;
  for (int i = 0; docs && i < 3; i++) {
    char vp[4300];
    snprintf(vp, sizeof vp, "%s/tests/data/tokenizer/%s.ids", root(), names[i]);
    char *vec = slurp(vp, NULL);
    if (!vec) {
      printf("  (no %s: generate it on a machine with Python `tokenizers`: "
             "python3 scripts/gen_token_vectors.py)\n", vp);
      continue;
    }
    zmlx_tokenizer *t = load_real(names[i]);
    if (!t) {
      free(vec);
      continue;
    }
    zmlx_tokens got = {0}, want = {0};
    int mismatches = 0, lines = 0;
    for (char *line = strtok(vec, "\n"); line; line = strtok(NULL, "\n")) {
      if (line[0] == '#') continue;
      char doc[128], kind[16];
      int k = 0;
      if (sscanf(line, "%127s %15s %n", doc, kind, &k) < 2) continue;
      if (strcmp(kind, "plain") && strcmp(kind, "special")) continue;
      char *colon = strchr(line, ':');
      if (!colon) continue;
      want.n = 0;
      for (char *p = colon + 1; *p;) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p) break;
        if (want.n == want.cap) {
          want.cap = want.cap ? want.cap * 2 : 1024;
          want.ids = realloc(want.ids, (size_t)want.cap * sizeof *want.ids);
        }
        want.ids[want.n++] = (int32_t)v;
        p = e;
      }
      const corpus_doc *d = NULL;
      for (int j = 0; j < n_docs; j++)
        if (!strcmp(docs[j].name, doc)) d = &docs[j];
      CHECK_MSG(d != NULL, "%s: document %s not in text.txt", vp, doc);
      if (!d) continue;
      lines++;
      if (!encode(t, d->p, d->n, strcmp(kind, "special") ? 0 : ZMLX_TOKENIZE_ADD_SPECIAL, &got)) continue;
      if (!ids_equal(&got, want.ids, want.n)) {
        if (mismatches++ < 3) {
          int64_t at = 0;
          while (at < got.n && at < want.n && got.ids[at] == want.ids[at]) at++;
          fprintf(stderr, "  %s %s %s: first difference at id %lld\n", names[i], doc, kind,
                  (long long)at);
          int64_t from = at > 5 ? at - 5 : 0;
          print_ids("got", got.ids + from, got.n - from);
          print_ids("want", want.ids + from, want.n - from);
        }
      }
    }
    CHECK_MSG(mismatches == 0, "%s: %d of %d documents differ from Hugging Face", names[i],
              mismatches, lines);
    CHECK(lines > 0);
    checked += lines;
    zmlx_tokens_free(&got);
    zmlx_tokens_free(&want);
    zmlx_tokenizer_free(t);
    free(vec);
  }
  if (!checked) printf("  (no Hugging Face vectors checked)\n");
  free(docs);
  free(text);
}

static void test_real_files_present(void) {
  setup();
  /* Everything else above ran; this says clearly when the real files were
   * missing (each real test printed why and checked nothing of them). */
  if (!any_real()) printf("  SKIP-PART: real tokenizer files absent (scripts/fetch_tokenizers.sh)\n");
  CHECK(1);
}

ZT_MAIN(ZT(test_utf8_repair), ZT(test_byte_alphabet), ZT(test_nfc_inert_table),
        ZT(test_json_nul), ZT(test_bpe_against_reference), ZT(test_added_tokens),
        ZT(test_malformed_files), ZT(test_chat_templates), ZT(test_real_known_ids),
        ZT(test_real_round_trips), ZT(test_real_stream), ZT(test_real_threads_and_junk),
        ZT(test_hf_vectors), ZT(test_real_files_present))
#endif
