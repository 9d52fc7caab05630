/* Kernels kept for the process, the shared kernel text, launch shapes and
 * the capture mode of the softmax, reduce, scan and loss families (see
 * softmax_kit.h). */
#include "catalog/softmax_kit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

/* exp2 on CUDA is the SFU's ex2.approx (2 ulp): x * log2(e) - m * log2(e)
 * is one FFMA away, so a streaming softmax or cross-entropy spends two
 * instructions per element on its exponential. */
const char zsm_kit_text[] =
    "#if ZS_F64\n"
    "typedef double zs_t;\n"
    "#define ZS_TOC(v) zmlx_tod(v)\n"
    "#define ZS_EXP(v) exp(v)\n#define ZS_EXP2(v) exp2(v)\n#define ZS_LOG(v) log(v)\n"
    "#else\n"
    "typedef float zs_t;\n"
    "#define ZS_TOC(v) zmlx_tof(v)\n"
    "#define ZS_LOG(v) logf(v)\n"
    "#ifdef ZMLX_CUDA\n"
    "ZMLX_FN float zs_ex2(float v) {\n"
    "  float r;\n"
    "  asm(\"ex2.approx.ftz.f32 %0, %1;\" : \"=f\"(r) : \"f\"(v));\n"
    "  return r;\n"
    "}\n"
    "#define ZS_EXP(v) __expf(v)\n#define ZS_EXP2(v) zs_ex2(v)\n"
    "#else\n"
    "#define ZS_EXP(v) expf(v)\n#define ZS_EXP2(v) exp2f(v)\n"
    "#endif\n"
    "#endif\n"
    "#define ZS_LOG2E ((zs_t)1.4426950408889634074)\n"
    "#define ZS_LN2 ((zs_t)0.69314718055994530942)\n"
    "#ifdef ZMLX_CUDA\n#define ZS_UNROLL _Pragma(\"unroll\")\n#else\n#define ZS_UNROLL\n#endif\n"
    /* Element offset of row `row` of an array whose first nk dims are the
     * rows (any strides, 0 for broadcast dims). */
    "ZMLX_FN long long zs_row_off(long long row, const long long *shape, const long long *strides,\n"
    "                             int nk) {\n"
    "  long long off = 0;\n"
    "  for (int d = nk - 1; d >= 0; d--) {\n"
    "    const long long q = row / shape[d];\n"
    "    off += (row - q * shape[d]) * strides[d];\n"
    "    row = q;\n"
    "  }\n"
    "  return off;\n"
    "}\n"
    "#ifdef ZMLX_CUDA\n"
    "template <class A> ZMLX_FN A zs_shfl_xor(const A &v, int m) {\n"
    "  union { A t; int i[(sizeof(A) + 3) / 4]; } u;\n"
    "  u.t = v;\n"
    "  ZS_UNROLL\n"
    "  for (int k = 0; k < (int)((sizeof(A) + 3) / 4); k++) u.i[k] = __shfl_xor_sync(0xffffffffu, u.i[k], m, 32);\n"
    "  return u.t;\n"
    "}\n"
    "template <class A> ZMLX_FN A zs_shfl_down(const A &v, int off, int width) {\n"
    "  union { A t; int i[(sizeof(A) + 3) / 4]; } u;\n"
    "  u.t = v;\n"
    "  ZS_UNROLL\n"
    "  for (int k = 0; k < (int)((sizeof(A) + 3) / 4); k++) u.i[k] = __shfl_down_sync(0xffffffffu, u.i[k], off, width);\n"
    "  return u.t;\n"
    "}\n"
    "template <class A> ZMLX_FN A zs_shfl_idx(const A &v, int src, int width) {\n"
    "  union { A t; int i[(sizeof(A) + 3) / 4]; } u;\n"
    "  u.t = v;\n"
    "  ZS_UNROLL\n"
    "  for (int k = 0; k < (int)((sizeof(A) + 3) / 4); k++) u.i[k] = __shfl_sync(0xffffffffu, u.i[k], src, width);\n"
    "  return u.t;\n"
    "}\n"
    /* Groups of G lanes (a power of two; NG groups per block, lanes of a
     * group adjacent) combine their values with comb(A *, A); every lane
     * ends with the same bits. Every thread of the block must call it. */
    "template <int G, int NG, class A, class F> ZMLX_FN void zs_group_reduce(A *a, int lane, int grp, F comb) {\n"
    "  ZS_UNROLL\n"
    "  for (int m = (G < 32 ? G : 32) / 2; m > 0; m >>= 1) comb(a, zs_shfl_xor(*a, m));\n"
    "  if (G > 32) {\n"
    "    __shared__ A zs_gsm[NG][G / 32 + 1];\n"
    "    const int NW = G / 32, w = lane >> 5, wl = lane & 31;\n"
    "    if (wl == 0) zs_gsm[grp][w] = *a;\n"
    "    __syncthreads();\n"
    "    if (w == 0) {\n"
    "      A s = zs_gsm[grp][wl < NW ? wl : 0];\n"
    "      for (int m = NW / 2; m > 0; m >>= 1) comb(&s, zs_shfl_xor(s, m));\n"
    "      if (wl == 0) zs_gsm[grp][NW] = s;\n"
    "    }\n"
    "    __syncthreads();\n"
    "    *a = zs_gsm[grp][NW];\n"
    "  } else {\n"
    "    *a = zs_shfl_idx(*a, 0, G);\n"
    "  }\n"
    "}\n"
    "#endif\n";

