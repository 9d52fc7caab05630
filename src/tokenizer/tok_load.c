/* tokenizer.json -> zmlx_tokenizer: the top level, the model and the added
 * tokens. Every error names the part of the file at fault. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/json.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_json.h"

/* ---- the BPE model ------------------------------------------------------------ */

static zmlx_status load_vocab(ztok_bpe *m, const zj_value *vocab) {
  if (!vocab || vocab->type != ZJ_OBJECT)
    return ztok_json_wrong("model.vocab", vocab, "an object of token -> id");
  for (int i = 0; i < vocab->n; i++) {
    const zj_value *v = &vocab->items[i];
    int32_t id;
    ZMLX_TRY(ztok_json_id(v, "model.vocab", vocab->keys[i], &id));
    ZMLX_TRY(ztok_strmap_put(&m->vocab, vocab->keys[i], vocab->key_lens[i], id));
  }
  return ZMLX_STATUS_OK;
}

/* One merge, "a b" (older files) or ["a", "b"] (newer ones). */
static zmlx_status merge_parts(const zj_value *v, int rank, const char **a, size_t *na,
                               const char **b, size_t *nb) {
  if (v->type == ZJ_STRING) {
    const char *sp = memchr(v->string, ' ', v->len);
    /* `tokenizers` splits on every space and wants exactly two parts. */
    if (!sp || memchr(sp + 1, ' ', v->len - (size_t)(sp + 1 - v->string)))
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                       "model.merges[%d] (line %d): \"%.80s\" is not two tokens separated by "
                       "one space",
                       rank, v->line, v->string);
    *a = v->string;
    *na = (size_t)(sp - v->string);
    *b = sp + 1;
    *nb = v->len - *na - 1;
    return ZMLX_STATUS_OK;
  }
  if (v->type == ZJ_ARRAY && v->n == 2 && v->items[0].type == ZJ_STRING &&
      v->items[1].type == ZJ_STRING) {
    *a = v->items[0].string;
    *na = v->items[0].len;
    *b = v->items[1].string;
    *nb = v->items[1].len;
    return ZMLX_STATUS_OK;
  }
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                   "model.merges[%d] (line %d): expected \"a b\" or [\"a\", \"b\"], got %s", rank,
                   v->line, zj_type_name(v->type));
}

static zmlx_status load_merges(ztok_bpe *m, const zj_value *merges) {
  if (!merges) return ZMLX_STATUS_OK;
  if (merges->type != ZJ_ARRAY) return ztok_json_wrong("model.merges", merges, "an array");
  ztok_buf joined = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < merges->n && !s; i++) {
    const char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    s = merge_parts(&merges->items[i], i, &a, &na, &b, &nb);
    if (s) break;
    int32_t ia = -1, ib = -1, inew;
    int has_a = ztok_strmap_get(&m->vocab, a, na, &ia);
    int has_b = ztok_strmap_get(&m->vocab, b, nb, &ib);
    if (!has_a || !has_b) {
      size_t nbad = has_a ? nb : na;
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                    "model.merges[%d]: token \"%.*s\" is not in the vocabulary", i,
                    (int)(nbad > 80 ? 80 : nbad), has_a ? b : a);
      break;
    }
    /* The merged token drops the right part's continuing-subword prefix. */
    if (nb < m->prefix_len) {
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                    "model.merges[%d]: \"%.*s\" is shorter than the subword prefix", i, (int)nb,
                    b);
      break;
    }
    joined.len = 0;
    s = ztok_buf_put(&joined, a, na);
    if (!s) s = ztok_buf_put(&joined, b + m->prefix_len, nb - m->prefix_len);
    if (s) break;
    if (!ztok_strmap_get(&m->vocab, joined.data, joined.len, &inew)) {
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                    "model.merges[%d]: the merged token \"%.*s\" is not in the vocabulary", i,
                    (int)(joined.len > 80 ? 80 : joined.len), joined.data);
      break;
    }
    /* A repeated pair keeps its last rank, as a map built in order does. */
    s = ztok_u64map_put(&m->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib,
                        (uint64_t)(uint32_t)i << 32 | (uint32_t)inew);
  }
  ztok_buf_free(&joined);
  return s;
}

