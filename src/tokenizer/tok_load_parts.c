/* tokenizer.json's pipeline parts: normalizer, pre-tokenizer, decoder and
 * post-processor. "Sequence" wrappers are flattened into one list per part.
 * A type this file does not know fails the load with UNSUPPORTED: silently
 * skipping a step would give wrong ids. */
#include <stdio.h>
#include <stdlib.h>

#include "core/json.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_json.h"

enum { MAX_PARTS = 64 };

static zmlx_status unsupported(const char *part, const char *type, const char *known) {
  return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s type \"%s\" is not supported (%s)",
                   part, type, known);
}

static zmlx_status type_of(const zj_value *v, const char *where, const char **type) {
  if (v->type != ZJ_OBJECT) return ztok_json_wrong(where, v, "an object");
  ZMLX_TRY(ztok_json_string(v, where, "type", type, NULL));
  if (!*type) return ztok_json_wrong(where, zj_get(v, "type"), "a \"type\" string");
  return ZMLX_STATUS_OK;
}

/* A string holding exactly one character (Metaspace's replacement, ...). */
static zmlx_status one_char(const zj_value *obj, const char *where, const char *key,
                            uint32_t dflt, uint32_t *out) {
  const char *s;
  size_t n;
  ZMLX_TRY(ztok_json_string(obj, where, key, &s, &n));
  *out = dflt;
  if (!s) return ZMLX_STATUS_OK;
  if (n == 0 || !ztok_utf8_is_valid(s, n) || ztok_utf8_len((unsigned char)s[0]) != n)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s.%s: \"%.40s\" is not one character",
                     where, key, s);
  ztok_utf8_decode((const unsigned char *)s, out);
  return ZMLX_STATUS_OK;
}

static zmlx_status dup_bytes(const char *s, size_t n, char **out) {
  *out = malloc(n + 1);
  if (!*out) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  memcpy(*out, s, n);
  (*out)[n] = 0;
  return ZMLX_STATUS_OK;
}

/* ---- normalizers ------------------------------------------------------------------ */

static zmlx_status add_norm(zmlx_tokenizer *t, const zj_value *v, const char *where, int depth) {
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  const char *type;
  ZMLX_TRY(type_of(v, where, &type));
  if (!strcmp(type, "Sequence")) {
    const zj_value *list = zj_get(v, "normalizers");
    if (!list || list->type != ZJ_ARRAY) return ztok_json_wrong(where, list, "\"normalizers\": [...]");
    if (depth > 8) return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s nested too deeply", where);
    for (int i = 0; i < list->n; i++) {
      char w[128];
      snprintf(w, sizeof w, "%s.normalizers[%d]", where, i);
      ZMLX_TRY(add_norm(t, &list->items[i], w, depth + 1));
    }
    return ZMLX_STATUS_OK;
  }
  if (t->n_norms >= MAX_PARTS)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: more than %d normalizers", where, MAX_PARTS);
  /* Counted at once, so that a failed load frees what was filled in. */
  ztok_norm *n = &t->norms[t->n_norms++];
  memset(n, 0, sizeof *n);
  if (!strcmp(type, "NFC")) n->kind = ZTOK_NORM_NFC;
  else if (!strcmp(type, "NFD")) n->kind = ZTOK_NORM_NFD;
  else if (!strcmp(type, "NFKC")) n->kind = ZTOK_NORM_NFKC;
  else if (!strcmp(type, "NFKD")) n->kind = ZTOK_NORM_NFKD;
  else if (!strcmp(type, "Prepend")) {
    n->kind = ZTOK_NORM_PREPEND;
    const char *s;
    ZMLX_TRY(ztok_json_string(v, where, "prepend", &s, &n->a_len));
    if (!s) return ztok_json_wrong(where, zj_get(v, "prepend"), "\"prepend\": a string");
    ZMLX_TRY(dup_bytes(s, n->a_len, &n->a));
  } else if (!strcmp(type, "Replace")) {
    n->kind = ZTOK_NORM_REPLACE;
    const char *pat, *content;
    size_t np;
    int is_regex;
    ZMLX_TRY(ztok_json_pattern(v, where, &pat, &np, &is_regex));
    ZMLX_TRY(ztok_json_string(v, where, "content", &content, &n->b_len));
    if (!content) return ztok_json_wrong(where, zj_get(v, "content"), "\"content\": a string");
    if (is_regex) {
      ZMLX_TRY(ztok_regex_compile(pat, np, 0, &n->re));
    } else {
      if (np == 0)
        return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s: empty Replace pattern", where);
      n->a_len = np;
      ZMLX_TRY(dup_bytes(pat, np, &n->a));
    }
    ZMLX_TRY(dup_bytes(content, n->b_len, &n->b));
  } else if (!strcmp(type, "Strip")) {
    n->kind = ZTOK_NORM_STRIP;
    ZMLX_TRY(ztok_json_bool(v, where, "strip_left", 1, &n->left));
    ZMLX_TRY(ztok_json_bool(v, where, "strip_right", 1, &n->right));
  } else {
    return unsupported(where, type, "NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Sequence");
  }
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_load_normalizer(zmlx_tokenizer *t, const zj_value *v) {
  t->norms = calloc(MAX_PARTS, sizeof *t->norms);
  if (!t->norms) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  return add_norm(t, v, "normalizer", 0);
}

/* ---- pre-tokenizers ------------------------------------------------------------------- */

static zmlx_status parse_behavior(const zj_value *v, const char *where, ztok_split_behavior *out) {
  const char *b;
  ZMLX_TRY(ztok_json_string(v, where, "behavior", &b, NULL));
  if (!b) return ztok_json_wrong(where, zj_get(v, "behavior"), "\"behavior\": a string");
  if (!strcmp(b, "Removed")) *out = ZTOK_SPLIT_REMOVED;
  else if (!strcmp(b, "Isolated")) *out = ZTOK_SPLIT_ISOLATED;
  else if (!strcmp(b, "MergedWithPrevious")) *out = ZTOK_SPLIT_MERGED_PREV;
  else if (!strcmp(b, "MergedWithNext")) *out = ZTOK_SPLIT_MERGED_NEXT;
  else if (!strcmp(b, "Contiguous")) *out = ZTOK_SPLIT_CONTIGUOUS;
  else
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                     "%s.behavior \"%s\": expected Removed, Isolated, MergedWithPrevious, "
                     "MergedWithNext or Contiguous",
                     where, b);
  return ZMLX_STATUS_OK;
}