/* ---- kernels kept for the process ---------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zsm_slot **slots;
static zsm_reduce_slot **rslots;
static int n_slots, cap_slots, n_rslots, cap_rslots;

static int grow(void ***list, int n, int *cap) {
  if (n < *cap) return 1;
  int c = *cap ? 2 * *cap : 32;
  void **g = realloc(*list, sizeof *g * (size_t)c);
  if (!g) return 0;
  *list = g;
  *cap = c;
  return 1;
}

zmlx_status zsm_kernel_get(const char *op, zsm_slot *slot, const zmlx_kernel_desc *d,
                           zmlx_kernel **out) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!slot->k) {
    size_t len = sizeof zsm_kit_text + (d->header ? strlen(d->header) : 0) + 2;
    char *h = malloc(len);
    if (!h || !grow((void ***)&slots, n_slots, &cap_slots)) {
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
    } else {
      snprintf(h, len, "%s%s\n", zsm_kit_text, d->header ? d->header : "");
      zmlx_kernel_desc full = *d;
      full.header = h;
      s = zmlx_kernel_create(&full, &slot->k);
      if (!s) slots[n_slots++] = slot;
    }
    free(h);
  }
  *out = slot->k;
  pthread_mutex_unlock(&lock);
  return s ? zmlx_fail_wrap(s, op) : s;
}

zmlx_status zsm_reduce_get(const char *op, zsm_reduce_slot *slot, const zmlx_reduce_desc *d,
                           zmlx_reduce **out) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!slot->k) {
    if (!grow((void ***)&rslots, n_rslots, &cap_rslots)) {
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
    } else {
      s = zmlx_reduce_create(d, &slot->k);
      if (!s) rslots[n_rslots++] = slot;
    }
  }
  *out = slot->k;
  pthread_mutex_unlock(&lock);
  return s ? zmlx_fail_wrap(s, op) : s;
}

void zsm_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_slots; i++) {
    zmlx_kernel_destroy(slots[i]->k);
    slots[i]->k = NULL;
  }
  for (int i = 0; i < n_rslots; i++) {
    zmlx_reduce_destroy(rslots[i]->k);
    rslots[i]->k = NULL;
  }
  free(slots);
  free(rslots);
  slots = NULL;
  rslots = NULL;
  n_slots = cap_slots = n_rslots = cap_rslots = 0;
  pthread_mutex_unlock(&lock);
}

/* ---- launching ------------------------------------------------------------ */

static _Thread_local zsm_capture *capture;

int zsm_cuda_shapes(zmlx_device dev) { return capture || dev.type == ZMLX_DEVICE_CUDA; }

int zsm_sms(zmlx_device dev) {
  if (capture) return 132;
  if (dev.type != ZMLX_DEVICE_CUDA) return 8;
  zmlx_device_info info;
  return zmlx_device_info_get(dev, &info) == ZMLX_STATUS_OK && info.sm_count > 0 ? info.sm_count
                                                                                 : 132;
}

