/* Packed GLU kernels: x = [gate | up] along rows of 2D. The elementwise
 * general path would walk the two strided halves one element at a time
 * with a 64-bit division per dimension; this raw kernel gives each grid
 * point VEC adjacent columns of one row, so the division happens once per
 * vector and every access is an aligned 16-byte load or store when D and
 * the buffers allow (VEC = 1 otherwise). Inputs are made C-contiguous
 * first (a copy only for views). One kernel per bias/no bias and
 * direction; the activation and compute type are templates. */
#include <pthread.h>
#include <stdint.h>

#include "catalog/cat_internal.h"
#include "catalog/glu_internal.h"
#include "core/error.h"

static const char header[] =
    "#if F64\n"
    "#define ZT double\n#define ZH(fn) zmlx_##fn##d\n#define ZLD(v) zmlx_tod(v)\n"
    "#else\n"
    "#define ZT float\n#define ZH(fn) zmlx_##fn##f\n#define ZLD(v) zmlx_tof(v)\n"
    "#endif\n"
    "#if KIND == 0\n#define ACT(a) ZH(silu)(a)\n#define DACT(a) ZH(silu_grad)(a)\n"
    "#elif KIND == 1\n#define ACT(a) ZH(gelu_tanh_stable)(a)\n#define DACT(a) ZH(gelu_tanh_grad)(a)\n"
    "#else\n#define ACT(a) ZH(gelu_erf_stable)(a)\n#define DACT(a) ZH(gelu_erf_grad)(a)\n"
    "#endif\n"
    "#define ZVEC(T) struct __attribute__((aligned(VEC * sizeof(T)))) { T v[VEC]; }\n";

/* Grid point gid: row r, columns j .. j + VEC - 1 of the D outputs. */
static const char body_fwd[] =
    "const long long r = gid / NV, j = (gid - r * NV) * VEC;\n"
    "typedef ZVEC(x_t) xv;\n"
    "typedef ZVEC(out_t) ov;\n"
    "const xv g = *(const xv *)(x + r * 2 * D + j), u = *(const xv *)(x + r * 2 * D + D + j);\n"
    "#if BIAS\n"
    "typedef ZVEC(bias_t) bv;\n"
    "const bv bg = *(const bv *)(bias + j), bu = *(const bv *)(bias + D + j);\n"
    "#endif\n"
    "ov o;\n"
    "for (int k = 0; k < VEC; k++) {\n"
    "  ZT a = (ZT)ZLD(g.v[k]), b = (ZT)ZLD(u.v[k]);\n"
    "#if BIAS\n"
    "  a += (ZT)ZLD(bg.v[k]);\n"
    "  b += (ZT)ZLD(bu.v[k]);\n"
    "#endif\n"
    "  zmlx_store(o.v, k, ACT(a) * b);\n"
    "}\n"
    "*(ov *)(out + r * D + j) = o;\n";

static const char body_bwd[] =
    "const long long r = gid / NV, j = (gid - r * NV) * VEC;\n"
    "typedef ZVEC(x_t) xv;\n"
    "typedef ZVEC(dy_t) yv;\n"
    "typedef ZVEC(dx_t) dv;\n"
    "const xv g = *(const xv *)(x + r * 2 * D + j), u = *(const xv *)(x + r * 2 * D + D + j);\n"
    "const yv y = *(const yv *)(dy + r * D + j);\n"
    "#if BIAS\n"
    "typedef ZVEC(bias_t) bv;\n"
    "const bv bg = *(const bv *)(bias + j), bu = *(const bv *)(bias + D + j);\n"
    "#endif\n"
    "dv dg, du;\n"
    "for (int k = 0; k < VEC; k++) {\n"
    "  ZT a = (ZT)ZLD(g.v[k]), b = (ZT)ZLD(u.v[k]), t = (ZT)ZLD(y.v[k]);\n"
    "#if BIAS\n"
    "  a += (ZT)ZLD(bg.v[k]);\n"
    "  b += (ZT)ZLD(bu.v[k]);\n"
    "#endif\n"
    "  zmlx_store(dg.v, k, t * b * DACT(a));\n"
    "  zmlx_store(du.v, k, t * ACT(a));\n"
    "}\n"
    "*(dv *)(dx + r * 2 * D + j) = dg;\n"
    "*(dv *)(dx + r * 2 * D + D + j) = du;\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *kernels[2][2]; /* [bias][backward] */

