#ifndef ZMLX_CATALOG_GLU_INTERNAL_H
#define ZMLX_CATALOG_GLU_INTERNAL_H
/* Internal: the packed GLU raw kernels (glu_packed.c). */
#include "zmlx/kernel.h"

/* Forward: *out (..., D) from x (..., 2D) and bias (2D,) or NULL.
 * Backward (dy (..., D) given): *out = dx (..., 2D). kind is a
 * zmlx_glu_kind. Arguments already checked. */
zmlx_status zcat_glu_packed_run(int kind, int backward, zmlx_array *x, zmlx_array *bias,
                                zmlx_array *dy, zmlx_array **out);
void zcat_glu_shutdown(void);
/* The raw kernel (borrowed; lives until zcat_glu_shutdown), for compile
 * checks. Inputs x, [dy,] [bias]; scalars D, NV (i64); templates VEC,
 * KIND (a zmlx_glu_kind), F64, BIAS. */
zmlx_status zcat_glu_packed_kernel(int bias, int backward, zmlx_kernel **k);

#endif
