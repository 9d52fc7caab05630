/* Elementwise kernels: validation, broadcasting, path choice, launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/ew_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "core/hash.h"
#include "kernel/kernel_internal.h"
#include "zmlx/tune.h"

static const char *op = "elementwise";

enum { MODE_DENSE = 0, MODE_ROW, MODE_COL, MODE_SCALAR };

struct zmlx_elementwise {
  zmlx_elementwise_desc d;      /* deep copy */
  zmlx_kernel *fast, *general, *tile;
  zmlx_elementwise *backward;   /* built on first use */
  zmlx_elementwise *jvp;        /* built on first use */
  int grad_of[ZK_MAX_IO];       /* backward output j is the gradient of input grad_of[j] */
  pthread_mutex_t lock;
  uint64_t expr_hash;           /* names the kernel in tuning keys */
};

static char **copy_list(int n, const char *const *src, int *ok) {
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) return (*ok = 0), NULL;
  for (int i = 0; i < n; i++)
    if (src && src[i] && !(out[i] = strdup(src[i]))) *ok = 0;
  return out;
}

static void free_list(char **l, int n) {
  for (int i = 0; l && i < n; i++) free(l[i]);
  free(l);
}

static void free_desc(zmlx_elementwise_desc *d) {
  free((char *)d->name);
  free((char *)d->expr);
  free((char *)d->header);
  free_list((char **)d->input_names, d->n_inputs);
  free_list((char **)d->output_names, d->n_outputs);
  free_list((char **)d->scalar_names, d->n_scalars);
  free_list((char **)d->grad_exprs, d->n_inputs);
  free((void *)d->out_dtypes);
}

void zmlx_elementwise_destroy(zmlx_elementwise *k) {
  if (!k) return;
  zmlx_kernel_destroy(k->fast);
  zmlx_kernel_destroy(k->general);
  zmlx_kernel_destroy(k->tile);
  zmlx_elementwise_destroy(k->backward);
  zmlx_elementwise_destroy(k->jvp);
  free_desc(&k->d);
  pthread_mutex_destroy(&k->lock);
  free(k);
}

static zmlx_status check_names(const zmlx_elementwise_desc *d) {
  const char *const *lists[3] = {d->input_names, d->output_names, d->scalar_names};
  int counts[3] = {d->n_inputs, d->n_outputs, d->n_scalars};
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < counts[l]; i++)
      if (lists[l] && lists[l][i] && !strncmp(lists[l][i], "_z", 2))
        return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "'%s': names starting with _z are reserved",
                         lists[l][i]);
  if (d->compute != ZMLX_DTYPE_F32 && d->compute != ZMLX_DTYPE_F64)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "compute dtype %s (use f32 or f64)",
                     zmlx_dtype_name(d->compute));
  if (!d->expr || !d->expr[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' has no expression",
                     d->name ? d->name : "(null)");
  if (d->n_outputs < 1 || d->n_inputs < 0 || d->n_scalars < 0 || d->n_inputs > ZK_MAX_IO - 1 ||
      d->n_outputs > ZK_MAX_IO || d->n_scalars > ZK_MAX_IO - 2)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %d inputs, %d outputs, %d scalars",
                     d->name ? d->name : "(null)", d->n_inputs, d->n_outputs, d->n_scalars);
  return ZMLX_STATUS_OK;
}

/* The two raw kernels. Their names, inputs and outputs are the user's, so
 * the raw layer's checks (identifiers, duplicates, reserved words) apply. */
