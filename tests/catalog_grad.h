#ifndef CATALOG_GRAD_H
#define CATALOG_GRAD_H
/* Gradients against central differences, in f64 on the CPU:
 *   - the kernel's backward against differences of the kernel's own
 *     forward (zmlx_gradcheck), for entries that take f64;
 *   - the analytic f64 reference backward against differences of the f64
 *     reference forward, so that comparing kernels with it means
 *     something. */
#include "catalog_harness.h"

/* zmlx_gradcheck differentiates every float input it is given: give it
 * only the ZCAT_GRAD inputs and put the others back around each call. */
typedef struct hc_gc_ctx {
  const zcat_entry *e;
  const zcat_case *c;
  zmlx_array *all[ZCAT_MAX_IN];
  int grad_index[ZCAT_MAX_IN];  /* gradcheck input k is entry input grad_index[k] */
  int n_grad;
} hc_gc_ctx;

static inline void hc_gc_inputs(hc_gc_ctx *g, zmlx_array *const *given, zmlx_array **all) {
  for (int i = 0; i < g->e->n_in; i++) all[i] = g->all[i];
  for (int k = 0; k < g->n_grad; k++) all[g->grad_index[k]] = given[k];
}

static zmlx_status hc_gc_fn(void *ctx, int n, zmlx_array *const *inputs, zmlx_array **out) {
  hc_gc_ctx *g = ctx;
  zmlx_array *all[ZCAT_MAX_IN], *outs[ZCAT_MAX_OUT] = {0};
  hc_gc_inputs(g, inputs, all);
  zcat_dev_call dc = {g->e, all, outs, NULL, NULL, g->c->p, NULL};
  zmlx_status s = g->e->run(&dc);
  *out = outs[0];
  for (int j = 1; j < ZCAT_MAX_OUT; j++) zmlx_array_release(outs[j]);
  return s;
}

/* Output 0 gets g; the other outputs' gradients are zero. */
static zmlx_status hc_gc_vjp(void *ctx, int n, zmlx_array *const *inputs, zmlx_array *grad,
                             zmlx_array **grads) {
  hc_gc_ctx *g = ctx;
  zmlx_array *all[ZCAT_MAX_IN], *dout[ZCAT_MAX_OUT] = {0}, *din[ZCAT_MAX_IN] = {0};
  hc_gc_inputs(g, inputs, all);
  zmlx_status s = ZMLX_STATUS_OK;
  dout[0] = zmlx_array_retain(grad);
  for (int j = 1; j < g->e->n_out && !s; j++) {
    int nd;
    int64_t sh[ZMLX_MAX_DIMS];
    s = zcat_case_shape(g->e, g->c, &g->e->out[j], &nd, sh);
    if (!s) s = zmlx_array_zeros(hc_arg_dtype(&g->e->out[j], ZMLX_DTYPE_F64), nd, sh, ZMLX_CPU, &dout[j]);
  }
  zcat_dev_call dc = {g->e, all, NULL, dout, din, g->c->p, NULL};
  if (!s) s = g->e->run_grad(&dc);
  for (int k = 0; k < g->n_grad; k++) {
    grads[k] = din[g->grad_index[k]];
    din[g->grad_index[k]] = NULL;
  }
  for (int i = 0; i < ZCAT_MAX_IN; i++) zmlx_array_release(din[i]);
  for (int j = 0; j < ZCAT_MAX_OUT; j++) zmlx_array_release(dout[j]);
  return s;
}

static inline void hc_gradcheck(const zcat_entry *e, const zcat_case *c, uint64_t *seed,
                                hc_tally *tally) {
  hc_inputs in;
  char ctx[320];
  hc_ctx(c, ZMLX_DTYPE_F64, ZMLX_CPU, ctx, sizeof ctx);
  if (hc_make_inputs(e, c, ZMLX_DTYPE_F64, ZMLX_CPU, 1, seed, &in)) {
    ZT_FAIL_("%s gradcheck %s: making inputs: %s", e->name, ctx, zmlx_error_last());
    return;
  }
  hc_gc_ctx g = {.e = e, .c = c};
  zmlx_array *given[ZCAT_MAX_IN];
  for (int i = 0; i < e->n_in; i++) {
    g.all[i] = in.dev[i];
    if (e->in[i].flags & ZCAT_GRAD) {
      given[g.n_grad] = in.dev[i];
      g.grad_index[g.n_grad++] = i;
    }
  }
  zmlx_gradcheck_report r;
  zmlx_status s = zmlx_gradcheck(hc_gc_fn, &g, g.n_grad, given, hc_gc_vjp, &g, 0, 0, 0, &r);
  zt_checks_++;
  if (s) ZT_FAIL_("%s gradcheck %s: %s", e->name, ctx, r.message[0] ? r.message : zmlx_error_last());
  tally->gradchecks++;
  hc_inputs_free(&in);
}

