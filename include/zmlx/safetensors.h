#ifndef ZMLX_SAFETENSORS_H
#define ZMLX_SAFETENSORS_H
/* Safetensors checkpoints: reading (memory-mapped, strictly validated,
 * single files or shards through model.safetensors.index.json) and
 * writing (the same bytes Python's `safetensors` writes for the same
 * tensors). See docs/MODEL_FILES.md.
 *
 * Reading validates every header completely before anything is returned:
 * the JSON itself (strict RFC 8259, UTF-8, no duplicate keys), dtype
 * names, shapes (at most ZMLX_MAX_DIMS dimensions), shape x dtype size =
 * byte length, offsets that tile the data area exactly (no overlap, no
 * hole, the last one ending at the end of the file) and `__metadata__`
 * (a string -> string map). Errors name the file, the tensor and what is
 * wrong. A file that changes size while mapped is outside this promise
 * (as for every memory-mapped reader). */
#include <stddef.h>
#include <stdint.h>
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* The format's dtypes, in the order of the reference implementation's
 * enum (its writer sorts tensors by this order, descending). Only those
 * with a ZMLX dtype can become arrays; the others can still be listed,
 * read as raw bytes and written. */
typedef enum zmlx_st_dtype {
  ZMLX_ST_DTYPE_BOOL = 0,
  ZMLX_ST_DTYPE_F4,
  ZMLX_ST_DTYPE_F6_E2M3,
  ZMLX_ST_DTYPE_F6_E3M2,
  ZMLX_ST_DTYPE_U8,
  ZMLX_ST_DTYPE_I8,
  ZMLX_ST_DTYPE_F8_E5M2,
  ZMLX_ST_DTYPE_F8_E4M3,
  ZMLX_ST_DTYPE_F8_E8M0,
  ZMLX_ST_DTYPE_F8_E4M3FNUZ,
  ZMLX_ST_DTYPE_F8_E5M2FNUZ,
  ZMLX_ST_DTYPE_I16,
  ZMLX_ST_DTYPE_U16,
  ZMLX_ST_DTYPE_F16,
  ZMLX_ST_DTYPE_BF16,
  ZMLX_ST_DTYPE_I32,
  ZMLX_ST_DTYPE_U32,
  ZMLX_ST_DTYPE_F32,
  ZMLX_ST_DTYPE_C64,
  ZMLX_ST_DTYPE_F64,
  ZMLX_ST_DTYPE_I64,
  ZMLX_ST_DTYPE_U64,
  ZMLX_ST_DTYPE_COUNT
} zmlx_st_dtype;

/* "BF16", "F8_E4M3", ...; "?" for an invalid value. */
const char *zmlx_st_dtype_name(zmlx_st_dtype t);
/* Exact, case-sensitive name as the format writes it; 0 on success. */
int zmlx_st_dtype_parse(const char *name, zmlx_st_dtype *out);
/* Bits per element (4 for F4, 6 for F6_*, 64 for C64); 0 if invalid. */
int zmlx_st_dtype_bits(zmlx_st_dtype t);
/* The ZMLX dtype with the same bytes: 0 and *out set, or -1 (U16, U64,
 * F4, F6_*, F8_E8M0, the FNUZ types and C64 have none). */
int zmlx_st_dtype_to_zmlx(zmlx_st_dtype t, zmlx_dtype *out);
/* The format's dtype for a ZMLX dtype (every ZMLX dtype has one). */
zmlx_st_dtype zmlx_st_dtype_from_zmlx(zmlx_dtype t);

/* ---- Reading ------------------------------------------------------------ */

/* An opened checkpoint: one or more files, each mapped once. Opaque.
 * Ownership: open/close pair. Arrays loaded from it stay valid after
 * close (zero-copy arrays keep their file's mapping alive). */
typedef struct zmlx_safetensors zmlx_safetensors;

/* One tensor's entry. Strings belong to the handle. */
typedef struct zmlx_st_tensor {
  const char *name;
  const char *file;      /* path of the file holding it */
  zmlx_st_dtype dtype;
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  uint64_t offset;       /* byte offset of its data within file */
  uint64_t nbytes;
} zmlx_st_tensor;

/* path is one of:
 *   - a .safetensors file;
 *   - an index (*.json with a "weight_map"), whose shards are named
 *     relative to the index's folder;
 *   - a folder: its model.safetensors.index.json, else model.safetensors,
 *     else every *.safetensors file in it (in name order).
 * With several files, every tensor name must be unique across them, and
 * an index must list exactly the tensors each shard holds. */