static zmlx_status make_raw(zmlx_elementwise *k) {
  const zmlx_elementwise_desc *d = &k->d;
  const char *sc[ZK_MAX_IO];
  zmlx_dtype st[ZK_MAX_IO];
  for (int i = 0; i < d->n_scalars; i++) {
    sc[i] = d->scalar_names[i];
    st[i] = d->compute;
  }
  sc[d->n_scalars] = "_zn";
  sc[d->n_scalars + 1] = "_zm";
  st[d->n_scalars] = st[d->n_scalars + 1] = ZMLX_DTYPE_I64;
  char *fast_body = zk_ew_fast_body(d), *fast_header = zk_ew_fast_header(d);
  char *gen_body = zk_ew_general_body(d), *tile_body = zk_ew_tile_body(d);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!fast_body || !fast_header || !gen_body || !tile_body)
    s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_kernel_desc raw = {.name = d->name, .n_inputs = d->n_inputs, .input_names = d->input_names,
                          .n_outputs = d->n_outputs, .output_names = d->output_names,
                          .n_scalars = d->n_scalars + 2, .scalar_names = sc, .scalar_dtypes = st,
                          .source = fast_body, .header = fast_header};
  if (!s) s = zmlx_kernel_create(&raw, &k->fast);
  raw.n_scalars = d->n_scalars;
  raw.source = gen_body;
  raw.header = d->header;
  if (!s) s = zmlx_kernel_create(&raw, &k->general);
  raw.source = tile_body;
  if (!s) s = zmlx_kernel_create(&raw, &k->tile);
  free(tile_body);
  free(fast_body);
  free(fast_header);
  free(gen_body);
  return s;
}

zmlx_status zmlx_elementwise_create(const zmlx_elementwise_desc *desc, zmlx_elementwise **out) {
  if (!desc || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = NULL;
  ZMLX_TRY(check_names(desc));
  zmlx_elementwise *k = calloc(1, sizeof *k);
  if (!k) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  pthread_mutex_init(&k->lock, NULL);
  int ok = 1;
  zmlx_elementwise_desc *d = &k->d;
  *d = *desc;
  d->name = desc->name ? strdup(desc->name) : NULL;
  d->expr = strdup(desc->expr);
  d->header = desc->header ? strdup(desc->header) : NULL;
  d->input_names = (const char *const *)copy_list(desc->n_inputs, desc->input_names, &ok);
  d->output_names = (const char *const *)copy_list(desc->n_outputs, desc->output_names, &ok);
  d->scalar_names = (const char *const *)copy_list(desc->n_scalars, desc->scalar_names, &ok);
  d->grad_exprs = desc->grad_exprs
                      ? (const char *const *)copy_list(desc->n_inputs, desc->grad_exprs, &ok)
                      : NULL;
  if (desc->out_dtypes) {
    zmlx_dtype *t = malloc(sizeof *t * (size_t)desc->n_outputs);
    if (t) memcpy(t, desc->out_dtypes, sizeof *t * (size_t)desc->n_outputs);
    d->out_dtypes = t;
    ok = ok && t;
  }
  zmlx_status s = ok && d->expr ? ZMLX_STATUS_OK
                                : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  if (!s) s = make_raw(k);
  if (!s) k->expr_hash = zmlx_hash64(d->expr, strlen(d->expr), (uint64_t)d->n_inputs);
  if (s) {
    zmlx_elementwise_destroy(k);
    return s;
  }
  *out = k;
  return ZMLX_STATUS_OK;
}

/* ---- shapes ----------------------------------------------------------- */

static zmlx_status broadcast_shape(const zmlx_elementwise *k, int n, zmlx_array *const *in,
                                   int *ndim, int64_t *shape) {
  *ndim = 0;
  for (int i = 0; i < n; i++)
    if (in[i]->ndim > *ndim) *ndim = in[i]->ndim;
  for (int d = 0; d < *ndim; d++) shape[d] = 1;
  for (int i = 0; i < n; i++) {
    int lead = *ndim - in[i]->ndim;
    for (int d = 0; d < in[i]->ndim; d++) {
      int64_t a = in[i]->shape[d], *b = &shape[lead + d];
      if (a == *b || a == 1) continue;
      if (*b == 1) {
        *b = a;
        continue;
      }
      char b1[300], b2[300];
      return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                       "kernel '%s': input '%s' %s cannot broadcast with shape %s", k->d.name,
                       k->d.input_names[i], zmlx_array_format(in[i], b1, sizeof b1),
                       zmlx_shape_format(*ndim, shape, b2, sizeof b2));
    }
  }
  return ZMLX_STATUS_OK;
}

