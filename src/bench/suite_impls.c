/* How the suite's ops launch: elementwise ops through the public
 * elementwise API, and the raw copy baseline as a hand-written run-time
 * kernel that moves 16 bytes per point; both write into the prepared
 * output arrays, so outputs rotate with the inputs. Ops the library
 * provides ready-made (reductions, softmax, layernorm, cumsum) are timed
 * through their public entry points, which allocate their result as a
 * user's call would; the result replaces the set's output. */
#include <stdio.h>
#include <string.h>

#include "bench/suite.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

/* ---- elementwise ---------------------------------------------------------- */

static zmlx_status ew_create(const zbs_op *op, zmlx_dtype dtype, void **state) {
  char name[64];
  snprintf(name, sizeof name, "bench_%s", op->name);
  zmlx_elementwise_desc d = {.name = name,
                             .n_inputs = (int)strlen(op->inputs),
                             .input_names = op->input_names,
                             .n_outputs = (int)strlen(op->outputs),
                             .output_names = op->output_names,
                             .expr = op->expr,
                             /* f64 data computed in f32 would not be f64. */
                             .compute = dtype == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64
                                                                : ZMLX_DTYPE_F32};
  return zmlx_elementwise_create(&d, (zmlx_elementwise **)state);
}

static zmlx_status ew_run(void *state, const zbs_op *op, zmlx_array *const *in,
                          zmlx_array **out) {
  return zmlx_elementwise_launch_into(state, (int)strlen(op->inputs), in, 0, NULL, out);
}

static void ew_destroy(void *state) { zmlx_elementwise_destroy(state); }

const zbs_impl zbs_elementwise_impl = {ew_create, ew_run, ew_destroy};

/* ---- raw copy --------------------------------------------------------------
 * What a careful hand-written copy reaches, for judging the generated
 * ones: one aligned 16-byte load and store per point, the last bytes (at
 * most 15) copied one by one by point 0. */

static const char *raw_in[] = {"x"}, *raw_out[] = {"y"}, *raw_sc[] = {"nb"};
static const zmlx_dtype raw_sc_dtypes[] = {ZMLX_DTYPE_I64};

static const char raw_header[] =
    "typedef struct __attribute__((aligned(16))) { unsigned long long lo, hi; } bench_chunk;\n";

static const char raw_body[] =
    "const long long n_chunks = nb / 16;\n"
    "if (gid < n_chunks) ((bench_chunk *)y)[gid] = ((const bench_chunk *)x)[gid];\n"
    "if (gid == 0)\n"
    "  for (long long i = n_chunks * 16; i < nb; i++)\n"
    "    ((unsigned char *)y)[i] = ((const unsigned char *)x)[i];\n";

static zmlx_status raw_create(const zbs_op *op, zmlx_dtype dtype, void **state) {
  (void)op;
  (void)dtype;
  zmlx_kernel_desc d = {.name = "bench_copy_raw", .n_inputs = 1, .input_names = raw_in,
                        .n_outputs = 1, .output_names = raw_out, .n_scalars = 1,
                        .scalar_names = raw_sc, .scalar_dtypes = raw_sc_dtypes,
                        .source = raw_body, .header = raw_header};
  return zmlx_kernel_create(&d, (zmlx_kernel **)state);
}

static zmlx_status raw_run(void *state, const zbs_op *op, zmlx_array *const *in,
                           zmlx_array **out) {
  (void)op;
  if (!zmlx_array_is_contiguous(in[0]) || !zmlx_array_is_contiguous(out[0]))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench copy_raw", "needs contiguous arrays");
  double nb = (double)zmlx_array_nbytes(in[0]);
  int64_t chunks = (int64_t)nb / 16;
  zmlx_launch_config cfg = {.grid = {chunks > 0 ? chunks : 1, 1, 1}, .n_scalars = 1,
                            .scalars = &nb};
  return zk_launch(state, 1, in, &cfg, out, ZK_OUTPUTS_GIVEN);
}

static void raw_destroy(void *state) { zmlx_kernel_destroy(state); }

const zbs_impl zbs_raw_copy_impl = {raw_create, raw_run, raw_destroy};

/* ---- ready-made library ops ------------------------------------------------
 * Nothing to make: the library compiles its ready-made kernels on first
 * use (in the untimed first call). One output, allocated by the call. */

static zmlx_status lib_create(const zbs_op *op, zmlx_dtype dtype, void **state) {
  (void)dtype;
  *state = NULL;
  if (!op->call || strlen(op->outputs) != 1)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, "bench",
                     "op %s: a library op needs a call and one output", op->name);
  return ZMLX_STATUS_OK;
}

static zmlx_status lib_run(void *state, const zbs_op *op, zmlx_array *const *in,
                           zmlx_array **out) {
  (void)state;
  zmlx_array *result = NULL;
  ZMLX_TRY(op->call(in, &result));
  zmlx_array_release(out[0]);
  out[0] = result;
  return ZMLX_STATUS_OK;
}

static void lib_destroy(void *state) { (void)state; }

const zbs_impl zbs_library_impl = {lib_create, lib_run, lib_destroy};
