#ifndef ZMLX_REDUCE_H
#define ZMLX_REDUCE_H
#include "zmlx/kernel.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Reductions, row map-reductions and scans from C statements.
 *
 * All three share one way of describing an accumulation:
 *
 *   acc_type  the accumulator's C type: NULL for `compute_t`, or a struct
 *             declared in `header` (at most 64 bytes).
 *   init      sets `acc` to the identity of combine ("acc = 0;"). Threads
 *             and segments with no elements keep it, so it must be one.
 *   update    folds one element in. Sees `acc`, `x` (the element, already
 *             converted to compute_t) and `idx` (long long: for reduce its
 *             flat C-order index within the reduced axes; for map_reduce
 *             and scan its position along the axis).
 *   update_many  optional, reduce and map_reduce: folds `nx` consecutive
 *             elements `xs[0..nx)` (compute_t) in at once, xs[0] being at
 *             position `idx`; it must equal nx updates in order. The
 *             fast paths call it for each 16-byte vector, so it can do
 *             once per vector what update does per element (softmax
 *             rescales its running sum once per vector, not per new
 *             maximum). NULL: nx calls of update.
 *   combine   merges a partial result: sees `acc` and `other`, and leaves
 *             the merge in acc ("acc += other;").
 *
 * compute_t is `float`, or `double` when the input is f64 or the
 * description asks for compute F64. Inputs may be f32, f64, f16 or bf16.
 * Statements may call zr_exp, zr_log, zr_log1p and zr_sqrt, which work in
 * compute_t, and anything defined in `header` (on CUDA, functions are
 * device functions). Names starting with _z or zr_ are reserved, and
 * params and scalars may not be named x, xs, nx, out, acc, other, idx or n.
 * Mistakes in a statement fail at the first launch with
 * ZMLX_STATUS_COMPILE_FAILED, the compiler naming it ("softmax.update").
 *
 * Ownership: create copies the description; destroy frees the kernel
 * (NULL-safe). Results of *_launch are new arrays owned by the caller;
 * *_launch_into writes into an existing array of the result's shape (any
 * strides; non-contiguous ones are written through a contiguous temporary).
 * Inputs with any strides are accepted; where a path needs another layout
 * the input is copied first (see each section). Errors name the op, the
 * kernel, the shapes, dtypes and device. */

/* ---- gradients -----------------------------------------------------------
 * A reduce or map_reduce description may carry a backward rule: a C
 * function that computes the input gradients from the output's gradient
 * with ZMLX operations. zmlx_reduce_backward / zmlx_map_reduce_backward run
 * it; zmlx_tape_reduce / zmlx_tape_map_reduce (zmlx/autodiff.h) record the
 * kernel on a tape with it as the node's backward. A rule should compute
 * through the tape it is given (zmlx_tape_elementwise, zmlx_tape_reduce,
 * zmlx_tape_map_reduce, zmlx_tape_reshape, zmlx_tape_broadcast_to): those
 * operations are recorded during a backward with ZMLX_TAPE_CREATE_GRAPH,
 * so the gradients themselves can be differentiated; outside a tape they
 * simply run. The ready-made kernels (zmlx_reduce_builtin,
 * zmlx_map_reduce_builtin) carry rules written that way. */
typedef struct zmlx_tape zmlx_tape;

typedef struct zmlx_reduce_grad_args {
  zmlx_array *x;                /* the input */
  zmlx_array *out;              /* the forward result */
  zmlx_array *g;                /* the gradient of out (out's shape) */
  int n_axes;                   /* reduce: the reduced axes, ascending, */
  const int *axes;              /*   non-negative (all of x's when 0 were given) */
  int keepdims;                 /* reduce */
  int axis;                     /* map_reduce: the row axis, non-negative */
  int n_params;                 /* map_reduce: params and scalars as launched */
  zmlx_array *const *params;
  int n_scalars;
  const double *scalars;
  void *ctx;                    /* the description's backward_ctx */
} zmlx_reduce_grad_args;

/* Set *dx (NULL on entry) to the gradient of x, a new array shaped like x
 * on its device (or leave it NULL: no gradient); map_reduce rules also set
 * dparams[i] (n_params slots, NULL on entry) for the params that get one.
 * Results are taken also when the rule fails. */
typedef zmlx_status (*zmlx_reduce_backward_fn)(zmlx_tape *t, const zmlx_reduce_grad_args *a,
                                               zmlx_array **dx, zmlx_array **dparams);

/* ---- reduce ------------------------------------------------------------
 * Reduces over any set of axes. update and combine may see the elements in
 * any order and grouping: combine must be associative and commutative.
 * finalize (NULL: "out = acc;") sees `acc` and `n` (long long, the number
 * of elements reduced) and assigns `out` (compute_t, or long long when the
 * output dtype is an integer).
 *
 * Paths: reduced axes that form one contiguous run ("rows") get a block or
 * warp per row with 16-byte loads; otherwise, when the last kept axis is
 * contiguous ("columns", e.g. axis 1 of (64, 4096, 256)), each thread owns
 * 16 bytes of columns and walks the reduced axes, coalesced, with any
 * strides. Other layouts are first copied to (kept, reduced) order. When
 * there are too few rows or columns to fill the device, each one is split
 * into segments whose partial accumulators a second pass combines. */