/* How an input (already broadcast to the output's shape) is indexed on the
 * fast path; -1 when it needs the general path. *m is the inner size. */
static int classify(const zmlx_array *a, int ndim, const int64_t *shape, int64_t *m) {
  int64_t cs[ZMLX_MAX_DIMS];
  zmlx_strides_contiguous(ndim, shape, cs);
  int dense = 1, zero = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    dense &= a->strides[d] == cs[d];
    zero &= a->strides[d] == 0;
  }
  if (dense) return MODE_DENSE;
  if (zero) return MODE_SCALAR;
  /* Split point k: row = broadcast outer dims, dense inner; col = dense
   * outer dims (relative to the outer block), broadcast inner. */
  for (int k = 1; k < ndim; k++) {
    int64_t inner = 1;
    for (int d = k; d < ndim; d++) inner *= shape[d];
    int row = 1, col = 1;
    for (int d = 0; d < ndim; d++) {
      if (shape[d] == 1) continue;
      if (d < k) {
        row &= a->strides[d] == 0;
        col &= a->strides[d] == cs[d] / inner;
      } else {
        row &= a->strides[d] == cs[d];
        col &= a->strides[d] == 0;
      }
    }
    if (row || col) {
      if (*m && *m != inner) return -1;
      *m = inner;
      return row ? MODE_ROW : MODE_COL;
    }
  }
  return -1;
}

/* Merge neighbouring dimensions that every array walks contiguously. */
static int collapse(int ndim, int64_t *shape, int n, int64_t (*strides)[ZMLX_MAX_DIMS]) {
  if (ndim == 0) {
    shape[0] = 1;
    for (int a = 0; a < n; a++) strides[a][0] = 0;
    return 1;
  }
  int out = 0;
  for (int d = 0; d < ndim; d++) {
    if (out > 0) {
      int ok = 1;
      for (int a = 0; a < n && ok; a++) ok = strides[a][out - 1] == strides[a][d] * shape[d];
      if (ok) {
        shape[out - 1] *= shape[d];
        for (int a = 0; a < n; a++) strides[a][out - 1] = strides[a][d];
        continue;
      }
    }
    shape[out] = shape[d];
    for (int a = 0; a < n; a++) strides[a][out] = strides[a][d];
    out++;
  }
  return out;
}

static int vec_width(const zmlx_elementwise *k, zmlx_array *const *in, zmlx_array *const *out,
                     int64_t m, const int *modes) {
  size_t widest = 1;
  for (int i = 0; i < k->d.n_inputs; i++) {
    size_t s = zmlx_dtype_size(in[i]->dtype);
    if (s > widest) widest = s;
  }
  for (int i = 0; i < k->d.n_outputs; i++) {
    size_t s = zmlx_dtype_size(out[i]->dtype);
    if (s > widest) widest = s;
  }
  int vec = (int)(16 / widest);
  /* Every vector access must be aligned, and row/col blocks must hold
   * whole vectors. */
  for (; vec > 1; vec /= 2) {
    int ok = m == 0 || m % vec == 0;
    for (int i = 0; i < k->d.n_inputs && ok; i++)
      ok = modes[i] >= MODE_COL ||
           (uintptr_t)zmlx_array_data(in[i]) % (vec * zmlx_dtype_size(in[i]->dtype)) == 0;
    for (int i = 0; i < k->d.n_outputs && ok; i++)
      ok = (uintptr_t)zmlx_array_data(out[i]) % (vec * zmlx_dtype_size(out[i]->dtype)) == 0;
    if (ok) break;
  }
  return vec;
}

/* ---- launch -------------------------------------------------------------- */

typedef struct fast_args {
  zmlx_elementwise *k;
  zmlx_array **in;
  zmlx_array *const *out;
  const int *modes;
  int64_t m, n;
  const double *scalars;
  int vec;
} fast_args;

/* One launch of the fast path with a given block size and vectors per
 * thread (the tuner's run callback, and the real launch). */
