/* Writing safetensors files byte for byte as the reference writer does:
 * tensors sorted by dtype (descending enum order) then name, packed from
 * offset 0; compact JSON with serde_json's string escapes; the header
 * padded with spaces to a multiple of 8, so every tensor stays aligned. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "model/st_internal.h"

#define OP "safetensors_write"

typedef struct wtensor {
  char *name;
  zmlx_st_dtype dtype;
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  uint64_t nbytes;
  zmlx_array *array; /* or */
  const void *raw;
} wtensor;

struct zmlx_safetensors_writer {
  wtensor *t;
  int n, cap;
  char **meta_keys, **meta_values;
  int n_meta;
};

zmlx_status zmlx_safetensors_writer_create(zmlx_safetensors_writer **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "out is NULL");
  *out = calloc(1, sizeof **out);
  return *out ? ZMLX_STATUS_OK : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
}

void zmlx_safetensors_writer_destroy(zmlx_safetensors_writer *w) {
  if (!w) return;
  for (int i = 0; i < w->n; i++) {
    free(w->t[i].name);
    zmlx_array_release(w->t[i].array);
  }
  for (int i = 0; i < w->n_meta; i++) {
    free(w->meta_keys[i]);
    free(w->meta_values[i]);
  }
  free(w->t);
  free(w->meta_keys);
  free(w->meta_values);
  free(w);
}

static int valid_text(const char *s) { return zst_utf8_check((const unsigned char *)s, strlen(s)) == strlen(s); }

zmlx_status zmlx_safetensors_writer_metadata(zmlx_safetensors_writer *w, const char *key,
                                             const char *value) {
  if (!w || !key || !value)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "NULL argument");
  if (!valid_text(key) || !valid_text(value))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "metadata '%.200s' is not valid UTF-8",
                     key);
  char *v = strdup(value);
  if (!v) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  for (int i = 0; i < w->n_meta; i++)
    if (!strcmp(w->meta_keys[i], key)) {
      free(w->meta_values[i]);
      w->meta_values[i] = v;
      return ZMLX_STATUS_OK;
    }
  char *k = strdup(key);
  char **mk = realloc(w->meta_keys, (size_t)(w->n_meta + 1) * sizeof *mk);
  if (mk) w->meta_keys = mk;
  char **mv = realloc(w->meta_values, (size_t)(w->n_meta + 1) * sizeof *mv);
  if (mv) w->meta_values = mv;
  if (!k || !mk || !mv) {
    free(k);
    free(v);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  w->meta_keys[w->n_meta] = k;
  w->meta_values[w->n_meta] = v;
  w->n_meta++;
  return ZMLX_STATUS_OK;
}

/* A new slot named name, after checking the name. */
static zmlx_status new_slot(zmlx_safetensors_writer *w, const char *name, wtensor **out) {
  if (!w || !name) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "NULL argument");
  if (!valid_text(name))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "tensor name is not valid UTF-8");
  if (!strcmp(name, "__metadata__"))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "'__metadata__' cannot name a tensor");
  for (int i = 0; i < w->n; i++)
    if (!strcmp(w->t[i].name, name))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "tensor '%.200s' added twice", name);
  if (w->n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 16;
    wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
    if (!t) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
    w->t = t;
    w->cap = cap;
  }
  wtensor *t = &w->t[w->n];
  memset(t, 0, sizeof *t);
  if (!(t->name = strdup(name))) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  *out = t;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_safetensors_writer_add(zmlx_safetensors_writer *w, const char *name,
                                        zmlx_array *a) {
  if (!a) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "array is NULL");
  wtensor *t;
  ZMLX_TRY(new_slot(w, name, &t));
  t->dtype = zmlx_st_dtype_from_zmlx(zmlx_array_dtype(a));
  t->ndim = zmlx_array_ndim(a);
  for (int i = 0; i < t->ndim; i++) t->shape[i] = zmlx_array_dim(a, i);
  t->nbytes = zmlx_array_nbytes(a);
  t->array = zmlx_array_retain(a);
  w->n++;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_safetensors_writer_add_raw(zmlx_safetensors_writer *w, const char *name,
                                            zmlx_st_dtype dtype, int ndim, const int64_t *shape,
                                            const void *data, size_t nbytes) {
  if (zmlx_st_dtype_bits(dtype) == 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "invalid safetensors dtype %d", (int)dtype);
  ZMLX_TRY(zmlx_shape_check(OP, ndim, shape, NULL));
  int ok;
  uint64_t want = zst_nbytes(dtype, ndim, shape, &ok);
  if (!ok || want != nbytes || (nbytes && !data))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP,
                     "tensor '%.200s': shape and dtype %s need %llu bytes, %zu given%s",
                     name ? name : "?", zmlx_st_dtype_name(dtype), (unsigned long long)want,
                     nbytes, nbytes && !data ? " (data is NULL)" : "");
  wtensor *t;
  ZMLX_TRY(new_slot(w, name, &t));
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->nbytes = nbytes;
  t->raw = data;
  w->n++;
  return ZMLX_STATUS_OK;
}

/* ---- the header --------------------------------------------------------- */

