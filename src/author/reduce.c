/* Reductions: axes, output shape, the choice of path (rows, columns, or a
 * copy to rows), the split of long reductions into segments, launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

static const char *op = "reduce";

struct zmlx_reduce {
  zr_expr e;
  int index_output;
  zmlx_reduce_backward_fn backward;
  void *backward_ctx;
  zmlx_kernel *row, *col, *fin;
};

void zmlx_reduce_destroy(zmlx_reduce *k) {
  if (!k) return;
  zmlx_kernel_destroy(k->row);
  zmlx_kernel_destroy(k->col);
  zmlx_kernel_destroy(k->fin);
  zr_expr_free(&k->e);
  free(k);
}

static zmlx_status make_kernels(zmlx_reduce *k) {
  static const char *x_in[] = {"x"}, *parts_in[] = {"_zparts"};
  static const char *row_sc[] = {"_zM", "_zS", "_zL", "_zR", "_zNK", "_zTPR"};
  static const char *col_sc[] = {"_zM", "_zC", "_zG", "_zT", "_zR", "_zS", "_zL", "_zNK", "_zNR", "_zRY"};
  static const char *fin_sc[] = {"_zM", "_zS", "_zR", "_zTPR"};
  zmlx_dtype i64[10];
  for (int i = 0; i < 10; i++) i64[i] = ZMLX_DTYPE_I64;
  const char *suffix[3] = {"row", "col", "fin"};
  zmlx_kernel **slot[3] = {&k->row, &k->col, &k->fin};
  const char *const *scs[3] = {row_sc, col_sc, fin_sc};
  int nsc[3] = {6, 10, 4};
  for (int i = 0; i < 3; i++) {
    char *h = zr_reduce_header(&k->e, suffix[i]), *b = zr_reduce_body(suffix[i]);
    zmlx_status s = zr_make_kernel(op, k->e.name, suffix[i], 1, i == 2 ? parts_in : x_in, nsc[i],
                                   scs[i], i64, b, h, slot[i]);
    free(h);
    free(b);
    ZMLX_TRY(s);
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_reduce_create(const zmlx_reduce_desc *desc, zmlx_reduce **out) {
  if (!desc || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = NULL;
  zr_expr src = {.name = (char *)desc->name, .header = (char *)desc->header,
                 .acc_type = (char *)desc->acc_type, .init = (char *)desc->init,
                 .update = (char *)desc->update,
                 .update_many = (char *)desc->update_many, .combine = (char *)desc->combine,
                 .finalize = (char *)desc->finalize, .has_out_dtype = desc->out_dtype != NULL,
                 .out_dtype = desc->out_dtype ? *desc->out_dtype : ZMLX_DTYPE_F32,
                 .compute = desc->compute};
  zmlx_reduce *k = calloc(1, sizeof *k);
  if (!k) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  k->index_output = desc->index_output != 0;
  k->backward = desc->backward;
  k->backward_ctx = desc->backward_ctx;
  zmlx_status s = zr_expr_copy(op, &src, &k->e);
  if (!s) s = make_kernels(k);
  if (s) {
    zmlx_reduce_destroy(k);
    return s;
  }
  *out = k;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_reduce_stats_get(const zmlx_reduce *k, zmlx_kernel_stats *out) {
  if (!k || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "reduce_stats", "NULL argument");
  zmlx_kernel *ks[3] = {k->row, k->col, k->fin};
  return zr_stats_sum(3, ks, out);
}

/* ---- axes and shapes ------------------------------------------------------ */

static zmlx_status axes_mask(const zmlx_reduce *k, const zmlx_array *x, int n_axes,
                             const int *axes, unsigned char *red) {
  char b[300];
  memset(red, 0, ZMLX_MAX_DIMS);
  if (n_axes < 0 || (n_axes > 0 && !axes))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %d axes%s for %s", k->e.name,
                     n_axes, n_axes > 0 ? " but axes is NULL" : "",
                     zmlx_array_format(x, b, sizeof b));
  if (n_axes == 0) {
    memset(red, 1, (size_t)x->ndim);
    return ZMLX_STATUS_OK;
  }
  for (int i = 0; i < n_axes; i++) {
    int a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
    if (a < 0 || a >= x->ndim)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': axis %d is out of range for %s",
                       k->e.name, axes[i], zmlx_array_format(x, b, sizeof b));
    if (red[a])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': axis %d is repeated (input %s)",
                       k->e.name, axes[i], zmlx_array_format(x, b, sizeof b));
    red[a] = 1;
  }
  return ZMLX_STATUS_OK;
}

