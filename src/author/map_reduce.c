/* Map-reductions over rows: checks, the vector width, on chip or
 * streaming, launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/hash.h"
#include "zmlx/tune.h"
#include "core/error.h"

static const char *op = "map_reduce";

/* Scalars of the raw kernel after the user's. */
enum { EXTRA_SC = 5 };

struct zmlx_map_reduce {
  zr_expr e;
  zmlx_kernel *k;
  zmlx_reduce_backward_fn backward;
  void *backward_ctx;
  zmlx_map_reduce *twin;  /* owned; rows on chip run it */
  uint64_t expr_hash;     /* names the kernel in tuning keys */
};

void zr_map_reduce_set_twin(zmlx_map_reduce *k, zmlx_map_reduce *twin) {
  zmlx_map_reduce_destroy(k->twin);
  k->twin = twin;
}

zmlx_status zr_map_reduce_grad_prepare(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                       zr_grad_info *gi) {
  memset(gi, 0, sizeof *gi);
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  ZMLX_TRY(zr_check_input(op, k->e.name, x));
  ZMLX_TRY(zr_norm_axis(op, k->e.name, x, &axis));
  gi->axis = axis;
  gi->fn = k->backward;
  gi->ctx = k->backward_ctx;
  gi->name = k->e.name;
  return ZMLX_STATUS_OK;
}

void zmlx_map_reduce_destroy(zmlx_map_reduce *k) {
  if (!k) return;
  zmlx_map_reduce_destroy(k->twin);
  zmlx_kernel_destroy(k->k);
  zr_expr_free(&k->e);
  free(k);
}

static zmlx_status make_kernel(zmlx_map_reduce *k) {
  const zr_expr *e = &k->e;
  const char *ins[ZK_MAX_IO], *scs[ZK_MAX_IO];
  zmlx_dtype st[ZK_MAX_IO];
  ins[0] = "x";
  for (int i = 0; i < e->n_params; i++) ins[1 + i] = e->param_names[i];
  for (int i = 0; i < e->n_scalars; i++) {
    scs[i] = e->scalar_names[i];
    st[i] = ZMLX_DTYPE_F64;
  }
  static const char *extra[EXTRA_SC] = {"_zM", "_zR", "_zNK", "_zTPR", "_zNV"};
  for (int i = 0; i < EXTRA_SC; i++) {
    scs[e->n_scalars + i] = extra[i];
    st[e->n_scalars + i] = ZMLX_DTYPE_I64;
  }
  char *h = zr_map_reduce_header(e), *b = zr_map_reduce_body(e);
  zmlx_status s = zr_make_kernel(op, e->name, "mr", 1 + e->n_params, ins, e->n_scalars + EXTRA_SC,
                                 scs, st, b, h, &k->k);
  free(h);
  free(b);
  return s;
}

static uint64_t hash_expr(const zr_expr *e) {
  const char *parts[] = {e->header, e->acc_type, e->init, e->update, e->update_many, e->combine,
                         e->finalize, e->write, e->pre_init, e->pre_update, e->pre_combine,
                         e->pre_finalize};
  uint64_t h = (uint64_t)e->compute;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    h = zmlx_hash64(parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) : 0, h * 31 + i);
  return h;
}

