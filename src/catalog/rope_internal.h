#ifndef ZMLX_CATALOG_ROPE_INTERNAL_H
#define ZMLX_CATALOG_ROPE_INTERNAL_H
/* Internal: the rope kernel (rope_kernel.c) and how rope.c launches it;
 * the NVRTC compile check builds the same variants. */
#include "catalog/raw_kernels.h"

/* Scalars, in the kernel's order: items_a, Ha, Da, Ra, Hb, Db, Rb, tlen,
 * offset, rows_out, scale, sign, fast, cache. The two paths and the cache
 * mode are run-time switches (one compile serves them); LAYOUT, POS, F64,
 * VEC and HPT are templates. */
#define ZR_N_SCALARS 14
/* Heads per work item of the vector path. */
#define ZR_HPT 4

zmlx_status zcat_rope_kernel(zmlx_kernel **out);

#endif