typedef struct zmlx_reduce zmlx_reduce;

typedef struct zmlx_reduce_desc {
  const char *name;             /* C identifier */
  const char *header;           /* optional */
  const char *acc_type;         /* NULL: compute_t */
  const char *init;
  const char *update;
  const char *update_many;      /* optional */
  const char *combine;
  const char *finalize;         /* NULL: "out = acc;" */
  const zmlx_dtype *out_dtype;  /* NULL: the input's dtype (i64 for index_output) */
  zmlx_dtype compute;           /* ZMLX_DTYPE_F32 (default) or F64 */
  /* The result is an index along the reduced axes (argmax): the default
   * output dtype is i64, and reducing zero elements is an error. */
  int index_output;
  zmlx_reduce_backward_fn backward;  /* optional (see gradients above) */
  void *backward_ctx;                /* borrowed: must outlive the kernel */
} zmlx_reduce_desc;

zmlx_status zmlx_reduce_create(const zmlx_reduce_desc *desc, zmlx_reduce **out);
void zmlx_reduce_destroy(zmlx_reduce *k);

/* axes: n_axes distinct axes (negative counts from the end); n_axes == 0
 * reduces every axis. keepdims keeps reduced axes with length 1. Reducing
 * zero elements gives finalize(init) (sum 0, max -inf, mean NaN). */
zmlx_status zmlx_reduce_launch(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                               int keepdims, zmlx_array **out);
zmlx_status zmlx_reduce_launch_into(zmlx_reduce *k, zmlx_array *x, int n_axes,
                                    const int *axes, int keepdims, zmlx_array *out);
zmlx_status zmlx_reduce_stats_get(const zmlx_reduce *k, zmlx_kernel_stats *out);
/* The gradient of x given out = reduce(x) (as launched with these axes and
 * keepdims) and g, out's gradient, from the kernel's backward rule
 * (UNSUPPORTED without one). *dx is a new array shaped like x, or NULL
 * when the rule gives none. */
zmlx_status zmlx_reduce_backward(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                 int keepdims, zmlx_array *out, zmlx_array *g, zmlx_array **dx);
/* The ready-made kernels behind the functions below, with backward rules
 * (sum and mean: g spread over the reduced elements; max and min: g shared
 * equally by the elements equal to the result; argmax/argmin: none). The
 * kernel is borrowed: it lives until zmlx_shutdown. */
zmlx_status zmlx_reduce_builtin(const char *name, zmlx_reduce **out);

/* Ready-made reductions (compiled once per process, on first use). NaN
 * propagates through max/min; argmax/argmin return the first NaN, and the
 * lowest index among ties, like NumPy. */
zmlx_status zmlx_reduce_sum(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out);
zmlx_status zmlx_reduce_mean(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                             zmlx_array **out);
zmlx_status zmlx_reduce_max(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out);
zmlx_status zmlx_reduce_min(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out);
zmlx_status zmlx_reduce_argmax(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                               zmlx_array **out);
zmlx_status zmlx_reduce_argmin(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                               zmlx_array **out);

/* ---- map_reduce ----------------------------------------------------------
 * The two-pass row pattern (softmax, layernorm): pass 1 reduces each row
 * along `axis` with init/update/combine (any order, as for reduce); then
 * finalize (optional) runs once per row and may rewrite `acc`, seeing `n`
 * (the row length) and the scalars; pass 2 runs `write` for every element:
 * it sees `x`, `acc`, `idx` (the column), `n`, each param (that column's
 * value, as compute_t) and each scalar (compute_t) by name, and assigns
 * `out`. Params are 1-D arrays of the row's length (per-column weights).
 *
 * An optional first pass (pre_init, pre_update, pre_combine, and
 * pre_finalize, which may be NULL) reduces the row into a compute_t `acc`
 * before pass 1; its result is visible as `pre` (compute_t) to update,
 * update_many, finalize and write. It turns one-pass formulas into exact
 * two-pass ones with plain accumulators: softmax's maximum first, then a
 * plain sum of exp(x - pre); layernorm's mean first, then the sum of
 * squared deviations. A row on chip is still read once; a streamed row is
 * read three times.
 *
 * A row that fits on chip (up to 8 vectors of 16 bytes per thread, 1024
 * threads, 256 in f64 compute: 64K bf16 or 32K f32 elements when rows are
 * 16-byte aligned) is read once and kept in registers between the passes; longer rows are
 * streamed (read twice). Rows along a non-last or non-contiguous axis are
 * copied to contiguous rows first. */
typedef struct zmlx_map_reduce zmlx_map_reduce;

