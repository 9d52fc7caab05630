/* Rotary position embeddings: argument checks and launches of the rope
 * kernel (rope_kernel.c). rope, rope_qk and their backwards write new
 * arrays; rope_kv_cache writes into the caches. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/cat_internal.h"
#include "catalog/rope_internal.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "zmlx/catalog_rope.h"

#define BIT(t) (1u << ZMLX_DTYPE_##t)

/* One part of a launch: its input, output and sizes (R = 0: copied). */
typedef struct part {
  zmlx_array *x, *y;
  int64_t H, D, R;
} part;

static int same_device(zmlx_device a, zmlx_device b) {
  return a.type == b.type && a.index == b.index;
}

static zmlx_status on_device(const char *op, const char *na, zmlx_array *a, const char *nb,
                             zmlx_array *b) {
  if (!b || same_device(zmlx_array_device(a), zmlx_array_device(b))) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op, "%s is %s but %s is %s", na,
                   zmlx_array_format(a, b1, sizeof b1), nb, zmlx_array_format(b, b2, sizeof b2));
}

/* The spec against x: inv_freq (F,) with 2F <= D, positions with x's
 * leading shape, one device, a known layout, a finite scale. */
static zmlx_status check_spec(const char *op, const zmlx_rope_spec *r, const char *xn,
                              zmlx_array *x) {
  char b1[300], b2[300];
  if (!r) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "rope spec is NULL");
  if ((unsigned)r->layout > ZMLX_ROPE_INTERLEAVED)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "layout %d is not a zmlx_rope_layout",
                     (int)r->layout);
  if (!isfinite(r->scale))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "scale %g is not finite", r->scale);
  ZMLX_TRY(zcat_check_dtype(op, "inv_freq", r->inv_freq, BIT(F32) | BIT(F64)));
  ZMLX_TRY(on_device(op, xn, x, "inv_freq", r->inv_freq));
  int nd = zmlx_array_ndim(x);
  int64_t F = zmlx_array_dim(r->inv_freq, 0), D = zmlx_array_dim(x, -1);
  if (zmlx_array_ndim(r->inv_freq) != 1 || 2 * F > D)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "inv_freq is %s but %s is %s: needs (F,) with 2F <= the head size",
                     zmlx_array_format(r->inv_freq, b1, sizeof b1), xn,
                     zmlx_array_format(x, b2, sizeof b2));
  zmlx_array *p = r->positions;
  if (!p) return ZMLX_STATUS_OK;
  ZMLX_TRY(zcat_check_dtype(op, "positions", p, BIT(I32) | BIT(I64)));
  ZMLX_TRY(on_device(op, xn, x, "positions", p));
  int same = zmlx_array_ndim(p) == nd - 2;
  for (int d = 0; same && d < nd - 2; d++) same = zmlx_array_dim(p, d) == zmlx_array_dim(x, d);
  if (!same)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "positions is %s but %s is %s: positions takes %s's leading shape (...)",
                     zmlx_array_format(p, b1, sizeof b1), xn, zmlx_array_format(x, b2, sizeof b2),
                     xn);
  return ZMLX_STATUS_OK;
}

/* x: a float array (..., H, D). */
static zmlx_status check_x(const char *op, const char *name, zmlx_array *x) {
  ZMLX_TRY(zcat_check_dtype(op, name, x, ZCAT_FLOAT_DTYPES));
  char b[300];
  if (zmlx_array_ndim(x) < 2)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op, "%s is %s: needs (..., heads, head size)",
                     name, zmlx_array_format(x, b, sizeof b));
  /* The kernel counts heads and head sizes in 32 bits. */
  if (zmlx_array_dim(x, -1) > INT32_MAX || zmlx_array_dim(x, -2) > INT32_MAX)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "%s is %s: heads and head size must be below 2^31", name,
                     zmlx_array_format(x, b, sizeof b));
  return ZMLX_STATUS_OK;
}

static int64_t tokens(const zmlx_array *x) {
  int64_t n = 1;
  for (int d = 0; d < zmlx_array_ndim(x) - 2; d++) n *= zmlx_array_dim(x, d);
  return n;
}

