#ifndef ZMLX_CATALOG_BITS_INTERNAL_H
#define ZMLX_CATALOG_BITS_INTERNAL_H
/* Internal: the bit kernels (bits.c); the NVRTC check builds them. A
 * point owns one byte of a row: pack reads its 8 elements, unpack writes
 * them (one aligned vector store when FAST). Scalars N (elements per row)
 * and B (bytes per row). */
#include "catalog/raw_kernels.h"

zmlx_status zcat_pack_bits_kernel(zmlx_kernel **out);   /* input x, output y (u8) */
zmlx_status zcat_unpack_bits_kernel(zmlx_kernel **out); /* input p (u8), output y; FAST */

#endif
