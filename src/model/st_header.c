/* The safetensors header: 8 bytes of little-endian length, then that many
 * bytes of JSON, then the data area. Everything in the file is untrusted:
 * each rule of the format is checked, and every error names the file, the
 * tensor and what is wrong. Integers are read from the JSON text itself
 * (the tree holds doubles), so offsets past 2^53 stay exact and "1.0" is
 * not taken for an integer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "model/st_internal.h"

#define OP "safetensors"

size_t zst_utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (n - i <= k) return i;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += k + 1;
  }
  return n;
}

uint64_t zst_nbytes(zmlx_st_dtype dtype, int ndim, const int64_t *shape, int *ok) {
  uint64_t bits = (uint64_t)zmlx_st_dtype_bits(dtype), numel = 1;
  *ok = 0;
  if (!bits) return 0;
  for (int i = 0; i < ndim; i++) {
    uint64_t d = (uint64_t)shape[i];
    if (shape[i] < 0 || (d && numel > UINT64_MAX / d)) return 0;
    numel *= d;
  }
  if (numel > UINT64_MAX / bits || (numel * bits) % 8) return 0;
  *ok = 1;
  return numel * bits / 8;
}

/* ---- integers from the JSON text ---------------------------------------- */

typedef struct text_map {
  const char *text;
  size_t len;
  size_t *line_starts; /* line i (1-based) starts at line_starts[i - 1] */
  int lines;
} text_map;

static zmlx_status map_lines(text_map *m, const char *text, size_t len) {
  int lines = 1;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  m->text = text;
  m->len = len;
  m->lines = lines;
  m->line_starts = malloc((size_t)lines * sizeof *m->line_starts);
  if (!m->line_starts) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  int l = 0;
  m->line_starts[l++] = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') m->line_starts[l++] = i + 1;
  return ZMLX_STATUS_OK;
}

/* The value as a non-negative integer written with digits only; 0 on
 * success, -1 if negative, fractional, with an exponent or too large. */
static int uint_of(const text_map *m, const zj_value *v, uint64_t *out) {
  if (v->type != ZJ_NUMBER || v->line < 1 || v->line > m->lines || v->col < 1) return -1;
  size_t p = m->line_starts[v->line - 1] + (size_t)v->col - 1;
  if (p >= m->len || m->text[p] < '0' || m->text[p] > '9') return -1;
  uint64_t x = 0;
  for (; p < m->len && m->text[p] >= '0' && m->text[p] <= '9'; p++) {
    unsigned d = (unsigned)(m->text[p] - '0');
    if (x > (UINT64_MAX - d) / 10) return -1;
    x = x * 10 + d;
  }
  if (p < m->len && (m->text[p] == '.' || m->text[p] == 'e' || m->text[p] == 'E')) return -1;
  *out = x;
  return 0;
}

/* ---- one tensor --------------------------------------------------------- */

static zmlx_status bad(const char *label, const char *name, const char *what) {
  return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: tensor '%.200s': %s", label, name, what);
}

