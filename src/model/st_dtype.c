/* The safetensors dtype table: names, widths and the ZMLX dtype with the
 * same bytes. Row order is the enum's, which is the reference
 * implementation's (its writer sorts by it). */
#include <string.h>

#include "zmlx/safetensors.h"

typedef struct st_row {
  const char *name;
  int bits;
  int zmlx; /* a zmlx_dtype, or -1 */
} st_row;

static const st_row ROWS[ZMLX_ST_DTYPE_COUNT] = {
    [ZMLX_ST_DTYPE_BOOL] = {"BOOL", 8, ZMLX_DTYPE_BOOL},
    [ZMLX_ST_DTYPE_F4] = {"F4", 4, -1},
    [ZMLX_ST_DTYPE_F6_E2M3] = {"F6_E2M3", 6, -1},
    [ZMLX_ST_DTYPE_F6_E3M2] = {"F6_E3M2", 6, -1},
    [ZMLX_ST_DTYPE_U8] = {"U8", 8, ZMLX_DTYPE_U8},
    [ZMLX_ST_DTYPE_I8] = {"I8", 8, ZMLX_DTYPE_I8},
    [ZMLX_ST_DTYPE_F8_E5M2] = {"F8_E5M2", 8, ZMLX_DTYPE_FP8_E5M2},
    [ZMLX_ST_DTYPE_F8_E4M3] = {"F8_E4M3", 8, ZMLX_DTYPE_FP8_E4M3},
    [ZMLX_ST_DTYPE_F8_E8M0] = {"F8_E8M0", 8, -1},
    [ZMLX_ST_DTYPE_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, -1},
    [ZMLX_ST_DTYPE_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, -1},
    [ZMLX_ST_DTYPE_I16] = {"I16", 16, ZMLX_DTYPE_I16},
    [ZMLX_ST_DTYPE_U16] = {"U16", 16, -1},
    [ZMLX_ST_DTYPE_F16] = {"F16", 16, ZMLX_DTYPE_F16},
    [ZMLX_ST_DTYPE_BF16] = {"BF16", 16, ZMLX_DTYPE_BF16},
    [ZMLX_ST_DTYPE_I32] = {"I32", 32, ZMLX_DTYPE_I32},
    [ZMLX_ST_DTYPE_U32] = {"U32", 32, ZMLX_DTYPE_U32},
    [ZMLX_ST_DTYPE_F32] = {"F32", 32, ZMLX_DTYPE_F32},
    [ZMLX_ST_DTYPE_C64] = {"C64", 64, -1},
    [ZMLX_ST_DTYPE_F64] = {"F64", 64, ZMLX_DTYPE_F64},
    [ZMLX_ST_DTYPE_I64] = {"I64", 64, ZMLX_DTYPE_I64},
    [ZMLX_ST_DTYPE_U64] = {"U64", 64, -1},
};

static int valid(zmlx_st_dtype t) { return (unsigned)t < ZMLX_ST_DTYPE_COUNT; }

const char *zmlx_st_dtype_name(zmlx_st_dtype t) { return valid(t) ? ROWS[t].name : "?"; }

int zmlx_st_dtype_bits(zmlx_st_dtype t) { return valid(t) ? ROWS[t].bits : 0; }

int zmlx_st_dtype_parse(const char *name, zmlx_st_dtype *out) {
  for (int i = 0; name && i < ZMLX_ST_DTYPE_COUNT; i++)
    if (!strcmp(name, ROWS[i].name)) {
      if (out) *out = (zmlx_st_dtype)i;
      return 0;
    }
  return -1;
}

int zmlx_st_dtype_to_zmlx(zmlx_st_dtype t, zmlx_dtype *out) {
  if (!valid(t) || ROWS[t].zmlx < 0) return -1;
  if (out) *out = (zmlx_dtype)ROWS[t].zmlx;
  return 0;
}

zmlx_st_dtype zmlx_st_dtype_from_zmlx(zmlx_dtype t) {
  for (int i = 0; i < ZMLX_ST_DTYPE_COUNT; i++)
    if (ROWS[i].zmlx == (int)t) return (zmlx_st_dtype)i;
  return ZMLX_ST_DTYPE_COUNT;
}