/* The vector path: dense, aligned parts whose sizes split into vectors. */
static int fast_ok(const part *p, int vec, zmlx_rope_layout layout) {
  if (!p->x) return 1;
  int64_t rq = layout == ZMLX_ROPE_HALF ? 2 * vec : vec;
  uintptr_t ax = (uintptr_t)zmlx_array_data(p->x), ay = (uintptr_t)zmlx_array_data(p->y);
  return zmlx_array_is_contiguous(p->x) && zmlx_array_is_contiguous(p->y) && ax % 16 == 0 &&
         ay % 16 == 0 && p->D % vec == 0 && p->R % rq == 0;
}

/* Heads per work item of the vector path: ZR_HPT, or $ZMLX_TUNE_ROPE_HPT
 * (1, 2, 4 or 8) to try others on a GPU. */
static int heads_per_item(void) {
  const char *v = zmlx_env("ZMLX_TUNE_ROPE_HPT");
  int h = v ? atoi(v) : ZR_HPT;
  return h == 1 || h == 2 || h == 4 || h == 8 ? h : ZR_HPT;
}

static int64_t items(const part *p, int fast, int vec, int hpt, zmlx_rope_layout layout,
                     int64_t n) {
  if (!p->x || !p->H || !p->D) return 0;
  if (!fast) return n * p->H * (p->R / 2 + p->D - p->R);
  int64_t crot = layout == ZMLX_ROPE_HALF ? p->R / (2 * vec) : p->R / vec;
  return n * ((p->H + hpt - 1) / hpt) * (crot + (p->D - p->R) / vec);
}

/* One launch over parts a and b (b.x NULL: none). Token count, positions
 * and the leading shape come from a.x. */
static zmlx_status launch(const zmlx_rope_spec *r, part a, part b, int cache, int64_t rows_out,
                          double sign) {
  zmlx_dtype t = zmlx_array_dtype(a.x);
  int vec = (int)(16 / zmlx_dtype_size(t));
  int fast = fast_ok(&a, vec, r->layout) && fast_ok(&b, vec, r->layout);
  int64_t n = tokens(a.x), nd = zmlx_array_ndim(a.x);
  int64_t tlen = nd > 2 ? zmlx_array_dim(a.x, (int)nd - 3) : 1;
  if (tlen < 1) tlen = 1;
  int hpt = heads_per_item();
  int64_t ia = items(&a, fast, vec, hpt, r->layout, n), ib = items(&b, fast, vec, hpt, r->layout, n);
  zmlx_array *dummy = NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  if (!b.x) {
    /* No second part: the kernel still takes one; give it an empty one. */
    int64_t zero = 0;
    s = zmlx_array_empty(t, 1, &zero, zmlx_array_device(a.x), &dummy);
    b.x = a.x;
    b.y = dummy;
  }
  zmlx_kernel *k = NULL;
  if (!s) s = zcat_rope_kernel(&k);
  if (!s) {
    zmlx_array *in[4] = {a.x, b.x, r->inv_freq, r->positions ? r->positions : r->inv_freq};
    zmlx_array *out[2] = {a.y, b.y};
    zmlx_template_arg tp[5] = {
        {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64},
        {"LAYOUT", ZMLX_TEMPLATE_INT, r->layout},
        {"POS", ZMLX_TEMPLATE_BOOL, r->positions != NULL},
        {"VEC", ZMLX_TEMPLATE_INT, vec},
        {"HPT", ZMLX_TEMPLATE_INT, hpt},
    };
    double sc[ZR_N_SCALARS] = {(double)ia, (double)a.H, (double)a.D, (double)a.R,
                               (double)(dummy ? 0 : b.H), (double)b.D, (double)b.R,
                               (double)tlen, (double)r->offset, (double)rows_out,
                               r->scale == 0 ? 1.0 : r->scale, sign, fast, cache};
    s = zcat_raw_launch(k, 4, in, 2, out, ia + ib, 5, tp, ZR_N_SCALARS, sc);
  }
  zmlx_array_release(dummy);
  return s;
}

