#ifndef ZMLX_TESTING_H
#define ZMLX_TESTING_H
#include <stdint.h>
#include "zmlx/elementwise.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Test helpers: a gradient check against central differences in f64, and
 * a check of a kernel against a reference over shapes and dtypes.
 *
 * Results. The helpers never abort. They return OK when the check passes;
 * ZMLX_CHECK_FAILED (ZMLX_STATUS_MISMATCH) when the numbers disagree, with
 * report->mismatch set and the worst place named in report->message and
 * zmlx_error_last(); and any other status when something could not run (a
 * function failed, an output had the wrong shape), with report->mismatch 0.
 *
 * Randomness. Every check draws fresh random numbers from a seed: a fresh
 * one per call (from the clock and a counter), or $ZMLX_TEST_SEED when set
 * (decimal or 0x-hex), or the seed a spec gives. The seed used is in the
 * report, so a failure can be replayed.
 *
 * Ownership. The helpers release every array they make. Functions you pass
 * in return new arrays (references the helper releases); the inputs they
 * receive are borrowed. Reports are plain values filled by the call; a
 * NULL report is allowed. */

#define ZMLX_CHECK_FAILED ZMLX_STATUS_MISMATCH

/* ---- Gradient check ----------------------------------------------------- */

/* One output from the inputs: *out is a new array. */
typedef zmlx_status (*zmlx_test_fn)(void *ctx, int n_inputs, zmlx_array *const *inputs,
                                    zmlx_array **out);
/* The vector-Jacobian product: grads[i] (NULL on entry) = the gradient of
 * sum(g * fn(inputs)) with respect to inputs[i], a new array shaped like
 * it, or NULL for no gradient (checked as zeros). */
typedef zmlx_status (*zmlx_test_vjp_fn)(void *ctx, int n_inputs, zmlx_array *const *inputs,
                                        zmlx_array *g, zmlx_array **grads);

typedef struct zmlx_gradcheck_report {
  int passed;
  int mismatch;           /* the gradients disagreed */
  double eps, rtol;       /* the values used (after defaults) */
  int f32_limited;        /* fn on f64 inputs returned only f32 values */
  double max_abs_err;     /* max |analytic - numerical| over all inputs */
  double max_rel_err;     /* max of that divided by |numerical| */
  int worst_input;        /* the element furthest outside its bound, */
  int64_t worst_index;    /* as a C-order index (-1: none) */
  double worst_analytic, worst_numerical;
  uint64_t seed;          /* of the cotangent g */
  char message[1024];
} zmlx_gradcheck_report;

/* Checks vjp against central differences.
 *
 * fn runs once on `inputs` (to learn the output's shape, dtype and
 * device), then many times on f64 copies of the inputs on the CPU: so fn
 * must accept f64 CPU inputs, and must then return an f64 output (else
 * UNSUPPORTED). Inputs that are not
 * floating point are passed to those calls as CPU copies of their own
 * dtype and are not differentiated.
 *
 * A random cotangent g ~ N(0, 1) of the output's shape is drawn, rounded to
 * the output's dtype on its device, and given to vjp with the original
 * inputs. Numerically, for every element x of every float input,
 *     (L(x + eps) - L(x - eps)) / (2 eps),  L = sum(g * fn(f64 copies)),
 * with the same (rounded) g, all in f64. So it costs 2 * (elements of the
 * float inputs) calls of fn: use small inputs.
 *
 * An element passes when |analytic - numerical| <= atol + rtol *
 * |numerical|; NaN never passes. Zero arguments pick defaults:
 *   eps  1e-6, or 1e-3 when fn's f64 output holds only values that f32 can
 *        represent (it computes in f32: an elementwise kernel with f32
 *        compute), since then rounding swamps a small step;
 *   rtol by the least precise dtype among the float inputs and the
 *        gradients: f64 1e-6, f32 1e-4, f16 1e-2, bf16 5e-2, fp8 0.25; at
 *        least 2e-3 when fn computes in f32;
 *   atol rtol times the largest |gradient| (analytic or numerical) of that
 *        input, so elements near zero are judged on the input's scale. */
zmlx_status zmlx_gradcheck(zmlx_test_fn fn, void *fn_ctx, int n_inputs,
                           zmlx_array *const *inputs, zmlx_test_vjp_fn vjp, void *vjp_ctx,
                           double eps, double rtol, double atol,
                           zmlx_gradcheck_report *report);