static zmlx_status launch_fast(void *ctx, const zmlx_tune_config *c) {
  const fast_args *a = ctx;
  zmlx_elementwise *k = a->k;
  char names[ZK_MAX_IO][80];
  zmlx_template_arg t[ZK_MAX_IO + 2];
  int nt = 0, items = c->items > 0 ? c->items : 1, block = c->block > 0 ? c->block : 256;
  zmlx_device dev = zmlx_array_device(a->out[0]);
  t[nt++] = (zmlx_template_arg){"VEC", ZMLX_TEMPLATE_INT, a->vec};
  t[nt++] = (zmlx_template_arg){"ITEMS", ZMLX_TEMPLATE_INT, items};
  for (int i = 0; i < k->d.n_inputs && nt < ZK_MAX_TEMPLATES; i++) {
    snprintf(names[i], sizeof names[i], "MODE_%s", k->d.input_names[i]);
    t[nt++] = (zmlx_template_arg){names[i], ZMLX_TEMPLATE_INT, a->modes[i]};
  }
  double sc[ZK_MAX_IO + 2];
  for (int i = 0; i < k->d.n_scalars; i++) sc[i] = a->scalars[i];
  sc[k->d.n_scalars] = (double)a->n;
  sc[k->d.n_scalars + 1] = (double)(a->m ? a->m : 1);
  /* Points: one per ITEMS vectors, the partial tail vector included; on
   * CUDA whole blocks, since a block's vectors interleave. */
  int64_t nvec = a->n / a->vec + 1, points = (nvec + items - 1) / items;
  if (dev.type == ZMLX_DEVICE_CUDA)
    points = (nvec + (int64_t)items * block - 1) / ((int64_t)items * block) * block;
  zmlx_launch_config cfg = {.grid = {points, 1, 1}, .block = {block, 1, 1}, .n_templates = nt,
                            .templates = t, .n_scalars = k->d.n_scalars + 2, .scalars = sc};
  return zk_launch(k->fast, k->d.n_inputs, a->in, &cfg, (zmlx_array **)a->out,
                   ZK_OUTPUTS_GIVEN | ZK_INPUTS_AS_IS);
}

static zmlx_tune_space ew_space;
static void ew_space_init(void) {
  static const int blocks[] = {128, 256, 512, 1024}, items[] = {1, 2, 4}, vecs[] = {16};
  zmlx_tune_space_product(blocks, 4, items, 3, vecs, 1, NULL, 0, NULL, NULL, &ew_space);
}

/* An output that shares storage with an input would be updated once per
 * timed run: such launches only read the tuning table. */
static int aliased(const zmlx_elementwise *k, zmlx_array **in, zmlx_array *const *out) {
  for (int i = 0; i < k->d.n_inputs; i++)
    for (int j = 0; j < k->d.n_outputs; j++)
      if (in[i]->storage == out[j]->storage) return 1;
  return 0;
}

/* The launch shape comes from the tuner: a stored result for this kernel,
 * device, dtype and size bucket, a search when $ZMLX_TUNE=1, or the
 * device's default profile. The CPU has nothing to tune. */
static zmlx_status run_fast(zmlx_elementwise *k, zmlx_array **in, zmlx_array *const *out,
                            const int *modes, int64_t m, int64_t n, const double *scalars) {
  fast_args a = {k, in, out, modes, m, n, scalars, vec_width(k, in, out, m, modes)};
  zmlx_device dev = zmlx_array_device(out[0]);
  zmlx_tune_config c = {256, 1, 16, 0};
  if (dev.type != ZMLX_DEVICE_CUDA) return launch_fast(&a, &c);
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, ew_space_init);
  /* Everything the fast kernel's speed depends on besides size and dtype. */
  char id[96];
  size_t len = (size_t)snprintf(id, sizeof id, "ew:%s:%016llx:v%d:", k->d.name,
                                (unsigned long long)k->expr_hash, a.vec);
  for (int i = 0; i < k->d.n_inputs && len + 3 < sizeof id; i++)
    len += (size_t)snprintf(id + len, sizeof id - len, "%d%s", modes[i],
                            zmlx_dtype_name(in[i]->dtype));
  zmlx_tune_key key;
  ZMLX_TRY(zmlx_tune_key_make(id, dev, 1, &n, out[0]->dtype, &key));
  zmlx_tune_options o = {.name = k->d.name, .mode = aliased(k, in, out) ? ZMLX_TUNE_TABLE : ZMLX_TUNE_ENV};
  zmlx_tune_result r;
  ZMLX_TRY(zmlx_tune_pick(dev, &key, &ew_space, launch_fast, &a, &o, &r));
  return launch_fast(&a, &r.config);
}