static ztok_pre *next_pre(zmlx_tokenizer *t) {
  if (t->n_pres >= MAX_PARTS) return NULL;
  ztok_pre *p = &t->pres[t->n_pres++];
  memset(p, 0, sizeof *p);
  return p;
}

static zmlx_status split_regex(zmlx_tokenizer *t, const char *where, const char *pattern,
                               ztok_split_behavior behavior, int invert) {
  ztok_pre *p = next_pre(t);
  if (!p) return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: too many pre-tokenizers", where);
  p->kind = ZTOK_PRE_SPLIT;
  p->behavior = behavior;
  p->invert = invert;
  return ztok_regex_compile(pattern, strlen(pattern), 0, &p->re);
}

/* GPT-2's pattern, ByteLevel's use_regex. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static zmlx_status add_pre(zmlx_tokenizer *t, const zj_value *v, const char *where, int depth) {
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  const char *type;
  ZMLX_TRY(type_of(v, where, &type));
  if (!strcmp(type, "Sequence")) {
    const zj_value *list = zj_get(v, "pretokenizers");
    if (!list || list->type != ZJ_ARRAY)
      return ztok_json_wrong(where, list, "\"pretokenizers\": [...]");
    if (depth > 8) return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s nested too deeply", where);
    for (int i = 0; i < list->n; i++) {
      char w[128];
      snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i);
      ZMLX_TRY(add_pre(t, &list->items[i], w, depth + 1));
    }
    return ZMLX_STATUS_OK;
  }
  if (!strcmp(type, "Split")) {
    const char *pat;
    size_t np;
    int is_regex;
    ztok_split_behavior behavior = ZTOK_SPLIT_ISOLATED;
    int invert;
    ZMLX_TRY(ztok_json_pattern(v, where, &pat, &np, &is_regex));
    ZMLX_TRY(parse_behavior(v, where, &behavior));
    ZMLX_TRY(ztok_json_bool(v, where, "invert", 0, &invert));
    ztok_pre *p = next_pre(t);
    if (!p) return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: too many pre-tokenizers", where);
    p->kind = ZTOK_PRE_SPLIT;
    p->behavior = behavior;
    p->invert = invert;
    return ztok_regex_compile(pat, np, !is_regex, &p->re);
  }
  if (!strcmp(type, "ByteLevel")) {
    ztok_pre *p = next_pre(t);
    if (!p) return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: too many pre-tokenizers", where);
    int use_regex;
    p->kind = ZTOK_PRE_BYTELEVEL;
    ZMLX_TRY(ztok_json_bool(v, where, "add_prefix_space", 1, &p->add_prefix_space));
    ZMLX_TRY(ztok_json_bool(v, where, "use_regex", 1, &use_regex));
    if (use_regex) ZMLX_TRY(ztok_regex_compile(gpt2_pattern, strlen(gpt2_pattern), 0, &p->re));
    return ZMLX_STATUS_OK;
  }
  if (!strcmp(type, "Metaspace")) {
    ztok_pre *p = next_pre(t);
    if (!p) return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: too many pre-tokenizers", where);
    p->kind = ZTOK_PRE_METASPACE;
    ZMLX_TRY(one_char(v, where, "replacement", 0x2581, &p->replacement));
    ZMLX_TRY(ztok_json_bool(v, where, "split", 1, &p->split));
    const char *scheme;
    ZMLX_TRY(ztok_json_string(v, where, "prepend_scheme", &scheme, NULL));
    if (scheme) {
      if (!strcmp(scheme, "always")) p->prepend = 1;
      else if (!strcmp(scheme, "first")) p->prepend = 2;
      else if (!strcmp(scheme, "never")) p->prepend = 0;
      else
        return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                         "%s.prepend_scheme \"%s\": expected always, first or never", where, scheme);
    } else {
      /* Older files: add_prefix_space (default true) means "always". */
      ZMLX_TRY(ztok_json_bool(v, where, "add_prefix_space", 1, &p->prepend));
    }
    return ZMLX_STATUS_OK;
  }
  if (!strcmp(type, "Digits")) {
    int individual;
    ZMLX_TRY(ztok_json_bool(v, where, "individual_digits", 0, &individual));
    return split_regex(t, where, "\\p{N}", individual ? ZTOK_SPLIT_ISOLATED : ZTOK_SPLIT_CONTIGUOUS, 0);
  }
  if (!strcmp(type, "WhitespaceSplit")) return split_regex(t, where, "\\s", ZTOK_SPLIT_REMOVED, 0);
  if (!strcmp(type, "Whitespace"))
    return split_regex(t, where, "\\w+|[^\\w\\s]+", ZTOK_SPLIT_REMOVED, 1);
  return unsupported(where, type,
                     "Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, Sequence");
}

