#ifndef CATALOG_HARNESS_H
#define CATALOG_HARNESS_H
/* The catalog harness's core: inputs for a case, and the forward and
 * backward checks of one entry at one case, dtype and device against its
 * f64 references. The references see the very values the kernel got
 * (inputs rounded to the dtype, read back). */
#include <float.h>
#include <stdint.h>

#include "catalog/registry.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "testing/testing_internal.h"
#include "zt_array.h"

typedef struct hc_opts {
  const char *pattern;   /* -k */
  unsigned backends;     /* -b: ZCAT_CPU | ZCAT_CUDA */
  int full;              /* --full */
  int has_dtype;         /* --dtype */
  zmlx_dtype dtype;
  const char *case_text; /* --case: only this case (and perf's case) */
  uint64_t seed;
} hc_opts;

/* Counts for one entry on one device. */
typedef struct hc_tally {
  int runs, grads, gradchecks, refchecks, bad;
  double worst;          /* largest score (error / allowed) seen */
} hc_tally;

typedef struct hc_inputs {
  int n;
  zmlx_array *dev[ZCAT_MAX_IN];  /* what the kernel gets (views when asked) */
  zcat_tensor host[ZCAT_MAX_IN];   /* the same values in f64 */
} hc_inputs;

static inline void hc_tensor_free(zcat_tensor *t) {
  free(t->v);
  t->v = NULL;
}

static inline void hc_inputs_free(hc_inputs *in) {
  for (int i = 0; i < in->n; i++) {
    zmlx_array_release(in->dev[i]);
    hc_tensor_free(&in->host[i]);
    in->dev[i] = NULL;
  }
}

static inline int hc_tensor_init(zcat_tensor *t, int ndim, const int64_t *shape) {
  t->ndim = ndim;
  t->n = 1;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    t->n *= shape[d];
  }
  t->v = calloc((size_t)t->n + 1, sizeof *t->v);
  return t->v != NULL;
}

static inline zmlx_dtype hc_arg_dtype(const zcat_arg *a, zmlx_dtype t) {
  return a->flags & (ZCAT_INDEX | ZCAT_FIXED) ? a->dtype : t;
}

static inline const char *hc_shape_str(int nd, const int64_t *s, char *buf, size_t len) {
  return zmlx_shape_format(nd, s, buf, len);
}

/* a as a view with other strides: the transpose of a buffer laid out with
 * the last two axes swapped, or every other element of a 1-D buffer. */
static inline zmlx_status hc_strided(zmlx_array *a, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(a, d);
  zmlx_array *buf = NULL, *view = NULL;
  zmlx_status s;
  if (nd >= 2) {
    int64_t t = sh[nd - 1];
    sh[nd - 1] = sh[nd - 2];
    sh[nd - 2] = t;
    s = zmlx_array_empty(zmlx_array_dtype(a), nd, sh, zmlx_array_device(a), &buf);
    if (!s) s = zmlx_array_transpose(buf, nd - 2, nd - 1, &view);
  } else if (nd == 1) {
    int64_t n2 = 2 * sh[0];
    s = zmlx_array_empty(zmlx_array_dtype(a), 1, &n2, zmlx_array_device(a), &buf);
    if (!s) s = zmlx_array_slice(buf, 0, 0, n2, 2, &view);
  } else {
    *out = zmlx_array_retain(a);
    return ZMLX_STATUS_OK;
  }
  if (!s) s = zmlx_array_copy_into(view, a);
  zmlx_array_release(buf);
  if (s) zmlx_array_release(view);
  *out = s ? NULL : view;
  return s;
}

/* a as a contiguous view that starts one element into a buffer: not
 * aligned for 16-byte vectors. */
static inline zmlx_status hc_misaligned(zmlx_array *a, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  int64_t sh[ZMLX_MAX_DIMS], n1 = zmlx_array_numel(a) + 1;
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(a, d);
  zmlx_array *buf = NULL, *flat = NULL, *view = NULL;
  zmlx_status s = zmlx_array_empty(zmlx_array_dtype(a), 1, &n1, zmlx_array_device(a), &buf);
  if (!s) s = zmlx_array_slice(buf, 0, 1, n1, 1, &flat);
  if (!s) s = zmlx_array_reshape(flat, nd, sh, &view);
  if (!s) s = zmlx_array_copy_into(view, a);
  zmlx_array_release(buf);
  zmlx_array_release(flat);
  if (s) zmlx_array_release(view);
  *out = s ? NULL : view;
  return s;
}

/* A random array of dtype t on dev from host values in f64; *host gets
 * the values after rounding to t. */
