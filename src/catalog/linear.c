/* zmlx_matmul: checks, the operands' layouts, and the choice of engine.
 * Each operand's last two axes are used as they are stored when they are
 * row-major or column-major with a uniform batch stride (transposed
 * views cost nothing: they become cuBLAS/BLAS transposes); any other
 * layout is copied first. A batched A times a shared 2-D B whose rows
 * follow each other in memory is one tall GEMM. */
#include <stdio.h>
#include <string.h>

#include "catalog/cat_internal.h"
#include "catalog/linear_internal.h"
#include "core/array_internal.h"
#include "core/error.h"

const char *zmlx_matmul_backend(zmlx_device_type type) {
  static char buf[700];
  if (type == ZMLX_DEVICE_CUDA) {
    const char *d = zl_cublaslt_describe();
    if (!strncmp(d, "cublasLt", 8)) return d;
    snprintf(buf, sizeof buf, "fallback kernel: %s", d);
    return buf;
  }
  return zl_have_blas() ? "openblas" : "fallback kernel: built without OpenBLAS";
}

static int64_t max1(int64_t v) { return v > 1 ? v : 1; }

/* Row- or column-major storage of x's last two axes and a single batch
 * stride over the others (batch 1 or shared: any). 0 when neither. */
static int analyze(const zmlx_array *x, int trans, int shared, zl_operand *op) {
  int nd = x->ndim;
  int64_t r = x->shape[nd - 2], c = x->shape[nd - 1], s0 = x->strides[nd - 2],
          s1 = x->strides[nd - 1];
  int row = (c <= 1 || s1 == 1) && (r <= 1 || s0 >= max1(c));
  int col = (r <= 1 || s0 == 1) && (c <= 1 || s1 >= max1(r));
  if (!row && !col) return 0;
  op->col = !row;
  op->ld = row ? (r <= 1 ? max1(c) : s0) : (c <= 1 ? max1(r) : s1);
  op->col ^= trans != 0;
  /* Batch axes: each non-unit one must step by the extent of those inside. */
  int64_t stride = 0, inner = 0, count = 1;
  for (int d = nd - 3; d >= 0; d--) {
    if (x->shape[d] == 1) continue;
    if (inner && x->strides[d] != stride * inner) return 0;
    if (!inner) stride = x->strides[d];
    inner = inner ? inner * x->shape[d] : x->shape[d];
    count *= x->shape[d];
  }
  if (count > 1 && stride <= 0) return 0;
  op->batch_stride = shared || count <= 1 ? 0 : stride;
  return 1;
}

/* op for x, copying x to contiguous first when its layout does not fit;
 * *hold keeps the array op points into (release it after the GEMM). */
static zmlx_status operand(zmlx_array *x, int trans, int shared, zl_operand *op,
                           zmlx_array **hold) {
  *hold = NULL;
  if (!analyze(x, trans, shared, op)) {
    ZMLX_TRY(zmlx_array_contiguous(x, hold));
    x = *hold;
    analyze(x, trans, shared, op);
  } else {
    *hold = zmlx_array_retain(x);
  }
  op->array = *hold;
  return ZMLX_STATUS_OK;
}

/* The op's catalog name: bmm or matmul, the transposes, the activation. */
static void op_name(const zmlx_array *a, const zmlx_array *b, int ta, int tb, zmlx_matmul_act act,
                    char *buf, size_t len) {
  int batched = (a && zmlx_array_ndim(a) > 2) || (b && zmlx_array_ndim(b) > 2);
  static const char *acts[ZMLX_MATMUL_ACT_COUNT] = {"", "_relu", "_gelu"};
  snprintf(buf, len, "%s%s%s", batched ? "bmm" : "matmul",
           ta || tb ? (ta ? (tb ? "_tt" : "_tn") : "_nt") : "",
           (unsigned)act < ZMLX_MATMUL_ACT_COUNT ? acts[act] : "");
}

typedef struct zl_shapes {
  int64_t M, N, K, batch;
  int out_nd;
  int64_t out_shape[ZMLX_MAX_DIMS];
  int a_shared, b_shared;
} zl_shapes;

static zmlx_status check(const char *op, zmlx_array *a, zmlx_array *b, int ta, int tb,
                         zmlx_array *bias, zmlx_matmul_act act, zl_shapes *sh) {
  static const char *names[] = {"b", "bias"};
  zmlx_array *others[2] = {b, bias};
  if ((unsigned)act >= ZMLX_MATMUL_ACT_COUNT)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "act %d is not a zmlx_matmul_act", (int)act);
  ZMLX_TRY(zcat_check_dtype(op, "a", a, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_dtype(op, "b", b, ZCAT_FLOAT_DTYPES));
  if (bias) ZMLX_TRY(zcat_check_dtype(op, "bias", bias, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, "a", a, 2, names, others));
  char b1[300], b2[300];
  int na = zmlx_array_ndim(a), nb = zmlx_array_ndim(b);
  if (na < 2 || nb < 2)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "a is %s and b is %s: both need 2 dimensions",
                     zmlx_array_format(a, b1, sizeof b1), zmlx_array_format(b, b2, sizeof b2));
  int64_t ra = zmlx_array_dim(a, -2), ca = zmlx_array_dim(a, -1);
  int64_t rb = zmlx_array_dim(b, -2), cb = zmlx_array_dim(b, -1);
  sh->M = ta ? ca : ra;
  sh->K = ta ? ra : ca;
  sh->N = tb ? rb : cb;
  int64_t kb = tb ? cb : rb;
  sh->a_shared = na == 2 && nb > 2;
  sh->b_shared = nb == 2 && na > 2;
  int same = na == nb;
  for (int d = 0; same && d < na - 2; d++) same = zmlx_array_dim(a, d) == zmlx_array_dim(b, d);
  if (kb != sh->K || !(same || sh->a_shared || sh->b_shared))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "a is %s%s and b is %s%s: needs (..., M, K) x (..., K, N) with equal "
                     "leading sizes, or one of them 2-D",
                     zmlx_array_format(a, b1, sizeof b1), ta ? " (transposed)" : "",
                     zmlx_array_format(b, b2, sizeof b2), tb ? " (transposed)" : "");
  if (bias) ZMLX_TRY(zcat_check_vector(op, "bias", bias, sh->N, "the output's columns"));
  const zmlx_array *big = na >= nb ? a : b;
  sh->out_nd = zmlx_array_ndim(big);
  sh->batch = 1;
  for (int d = 0; d < sh->out_nd - 2; d++) {
    sh->out_shape[d] = zmlx_array_dim(big, d);
    sh->batch *= sh->out_shape[d];
  }
  sh->out_shape[sh->out_nd - 2] = sh->M;
  sh->out_shape[sh->out_nd - 1] = sh->N;
  return ZMLX_STATUS_OK;
}

