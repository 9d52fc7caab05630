/* Scans along one axis: checks, the vector width, the chunk shape, launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

static const char *op = "scan";

struct zmlx_scan {
  zr_expr e;
  zmlx_kernel *k;
};

void zmlx_scan_destroy(zmlx_scan *k) {
  if (!k) return;
  zmlx_kernel_destroy(k->k);
  zr_expr_free(&k->e);
  free(k);
}

zmlx_status zmlx_scan_create(const zmlx_scan_desc *desc, zmlx_scan **out) {
  if (!desc || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = NULL;
  if (desc->out_dtype && !zmlx_dtype_is_float(*desc->out_dtype))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output dtype %s (use a float)",
                     desc->name ? desc->name : "(null)", zmlx_dtype_name(*desc->out_dtype));
  zr_expr src = {.name = (char *)desc->name, .header = (char *)desc->header,
                 .acc_type = (char *)desc->acc_type, .init = (char *)desc->init,
                 .update = (char *)desc->update, .combine = (char *)desc->combine,
                 .finalize = (char *)desc->finalize, .has_out_dtype = desc->out_dtype != NULL,
                 .out_dtype = desc->out_dtype ? *desc->out_dtype : ZMLX_DTYPE_F32,
                 .compute = desc->compute};
  zmlx_scan *k = calloc(1, sizeof *k);
  if (!k) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_status s = zr_expr_copy(op, &src, &k->e);
  if (!s) {
    static const char *ins[] = {"x"}, *scs[] = {"_zM", "_zR", "_zNK", "_zTPR", "_zNV"};
    static const zmlx_dtype st[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                    ZMLX_DTYPE_I64};
    char *h = zr_scan_header(&k->e), *b = zr_scan_body();
    s = zr_make_kernel(op, k->e.name, "scan", 1, ins, 5, scs, st, b, h, &k->k);
    free(h);
    free(b);
  }
  if (s) {
    zmlx_scan_destroy(k);
    return s;
  }
  *out = k;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_scan_stats_get(const zmlx_scan *k, zmlx_kernel_stats *out) {
  if (!k || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "scan_stats", "NULL argument");
  return zr_stats_sum(1, &k->k, out);
}

static zmlx_status run(zmlx_scan *k, const zr_rows *r, int exclusive, zmlx_array *target,
                       zr_sources *dry) {
  const zr_tuning *tu = zr_tune();
  int cuda = dry || zmlx_array_device(r->view).type == ZMLX_DEVICE_CUDA;
  int64_t mults[ZMLX_MAX_DIMS + 1];
  int nm = 0;
  mults[nm++] = r->R;
  for (int i = 0; i < r->kept.n; i++) mults[nm++] = r->kept.stride[i];
  void *ptrs[2] = {zmlx_array_data(r->view), zmlx_array_data(target)};
  size_t sizes[2] = {zmlx_dtype_size(r->view->dtype), zmlx_dtype_size(target->dtype)};
  int vec = zr_vec_for(sizes[0], nm, mults, 2, ptrs, sizes);
  int64_t nvec = r->R / vec;
  /* The same bytes per lane whatever the vector width. */
  int nv = tu->scan_nv * (int)(16 / sizes[0] / (size_t)vec);
  if (nv < 1) nv = 1;
  int tpr = zr_pow2_clamp((nvec + nv - 1) / nv, 1, tu->scan_max_tpr);
  int rpb = tpr >= 128 ? 1 : 128 / tpr;
  zmlx_dtype compute = zr_compute_for(&k->e, r->view->dtype);
  zmlx_template_arg t[12];
  int nt = 0;
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, vec};
  t[nt++] = (zmlx_template_arg){"EXCL", ZMLX_TEMPLATE_BOOL, exclusive != 0};
  t[nt++] = (zmlx_template_arg){"COMPUTE_F64", ZMLX_TEMPLATE_BOOL, compute == ZMLX_DTYPE_F64};
  t[nt++] = (zmlx_template_arg){"ACC_SLOT", ZMLX_TEMPLATE_INT, 64};
  t[nt++] = (zmlx_template_arg){"compute_t", ZMLX_TEMPLATE_DTYPE, compute};
  if (cuda) {
    t[nt++] = (zmlx_template_arg){"NK", ZMLX_TEMPLATE_INT, r->kept.n};
    t[nt++] = (zmlx_template_arg){"TPR", ZMLX_TEMPLATE_INT, tpr};
    t[nt++] = (zmlx_template_arg){"RPB", ZMLX_TEMPLATE_INT, rpb};
    t[nt++] = (zmlx_template_arg){"NV", ZMLX_TEMPLATE_INT, nv};
  }
  double sc[5] = {(double)r->M, (double)r->R, r->kept.n, tpr, nv};
  int64_t grid = cuda ? (r->M + rpb - 1) / rpb * tpr * rpb : r->M;
  zmlx_launch_config cfg = {.grid = {grid, 1, 1}, .block = {tpr * rpb, 1, 1}, .n_templates = nt,
                            .templates = t, .n_scalars = 5, .scalars = sc};
  if (dry) return zr_sources_add(dry, k->k, 1, &r->view, &cfg, target);
  return zk_launch(k->k, 1, &r->view, &cfg, &target, ZK_OUTPUTS_GIVEN);
}

static zmlx_status launch_rows(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                               zmlx_array *out, zr_sources *dry) {
  zr_rows r;
  ZMLX_TRY(zr_rows_make(op, k->e.name, x, axis, &r));
  zmlx_status s = zr_check_out(op, k->e.name, x, out, x->ndim, x->shape);
  if (!s && !zmlx_dtype_is_float(out->dtype)) {
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
  if (!s) s = run(k, &r, exclusive, target, dry);
  if (!s && !dry) s = zr_rows_finish(&r, out, target);
  zmlx_array_release(target);
  zr_rows_free(&r);
  return s;
}

zmlx_status zmlx_scan_launch_into(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                                  zmlx_array *out) {
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  return launch_rows(k, x, axis, exclusive, out, NULL);
}

static zmlx_status new_out(const zmlx_scan *k, const zmlx_array *x, zmlx_array **out) {
  ZMLX_TRY(zr_check_input(op, k->e.name, x));
  zmlx_dtype t = k->e.has_out_dtype ? k->e.out_dtype : x->dtype;
  return zmlx_array_empty(t, x->ndim, x->shape, zmlx_array_device(x), out);
}

zmlx_status zmlx_scan_launch(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                             zmlx_array **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  *out = NULL;
  if (!k) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel is NULL");
  ZMLX_TRY(new_out(k, x, out));
  zmlx_status s = launch_rows(k, x, axis, exclusive, *out, NULL);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

zmlx_status zr_scan_cuda_sources(zmlx_scan *k, zmlx_array *x, int axis, int exclusive,
                                 zr_sources *srcs) {
  memset(srcs, 0, sizeof *srcs);
  zmlx_array *out = NULL;
  ZMLX_TRY(new_out(k, x, &out));
  zmlx_status s = launch_rows(k, x, axis, exclusive, out, srcs);
  zmlx_array_release(out);
  if (s) zr_sources_free(srcs);
  return s;
}