/* A new C-contiguous array shaped and typed like x. */
static zmlx_status like(zmlx_array *x, zmlx_array **out) {
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < zmlx_array_ndim(x); d++) sh[d] = zmlx_array_dim(x, d);
  return zmlx_array_empty(zmlx_array_dtype(x), zmlx_array_ndim(x), sh, zmlx_array_device(x), out);
}

static zmlx_status rotate(const char *op, const zmlx_rope_spec *r, const char *xn, zmlx_array *x,
                          double sign, zmlx_array **out) {
  ZMLX_TRY(zcat_check_out(op, "out", out));
  *out = NULL;
  ZMLX_TRY(check_x(op, xn, x));
  ZMLX_TRY(check_spec(op, r, xn, x));
  zmlx_array *y = NULL;
  zmlx_status s = like(x, &y);
  int64_t F = zmlx_array_dim(r->inv_freq, 0);
  part a = {x, y, zmlx_array_dim(x, -2), zmlx_array_dim(x, -1), 2 * F}, none = {0};
  if (!s) s = launch(r, a, none, 0, 0, sign);
  if (s) {
    zmlx_array_release(y);
    return zmlx_fail_wrap(s, op);
  }
  *out = y;
  return s;
}

zmlx_status zmlx_rope(const zmlx_rope_spec *r, zmlx_array *x, zmlx_array **out) {
  return rotate("rope", r, "x", x, 1.0, out);
}

zmlx_status zmlx_rope_backward(const zmlx_rope_spec *r, zmlx_array *dy, zmlx_array **dx) {
  return rotate("rope", r, "dy", dy, -1.0, dx);
}

/* q (..., Hq, D) and k (..., Hk, D): one dtype, device, leading shape and D. */
static zmlx_status check_qk(const char *op, const char *qn, zmlx_array *q, const char *kn,
                            zmlx_array *k) {
  ZMLX_TRY(check_x(op, qn, q));
  ZMLX_TRY(check_x(op, kn, k));
  const char *names[1] = {kn};
  ZMLX_TRY(zcat_check_like(op, qn, q, 1, names, &k));
  int nd = zmlx_array_ndim(q), same = zmlx_array_ndim(k) == nd;
  for (int d = 0; same && d < nd; d++)
    same = d == nd - 2 || zmlx_array_dim(q, d) == zmlx_array_dim(k, d);
  if (same) return ZMLX_STATUS_OK;
  char b1[300], b2[300];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "%s is %s but %s is %s: they may differ only in their number of heads", qn,
                   zmlx_array_format(q, b1, sizeof b1), kn, zmlx_array_format(k, b2, sizeof b2));
}

static zmlx_status rotate_qk(const zmlx_rope_spec *r, const char *qn, zmlx_array *q,
                             const char *kn, zmlx_array *k, double sign, zmlx_array **qo,
                             zmlx_array **ko) {
  const char *op = "rope_qk";
  ZMLX_TRY(zcat_check_out(op, "q_out", qo));
  ZMLX_TRY(zcat_check_out(op, "k_out", ko));
  *qo = *ko = NULL;
  ZMLX_TRY(check_qk(op, qn, q, kn, k));
  ZMLX_TRY(check_spec(op, r, qn, q));
  zmlx_array *yq = NULL, *yk = NULL;
  zmlx_status s = like(q, &yq);
  if (!s) s = like(k, &yk);
  int64_t R = 2 * zmlx_array_dim(r->inv_freq, 0), D = zmlx_array_dim(q, -1);
  part a = {q, yq, zmlx_array_dim(q, -2), D, R}, b = {k, yk, zmlx_array_dim(k, -2), D, R};
  if (!s) s = launch(r, a, b, 0, 0, sign);
  if (s) {
    zmlx_array_release(yq);
    zmlx_array_release(yk);
    return zmlx_fail_wrap(s, op);
  }
  *qo = yq;
  *ko = yk;
  return s;
}

zmlx_status zmlx_rope_qk(const zmlx_rope_spec *r, zmlx_array *q, zmlx_array *k,
                         zmlx_array **q_out, zmlx_array **k_out) {
  return rotate_qk(r, "q", q, "k", k, 1.0, q_out, k_out);
}