zmlx_status ztok_load_pre_tokenizer(zmlx_tokenizer *t, const zj_value *v) {
  t->pres = calloc(MAX_PARTS, sizeof *t->pres);
  if (!t->pres) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  ZMLX_TRY(add_pre(t, v, "pre_tokenizer", 0));
  /* A ByteLevel step maps bytes to characters. As the last step the BPE
   * reads the bytes directly; anywhere else the characters are written. */
  for (int i = 0; i < t->n_pres; i++)
    if (t->pres[i].kind == ZTOK_PRE_BYTELEVEL) t->pres[i].materialize = i != t->n_pres - 1;
  t->byte_level_input = t->n_pres > 0 && t->pres[t->n_pres - 1].kind == ZTOK_PRE_BYTELEVEL;
  return ZMLX_STATUS_OK;
}

/* ---- decoders ------------------------------------------------------------------------- */

static zmlx_status add_dec(zmlx_tokenizer *t, const zj_value *v, const char *where, int depth) {
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  const char *type;
  ZMLX_TRY(type_of(v, where, &type));
  t->has_decoder = 1;
  if (!strcmp(type, "Sequence")) {
    const zj_value *list = zj_get(v, "decoders");
    if (!list || list->type != ZJ_ARRAY) return ztok_json_wrong(where, list, "\"decoders\": [...]");
    if (depth > 8) return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s nested too deeply", where);
    for (int i = 0; i < list->n; i++) {
      char w[128];
      snprintf(w, sizeof w, "%s.decoders[%d]", where, i);
      ZMLX_TRY(add_dec(t, &list->items[i], w, depth + 1));
    }
    return ZMLX_STATUS_OK;
  }
  if (t->n_decs >= MAX_PARTS)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer", "%s: more than %d decoders", where, MAX_PARTS);
  ztok_dec *d = &t->decs[t->n_decs++];
  memset(d, 0, sizeof *d);
  if (!strcmp(type, "ByteLevel")) {
    d->kind = ZTOK_DEC_BYTELEVEL;
  } else if (!strcmp(type, "ByteFallback")) {
    d->kind = ZTOK_DEC_BYTEFALLBACK;
  } else if (!strcmp(type, "Fuse")) {
    d->kind = ZTOK_DEC_FUSE;
  } else if (!strcmp(type, "Replace")) {
    d->kind = ZTOK_DEC_REPLACE;
    const char *pat, *content;
    size_t np;
    int is_regex;
    ZMLX_TRY(ztok_json_pattern(v, where, &pat, &np, &is_regex));
    if (is_regex || np == 0)
      return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, "tokenizer",
                       "%s: only Replace decoders with a non-empty String pattern are supported",
                       where);
    ZMLX_TRY(ztok_json_string(v, where, "content", &content, &d->b_len));
    if (!content) return ztok_json_wrong(where, zj_get(v, "content"), "\"content\": a string");
    d->a_len = np;
    ZMLX_TRY(dup_bytes(pat, np, &d->a));
    ZMLX_TRY(dup_bytes(content, d->b_len, &d->b));
  } else if (!strcmp(type, "Strip")) {
    d->kind = ZTOK_DEC_STRIP;
    long long start, stop;
    ZMLX_TRY(one_char(v, where, "content", ' ', &d->ch));
    ZMLX_TRY(ztok_json_int(v, where, "start", 0, 1 << 20, 0, &start));
    ZMLX_TRY(ztok_json_int(v, where, "stop", 0, 1 << 20, 0, &stop));
    d->start = (int)start;
    d->stop = (int)stop;
  } else if (!strcmp(type, "Metaspace")) {
    d->kind = ZTOK_DEC_METASPACE;
    ZMLX_TRY(one_char(v, where, "replacement", 0x2581, &d->ch));
    const char *scheme;
    ZMLX_TRY(ztok_json_string(v, where, "prepend_scheme", &scheme, NULL));
    if (scheme)
      d->prepend = strcmp(scheme, "never") != 0;
    else
      ZMLX_TRY(ztok_json_bool(v, where, "add_prefix_space", 1, &d->prepend));
  } else {
    return unsupported(where, type, "ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence");
  }
  return ZMLX_STATUS_OK;
}