zmlx_status zmlx_map_reduce_create(const zmlx_map_reduce_desc *desc, zmlx_map_reduce **out) {
  if (!desc || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = NULL;
  if (!desc->write || !desc->write[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' has no write statement",
                     desc->name ? desc->name : "(null)");
  if (desc->out_dtype && !zmlx_dtype_is_float(*desc->out_dtype))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output dtype %s (use a float)",
                     desc->name ? desc->name : "(null)", zmlx_dtype_name(*desc->out_dtype));
  zr_expr src = {.name = (char *)desc->name, .header = (char *)desc->header,
                 .acc_type = (char *)desc->acc_type, .init = (char *)desc->init,
                 .update = (char *)desc->update,
                 .update_many = (char *)desc->update_many, .combine = (char *)desc->combine,
                 .finalize = (char *)desc->finalize, .write = (char *)desc->write,
                 .n_params = desc->n_params, .param_names = (char **)desc->param_names,
                 .n_scalars = desc->n_scalars, .scalar_names = (char **)desc->scalar_names,
                 .has_out_dtype = desc->out_dtype != NULL,
                 .out_dtype = desc->out_dtype ? *desc->out_dtype : ZMLX_DTYPE_F32,
                 .compute = desc->compute,
                 .pre_init = (char *)desc->pre_init, .pre_update = (char *)desc->pre_update,
                 .pre_combine = (char *)desc->pre_combine, .pre_finalize = (char *)desc->pre_finalize};
  zmlx_map_reduce *k = calloc(1, sizeof *k);
  if (!k) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  k->backward = desc->backward;
  k->backward_ctx = desc->backward_ctx;
  zmlx_status s = zr_expr_copy(op, &src, &k->e);
  if (!s) s = make_kernel(k);
  if (!s) k->expr_hash = hash_expr(&k->e);
  if (s) {
    zmlx_map_reduce_destroy(k);
    return s;
  }
  *out = k;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_map_reduce_stats_get(const zmlx_map_reduce *k, zmlx_kernel_stats *out) {
  if (!k || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "map_reduce_stats", "NULL argument");
  return zr_stats_sum(1, &k->k, out);
}

/* ---- launch ---------------------------------------------------------------- */

static zmlx_status check_params(const zmlx_map_reduce *k, const zmlx_array *x, int64_t R,
                                int n_params, zmlx_array *const *params, int n_scalars,
                                const double *scalars) {
  const zr_expr *e = &k->e;
  char b1[300], b2[300];
  if (n_params != e->n_params || (n_params && !params))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' takes %d param%s, got %d",
                     e->name, e->n_params, e->n_params == 1 ? "" : "s", n_params);
  if (n_scalars != e->n_scalars || (n_scalars && !scalars))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' takes %d scalar%s, got %d",
                     e->name, e->n_scalars, e->n_scalars == 1 ? "" : "s", n_scalars);
  zmlx_device dx = zmlx_array_device(x);
  for (int i = 0; i < n_params; i++) {
    const zmlx_array *p = params[i];
    if (!p)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': param '%s' is NULL", e->name,
                       e->param_names[i]);
    if (!zmlx_dtype_is_float(p->dtype) || p->ndim != 1 || p->shape[0] != R)
      return zmlx_fail(p->ndim != 1 || p->shape[0] != R ? ZMLX_STATUS_SHAPE_MISMATCH
                                                        : ZMLX_STATUS_DTYPE_UNSUPPORTED,
                       op, "kernel '%s': param '%s' is %s; it must be a float vector of %lld (input %s)",
                       e->name, e->param_names[i], zmlx_array_format(p, b1, sizeof b1), (long long)R,
                       zmlx_array_format(x, b2, sizeof b2));
    zmlx_device dp = zmlx_array_device(p);
    if (dp.type != dx.type || dp.index != dx.index)
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "kernel '%s': param '%s' %s, input %s", e->name,
                       e->param_names[i], zmlx_array_format(p, b1, sizeof b1),
                       zmlx_array_format(x, b2, sizeof b2));
  }
  return ZMLX_STATUS_OK;
}

/* On chip: rows of at most ON_CHIP_VECS(compute) 16-byte vectors (fewer,
 * narrower vectors when rows are not 16-byte aligned). */
static int64_t on_chip_vecs(zmlx_dtype compute) {
  /* f64 needs twice the registers: 1024-thread blocks of it do not launch. */
  return (int64_t)(compute == ZMLX_DTYPE_F64 ? 256 : 1024) * zr_tune()->mr_max_nv;
}

int zr_map_reduce_rows_fit(const zmlx_array *x, int axis) {
  if (!x || x->ndim == 0) return 0;
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return 0;
  size_t es = zmlx_dtype_size(x->dtype);
  int64_t vec = es && es < 16 ? (int64_t)(16 / es) : 1;
  zmlx_dtype compute = x->dtype == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
  return (x->shape[axis] + vec - 1) / vec <= on_chip_vecs(compute);
}

/* A launch shape: TPR lanes per row, NV vectors per lane on chip or
 * UNROLL loads in flight when streaming, RPB rows per block. */