static int out_shape(const zmlx_array *x, const unsigned char *red, int keepdims, int64_t *shape) {
  int n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (!red[d])
      shape[n++] = x->shape[d];
    else if (keepdims)
      shape[n++] = 1;
  return n;
}

static void walk(const zmlx_array *a, const unsigned char *red, zr_dims *k, zr_dims *r) {
  memset(k, 0, sizeof *k);
  memset(r, 0, sizeof *r);
  for (int d = 0; d < a->ndim; d++) zr_dims_push(red[d] ? r : k, a->shape[d], a->strides[d]);
}

/* x with kept axes first and reduced ones last, copied contiguous. */
static zmlx_status to_rows(zmlx_array *x, const unsigned char *red, zmlx_array **out,
                           unsigned char *red_out) {
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS];
  int n = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int d = 0; d < x->ndim; d++)
      if (red[d] == pass) {
        red_out[n] = (unsigned char)pass;
        shape[n] = x->shape[d];
        strides[n++] = x->strides[d];
      }
  zmlx_array *p;
  ZMLX_TRY(zmlx_array_wrap(x->storage, x->dtype, x->ndim, shape, strides, x->offset, &p));
  zmlx_status s = zmlx_array_contiguous(p, out);
  zmlx_array_release(p);
  return s;
}

/* ---- launch ------------------------------------------------------------- */

typedef struct plan {
  zmlx_reduce *k;
  zmlx_device dev;    /* the device launch shapes are made for */
  zr_sources *dry;    /* collect CUDA sources instead of launching */
  zmlx_dtype compute;
  zmlx_dtype result;  /* result_t: compute_t, or i64 for integer outputs */
  int slot;           /* bytes per partial accumulator slot */
  int64_t M, R;
} plan;

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Segments per output so that there are at most `target` tasks (rounded
 * down: a few tasks past a whole number of waves would cost a wave), each
 * of at least min_len elements. */
static int64_t split_count(int64_t units, int64_t R, int64_t min_len, int64_t target) {
  if (units * 2 > target || R < 2 * min_len) return 1;
  int64_t s = target / units, cap = R / min_len;
  return s < cap ? s : cap;
}

static int n_common(const plan *p, zmlx_template_arg *t, int partial) {
  t[0] = (zmlx_template_arg){"PARTIAL", ZMLX_TEMPLATE_BOOL, partial};
  t[1] = (zmlx_template_arg){"COMPUTE_F64", ZMLX_TEMPLATE_BOOL, p->compute == ZMLX_DTYPE_F64};
  t[2] = (zmlx_template_arg){"ACC_SLOT", ZMLX_TEMPLATE_INT, p->slot};
  t[3] = (zmlx_template_arg){"compute_t", ZMLX_TEMPLATE_DTYPE, p->compute};
  t[4] = (zmlx_template_arg){"result_t", ZMLX_TEMPLATE_DTYPE, p->result};
  return 5;
}

static zmlx_status launch(const plan *p, zmlx_kernel *kern, zmlx_array *in, zmlx_array *out,
                          int64_t grid, int block, int nt, const zmlx_template_arg *t, int nsc,
                          const double *sc) {
  zmlx_launch_config cfg = {.grid = {grid, 1, 1}, .block = {block, 1, 1}, .n_templates = nt,
                            .templates = t, .n_scalars = nsc, .scalars = sc};
  if (p->dry) return zr_sources_add(p->dry, kern, 1, &in, &cfg, out);
  return zk_launch(kern, 1, &in, &cfg, &out, ZK_OUTPUTS_GIVEN);
}