zmlx_status ztok_load_decoder(zmlx_tokenizer *t, const zj_value *v) {
  t->decs = calloc(MAX_PARTS, sizeof *t->decs);
  if (!t->decs) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  return add_dec(t, v, "decoder", 0);
}

/* ---- post-processor (what it adds around a single sequence) --------------------------- */

static zmlx_status push_ids(int32_t **ids, int *n, const int32_t *add, int n_add, int front) {
  int32_t *p = realloc(*ids, ((size_t)*n + (size_t)n_add + 1) * sizeof *p);
  if (!p) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tokenizer", "out of host memory");
  if (front) {
    memmove(p + n_add, p, (size_t)*n * sizeof *p);
    memcpy(p, add, (size_t)n_add * sizeof *p);
  } else {
    memcpy(p + *n, add, (size_t)n_add * sizeof *p);
  }
  *ids = p;
  *n += n_add;
  return ZMLX_STATUS_OK;
}

/* TemplateProcessing's "single": the special tokens' ids come from its own
 * "special_tokens" table. */
static zmlx_status template_single(zmlx_tokenizer *t, const zj_value *v, const char *where) {
  const zj_value *single = zj_get(v, "single"), *table = zj_get(v, "special_tokens");
  if (!single || single->type != ZJ_ARRAY) return ztok_json_wrong(where, single, "\"single\": [...]");
  int32_t *before = NULL, *after = NULL;
  int nb = 0, na = 0, seen_a = 0;
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < single->n && !s; i++) {
    const zj_value *item = &single->items[i];
    const zj_value *sp = zj_get(item, "SpecialToken"), *seq = zj_get(item, "Sequence");
    if (seq) {
      seen_a = 1;
      continue;
    }
    const char *name = NULL;
    if (sp) s = ztok_json_string(sp, where, "id", &name, NULL);
    if (s) break;
    if (!name) {
      s = ztok_json_wrong(where, item, "{\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}");
      break;
    }
    const zj_value *entry = zj_get(table, name), *ids = zj_get(entry, "ids");
    if (!ids || ids->type != ZJ_ARRAY) {
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer",
                    "%s: special token \"%.80s\" has no ids in special_tokens", where, name);
      break;
    }
    for (int k = 0; k < ids->n && !s; k++) {
      int32_t id;
      s = ztok_json_id(&ids->items[k], where, name, &id);
      if (!s) s = seen_a ? push_ids(&after, &na, &id, 1, 0) : push_ids(&before, &nb, &id, 1, 0);
    }
  }
  /* Processors run in order: a later one wraps what earlier ones made. */
  if (!s && nb) s = push_ids(&t->post.before, &t->post.n_before, before, nb, 1);
  if (!s && na) s = push_ids(&t->post.after, &t->post.n_after, after, na, 0);
  free(before);
  free(after);
  return s;
}