typedef struct mr_shape {
  int tpr, nv, unroll, rpb;
} mr_shape;

typedef struct mr_launch {
  zmlx_map_reduce *k;
  const zr_rows *r;
  zmlx_array *const *params;
  const double *scalars;
  zmlx_array *target;
  zr_sources *dry;
  int cuda, vec, onchip, max_tpr;
  int64_t nvec;
  zmlx_dtype compute;
} mr_launch;

static int rpb_for(int tpr) { return tpr >= 128 ? 1 : 128 / tpr; }

/* The measured defaults (scripts/sweep_reduce.sh on the H100): about
 * MR_NV vectors per lane on chip, MR_UNROLL loads in flight streaming. */
static mr_shape default_shape(const mr_launch *a) {
  const zr_tuning *tu = zr_tune();
  mr_shape sh = {.unroll = tu->mr_unroll};
  sh.tpr = a->onchip ? zr_pow2_clamp((a->nvec + tu->mr_nv - 1) / tu->mr_nv, 1, a->max_tpr)
                     : zr_pow2_clamp((a->nvec + tu->mr_unroll - 1) / tu->mr_unroll, 1, a->max_tpr);
  sh.nv = a->onchip ? (int)((a->nvec + sh.tpr - 1) / sh.tpr) : 1;
  sh.rpb = rpb_for(sh.tpr);
  return sh;
}

static zmlx_status launch_shape(const mr_launch *a, const mr_shape *sh) {
  const zr_expr *e = &a->k->e;
  const zr_rows *r = a->r;
  zmlx_array *in[ZK_MAX_IO];
  in[0] = r->view;
  for (int i = 0; i < e->n_params; i++) in[1 + i] = a->params[i];
  zmlx_template_arg t[12];
  int nt = 0;
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, a->vec};
  t[nt++] = (zmlx_template_arg){"UNROLL", ZMLX_TEMPLATE_INT, sh->unroll};
  t[nt++] = (zmlx_template_arg){"ONCHIP", ZMLX_TEMPLATE_BOOL, a->onchip};
  t[nt++] = (zmlx_template_arg){"COMPUTE_F64", ZMLX_TEMPLATE_BOOL, a->compute == ZMLX_DTYPE_F64};
  t[nt++] = (zmlx_template_arg){"ACC_SLOT", ZMLX_TEMPLATE_INT, 64};
  t[nt++] = (zmlx_template_arg){"compute_t", ZMLX_TEMPLATE_DTYPE, a->compute};
  if (a->cuda) {
    t[nt++] = (zmlx_template_arg){"NK", ZMLX_TEMPLATE_INT, r->kept.n};
    t[nt++] = (zmlx_template_arg){"TPR", ZMLX_TEMPLATE_INT, sh->tpr};
    t[nt++] = (zmlx_template_arg){"RPB", ZMLX_TEMPLATE_INT, sh->rpb};
    t[nt++] = (zmlx_template_arg){"NV", ZMLX_TEMPLATE_INT, sh->nv};
  }
  double sc[ZK_MAX_IO];
  for (int i = 0; i < e->n_scalars; i++) sc[i] = a->scalars ? a->scalars[i] : 0;
  double extra[EXTRA_SC] = {(double)r->M, (double)r->R, r->kept.n, sh->tpr, sh->nv};
  memcpy(sc + e->n_scalars, extra, sizeof extra);
  int64_t grid = a->cuda ? (r->M + sh->rpb - 1) / sh->rpb * sh->tpr * sh->rpb : r->M;
  zmlx_launch_config cfg = {.grid = {grid, 1, 1}, .block = {sh->tpr * sh->rpb, 1, 1},
                            .n_templates = nt, .templates = t,
                            .n_scalars = e->n_scalars + EXTRA_SC, .scalars = sc};
  zmlx_array *target = a->target;
  if (a->dry) return zr_sources_add(a->dry, a->k->k, 1 + e->n_params, in, &cfg, target);
  return zk_launch(a->k->k, 1 + e->n_params, in, &cfg, &target, ZK_OUTPUTS_GIVEN);
}

/* ---- tuning: config.block = TPR, .items = NV (on chip) or UNROLL,
 * .rows = RPB; NV follows from TPR on chip, so the space lists only
 * consistent candidates. */