/* zmlx_gradcheck for an elementwise kernel: fn is output 0 of
 * zmlx_elementwise_launch, the vjp is zmlx_elementwise_backward. The
 * kernel must give an f64 output 0 for f64 inputs (not the case when its
 * out_dtypes fix a narrower dtype: UNSUPPORTED). With compute f32 the
 * numerical side is limited to f32 precision (see the eps default); with
 * compute f64 and double-precision expressions it is exact to f64. */
zmlx_status zmlx_gradcheck_elementwise(zmlx_elementwise *k, int n_inputs,
                                       zmlx_array *const *inputs, int n_scalars,
                                       const double *scalars, double eps, double rtol,
                                       double atol, zmlx_gradcheck_report *report);

/* ---- Implementation against reference ----------------------------------- */

typedef struct zmlx_check_shape {
  int ndim;
  int64_t dims[ZMLX_MAX_DIMS];
} zmlx_check_shape;

/* One case: every input has `shape`, unless input_shapes (one per input,
 * borrowed) is given. */
typedef struct zmlx_check_case {
  zmlx_check_shape shape;
  const zmlx_check_shape *input_shapes;
} zmlx_check_case;

/* Computes n_outputs new arrays into outputs from the inputs. */
typedef zmlx_status (*zmlx_check_fn)(void *ctx, int n_inputs, zmlx_array *const *inputs,
                                     int n_outputs, zmlx_array **outputs);

typedef struct zmlx_check_spec {
  zmlx_check_fn impl;        /* runs on `device`, inputs in the case's dtype */
  zmlx_check_fn ref;         /* runs on the CPU, inputs as f64 copies */
  void *ctx;                 /* given to both */
  int n_inputs;              /* 1 .. 32 */
  int n_outputs;             /* 0 means 1 */
  int n_cases;               /* 0: the shapes (1), (7), (4097), (3, 129), (0) */
  const zmlx_check_case *cases;
  int n_dtypes;              /* 0: f32, f16, bf16 */
  const zmlx_dtype *dtypes;  /* floating point dtypes */
  zmlx_device device;        /* zero-initialized: the CPU */
  uint64_t seed;             /* 0: fresh (see Randomness) */
  double rtol;               /* 0: zmlx_check_default_tol of the dtypes */
  double atol;               /* absolute slack, default 0 */
  double input_mean;         /* inputs ~ N(mean, std); std 0 means 1 */
  double input_std;
} zmlx_check_spec;

typedef struct zmlx_check_report {
  int passed;
  int mismatch;              /* some outputs disagreed with the reference */
  int n_run, n_failed;       /* cases x dtypes */
  /* The first failing case (or, when all passed, the worst one): */
  int failed_case;           /* index into the cases (-1: none failed) */
  zmlx_check_shape shape;    /* of input 0 */
  zmlx_dtype dtype;
  zmlx_device device;
  int output;
  double rel_err;            /* ||got - ref|| / ||ref|| */
  double max_abs_err;        /* max |got - ref| */
  double tol;
  int64_t worst_index;       /* C-order index of max |got - ref| */
  double worst_got, worst_ref;
  uint64_t seed;             /* the base seed */
  char message[1024];
} zmlx_check_report;

/* Relative tolerance for results stored in a dtype: f64 1e-12, f32 1e-5,
 * f16 2e-3, bf16 1.6e-2, fp8 e4m3 0.125, fp8 e5m2 0.25 (integers: 0). */
double zmlx_check_default_tol(zmlx_dtype t);

/* For every case and dtype: draw fresh inputs ~ N(mean, std) in the dtype
 * on the device (zmlx_array_random_normal, a seed per case and input
 * derived from spec->seed), run impl on them and ref on f64 CPU copies of
 * the very same values, and compare each output (read as f64). An output
 * passes when
 *     ||got - ref||_2   <= tol * ||ref||_2   + atol * sqrt(n)   and
 *     max |got - ref|   <= tol * max |ref|   + atol,
 * with tol = spec->rtol, or by default the looser of the tolerances of the
 * case's dtype and of the output's dtype. The first test catches errors
 * spread over the output, the second a few wrong elements. NaN matches
 * only NaN (as numpy's assert_allclose); equal infinities match. Shapes must match
 * exactly. Every case runs; the report names the first that failed. */
zmlx_status zmlx_check_matches(const zmlx_check_spec *spec, zmlx_check_report *report);

#ifdef __cplusplus
}
#endif
#endif
