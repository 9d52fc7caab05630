/* The tape's own operations: summing the gradients of an array used more
 * than once, summing over broadcast dimensions, and broadcasting (the
 * backward of that sum). They are recorded as custom nodes whose backward
 * rules are each other, so the gradients a backward with CREATE_GRAPH
 * builds from them stay differentiable. */
#include "autodiff/autodiff_internal.h"
#include "core/error.h"

static const char *op = "tape_backward";

static zmlx_status add_backward(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  ig[0] = zmlx_array_retain(og[0]);
  ig[1] = zmlx_array_retain(og[0]);
  return ZMLX_STATUS_OK;
}

zmlx_status zad_add(zmlx_tape *t, zmlx_array *a, zmlx_array *b, zmlx_array **out) {
  static const char *ins[] = {"a", "b"}, *outs[] = {"out"};
  if (!t->add) {
    /* f64 compute: the sum is exact before the one rounding to the
     * gradient's dtype, whatever that dtype is. */
    zmlx_elementwise_desc d = {.name = "tape_grad_sum", .n_inputs = 2, .input_names = ins,
                               .n_outputs = 1, .output_names = outs, .expr = "out = a + b;",
                               .compute = ZMLX_DTYPE_F64};
    ZMLX_TRY(zmlx_elementwise_create(&d, &t->add));
  }
  zmlx_array *in[2] = {a, b};
  ZMLX_TRY(zmlx_elementwise_launch(t->add, 2, in, 0, NULL, out));
  zmlx_status s = zmlx_tape_record_custom(t, "gradient sum", 2, in, 1, out, add_backward, NULL, NULL);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

static const char sum_body[] =
    "double acc = 0;\n"
    "for (long long r = 0; r < R; r++)\n"
    "  acc += zmlx_tod(x[zmlx_offset(gid * R + r, x_ndim, x_shape, x_strides)]);\n"
    "zmlx_store(out, gid, acc);\n";

static zmlx_status sum_kernel(zmlx_tape *t) {
  static const char *ins[] = {"x"}, *outs[] = {"out"}, *scs[] = {"R"};
  static const zmlx_dtype st[] = {ZMLX_DTYPE_I64};
  if (t->sum) return ZMLX_STATUS_OK;
  zmlx_kernel_desc d = {.name = "tape_sum_to", .n_inputs = 1, .input_names = ins,
                        .n_outputs = 1, .output_names = outs, .n_scalars = 1,
                        .scalar_names = scs, .scalar_dtypes = st, .source = sum_body};
  return zmlx_kernel_create(&d, &t->sum);
}

/* full viewed as (kept dimensions..., summed dimensions...), so that
 * output element i sums the R consecutive elements i*R .. i*R+R-1. */
static zmlx_status summed_view(zmlx_array *full, const zmlx_array *like, zmlx_array **view,
                               int64_t *R) {
  int nd = zmlx_array_ndim(full), lead = nd - zmlx_array_ndim(like), perm[ZMLX_MAX_DIMS], np = 0;
  int summed[ZMLX_MAX_DIMS];
  char b1[160], b2[160];
  if (lead < 0)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "cannot sum %s down to the shape of %s",
                     zmlx_array_format(full, b1, sizeof b1), zmlx_array_format(like, b2, sizeof b2));
  *R = 1;
  for (int d = 0; d < nd; d++) {
    int64_t f = zmlx_array_dim(full, d), l = d < lead ? 1 : zmlx_array_dim(like, d - lead);
    if (l != f && l != 1)
      return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "cannot sum %s down to the shape of %s",
                       zmlx_array_format(full, b1, sizeof b1),
                       zmlx_array_format(like, b2, sizeof b2));
    summed[d] = d < lead || (l == 1 && f != 1);
    if (!summed[d]) perm[np++] = d;
  }
  for (int d = 0; d < nd; d++)
    if (summed[d]) {
      perm[np++] = d;
      *R *= zmlx_array_dim(full, d);
    }
  return zmlx_array_permute(full, perm, view);
}

static zmlx_status run_sum(zmlx_tape *t, zmlx_array *full, const zmlx_array *like, zmlx_array **out) {
  int nd = zmlx_array_ndim(like);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(like, d);
  zmlx_dtype dt = zmlx_array_dtype(full);
  if (zmlx_array_numel(full) == 0)
    return zmlx_array_zeros(dt, nd, shape, zmlx_array_device(full), out);
  ZMLX_TRY(sum_kernel(t));
  zmlx_array *p = NULL;
  int64_t R = 1;
  ZMLX_TRY(summed_view(full, like, &p, &R));
  const int64_t *shapes[1] = {shape};
  double r = (double)R;
  zmlx_launch_config cfg = {.output_dtypes = &dt, .output_ndims = &nd, .output_shapes = shapes,
                            .n_scalars = 1, .scalars = &r};
  zmlx_status s = zmlx_kernel_launch(t->sum, 1, &p, &cfg, out);
  zmlx_array_release(p);
  return s;
}

static zmlx_status sum_backward(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                zmlx_array *const *out, zmlx_array *const *og, zmlx_array **ig) {
  return zad_broadcast(t, og[0], in[0], &ig[0]);
}

static zmlx_status broadcast_backward(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                      zmlx_array *const *out, zmlx_array *const *og,
                                      zmlx_array **ig) {
  return zad_sum_to(t, og[0], in[0], &ig[0]);
}

/* Record out = op(in) as a custom node; release out if that fails. */
static zmlx_status record(zmlx_tape *t, const char *name, zmlx_array *in, zmlx_array **out,
                          zmlx_tape_backward_fn fn) {
  zmlx_status s = zmlx_tape_record_custom(t, name, 1, &in, 1, out, fn, NULL, NULL);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zad_sum_to(zmlx_tape *t, zmlx_array *full, const zmlx_array *like, zmlx_array **out) {
  ZMLX_TRY(run_sum(t, full, like, out));
  return record(t, "sum over broadcast dimensions", full, out, sum_backward);
}

zmlx_status zad_broadcast(zmlx_tape *t, zmlx_array *g, const zmlx_array *like, zmlx_array **out) {
  int nd = zmlx_array_ndim(like);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(like, d);
  ZMLX_TRY(zmlx_array_broadcast_to(g, nd, shape, out));
  return record(t, "broadcast", g, out, broadcast_backward);
}

/* ---- public: recorded views ------------------------------------------------ */

static zmlx_status reshape_backward(void *ctx, zmlx_tape *t, zmlx_array *const *in,
                                    zmlx_array *const *out, zmlx_array *const *og,
                                    zmlx_array **ig) {
  int nd = zmlx_array_ndim(in[0]);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(in[0], d);
  return zmlx_tape_reshape(t, og[0], nd, shape, &ig[0]);
}

zmlx_status zmlx_tape_reshape(zmlx_tape *t, zmlx_array *a, int ndim, const int64_t *shape,
                              zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_reshape", "out is NULL");
  *out = NULL;
  if (!t) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_reshape", "tape is NULL");
  ZMLX_TRY(zmlx_array_reshape(a, ndim, shape, out));
  return record(t, "reshape", a, out, reshape_backward);
}

zmlx_status zmlx_tape_broadcast_to(zmlx_tape *t, zmlx_array *a, int ndim, const int64_t *shape,
                                   zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_broadcast_to", "out is NULL");
  *out = NULL;
  if (!t) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_broadcast_to", "tape is NULL");
  ZMLX_TRY(zmlx_array_broadcast_to(a, ndim, shape, out));
  return record(t, "broadcast", a, out, broadcast_backward);
}