static zmlx_status read_tensor(const char *label, const text_map *m, const char *name,
                               const zj_value *v, zst_entry *e) {
  char why[320];
  if (v->type != ZJ_OBJECT) {
    snprintf(why, sizeof why, "expected an object, found %s", zj_type_name(v->type));
    return bad(label, name, why);
  }
  const zj_value *dt = NULL, *sh = NULL, *off = NULL;
  for (int i = 0; i < v->n; i++) {
    const char *k = v->keys[i];
    const zj_value **slot = !strcmp(k, "dtype")          ? &dt
                            : !strcmp(k, "shape")        ? &sh
                            : !strcmp(k, "data_offsets") ? &off
                                                         : NULL;
    if (!slot) {
      snprintf(why, sizeof why, "unknown field '%.100s' (a tensor has dtype, shape, data_offsets)",
               k);
      return bad(label, name, why);
    }
    if (*slot) {
      snprintf(why, sizeof why, "field '%s' appears twice", k);
      return bad(label, name, why);
    }
    *slot = &v->items[i];
  }
  if (!dt || !sh || !off)
    return bad(label, name,
               !dt ? "missing 'dtype'" : !sh ? "missing 'shape'" : "missing 'data_offsets'");
  if (dt->type != ZJ_STRING) return bad(label, name, "'dtype' is not a string");
  if (zmlx_st_dtype_parse(dt->string, &e->dtype)) {
    snprintf(why, sizeof why, "unknown dtype '%.40s'", dt->string);
    return bad(label, name, why);
  }
  if (sh->type != ZJ_ARRAY) return bad(label, name, "'shape' is not an array");
  if (sh->n > ZMLX_MAX_DIMS) {
    snprintf(why, sizeof why, "shape has %d dimensions; ZMLX handles up to %d", sh->n,
             ZMLX_MAX_DIMS);
    return bad(label, name, why);
  }
  e->ndim = sh->n;
  for (int i = 0; i < sh->n; i++) {
    uint64_t d;
    if (uint_of(m, &sh->items[i], &d) || d > (uint64_t)INT64_MAX) {
      snprintf(why, sizeof why, "shape entry %d is not a non-negative integer", i);
      return bad(label, name, why);
    }
    e->shape[i] = (int64_t)d;
  }
  if (off->type != ZJ_ARRAY || off->n != 2)
    return bad(label, name, "'data_offsets' is not an array of two integers");
  if (uint_of(m, &off->items[0], &e->begin) || uint_of(m, &off->items[1], &e->end))
    return bad(label, name, "'data_offsets' holds something other than non-negative integers");
  if (e->end < e->begin) {
    snprintf(why, sizeof why, "data_offsets [%llu, %llu] end before they begin",
             (unsigned long long)e->begin, (unsigned long long)e->end);
    return bad(label, name, why);
  }
  int ok;
  uint64_t want = zst_nbytes(e->dtype, e->ndim, e->shape, &ok);
  if (!ok) return bad(label, name, "shape x dtype size overflows or is not a whole byte count");
  if (e->end - e->begin != want) {
    snprintf(why, sizeof why, "shape and dtype %s give %llu bytes, data_offsets [%llu, %llu] hold %llu",
             zmlx_st_dtype_name(e->dtype), (unsigned long long)want,
             (unsigned long long)e->begin, (unsigned long long)e->end,
             (unsigned long long)(e->end - e->begin));
    return bad(label, name, why);
  }
  return ZMLX_STATUS_OK;
}

/* ---- metadata ----------------------------------------------------------- */

typedef struct keyed {
  const char *key;
  int index;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
  return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

/* Indices 0..n-1 ordered by keys[i] (duplicates adjacent); NULL when out
 * of memory. */
static int *sorted_order(char *const *keys, int n) {
  keyed *k = malloc((size_t)(n ? n : 1) * sizeof *k);
  int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  if (!k || !idx) {
    free(k);
    free(idx);
    return NULL;
  }
  for (int i = 0; i < n; i++) k[i] = (keyed){keys[i], i};
  qsort(k, (size_t)n, sizeof *k, cmp_keyed);
  for (int i = 0; i < n; i++) idx[i] = k[i].index;
  free(k);
  return idx;
}

static zmlx_status read_metadata(const char *label, const zj_value *v, zst_header *h) {
  if (v->type != ZJ_OBJECT)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: '__metadata__' is %s, not an object",
                     label, zj_type_name(v->type));
  int *order = sorted_order(v->keys, v->n);
  h->meta_keys = calloc((size_t)(v->n ? v->n : 1), sizeof *h->meta_keys);
  h->meta_values = calloc((size_t)(v->n ? v->n : 1), sizeof *h->meta_values);
  if (!order || !h->meta_keys || !h->meta_values) {
    free(order);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  zmlx_status s = ZMLX_STATUS_OK;
  for (int j = 0; j < v->n && !s; j++) {
    int i = order[j];
    if (j && !strcmp(v->keys[order[j - 1]], v->keys[i]))
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: '__metadata__' has key '%.200s' twice",
                    label, v->keys[i]);
    else if (v->items[i].type != ZJ_STRING)
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                    "%s: '__metadata__' value of '%.200s' is %s; only strings are allowed", label,
                    v->keys[i], zj_type_name(v->items[i].type));
    if (s) break;
    h->meta_keys[j] = strdup(v->keys[i]);
    h->meta_values[j] = strdup(v->items[i].string);
    h->n_meta = j + 1;
    if (!h->meta_keys[j] || !h->meta_values[j])
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  free(order);
  return s;
}

/* ---- the data area ------------------------------------------------------ */

