#ifndef ZMLX_CATALOG_OPTIM_H
#define ZMLX_CATALOG_OPTIM_H
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Optimizer steps and gradient clipping, IN PLACE: unlike the rest of the
 * catalog these write into the arrays they are given (params, master
 * copies, optimizer state, gradients) and return no new array (clipping
 * returns the norm). Every array must have the param's shape (any
 * strides) and live on one device; the work is queued on the calling
 * thread's current stream. Arithmetic is in f32 (f64 when the param is
 * f64); each stored value is rounded once per step. On failure nothing is
 * written. Errors name the op as the catalog lists it ("adamw",
 * "adamw_master", "sgd", "sgd_nesterov", "clip_grad_norm"). */

/* AdamW, as torch.optim.AdamW (amsgrad and maximize off) computes one
 * step, with t = step (1 for the first step):
 *   p  = p * (1 - lr * weight_decay)
 *   m  = m + (1 - beta1) * (g - m)           (exp_avg.lerp_)
 *   v  = beta2 * v + (1 - beta2) * g * g
 *   p  = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
typedef struct zmlx_adamw_config {
  double lr, beta1, beta2, eps, weight_decay;  /* torch's defaults: 1e-3, 0.9, 0.999, 1e-8, 1e-2 */
  int64_t step;                                /* >= 1 */
} zmlx_adamw_config;

/* param: f32, f16, bf16 or f64. master: NULL, or an f32 (f64) copy of the
 * param: then the step is computed on the master and the param receives
 * it rounded to its dtype (mixed precision: bf16 params, f32 master).
 * grad: any float dtype. m, v: any float dtype (f32 usually). */
zmlx_status zmlx_adamw_step(zmlx_array *param, zmlx_array *master, zmlx_array *grad,
                            zmlx_array *m, zmlx_array *v, const zmlx_adamw_config *cfg);

/* SGD as torch.optim.SGD (maximize off):
 *   d = g + weight_decay * p
 *   momentum != 0:  buf = first ? d : momentum * buf + (1 - dampening) * d
 *                   d   = nesterov ? d + momentum * buf : buf
 *   p = p - lr * d
 * `first` marks the step on which torch creates the buffer (a copy of d,
 * without dampening). Nesterov needs momentum > 0 and dampening 0, as in
 * torch. */
typedef struct zmlx_sgd_config {
  double lr, momentum, dampening, weight_decay;
  int nesterov;
  int first;
} zmlx_sgd_config;

/* param, master, grad as for AdamW; buf: the momentum buffer (any float
 * dtype), NULL when momentum is 0. */
zmlx_status zmlx_sgd_step(zmlx_array *param, zmlx_array *master, zmlx_array *grad,
                          zmlx_array *buf, const zmlx_sgd_config *cfg);

/* Global L2-norm clipping over n gradients (any shapes and float dtypes,
 * one device), as torch.nn.utils.clip_grad_norm_: total = sqrt(sum of
 * every element squared), each gradient's sum of squares computed in f32
 * (f64 for f64); then every gradient is multiplied in place by
 * min(1, max_norm / (total + 1e-6)), so nothing changes when total is at
 * most max_norm (less the 1e-6). The scaling reads total on the device: no
 * synchronization. *norm (may be NULL): a new 0-d array holding total, f32
 * (f64 when every gradient is f64). max_norm >= 0. */
zmlx_status zmlx_clip_grad_norm(int n, zmlx_array *const *grads, double max_norm,
                                zmlx_array **norm);

#ifdef __cplusplus
}
#endif
#endif
