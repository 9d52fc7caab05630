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
 *   'b'  the (rows, cols) problem stored as a contiguous (rows/K, cols, K)
 *        array, K = zbs_mid_inner(rows) (256 when rows allows): problem
 *        element (a*K + k, c) is x[a, c, k], so a reduction along the
 *        problem's rows runs over the middle axis (inputs only)
 *   'r'  a (cols) vector: one value per column, broadcast over rows
 *   'c'  one value per row: (rows, 1) as an input (broadcast over
 *        columns); as an output any shape of rows elements in row order
 *        (a reduction's result)
 *   'i'  one i64 index per row, 0 <= index < cols (outputs only: argmax)
 * Every array has the run's dtype except 'i'. Bytes per call = every
 * array's own size once: the minimal traffic. */
#include "zmlx/zmlx.h"

struct zbs_op;

/* How an op runs: make its kernel once per measurement (for the dtype it
 * will see), launch it with the prepared arrays, free it. Elementwise ops
 * share one impl. A run either writes into out[j] or, for ops whose public
 * entry point allocates its result, releases out[j] and puts the new array
 * there (so the check sees the latest result of each set). */
typedef struct zbs_impl {
  zmlx_status (*create)(const struct zbs_op *op, zmlx_dtype dtype, void **state);
  zmlx_status (*run)(void *state, const struct zbs_op *op, zmlx_array *const *in,
                     zmlx_array **out);
  void (*destroy)(void *state);
} zbs_impl;

/* Host reference for one element, in f64: in[i] is input i at that element
 * (the broadcast value for 'r' and 'c'), out[j] receives output j. Only
 * for ops whose outputs are all 'm'. */
typedef void (*zbs_ref_fn)(const double *in, double *out);

/* Host reference for a band of whole rows, in f64. in[i] holds input i of
 * rows [r0, r0 + rows) in problem order: rows * cols values for 'm', 't'
 * and 'b' (row-major, so 'b' arrives gathered into rows), cols values for
 * 'r', rows values for 'c'. out[j] receives output j the same way:
 * rows * cols values for 'm', rows for 'c' and 'i' (an index as a double). */
typedef void (*zbs_ref_rows_fn)(const double *const *in, int64_t rows, int64_t cols,
                                double *const *out);

/* One call of an op that the library provides ready-made: makes a new
 * array from the inputs (laid out as the op's letters say). */
typedef zmlx_status (*zbs_call_fn)(zmlx_array *const *in, zmlx_array **out);

#define ZBS_MAX_IO 8

typedef struct zbs_op {
  const char *name;
  const char *what;              /* one line for the op list */
  const char *inputs;            /* layout letters, one per input */
  const char *outputs;           /* layout letters, one per output */
  const char *const *input_names;
  const char *const *output_names;
  const char *expr;              /* elementwise ops: the expression */
  zbs_ref_fn ref;                /* per element; NULL: see ref_rows */
  zbs_ref_rows_fn ref_rows;      /* per band of rows; both NULL: not checked */
  zbs_call_fn call;              /* zbs_library_impl: the library call */
  const zbs_impl *impl;
  /* Floating-point operations per call, for compute-bound ops (NULL: none). */
  double (*flops)(int64_t rows, int64_t cols);
} zbs_op;

extern const zbs_impl zbs_elementwise_impl; /* inputs/outputs/expr of the row */
extern const zbs_impl zbs_raw_copy_impl;    /* a raw kernel, 16 bytes per point */
extern const zbs_impl zbs_library_impl;     /* op->call; its result replaces out[0] */

/* The table. */
int zbs_op_count(void);
const zbs_op *zbs_op_at(int i);
const zbs_op *zbs_op_find(const char *name);

typedef struct zbs_config {
  zmlx_device dev;
  zmlx_dtype dtype;          /* of every input and output but 'i' ones */
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
/* K of the 'b' layout: the largest power of two <= 256 that divides rows. */
int64_t zbs_mid_inner(int64_t rows);
/* The shape a row reports: "ROWSxCOLS", or for an op with a 'b' input the
 * array's own "(rows/K)xCOLSxK" (bench/peers/peers.py writes the same). */
void zbs_shape_text(const zbs_op *op, int64_t rows, int64_t cols, char *buf, size_t size);
/* Largest max|got - ref| / max|ref| the dtype's rounding explains. */
double zbs_tolerance(zmlx_dtype dtype);
/* Compare rotation set (in, out) with op's reference; *err as for the row:
 * the worst output's max|got - ref| / max|ref|. An index output ('i') is
 * judged by the values it picks from input 0: got = x[r, got index], ref =
 * x[r, ref index], so another pick among values equal within the dtype's
 * rounding stays within tolerance and any other pick does not (an index
 * out of range: infinity). note (may be NULL) gets "" or how many rows
 * picked such a near-tie. */
zmlx_status zbs_check(const zbs_op *op, int64_t rows, int64_t cols, zmlx_array *const *in,
                      zmlx_array *const *out, double *err, char *note, size_t note_size);

#endif
