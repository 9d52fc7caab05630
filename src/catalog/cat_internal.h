#ifndef ZMLX_CATALOG_CAT_INTERNAL_H
#define ZMLX_CATALOG_CAT_INTERNAL_H
/* Internal: what the catalog's ops share. Argument checks whose errors
 * name the op (the catalog name), and the process-wide cache of the
 * elementwise kernels behind the ops. */
#include "zmlx/elementwise.h"
#include "zmlx/reduce.h"

/* The float dtypes a catalog op takes unless it says otherwise. */
#define ZCAT_DTYPE_BIT(t) (1u << (t))
#define ZCAT_FLOAT_DTYPES                                                               \
  (ZCAT_DTYPE_BIT(ZMLX_DTYPE_F32) | ZCAT_DTYPE_BIT(ZMLX_DTYPE_F16) |                      \
   ZCAT_DTYPE_BIT(ZMLX_DTYPE_BF16) | ZCAT_DTYPE_BIT(ZMLX_DTYPE_F64))

/* ---- checks (cat_check.c); each fails with a message naming op ------- */
/* a is non-NULL and its dtype is in `dtypes`. */
zmlx_status zcat_check_dtype(const char *op, const char *name, const zmlx_array *a,
                           unsigned dtypes);
/* The n arrays (NULL entries skipped) share a's dtype and device. */
zmlx_status zcat_check_like(const char *op, const char *name, const zmlx_array *a, int n,
                          const char *const *names, zmlx_array *const *arrays);
/* b has exactly a's shape. */
zmlx_status zcat_check_same_shape(const char *op, const char *na, const zmlx_array *a,
                                const char *nb, const zmlx_array *b);
/* b is 1-D of length len. */
zmlx_status zcat_check_vector(const char *op, const char *nb, const zmlx_array *b, int64_t len,
                            const char *what);
/* A non-NULL result pointer. */
zmlx_status zcat_check_out(const char *op, const char *name, const void *out);

/* ---- kernels (cat_kernels.c) ------------------------------------------
 * A slot holds one elementwise kernel per compute type (f32, f64), built
 * on first use from a description written for either: the expression and
 * grad expressions call libm as ZC(exp) (expf / exp), the prelude's
 * helpers as ZH(silu) (zmlx_siluf / zmlx_silud) and write constants as
 * ZK(1.702) and locals as ZT, which the header defines for the compute
 * type. Slots live for the process; zcat_shutdown frees
 * every kernel built. */
typedef struct zcat_ew_slot {
  zmlx_elementwise *k[2];
  char *check;  /* the expressions as one block, for zcat_check_body */
} zcat_ew_slot;

/* The kernel of desc for inputs of dtype t (f64: f64 compute). */
zmlx_status zcat_ew_get(zcat_ew_slot *slot, const zmlx_elementwise_desc *desc, zmlx_dtype t,
                      zmlx_elementwise **out);
void zcat_shutdown(void);

/* For compile checks where there is a compiler but no device (NVRTC on
 * CI): a raw kernel body, with input zcat_in and output zcat_out, that
 * runs the expressions and gradient expressions of every kernel built so
 * far, each in its own block; and the header it needs for the compute
 * type (f64 or f32). *body is malloc'd; NULL when nothing was built. */
zmlx_status zcat_check_body(int f64, char **body, const char **header);

/* Sum over every axis but the last: (..., D) -> (D,), a's dtype. A 1-D a
 * is copied. */
zmlx_status zcat_sum_rows(zmlx_array *a, zmlx_array **out);

#endif