/* A column-major input on a 2-D CUDA problem: tile through shared memory. */
static int transposed(const zmlx_array *a) {
  return a->strides[0] == 1 && a->strides[1] != 1 && a->shape[0] > 1 && a->shape[1] > 1;
}

static int use_tile(const zmlx_elementwise *k, zmlx_array *const *views, int ndim) {
  if (ndim != 2 || zmlx_array_device(views[0]).type != ZMLX_DEVICE_CUDA) return 0;
  if ((views[k->d.n_inputs]->shape[0] + 31) / 32 > 65535) return 0; /* grid y blocks */
  for (int i = 0; i < k->d.n_inputs; i++)
    if (transposed(views[i])) return 1;
  return 0;
}

static zmlx_status run_tile(zmlx_elementwise *k, zmlx_array *const *views, const double *scalars) {
  char names[ZK_MAX_IO][80];
  zmlx_template_arg t[ZK_MAX_TEMPLATES];
  int nt = 0;
  for (int i = 0; i < k->d.n_inputs && nt < ZK_MAX_TEMPLATES; i++) {
    snprintf(names[i], sizeof names[i], "TMODE_%s", k->d.input_names[i]);
    t[nt++] = (zmlx_template_arg){names[i], ZMLX_TEMPLATE_INT, transposed(views[i])};
  }
  const zmlx_array *o = views[k->d.n_inputs];
  /* Exact multiples of the (32, 8) block: every thread reaches the barrier. */
  zmlx_launch_config cfg = {.grid = {(o->shape[1] + 31) / 32 * 32, (o->shape[0] + 31) / 32 * 8, 1},
                            .block = {32, 8, 1}, .n_templates = nt, .templates = t,
                            .n_scalars = k->d.n_scalars, .scalars = scalars};
  return zk_launch(k->tile, k->d.n_inputs, views, &cfg, (zmlx_array **)views + k->d.n_inputs,
                   ZK_OUTPUTS_GIVEN);
}

static zmlx_status run_general(zmlx_elementwise *k, zmlx_array *const *in_b,
                               zmlx_array *const *out, int ndim, const int64_t *shape,
                               int64_t n, const double *scalars) {
  /* Views with dimensions merged where every array allows it. */
  int na = k->d.n_inputs + k->d.n_outputs;
  int64_t cshape[ZMLX_MAX_DIMS], strides[2 * ZK_MAX_IO][ZMLX_MAX_DIMS];
  memcpy(cshape, shape, sizeof(int64_t) * (size_t)ndim);
  for (int a = 0; a < na; a++) {
    const zmlx_array *x = a < k->d.n_inputs ? in_b[a] : out[a - k->d.n_inputs];
    memcpy(strides[a], x->strides, sizeof(int64_t) * (size_t)ndim);
  }
  int cnd = collapse(ndim, cshape, na, strides);
  zmlx_array *views[2 * ZK_MAX_IO] = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  int out_contig = 1;
  for (int a = 0; a < na && !s; a++) {
    const zmlx_array *x = a < k->d.n_inputs ? in_b[a] : out[a - k->d.n_inputs];
    s = zmlx_array_wrap(x->storage, x->dtype, cnd, cshape, strides[a], x->offset, &views[a]);
    if (!s && a >= k->d.n_inputs) out_contig &= zmlx_array_is_contiguous(views[a]);
  }
  if (!s && use_tile(k, views, cnd)) {
    s = run_tile(k, views, scalars);
  } else if (!s) {
    zmlx_template_arg t[2] = {{"NDIM", ZMLX_TEMPLATE_INT, cnd},
                              {"OUT_CONTIG", ZMLX_TEMPLATE_BOOL, out_contig}};
    zmlx_launch_config cfg = {.grid = {n, 1, 1}, .n_templates = 2, .templates = t,
                              .n_scalars = k->d.n_scalars, .scalars = scalars};
    s = zk_launch(k->general, k->d.n_inputs, views, &cfg, views + k->d.n_inputs, ZK_OUTPUTS_GIVEN);
  }
  for (int a = 0; a < na; a++) zmlx_array_release(views[a]);
  return s;
}