static zmlx_status tune_run(void *ctx, const zmlx_tune_config *c) {
  mr_shape sh = {.tpr = c->block, .nv = 1, .unroll = c->items, .rpb = c->rows};
  const mr_launch *a = ctx;
  if (a->onchip) {
    sh.nv = c->items;
    sh.unroll = zr_tune()->mr_unroll;
  }
  return launch_shape(a, &sh);
}

static void tune_space(const mr_launch *a, zmlx_tune_space *sp) {
  sp->n = 0;
  for (int tpr = 32; tpr <= a->max_tpr; tpr *= 2) {
    int64_t nv = (a->nvec + tpr - 1) / tpr;
    if (a->onchip && (nv > zr_tune()->mr_max_nv || (tpr > 32 && (a->nvec + tpr / 2 - 1) / (tpr / 2) == nv)))
      continue; /* too many vectors per lane, or idle lanes for the same NV */
    static const int unrolls[] = {2, 4, 8}, rpbs[] = {1, 2, 4, 8};
    for (int u = 0; u < (a->onchip ? 1 : 3); u++)
      for (int b = 0; b < 4; b++) {
        int rpb = rpbs[b];
        if (tpr * rpb > 1024 || tpr * rpb < 64 || (!a->onchip && tpr < 128) ||
            sp->n >= ZMLX_TUNE_MAX_CANDIDATES)
          continue;
        sp->v[sp->n++] = (zmlx_tune_config){tpr, a->onchip ? (int)nv : unrolls[u], 16, rpb};
      }
  }
}

/* The launch shape comes from the tuner on CUDA (a stored result, a
 * search with $ZMLX_TUNE=1, else the measured defaults). */
static zmlx_status launch_tuned(mr_launch *a) {
  mr_shape def = default_shape(a);
  if (!a->cuda || a->dry) return launch_shape(a, &def);
  const zr_expr *e = &a->k->e;
  zmlx_device dev = zmlx_array_device(a->r->view);
  char id[96];
  size_t len = (size_t)snprintf(id, sizeof id, "mr:%.40s:%016llx:v%d:%s", e->name,
                                (unsigned long long)a->k->expr_hash, a->vec, a->onchip ? "on" : "st");
  for (int i = 0; i < e->n_params && len + 6 < sizeof id; i++)
    len += (size_t)snprintf(id + len, sizeof id - len, ":%s", zmlx_dtype_name(a->params[i]->dtype));
  int64_t shape[2] = {a->r->M, a->r->R};
  zmlx_tune_key key;
  ZMLX_TRY(zmlx_tune_key_make(id, dev, 2, shape, a->r->view->dtype, &key));
  zmlx_tune_space sp;
  tune_space(a, &sp);
  zmlx_tune_config fb = {def.tpr, a->onchip ? def.nv : def.unroll, 16, def.rpb};
  int in_space = 0;
  for (int i = 0; i < sp.n; i++) in_space |= !memcmp(&sp.v[i], &fb, sizeof fb);
  if (!in_space) return launch_shape(a, &def);
  /* An output sharing the input's storage would change between timed runs. */
  int alias = a->target->storage == a->r->view->storage;
  zmlx_tune_options o = {.name = e->name, .mode = alias ? ZMLX_TUNE_TABLE : ZMLX_TUNE_ENV,
                         .fallback = &fb};
  zmlx_tune_result res;
  ZMLX_TRY(zmlx_tune_pick(dev, &key, &sp, tune_run, a, &o, &res));
  return tune_run(a, &res.config);
}

