/* Ready-made reductions, built on zmlx_reduce and kept for the process
 * (zk_reduce_ops_shutdown frees them). NaN handling follows NumPy: max
 * and min propagate NaN; argmax and argmin return the first NaN; ties
 * go to the lowest index. */
#include <pthread.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

enum { OP_SUM, OP_MEAN, OP_MAX, OP_MIN, OP_ARGMAX, OP_ARGMIN, N_OPS };

/* Value and index; the empty accumulator has index LLONG_MAX so that any
 * real element wins a tie against it. */
static const char arg_header[] = "typedef struct zr_arg_acc { compute_t v; long long i; } zr_arg_acc;\n";

/* Argmax order: NaN above everything, then by value, ties to the lowest
 * index. CMP is > for argmax and < for argmin. */
#define ARG_PICK(CMP, V, I)                                                          \
  "if (" V " " CMP " acc.v || (" V " == acc.v && " I " < acc.i) ||\n"                 \
  "    (" V " != " V " && (acc.v == acc.v || " I " < acc.i))) { acc.v = " V "; acc.i = " I "; }"

/* A vector's own winner first (int index, no 64-bit compare per element),
 * then one merge: the same order as element by element. */
#define ARG_MANY(CMP)                                                                 \
  "compute_t bv = xs[0]; int bi = 0;\n"                                               \
  "for (int i = 1; i < nx; i++)\n"                                                    \
  "  if (xs[i] " CMP " bv || (xs[i] != xs[i] && bv == bv)) { bv = xs[i]; bi = i; }\n" \
  "const long long bidx = idx + bi;\n" ARG_PICK(CMP, "bv", "bidx")

static const zmlx_reduce_desc descs[N_OPS] = {
    [OP_SUM] = {.name = "sum", .init = "acc = 0;", .update = "acc += x;",
                .combine = "acc += other;", .backward = zr_rule_sum},
    [OP_MEAN] = {.name = "mean", .init = "acc = 0;", .update = "acc += x;",
                 .combine = "acc += other;", .finalize = "out = acc / (compute_t)n;",
                 .backward = zr_rule_mean},
    [OP_MAX] = {.name = "max", .init = "acc = -INFINITY;",
                .update = "if (x > acc || x != x) acc = x;",
                .combine = "if (other > acc || other != other) acc = other;",
                .backward = zr_rule_extreme},
    [OP_MIN] = {.name = "min", .init = "acc = INFINITY;",
                .update = "if (x < acc || x != x) acc = x;",
                .combine = "if (other < acc || other != other) acc = other;",
                .backward = zr_rule_extreme},
    [OP_ARGMAX] = {.name = "argmax", .header = arg_header, .acc_type = "zr_arg_acc",
                   .init = "acc.v = -INFINITY; acc.i = 0x7fffffffffffffffLL;",
                   .update = ARG_PICK(">", "x", "idx"), .update_many = ARG_MANY(">"),
                   .combine = ARG_PICK(">", "other.v", "other.i"), .finalize = "out = acc.i;",
                   .index_output = 1},
    [OP_ARGMIN] = {.name = "argmin", .header = arg_header, .acc_type = "zr_arg_acc",
                   .init = "acc.v = INFINITY; acc.i = 0x7fffffffffffffffLL;",
                   .update = ARG_PICK("<", "x", "idx"), .update_many = ARG_MANY("<"),
                   .combine = ARG_PICK("<", "other.v", "other.i"), .finalize = "out = acc.i;",
                   .index_output = 1},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_reduce *ops[N_OPS];

void zk_reduce_ops_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < N_OPS; i++) {
    zmlx_reduce_destroy(ops[i]);
    ops[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

static zmlx_status get_op(int which, zmlx_reduce **k) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ops[which] ? ZMLX_STATUS_OK : zmlx_reduce_create(&descs[which], &ops[which]);
  *k = ops[which];
  pthread_mutex_unlock(&lock);
  return s;
}

zmlx_status zr_reduce_op(const char *name, zmlx_reduce **k) {
  for (int i = 0; i < N_OPS; i++)
    if (!strcmp(descs[i].name, name)) return get_op(i, k);
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "reduce", "no ready-made reduction '%s'", name);
}

zmlx_status zmlx_reduce_builtin(const char *name, zmlx_reduce **out) {
  if (!out || !name) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "reduce_builtin", "NULL argument");
  *out = NULL;
  for (int i = 0; i < N_OPS; i++)
    if (!strcmp(descs[i].name, name)) return get_op(i, out);
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "reduce_builtin",
                   "no ready-made reduction '%s' (sum, mean, max, min, argmax, argmin)", name);
}

static zmlx_status run_op(int which, zmlx_array *x, int n_axes, const int *axes, int keepdims,
                          zmlx_array **out) {
  zmlx_reduce *k;
  ZMLX_TRY(get_op(which, &k));
  return zmlx_reduce_launch(k, x, n_axes, axes, keepdims, out);
}

zmlx_status zmlx_reduce_sum(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out) {
  return run_op(OP_SUM, x, n_axes, axes, keepdims, out);
}
zmlx_status zmlx_reduce_mean(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                             zmlx_array **out) {
  return run_op(OP_MEAN, x, n_axes, axes, keepdims, out);
}
zmlx_status zmlx_reduce_max(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out) {
  return run_op(OP_MAX, x, n_axes, axes, keepdims, out);
}
zmlx_status zmlx_reduce_min(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                            zmlx_array **out) {
  return run_op(OP_MIN, x, n_axes, axes, keepdims, out);
}
zmlx_status zmlx_reduce_argmax(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                               zmlx_array **out) {
  return run_op(OP_ARGMAX, x, n_axes, axes, keepdims, out);
}
zmlx_status zmlx_reduce_argmin(zmlx_array *x, int n_axes, const int *axes, int keepdims,
                               zmlx_array **out) {
  return run_op(OP_ARGMIN, x, n_axes, axes, keepdims, out);
}

void zk_red_shutdown(void) {
  zk_reduce_ops_shutdown();
  zk_map_reduce_ops_shutdown();
  zk_scan_ops_shutdown();
  zr_rules_shutdown();
}