/* Grid points for `tasks` tasks of TPR lanes, RPB tasks per block. */
static int64_t task_grid(const plan *p, int64_t tasks, int tpr, int rpb) {
  return p->dev.type == ZMLX_DEVICE_CUDA ? cdiv(tasks, rpb) * tpr * rpb : tasks;
}

static int rows_per_block(int tpr) { return tpr >= 128 ? 1 : 128 / tpr; }

/* Pass 2: combine S partials per output and finalize. */
static zmlx_status run_fin(const plan *p, zmlx_array *parts, int64_t S, zmlx_array *out) {
  int tpr = zr_pow2_clamp(S, 1, 256), rpb = rows_per_block(tpr);
  zmlx_template_arg t[8];
  int nt = n_common(p, t, 0);
  if (p->dev.type == ZMLX_DEVICE_CUDA) {
    t[nt++] = (zmlx_template_arg){"TPR", ZMLX_TEMPLATE_INT, tpr};
    t[nt++] = (zmlx_template_arg){"RPB", ZMLX_TEMPLATE_INT, rpb};
  }
  double sc[4] = {(double)p->M, (double)S, (double)p->R, tpr};
  return launch(p, p->k->fin, parts, out, task_grid(p, p->M, tpr, rpb), tpr * rpb, nt, t, 4, sc);
}

/* Runs one pass into out, or into partials and then fin when S > 1. */
static zmlx_status run_split(const plan *p, zmlx_kernel *kern, zmlx_array *x, zmlx_array *out,
                             int64_t S, int64_t grid, int block, zmlx_template_arg *t, int nt,
                             int nsc, const double *sc) {
  if (S == 1) return launch(p, kern, x, out, grid, block, nt, t, nsc, sc);
  int64_t bytes = p->M * S * p->slot;
  zmlx_array *parts;
  ZMLX_TRY(zmlx_array_empty(ZMLX_DTYPE_U8, 1, &bytes, zmlx_array_device(x), &parts));
  t[0].value = 1; /* PARTIAL */
  zmlx_status s = launch(p, kern, x, parts, grid, block, nt, t, nsc, sc);
  if (!s) s = run_fin(p, parts, S, out);
  zmlx_array_release(parts);
  return s;
}

static zmlx_status run_row(const plan *p, zmlx_array *x, const zr_dims *k, zmlx_array *out) {
  const zr_tuning *tu = zr_tune();
  int64_t target = (int64_t)zr_device_sms(p->dev) * tu->split_blocks;
  int64_t S = split_count(p->M, p->R, tu->split_min, target);
  int64_t L = S > 1 ? cdiv(p->R, S) : p->R;
  if (S > 1) S = cdiv(p->R, L);
  int vec = (int)(16 / zmlx_dtype_size(x->dtype));
  int tpr = zr_pow2_clamp(cdiv(L, (int64_t)vec * tu->row_unroll), 1, tu->row_max_tpr);
  int rpb = rows_per_block(tpr);
  zmlx_template_arg t[12];
  int nt = n_common(p, t, 0);
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, vec};
  t[nt++] = (zmlx_template_arg){"UNROLL", ZMLX_TEMPLATE_INT, tu->row_unroll};
  if (p->dev.type == ZMLX_DEVICE_CUDA) {
    t[nt++] = (zmlx_template_arg){"NK", ZMLX_TEMPLATE_INT, k->n};
    t[nt++] = (zmlx_template_arg){"TPR", ZMLX_TEMPLATE_INT, tpr};
    t[nt++] = (zmlx_template_arg){"RPB", ZMLX_TEMPLATE_INT, rpb};
  }
  double sc[6] = {(double)p->M, (double)S, (double)L, (double)p->R, k->n, tpr};
  return run_split(p, p->k->row, x, out, S, task_grid(p, p->M * S, tpr, rpb), tpr * rpb, t, nt, 6, sc);
}