static int cmp_offsets(const void *a, const void *b) {
  const zst_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* The tensors must tile [0, data_len) exactly, as the format requires. */
static zmlx_status check_tiling(const char *label, zst_header *h, uint64_t data_len) {
  qsort(h->entries, (size_t)h->n, sizeof *h->entries, cmp_offsets);
  uint64_t at = 0;
  for (int64_t i = 0; i < h->n; i++) {
    const zst_entry *e = &h->entries[i];
    if (e->begin > at)
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                       "%s: tensor '%.200s': a hole of %llu bytes before its data_offsets [%llu, "
                       "%llu] (tensors must cover the data area without gaps)",
                       label, e->name, (unsigned long long)(e->begin - at),
                       (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->begin < at)
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                       "%s: tensor '%.200s': data_offsets [%llu, %llu] overlap tensor '%.200s' "
                       "(which ends at %llu)",
                       label, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       h->entries[i - 1].name, (unsigned long long)at);
    at = e->end;
  }
  if (at > data_len)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: the tensors need %llu data bytes but the file holds %llu after its "
                     "header (truncated file?)",
                     label, (unsigned long long)at, (unsigned long long)data_len);
  if (at < data_len)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: %llu bytes after the last tensor's data (the format allows none)",
                     label, (unsigned long long)(data_len - at));
  return ZMLX_STATUS_OK;
}

/* ---- the whole header --------------------------------------------------- */

static zmlx_status read_object(const char *label, const text_map *m, const zj_value *root,
                               zst_header *h) {
  int *order = sorted_order(root->keys, root->n);
  h->entries = calloc((size_t)(root->n ? root->n : 1), sizeof *h->entries);
  if (!order || !h->entries) {
    free(order);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  zmlx_status s = ZMLX_STATUS_OK;
  for (int j = 0; j < root->n && !s; j++) {
    int i = order[j];
    const char *key = root->keys[i];
    if (j && !strcmp(root->keys[order[j - 1]], key)) {
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: the header names '%.200s' twice", label,
                    key);
    } else if (!strcmp(key, "__metadata__")) {
      s = read_metadata(label, &root->items[i], h);
    } else {
      zst_entry *e = &h->entries[h->n];
      if (!(e->name = strdup(key))) {
        s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
        break;
      }
      h->n++;
      s = read_tensor(label, m, key, &root->items[i], e);
    }
  }
  free(order);
  return s;
}

zmlx_status zst_header_parse(const char *label, const unsigned char *file, size_t len,
                             zst_header *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "out is NULL");
  memset(out, 0, sizeof *out);
  if (!label) label = "(memory)";
  if (!file || len < 8)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: %zu bytes, shorter than the 8-byte header length", label,
                     file ? len : 0);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
  if (n > ZST_MAX_HEADER)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: header length %llu is over the format's limit of %llu bytes", label,
                     (unsigned long long)n, (unsigned long long)ZST_MAX_HEADER);
  if (n > len - 8)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: header length %llu runs past the end of the file (%zu bytes)", label,
                     (unsigned long long)n, len);
  const char *text = (const char *)file + 8;
  if (n == 0 || text[0] != '{')
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: the header does not start with '{'",
                     label);
  size_t bad_at = zst_utf8_check(file + 8, (size_t)n);
  if (bad_at < n)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: the header is not valid UTF-8 (byte %zu of the header)", label, bad_at);
  zj_value root;
  zmlx_status s = zj_parse(text, (size_t)n, &root);
  if (s) {
    char *why = strdup(zmlx_error_last());
    s = zmlx_fail(s, OP, "%s: header JSON: %s", label, why ? why : "invalid");
    free(why);
    return s;
  }
  text_map m = {0};
  out->data_start = 8 + n;
  if (root.type != ZJ_OBJECT)
    s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: the header is %s, not an object", label,
                  zj_type_name(root.type));
  if (!s) s = map_lines(&m, text, (size_t)n);
  if (!s) s = read_object(label, &m, &root, out);
  if (!s) s = check_tiling(label, out, (uint64_t)len - out->data_start);
  free(m.line_starts);
  zj_free(&root);
  if (s) zst_header_free(out);
  return s;
}

void zst_header_free(zst_header *h) {
  if (!h) return;
  for (int64_t i = 0; i < h->n; i++) free(h->entries[i].name);
  for (int i = 0; i < h->n_meta; i++) {
    free(h->meta_keys[i]);
    free(h->meta_values[i]);
  }
  free(h->entries);
  free(h->meta_keys);
  free(h->meta_values);
  memset(h, 0, sizeof *h);
}
