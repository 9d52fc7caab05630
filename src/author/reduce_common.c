/* What reduce, map_reduce and scan share: copying and checking the
 * accumulation, tuning knobs, input/axis/output checks, the walk of
 * dimensions, and the first part of every generated header. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

/* ---- the accumulation ------------------------------------------------- */

static char *dup_or_null(const char *s, int *ok) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *ok = 0;
  return d;
}

static char **dup_list(int n, const char *const *src, int *ok) {
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) return (*ok = 0), NULL;
  for (int i = 0; i < n; i++) out[i] = dup_or_null(src[i], ok);
  return out;
}

static void free_list(char **l, int n) {
  for (int i = 0; l && i < n; i++) free(l[i]);
  free(l);
}

void zr_expr_free(zr_expr *e) {
  if (!e) return;
  free(e->name);
  free(e->header);
  free(e->acc_type);
  free(e->init);
  free(e->update);
  free(e->combine);
  free(e->finalize);
  free(e->write);
  free_list(e->param_names, e->n_params);
  free_list(e->scalar_names, e->n_scalars);
  memset(e, 0, sizeof *e);
}

/* Names the generated code uses for its own variables. */
static int reserved_name(const char *s) {
  static const char *words[] = {"x", "out", "acc", "other", "idx", "n", "compute_t", "acc_t"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcmp(s, words[i])) return 1;
  return !strncmp(s, "_z", 2) || !strncmp(s, "zr_", 3);
}

static zmlx_status check_names(const char *op, const char *kname, const char *what, int n,
                               const char *const *names) {
  if (n < 0 || n > ZK_MAX_IO - 4 || (n && !names))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %d %ss (0 to %d, with names)",
                     kname, n, what, ZK_MAX_IO - 4);
  for (int i = 0; i < n; i++) {
    if (!zk_is_identifier(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %s name '%s' is not a C identifier",
                       kname, what, names[i] ? names[i] : "(null)");
    if (reserved_name(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "kernel '%s': %s name '%s' is reserved (x, out, acc, other, idx, n, _z*, zr_*)",
                       kname, what, names[i]);
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status check_expr(const char *op, const zr_expr *s) {
  if (!zk_is_identifier(s->name))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel name '%s' is not a C identifier",
                     s->name ? s->name : "(null)");
  const char *need[3] = {s->init, s->update, s->combine};
  const char *what[3] = {"init", "update", "combine"};
  for (int i = 0; i < 3; i++)
    if (!need[i] || !need[i][0])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' has no %s statement", s->name,
                       what[i]);
  if (s->compute != ZMLX_DTYPE_F32 && s->compute != ZMLX_DTYPE_F64)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': compute dtype %s (use f32 or f64)",
                     s->name, zmlx_dtype_name(s->compute));
  if (s->has_out_dtype && !zk_ctype(s->out_dtype))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output dtype %d", s->name,
                     (int)s->out_dtype);
  if (s->acc_type && !s->acc_type[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': empty acc_type", s->name);
  ZMLX_TRY(check_names(op, s->name, "param", s->n_params, (const char *const *)s->param_names));
  ZMLX_TRY(check_names(op, s->name, "scalar", s->n_scalars, (const char *const *)s->scalar_names));
  for (int i = 0; i < s->n_params; i++)
    for (int j = 0; j < s->n_scalars; j++)
      if (!strcmp(s->param_names[i], s->scalar_names[j]))
        return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': name '%s' used twice", s->name,
                         s->param_names[i]);
  return ZMLX_STATUS_OK;
}