/* L = sum over outputs of dout * ref(inputs). */
static inline double hc_ref_loss(const zcat_entry *e, zcat_host_call *hc) {
  for (int j = 0; j < e->n_out; j++) memset(hc->out[j].v, 0, sizeof(double) * (size_t)hc->out[j].n);
  e->ref(hc);
  double L = 0;
  for (int j = 0; j < e->n_out; j++)
    for (int64_t k = 0; k < hc->out[j].n; k++) L += hc->dout[j].v[k] * hc->out[j].v[k];
  return L;
}

static inline void hc_refcheck(const zcat_entry *e, const zcat_case *c, uint64_t *seed,
                               hc_tally *tally) {
  hc_inputs in;
  char ctx[320];
  hc_ctx(c, ZMLX_DTYPE_F64, ZMLX_CPU, ctx, sizeof ctx);
  if (hc_make_inputs(e, c, ZMLX_DTYPE_F64, ZMLX_CPU, 1, seed, &in)) {
    ZT_FAIL_("%s refcheck %s: making inputs: %s", e->name, ctx, zmlx_error_last());
    return;
  }
  zcat_tensor out[ZCAT_MAX_OUT] = {{0}}, dout[ZCAT_MAX_OUT] = {{0}}, din[ZCAT_MAX_IN] = {{0}};
  int ok = !hc_out_tensors(e, c, out) && !hc_out_tensors(e, c, dout);
  for (int j = 0; ok && j < e->n_out; j++)
    for (int64_t k = 0; k < dout[j].n; k++) dout[j].v[k] = zt_uniform(seed);
  for (int i = 0; ok && i < e->n_in; i++)
    if (e->in[i].flags & ZCAT_GRAD) ok = hc_tensor_init(&din[i], in.host[i].ndim, in.host[i].shape);
  zcat_host_call hc = {e, in.host, out, dout, din, c->p};
  if (ok) e->ref_grad(&hc);
  for (int i = 0; ok && i < e->n_in; i++) {
    if (!(e->in[i].flags & ZCAT_GRAD)) continue;
    zcat_tensor num = {0};
    if (!hc_tensor_init(&num, in.host[i].ndim, in.host[i].shape)) break;
    double *x = in.host[i].v;  /* perturbed in place: the reference reads it */
    for (int64_t k = 0; k < num.n; k++) {
      double x0 = x[k], h = 1e-6 * fmax(1.0, fabs(x0));
      x[k] = x0 + h;
      double lp = hc_ref_loss(e, &hc);
      x[k] = x0 - h;
      double lm = hc_ref_loss(e, &hc);
      x[k] = x0;
      num.v[k] = (lp - lm) / (2 * h);
    }
    ztst_cmp cmp;
    ztst_compare(din[i].v, num.v, num.n, 1e-6, 1e-8, &cmp);
    zt_checks_++;
    if (!(cmp.score <= 1)) {
      char idx[96];
      ZT_FAIL_("%s refcheck %s: the reference gradient of %s disagrees with central differences "
               "of the reference: rel err %.3g; at %s analytic %.12g, numerical %.12g",
               e->name, ctx, e->in[i].name, cmp.rel_err,
               ztst_index_format(num.ndim, num.shape, cmp.worst, idx, sizeof idx), cmp.got, cmp.ref);
    }
    hc_tensor_free(&num);
  }
  tally->refchecks++;
  for (int j = 0; j < ZCAT_MAX_OUT; j++) {
    hc_tensor_free(&out[j]);
    hc_tensor_free(&dout[j]);
  }
  for (int i = 0; i < ZCAT_MAX_IN; i++) hc_tensor_free(&din[i]);
  hc_inputs_free(&in);
}

#endif
