#ifndef ZMLX_AUTODIFF_H
#define ZMLX_AUTODIFF_H
#include <stdint.h>
#include "zmlx/elementwise.h"
#include "zmlx/reduce.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Reverse-mode gradients: a tape records ZMLX operations as they run, and
 * zmlx_tape_backward walks them backwards.
 *
 * What is recorded. An operation goes on the tape when one of its inputs is
 * on the tape: watched with zmlx_tape_watch, or an output of a recorded
 * operation. Operations whose inputs are all off the tape run as usual and
 * leave nothing behind, so constants cost nothing.
 *
 * The tape knows array handles, not memory. A view (reshape, slice, ...) of
 * a recorded array is a new handle that the tape does not know: it is a
 * constant unless you record the view yourself as a custom node. Recorded
 * arrays must not be written afterwards (no in-place updates): backward
 * rules read the inputs as they are when the backward runs.
 *
 * Backward rules.
 *  - zmlx_tape_elementwise: the kernel's grad_exprs, run by
 *    zmlx_elementwise_backward (one fused kernel that sums over broadcast
 *    dimensions). Grad expressions see g of output 0 only, so a gradient
 *    that reaches another output of the kernel is an error (UNSUPPORTED).
 *  - zmlx_tape_elementwise_with_backward: elementwise kernels that you
 *    write, one per input, compute the gradients; the tape launches them
 *    like any recorded operation, so they can be differentiated again.
 *  - zmlx_tape_reduce, zmlx_tape_map_reduce: the backward rule the kernel's
 *    description carries (zmlx/reduce.h).
 *  - zmlx_tape_record_custom: any operation (raw kernels, host code) with
 *    a backward callback.
 * The gradients of an array used more than once (by several operations,
 * or twice by one) are summed in f64 and rounded once to the dtype of the
 * first of them.
 *
 * Gradients of gradients. Backward with ZMLX_TAPE_CREATE_GRAPH records the
 * operations that compute the gradients on the same tape, so the returned
 * gradients are on the tape and a second backward differentiates them.
 * Exactly these parts of a backward are recorded:
 *  - what a custom node's callback computes with recorded ZMLX operations
 *    (zmlx_tape_elementwise, zmlx_tape_elementwise_with_backward,
 *    zmlx_tape_record_custom on the tape it is given); whatever a callback
 *    computes off the tape is a constant to the next backward;
 *  - the backward kernels of a node recorded with
 *    zmlx_tape_elementwise_with_backward: each is recorded as a plain
 *    zmlx_tape_elementwise node, so its grad_exprs give the next
 *    derivatives (and recording a second backward through it, for third
 *    derivatives, fails as below);
 *  - the tape's own plumbing: sums of gradients of arrays used more than
 *    once, and sums over broadcast dimensions (with their backward, a
 *    broadcast).
 * A node recorded with plain zmlx_tape_elementwise has a fused backward
 * kernel that is not a recorded operation: a backward with
 * ZMLX_TAPE_CREATE_GRAPH that reaches one (a gradient arrives at its
 * output and one of xs lies behind it) fails with UNSUPPORTED instead of
 * returning a gradient that silently lacks its second-order terms.
 *
 * Ownership. The tape holds a reference to every watched array and to every
 * input and output of a recorded operation until zmlx_tape_destroy; it
 * borrows elementwise kernels, which must outlive the tape. Arrays a call
 * returns through `zmlx_array **` belong to the caller. Nothing is dropped
 * before zmlx_tape_destroy (backward does not consume the tape), so use a
 * tape per step. A tape is used by one thread at a time. */
typedef struct zmlx_tape zmlx_tape;

zmlx_status zmlx_tape_create(zmlx_tape **out);
/* Releases every array the tape holds and calls every ctx_free. NULL-safe. */
void zmlx_tape_destroy(zmlx_tape *t);

/* Mark x as a leaf to differentiate against (the tape retains it).
 * Watching an array already on the tape does nothing. */
zmlx_status zmlx_tape_watch(zmlx_tape *t, zmlx_array *x);
/* 1 when a is watched or an output of a recorded operation. */
int zmlx_tape_contains(const zmlx_tape *t, const zmlx_array *a);
/* Number of recorded operations (including those a backward with
 * ZMLX_TAPE_CREATE_GRAPH recorded). */
int64_t zmlx_tape_size(const zmlx_tape *t);

/* zmlx_elementwise_launch, recorded when an input is on the tape. outputs
 * has room for the kernel's n_outputs new arrays, owned by the caller. */
zmlx_status zmlx_tape_elementwise(zmlx_tape *t, zmlx_elementwise *k, int n_inputs,
                                  zmlx_array *const *inputs, int n_scalars,
                                  const double *scalars, zmlx_array **outputs);