zmlx_status zr_expr_copy(const char *op, const zr_expr *s, zr_expr *d) {
  memset(d, 0, sizeof *d);
  ZMLX_TRY(check_expr(op, s));
  int ok = 1;
  d->name = dup_or_null(s->name, &ok);
  d->header = dup_or_null(s->header ? s->header : "", &ok);
  d->acc_type = dup_or_null(s->acc_type ? s->acc_type : "compute_t", &ok);
  d->init = dup_or_null(s->init, &ok);
  d->update = dup_or_null(s->update, &ok);
  d->combine = dup_or_null(s->combine, &ok);
  d->finalize = dup_or_null(s->finalize, &ok);
  d->write = dup_or_null(s->write, &ok);
  d->n_params = s->n_params;
  d->n_scalars = s->n_scalars;
  d->param_names = dup_list(s->n_params, (const char *const *)s->param_names, &ok);
  d->scalar_names = dup_list(s->n_scalars, (const char *const *)s->scalar_names, &ok);
  d->has_out_dtype = s->has_out_dtype;
  d->out_dtype = s->out_dtype;
  d->compute = s->compute;
  if (!ok) {
    zr_expr_free(d);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  }
  return ZMLX_STATUS_OK;
}

/* ---- tuning and devices --------------------------------------------------- */

static zr_tuning tuning = {.row_unroll = 4, .row_max_tpr = 1024, .col_threads = 256,
                           .col_unroll = 4, .split_blocks = 16, .split_min = 4096, .mr_nv = 4,
                           .mr_max_nv = 8, .mr_unroll = 4, .scan_nv = 1, .scan_max_tpr = 1024};
static pthread_once_t tuning_once = PTHREAD_ONCE_INIT;

/* Powers of two where a knob sizes a block or an unrolled loop. */
static void knob(const char *name, int *v, int lo, int hi, int pow2) {
  char var[64];
  snprintf(var, sizeof var, "ZMLX_TUNE_%s", name);
  const char *s = zmlx_env(var);
  if (!s || !s[0]) return;
  long n = strtol(s, NULL, 10);
  if (n < lo || n > hi || (pow2 && (n & (n - 1)))) {
    zmlx_log(ZMLX_LOG_WARN, "%s=%s ignored (%d to %d%s)", var, s, lo, hi, pow2 ? ", a power of two" : "");
    return;
  }
  *v = (int)n;
}

static void read_tuning(void) {
  knob("ROW_UNROLL", &tuning.row_unroll, 1, 16, 0);
  knob("ROW_MAX_TPR", &tuning.row_max_tpr, 32, 1024, 1);
  knob("COL_THREADS", &tuning.col_threads, 32, 1024, 1);
  knob("COL_UNROLL", &tuning.col_unroll, 1, 16, 0);
  knob("SPLIT_BLOCKS", &tuning.split_blocks, 1, 1024, 0);
  knob("SPLIT_MIN", &tuning.split_min, 64, 1 << 30, 0);
  knob("MR_NV", &tuning.mr_nv, 1, 16, 0);
  knob("MR_MAX_NV", &tuning.mr_max_nv, 1, 32, 0);
  knob("MR_UNROLL", &tuning.mr_unroll, 1, 16, 0);
  knob("SCAN_NV", &tuning.scan_nv, 1, 16, 0);
  knob("SCAN_MAX_TPR", &tuning.scan_max_tpr, 32, 1024, 1);
}

const zr_tuning *zr_tune(void) {
  pthread_once(&tuning_once, read_tuning);
  return &tuning;
}

#define SMS_CACHED 64
static _Atomic int sms_cache[SMS_CACHED];

int zr_device_sms(zmlx_device dev) {
  if (dev.type != ZMLX_DEVICE_CUDA) return 8;
  int i = dev.index;
  int v = i >= 0 && i < SMS_CACHED ? atomic_load(&sms_cache[i]) : 0;
  if (v > 0) return v;
  zmlx_device_info info;
  v = zmlx_device_info_get(dev, &info) == ZMLX_STATUS_OK && info.sm_count > 0 ? info.sm_count : 132;
  if (i >= 0 && i < SMS_CACHED) atomic_store(&sms_cache[i], v);
  return v;
}

int zr_pow2_clamp(int64_t v, int lo, int hi) {
  int p = lo;
  while (p < hi && p < v) p *= 2;
  return p;
}

int zr_vec_for(size_t esize, int n_mults, const int64_t *mults, int n_ptrs, void *const *ptrs,
               const size_t *sizes) {
  int vec = esize >= 16 ? 1 : (int)(16 / esize);
  for (; vec > 1; vec /= 2) {
    int ok = 1;
    for (int i = 0; i < n_mults && ok; i++) ok = mults[i] % vec == 0;
    for (int i = 0; i < n_ptrs && ok; i++)
      ok = !ptrs[i] || (uintptr_t)ptrs[i] % ((size_t)vec * sizes[i]) == 0;
    if (ok) break;
  }
  return vec;
}