zmlx_status zmlx_rope_qk_backward(const zmlx_rope_spec *r, zmlx_array *dq_out,
                                  zmlx_array *dk_out, zmlx_array **dq, zmlx_array **dk) {
  return rotate_qk(r, "dq_out", dq_out, "dk_out", dk_out, -1.0, dq, dk);
}

/* A cache (M, Hk, size) for tokens (T, Hk, size): dtype, device, sizes, C order. */
static zmlx_status check_cache(const char *op, const char *cn, zmlx_array *c, const char *xn,
                               zmlx_array *x) {
  const char *names[1] = {cn};
  ZMLX_TRY(zcat_check_dtype(op, cn, c, ZCAT_FLOAT_DTYPES));
  ZMLX_TRY(zcat_check_like(op, xn, x, 1, names, &c));
  char b1[300], b2[300];
  if (zmlx_array_ndim(c) != 3 || zmlx_array_dim(c, 1) != zmlx_array_dim(x, 1) ||
      zmlx_array_dim(c, 2) != zmlx_array_dim(x, 2))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "%s is %s but %s is %s: needs (rows, %lld, %lld)", cn,
                     zmlx_array_format(c, b1, sizeof b1), xn, zmlx_array_format(x, b2, sizeof b2),
                     (long long)zmlx_array_dim(x, 1), (long long)zmlx_array_dim(x, 2));
  if (!zmlx_array_is_contiguous(c))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%s is %s: must be C-contiguous", cn,
                     zmlx_array_format(c, b1, sizeof b1));
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_rope_kv_cache(const zmlx_rope_spec *r, zmlx_array *k, zmlx_array *v,
                               zmlx_array *k_cache, zmlx_array *v_cache) {
  const char *op = "rope_kv_cache";
  char b1[300], b2[300];
  ZMLX_TRY(check_x(op, "k", k));
  ZMLX_TRY(check_x(op, "v", v));
  const char *names[1] = {"v"};
  ZMLX_TRY(zcat_check_like(op, "k", k, 1, names, &v));
  if (zmlx_array_ndim(k) != 3 || zmlx_array_ndim(v) != 3 ||
      zmlx_array_dim(k, 0) != zmlx_array_dim(v, 0) || zmlx_array_dim(k, 1) != zmlx_array_dim(v, 1))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "k is %s and v is %s: needs (T, Hk, D) and (T, Hk, Dv)",
                     zmlx_array_format(k, b1, sizeof b1), zmlx_array_format(v, b2, sizeof b2));
  ZMLX_TRY(check_spec(op, r, "k", k));
  ZMLX_TRY(check_cache(op, "k_cache", k_cache, "k", k));
  ZMLX_TRY(check_cache(op, "v_cache", v_cache, "v", v));
  if (zmlx_array_dim(k_cache, 0) != zmlx_array_dim(v_cache, 0))
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "k_cache is %s but v_cache is %s: they need one number of rows",
                     zmlx_array_format(k_cache, b1, sizeof b1),
                     zmlx_array_format(v_cache, b2, sizeof b2));
  if (k_cache == v_cache || zmlx_array_data(k_cache) == zmlx_array_data(v_cache))
    if (zmlx_array_numel(k_cache) > 0)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "k_cache and v_cache are the same memory");
  int64_t T = zmlx_array_dim(k, 0), M = zmlx_array_dim(k_cache, 0);
  if (!r->positions && (r->offset < 0 || r->offset > M - T))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "offset %lld with %lld tokens does not fit the caches' %lld rows",
                     (long long)r->offset, (long long)T, (long long)M);
  int64_t R = 2 * zmlx_array_dim(r->inv_freq, 0);
  part a = {k, k_cache, zmlx_array_dim(k, 1), zmlx_array_dim(k, 2), R},
       b = {v, v_cache, zmlx_array_dim(v, 1), zmlx_array_dim(v, 2), 0};
  zmlx_status s = launch(r, a, b, 1, M, 1.0);
  return s ? zmlx_fail_wrap(s, op) : s;
}
