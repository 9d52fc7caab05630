#ifndef ZMLX_TOKENIZER_H
#define ZMLX_TOKENIZER_H
/* Tokenizers from Hugging Face tokenizer.json files, matching the
 * `tokenizers` library id for id: byte-level BPE (Qwen2/Qwen3, Llama-3,
 * GPT-4o, GPT-OSS) and SentencePiece-style BPE with byte fallback
 * (Llama-2). See docs/TOKENIZER.md for what is supported.
 *
 * Text is UTF-8. Invalid UTF-8 is not an error: like Python's
 * bytes.decode("utf-8", errors="replace") (the only way to pass bytes to
 * Python `tokenizers`), each maximal invalid sequence becomes U+FFFD first.
 *
 * Ownership: zmlx_tokenizer_load* returns a tokenizer the caller frees with
 * zmlx_tokenizer_free. It is immutable once loaded; encode and decode may be
 * called from several threads at once (one thread at a time uses the shared
 * BPE cache, the others run without it). Strings the library allocates
 * (*text of decode, of zmlx_chat_render) are malloc'd: free() them. */
#include <stddef.h>
#include <stdint.h>

#include "zmlx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zmlx_tokenizer zmlx_tokenizer;

/* path: a tokenizer.json file, or a folder holding one. */
zmlx_status zmlx_tokenizer_load(const char *path, zmlx_tokenizer **out);
/* The same from the file's text (len bytes). */
zmlx_status zmlx_tokenizer_load_json(const char *json, size_t len, zmlx_tokenizer **out);
void zmlx_tokenizer_free(zmlx_tokenizer *tok); /* NULL-safe */

/* Ids: a growable array the caller owns; encode replaces its contents and
 * reuses its memory. Zero-initialize, release with zmlx_tokens_free. */
typedef struct zmlx_tokens {
  int32_t *ids;
  int64_t n, cap;
} zmlx_tokens;
void zmlx_tokens_free(zmlx_tokens *t); /* frees ids; t is zeroed and reusable */

enum {
  /* encode: run the post-processor's special tokens (Llama-2's <s>, ...),
   * as `tokenizers`' encode(text, add_special_tokens=True) does. */
  ZMLX_TOKENIZE_ADD_SPECIAL = 1,
  /* decode: leave out tokens marked special, as skip_special_tokens=True. */
  ZMLX_TOKENIZE_SKIP_SPECIAL = 2
};

/* text[0..len) (NUL bytes included) -> out->ids[0..out->n). flags: 0 or
 * ZMLX_TOKENIZE_ADD_SPECIAL. */
zmlx_status zmlx_tokenizer_encode(const zmlx_tokenizer *tok, const char *text, size_t len,
                                  int flags, zmlx_tokens *out);

/* ids -> *text (malloc'd, NUL-terminated; *len bytes without the NUL).
 * Ids the vocabulary lacks are skipped, as `tokenizers` skips them.
 * flags: 0 or ZMLX_TOKENIZE_SKIP_SPECIAL. */
zmlx_status zmlx_tokenizer_decode(const zmlx_tokenizer *tok, const int32_t *ids, int64_t n,
                                  int flags, char **text, size_t *len);

/* Vocabulary size: the largest id plus one (added tokens included). */
int64_t zmlx_tokenizer_vocab_size(const zmlx_tokenizer *tok);
/* The id of a token's text (added tokens first, then the model's
 * vocabulary); NOT_FOUND if there is none. */
zmlx_status zmlx_tokenizer_token_to_id(const zmlx_tokenizer *tok, const char *token, size_t len,
                                       int32_t *id);
/* A token's text as stored (byte-level tokens in their mapped form, e.g.
 * "Ġthe"); *token points into the tokenizer. NOT_FOUND for unknown ids. */
zmlx_status zmlx_tokenizer_id_to_token(const zmlx_tokenizer *tok, int32_t id, const char **token,
                                       size_t *len);
/* 1 when id is an added token marked "special", else 0. */
int zmlx_tokenizer_is_special(const zmlx_tokenizer *tok, int32_t id);

/* ---- Streaming decode ------------------------------------------------------
 * Feed ids as a model produces them and get the text they complete. Text is
 * only released once it no longer ends in an incomplete character (as
 * `tokenizers`' DecodeStream: a window of recent ids is decoded and the part
 * after the previous text returned), so no piece ends inside a UTF-8
 * sequence; the concatenated pieces plus flush equal zmlx_tokenizer_decode of
 * all ids. The stream keeps a pointer to tok: free the stream first. */
typedef struct zmlx_token_stream zmlx_token_stream;
zmlx_status zmlx_token_stream_create(const zmlx_tokenizer *tok, int flags,
                                     zmlx_token_stream **out);
/* Feed n ids; *text and *len: the newly completed text ("" when none), valid
 * until the next call on this stream. */
zmlx_status zmlx_token_stream_feed(zmlx_token_stream *s, const int32_t *ids, int64_t n,
                                   const char **text, size_t *len);
/* The text still held back (an incomplete character comes out as U+FFFD);
 * the stream is then empty and can be fed again. */
zmlx_status zmlx_token_stream_flush(zmlx_token_stream *s, const char **text, size_t *len);
void zmlx_token_stream_free(zmlx_token_stream *s); /* NULL-safe */

/* ---- Chat templates ------------------------------------------------------------
 * The chat templates of two model families, written out by hand (there is
 * no Jinja engine): the text is what transformers' apply_chat_template
 * renders with those families' templates. Encode it with flags 0 (the
 * template already holds the special tokens). */
typedef enum zmlx_chat_format {
  ZMLX_CHAT_QWEN3 = 1,  /* <|im_start|>role\n...<|im_end|>\n, <think> blocks */
  ZMLX_CHAT_LLAMA3 = 2  /* <|begin_of_text|><|start_header_id|>role<|end_header_id|>... */
} zmlx_chat_format;

typedef struct zmlx_chat_message {
  const char *role;    /* "system", "user", "assistant" (Qwen3 also "tool") */
  const char *content; /* UTF-8, NUL-terminated */
} zmlx_chat_message;

typedef struct zmlx_chat_options {
  int add_generation_prompt; /* end with the assistant's header */
  /* Qwen3: 0 ends the generation prompt with an empty <think></think>
   * block (enable_thinking=False); 1 (or any other value) leaves it out,
   * as the template does when enable_thinking is true or not given. */
  int enable_thinking;
} zmlx_chat_options;

/* Messages -> the prompt text (*text malloc'd, NUL-terminated). opts may be
 * NULL (no generation prompt, thinking enabled). */
zmlx_status zmlx_chat_render(zmlx_chat_format format, const zmlx_chat_message *messages,
                             int n_messages, const zmlx_chat_options *opts, char **text,
                             size_t *len);

#ifdef __cplusplus
}
#endif
#endif
