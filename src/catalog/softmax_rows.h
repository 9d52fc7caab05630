#ifndef ZMLX_CATALOG_SOFTMAX_ROWS_H
#define ZMLX_CATALOG_SOFTMAX_ROWS_H
/* Internal: the softmax family's row kernel. One task per row of a:
 * a reduction over the row, then one write per element. */
#include "catalog/softmax_kit.h"

typedef enum zsm_rows_mode {
  ZSM_ROWS_SOFTMAX = 0,   /* out = softmax(scale * a + mask(b)) */
  ZSM_ROWS_SOFTMAX_BWD_Y, /* out = scale * a * (b - sum(a * b)), a = softmax's output */
  ZSM_ROWS_LOG_BWD,       /* out = b - p * sum(b), p = softmax(a), a = the input */
  ZSM_ROWS_LSE_BWD,       /* out = c[row] * softmax(a) */
  ZSM_ROWS_SOFTMAX_BWD,   /* out = scale * p * (b - sum(b * p)), p = softmax(scale * a) */
} zsm_rows_mode;

typedef enum zsm_mask_kind {
  ZSM_MASK_NONE = 0,
  ZSM_MASK_ADD,           /* b is added to scale * a */
  ZSM_MASK_BOOL,          /* b false: the element is left out (-inf) */
} zsm_mask_kind;

/* a: C-contiguous (..., R), float. b: NULL or shaped like a with its last
 * stride 1 (leading strides any, 0 where broadcast). c: NULL or (M,)
 * contiguous, one value per row. out: C-contiguous like a, a's dtype.
 * Queues the kernel; errors name op. */
zmlx_status zsm_rows_run(const char *op, zsm_rows_mode mode, zsm_mask_kind mask, zmlx_array *a,
                         zmlx_array *b, zmlx_array *c, double scale, zmlx_array *out);

#endif