/* ---- checks -------------------------------------------------------------- */

zmlx_status zr_check_input(const char *op, const char *kname, const zmlx_array *x) {
  if (!x) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': input x is NULL", kname);
  zmlx_dtype t = x->dtype;
  if (t != ZMLX_DTYPE_F32 && t != ZMLX_DTYPE_F64 && t != ZMLX_DTYPE_F16 && t != ZMLX_DTYPE_BF16) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                     "kernel '%s': input %s has dtype %s (supported: f32, f64, f16, bf16)", kname,
                     zmlx_array_format(x, b, sizeof b), zmlx_dtype_name(t));
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zr_norm_axis(const char *op, const char *kname, const zmlx_array *x, int *axis) {
  int a = *axis < 0 ? *axis + x->ndim : *axis;
  if (a < 0 || a >= x->ndim) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': axis %d is out of range for %s",
                     kname, *axis, zmlx_array_format(x, b, sizeof b));
  }
  *axis = a;
  return ZMLX_STATUS_OK;
}

zmlx_status zr_check_out(const char *op, const char *kname, const zmlx_array *x,
                         const zmlx_array *out, int ndim, const int64_t *shape) {
  char b1[300], b2[300];
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': out is NULL", kname);
  zmlx_device dx = zmlx_array_device(x), dout = zmlx_array_device(out);
  if (dx.type != dout.type || dx.index != dout.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "kernel '%s': input %s, output %s", kname,
                     zmlx_array_format(x, b1, sizeof b1), zmlx_array_format(out, b2, sizeof b2));
  int same = out->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = out->shape[d] == shape[d];
  if (!same)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "kernel '%s': output %s, needs shape %s", kname,
                     zmlx_array_format(out, b1, sizeof b1), zmlx_shape_format(ndim, shape, b2, sizeof b2));
  if (!zk_ctype(out->dtype) || out->dtype == ZMLX_DTYPE_BOOL)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output %s", kname,
                     zmlx_array_format(out, b1, sizeof b1));
  return ZMLX_STATUS_OK;
}

zmlx_dtype zr_compute_for(const zr_expr *e, zmlx_dtype x) {
  return e->compute == ZMLX_DTYPE_F64 || x == ZMLX_DTYPE_F64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
}

/* ---- dimensions ----------------------------------------------------------- */

void zr_dims_push(zr_dims *d, int64_t size, int64_t stride) {
  if (size == 1) return;
  if (d->n > 0 && size != 0 && d->shape[d->n - 1] != 0 && d->stride[d->n - 1] == size * stride) {
    d->shape[d->n - 1] *= size;
    d->stride[d->n - 1] = stride;
    return;
  }
  d->shape[d->n] = size;
  d->stride[d->n] = stride;
  d->n++;
}

zmlx_status zr_dims_view(const zmlx_array *a, const zr_dims *k, const zr_dims *r,
                         zmlx_array **out) {
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < k->n; i++, n++) {
    shape[n] = k->shape[i];
    strides[n] = k->stride[i];
  }
  for (int i = 0; i < r->n; i++, n++) {
    shape[n] = r->shape[i];
    strides[n] = r->stride[i];
  }
  return zmlx_array_wrap(a->storage, a->dtype, n, shape, strides, a->offset, out);
}

/* a's axes with `axis` moved last. */
static void moved_last(int ndim, int axis, int *perm) {
  int n = 0;
  for (int d = 0; d < ndim; d++)
    if (d != axis) perm[n++] = d;
  perm[n] = axis;
}

static zmlx_status permuted_view(zmlx_array *a, int axis, zmlx_array **out) {
  int perm[ZMLX_MAX_DIMS];
  moved_last(a->ndim, axis, perm);
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) {
    shape[d] = a->shape[perm[d]];
    strides[d] = a->strides[perm[d]];
  }
  return zmlx_array_wrap(a->storage, a->dtype, a->ndim, shape, strides, a->offset, out);
}

