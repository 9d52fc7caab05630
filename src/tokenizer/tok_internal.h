#ifndef ZMLX_TOKENIZER_INTERNAL_H
#define ZMLX_TOKENIZER_INTERNAL_H
/* Internal: the tokenizer's parts. Each stage mirrors one component of
 * Hugging Face `tokenizers` (named in the comments) closely enough to give
 * the same ids; docs/TOKENIZER.md lists what is supported. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json.h"
#include "tokenizer/tok_util.h"
#include "zmlx/tokenizer.h"

/* ---- Regular expressions (tok_regex.c): PCRE2 with JIT ------------------ */
typedef struct ztok_regex ztok_regex;
/* Compiles an Oniguruma-flavoured pattern (as `tokenizers` uses) into
 * PCRE2; literal=1 escapes it (a {"String": ...} pattern). */
zmlx_status ztok_regex_compile(const char *pattern, size_t len, int literal, ztok_regex **out);
void ztok_regex_free(ztok_regex *re);
/* Per-thread matching state (match data, JIT stack). */
typedef struct ztok_matcher ztok_matcher;
zmlx_status ztok_matcher_create(ztok_matcher **out);
void ztok_matcher_free(ztok_matcher *m);
/* The next match in s[0..n) at or after `from`: 1 and [*start, *end), 0 for
 * none, -1 on a matching error (error text set). */
int ztok_regex_next(const ztok_regex *re, ztok_matcher *m, const char *s, size_t n, size_t from,
                    size_t *start, size_t *end);

/* ---- Normalizers (tok_normalize.c) ------------------------------------- */
typedef enum ztok_norm_kind {
  ZTOK_NORM_NFC, ZTOK_NORM_NFD, ZTOK_NORM_NFKC, ZTOK_NORM_NFKD,
  ZTOK_NORM_PREPEND, ZTOK_NORM_REPLACE, ZTOK_NORM_STRIP
} ztok_norm_kind;

typedef struct ztok_norm {
  ztok_norm_kind kind;
  char *a; size_t a_len;  /* PREPEND: the text; REPLACE: the literal pattern */
  char *b; size_t b_len;  /* REPLACE: the content */
  ztok_regex *re;         /* REPLACE with a regex pattern */
  int left, right;        /* STRIP */
} ztok_norm;

/* ---- Pre-tokenizers (tok_pretok.c) -------------------------------------- */
typedef enum ztok_split_behavior {
  ZTOK_SPLIT_REMOVED, ZTOK_SPLIT_ISOLATED, ZTOK_SPLIT_MERGED_PREV, ZTOK_SPLIT_MERGED_NEXT,
  ZTOK_SPLIT_CONTIGUOUS
} ztok_split_behavior;

typedef enum ztok_pre_kind { ZTOK_PRE_SPLIT, ZTOK_PRE_BYTELEVEL, ZTOK_PRE_METASPACE } ztok_pre_kind;

typedef struct ztok_pre {
  ztok_pre_kind kind;
  ztok_regex *re;               /* SPLIT (also ByteLevel's use_regex) */
  ztok_split_behavior behavior; /* SPLIT */
  int invert;                   /* SPLIT */
  int add_prefix_space;         /* BYTELEVEL */
  int materialize;              /* BYTELEVEL not last: write the mapped chars */
  uint32_t replacement;         /* METASPACE */
  int prepend;                  /* METASPACE: 0 never, 1 always, 2 first */
  int split;                    /* METASPACE */
} ztok_pre;

/* ---- The BPE model (tok_bpe.c) ------------------------------------------ */
typedef struct ztok_bpe {
  ztok_strmap vocab;         /* token text -> id */
  ztok_u64map merges;        /* (left id << 32 | right id) -> (rank << 32 | new id) */
  int32_t byte_ids[256];     /* id of each byte's byte-level character, -1 if none */
  int32_t fallback_ids[256]; /* id of "<0xXX>", -1 if none */
  int32_t unk_id;            /* -1: no unknown token */
  int fuse_unk, byte_fallback, ignore_merges;
  char *prefix, *suffix;     /* continuing_subword_prefix, end_of_word_suffix */
  size_t prefix_len, suffix_len;
  /* Long pre-tokens are cut where no token spans (tok_bpe.c): the adjacent
   * character pairs found in tokens, and the ASCII characters' ids. */
  int split_long;
  ztok_u64map pairs;
  int32_t ascii_ids[128];
} ztok_bpe;

/* ---- Added tokens (tok_added.c) ----------------------------------------- */
typedef struct ztok_added_token {
  char *content; size_t len;
  int32_t id;
  int single_word, lstrip, rstrip, normalized, special;
} ztok_added_token;

typedef struct ztok_trie ztok_trie; /* patterns -> added token index */

typedef struct ztok_added {
  ztok_added_token *tokens; int n;
  ztok_trie *raw;   /* non-normalized tokens, matched on the input */
  ztok_trie *norm;  /* normalized tokens (their normalized text), matched after normalizing */
  ztok_u64map by_id;      /* id -> index in tokens */
  ztok_strmap by_content; /* content -> index in tokens */
} ztok_added;

/* A split of text into pieces: added tokens (id >= 0) and the text between
 * them (id < 0), as `tokenizers`' AddedVocabulary::find_matches. */
