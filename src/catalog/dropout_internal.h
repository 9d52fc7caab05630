#ifndef ZMLX_CATALOG_DROPOUT_INTERNAL_H
#define ZMLX_CATALOG_DROPOUT_INTERNAL_H
/* Internal: the dropout kernel (dropout.c); the NVRTC check builds it. */
#include "catalog/raw_kernels.h"

/* MODE: what the kernel writes. */
enum { ZD_MODE_DROPOUT = 0, ZD_MODE_ADD = 1, ZD_MODE_MASK = 2 };
/* Scalars: n, seed_lo, seed_hi, off_lo, off_hi, thr, scale, fast. */
#define ZD_N_SCALARS 8

zmlx_status zcat_dropout_kernel(zmlx_kernel **out);

#endif