static zmlx_status run_col(const plan *p, zmlx_array *x, const zr_dims *k, const zr_dims *r,
                           zmlx_array *out) {
  const zr_tuning *tu = zr_tune();
  int64_t C = k->shape[k->n - 1], outer = p->M / C;
  int64_t mults[2 * ZMLX_MAX_DIMS];
  int nm = 0;
  mults[nm++] = C;
  for (int i = 0; i + 1 < k->n; i++) mults[nm++] = k->stride[i];
  for (int i = 0; i < r->n; i++) mults[nm++] = r->stride[i];
  void *ptr = zmlx_array_data(x);
  size_t es = zmlx_dtype_size(x->dtype);
  int vec = zr_vec_for(es, nm, mults, 1, &ptr, &es);
  int64_t G = C / vec;
  int cx = zr_pow2_clamp(G, 1, 32), ry = tu->col_threads / cx;
  while (ry > 1 && (int64_t)ry * cx * p->slot > 48 * 1024) ry /= 2; /* static shared memory */
  if (ry < 1) ry = 1;
  int64_t T = cdiv(G, cx);
  int64_t target = (int64_t)zr_device_sms(p->dev) * tu->split_blocks;
  int64_t S = split_count(outer * T, p->R, (int64_t)ry * tu->col_unroll * 4, target);
  int64_t L = S > 1 ? cdiv(p->R, S) : p->R;
  if (S > 1) S = cdiv(p->R, L);
  int cuda = p->dev.type == ZMLX_DEVICE_CUDA;
  zmlx_template_arg t[12];
  int nt = n_common(p, t, 0);
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, vec};
  t[nt++] = (zmlx_template_arg){"UNROLL", ZMLX_TEMPLATE_INT, tu->col_unroll};
  if (cuda) {
    t[nt++] = (zmlx_template_arg){"NK", ZMLX_TEMPLATE_INT, k->n};
    t[nt++] = (zmlx_template_arg){"NR", ZMLX_TEMPLATE_INT, r->n};
    t[nt++] = (zmlx_template_arg){"CX", ZMLX_TEMPLATE_INT, cx};
    t[nt++] = (zmlx_template_arg){"RY", ZMLX_TEMPLATE_INT, ry};
  }
  int64_t tiles = cuda ? T : G;
  double sc[10] = {(double)p->M, (double)C, (double)G, (double)tiles, (double)p->R, (double)S,
                   (double)L, k->n, r->n, ry};
  int64_t grid = cuda ? outer * T * S * cx * ry : outer * G * S;
  return run_split(p, p->k->col, x, out, S, grid, cx * ry, t, nt, 10, sc);
}

/* Chooses the path. out is contiguous with M elements. */
static zmlx_status run(zmlx_reduce *k, zmlx_array *x, const unsigned char *red, zmlx_array *out,
                       zr_sources *dry) {
  plan p = {.k = k, .dev = dry ? ZMLX_CUDA(0) : zmlx_array_device(x), .dry = dry,
            .compute = zr_compute_for(&k->e, x->dtype)};
  p.result = zmlx_dtype_is_float(out->dtype) ? p.compute : ZMLX_DTYPE_I64;
  p.slot = strcmp(k->e.acc_type, "compute_t") ? 64 : (int)zmlx_dtype_size(p.compute);
  p.M = zmlx_array_numel(out);
  p.R = 1;
  for (int d = 0; d < x->ndim; d++)
    if (red[d]) p.R *= x->shape[d];
  if (p.M == 0) return ZMLX_STATUS_OK;
  zr_dims kd, rd;
  walk(x, red, &kd, &rd);
  zmlx_array *src = zmlx_array_retain(x);
  zmlx_status s = ZMLX_STATUS_OK;
  if (p.R <= 1) {
    /* Nothing to walk: one element (or none) per output. */
    rd = (zr_dims){.n = 1, .shape = {p.R}, .stride = {1}};
  } else if (!(rd.n == 1 && rd.stride[0] == 1) && !(kd.n > 0 && kd.stride[kd.n - 1] == 1)) {
    unsigned char red2[ZMLX_MAX_DIMS];
    zmlx_array_release(src);
    src = NULL;
    s = to_rows(x, red, &src, red2);
    if (!s) walk(src, red2, &kd, &rd);
  }
  zmlx_array *view = NULL;
  if (!s) s = zr_dims_view(src, &kd, &rd, &view);
  if (!s)
    s = rd.n == 1 && rd.stride[0] == 1 ? run_row(&p, view, &kd, out)
                                       : run_col(&p, view, &kd, &rd, out);
  zmlx_array_release(view);
  zmlx_array_release(src);
  return s;
}