typedef struct ztok_span { size_t start, end; int32_t id; } ztok_span;
typedef struct ztok_spans { ztok_span *v; size_t n, cap; } ztok_spans;

/* ---- Decoders (tok_decode.c) --------------------------------------------- */
typedef enum ztok_dec_kind {
  ZTOK_DEC_BYTELEVEL, ZTOK_DEC_REPLACE, ZTOK_DEC_BYTEFALLBACK, ZTOK_DEC_FUSE, ZTOK_DEC_STRIP,
  ZTOK_DEC_METASPACE
} ztok_dec_kind;

typedef struct ztok_dec {
  ztok_dec_kind kind;
  char *a; size_t a_len;       /* REPLACE: pattern */
  char *b; size_t b_len;       /* REPLACE: content */
  uint32_t ch;                 /* STRIP content, METASPACE replacement */
  int start, stop;             /* STRIP */
  int prepend;                 /* METASPACE: 0 never */
} ztok_dec;

/* ---- Post-processor (single sequences only) ----------------------------- */
typedef struct ztok_post {
  int32_t *before; int n_before;  /* special ids before the sequence */
  int32_t *after; int n_after;    /* ... and after it */
} ztok_post;

/* ---- Per-call working memory --------------------------------------------- */
typedef struct ztok_cache ztok_cache;

typedef struct ztok_work {
  ztok_buf text;      /* sanitized input, normalized segments, mapped pieces */
  ztok_buf scratch;   /* BPE symbols and temporary strings */
  ztok_spans outer, inner; /* added-token splits before and after normalizing */
  ztok_matcher *matcher;
  ztok_cache *cache;  /* NULL: no caching */
} ztok_work;

struct zmlx_tokenizer {
  ztok_bpe bpe;
  /* id -> token text (added tokens over the model's), and whether the
   * text is a special token's; NULL text for ids nothing names. */
  const char **id_text;
  uint32_t *id_len;
  unsigned char *id_special;
  ztok_added added;
  ztok_norm *norms; int n_norms;
  ztok_pre *pres; int n_pres;
  int byte_level_input;   /* the last pre-tokenizer is ByteLevel: BPE reads bytes */
  ztok_dec *decs; int n_decs;
  int has_decoder;
  ztok_post post;
  int64_t vocab_size;
  pthread_mutex_t lock;   /* guards `shared` */
  ztok_work shared;       /* the cached working state, used by one call at a time */
};

/* Loading (tok_load.c, tok_load_parts.c). */
zmlx_status ztok_load_normalizer(zmlx_tokenizer *t, const zj_value *v);
zmlx_status ztok_load_pre_tokenizer(zmlx_tokenizer *t, const zj_value *v);
zmlx_status ztok_load_decoder(zmlx_tokenizer *t, const zj_value *v);
zmlx_status ztok_load_post_processor(zmlx_tokenizer *t, const zj_value *v);
zmlx_status ztok_load_bpe(ztok_bpe *m, const zj_value *model);
zmlx_status ztok_load_added(zmlx_tokenizer *t, const zj_value *list);
void ztok_free_parts(zmlx_tokenizer *t);
void ztok_bpe_free(ztok_bpe *m);
void ztok_added_free(ztok_added *a);

/* Normalizing text[0..n) with every normalizer in turn; the result is
 * appended to w->text and returned as [*off, *off + *len). */
zmlx_status ztok_normalize(const zmlx_tokenizer *t, ztok_work *w, size_t off, size_t len,
                           size_t *out_off, size_t *out_len);
/* The same for a standalone string (added tokens' patterns); malloc'd. */
zmlx_status ztok_normalize_string(const zmlx_tokenizer *t, const char *s, size_t n, char **out,
                                  size_t *out_len);

/* Added tokens: split w->text[off, off+len) with a trie into *spans
 * (replacing its contents); offsets relative to off. */
zmlx_status ztok_added_split(const zmlx_tokenizer *t, const ztok_trie *trie, const ztok_work *w,
                             size_t off, size_t len, ztok_spans *spans);
zmlx_status ztok_added_build(zmlx_tokenizer *t);

/* Pre-tokenize w->text[off, off+len) and run the model on each piece,
 * appending ids to out. first: the piece starts the input (Metaspace). */
zmlx_status ztok_pretokenize_and_model(const zmlx_tokenizer *t, ztok_work *w, size_t off,
                                       size_t len, int first, zmlx_tokens *out);

/* The BPE model on one pre-token; bytes: s holds raw bytes to be mapped
 * through the byte-level alphabet. Appends ids. */
zmlx_status ztok_bpe_word(const zmlx_tokenizer *t, ztok_work *w, const char *s, size_t n,
                          int bytes, zmlx_tokens *out);
zmlx_status ztok_cache_create(ztok_cache **out);
/* For tokenizers whose pre-tokens can be long (no splitting regex). */
zmlx_status ztok_bpe_build_pairs(ztok_bpe *m);
void ztok_cache_free(ztok_cache *c);

zmlx_status ztok_tokens_push(zmlx_tokens *out, int32_t id);

/* Work state. */
zmlx_status ztok_work_init(ztok_work *w, int with_cache);
void ztok_work_free(ztok_work *w);

#endif