zmlx_status zr_rows_make(const char *op, const char *kname, zmlx_array *x, int axis, zr_rows *r) {
  memset(r, 0, sizeof *r);
  ZMLX_TRY(zr_check_input(op, kname, x));
  ZMLX_TRY(zr_norm_axis(op, kname, x, &axis));
  r->axis = axis;
  r->R = x->shape[axis];
  r->M = 1;
  for (int d = 0; d < x->ndim; d++)
    if (d != axis) r->M *= x->shape[d];
  zmlx_array *src = NULL, *p = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  if (r->R <= 1 || x->strides[axis] == 1) {
    src = zmlx_array_retain(x);
  } else {
    s = permuted_view(x, axis, &p);
    if (!s) s = zmlx_array_contiguous(p, &src);
    zmlx_array_release(p);
    if (s) return s;
  }
  /* src's rows are contiguous along `axis` (or the last axis of a copy). */
  int last = src == x ? axis : x->ndim - 1;
  for (int d = 0; d < src->ndim; d++)
    if (d != last) zr_dims_push(&r->kept, src->shape[d], src->strides[d]);
  zr_dims rd = {.n = 1, .shape = {r->R}, .stride = {1}};
  s = zr_dims_view(src, &r->kept, &rd, &r->view);
  zmlx_array_release(src);
  return s;
}

void zr_rows_free(zr_rows *r) {
  zmlx_array_release(r->view);
  r->view = NULL;
}

zmlx_status zr_rows_target(const zr_rows *r, zmlx_array *out, zmlx_array **target) {
  if (r->axis == out->ndim - 1 && zmlx_array_is_contiguous(out)) {
    *target = zmlx_array_retain(out);
    return ZMLX_STATUS_OK;
  }
  zmlx_array *p;
  ZMLX_TRY(permuted_view(out, r->axis, &p));
  zmlx_status s = zmlx_array_empty(out->dtype, p->ndim, p->shape, zmlx_array_device(out), target);
  zmlx_array_release(p);
  return s;
}

zmlx_status zr_rows_finish(const zr_rows *r, zmlx_array *out, zmlx_array *target) {
  if (target == out) return ZMLX_STATUS_OK;
  zmlx_array *p;
  ZMLX_TRY(permuted_view(out, r->axis, &p));
  zmlx_status s = zmlx_array_copy_into(p, target);
  zmlx_array_release(p);
  return s;
}

/* ---- generated code ---------------------------------------------------- */

static int sb_lines(const zmlx_strbuf *sb) {
  int n = 1;
  for (size_t i = 0; i < sb->len; i++) n += sb->data[i] == '\n';
  return n;
}

void zr_emit_user(zmlx_strbuf *sb, const zr_expr *e, const char *kname, const char *what,
                  const char *code) {
  zmlx_sb_printf(sb, "#line 1 \"%s.%s\"\n%s\n", e->name, what, code);
  int n = sb_lines(sb);
  zmlx_sb_printf(sb, "#line %d \"%s.header\"\n", n + 1, kname);
}

void zr_emit_scalar_locals(zmlx_strbuf *sb, const zr_expr *e) {
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "  const compute_t %s = _zs->%s; (void)%s;\n", e->scalar_names[i],
                   e->scalar_names[i], e->scalar_names[i]);
  zmlx_sb_append(sb, "  (void)_zs;\n");
}

void zr_emit_scalars_init(zmlx_strbuf *sb, const zr_expr *e) {
  zmlx_sb_append(sb, "const zr_scalars_t _zsc = {");
  for (int i = 0; i < e->n_scalars; i++)
    zmlx_sb_printf(sb, "%s(compute_t)%s", i ? ", " : "", e->scalar_names[i]);
  zmlx_sb_append(sb, e->n_scalars ? "};\n" : "0};\n");
}