/* strided: 0 contiguous, 1 a strided view (hc_strided), 2 misaligned. */
static inline zmlx_status hc_array(const double *vals, int nd, const int64_t *shape, zmlx_dtype t,
                                   zmlx_device dev, int strided, zmlx_array **out,
                                   zcat_tensor *host) {
  zmlx_array *f = NULL, *c = NULL, *d = NULL;
  *out = NULL;
  zmlx_status s = zmlx_array_from_host(vals, ZMLX_DTYPE_F64, nd, shape, ZMLX_CPU, &f);
  if (!s) s = zmlx_array_astype(f, t, &c);
  if (!s && host) {
    double *back = zt_read_f64(c);
    if (!back) s = ZMLX_STATUS_INTERNAL;
    if (back) {
      hc_tensor_init(host, nd, shape);
      free(host->v);
      host->v = back;
    }
  }
  if (!s) s = zmlx_array_to_device(c, dev, &d);
  if (!s && strided == 1) s = hc_strided(d, out);
  else if (!s && strided == 2) s = hc_misaligned(d, out);
  else if (!s) *out = zmlx_array_retain(d);
  zmlx_array_release(f);
  zmlx_array_release(c);
  zmlx_array_release(d);
  return s;
}

/* Uniform values in [lo, hi) (or integers in [0, range) for an index). */
static inline double *hc_values(const zcat_entry *e, const zcat_case *c, const zcat_arg *a, int64_t n,
                                uint64_t *seed) {
  double *v = malloc(((size_t)n + 1) * sizeof *v);
  if (!v) return NULL;
  double lo = a->lo, hi = a->hi;
  if (lo == 0 && hi == 0) lo = -3, hi = 3;
  if (a->flags & ZCAT_INDEX) {
    zcat_arg r = {.name = a->name, .shape = a->range ? a->range : "1"};
    int nd;
    int64_t range[ZMLX_MAX_DIMS] = {1};
    if (zcat_case_shape(e, c, &r, &nd, range) || nd < 1 || range[0] < 1) range[0] = 1;
    lo = 0;
    hi = (double)range[0];
    for (int64_t i = 0; i < n; i++) v[i] = floor(lo + (hi - lo) * (zt_uniform(seed) + 1) / 2);
    return v;
  }
  for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (zt_uniform(seed) + 1) / 2;
  return v;
}

/* Inputs for case c in dtype t on dev. f64_exact: ignore t, make f64 CPU
 * contiguous inputs (for gradient checks). */
static inline zmlx_status hc_make_inputs(const zcat_entry *e, const zcat_case *c, zmlx_dtype t,
                                         zmlx_device dev, int contiguous, uint64_t *seed,
                                         hc_inputs *in) {
  memset(in, 0, sizeof *in);
  in->n = e->n_in;
  for (int i = 0; i < e->n_in; i++) {
    int nd;
    int64_t sh[ZMLX_MAX_DIMS];
    ZMLX_TRY(zcat_case_shape(e, c, &e->in[i], &nd, sh));
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= sh[d];
    double *v = hc_values(e, c, &e->in[i], n, seed);
    if (!v) return ZMLX_STATUS_OUT_OF_MEMORY;
    int strided = contiguous ? 0 : ((c->noncontig >> i) & 1) ? 1 : ((c->misaligned >> i) & 1) ? 2 : 0;
    zmlx_status s = hc_array(v, nd, sh, hc_arg_dtype(&e->in[i], t), dev, strided, &in->dev[i],
                             &in->host[i]);
    free(v);
    if (s) {
      hc_inputs_free(in);
      return s;
    }
  }
  return ZMLX_STATUS_OK;
}

/* Shapes of the outputs in case c. */
static inline zmlx_status hc_out_tensors(const zcat_entry *e, const zcat_case *c, zcat_tensor *out) {
  for (int j = 0; j < e->n_out; j++) {
    int nd;
    int64_t sh[ZMLX_MAX_DIMS];
    ZMLX_TRY(zcat_case_shape(e, c, &e->out[j], &nd, sh));
    if (!hc_tensor_init(&out[j], nd, sh)) return ZMLX_STATUS_OUT_OF_MEMORY;
  }
  return ZMLX_STATUS_OK;
}

