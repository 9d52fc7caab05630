#include "zmlx/dtype.h"

#include <string.h>

/* The host conversions are the kernels' own, from the shared prelude. */
#define ZMLX_PRELUDE_HOST 1
#include "kernel/prelude.h"

static const struct {
  const char *name;
  size_t size;
  int is_float;
} dtype_table[ZMLX_DTYPE_COUNT] = {
    [ZMLX_DTYPE_F32] = {"f32", 4, 1},       [ZMLX_DTYPE_F64] = {"f64", 8, 1},
    [ZMLX_DTYPE_F16] = {"f16", 2, 1},       [ZMLX_DTYPE_BF16] = {"bf16", 2, 1},
    [ZMLX_DTYPE_I8] = {"i8", 1, 0},         [ZMLX_DTYPE_U8] = {"u8", 1, 0},
    [ZMLX_DTYPE_I16] = {"i16", 2, 0},       [ZMLX_DTYPE_I32] = {"i32", 4, 0},
    [ZMLX_DTYPE_I64] = {"i64", 8, 0},       [ZMLX_DTYPE_U32] = {"u32", 4, 0},
    [ZMLX_DTYPE_BOOL] = {"bool", 1, 0},     [ZMLX_DTYPE_FP8_E4M3] = {"fp8_e4m3", 1, 1},
    [ZMLX_DTYPE_FP8_E5M2] = {"fp8_e5m2", 1, 1},
};

static int valid(zmlx_dtype t) { return (unsigned)t < ZMLX_DTYPE_COUNT; }

size_t zmlx_dtype_size(zmlx_dtype t) { return valid(t) ? dtype_table[t].size : 0; }
const char *zmlx_dtype_name(zmlx_dtype t) { return valid(t) ? dtype_table[t].name : "?"; }
int zmlx_dtype_is_float(zmlx_dtype t) { return valid(t) && dtype_table[t].is_float; }
int zmlx_dtype_is_integer(zmlx_dtype t) { return valid(t) && !dtype_table[t].is_float; }

int zmlx_dtype_parse(const char *name, zmlx_dtype *out) {
  for (int i = 0; name && i < ZMLX_DTYPE_COUNT; i++) {
    if (!strcmp(name, dtype_table[i].name)) {
      *out = (zmlx_dtype)i;
      return 0;
    }
  }
  return -1;
}

uint16_t zmlx_f32_to_f16(float f) { return zmlx_f16_bits_from_f32(f); }
float zmlx_f16_to_f32(uint16_t h) { return zmlx_f16_bits_to_f32(h); }
uint16_t zmlx_f32_to_bf16(float f) { return zmlx_bf16_bits_from_f32(f); }
float zmlx_bf16_to_f32(uint16_t b) { return zmlx_bf16_bits_to_f32(b); }
uint8_t zmlx_f32_to_fp8_e4m3(float f) { return zmlx_e4m3_bits_from_f32(f); }
float zmlx_fp8_e4m3_to_f32(uint8_t v) { return zmlx_e4m3_bits_to_f32(v); }
uint8_t zmlx_f32_to_fp8_e5m2(float f) { return zmlx_e5m2_bits_from_f32(f); }
float zmlx_fp8_e5m2_to_f32(uint8_t v) { return zmlx_e5m2_bits_to_f32(v); }