int zsm_pow2(int64_t v, int lo, int hi) {
  int p = lo;
  while (p < hi && p < v) p *= 2;
  return p;
}

int zsm_vec(size_t esize, int n_mults, const int64_t *mults, int n_ptrs, void *const *ptrs,
            const size_t *ptr_esize) {
  int vec = esize >= 16 ? 1 : (int)(16 / esize);
  for (; vec > 1; vec /= 2) {
    int ok = 1;
    for (int i = 0; i < n_mults && ok; i++) ok = mults[i] % vec == 0;
    for (int i = 0; i < n_ptrs && ok; i++)
      ok = !ptrs[i] || (uintptr_t)ptrs[i] % ((size_t)vec * ptr_esize[i]) == 0;
    if (ok) break;
  }
  return vec;
}

static zmlx_status capture_add(const char *op, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                               const zmlx_launch_config *cfg, int n_out, zmlx_array **out) {
  if (capture->n >= ZSM_CAPTURE_MAX)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, op, "capture: more than %d kernels", ZSM_CAPTURE_MAX);
  zmlx_dtype t[ZK_MAX_IO];
  int nd[ZK_MAX_IO];
  const int64_t *shapes[ZK_MAX_IO];
  for (int j = 0; j < n_out; j++) {
    t[j] = out[j]->dtype;
    nd[j] = out[j]->ndim;
    shapes[j] = out[j]->shape;
  }
  zmlx_launch_config c = *cfg;
  c.output_dtypes = t;
  c.output_ndims = nd;
  c.output_shapes = shapes;
  ZMLX_TRY(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, &c, &capture->src[capture->n]));
  snprintf(capture->entry[capture->n], sizeof capture->entry[0], "zmlx_%s", k->name);
  capture->n++;
  return ZMLX_STATUS_OK;
}

zmlx_status zsm_launch(const char *op, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                       const zmlx_launch_config *cfg, int n_out, zmlx_array **out) {
  zmlx_status s = capture ? capture_add(op, k, n_in, in, cfg, n_out, out)
                          : zk_launch(k, n_in, in, cfg, out, ZK_OUTPUTS_GIVEN);
  return s ? zmlx_fail_wrap(s, op) : s;
}

void zsm_capture_begin(zsm_capture *c) {
  memset(c, 0, sizeof *c);
  capture = c;
}

void zsm_capture_end(void) { capture = NULL; }

void zsm_capture_free(zsm_capture *c) {
  for (int i = 0; i < c->n; i++) free(c->src[i]);
  memset(c, 0, sizeof *c);
}

/* ---- rows along an axis ------------------------------------------------------ */

zmlx_status zsm_norm_axis(const char *op, const zmlx_array *x, int *axis) {
  int nd = zmlx_array_ndim(x), a = *axis < 0 ? *axis + nd : *axis;
  if (a < 0 || a >= nd) {
    char b[300];
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "axis %d is out of range for %s", *axis,
                     zmlx_array_format(x, b, sizeof b));
  }
  *axis = a;
  return ZMLX_STATUS_OK;
}

zmlx_status zsm_axis_last(zmlx_array *a, int axis, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  if (axis == nd - 1) {
    *out = zmlx_array_retain(a);
    return ZMLX_STATUS_OK;
  }
  int perm[ZMLX_MAX_DIMS], k = 0;
  for (int d = 0; d < nd; d++)
    if (d != axis) perm[k++] = d;
  perm[k] = axis;
  return zmlx_array_permute(a, perm, out);
}

zmlx_status zsm_axis_back(zmlx_array *r, int ndim, int axis, zmlx_array **out) {
  if (axis == ndim - 1) {
    *out = zmlx_array_retain(r);
    return ZMLX_STATUS_OK;
  }
  /* r's dim d holds a's dim perm[d]; the inverse puts them back. */
  int inv[ZMLX_MAX_DIMS], k = 0;
  for (int d = 0; d < ndim; d++) inv[d] = d == axis ? ndim - 1 : k++;
  zmlx_array *v = NULL;
  ZMLX_TRY(zmlx_array_permute(r, inv, &v));
  zmlx_status s = zmlx_array_contiguous(v, out);
  zmlx_array_release(v);
  return s;
}