/* One launch over the rows of r into target (contiguous rows). */
static zmlx_status run(zmlx_map_reduce *k, const zr_rows *r, zmlx_array *const *params,
                       const double *scalars, zmlx_array *target, zr_sources *dry) {
  const zr_expr *e = &k->e;
  mr_launch a = {.k = k, .r = r, .params = params, .scalars = scalars, .target = target, .dry = dry};
  a.cuda = dry || zmlx_array_device(r->view).type == ZMLX_DEVICE_CUDA;
  int64_t mults[ZMLX_MAX_DIMS + 1];
  void *ptrs[ZK_MAX_IO];
  size_t sizes[ZK_MAX_IO];
  int nm = 0, np = 0;
  mults[nm++] = r->R;
  for (int i = 0; i < r->kept.n; i++) mults[nm++] = r->kept.stride[i];
  ptrs[np] = zmlx_array_data(r->view);
  sizes[np++] = zmlx_dtype_size(r->view->dtype);
  ptrs[np] = zmlx_array_data(target);
  sizes[np++] = zmlx_dtype_size(target->dtype);
  for (int i = 0; i < e->n_params; i++) {
    /* Params are made contiguous by the launch unless they already are. */
    ptrs[np] = zmlx_array_is_contiguous(params[i]) ? zmlx_array_data(params[i]) : NULL;
    sizes[np++] = zmlx_dtype_size(params[i]->dtype);
  }
  a.vec = zr_vec_for(sizes[0], nm, mults, np, ptrs, sizes);
  a.nvec = r->R / a.vec;
  a.compute = zr_compute_for(e, r->view->dtype);
  a.max_tpr = a.compute == ZMLX_DTYPE_F64 ? 256 : 1024;
  a.onchip = a.nvec <= on_chip_vecs(a.compute);
  return launch_tuned(&a);
}

static zmlx_status launch_rows(zmlx_map_reduce *k, zmlx_array *x, int axis, int n_params,
                               zmlx_array *const *params, int n_scalars, const double *scalars,
                               zmlx_array *out, zr_sources *dry) {
  if (k->twin && zr_map_reduce_rows_fit(x, axis)) k = k->twin;
  zr_rows r;
  ZMLX_TRY(zr_rows_make(op, k->e.name, x, axis, &r));
  zmlx_status s = check_params(k, x, r.R, n_params, params, n_scalars, scalars);
  if (!s && out) s = zr_check_out(op, k->e.name, x, out, x->ndim, x->shape);
  if (!s && out && !zmlx_dtype_is_float(out->dtype)) {
    char b[300];
    s = zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output %s (use a float dtype)",
                  k->e.name, zmlx_array_format(out, b, sizeof b));
  }
  if (s || r.M == 0 || r.R == 0) {
    zr_rows_free(&r);
    return s;
  }
  zmlx_array *target = NULL;
  s = zr_rows_target(&r, out, &target);
  if (!s) s = run(k, &r, params, scalars, target, dry);
  if (!s && !dry) s = zr_rows_finish(&r, out, target);
  zmlx_array_release(target);
  zr_rows_free(&r);
  return s;
}

zmlx_status zmlx_map_reduce_launch_into(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                        int n_params, zmlx_array *const *params,
                                        int n_scalars, const double *scalars, zmlx_array *out) {
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': out is NULL", k->e.name);
  return launch_rows(k, x, axis, n_params, params, n_scalars, scalars, out, NULL);
}

static zmlx_status new_out(const zmlx_map_reduce *k, const zmlx_array *x, zmlx_array **out) {
  ZMLX_TRY(zr_check_input(op, k->e.name, x));
  zmlx_dtype t = k->e.has_out_dtype ? k->e.out_dtype : x->dtype;
  return zmlx_array_empty(t, x->ndim, x->shape, zmlx_array_device(x), out);
}

zmlx_status zmlx_map_reduce_launch(zmlx_map_reduce *k, zmlx_array *x, int axis, int n_params,
                                   zmlx_array *const *params, int n_scalars,
                                   const double *scalars, zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  ZMLX_TRY(new_out(k, x, out));
  zmlx_status s = launch_rows(k, x, axis, n_params, params, n_scalars, scalars, *out, NULL);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zr_map_reduce_cuda_sources(zmlx_map_reduce *k, zmlx_array *x, int axis,
                                       int n_params, zmlx_array *const *params,
                                       zr_sources *srcs) {
  memset(srcs, 0, sizeof *srcs);
  zmlx_array *out = NULL;
  ZMLX_TRY(new_out(k, x, &out));
  double sc[ZK_MAX_IO] = {0};
  zmlx_status s = launch_rows(k, x, axis, n_params, params, k->e.n_scalars, sc, out, srcs);
  zmlx_array_release(out);
  if (s) zr_sources_free(srcs);
  return s;
}