zmlx_status ztok_load_bpe(ztok_bpe *m, const zj_value *model) {
  m->unk_id = -1;
  for (int b = 0; b < 256; b++) m->byte_ids[b] = m->fallback_ids[b] = -1;
  if (!model || model->type != ZJ_OBJECT) return ztok_json_wrong("model", model, "an object");
  const char *type = NULL;
  ZMLX_TRY(ztok_json_string(model, "model", "type", &type, NULL));
  if (type && strcmp(type, "BPE"))
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer",
                     "model type \"%s\": only BPE models are supported", type);
  if (!type && !zj_get(model, "merges"))
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer",
                     "model without a type or merges: only BPE models are supported");
  const zj_value *dropout = zj_get(model, "dropout");
  if (dropout && dropout->type == ZJ_NUMBER && dropout->number > 0)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer",
                     "model.dropout %g: BPE dropout (random merges) is not supported",
                     dropout->number);
  ZMLX_TRY(ztok_json_bool(model, "model", "fuse_unk", 0, &m->fuse_unk));
  ZMLX_TRY(ztok_json_bool(model, "model", "byte_fallback", 0, &m->byte_fallback));
  ZMLX_TRY(ztok_json_bool(model, "model", "ignore_merges", 0, &m->ignore_merges));
  ZMLX_TRY(ztok_json_dup(model, "model", "continuing_subword_prefix", &m->prefix, &m->prefix_len));
  ZMLX_TRY(ztok_json_dup(model, "model", "end_of_word_suffix", &m->suffix, &m->suffix_len));
  ZMLX_TRY(load_vocab(m, zj_get(model, "vocab")));
  ZMLX_TRY(load_merges(m, zj_get(model, "merges")));
  const char *unk = NULL;
  size_t unk_len = 0;
  ZMLX_TRY(ztok_json_string(model, "model", "unk_token", &unk, &unk_len));
  if (unk && !ztok_strmap_get(&m->vocab, unk, unk_len, &m->unk_id))
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                     "model.unk_token \"%.80s\" is not in the vocabulary", unk);
  for (int b = 0; b < 256; b++) {
    char u[4], name[8];
    size_t k = ztok_utf8_encode(ztok_byte_char[b], u);
    int32_t id;
    if (ztok_strmap_get(&m->vocab, u, k, &id)) m->byte_ids[b] = id;
    snprintf(name, sizeof name, "<0x%02X>", b);
    if (ztok_strmap_get(&m->vocab, name, 6, &id)) m->fallback_ids[b] = id;
  }
  return ZMLX_STATUS_OK;
}

void ztok_bpe_free(ztok_bpe *m) {
  ztok_strmap_free(&m->vocab);
  ztok_u64map_free(&m->merges);
  ztok_u64map_free(&m->pairs);
  free(m->prefix);
  free(m->suffix);
  memset(m, 0, sizeof *m);
}

/* ---- added tokens ------------------------------------------------------------------
 * As `tokenizers`' AddedVocabulary::add_tokens: a token whose text is
 * already known keeps that id; a new one gets the next id past the model's
 * vocabulary. The id written in the file is only a check there, and here. */
static int32_t known_id(const zmlx_tokenizer *t, const char *s, size_t n) {
  int32_t k, id;
  if (ztok_strmap_get(&t->added.by_content, s, n, &k)) return t->added.tokens[k].id;
  if (ztok_strmap_get(&t->bpe.vocab, s, n, &id)) return id;
  return -1;
}

zmlx_status ztok_load_added(zmlx_tokenizer *t, const zj_value *list) {
  ztok_added *a = &t->added;
  if (!list || list->type == ZJ_NULL) return ZMLX_STATUS_OK;
  if (list->type != ZJ_ARRAY) return ztok_json_wrong("added_tokens", list, "an array");
  a->tokens = calloc((size_t)list->n + 1, sizeof *a->tokens);
  if (!a->tokens) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  int64_t max_added = -1, model_size = (int64_t)t->bpe.vocab.n;
  for (int i = 0; i < list->n; i++) {
    const zj_value *v = &list->items[i];
    char where[48];
    snprintf(where, sizeof where, "added_tokens[%d]", i);
    if (v->type != ZJ_OBJECT) return ztok_json_wrong(where, v, "an object");
    ztok_added_token tk = {0};
    const char *content = NULL;
    ZMLX_TRY(ztok_json_string(v, where, "content", &content, &tk.len));
    if (!content)
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s (line %d) has no content",
                       where, v->line);
    if (tk.len == 0) continue; /* ignored, as `tokenizers` does */
    ZMLX_TRY(ztok_json_bool(v, where, "single_word", 0, &tk.single_word));
    ZMLX_TRY(ztok_json_bool(v, where, "lstrip", 0, &tk.lstrip));
    ZMLX_TRY(ztok_json_bool(v, where, "rstrip", 0, &tk.rstrip));
    ZMLX_TRY(ztok_json_bool(v, where, "special", 0, &tk.special));
    ZMLX_TRY(ztok_json_bool(v, where, "normalized", !tk.special, &tk.normalized));
    int32_t id = known_id(t, content, tk.len);
    if (id < 0) {
      int64_t next = max_added < 0 ? model_size
                     : (max_added >= model_size || model_size == 0) ? max_added + 1
                                                                    : model_size;
      if (next > INT32_MAX)
        return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s: ids past 2^31", where);
      id = (int32_t)next;
    }
    if (id > max_added) max_added = id;
    int32_t k;
    if (ztok_strmap_get(&a->by_content, content, tk.len, &k)) {
      /* The same text again: its flags are replaced, a special one stays special. */
      int was_special = a->tokens[k].special;
      char *keep = a->tokens[k].content;
      tk.content = keep;
      tk.id = a->tokens[k].id;
      tk.special |= was_special;
      a->tokens[k] = tk;
      continue;
    }
    tk.content = malloc(tk.len + 1);
    if (!tk.content) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of memory");
    memcpy(tk.content, content, tk.len + 1);
    tk.id = id;
    a->tokens[a->n] = tk;
    ZMLX_TRY(ztok_strmap_put(&a->by_content, content, tk.len, a->n));
    a->n++;
  }
  for (int i = 0; i < a->n; i++) {
    uint64_t prev;
    /* Two texts can land on one id only through a vocabulary that maps two
     * strings to it; the later one then names the id, as in `tokenizers`. */
    (void)ztok_u64map_get(&a->by_id, (uint64_t)(uint32_t)a->tokens[i].id, &prev);
    ZMLX_TRY(ztok_u64map_put(&a->by_id, (uint64_t)(uint32_t)a->tokens[i].id, (uint64_t)i));
  }
  return ZMLX_STATUS_OK;
}

