#ifndef ZMLX_CATALOG_LOSS_H
#define ZMLX_CATALOG_LOSS_H
#include <stdint.h>

#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Losses. Conventions as in zmlx/catalog.h, except that per-row results
 * are f32 whatever the logits' dtype (f64 for f64 logits): a loss or a
 * logsumexp rounded to bf16 would lose the gradient's digits.
 *
 * Softmax cross-entropy, fused: the kernels stream over the vocabulary
 * and never hold the probabilities, so beyond its small per-row results
 * the forward allocates nothing of the logits' size, and the backward
 * allocates only the gradient. For row r with target t, V classes,
 * lse = log(sum_j exp(x_j)), smoothing eps and z-loss weight z:
 *
 *   loss_r = lse - (1 - eps) x_t - (eps / V) sum_j x_j + z lse^2
 *
 * (PyTorch's cross_entropy with label_smoothing, plus PaLM's z-loss). A
 * row whose target is ignore_index gets loss 0 and no gradient from it;
 * its lse is still computed. A target outside [0, V) that is not
 * ignore_index makes that row's loss NaN (checking it would need a wait
 * for the device). */
typedef struct zmlx_cross_entropy_opts {
  int64_t ignore_index;   /* PyTorch's default: -100 */
  double label_smoothing; /* eps in [0, 1] */
  double z_loss;          /* z >= 0; 0 turns it off (PaLM: 1e-4) */
} zmlx_cross_entropy_opts;

/* logits: (..., V) float; targets: (...) i32 or i64; opts: NULL for the
 * defaults (ignore_index -100, no smoothing, no z-loss). *loss: (...),
 * each row's loss (PyTorch's reduction='none'); *lse: (...), each row's
 * logsumexp, what the backward needs (lse may be NULL when unwanted). */
zmlx_status zmlx_cross_entropy(zmlx_array *logits, zmlx_array *targets,
                               const zmlx_cross_entropy_opts *opts, zmlx_array **loss,
                               zmlx_array **lse);
/* dloss: (...), the gradient of *loss; dlse: (...) or NULL, the gradient
 * of *lse (dlse * softmax joins dlogits). lse: the forward's. *dlogits:
 * logits' shape and dtype,
 *   dlogits_j = dloss (softmax_j (1 + 2 z lse) - (1 - eps) [j == t] - eps / V)
 *             + dlse softmax_j. */
zmlx_status zmlx_cross_entropy_backward(zmlx_array *logits, zmlx_array *targets,
                                        zmlx_array *lse, zmlx_array *dloss, zmlx_array *dlse,
                                        const zmlx_cross_entropy_opts *opts,
                                        zmlx_array **dlogits);

/* PyTorch's reduction='mean': the loss summed over the rows whose target
 * is not ignore_index, divided by their count. *mean: a scalar (shape
 * ()), f32; NaN when every row is ignored (as PyTorch). *lse as above
 * (may be NULL). Errors name "cross_entropy_mean". */
zmlx_status zmlx_cross_entropy_mean(zmlx_array *logits, zmlx_array *targets,
                                    const zmlx_cross_entropy_opts *opts, zmlx_array **mean,
                                    zmlx_array **lse);
/* dmean: a scalar, the gradient of *mean; the backward above with
 * dloss = dmean / count on the counted rows. */
zmlx_status zmlx_cross_entropy_mean_backward(zmlx_array *logits, zmlx_array *targets,
                                             zmlx_array *lse, zmlx_array *dmean,
                                             const zmlx_cross_entropy_opts *opts,
                                             zmlx_array **dlogits);

#ifdef __cplusplus
}
#endif
#endif
