#ifndef ZMLX_AUTHOR_RED_INTERNAL_H
#define ZMLX_AUTHOR_RED_INTERNAL_H
/* Shared by reduce, map_reduce and scan: the accumulation description,
 * tuning knobs, input and layout checks, and the generated code every
 * kernel of the three starts with. */
#include "core/array_internal.h"
#include "core/strbuf.h"
#include "kernel/kernel_internal.h"
#include "zmlx/reduce.h"

/* One accumulation, deep-copied from whichever public description. */
typedef struct zr_expr {
  char *name, *header, *acc_type, *init, *update, *update_many, *combine, *finalize, *write;
  /* map_reduce's optional first pass over the row (compute_t `pre`). */
  char *pre_init, *pre_update, *pre_combine, *pre_finalize;
  int n_params, n_scalars;
  char **param_names, **scalar_names;
  int has_out_dtype;
  zmlx_dtype out_dtype;
  zmlx_dtype compute;
} zr_expr;

/* Copy src (borrowed strings) into dst, checking what every API needs:
 * a C-identifier name, init/update/combine, a valid compute dtype, and
 * param/scalar names that are identifiers and not reserved. `op` names the
 * API in errors. */
zmlx_status zr_expr_copy(const char *op, const zr_expr *src, zr_expr *dst);
void zr_expr_free(zr_expr *e);

/* Launch-shape knobs. Defaults suit an H100; each can be overridden once
 * per process with $ZMLX_TUNE_<NAME> (e.g. ZMLX_TUNE_ROW_UNROLL=2). */
typedef struct zr_tuning {
  int row_unroll;    /* ROW_UNROLL: 16-byte loads in flight per thread, row reduce */
  int row_max_tpr;   /* ROW_MAX_TPR: threads per row at most */
  int col_threads;   /* COL_THREADS: threads per block, column reduce */
  int col_unroll;    /* COL_UNROLL: loads in flight per thread, column reduce */
  int split_blocks;  /* SPLIT_BLOCKS: blocks per multiprocessor a split aims for
                      * (16: two waves of 256-thread blocks) */
  int split_min;     /* SPLIT_MIN: elements per segment of a split row, at least */
  int mr_nv;         /* MR_NV: map_reduce vectors per thread the launch aims for */
  int mr_max_nv;     /* MR_MAX_NV: map_reduce vectors per thread kept on chip, at most */
  int mr_unroll;     /* MR_UNROLL: map_reduce streaming loads in flight per thread */
  int scan_nv;       /* SCAN_NV: scan vectors per thread per chunk */
  int scan_max_tpr;  /* SCAN_MAX_TPR: scan threads per row at most */
} zr_tuning;
const zr_tuning *zr_tune(void);

/* Multiprocessors of a CUDA device (cached); 8 for the CPU, whose kernels
 * take the same launch shapes so that CPU tests walk the same paths. */
int zr_device_sms(zmlx_device dev);
/* Smallest power of two >= v, clamped to [lo, hi]. */
int zr_pow2_clamp(int64_t v, int lo, int hi);
/* Largest VEC (a power of two, VEC * dtype size <= 16) that divides every
 * value in `mults` and for which every pointer in `ptrs` (with its element
 * size in `sizes`) is VEC-element aligned. */
int zr_vec_for(size_t esize, int n_mults, const int64_t *mults, int n_ptrs,
               void *const *ptrs, const size_t *sizes);

/* x is non-NULL and f32, f64, f16 or bf16. */
zmlx_status zr_check_input(const char *op, const char *kname, const zmlx_array *x);
/* Normalize a (possibly negative) axis of x. */
zmlx_status zr_norm_axis(const char *op, const char *kname, const zmlx_array *x, int *axis);
/* out is on x's device with exactly `shape`. */
zmlx_status zr_check_out(const char *op, const char *kname, const zmlx_array *x,
                         const zmlx_array *out, int ndim, const int64_t *shape);
/* compute_t for this input: F64 when asked or when x is f64. */
zmlx_dtype zr_compute_for(const zr_expr *e, zmlx_dtype x);

/* Dimensions of a walk: outermost first, size-1 dims dropped, neighbours
 * that walk contiguously merged. */