/* serde_json's escapes: \" \\ \b \f \n \r \t, other controls as \u00xx. */
static void put_string(zmlx_strbuf *sb, const char *s) {
  zmlx_sb_append(sb, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const char *esc = NULL;
    switch (*p) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default: break;
    }
    if (esc) {
      zmlx_sb_append(sb, esc);
    } else if (*p < 0x20) {
      zmlx_sb_printf(sb, "\\u%04x", *p);
    } else {
      const unsigned char *run = p;
      while (p[1] >= 0x20 && p[1] != '"' && p[1] != '\\') p++;
      zmlx_sb_printf(sb, "%.*s", (int)(p - run + 1), (const char *)run);
    }
  }
  zmlx_sb_append(sb, "\"");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_order(const void *a, const void *b) {
  const wtensor *x = *(const wtensor *const *)a, *y = *(const wtensor *const *)b;
  if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
  return strcmp(x->name, y->name);
}

static char *build_header(zmlx_safetensors_writer *w, wtensor **order, size_t *len) {
  zmlx_strbuf sb = {0};
  zmlx_sb_append(&sb, "{");
  if (w->n_meta) {
    char **keys = malloc((size_t)w->n_meta * sizeof *keys);
    if (!keys) return NULL;
    memcpy(keys, w->meta_keys, (size_t)w->n_meta * sizeof *keys);
    qsort(keys, (size_t)w->n_meta, sizeof *keys, cmp_str);
    zmlx_sb_append(&sb, "\"__metadata__\":{");
    for (int i = 0; i < w->n_meta; i++) {
      int j = 0;
      while (strcmp(w->meta_keys[j], keys[i])) j++;
      if (i) zmlx_sb_append(&sb, ",");
      put_string(&sb, keys[i]);
      zmlx_sb_append(&sb, ":");
      put_string(&sb, w->meta_values[j]);
    }
    zmlx_sb_append(&sb, "}");
    free(keys);
  }
  uint64_t at = 0;
  for (int i = 0; i < w->n; i++) {
    const wtensor *t = order[i];
    if (i || w->n_meta) zmlx_sb_append(&sb, ",");
    put_string(&sb, t->name);
    zmlx_sb_printf(&sb, ":{\"dtype\":\"%s\",\"shape\":[", zmlx_st_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
      zmlx_sb_printf(&sb, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    zmlx_sb_printf(&sb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                   (unsigned long long)(at + t->nbytes));
    at += t->nbytes;
  }
  zmlx_sb_append(&sb, "}");
  while (!sb.failed && sb.len % 8) zmlx_sb_append(&sb, " ");
  *len = sb.len;
  return zmlx_sb_take(&sb);
}

/* ---- the file ----------------------------------------------------------- */

static zmlx_status write_all(int fd, const char *path, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n) {
    ssize_t k = write(fd, b, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0)
      return zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: %s", path, k < 0 ? strerror(errno) : "short write");
    b += k;
    n -= (size_t)k;
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status write_tensor(int fd, const char *path, const wtensor *t) {
  if (t->nbytes == 0) return ZMLX_STATUS_OK;
  if (t->raw) return write_all(fd, path, t->raw, (size_t)t->nbytes);
  zmlx_array_desc d = zmlx_array_describe(t->array);
  if (d.device.type == ZMLX_DEVICE_CPU && zmlx_array_is_contiguous(t->array))
    return write_all(fd, path, d.data, (size_t)t->nbytes);
  void *host = malloc((size_t)t->nbytes);
  if (!host) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  zmlx_status s = zmlx_array_to_host(t->array, host, (size_t)t->nbytes);
  if (!s) s = write_all(fd, path, host, (size_t)t->nbytes);
  free(host);
  return s;
}

zmlx_status zmlx_safetensors_writer_write(zmlx_safetensors_writer *w, const char *path) {
  if (!w || !path) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "NULL argument");
  wtensor **order = malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
  if (!order) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  for (int i = 0; i < w->n; i++) order[i] = &w->t[i];
  qsort(order, (size_t)w->n, sizeof *order, cmp_order);
  size_t hlen = 0;
  char *header = build_header(w, order, &hlen);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!header) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  else if (hlen > ZST_MAX_HEADER)
    s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "%s: the header would be %zu bytes, over the "
                  "format's limit of %llu", path, hlen, (unsigned long long)ZST_MAX_HEADER);
  static atomic_uint counter;
  char *tmp = NULL;
  int fd = -1;
  if (!s) {
    size_t n = strlen(path) + 64;
    tmp = malloc(n);
    if (tmp) snprintf(tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666) : -1;
    if (fd < 0)
      s = tmp ? zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: %s", tmp, strerror(errno))
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  if (!s) {
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    s = write_all(fd, path, le, 8);
    if (!s) s = write_all(fd, path, header, hlen);
    for (int i = 0; i < w->n && !s; i++) s = write_tensor(fd, path, order[i]);
  }
  if (fd >= 0 && close(fd) != 0 && !s)
    s = zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: %s", path, strerror(errno));
  if (!s && rename(tmp, path) != 0)
    s = zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: %s", path, strerror(errno));
  if (s && fd >= 0) unlink(tmp);
  free(tmp);
  free(header);
  free(order);
  return s;
}

zmlx_status zmlx_safetensors_save(const char *path, int n, const char *const *names,
                                  zmlx_array *const *arrays) {
  if (n < 0 || (n && (!names || !arrays)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "safetensors_save", "bad tensor list");
  zmlx_safetensors_writer *w;
  ZMLX_TRY(zmlx_safetensors_writer_create(&w));
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n && !s; i++) s = zmlx_safetensors_writer_add(w, names[i], arrays[i]);
  if (!s) s = zmlx_safetensors_writer_write(w, path);
  zmlx_safetensors_writer_destroy(w);
  return s;
}
