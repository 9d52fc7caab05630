#ifndef ZMLX_BENCH_SUITE_H
#define ZMLX_BENCH_SUITE_H
/* Internal: the ops `zmlx bench` measures, one table row each
 * (suite_ops.c), and the runner that measures one op at one dtype and
 * shape (suite_run.c).
 *
 * An op works on a (rows, cols) problem. Each input and output has a
 * layout letter:
 *   'm'  a (rows, cols) matrix, contiguous
 *   't'  a (rows, cols) view of a contiguous (cols, rows) matrix, so the
 *        kernel reads it transposed (inputs only)
 *   'r'  a (cols) vector: one value per column, broadcast over rows
 *   'c'  a (rows, 1) column: one value per row (a reduction's output)
 * Bytes per call = every array's own size once: the minimal traffic. */
#include "zmlx/zmlx.h"

struct zbs_op;

/* How an op runs: make its kernel once per measurement (for the dtype it
 * will see), launch it with the prepared arrays, free it. Elementwise ops
 * share one impl. */
typedef struct zbs_impl {
  zmlx_status (*create)(const struct zbs_op *op, zmlx_dtype dtype, void **state);
  zmlx_status (*run)(void *state, const struct zbs_op *op, zmlx_array *const *in,
                     zmlx_array *const *out);
  void (*destroy)(void *state);
} zbs_impl;

/* Host reference for one element, in f64: in[i] is input i at that element
 * (the broadcast value for 'r' and 'c'), out[j] receives output j. */
typedef void (*zbs_ref_fn)(const double *in, double *out);

#define ZBS_MAX_IO 8

typedef struct zbs_op {
  const char *name;
  const char *what;              /* one line for the op list */
  const char *inputs;            /* layout letters, one per input */
  const char *outputs;           /* layout letters, one per output */
  const char *const *input_names;
  const char *const *output_names;
  const char *expr;              /* elementwise ops: the expression */
  zbs_ref_fn ref;                /* NULL: not checked */
  const zbs_impl *impl;
  /* Floating-point operations per call, for compute-bound ops (NULL: none). */
  double (*flops)(int64_t rows, int64_t cols);
} zbs_op;

extern const zbs_impl zbs_elementwise_impl; /* inputs/outputs/expr of the row */
extern const zbs_impl zbs_raw_copy_impl;    /* a raw kernel, 16 bytes per point */

/* The table. */
int zbs_op_count(void);
const zbs_op *zbs_op_at(int i);
const zbs_op *zbs_op_find(const char *name);

typedef struct zbs_config {
  zmlx_device dev;
  zmlx_dtype dtype;          /* of every input and output */
  int64_t rows, cols;
  zmlx_bench_options timing; /* rotations are chosen by the runner */
  int max_rotations;         /* 0: 64 */
  int check;                 /* compare with the op's host reference */
  double copy_gbps;          /* the ceiling of this run, for pct_of_copy */
} zbs_config;

/* Measure op; *row gets every figure (impl "zmlx"). *wrong is set when the
 * check found the results off by more than the dtype allows; the row's
 * note says by how much. */
zmlx_status zbs_run(const zbs_op *op, const zbs_config *cfg, zmlx_bench_row *row, int *wrong);

/* Bytes of one array of a layout. */
double zbs_layout_bytes(char layout, int64_t rows, int64_t cols, zmlx_dtype dtype);
/* Largest max|got - ref| / max|ref| the dtype's rounding explains. */
double zbs_tolerance(zmlx_dtype dtype);
/* Compare rotation set (in, out) with op->ref; *err as for the row. */
zmlx_status zbs_check(const zbs_op *op, int64_t rows, int64_t cols, zmlx_array *const *in,
                      zmlx_array *const *out, double *err);

#endif
