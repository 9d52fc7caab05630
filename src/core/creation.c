/* Making arrays: from host data, constants, ranges and random draws. */
#include <math.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/builtin.h"

static double clamp(double v, double lo, double hi) {
  if (isnan(v)) return 0;
  return v < lo ? lo : (v > hi ? hi : v);
}

void zmlx_value_encode(zmlx_dtype dtype, double v, void *bytes) {
  union {
    float f; double d; uint16_t h; int8_t i8; uint8_t u8; int16_t i16; int32_t i32;
    int64_t i64; uint32_t u32;
  } u;
  switch (dtype) {
    case ZMLX_DTYPE_F32: u.f = (float)v; break;
    case ZMLX_DTYPE_F64: u.d = v; break;
    case ZMLX_DTYPE_F16: u.h = zmlx_f32_to_f16((float)v); break;
    case ZMLX_DTYPE_BF16: u.h = zmlx_f32_to_bf16((float)v); break;
    case ZMLX_DTYPE_FP8_E4M3: u.u8 = zmlx_f32_to_fp8_e4m3((float)v); break;
    case ZMLX_DTYPE_FP8_E5M2: u.u8 = zmlx_f32_to_fp8_e5m2((float)v); break;
    /* Integers saturate: a C cast of an out-of-range double is undefined. */
    case ZMLX_DTYPE_I8: u.i8 = (int8_t)clamp(v, INT8_MIN, INT8_MAX); break;
    case ZMLX_DTYPE_U8: u.u8 = (uint8_t)clamp(v, 0, UINT8_MAX); break;
    case ZMLX_DTYPE_I16: u.i16 = (int16_t)clamp(v, INT16_MIN, INT16_MAX); break;
    case ZMLX_DTYPE_I32: u.i32 = (int32_t)clamp(v, INT32_MIN, INT32_MAX); break;
    case ZMLX_DTYPE_I64: u.i64 = (int64_t)clamp(v, -9223372036854775808.0, 9223372036854774784.0); break;
    case ZMLX_DTYPE_U32: u.u32 = (uint32_t)clamp(v, 0, UINT32_MAX); break;
    case ZMLX_DTYPE_BOOL: u.u8 = v != 0; break;
    default: u.i64 = 0; break;
  }
  memcpy(bytes, &u, zmlx_dtype_size(dtype));
}

zmlx_status zmlx_array_fill(zmlx_array *a, double value) {
  int64_t n = zmlx_array_numel(a);
  if (n == 0) return ZMLX_STATUS_OK;
  if (zmlx_array_is_contiguous(a)) {
    unsigned char pattern[8];
    zmlx_value_encode(a->dtype, value, pattern);
    zmlx_device d = a->storage->device;
    return a->storage->backend->mem_fill(d.index, zmlx_array_data(a), (size_t)n, pattern,
                                         zmlx_dtype_size(a->dtype), zmlx_stream_native(d, NULL));
  }
  zmlx_array *tmp;
  ZMLX_TRY(zmlx_array_full(a->dtype, a->ndim, a->shape, value, a->storage->device, &tmp));
  zmlx_status s = zk_copy(a, tmp);
  zmlx_array_release(tmp);
  return s;
}

static zmlx_status full_op(const char *op, zmlx_dtype dtype, int ndim, const int64_t *shape,
                           double value, zmlx_device dev, zmlx_array **out) {
  ZMLX_TRY(zmlx_array_empty_op(op, dtype, ndim, shape, dev, out));
  zmlx_status s = zmlx_array_fill(*out, value);
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zmlx_array_full(zmlx_dtype dtype, int ndim, const int64_t *shape, double value,
                            zmlx_device dev, zmlx_array **out) {
  return full_op("array_full", dtype, ndim, shape, value, dev, out);
}

zmlx_status zmlx_array_zeros(zmlx_dtype dtype, int ndim, const int64_t *shape, zmlx_device dev,
                             zmlx_array **out) {
  return full_op("array_zeros", dtype, ndim, shape, 0.0, dev, out);
}

zmlx_status zmlx_array_ones(zmlx_dtype dtype, int ndim, const int64_t *shape, zmlx_device dev,
                            zmlx_array **out) {
  return full_op("array_ones", dtype, ndim, shape, 1.0, dev, out);
}

zmlx_status zmlx_array_from_host(const void *data, zmlx_dtype dtype, int ndim,
                                 const int64_t *shape, zmlx_device dev, zmlx_array **out) {
  ZMLX_TRY(zmlx_array_empty_op("array_from_host", dtype, ndim, shape, dev, out));
  size_t bytes = zmlx_array_nbytes(*out);
  if (bytes == 0) return ZMLX_STATUS_OK;
  zmlx_status s = data ? ZMLX_STATUS_OK
                       : zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "array_from_host", "data is NULL");
  if (s == ZMLX_STATUS_OK)
    s = (*out)->storage->backend->copy_h2d(dev.index, zmlx_array_data(*out), data, bytes,
                                           zmlx_stream_native(dev, NULL));
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

/* Create, then run a builtin kernel into it; release on failure. */
static zmlx_status finish(zmlx_status s, zmlx_array **out) {
  if (s != ZMLX_STATUS_OK) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zmlx_array_arange(zmlx_dtype dtype, int64_t n, double start, double step,
                              zmlx_device dev, zmlx_array **out) {
  ZMLX_TRY(zmlx_array_empty_op("array_arange", dtype, 1, &n, dev, out));
  return finish(zk_arange(*out, start, step), out);
}

static zmlx_status random_array(const char *op, zmlx_dtype dtype, int ndim, const int64_t *shape,
                                int normal, uint64_t seed, double a, double b, zmlx_device dev,
                                zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (!zmlx_dtype_is_float(dtype))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "dtype %s: random arrays are floating point",
                     zmlx_dtype_name(dtype));
  ZMLX_TRY(zmlx_array_empty_op(op, dtype, ndim, shape, dev, out));
  return finish(zk_random(*out, normal, seed, a, b), out);
}

zmlx_status zmlx_array_random_uniform(zmlx_dtype dtype, int ndim, const int64_t *shape,
                                      uint64_t seed, double low, double high, zmlx_device dev,
                                      zmlx_array **out) {
  return random_array("array_random_uniform", dtype, ndim, shape, 0, seed, low, high, dev, out);
}

zmlx_status zmlx_array_random_normal(zmlx_dtype dtype, int ndim, const int64_t *shape,
                                     uint64_t seed, double mean, double std, zmlx_device dev,
                                     zmlx_array **out) {
  return random_array("array_random_normal", dtype, ndim, shape, 1, seed, mean, std, dev, out);
}