static const char math_text[] =
    "#if COMPUTE_F64\n"
    "#define ZR_TOC(v) zmlx_tod(v)\n"
    "#define zr_exp(v) exp(v)\n#define zr_log(v) log(v)\n"
    "#define zr_log1p(v) log1p(v)\n#define zr_sqrt(v) sqrt(v)\n"
    "#else\n"
    "#define ZR_TOC(v) zmlx_tof(v)\n"
    "#define zr_exp(v) expf(v)\n#define zr_log(v) logf(v)\n"
    "#define zr_log1p(v) log1pf(v)\n#define zr_sqrt(v) sqrtf(v)\n"
    "#endif\n"
    "#ifdef ZMLX_CUDA\n#define ZR_UNROLL _Pragma(\"unroll\")\n#else\n#define ZR_UNROLL\n#endif\n";

/* Shuffles of any trivially copyable type, one 32-bit word at a time. */
static const char shfl_text[] =
    "#ifdef ZMLX_CUDA\n"
    "#define ZR_SHFL(NAME, CALL)                                                   \\\n"
    "  template <class T> ZMLX_FN T NAME(const T &v, int a, int w) {              \\\n"
    "    union { T t; int i[(sizeof(T) + 3) / 4]; } u;                            \\\n"
    "    u.t = v;                                                                 \\\n"
    "    ZR_UNROLL                                                                \\\n"
    "    for (int k = 0; k < (int)((sizeof(T) + 3) / 4); k++) u.i[k] = CALL;     \\\n"
    "    return u.t;                                                              \\\n"
    "  }\n"
    "ZR_SHFL(zr_shfl_xor, __shfl_xor_sync(0xffffffffu, u.i[k], a, w))\n"
    "ZR_SHFL(zr_shfl_up, __shfl_up_sync(0xffffffffu, u.i[k], a, w))\n"
    "ZR_SHFL(zr_shfl_idx, __shfl_sync(0xffffffffu, u.i[k], a, w))\n"
    "#endif\n";

void zr_emit_common(zmlx_strbuf *sb, const zr_expr *e, const char *kname) {
  zmlx_sb_append(sb, math_text);
  if (e->header[0]) zr_emit_user(sb, e, kname, "header", e->header);
  zmlx_sb_printf(sb, "typedef %s acc_t;\n", e->acc_type);
  zmlx_sb_append(sb, "typedef struct zr_scalars_t {");
  for (int i = 0; i < e->n_scalars; i++) zmlx_sb_printf(sb, " compute_t %s;", e->scalar_names[i]);
  zmlx_sb_append(sb, e->n_scalars ? " } zr_scalars_t;\n" : " int _zunused; } zr_scalars_t;\n");
  /* Slots for partial accumulators hold at most ACC_SLOT bytes. */
  zmlx_sb_append(sb, "typedef char zr_acc_fits_in_slot[sizeof(acc_t) <= ACC_SLOT ? 1 : -1];\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_init(acc_t *_za) {\n  acc_t acc;\n");
  zr_emit_user(sb, e, kname, "init", e->init);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_update(acc_t *_za, const compute_t x, const long long idx, "
                     "const zr_scalars_t *_zs) {\n  acc_t acc = *_za;\n  (void)x; (void)idx;\n");
  zr_emit_scalar_locals(sb, e);
  zr_emit_user(sb, e, kname, "update", e->update);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, "ZMLX_FN void zr_combine(acc_t *_za, const acc_t other) {\n  acc_t acc = *_za;\n");
  zr_emit_user(sb, e, kname, "combine", e->combine);
  zmlx_sb_append(sb, "  *_za = acc;\n}\n");
  zmlx_sb_append(sb, shfl_text);
}

