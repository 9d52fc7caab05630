#ifndef ZMLX_CATALOG_LOSS_INTERNAL_H
#define ZMLX_CATALOG_LOSS_INTERNAL_H
/* Internal: the cross-entropy kernels (loss_kernels.c) that loss.c
 * launches after checking its arguments. */
#include "catalog/softmax_kit.h"

typedef struct zsm_ce_args {
  zmlx_array *logits;   /* C-contiguous (..., V) */
  zmlx_array *targets;  /* (...), i32 or i64 */
  int64_t ignore_index;
  double eps, z;
} zsm_ce_args;

/* loss, lse: (...) arrays of the compute dtype, written. */
zmlx_status zsm_ce_forward(const char *op, const zsm_ce_args *a, zmlx_array *loss,
                           zmlx_array *lse);
/* dlse may be NULL; dx: like logits, written. */
zmlx_status zsm_ce_backward(const char *op, const zsm_ce_args *a, zmlx_array *lse,
                            zmlx_array *dloss, zmlx_array *dlse, zmlx_array *dx);
/* out: a scalar, the mean of loss over rows whose target is not
 * ignore_index. */
zmlx_status zsm_ce_mean(const char *op, zmlx_array *loss, zmlx_array *targets,
                        int64_t ignore_index, zmlx_array *out);
/* dloss[r] = dmean / count where targets[r] is counted, else 0. */
zmlx_status zsm_ce_mean_backward(const char *op, zmlx_array *targets, int64_t ignore_index,
                                 zmlx_array *dmean, zmlx_array *dloss);

#endif