zmlx_status zmlx_safetensors_open(const char *path, zmlx_safetensors **out);
void zmlx_safetensors_close(zmlx_safetensors *st); /* NULL-safe */

/* Tensors in byte-wise name order. */
int64_t zmlx_safetensors_count(const zmlx_safetensors *st);
zmlx_status zmlx_safetensors_tensor(const zmlx_safetensors *st, int64_t index,
                                    zmlx_st_tensor *out);
/* NOT_FOUND (with the name in the error text) when absent. */
zmlx_status zmlx_safetensors_find(const zmlx_safetensors *st, const char *name,
                                  zmlx_st_tensor *out);
int zmlx_safetensors_has(const zmlx_safetensors *st, const char *name);

int zmlx_safetensors_file_count(const zmlx_safetensors *st);
/* Path of file i (0..file_count-1), NULL when out of range. */
const char *zmlx_safetensors_file_path(const zmlx_safetensors *st, int i);

/* `__metadata__` entries, merged over the files (the first file that has
 * a key wins), in key order. */
int zmlx_safetensors_metadata_count(const zmlx_safetensors *st);
zmlx_status zmlx_safetensors_metadata_at(const zmlx_safetensors *st, int i, const char **key,
                                         const char **value);
/* The value for key, or NULL. */
const char *zmlx_safetensors_metadata_get(const zmlx_safetensors *st, const char *key);

/* The tensor's bytes inside the mapping (read only; the mapping is
 * private, so they are exactly the file's bytes). Valid until close. */
zmlx_status zmlx_safetensors_data(const zmlx_safetensors *st, const char *name,
                                  const void **data, size_t *nbytes);

/* The tensor as a C-contiguous array on dev, in its own dtype. On the
 * CPU this is a view of the mapping (no copy) when the data is aligned to
 * its element size, as every file Python's `safetensors` writes is;
 * writes to such an array stay private to this process (copy-on-write).
 * Unaligned data is copied. On CUDA the bytes are copied from the mapping
 * straight into device memory. DTYPE_UNSUPPORTED for dtypes ZMLX lacks. */
zmlx_status zmlx_safetensors_load(zmlx_safetensors *st, const char *name, zmlx_device dev,
                                  zmlx_array **out);
/* As load, then converted to dtype (on dev) when it differs. */
zmlx_status zmlx_safetensors_load_as(zmlx_safetensors *st, const char *name, zmlx_dtype dtype,
                                     zmlx_device dev, zmlx_array **out);

/* ---- Writing ------------------------------------------------------------ */

/* Collects tensors, then writes one file. The layout is the reference
 * writer's: tensors sorted by dtype (descending, in zmlx_st_dtype order)
 * then by name, packed without gaps; the header is compact JSON
 * (`__metadata__` first, its keys sorted; each tensor as
 * {"dtype","shape","data_offsets"}), padded with spaces to a multiple of
 * 8 bytes. Ownership: create/destroy pair. */
typedef struct zmlx_safetensors_writer zmlx_safetensors_writer;

zmlx_status zmlx_safetensors_writer_create(zmlx_safetensors_writer **out);
void zmlx_safetensors_writer_destroy(zmlx_safetensors_writer *w); /* NULL-safe */
/* key and value are copied; a key set twice keeps the last value. */
zmlx_status zmlx_safetensors_writer_metadata(zmlx_safetensors_writer *w, const char *key,
                                             const char *value);
/* The writer keeps one reference to a until destroyed; the array's
 * elements are read (in C order, any layout, any device) by write. */
zmlx_status zmlx_safetensors_writer_add(zmlx_safetensors_writer *w, const char *name,
                                        zmlx_array *a);
/* Raw bytes of any format dtype. data is borrowed (not copied): keep it
 * alive and unchanged until write returns. nbytes must equal the size the
 * shape and dtype give. */
zmlx_status zmlx_safetensors_writer_add_raw(zmlx_safetensors_writer *w, const char *name,
                                            zmlx_st_dtype dtype, int ndim, const int64_t *shape,
                                            const void *data, size_t nbytes);
/* Write the file: to a temporary name beside path, renamed over path once
 * complete. The writer can write again (to another path) afterwards. */
zmlx_status zmlx_safetensors_writer_write(zmlx_safetensors_writer *w, const char *path);

/* One call: n named arrays (and no metadata) into path. */
zmlx_status zmlx_safetensors_save(const char *path, int n, const char *const *names,
                                  zmlx_array *const *arrays);

#ifdef __cplusplus
}
#endif
#endif