/* RobertaProcessing / BertProcessing: "cls": ["<s>", 0], "sep": ["</s>", 2]. */
static zmlx_status cls_sep(zmlx_tokenizer *t, const zj_value *v, const char *where) {
  const zj_value *cls = zj_get(v, "cls"), *sep = zj_get(v, "sep");
  if (!cls || cls->type != ZJ_ARRAY || cls->n != 2 || !sep || sep->type != ZJ_ARRAY || sep->n != 2)
    return ztok_json_wrong(where, v, "\"cls\" and \"sep\" as [token, id]");
  int32_t c, e;
  ZMLX_TRY(ztok_json_id(&cls->items[1], where, "cls", &c));
  ZMLX_TRY(ztok_json_id(&sep->items[1], where, "sep", &e));
  ZMLX_TRY(push_ids(&t->post.before, &t->post.n_before, &c, 1, 1));
  return push_ids(&t->post.after, &t->post.n_after, &e, 1, 0);
}

static zmlx_status add_post(zmlx_tokenizer *t, const zj_value *v, const char *where, int depth) {
  if (!v || v->type == ZJ_NULL) return ZMLX_STATUS_OK;
  const char *type;
  ZMLX_TRY(type_of(v, where, &type));
  if (!strcmp(type, "Sequence")) {
    const zj_value *list = zj_get(v, "processors");
    if (!list || list->type != ZJ_ARRAY) return ztok_json_wrong(where, list, "\"processors\": [...]");
    if (depth > 8) return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, "tokenizer", "%s nested too deeply", where);
    for (int i = 0; i < list->n; i++) {
      char w[128];
      snprintf(w, sizeof w, "%s.processors[%d]", where, i);
      ZMLX_TRY(add_post(t, &list->items[i], w, depth + 1));
    }
    return ZMLX_STATUS_OK;
  }
  if (!strcmp(type, "ByteLevel")) return ZMLX_STATUS_OK; /* offsets only */
  if (!strcmp(type, "TemplateProcessing")) return template_single(t, v, where);
  if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing"))
    return cls_sep(t, v, where);
  return unsupported(where, type, "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
}

zmlx_status ztok_load_post_processor(zmlx_tokenizer *t, const zj_value *v) {
  return add_post(t, v, "post_processor", 0);
}

/* ---- release -------------------------------------------------------------------------- */

void ztok_free_parts(zmlx_tokenizer *t) {
  for (int i = 0; t->norms && i < t->n_norms; i++) {
    free(t->norms[i].a);
    free(t->norms[i].b);
    ztok_regex_free(t->norms[i].re);
  }
  for (int i = 0; t->pres && i < t->n_pres; i++) ztok_regex_free(t->pres[i].re);
  for (int i = 0; t->decs && i < t->n_decs; i++) {
    free(t->decs[i].a);
    free(t->decs[i].b);
  }
  free(t->norms);
  free(t->pres);
  free(t->decs);
  free(t->post.before);
  free(t->post.after);
  t->norms = NULL;
  t->pres = NULL;
  t->decs = NULL;
  t->post.before = t->post.after = NULL;
}