/* As zmlx_tape_elementwise, with the gradients computed by elementwise
 * kernels that you write: backward[i] (n_inputs entries; NULL: input i
 * gets no gradient) takes k's inputs followed by the gradient of k's
 * output 0, and k's scalars, and its output 0 is the gradient of input i
 * at the broadcast shape (the tape sums it over the dimensions input i was
 * broadcast along). The backward kernels are launched through the tape, so
 * with ZMLX_TAPE_CREATE_GRAPH they are recorded and their own grad_exprs
 * give second derivatives. k's grad_exprs are not used. The tape copies
 * the array of pointers; the kernels must outlive the tape. */
zmlx_status zmlx_tape_elementwise_with_backward(zmlx_tape *t, zmlx_elementwise *k,
                                                zmlx_elementwise *const *backward,
                                                int n_inputs, zmlx_array *const *inputs,
                                                int n_scalars, const double *scalars,
                                                zmlx_array **outputs);

/* A custom node's backward rule. out_grads[j] is the gradient of outputs[j]
 * (shaped like it; zeros when nothing reached that output). Set
 * in_grads[i] (all NULL on entry) to a new array shaped like inputs[i] on
 * its device, or leave it NULL for an input without a gradient; the tape
 * takes those references, also when the callback fails. The callback may
 * run any ZMLX operation; those it runs through the tape `t` are recorded
 * during a backward with ZMLX_TAPE_CREATE_GRAPH and run plainly otherwise;
 * it must not call zmlx_tape_backward on `t`. Return OK, or a failing
 * status with zmlx's error text set (or not: the tape names the node either
 * way). */
typedef zmlx_status (*zmlx_tape_backward_fn)(void *ctx, zmlx_tape *t,
                                             zmlx_array *const *inputs,
                                             zmlx_array *const *outputs,
                                             zmlx_array *const *out_grads,
                                             zmlx_array **in_grads);

/* Record an operation you already ran: outputs were computed from inputs,
 * and `backward` maps output gradients to input gradients. Recorded only
 * when an input is on the tape (OK either way). Outputs must be new to the
 * tape (not watched, not recorded before, not one of the inputs). name
 * (copied; may be NULL) appears in error text. ctx belongs to the tape
 * from this call on: ctx_free(ctx) (when not NULL) runs exactly once, at
 * zmlx_tape_destroy, or before this call returns when the node is not
 * recorded or the call fails. */
zmlx_status zmlx_tape_record_custom(zmlx_tape *t, const char *name, int n_inputs,
                                    zmlx_array *const *inputs, int n_outputs,
                                    zmlx_array *const *outputs,
                                    zmlx_tape_backward_fn backward, void *ctx,
                                    void (*ctx_free)(void *ctx));

/* Reductions and map-reductions (zmlx/reduce.h), recorded with their
 * kernel's backward rule (a gradient reaching a kernel without one fails
 * with UNSUPPORTED). Index reductions (argmax) run unrecorded: they have
 * no gradient. *out is a new array owned by the caller. */
zmlx_status zmlx_tape_reduce(zmlx_tape *t, zmlx_reduce *k, zmlx_array *x, int n_axes,
                             const int *axes, int keepdims, zmlx_array **out);
zmlx_status zmlx_tape_map_reduce(zmlx_tape *t, zmlx_map_reduce *k, zmlx_array *x, int axis,
                                 int n_params, zmlx_array *const *params, int n_scalars,
                                 const double *scalars, zmlx_array **out);

/* Recorded views: zmlx_array_reshape and zmlx_array_broadcast_to whose
 * backward rules are a reshape back and a sum over the broadcast
 * dimensions. */
zmlx_status zmlx_tape_reshape(zmlx_tape *t, zmlx_array *a, int ndim, const int64_t *shape,
                              zmlx_array **out);
zmlx_status zmlx_tape_broadcast_to(zmlx_tape *t, zmlx_array *a, int ndim, const int64_t *shape,
                                   zmlx_array **out);

/* zmlx_tape_backward flags. */
#define ZMLX_TAPE_CREATE_GRAPH 1

/* Gradients of y with respect to xs[0..n): grads[i] = sum over y's
 * elements of g * d y / d xs[i], shaped like xs[i]. g (NULL: ones) must
 * have y's shape and device. y must be on the tape. grads[i] is NULL when
 * y does not depend on xs[i] through recorded operations (also when xs[i]
 * is not on the tape at all); otherwise a new array owned by the caller,
 * in the dtype the backward rules produced (for elementwise kernels, the
 * input's dtype). xs may hold intermediate arrays, and y itself (its
 * gradient is g).
 * The tape is kept: backward may run any number of times. With
 * ZMLX_TAPE_CREATE_GRAPH, the computation of the gradients is recorded (see
 * above) and the gradients themselves are on the tape. On failure every
 * grads[i] is NULL. */
zmlx_status zmlx_tape_backward(zmlx_tape *t, zmlx_array *y, zmlx_array *g, int n,
                               zmlx_array *const *xs, zmlx_array **grads, int flags);

#ifdef __cplusplus
}
#endif
#endif
