/* Opening a checkpoint: one file, an index of shards, or a folder. An
 * index must describe its shards exactly: every listed tensor is in the
 * shard it names, and every tensor of every shard is listed there. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/json.h"
#include "model/model_internal.h"
#include "model/st_internal.h"

#define OP "safetensors_open"

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static int is_file(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}
static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && !strcmp(s + n - t, tail);
}

static zmlx_status add_file(zmlx_safetensors *st, const char *path) {
  zst_file *files = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *files);
  if (!files) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  st->files = files;
  ZMLX_TRY(zst_file_open(path, &st->files[st->n_files]));
  st->n_files++;
  return ZMLX_STATUS_OK;
}

/* ---- index files -------------------------------------------------------- */

typedef struct wm_entry {
  const char *tensor, *shard;
} wm_entry;

static int cmp_wm(const void *a, const void *b) {
  return strcmp(((const wm_entry *)a)->tensor, ((const wm_entry *)b)->tensor);
}
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard name must stay inside the index's folder. */
static int safe_shard_name(const char *s) {
  if (!s[0] || s[0] == '/') return 0;
  for (const char *p = s; *p;) {
    const char *q = strchr(p, '/');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    p += n + (q ? 1 : 0);
  }
  return 1;
}

static zmlx_status check_listing(const zmlx_safetensors *st, const char *index, wm_entry *wm,
                                 int n, char **shards, int n_shards) {
  for (int i = 0; i < n; i++) {
    const zst_ref *r = zst_lookup(st, wm[i].tensor);
    if (!r || strcmp(shards[r->file], wm[i].shard))
      return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                       "%s: tensor '%.200s' is listed in shard '%.200s', which does not hold it",
                       index, wm[i].tensor, wm[i].shard);
  }
  for (int f = 0; f < n_shards; f++) {
    const zst_header *h = &st->files[f].header;
    for (int64_t i = 0; i < h->n; i++) {
      wm_entry key = {h->entries[i].name, NULL};
      if (!bsearch(&key, wm, (size_t)n, sizeof *wm, cmp_wm))
        return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                         "%s: shard '%.200s' holds tensor '%.200s', which the index does not list",
                         index, shards[f], h->entries[i].name);
    }
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status open_index(zmlx_safetensors *st, const char *index) {
  zj_value root;
  ZMLX_TRY(zmd_read_json(OP, index, &root));
  zmlx_status s = ZMLX_STATUS_OK;
  const zj_value *wmv = zj_get(&root, "weight_map"), *meta = zj_get(&root, "metadata");
  if (root.type != ZJ_OBJECT)
    s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: not a JSON object", index);
  else if (!wmv || wmv->type != ZJ_OBJECT)
    s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: 'weight_map' is %s, not an object", index,
                  wmv ? zj_type_name(wmv->type) : "missing");
  else if (meta && meta->type != ZJ_OBJECT && meta->type != ZJ_NULL)
    s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: 'metadata' is %s, not an object", index,
                  zj_type_name(meta->type));
  int n = s ? 0 : wmv->n;
  wm_entry *wm = malloc((size_t)(n ? n : 1) * sizeof *wm);
  char **shards = malloc((size_t)(n ? n : 1) * sizeof *shards);
  if (!s && (!wm || !shards)) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  for (int i = 0; i < n && !s; i++) {
    const zj_value *v = &wmv->items[i];
    if (v->type != ZJ_STRING || !safe_shard_name(v->string))
      s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                    "%s: weight_map entry '%.200s' must name a shard file inside the index's "
                    "folder",
                    index, wmv->keys[i]);
    else
      wm[i] = (wm_entry){wmv->keys[i], v->string}, shards[i] = v->string;
  }
  if (!s) {
    qsort(wm, (size_t)n, sizeof *wm, cmp_wm);
    for (int i = 1; i < n && !s; i++)
      if (!strcmp(wm[i - 1].tensor, wm[i].tensor))
        s = zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: weight_map lists '%.200s' twice", index,
                      wm[i].tensor);
  }
  int n_shards = 0;
  if (!s) {
    qsort(shards, (size_t)n, sizeof *shards, cmp_str);
    for (int i = 0; i < n; i++)
      if (!n_shards || strcmp(shards[n_shards - 1], shards[i])) shards[n_shards++] = shards[i];
  }
  char *dir = s ? NULL : zmd_dirname(index);
  if (!s && !dir) s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  for (int f = 0; f < n_shards && !s; f++) {
    char *p = zmd_join(dir, shards[f]);
    s = p ? add_file(st, p) : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
    free(p);
    if (s) {
      char *why = strdup(zmlx_error_last());
      s = zmlx_fail(s, OP, "%s: shard '%.200s': %s", index, shards[f], why ? why : "");
      free(why);
    }
  }
  if (!s) s = zst_index_build(st);
  if (!s) s = check_listing(st, index, wm, n, shards, n_shards);
  free(dir);
  free(wm);
  free(shards);
  zj_free(&root);
  return s;
}

/* ---- folders ------------------------------------------------------------ */

static zmlx_status open_all_in(zmlx_safetensors *st, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return zmlx_fail(ZMLX_STATUS_IO_ERROR, OP, "%s: cannot list the folder", dir);
  char **names = NULL;
  int n = 0, cap = 0;
  zmlx_status s = ZMLX_STATUS_OK;
  for (struct dirent *e; !s && (e = readdir(d));) {
    if (!ends_with(e->d_name, ".safetensors")) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) {
        s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
        break;
      }
      names = nn;
    }
    if (!(names[n] = zmd_join(dir, e->d_name)))
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
    else
      n++;
  }
  closedir(d);
  if (!s && n == 0)
    s = zmlx_fail(ZMLX_STATUS_NOT_FOUND, OP,
                  "%s: no model.safetensors.index.json, model.safetensors or other "
                  "*.safetensors file",
                  dir);
  if (!s) qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 0; i < n && !s; i++)
    if (is_file(names[i])) s = add_file(st, names[i]);
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return s ? s : zst_index_build(st);
}

zmlx_status zmlx_safetensors_open(const char *path, zmlx_safetensors **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "out is NULL");
  *out = NULL;
  if (!path) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "path is NULL");
  zmlx_safetensors *st = calloc(1, sizeof *st);
  if (!st) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
  zmlx_status s;
  if (is_dir(path)) {
    char *index = zmd_join(path, "model.safetensors.index.json");
    char *single = zmd_join(path, "model.safetensors");
    if (!index || !single)
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, OP, "out of host memory");
    else if (is_file(index))
      s = open_index(st, index);
    else if (is_file(single))
      s = (s = add_file(st, single)) ? s : zst_index_build(st);
    else
      s = open_all_in(st, path);
    free(index);
    free(single);
  } else if (ends_with(path, ".json")) {
    s = open_index(st, path);
  } else {
    s = add_file(st, path);
    if (!s) s = zst_index_build(st);
  }
  if (s) {
    zmlx_safetensors_close(st);
    return s;
  }
  *out = st;
  return ZMLX_STATUS_OK;
}

void zmlx_safetensors_close(zmlx_safetensors *st) {
  if (!st) return;
  for (int f = 0; f < st->n_files; f++) zst_file_close(&st->files[f]);
  for (int i = 0; i < st->n_meta; i++) {
    free(st->meta_keys[i]);
    free(st->meta_values[i]);
  }
  free(st->meta_keys);
  free(st->meta_values);
  free(st->files);
  free(st->refs);
  free(st);
}