static zmlx_status check_call(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                              unsigned char *red) {
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  ZMLX_TRY(zr_check_input(op, k->e.name, x));
  ZMLX_TRY(axes_mask(k, x, n_axes, axes, red));
  int64_t R = 1;
  for (int d = 0; d < x->ndim; d++)
    if (red[d]) R *= x->shape[d];
  if (R == 0 && k->index_output) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "kernel '%s': cannot take an index over zero elements (input %s)", k->e.name,
                     zmlx_array_format(x, b, sizeof b));
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status run_into(zmlx_reduce *k, zmlx_array *x, const unsigned char *red,
                            zmlx_array *out) {
  if (zmlx_array_is_contiguous(out)) return run(k, x, red, out, NULL);
  zmlx_array *tmp;
  ZMLX_TRY(zmlx_array_empty(out->dtype, out->ndim, out->shape, zmlx_array_device(out), &tmp));
  zmlx_status s = run(k, x, red, tmp, NULL);
  if (!s) s = zmlx_array_copy_into(out, tmp);
  zmlx_array_release(tmp);
  return s;
}

zmlx_status zmlx_reduce_launch_into(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                    int keepdims, zmlx_array *out) {
  unsigned char red[ZMLX_MAX_DIMS];
  ZMLX_TRY(check_call(k, x, n_axes, axes, red));
  int64_t shape[ZMLX_MAX_DIMS];
  int nd = out_shape(x, red, keepdims, shape);
  ZMLX_TRY(zr_check_out(op, k->e.name, x, out, nd, shape));
  return run_into(k, x, red, out);
}

zmlx_status zmlx_reduce_launch(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                               int keepdims, zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  unsigned char red[ZMLX_MAX_DIMS];
  ZMLX_TRY(check_call(k, x, n_axes, axes, red));
  int64_t shape[ZMLX_MAX_DIMS];
  int nd = out_shape(x, red, keepdims, shape);
  zmlx_dtype t = k->e.has_out_dtype ? k->e.out_dtype : k->index_output ? ZMLX_DTYPE_I64 : x->dtype;
  ZMLX_TRY(zmlx_array_empty(t, nd, shape, zmlx_array_device(x), out));
  zmlx_status s = run(k, x, red, *out, NULL);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zr_reduce_grad_prepare(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                   int keepdims, zr_grad_info *gi) {
  unsigned char red[ZMLX_MAX_DIMS];
  memset(gi, 0, sizeof *gi);
  ZMLX_TRY(check_call(k, x, n_axes, axes, red));
  for (int d = 0; d < x->ndim; d++)
    if (red[d]) gi->axes[gi->n_axes++] = d;
  gi->out_ndim = out_shape(x, red, keepdims, gi->out_shape);
  gi->keep_ndim = out_shape(x, red, 1, gi->keep_shape);
  gi->fn = k->backward;
  gi->ctx = k->backward_ctx;
  gi->name = k->e.name;
  gi->index_output = k->index_output;
  return ZMLX_STATUS_OK;
}

zmlx_status zr_reduce_cuda_sources(zmlx_reduce *k, zmlx_array *x, int n_axes, const int *axes,
                                   int keepdims, zr_sources *srcs) {
  unsigned char red[ZMLX_MAX_DIMS];
  memset(srcs, 0, sizeof *srcs);
  ZMLX_TRY(check_call(k, x, n_axes, axes, red));
  int64_t shape[ZMLX_MAX_DIMS];
  int nd = out_shape(x, red, keepdims, shape);
  zmlx_dtype t = k->e.has_out_dtype ? k->e.out_dtype : k->index_output ? ZMLX_DTYPE_I64 : x->dtype;
  zmlx_array *out;
  ZMLX_TRY(zmlx_array_empty(t, nd, shape, zmlx_array_device(x), &out));
  zmlx_status s = run(k, x, red, out, srcs);
  zmlx_array_release(out);
  if (s) zr_sources_free(srcs);
  return s;
}
