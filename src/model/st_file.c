/* Mapped safetensors files and the name index over all of a checkpoint's
 * files. A file is mapped once, private and writable (copy-on-write), so
 * zero-copy arrays over it behave as ordinary arrays: a write changes this
 * process's copy, never the file. MAP_NORESERVE keeps a large mapping
 * from counting against the commit limit; where even so a writable
 * mapping is refused, the file is mapped read-only and loads copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "model/st_internal.h"

#define OP "safetensors_open"

zmlx_status zst_map_open(const char *path, zst_map **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return zmlx_fail(errno == ENOENT ? ZMLX_STATUS_NOT_FOUND : ZMLX_STATUS_IO_ERROR, OP,
                     "%s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = errno;
    close(fd);
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: %s", path,
                     S_ISREG(sb.st_mode) ? strerror(e) : "not a regular file");
  }
  zst_map *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  atomic_init(&m->refs, 1);
  m->len = (size_t)sb.st_size;
  if (m->len) {
    void *p = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
      p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
      m->read_only = 1;
    }
    if (p == MAP_FAILED) {
      int e = errno;
      close(fd);
      free(m);
      return zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: mmap of %zu bytes: %s", path,
                       (size_t)sb.st_size, strerror(e));
    }
    m->base = p;
  }
  close(fd);
  *out = m;
  return ZMLX_STATUS_OK;
}

void zst_map_release(void *map) {
  zst_map *m = map;
  if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
  if (m->base) munmap(m->base, m->len);
  free(m);
}

zmlx_status zst_file_open(const char *path, zst_file *f) {
  memset(f, 0, sizeof *f);
  if (!(f->path = strdup(path))) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  zmlx_status s = zst_map_open(path, &f->map);
  if (!s) s = zst_header_parse(path, f->map->base, f->map->len, &f->header);
  if (s) zst_file_close(f);
  return s;
}

void zst_file_close(zst_file *f) {
  if (!f) return;
  zst_header_free(&f->header);
  zst_map_release(f->map);
  free(f->path);
  memset(f, 0, sizeof *f);
}

/* ---- the name index ----------------------------------------------------- */

static int cmp_ref(const void *a, const void *b) {
  return strcmp(((const zst_ref *)a)->e->name, ((const zst_ref *)b)->e->name);
}

static int cmp_name_ref(const void *key, const void *r) {
  return strcmp(key, ((const zst_ref *)r)->e->name);
}

const zst_ref *zst_lookup(const zmlx_safetensors *st, const char *name) {
  if (!st || !name || !st->n) return NULL;
  return bsearch(name, st->refs, (size_t)st->n, sizeof *st->refs, cmp_name_ref);
}

typedef struct meta_kv {
  const char *key, *value;
  int order; /* file index, then position: the first file wins */
} meta_kv;

static int cmp_meta(const void *a, const void *b) {
  const meta_kv *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}

static zmlx_status merge_metadata(zmlx_safetensors *st) {
  int total = 0;
  for (int f = 0; f < st->n_files; f++) total += st->files[f].header.n_meta;
  meta_kv *all = malloc((size_t)(total ? total : 1) * sizeof *all);
  st->meta_keys = calloc((size_t)(total ? total : 1), sizeof *st->meta_keys);
  st->meta_values = calloc((size_t)(total ? total : 1), sizeof *st->meta_values);
  if (!all || !st->meta_keys || !st->meta_values) {
    free(all);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  int k = 0;
  for (int f = 0; f < st->n_files; f++) {
    const zst_header *h = &st->files[f].header;
    for (int i = 0; i < h->n_meta; i++, k++)
      all[k] = (meta_kv){h->meta_keys[i], h->meta_values[i], k};
  }
  qsort(all, (size_t)total, sizeof *all, cmp_meta);
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < total && !s; i++) {
    if (i && !strcmp(all[i - 1].key, all[i].key)) continue;
    int j = st->n_meta;
    st->meta_keys[j] = strdup(all[i].key);
    st->meta_values[j] = strdup(all[i].value);
    st->n_meta++;
    if (!st->meta_keys[j] || !st->meta_values[j])
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  }
  free(all);
  return s;
}

zmlx_status zst_index_build(zmlx_safetensors *st) {
  int64_t n = 0;
  for (int f = 0; f < st->n_files; f++) n += st->files[f].header.n;
  st->refs = malloc((size_t)(n ? n : 1) * sizeof *st->refs);
  if (!st->refs) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  int64_t k = 0;
  for (int f = 0; f < st->n_files; f++)
    for (int64_t i = 0; i < st->files[f].header.n; i++)
      st->refs[k++] = (zst_ref){&st->files[f].header.entries[i], f};
  qsort(st->refs, (size_t)n, sizeof *st->refs, cmp_ref);
  st->n = n;
  for (int64_t i = 1; i < n; i++)
    if (!strcmp(st->refs[i - 1].e->name, st->refs[i].e->name))
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "tensor '%.200s' is in both %s and %s",
                       st->refs[i].e->name, st->files[st->refs[i - 1].file].path,
                       st->files[st->refs[i].file].path);
  return merge_metadata(st);
}