static zmlx_status check_launch(const zmlx_elementwise *k, int n_inputs, zmlx_array *const *inputs,
                                int n_scalars, const double *scalars) {
  if (n_inputs != k->d.n_inputs)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' takes %d input%s, got %d",
                     k->d.name, k->d.n_inputs, k->d.n_inputs == 1 ? "" : "s", n_inputs);
  if (n_scalars != k->d.n_scalars || (n_scalars && !scalars))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' takes %d scalar%s, got %d",
                     k->d.name, k->d.n_scalars, k->d.n_scalars == 1 ? "" : "s", n_scalars);
  for (int i = 0; i < n_inputs; i++)
    if (!inputs || !inputs[i])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': input '%s' is NULL",
                       k->d.name, k->d.input_names[i]);
  return ZMLX_STATUS_OK;
}

static zmlx_status launch_into(zmlx_elementwise *k, zmlx_array *const *inputs,
                               const double *scalars, zmlx_array *const *outputs, int ndim,
                               const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n == 0) return ZMLX_STATUS_OK;
  zmlx_array *b[ZK_MAX_IO] = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  int modes[ZK_MAX_IO], fast = 1;
  int64_t m = 0;
  for (int i = 0; i < k->d.n_inputs && !s; i++) {
    s = zmlx_array_broadcast_to(inputs[i], ndim, shape, &b[i]);
    if (!s) fast &= (modes[i] = classify(b[i], ndim, shape, &m)) >= 0;
  }
  for (int i = 0; i < k->d.n_outputs && !s; i++) {
    int64_t none = 0;
    fast &= classify(outputs[i], ndim, shape, &none) == MODE_DENSE;
  }
  if (!s)
    s = fast ? run_fast(k, b, outputs, modes, m, n, scalars)
             : run_general(k, b, outputs, ndim, shape, n, scalars);
  for (int i = 0; i < k->d.n_inputs; i++) zmlx_array_release(b[i]);
  return s;
}

zmlx_status zmlx_elementwise_launch_into(zmlx_elementwise *k, int n_inputs,
                                         zmlx_array *const *inputs, int n_scalars,
                                         const double *scalars, zmlx_array *const *outputs) {
  if (!k || !outputs) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(check_launch(k, n_inputs, inputs, n_scalars, scalars));
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  ZMLX_TRY(broadcast_shape(k, n_inputs, inputs, &ndim, shape));
  for (int i = 0; i < k->d.n_outputs; i++) {
    int same = outputs[i] && outputs[i]->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = outputs[i]->shape[d] == shape[d];
    if (!same) {
      char b1[300], b2[300];
      return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "kernel '%s': output '%s' is %s, needs %s",
                       k->d.name, k->d.output_names[i],
                       outputs[i] ? zmlx_array_format(outputs[i], b1, sizeof b1) : "NULL",
                       zmlx_shape_format(ndim, shape, b2, sizeof b2));
    }
  }
  return launch_into(k, inputs, scalars, outputs, ndim, shape);
}

