#ifndef ZMLX_ARRAY_H
#define ZMLX_ARRAY_H
#include <stddef.h>
#include <stdint.h>
#include "zmlx/device.h"
#include "zmlx/dtype.h"
#include "zmlx/status.h"
#ifdef __cplusplus
extern "C" {
#endif

#define ZMLX_MAX_DIMS 8

/* zmlx_array is an opaque, reference-counted handle: a view (dtype, shape,
 * strides, offset) onto a reference-counted storage buffer on one device.
 *
 * Ownership: every function that returns a zmlx_array** hands the caller one
 * reference; give it back with zmlx_array_release(). Views keep their
 * storage alive, so releasing the array a view came from is always safe.
 * Functions that take `const zmlx_array *` never keep a reference unless
 * they say so. Sizes and offsets are 64-bit. An array with a zero-length
 * dimension is valid and owns no memory. */
typedef struct zmlx_array zmlx_array;

/* The one public descriptor: a snapshot of an array's layout. Strides and
 * offset count elements, not bytes. `data` points at element 0 of the view
 * (storage base + offset); it is a device pointer for CUDA arrays and NULL
 * for empty arrays. */
typedef struct zmlx_array_desc {
  zmlx_dtype dtype;
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  int64_t strides[ZMLX_MAX_DIMS];
  int64_t offset;
  void *data;
  zmlx_device device;
} zmlx_array_desc;

/* ---- Creation ----------------------------------------------------------
 * shape has ndim entries (0..ZMLX_MAX_DIMS); ndim 0 is a scalar. New arrays
 * are C-contiguous. Work goes on the thread's current stream of `dev`. */
zmlx_status zmlx_array_empty(zmlx_dtype dtype, int ndim, const int64_t *shape,
                             zmlx_device dev, zmlx_array **out);
/* Copy numel*dtype_size bytes of C-ordered host data. */
zmlx_status zmlx_array_from_host(const void *data, zmlx_dtype dtype, int ndim,
                                 const int64_t *shape, zmlx_device dev,
                                 zmlx_array **out);
zmlx_status zmlx_array_zeros(zmlx_dtype dtype, int ndim, const int64_t *shape,
                             zmlx_device dev, zmlx_array **out);
zmlx_status zmlx_array_ones(zmlx_dtype dtype, int ndim, const int64_t *shape,
                            zmlx_device dev, zmlx_array **out);
/* value is converted to dtype as a kernel would convert it. */
zmlx_status zmlx_array_full(zmlx_dtype dtype, int ndim, const int64_t *shape,
                            double value, zmlx_device dev, zmlx_array **out);
/* 1-D: start, start+step, ... (n elements). */
zmlx_status zmlx_array_arange(zmlx_dtype dtype, int64_t n, double start,
                              double step, zmlx_device dev, zmlx_array **out);
/* Counter-based random numbers (Philox-4x32-10). Element i of the result
 * depends only on (seed, i): the same on every backend and for any launch
 * shape. Uniform draws are bit-identical across CPU and CUDA; normal draws
 * (Box-Muller) agree to a few ulps, the libm difference. */
zmlx_status zmlx_array_random_uniform(zmlx_dtype dtype, int ndim,
                                      const int64_t *shape, uint64_t seed,
                                      double low, double high, zmlx_device dev,
                                      zmlx_array **out);
zmlx_status zmlx_array_random_normal(zmlx_dtype dtype, int ndim,
                                     const int64_t *shape, uint64_t seed,
                                     double mean, double std, zmlx_device dev,
                                     zmlx_array **out);

/* ---- Reference counting and inspection --------------------------------- */
zmlx_array *zmlx_array_retain(zmlx_array *a);  /* returns a; NULL-safe */
void zmlx_array_release(zmlx_array *a);        /* NULL-safe */
zmlx_array_desc zmlx_array_describe(const zmlx_array *a);
zmlx_dtype zmlx_array_dtype(const zmlx_array *a);
int zmlx_array_ndim(const zmlx_array *a);
int64_t zmlx_array_dim(const zmlx_array *a, int axis); /* negative axis ok */
int64_t zmlx_array_numel(const zmlx_array *a);
size_t zmlx_array_nbytes(const zmlx_array *a);    /* numel * dtype size */
zmlx_device zmlx_array_device(const zmlx_array *a);
int zmlx_array_is_contiguous(const zmlx_array *a); /* C order */
/* "(16384, 4096) bf16 cuda:0" into buf; returns buf. */
const char *zmlx_array_format(const zmlx_array *a, char *buf, size_t len);

/* ---- Views (no copy) ----------------------------------------------------
 * Each returns a new handle sharing a's storage. Negative axes count from
 * the end. */
/* A view when the strides allow it, else a contiguous copy (like NumPy).
 * One entry of shape may be -1. */
zmlx_status zmlx_array_reshape(zmlx_array *a, int ndim, const int64_t *shape,
                               zmlx_array **out);
zmlx_status zmlx_array_permute(zmlx_array *a, const int *perm,
                               zmlx_array **out);
zmlx_status zmlx_array_transpose(zmlx_array *a, int axis0, int axis1,
                                 zmlx_array **out);
/* Python-style a[start:stop:step] along axis; step != 0, negative ok;
 * start/stop are clamped as Python clamps them. */
zmlx_status zmlx_array_slice(zmlx_array *a, int axis, int64_t start,
                             int64_t stop, int64_t step, zmlx_array **out);
/* NumPy broadcasting rules; broadcast dimensions get stride 0. */
zmlx_status zmlx_array_broadcast_to(zmlx_array *a, int ndim,
                                    const int64_t *shape, zmlx_array **out);
zmlx_status zmlx_array_expand_dims(zmlx_array *a, int axis, zmlx_array **out);
/* Drop axis, which must have length 1. */
zmlx_status zmlx_array_squeeze(zmlx_array *a, int axis, zmlx_array **out);

/* ---- Copies ------------------------------------------------------------- */
/* a itself (one more reference) when already C-contiguous, else a copy. */
zmlx_status zmlx_array_contiguous(zmlx_array *a, zmlx_array **out);
/* A contiguous copy on another device (or the same one). */
zmlx_status zmlx_array_to_device(zmlx_array *a, zmlx_device dev,
                                 zmlx_array **out);
/* Elementwise conversion to another dtype; contiguous result. */
zmlx_status zmlx_array_astype(zmlx_array *a, zmlx_dtype dtype,
                              zmlx_array **out);
/* Copy src into dst elementwise: src broadcasts to dst's shape, converts
 * to dst's dtype, and may live on another device; any strides. dst and src
 * must not overlap in memory (copy through a temporary if they do).
 * Conversions go through f64, so an i64 beyond 2^53 converted to a float
 * type may round twice. */
zmlx_status zmlx_array_copy_into(zmlx_array *dst, zmlx_array *src);
/* Read the array into host memory in C order. dst_bytes must be at least
 * zmlx_array_nbytes(a). Waits for queued work on a's device. */
zmlx_status zmlx_array_to_host(const zmlx_array *a, void *dst,
                               size_t dst_bytes);

#ifdef __cplusplus
}
#endif
#endif