typedef struct zr_dims {
  int n;
  int64_t shape[ZMLX_MAX_DIMS], stride[ZMLX_MAX_DIMS];
} zr_dims;
void zr_dims_push(zr_dims *d, int64_t size, int64_t stride);
/* A view of a's storage shaped (k..., r...) for a kernel to index. */
zmlx_status zr_dims_view(const zmlx_array *a, const zr_dims *k, const zr_dims *r,
                         zmlx_array **out);

/* Rows along one axis for map_reduce and scan: `view` is shaped
 * (kept..., R) with the last dimension contiguous (x itself, or a
 * contiguous copy with `axis` moved last when x is not laid out so). */
typedef struct zr_rows {
  zmlx_array *view;
  zr_dims kept;
  int64_t M, R;
  int axis;
} zr_rows;
zmlx_status zr_rows_make(const char *op, const char *kname, zmlx_array *x, int axis,
                         zr_rows *r);
void zr_rows_free(zr_rows *r);
/* The contiguous (M, R) array the kernel writes: out itself when it is
 * contiguous and axis is last, else a temporary that zr_rows_finish copies
 * into out. */
zmlx_status zr_rows_target(const zr_rows *r, zmlx_array *out, zmlx_array **target);
zmlx_status zr_rows_finish(const zr_rows *r, zmlx_array *out, zmlx_array *target);

/* ---- code generation ------------------------------------------------------
 * Launch-shape constants (lanes per task, dimensions, ...) are templates
 * on CUDA, where they size shared memory and unroll loops, and run-time
 * scalars on the CPU, where each new value would cost a C compile. The
 * generated functions take them as arguments; bodies pass the template
 * (CUDA) or the scalar (CPU), under #ifdef ZMLX_CUDA.
 *
 * Every header starts with zr_emit_common: compute-precision math
 * (zr_exp...), the user's header, acc_t, the scalars struct and the
 * user's statements as functions:
 *   zr_init(acc_t *)  zr_update(acc_t *, compute_t x, long long idx, zs)
 *   zr_combine(acc_t *, acc_t other)
 * plus, on CUDA, shuffles of any type (zr_shfl_xor/up/idx). `kname` is the
 * raw kernel's name: #line directives make compiler messages name the
 * user's statement ("softmax.update"). */
void zr_emit_common(zmlx_strbuf *sb, const zr_expr *e, const char *kname);
/* User code placed with #line directives. */
void zr_emit_user(zmlx_strbuf *sb, const zr_expr *e, const char *kname, const char *what,
                  const char *code);
/* "const compute_t NAME = _zs->NAME; (void)NAME;" for every scalar. */
void zr_emit_scalar_locals(zmlx_strbuf *sb, const zr_expr *e);
/* `const zr_scalars_t _zsc = {...};` for a body. */
void zr_emit_scalars_init(zmlx_strbuf *sb, const zr_expr *e);
/* zr_group_reduce(acc_t *, lane, group): CUDA, TPR lanes per group, RPB
 * groups per block; every lane gets the same result. */
extern const char zr_group_reduce_text[];
/* zr_kept_offset(o, shape, strides, nk): offset of kept index o. */
extern const char zr_kept_offset_text[];

/* A raw kernel of one input `x` (or another name), one output `out`. */
zmlx_status zr_make_kernel(const char *op, const char *name, const char *suffix, int n_in,
                           const char *const *in_names, int n_sc, const char *const *sc_names,
                           const zmlx_dtype *sc_types, const char *body, const char *header,
                           zmlx_kernel **out);
/* Test hook: the CUDA sources (and entry points) a launch would compile on
 * a CUDA device, generated without a GPU and without running anything,
 * with what each launch would get (kernel, arrays, grid, block, scalars),
 * so that a harness can compile and run them elsewhere. The arrays are
 * retained until zr_sources_free. */
