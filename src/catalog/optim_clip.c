/* Global-norm gradient clipping in 2 + n launches and no host sync: a
 * sum-of-squares reduction per gradient into one slot of a small buffer,
 * a reduction of the buffer to the norm, and an in-place scaling of each
 * gradient that reads the norm on the device. */
#include <pthread.h>
#include <stdio.h>

#include "catalog/cat_internal.h"
#include "catalog/optim_internal.h"
#include "core/error.h"
#include "zmlx/catalog_optim.h"

#define OP "clip_grad_norm"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* [0]: sum of squares into f32 (in f64 for f64 inputs), [1]: into f64,
 * [2]: the buffer's sum, square-rooted. */
static zmlx_reduce *reducers[3];
static zcat_ew_slot scale_slot;

static zmlx_status reducer(int which, zmlx_reduce **out) {
  static const zmlx_dtype f32 = ZMLX_DTYPE_F32, f64 = ZMLX_DTYPE_F64;
  static const zmlx_reduce_desc descs[3] = {
      {.name = "clip_sumsq", .init = "acc = 0;", .update = "acc += x * x;",
       .combine = "acc += other;", .out_dtype = &f32},
      {.name = "clip_sumsq", .init = "acc = 0;", .update = "acc += x * x;",
       .combine = "acc += other;", .out_dtype = &f64, .compute = ZMLX_DTYPE_F64},
      {.name = "clip_norm", .init = "acc = 0;", .update = "acc += x;", .combine = "acc += other;",
       .finalize = "out = zr_sqrt(acc);"},
  };
  pthread_mutex_lock(&lock);
  zmlx_status s = reducers[which] ? ZMLX_STATUS_OK : zmlx_reduce_create(&descs[which], &reducers[which]);
  *out = reducers[which];
  pthread_mutex_unlock(&lock);
  return s;
}

void zcat_optim_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < 3; i++) {
    zmlx_reduce_destroy(reducers[i]);
    reducers[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

static zmlx_status check(int n, zmlx_array *const *grads, double max_norm, int *all_f64) {
  if (n < 0 || (n > 0 && !grads))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "%d gradients at %p", n, (const void *)grads);
  if (!(max_norm >= 0))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "max_norm %g must be >= 0", max_norm);
  *all_f64 = 1;
  char what[32], b1[300], b2[300];
  for (int i = 0; i < n; i++) {
    snprintf(what, sizeof what, "grads[%d]", i);
    ZMLX_TRY(zcat_check_dtype(OP, what, grads[i], ZCAT_FLOAT_DTYPES));
    *all_f64 &= zmlx_array_dtype(grads[i]) == ZMLX_DTYPE_F64;
    zmlx_device d0 = zmlx_array_device(grads[0]), di = zmlx_array_device(grads[i]);
    if (d0.type != di.type || d0.index != di.index)
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, OP, "grads[0] is %s but %s is %s",
                       zmlx_array_format(grads[0], b1, sizeof b1), what,
                       zmlx_array_format(grads[i], b2, sizeof b2));
  }
  return ZMLX_STATUS_OK;
}

/* parts[i] = sum of grads[i]^2, for every i. */
static zmlx_status sums_of_squares(int n, zmlx_array *const *grads, zmlx_array *parts, int f64) {
  zmlx_reduce *k;
  ZMLX_TRY(reducer(f64 ? 1 : 0, &k));
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n && !s; i++) {
    zmlx_array *row = NULL, *slot = NULL;
    s = zmlx_array_slice(parts, 0, i, i + 1, 1, &row);
    if (!s) s = zmlx_array_reshape(row, 0, NULL, &slot);
    if (!s) s = zmlx_reduce_launch_into(k, grads[i], 0, NULL, 0, slot);
    zmlx_array_release(row);
    zmlx_array_release(slot);
  }
  return s;
}

static zmlx_status scale_all(int n, zmlx_array *const *grads, zmlx_array *norm, double max_norm) {
  static const char *ins[] = {"g", "nrm"}, *outs[] = {"go"}, *scs[] = {"max_norm"};
  zmlx_elementwise_desc d = {.name = "clip_scale", .n_inputs = 2, .input_names = ins,
                             .n_outputs = 1, .output_names = outs, .n_scalars = 1,
                             .scalar_names = scs,
                             .expr = "ZT c = max_norm / (nrm + ZK(1e-6));\n"
                                     "go = c < ZK(1) ? g * c : g;"};
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n && !s; i++) {
    if (zmlx_array_numel(grads[i]) == 0) continue;
    zmlx_elementwise *k;
    s = zcat_ew_get(&scale_slot, &d, zmlx_array_dtype(grads[i]), &k);
    zmlx_array *in[2] = {grads[i], norm};
    if (!s) s = zmlx_elementwise_launch_into(k, 2, in, 1, &max_norm, &grads[i]);
  }
  return s;
}

zmlx_status zmlx_clip_grad_norm(int n, zmlx_array *const *grads, double max_norm,
                                zmlx_array **norm) {
  if (norm) *norm = NULL;
  int all_f64 = 0;
  ZMLX_TRY(check(n, grads, max_norm, &all_f64));
  if (n == 0) {
    if (!norm) return ZMLX_STATUS_OK;
    zmlx_status s = zmlx_array_zeros(ZMLX_DTYPE_F32, 0, NULL, ZMLX_CPU, norm);
    return s ? zmlx_fail_wrap(s, OP) : s;
  }
  zmlx_dtype t = all_f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
  int64_t len = n;
  zmlx_array *parts = NULL, *total = NULL;
  zmlx_reduce *k = NULL;
  zmlx_status s = zmlx_array_empty(t, 1, &len, zmlx_array_device(grads[0]), &parts);
  if (!s) s = sums_of_squares(n, grads, parts, all_f64);
  if (!s) s = reducer(2, &k);
  if (!s) s = zmlx_reduce_launch(k, parts, 0, NULL, 0, &total);
  if (!s) s = scale_all(n, grads, total, max_norm);
  zmlx_array_release(parts);
  if (s) {
    zmlx_array_release(total);
    return zmlx_fail_wrap(s, OP);
  }
  if (norm)
    *norm = total;
  else
    zmlx_array_release(total);
  return ZMLX_STATUS_OK;
}