/* Shape, dtype and device of a result. */
static inline int hc_check_result(const zcat_entry *e, const char *what, const zmlx_array *a,
                                  const zcat_tensor *want, zmlx_dtype t, zmlx_device dev,
                                  const char *ctx) {
  char b1[200], b2[200];
  if (!a) {
    ZT_FAIL_("%s %s: %s is NULL", e->name, ctx, what);
    return 0;
  }
  int ok = zmlx_array_ndim(a) == want->ndim && zmlx_array_dtype(a) == t;
  for (int d = 0; ok && d < want->ndim; d++) ok = zmlx_array_dim(a, d) == want->shape[d];
  zmlx_device ad = zmlx_array_device(a);
  ok = ok && ad.type == dev.type && ad.index == dev.index;
  zt_checks_++;
  if (!ok)
    ZT_FAIL_("%s %s: %s is %s, want %s %s", e->name, ctx, what, zmlx_array_format(a, b1, sizeof b1),
             hc_shape_str(want->ndim, want->shape, b2, sizeof b2), zmlx_dtype_name(t));
  return ok;
}

/* An entry's ref_size (grad 0) or ref_grad_size (grad 1) for this call,
 * into sizes shaped like `like` (n of them; where like has no values,
 * neither do they). Without the hook, or short of memory, they stay
 * empty and the reference alone sets the tolerance. */
static inline void hc_sizes(const zcat_entry *e, zcat_host_call hc, int grad, int n,
                            const zcat_tensor *like, zcat_tensor *sizes) {
  void (*hook)(const zcat_host_call *) = grad ? e->ref_grad_size : e->ref_size;
  if (!hook) return;
  for (int k = 0; k < n; k++)
    if (like[k].v && !hc_tensor_init(&sizes[k], like[k].ndim, like[k].shape)) return;
  if (grad)
    hc.din = sizes;
  else
    hc.out = sizes;
  hook(&hc);
}

/* got (a device array) against ref, the tolerance relative to size where
 * it has values (hc_sizes); returns the score (<= 1 passes). */
static inline double hc_compare(const zcat_entry *e, const char *what, const zmlx_array *got,
                                const zcat_tensor *ref, const zcat_tensor *size, double tol,
                                const char *ctx) {
  double *g = zt_read_f64(got);
  zt_checks_++;
  if (!g) {
    ZT_FAIL_("%s %s: cannot read %s: %s", e->name, ctx, what, zmlx_error_last());
    return INFINITY;
  }
  /* f16 keeps 2^-24 steps below its smallest normal: a result there can
   * be off by half a step whatever the relative tolerance. */
  zmlx_dtype t = zmlx_array_dtype(got);
  double atol = e->atol + (t == ZMLX_DTYPE_F16 ? 0x1p-25 : 0);
  /* A reference past the dtype's largest value rounds to an infinity (a
   * long f16 sum passes 65504): the kernel's infinity of that sign is
   * the right answer. */
  double big = t == ZMLX_DTYPE_F16    ? 65504
               : t == ZMLX_DTYPE_BF16 ? 0x1.fep127
               : t == ZMLX_DTYPE_F32  ? FLT_MAX
                                      : INFINITY;
  for (int64_t k = 0; k < ref->n; k++)
    if (isinf(g[k]) && fabs(ref->v[k]) > big && (g[k] > 0) == (ref->v[k] > 0)) g[k] = ref->v[k];
  ztst_cmp cmp;
  ztst_compare_sized(g, ref->v, size->v, ref->n, tol, atol, &cmp);
  free(g);
  if (!(cmp.score <= 1)) {
    char idx[96];
    ZT_FAIL_("%s %s: %s differs from the f64 reference: rel err %.3g, max abs err %.3g (tol %.3g); "
             "worst at %s: got %.9g, want %.9g",
             e->name, ctx, what, cmp.rel_err, cmp.max_abs_err, tol,
             ztst_index_format(ref->ndim, ref->shape, cmp.worst, idx, sizeof idx), cmp.got, cmp.ref);
  }
  return cmp.score;
}

static inline const char *hc_ctx(const zcat_case *c, zmlx_dtype t, zmlx_device dev, char *buf,
                                 size_t len) {
  char d[32];
  snprintf(buf, len, "[%s %s \"%s\"]", zmlx_device_format(dev, d, sizeof d), zmlx_dtype_name(t),
           c->text);
  return buf;
}