/* ---- the whole file -------------------------------------------------------------- */

static zmlx_status load_tree(zmlx_tokenizer *t, const zj_value *root) {
  if (root->type != ZJ_OBJECT) return ztok_json_wrong("tokenizer.json", root, "an object");
  ZMLX_TRY(ztok_load_bpe(&t->bpe, zj_get(root, "model")));
  /* The normalizer first: normalized added tokens are matched in their
   * normalized form. */
  ZMLX_TRY(ztok_load_normalizer(t, zj_get(root, "normalizer")));
  ZMLX_TRY(ztok_load_pre_tokenizer(t, zj_get(root, "pre_tokenizer")));
  ZMLX_TRY(ztok_load_added(t, zj_get(root, "added_tokens")));
  ZMLX_TRY(ztok_added_build(t));
  int splits = 0;
  for (int i = 0; i < t->n_pres; i++)
    splits |= t->pres[i].kind == ZTOK_PRE_SPLIT || t->pres[i].re != NULL;
  if (!splits) ZMLX_TRY(ztok_bpe_build_pairs(&t->bpe));
  ZMLX_TRY(ztok_load_post_processor(t, zj_get(root, "post_processor")));
  ZMLX_TRY(ztok_load_decoder(t, zj_get(root, "decoder")));
  int64_t size = 0;
  for (size_t i = 0; i <= t->bpe.vocab.mask; i++)
    if (t->bpe.vocab.slots[i].hash && t->bpe.vocab.slots[i].val >= size)
      size = (int64_t)t->bpe.vocab.slots[i].val + 1;
  for (int i = 0; i < t->added.n; i++)
    if (t->added.tokens[i].id >= size) size = (int64_t)t->added.tokens[i].id + 1;
  t->vocab_size = size;
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_build_id_table(zmlx_tokenizer *t);

zmlx_status zmlx_tokenizer_load_json(const char *json, size_t len, zmlx_tokenizer **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_load_json", "out is NULL");
  *out = NULL;
  if (!json)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_load_json", "json is NULL");
  zj_value root;
  zmlx_status s = zj_parse_ex(json, len, ZJ_ALLOW_NUL, &root);
  if (s) return zmlx_fail_wrap(s, "zmlx_tokenizer_load_json: tokenizer.json");
  zmlx_tokenizer *t = calloc(1, sizeof *t);
  if (!t) {
    zj_free(&root);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "zmlx_tokenizer_load_json", "out of host memory");
  }
  pthread_mutex_init(&t->lock, NULL);
  s = load_tree(t, &root);
  zj_free(&root);
  if (!s) s = ztok_build_id_table(t);
  if (!s) s = ztok_work_init(&t->shared, 1);
  if (s) {
    zmlx_fail_wrap(s, "zmlx_tokenizer_load_json");
    zmlx_tokenizer_free(t);
    return s;
  }
  *out = t;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tokenizer_load(const char *path, zmlx_tokenizer **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_load", "out is NULL");
  *out = NULL;
  if (!path) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "zmlx_tokenizer_load", "path is NULL");
  char file[4096];
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(file, sizeof file, "%s/tokenizer.json", path);
  else
    snprintf(file, sizeof file, "%s", path);
  /* tokenizer.json files run to tens of MB; a GB is not one. */
  char *text;
  size_t len;
  zmlx_status s = zmlx_file_read("zmlx_tokenizer_load", file, (size_t)1 << 30, &text, &len);
  if (s) return s;
  s = zmlx_tokenizer_load_json(text, len, out);
  free(text);
  if (s) return zmlx_fail_wrap(s, file);
  return ZMLX_STATUS_OK;
}