const char zr_group_reduce_text[] =
    "#ifdef ZMLX_CUDA\n"
    "/* Butterfly within warps; across the group's warps, warp 0 combines the\n"
    " * warp results and shares its total through shared memory. Every lane\n"
    " * ends with the same bits. */\n"
    "ZMLX_FN void zr_group_reduce(acc_t *a, int lane, int grp) {\n"
    "  ZR_UNROLL\n"
    "  for (int m = (int)(TPR < 32 ? TPR : 32) / 2; m > 0; m >>= 1) zr_combine(a, zr_shfl_xor(*a, m, 32));\n"
    "#if TPR > 32\n"
    "  const int NW = (int)(TPR / 32), w = lane >> 5, wl = lane & 31;\n"
    "  __shared__ acc_t zr_gsm[RPB][TPR / 32 + 1];\n"
    "  if (wl == 0) zr_gsm[grp][w] = *a;\n"
    "  __syncthreads();\n"
    "  if (w == 0) {\n"
    "    acc_t s = zr_gsm[grp][wl < NW ? wl : 0];\n"
    "    ZR_UNROLL\n"
    "    for (int m = NW / 2; m > 0; m >>= 1) zr_combine(&s, zr_shfl_xor(s, m, 32));\n"
    "    if (wl == 0) zr_gsm[grp][NW] = s;\n"
    "  }\n"
    "  __syncthreads();\n"
    "  *a = zr_gsm[grp][NW];\n"
    "#else\n"
    "  *a = zr_shfl_idx(*a, 0, (int)TPR);\n"
    "  (void)lane; (void)grp;\n"
    "#endif\n"
    "}\n"
    "#endif\n";

const char zr_kept_offset_text[] =
    "ZMLX_FN long long zr_kept_offset(long long o, const long long *shape, const long long *strides,\n"
    "                                 const int nk) {\n"
    "  long long off = 0;\n"
    "  ZR_UNROLL\n"
    "  for (int d = nk - 1; d >= 0; d--) {\n"
    "    const long long q = o / shape[d];\n"
    "    off += (o - q * shape[d]) * strides[d];\n"
    "    o = q;\n"
    "  }\n"
    "  (void)shape; (void)strides;\n"
    "  return off;\n"
    "}\n";

zmlx_status zr_make_kernel(const char *op, const char *name, const char *suffix, int n_in,
                           const char *const *in_names, int n_sc, const char *const *sc_names,
                           const zmlx_dtype *sc_types, const char *body, const char *header,
                           zmlx_kernel **out) {
  static const char *outs[] = {"out"};
  if (!body || !header) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  char kname[256];
  snprintf(kname, sizeof kname, "%s_%s", name, suffix);
  zmlx_kernel_desc d = {.name = kname, .n_inputs = n_in, .input_names = in_names,
                        .n_outputs = 1, .output_names = outs, .n_scalars = n_sc,
                        .scalar_names = sc_names, .scalar_dtypes = sc_types, .source = body,
                        .header = header};
  zmlx_status s = zmlx_kernel_create(&d, out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zr_sources_add(zr_sources *s, zmlx_kernel *k, zmlx_array *in,
                           const zmlx_launch_config *cfg, const zmlx_array *out) {
  if (s->n >= ZR_MAX_SOURCES)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, "reduce_sources", "more than %d kernels", ZR_MAX_SOURCES);
  zmlx_launch_config c = *cfg;
  zmlx_dtype t = out->dtype;
  int nd = out->ndim;
  const int64_t *shape = out->shape;
  c.output_dtypes = &t;
  c.output_ndims = &nd;
  c.output_shapes = &shape;
  ZMLX_TRY(zmlx_kernel_source(k, ZMLX_CUDA(0), 1, &in, &c, &s->src[s->n]));
  snprintf(s->entry[s->n], sizeof s->entry[s->n], "zmlx_%s", k->name);
  s->n++;
  return ZMLX_STATUS_OK;
}

void zr_sources_free(zr_sources *s) {
  for (int i = 0; i < s->n; i++) free(s->src[i]);
  memset(s, 0, sizeof *s);
}

zmlx_status zr_stats_sum(int n, zmlx_kernel *const *ks, zmlx_kernel_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < n; i++) {
    zmlx_kernel_stats s;
    if (!ks[i]) continue;
    ZMLX_TRY(zmlx_kernel_stats_get(ks[i], &s));
    out->n_variants += s.n_variants;
    out->n_compiles += s.n_compiles;
    out->compile_ms += s.compile_ms;
    out->n_memory_hits += s.n_memory_hits;
    out->n_disk_hits += s.n_disk_hits;
    out->n_launches += s.n_launches;
  }
  return ZMLX_STATUS_OK;
}

void zk_red_shutdown(void) {
  zk_reduce_ops_shutdown();
  zk_map_reduce_ops_shutdown();
  zk_scan_ops_shutdown();
}