void zcat_glu_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int b = 0; b < 2; b++)
    for (int d = 0; d < 2; d++) {
      zmlx_kernel_destroy(kernels[b][d]);
      kernels[b][d] = NULL;
    }
  pthread_mutex_unlock(&lock);
}

zmlx_status zcat_glu_packed_kernel(int bias, int backward, zmlx_kernel **k) {
  static const char *ins_fwd[] = {"x", "bias"}, *ins_bwd[] = {"x", "dy", "bias"};
  static const char *ins_bwd_nb[] = {"x", "dy"}, *out_fwd[] = {"out"}, *out_bwd[] = {"dx"};
  static const char *scs[] = {"D", "NV"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
  static const char *names[2][2] = {{"glu_packed", "glu_packed_bwd"},
                                    {"glu_packed_bias", "glu_packed_bias_bwd"}};
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!kernels[bias][backward]) {
    zmlx_kernel_desc d = {.name = names[bias][backward], .n_inputs = 1 + bias + backward,
                          .input_names = backward ? (bias ? ins_bwd : ins_bwd_nb) : ins_fwd,
                          .n_outputs = 1, .output_names = backward ? out_bwd : out_fwd,
                          .n_scalars = 2, .scalar_names = scs, .scalar_dtypes = sct,
                          .source = backward ? body_bwd : body_fwd, .header = header};
    s = zmlx_kernel_create(&d, &kernels[bias][backward]);
  }
  *k = kernels[bias][backward];
  pthread_mutex_unlock(&lock);
  return s;
}

static int aligned16(const zmlx_array *a) {
  return !a || (uintptr_t)zmlx_array_describe(a).data % 16 == 0;
}

zmlx_status zcat_glu_packed_run(int kind, int backward, zmlx_array *x, zmlx_array *bias,
                                zmlx_array *dy, zmlx_array **out) {
  zmlx_array *in[3] = {NULL, NULL, NULL};
  int n = 0;
  zmlx_status s = zmlx_array_contiguous(x, &in[n++]);
  if (!s && backward) s = zmlx_array_contiguous(dy, &in[n++]);
  if (!s && bias) s = zmlx_array_contiguous(bias, &in[n++]);
  zmlx_dtype t = zmlx_array_dtype(x);
  int nd = zmlx_array_ndim(x);
  int64_t shape[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(x, d);
  int64_t D = shape[nd - 1] / 2, rows = D ? zmlx_array_numel(x) / (2 * D) : 0;
  if (!backward) shape[nd - 1] = D;
  /* 16 bytes per access when every row start stays aligned. */
  int vec = (int)(16 / zmlx_dtype_size(t));
  for (int i = 0; i < n; i++)
    if (!s && !aligned16(in[i])) vec = 1;
  if (D % vec) vec = 1;
  zmlx_kernel *k = NULL;
  if (!s) s = zcat_glu_packed_kernel(bias != NULL, backward, &k);
  if (!s) {
    const int64_t *shapes[1] = {shape};
    double sc[2] = {(double)D, (double)(D / vec)};
    zmlx_template_arg tp[4] = {{"VEC", ZMLX_TEMPLATE_INT, vec},
                               {"KIND", ZMLX_TEMPLATE_INT, kind},
                               {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64},
                               {"BIAS", ZMLX_TEMPLATE_BOOL, bias != NULL}};
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &nd, .output_shapes = shapes,
                              .grid = {rows * (D / vec), 1, 1}, .n_templates = 4,
                              .templates = tp, .n_scalars = 2, .scalars = sc};
    if (rows * D == 0)
      s = zmlx_array_empty(t, nd, shape, zmlx_array_device(x), out);
    else
      s = zmlx_kernel_launch(k, n, in, &cfg, out);
  }
  for (int i = 0; i < n; i++) zmlx_array_release(in[i]);
  return s;
}
