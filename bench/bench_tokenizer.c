/* Tokenizer encoding throughput, one thread: MB/s and tokens/s over a
 * corpus made by scripts/make_tok_corpus.py, each document encoded whole
 * (and, with --lines, each line on its own). One untimed pass first, then
 * the median of --repeat timed passes; scripts/check_tokenizer_peer.py times
 * Hugging Face `tokenizers` the same way.
 *
 *   bench_tokenizer --tokenizer DIR --corpus FILE [--repeat N] [--lines] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zmlx/zmlx.h"

typedef struct doc { const char *p; size_t n; } doc;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) *len = (size_t)n;
  return p;
}

/* "zmlx-tok-corpus v1\n" then "<name> <n>\n<n bytes>\n" per document. */
static doc *parse_corpus(const char *data, size_t len, size_t *n_docs) {
  static const char head[] = "zmlx-tok-corpus v1\n";
  if (len < sizeof head - 1 || memcmp(data, head, sizeof head - 1)) return NULL;
  size_t cap = 1024, n = 0;
  doc *d = malloc(cap * sizeof *d);
  const char *p = data + sizeof head - 1, *end = data + len;
  while (d && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *sp = nl ? memrchr(p, ' ', (size_t)(nl - p)) : NULL;
    if (!sp) break;
    size_t k = strtoull(sp + 1, NULL, 10);
    if (k > (size_t)(end - nl - 1)) break;
    if (n == cap) {
      doc *q = realloc(d, 2 * cap * sizeof *d);
      if (!q) break;
      d = q;
      cap *= 2;
    }
    d[n++] = (doc){nl + 1, k};
    p = nl + 1 + k + 1;
  }
  *n_docs = n;
  return d;
}

/* Lines (with their '\n') of every document. */
static doc *split_lines(const doc *docs, size_t n, size_t *n_out) {
  size_t cap = 4096, k = 0;
  doc *out = malloc(cap * sizeof *out);
  for (size_t i = 0; out && i < n; i++) {
    const char *p = docs[i].p, *end = p + docs[i].n;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      const char *stop = nl ? nl + 1 : end;
      if (k == cap) {
        doc *q = realloc(out, 2 * cap * sizeof *out);
        if (!q) {
          free(out);
          return NULL;
        }
        out = q;
        cap *= 2;
      }
      out[k++] = (doc){p, (size_t)(stop - p)};
      p = stop;
    }
  }
  *n_out = k;
  return out;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median seconds of one pass over docs; *tokens: ids of one pass. */
static int time_passes(const zmlx_tokenizer *tok, const doc *docs, size_t n, int repeat,
                       double *median, double *best, long long *tokens, size_t *bytes) {
  zmlx_tokens ids = {0};
  double *t = calloc((size_t)repeat + 1, sizeof *t);
  if (!t) return 1;
  for (int r = -1; r < repeat; r++) {
    long long ntok = 0;
    size_t nb = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
      if (zmlx_tokenizer_encode(tok, docs[i].p, docs[i].n, 0, &ids)) {
        fprintf(stderr, "bench_tokenizer: %s\n", zmlx_error_last());
        free(t);
        zmlx_tokens_free(&ids);
        return 1;
      }
      ntok += ids.n;
      nb += docs[i].n;
    }
    double dt = now_s() - t0;
    if (r >= 0) t[r] = dt; /* r == -1: the untimed warm-up */
    *tokens = ntok;
    *bytes = nb;
  }
  qsort(t, (size_t)repeat, sizeof *t, cmp_double);
  *median = t[repeat / 2];
  *best = t[0];
  free(t);
  zmlx_tokens_free(&ids);
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *corpus = NULL;
  int repeat = 5, lines = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--corpus") && i + 1 < argc) corpus = argv[++i];
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--lines")) lines = 1;
    else if (!strcmp(argv[i], "--json")) json = 1;
    else {
      fprintf(stderr,
              "usage: bench_tokenizer --tokenizer DIR --corpus FILE [--repeat N] [--lines] "
              "[--json]\n");
      return 2;
    }
  }
  if (!dir || !corpus || repeat < 1) {
    fprintf(stderr, "bench_tokenizer: --tokenizer and --corpus are required\n");
    return 2;
  }
  size_t len = 0, n_docs = 0;
  char *data = read_file(corpus, &len);
  doc *docs = data ? parse_corpus(data, len, &n_docs) : NULL;
  if (!docs) {
    fprintf(stderr, "bench_tokenizer: cannot read the corpus %s\n", corpus);
    free(data);
    return 1;
  }
  double t0 = now_s();
  zmlx_tokenizer *tok;
  if (zmlx_tokenizer_load(dir, &tok)) {
    fprintf(stderr, "bench_tokenizer: %s\n", zmlx_error_last());
    free(docs);
    free(data);
    return 1;
  }
  double load_s = now_s() - t0;
  int rc = 0;
  for (int pass = 0; pass < 1 + lines && !rc; pass++) {
    size_t n = n_docs;
    doc *set = docs;
    if (pass == 1) set = split_lines(docs, n_docs, &n);
    double med, best;
    long long ntok = 0;
    size_t nb = 0;
    rc = !set || time_passes(tok, set, n, repeat, &med, &best, &ntok, &nb);
    if (!rc) {
      const char *mode = pass ? "lines" : "documents";
      double mbs = (double)nb / 1e6 / med, tps = (double)ntok / med;
      if (json)
        printf("{\"impl\": \"zmlx\", \"mode\": \"%s\", \"pieces\": %zu, \"bytes\": %zu, "
               "\"tokens\": %lld, \"median_s\": %.6f, \"best_s\": %.6f, \"mb_per_s\": %.3f, "
               "\"tokens_per_s\": %.1f, \"load_s\": %.4f}\n",
               mode, n, nb, ntok, med, best, mbs, tps, load_s);
      else
        printf("zmlx  %-9s %7zu pieces %9zu bytes %8lld tokens  median %8.4f s  %7.2f MB/s  "
               "%10.0f tokens/s  (load %.3f s)\n",
               mode, n, nb, ntok, med, mbs, tps, load_s);
    }
    if (pass == 1) free(set);
  }
  zmlx_tokenizer_free(tok);
  free(docs);
  free(data);
  return rc;
}
