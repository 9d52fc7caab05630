#ifndef ZMLX_DTYPE_H
#define ZMLX_DTYPE_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Element types. fp8 types are storage formats: kernels convert them to and
 * from f32; no arithmetic is done in fp8. */
typedef enum zmlx_dtype {
  ZMLX_DTYPE_F32 = 0,
  ZMLX_DTYPE_F64,
  ZMLX_DTYPE_F16,
  ZMLX_DTYPE_BF16,
  ZMLX_DTYPE_I8,
  ZMLX_DTYPE_U8,
  ZMLX_DTYPE_I16,
  ZMLX_DTYPE_I32,
  ZMLX_DTYPE_I64,
  ZMLX_DTYPE_U32,
  ZMLX_DTYPE_BOOL,
  ZMLX_DTYPE_FP8_E4M3,
  ZMLX_DTYPE_FP8_E5M2,
  ZMLX_DTYPE_COUNT
} zmlx_dtype;

/* Bytes per element (0 for an invalid dtype). */
size_t zmlx_dtype_size(zmlx_dtype t);
/* "f32", "bf16", "fp8_e4m3", ...; "?" for an invalid dtype. */
const char *zmlx_dtype_name(zmlx_dtype t);
/* Parse a name as printed by zmlx_dtype_name; returns 0 on success. */
int zmlx_dtype_parse(const char *name, zmlx_dtype *out);
int zmlx_dtype_is_float(zmlx_dtype t);   /* f32 f64 f16 bf16 fp8 */
int zmlx_dtype_is_integer(zmlx_dtype t); /* signed, unsigned and bool */

/* Scalar conversions, identical to what kernels do on every backend:
 * round-to-nearest-even, NaN preserved, overflow to inf (fp8 e4m3 saturates
 * to NaN as OCP FP8 specifies, since it has no inf). */
uint16_t zmlx_f32_to_f16(float f);
float zmlx_f16_to_f32(uint16_t h);
uint16_t zmlx_f32_to_bf16(float f);
float zmlx_bf16_to_f32(uint16_t b);
uint8_t zmlx_f32_to_fp8_e4m3(float f);
float zmlx_fp8_e4m3_to_f32(uint8_t v);
uint8_t zmlx_f32_to_fp8_e5m2(float f);
float zmlx_fp8_e5m2_to_f32(uint8_t v);

#ifdef __cplusplus
}
#endif
#endif