zmlx_status zmlx_elementwise_launch(zmlx_elementwise *k, int n_inputs, zmlx_array *const *inputs,
                                    int n_scalars, const double *scalars, zmlx_array **outputs) {
  if (!k || !outputs) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  ZMLX_TRY(check_launch(k, n_inputs, inputs, n_scalars, scalars));
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  ZMLX_TRY(broadcast_shape(k, n_inputs, inputs, &ndim, shape));
  zmlx_device dev = n_inputs ? zmlx_array_device(inputs[0]) : zmlx_device_default();
  for (int i = 1; i < n_inputs; i++) {
    zmlx_device di = zmlx_array_device(inputs[i]);
    if (di.type != dev.type || di.index != dev.index) {
      char b1[300], b2[300];
      return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "kernel '%s': inputs %s and %s", k->d.name,
                       zmlx_array_format(inputs[0], b1, sizeof b1),
                       zmlx_array_format(inputs[i], b2, sizeof b2));
    }
  }
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < k->d.n_outputs; i++) outputs[i] = NULL;
  for (int i = 0; i < k->d.n_outputs && !s; i++) {
    zmlx_dtype t = k->d.out_dtypes ? k->d.out_dtypes[i] : n_inputs ? inputs[0]->dtype : k->d.compute;
    s = zmlx_array_empty(t, ndim, shape, dev, &outputs[i]);
  }
  if (!s) s = launch_into(k, inputs, scalars, outputs, ndim, shape);
  if (s)
    for (int i = 0; i < k->d.n_outputs; i++) {
      zmlx_array_release(outputs[i]);
      outputs[i] = NULL;
    }
  return s;
}

zmlx_status zmlx_elementwise_stats_get(const zmlx_elementwise *k, zmlx_kernel_stats *out) {
  if (!k || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "elementwise_stats", "NULL argument");
  zmlx_kernel_stats a, b;
  ZMLX_TRY(zmlx_kernel_stats_get(k->fast, &a));
  ZMLX_TRY(zmlx_kernel_stats_get(k->general, &b));
  out->n_variants = a.n_variants + b.n_variants;
  out->n_compiles = a.n_compiles + b.n_compiles;
  out->compile_ms = a.compile_ms + b.compile_ms;
  out->n_memory_hits = a.n_memory_hits + b.n_memory_hits;
  out->n_disk_hits = a.n_disk_hits + b.n_disk_hits;
  out->n_launches = a.n_launches + b.n_launches;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_elementwise_backward(zmlx_elementwise *k, int n_inputs, zmlx_array *const *inputs,
                                      int n_scalars, const double *scalars, zmlx_array *g,
                                      zmlx_array **grads) {
  if (!k || !grads) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "elementwise_backward", "NULL argument");
  ZMLX_TRY(check_launch(k, n_inputs, inputs, n_scalars, scalars));
  pthread_mutex_lock(&k->lock);
  zmlx_status s = zk_ew_backward(&k->d, &k->backward, k->grad_of, n_inputs, inputs, n_scalars,
                                 scalars, g, grads);
  pthread_mutex_unlock(&k->lock);
  return s;
}

zmlx_status zmlx_elementwise_jvp(zmlx_elementwise *k, int n_inputs, zmlx_array *const *inputs,
                                 zmlx_array *const *tangents, int n_scalars, const double *scalars,
                                 zmlx_array **out, zmlx_array **out_tangent) {
  if (!k || !out || !out_tangent)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "elementwise_jvp", "NULL argument");
  ZMLX_TRY(check_launch(k, n_inputs, inputs, n_scalars, scalars));
  pthread_mutex_lock(&k->lock);
  zmlx_status s = k->jvp ? ZMLX_STATUS_OK : zk_ew_jvp_build(&k->d, &k->jvp);
  pthread_mutex_unlock(&k->lock);
  ZMLX_TRY(s);
  return zk_ew_jvp_run(k->jvp, n_inputs, inputs, tangents, n_scalars, scalars, out, out_tangent);
}

void zk_ew_raw_kernels(zmlx_elementwise *k, zmlx_kernel **fast, zmlx_kernel **general,
                       zmlx_kernel **tile) {
  *fast = k->fast;
  *general = k->general;
  *tile = k->tile;
}