typedef struct zmlx_map_reduce_desc {
  const char *name;
  const char *header;
  const char *acc_type;
  const char *init;
  const char *update;
  const char *update_many;      /* optional */
  const char *combine;
  const char *finalize;         /* optional, e.g. "acc.s = 1 / acc.s;" */
  const char *write;            /* e.g. "out = zr_exp(x - acc.m) * acc.s;" */
  const char *pre_init;         /* optional first pass, e.g. "acc = -INFINITY;" */
  const char *pre_update;       /* e.g. "if (x > acc || x != x) acc = x;" */
  const char *pre_combine;      /* e.g. "if (other > acc || other != other) acc = other;" */
  const char *pre_finalize;     /* optional; sees n and the scalars */
  int n_params;
  const char *const *param_names;
  int n_scalars;
  const char *const *scalar_names;
  const zmlx_dtype *out_dtype;  /* NULL: the input's dtype (must be a float) */
  zmlx_dtype compute;
  zmlx_reduce_backward_fn backward;  /* optional (see gradients above) */
  void *backward_ctx;                /* borrowed: must outlive the kernel */
} zmlx_map_reduce_desc;

zmlx_status zmlx_map_reduce_create(const zmlx_map_reduce_desc *desc, zmlx_map_reduce **out);
void zmlx_map_reduce_destroy(zmlx_map_reduce *k);
/* out has x's shape. */
zmlx_status zmlx_map_reduce_launch(zmlx_map_reduce *k, zmlx_array *x, int axis, int n_params,
                                   zmlx_array *const *params, int n_scalars,
                                   const double *scalars, zmlx_array **out);
zmlx_status zmlx_map_reduce_launch_into(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                        int n_params, zmlx_array *const *params,
                                        int n_scalars, const double *scalars, zmlx_array *out);
zmlx_status zmlx_map_reduce_stats_get(const zmlx_map_reduce *k, zmlx_kernel_stats *out);
/* Gradients of x and of the params given out = map_reduce(x, ...) and g
 * (out's shape), from the kernel's backward rule (UNSUPPORTED without
 * one). dparams has n_params slots (NULL when n_params is 0); each result
 * is a new array, or NULL where the rule gives none. */
zmlx_status zmlx_map_reduce_backward(zmlx_map_reduce *k, zmlx_array *x, int axis, int n_params,
                                     zmlx_array *const *params, int n_scalars,
                                     const double *scalars, zmlx_array *out, zmlx_array *g,
                                     zmlx_array **dx, zmlx_array **dparams);
/* The ready-made kernels behind zmlx_softmax, zmlx_log_softmax and
 * zmlx_layernorm, with backward rules: "softmax", "log_softmax" (one
 * axis), "layernorm" (no params), "layernorm_w" (weight), "layernorm_b"
 * (bias), "layernorm_wb" (weight, bias), each with the scalar eps and over
 * the last axis. Borrowed: they live until zmlx_shutdown. */
zmlx_status zmlx_map_reduce_builtin(const char *name, zmlx_map_reduce **out);

zmlx_status zmlx_softmax(zmlx_array *x, int axis, zmlx_array **out);
zmlx_status zmlx_log_softmax(zmlx_array *x, int axis, zmlx_array **out);
/* Over the last axis: (x - mean) / sqrt(var + eps) * weight + bias, with
 * the biased variance. weight and bias (shape (n,)) may each be NULL. */
zmlx_status zmlx_layernorm(zmlx_array *x, zmlx_array *weight, zmlx_array *bias, double eps,
                           zmlx_array **out);

/* ---- scan ----------------------------------------------------------------
 * Inclusive or exclusive prefix along one axis. combine(acc, other) must be
 * associative; it need not commute: `other` always holds later elements.
 * update folds the next element into acc in order. finalize (NULL:
 * "out = acc;") sees `acc` and `idx` and assigns `out` (compute_t).
 * Exclusive scans give finalize(init) at index 0.
 *
 * A block scans each row in chunks (each thread a run of 16-byte vectors,
 * warp shuffles and shared memory across threads), carrying the total of
 * the chunks before. Scans along a non-last or non-contiguous axis copy
 * the input to contiguous rows first. */
typedef struct zmlx_scan zmlx_scan;

typedef struct zmlx_scan_desc {
  const char *name;
  const char *header;
  const char *acc_type;
  const char *init;
  const char *update;
  const char *combine;
  const char *finalize;         /* NULL: "out = acc;" */
  const zmlx_dtype *out_dtype;  /* NULL: the input's dtype (must be a float) */
  zmlx_dtype compute;
} zmlx_scan_desc;

zmlx_status zmlx_scan_create(const zmlx_scan_desc *desc, zmlx_scan **out);
void zmlx_scan_destroy(zmlx_scan *k);
/* out has x's shape. */
zmlx_status zmlx_scan_launch(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                             zmlx_array **out);
zmlx_status zmlx_scan_launch_into(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                                  zmlx_array *out);
zmlx_status zmlx_scan_stats_get(const zmlx_scan *k, zmlx_kernel_stats *out);

/* Inclusive, like torch.cumsum/cumprod/logcumsumexp. */
zmlx_status zmlx_cumsum(zmlx_array *x, int axis, zmlx_array **out);
zmlx_status zmlx_cumprod(zmlx_array *x, int axis, zmlx_array **out);
zmlx_status zmlx_logcumsumexp(zmlx_array *x, int axis, zmlx_array **out);

#ifdef __cplusplus
}
#endif
#endif
