/* Reading tensors of an opened checkpoint: listing, raw bytes, and arrays
 * (zero-copy views of the mapping on the CPU, direct copies from the
 * mapping on CUDA). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "model/st_internal.h"

static void fill(const zmlx_safetensors *st, const zst_ref *r, zmlx_st_tensor *out) {
  const zst_file *f = &st->files[r->file];
  memset(out, 0, sizeof *out);
  out->name = r->e->name;
  out->file = f->path;
  out->dtype = r->e->dtype;
  out->ndim = r->e->ndim;
  memcpy(out->shape, r->e->shape, sizeof out->shape);
  out->offset = f->header.data_start + r->e->begin;
  out->nbytes = r->e->end - r->e->begin;
}

int64_t zmlx_safetensors_count(const zmlx_safetensors *st) { return st ? st->n : 0; }

zmlx_status zmlx_safetensors_tensor(const zmlx_safetensors *st, int64_t index,
                                    zmlx_st_tensor *out) {
  if (!st || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "safetensors_tensor", "NULL argument");
  if (index < 0 || index >= st->n)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "safetensors_tensor",
                     "index %lld outside 0..%lld", (long long)index, (long long)st->n - 1);
  fill(st, &st->refs[index], out);
  return ZMLX_STATUS_OK;
}

static zmlx_status find(const char *op, const zmlx_safetensors *st, const char *name,
                        const zst_ref **out) {
  if (!st || !name) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = zst_lookup(st, name);
  if (!*out)
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, op, "no tensor '%.200s' in %s%s", name,
                     st->n_files ? st->files[0].path : "(no file)",
                     st->n_files > 1 ? " and its other shards" : "");
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_safetensors_find(const zmlx_safetensors *st, const char *name,
                                  zmlx_st_tensor *out) {
  const zst_ref *r;
  ZMLX_TRY(find("safetensors_find", st, name, &r));
  if (out) fill(st, r, out);
  return ZMLX_STATUS_OK;
}

int zmlx_safetensors_has(const zmlx_safetensors *st, const char *name) {
  return zst_lookup(st, name) != NULL;
}

int zmlx_safetensors_file_count(const zmlx_safetensors *st) { return st ? st->n_files : 0; }

const char *zmlx_safetensors_file_path(const zmlx_safetensors *st, int i) {
  return st && i >= 0 && i < st->n_files ? st->files[i].path : NULL;
}

int zmlx_safetensors_metadata_count(const zmlx_safetensors *st) { return st ? st->n_meta : 0; }

zmlx_status zmlx_safetensors_metadata_at(const zmlx_safetensors *st, int i, const char **key,
                                         const char **value) {
  if (!st || i < 0 || i >= st->n_meta)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "safetensors_metadata_at",
                     "entry %d out of range", i);
  if (key) *key = st->meta_keys[i];
  if (value) *value = st->meta_values[i];
  return ZMLX_STATUS_OK;
}

const char *zmlx_safetensors_metadata_get(const zmlx_safetensors *st, const char *key) {
  for (int i = 0; st && key && i < st->n_meta; i++)
    if (!strcmp(st->meta_keys[i], key)) return st->meta_values[i];
  return NULL;
}

zmlx_status zmlx_safetensors_data(const zmlx_safetensors *st, const char *name,
                                  const void **data, size_t *nbytes) {
  const zst_ref *r;
  ZMLX_TRY(find("safetensors_data", st, name, &r));
  const zst_file *f = &st->files[r->file];
  if (data) *data = f->map->base + f->header.data_start + r->e->begin;
  if (nbytes) *nbytes = (size_t)(r->e->end - r->e->begin);
  return ZMLX_STATUS_OK;
}

/* ---- arrays ------------------------------------------------------------- */

static zmlx_status load(const char *op, zmlx_safetensors *st, const char *name, zmlx_device dev,
                        zmlx_array **out) {
  const zst_ref *r;
  ZMLX_TRY(find(op, st, name, &r));
  const zst_file *f = &st->files[r->file];
  zmlx_dtype dt;
  if (zmlx_st_dtype_to_zmlx(r->e->dtype, &dt))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                     "%s: tensor '%.200s' is %s, which ZMLX has no dtype for", f->path, name,
                     zmlx_st_dtype_name(r->e->dtype));
  unsigned char *p = f->map->base + f->header.data_start + r->e->begin;
  size_t esize = zmlx_dtype_size(dt), nbytes = (size_t)(r->e->end - r->e->begin);
  zmlx_status s;
  if (dev.type == ZMLX_DEVICE_CPU && !f->map->read_only && (uintptr_t)p % esize == 0) {
    atomic_fetch_add(&f->map->refs, 1);
    s = zmlx_array_external(nbytes ? p : NULL, dt, r->e->ndim, r->e->shape, zst_map_release,
                            f->map, out);
  } else {
    /* Read ahead: the copy below walks the range once, front to back. */
    if (nbytes) {
      uintptr_t page = 4096, lo = (uintptr_t)p & ~(page - 1);
      madvise((void *)lo, (size_t)((uintptr_t)p + nbytes - lo), MADV_SEQUENTIAL);
    }
    s = zmlx_array_from_host(p, dt, r->e->ndim, r->e->shape, dev, out);
  }
  if (s) {
    char *why = strdup(zmlx_error_last());
    s = zmlx_fail(s, op, "%s: tensor '%.200s': %s", f->path, name, why ? why : "");
    free(why);
  }
  return s;
}

zmlx_status zmlx_safetensors_load(zmlx_safetensors *st, const char *name, zmlx_device dev,
                                  zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "safetensors_load", "out is NULL");
  *out = NULL;
  return load("safetensors_load", st, name, dev, out);
}

zmlx_status zmlx_safetensors_load_as(zmlx_safetensors *st, const char *name, zmlx_dtype dtype,
                                     zmlx_device dev, zmlx_array **out) {
  static const char *op = "safetensors_load_as";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (zmlx_dtype_size(dtype) == 0)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "invalid dtype %d", (int)dtype);
  zmlx_array *a;
  ZMLX_TRY(load(op, st, name, dev, &a));
  if (zmlx_array_dtype(a) == dtype) {
    *out = a;
    return ZMLX_STATUS_OK;
  }
  zmlx_status s = zmlx_array_astype(a, dtype, out);
  zmlx_array_release(a);
  return s;
}