#define ZR_MAX_SOURCES 4
typedef struct zr_launch_rec {
  zmlx_kernel *k;
  int n_in;
  zmlx_array *in[ZK_MAX_IO], *out;
  int64_t grid;
  int block;
  int n_sc;
  double sc[ZK_MAX_IO];
} zr_launch_rec;
typedef struct zr_sources {
  int n;
  char *src[ZR_MAX_SOURCES];
  char entry[ZR_MAX_SOURCES][300];
  zr_launch_rec rec[ZR_MAX_SOURCES];
} zr_sources;
zmlx_status zr_sources_add(zr_sources *s, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                           const zmlx_launch_config *cfg, const zmlx_array *out);
void zr_sources_free(zr_sources *s);
zmlx_status zr_reduce_cuda_sources(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                   int keepdims, zr_sources *out);
zmlx_status zr_map_reduce_cuda_sources(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                       int n_params, zmlx_array *const *params, zr_sources *out);
zmlx_status zr_scan_cuda_sources(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                                 zr_sources *out);

/* Sum of kernel stats. */
zmlx_status zr_stats_sum(int n, zmlx_kernel *const *ks, zmlx_kernel_stats *out);

/* Headers and bodies of the raw kernels (malloc'd; NULL on OOM). suffix:
 * reduce "row", "col", "fin"; map_reduce "mr"; scan "scan". */
char *zr_reduce_header(const zr_expr *e, const char *suffix);
char *zr_reduce_body(const char *suffix);
char *zr_map_reduce_header(const zr_expr *e);
char *zr_map_reduce_body(const zr_expr *e);
char *zr_scan_header(const zr_expr *e);
char *zr_scan_body(void);

/* ---- ready-made kernels -------------------------------------------------- */
/* The ready-made kernels by name ("sum", "softmax", "cumsum", ...), built
 * on first use; the library keeps ownership. */
zmlx_status zr_reduce_op(const char *name, zmlx_reduce **k);
zmlx_status zr_map_reduce_op(const char *name, zmlx_map_reduce **k);
/* What a backward rule needs about a launch: reduce.c checks the call as
 * a launch would and normalizes the axes; map_reduce.c the axis. */
typedef struct zr_grad_info {
  int n_axes, axes[ZMLX_MAX_DIMS];
  int out_ndim, keep_ndim;
  int64_t out_shape[ZMLX_MAX_DIMS], keep_shape[ZMLX_MAX_DIMS];
  int axis;
  zmlx_reduce_backward_fn fn;
  void *ctx;
  const char *name;
  int index_output;
} zr_grad_info;
zmlx_status zr_reduce_grad_prepare(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                   int keepdims, zr_grad_info *gi);
zmlx_status zr_map_reduce_grad_prepare(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                       zr_grad_info *gi);
/* Call gi's rule (UNSUPPORTED without one) with a->ctx set; names the
 * kernel when the rule fails without saying why. reduce_grad.c */
zmlx_status zr_call_rule(const char *op, const zr_grad_info *gi, zmlx_tape *t,
                         zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dparams);
/* The on-chip form of a ready-made map_reduce: launches of k whose rows
 * fit on chip run twin instead (k owns twin from then on). */
void zr_map_reduce_set_twin(zmlx_map_reduce *k, zmlx_map_reduce *twin);
/* Backward rules of the ready-made kernels (reduce_rules.c). */
zmlx_status zr_rule_sum(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
zmlx_status zr_rule_mean(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
zmlx_status zr_rule_extreme(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
zmlx_status zr_rule_softmax(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
zmlx_status zr_rule_log_softmax(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
/* ctx: (void *)(intptr_t) of 1 with weight, 2 with bias, 3 both. */
zmlx_status zr_rule_layernorm(zmlx_tape *t, const zmlx_reduce_grad_args *a, zmlx_array **dx, zmlx_array **dp);
void zr_rules_shutdown(void);
/* Whether map_reduce keeps x's rows along axis on chip (16-byte aligned rows). */
int zr_map_reduce_rows_fit(const zmlx_array *x, int axis);
zmlx_status zr_scan_op(const char *name, zmlx_scan **k);
/* Frees the ready-made reduce, map_reduce and scan kernels (each file's
 * own, then all three). zmlx_shutdown must call zk_red_shutdown before the
 * module cache goes. */
void zk_reduce_ops_shutdown(void);
void zk_map_reduce_ops_shutdown(void);
void zk_scan_ops_shutdown(void);
void zk_red_shutdown(void);

#endif