/* Forward, and backward when the entry has one, at one case. */
static inline void hc_check_case(const zcat_entry *e, const zcat_case *c, zmlx_dtype t,
                                 zmlx_device dev, uint64_t *seed, hc_tally *tally) {
  char ctx[320];
  hc_ctx(c, t, dev, ctx, sizeof ctx);
  hc_inputs in;
  zmlx_status s = hc_make_inputs(e, c, t, dev, 0, seed, &in);
  if (s) {
    ZT_FAIL_("%s %s: making inputs: %s", e->name, ctx, zmlx_error_last());
    return;
  }
  zcat_tensor ref_out[ZCAT_MAX_OUT] = {{0}}, dout[ZCAT_MAX_OUT] = {{0}}, din[ZCAT_MAX_IN] = {{0}};
  zcat_tensor out_size[ZCAT_MAX_OUT] = {{0}}, din_size[ZCAT_MAX_IN] = {{0}};
  zmlx_array *out[ZCAT_MAX_OUT] = {0}, *dev_dout[ZCAT_MAX_OUT] = {0}, *dev_din[ZCAT_MAX_IN] = {0};
  if (hc_out_tensors(e, c, ref_out)) {
    ZT_FAIL_("%s %s: output shapes: %s", e->name, ctx, zmlx_error_last());
    goto done;
  }
  zcat_dev_call dc = {e, in.dev, out, NULL, NULL, c->p, NULL};
  zcat_host_call hc = {e, in.host, ref_out, NULL, NULL, c->p};
  s = e->run(&dc);
  zt_checks_++;
  if (s) {
    ZT_FAIL_("%s %s: forward -> %s: %s", e->name, ctx, zmlx_status_name(s), zmlx_error_last());
    goto done;
  }
  e->ref(&hc);
  hc_sizes(e, hc, 0, e->n_out, ref_out, out_size);
  tally->runs++;
  for (int j = 0; j < e->n_out; j++) {
    zmlx_dtype want = hc_arg_dtype(&e->out[j], t);
    if (!hc_check_result(e, e->out[j].name, out[j], &ref_out[j], want, dev, ctx)) continue;
    double sc = hc_compare(e, e->out[j].name, out[j], &ref_out[j], &out_size[j],
                           zcat_tol(e, t, 0), ctx);
    if (sc > tally->worst) tally->worst = sc;
  }
  if (!zcat_has_backward(e)) goto done;
  /* Backward: random output gradients, rounded to the outputs' dtypes. */
  for (int j = 0; j < e->n_out && !s; j++) {
    double *v = malloc(((size_t)ref_out[j].n + 1) * sizeof *v);
    for (int64_t k = 0; v && k < ref_out[j].n; k++) v[k] = zt_uniform(seed);
    s = v ? hc_array(v, ref_out[j].ndim, ref_out[j].shape, hc_arg_dtype(&e->out[j], t), dev, 0,
                     &dev_dout[j], &dout[j])
          : ZMLX_STATUS_OUT_OF_MEMORY;
    free(v);
  }
  for (int i = 0; i < e->n_in && !s; i++) {
    if (!(e->in[i].flags & ZCAT_GRAD)) continue;
    if (!hc_tensor_init(&din[i], in.host[i].ndim, in.host[i].shape)) s = ZMLX_STATUS_OUT_OF_MEMORY;
  }
  if (s) {
    ZT_FAIL_("%s %s: making output gradients: %s", e->name, ctx, zmlx_error_last());
    goto done;
  }
  dc.dout = dev_dout;
  dc.din = dev_din;
  hc.dout = dout;
  hc.din = din;
  s = e->run_grad(&dc);
  zt_checks_++;
  if (s) {
    ZT_FAIL_("%s %s: backward -> %s: %s", e->name, ctx, zmlx_status_name(s), zmlx_error_last());
    goto done;
  }
  e->ref_grad(&hc);
  hc_sizes(e, hc, 1, e->n_in, din, din_size);
  tally->grads++;
  for (int i = 0; i < e->n_in; i++) {
    if (!(e->in[i].flags & ZCAT_GRAD)) continue;
    char what[64];
    snprintf(what, sizeof what, "gradient of %s", e->in[i].name);
    zmlx_dtype want = hc_arg_dtype(&e->in[i], t);
    if (!hc_check_result(e, what, dev_din[i], &din[i], want, dev, ctx)) continue;
    double sc = hc_compare(e, what, dev_din[i], &din[i], &din_size[i], zcat_tol(e, t, 1), ctx);
    if (sc > tally->worst) tally->worst = sc;
  }
done:
  for (int j = 0; j < ZCAT_MAX_OUT; j++) {
    zmlx_array_release(out[j]);
    zmlx_array_release(dev_dout[j]);
    hc_tensor_free(&ref_out[j]);
    hc_tensor_free(&dout[j]);
    hc_tensor_free(&out_size[j]);
  }
  for (int i = 0; i < ZCAT_MAX_IN; i++) {
    zmlx_array_release(dev_din[i]);
    hc_tensor_free(&din[i]);
    hc_tensor_free(&din_size[i]);
  }
  hc_inputs_free(&in);
}

#endif
