#ifndef ZMLX_MODEL_ST_INTERNAL_H
#define ZMLX_MODEL_ST_INTERNAL_H
/* Internal: the safetensors header parser (shared by the reader and the
 * fuzz target), file mappings, and the checkpoint handle. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zmlx/safetensors.h"

/* The reference implementation's cap on the header length. */
#define ZST_MAX_HEADER ((uint64_t)100000000)

typedef struct zst_entry {
  char *name;
  zmlx_st_dtype dtype;
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  uint64_t begin, end; /* relative to the data area */
} zst_entry;

typedef struct zst_header {
  zst_entry *entries; /* in data order */
  int64_t n;
  char **meta_keys, **meta_values; /* in key order */
  int n_meta;
  uint64_t data_start; /* 8 + header length */
} zst_header;

/* Parse and validate a whole file image (len bytes); label names it in
 * errors. On failure CORRUPT_DATA (or OUT_OF_MEMORY) and *out is empty. */
zmlx_status zst_header_parse(const char *label, const unsigned char *file, size_t len,
                             zst_header *out);
void zst_header_free(zst_header *h);
/* Bytes of a tensor: numel * bits / 8. 0 on overflow or a partial byte
 * (with *ok = 0), else *ok = 1. */
uint64_t zst_nbytes(zmlx_st_dtype dtype, int ndim, const int64_t *shape, int *ok);
/* Offset of the first byte that breaks UTF-8 (no overlongs, surrogates
 * or code points past U+10FFFF), or n when s[0..n) is valid. */
size_t zst_utf8_check(const unsigned char *s, size_t n);

/* One mapped file, shared by the handle and the zero-copy arrays. */
typedef struct zst_map {
  atomic_int refs;
  unsigned char *base;
  size_t len;
  int read_only; /* loads copy instead of viewing */
} zst_map;

zmlx_status zst_map_open(const char *path, zst_map **out);
void zst_map_release(void *map); /* the array release callback too */

typedef struct zst_file {
  char *path;
  zst_map *map;
  zst_header header;
} zst_file;

typedef struct zst_ref {
  const zst_entry *e;
  int file;
} zst_ref;

struct zmlx_safetensors {
  zst_file *files;
  int n_files;
  zst_ref *refs; /* every tensor, by name */
  int64_t n;
  char **meta_keys, **meta_values; /* merged, by key */
  int n_meta;
};

/* Open one file into f (path copied). */
zmlx_status zst_file_open(const char *path, zst_file *f);
void zst_file_close(zst_file *f);
/* Build st->refs and the merged metadata from st->files; error on a name
 * held by two files. */
zmlx_status zst_index_build(zmlx_safetensors *st);
/* The ref for name, or NULL. */
const zst_ref *zst_lookup(const zmlx_safetensors *st, const char *name);

#endif