static zmlx_status run(zmlx_array *a, zmlx_array *b, int ta, int tb, zmlx_array *bias,
                       zmlx_matmul_act act, const zl_shapes *sh, zmlx_array *out);

/* f16/bf16 on the CPU with OpenBLAS: sgemm on f32 copies, then bias,
 * activation and the one rounding to the dtype in the epilogue. */
static zmlx_status blas_half(zmlx_array *a, zmlx_array *b, int ta, int tb, zmlx_array *bias,
                             zmlx_matmul_act act, const zl_shapes *sh, zmlx_array *out) {
  zmlx_array *a32 = NULL, *b32 = NULL, *c32 = NULL;
  zmlx_status s = zmlx_array_astype(a, ZMLX_DTYPE_F32, &a32);
  if (!s) s = zmlx_array_astype(b, ZMLX_DTYPE_F32, &b32);
  if (!s) s = zmlx_array_empty(ZMLX_DTYPE_F32, sh->out_nd, sh->out_shape, zmlx_array_device(out), &c32);
  if (!s) s = run(a32, b32, ta, tb, NULL, ZMLX_MATMUL_ACT_NONE, sh, c32);
  if (!s) s = zl_epilogue(c32, bias, act, out);
  zmlx_array_release(a32);
  zmlx_array_release(b32);
  zmlx_array_release(c32);
  return s;
}

static zmlx_status run(zmlx_array *a, zmlx_array *b, int ta, int tb, zmlx_array *bias,
                       zmlx_matmul_act act, const zl_shapes *sh, zmlx_array *out) {
  if (zmlx_array_numel(out) == 0) return ZMLX_STATUS_OK;
  if (sh->K == 0) {
    ZMLX_TRY(zmlx_array_fill(out, 0));
    return zl_epilogue(out, bias, act, out);
  }
  zmlx_device dev = zmlx_array_device(out);
  zmlx_dtype t = zmlx_array_dtype(out);
  /* $ZMLX_MATMUL_FALLBACK=1: the run-time kernel only (tests use it). */
  int libs = !zmlx_env_flag("ZMLX_MATMUL_FALLBACK", 0);
  int blas = libs && dev.type == ZMLX_DEVICE_CPU && zl_have_blas();
  if (blas && t != ZMLX_DTYPE_F32 && t != ZMLX_DTYPE_F64)
    return blas_half(a, b, ta, tb, bias, act, sh, out);
  zl_gemm g = {.dtype = t, .batch = sh->batch, .M = sh->M, .N = sh->N, .K = sh->K, .c = out,
               .act = act};
  zmlx_array *ha = NULL, *hb = NULL, *hbias = NULL;
  zmlx_status s = operand(a, ta, sh->a_shared, &g.a, &ha);
  if (!s) s = operand(b, tb, sh->b_shared, &g.b, &hb);
  if (!s && bias) s = zmlx_array_contiguous(bias, &hbias);
  g.bias = hbias;
  /* Batches of row-major A rows that follow each other: one tall GEMM. */
  if (!s && sh->b_shared && !g.a.col && (g.batch == 1 || g.a.batch_stride == g.M * g.a.ld)) {
    g.M *= g.batch;
    g.batch = 1;
  }
  int done = 0;
  if (!s && libs && dev.type == ZMLX_DEVICE_CUDA) s = zl_cublaslt_gemm(&g, &done);
  if (!s && !done && blas) {
    s = zl_blas_gemm(&g);
    if (!s) s = zl_epilogue(out, g.bias, act, out);
    done = 1;
  }
  if (!s && !done) s = zl_fallback_gemm(&g);
  zmlx_array_release(ha);
  zmlx_array_release(hb);
  zmlx_array_release(hbias);
  return s;
}

zmlx_status zmlx_matmul(zmlx_array *a, zmlx_array *b, int trans_a, int trans_b,
                        zmlx_array *bias, zmlx_matmul_act act, zmlx_array **out) {
  char op[64];
  op_name(a, b, trans_a, trans_b, act, op, sizeof op);
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  zl_shapes sh;
  ZMLX_TRY(check(op, a, b, trans_a, trans_b, bias, act, &sh));
  zmlx_array *res = NULL;
  ZMLX_TRY(zmlx_array_empty_op(op, zmlx_array_dtype(a), sh.out_nd, sh.out_shape,
                               zmlx_array_device(a), &res));
  zmlx_status s = run(a, b, trans_a, trans_b, bias, act, &sh, res);
  if (s) {
    zmlx_array_release(res);
    return zmlx_fail_wrap(s, op);
  }
  *out = res;
  return ZMLX_STATUS_OK;
}
