#ifndef ZMLX_CATALOG_NORM_KERNELS_H
#define ZMLX_CATALOG_NORM_KERNELS_H
/* Internal: the row-normalization kernels behind zmlx/catalog_norm.h.
 * norm.c checks the arguments and describes a job; norm_kernels.c plans
 * the launch and runs the kernels whose source is in norm_src.c. */
#include <stdint.h>

#include "zmlx/kernel.h"

/* One normalization over the rows of x (..., D). Arrays are borrowed and
 * already checked (one dtype and device, matching shapes); res, w, b, dh
 * may be NULL. */
typedef struct zcat_norm_job {
  const char *op;          /* the catalog name, for errors */
  int ln;                  /* layernorm, else rmsnorm */
  zmlx_array *x, *res, *w, *b;
  zmlx_array *dy, *dh;     /* backward: gradients of out and of the sum */
  double eps;
  int drop;                /* dropout on the output */
  double p;
  uint64_t seed, offset;
} zcat_norm_job;

/* *y: (..., D) new; *h: x + res (new) when res is given, else left as is
 * (h may be NULL then). */
zmlx_status zcat_norm_forward(const zcat_norm_job *j, zmlx_array **y, zmlx_array **h);
/* *dx new; *dw, *db: (D,) new when the pointer is non-NULL (w, b given). */
zmlx_status zcat_norm_backward(const zcat_norm_job *j, zmlx_array **dx, zmlx_array **dw,
                               zmlx_array **db);
/* 1 when $ZMLX_TUNE_NORM_LN_OWN=1: the layernorm forward runs on these
 * kernels instead of zmlx_layernorm (a map_reduce). */
int zcat_norm_ln_own(void);
/* Frees the kernels (zcat_shutdown calls it). */
void zcat_norm_shutdown(void);

/* Test hook: while fn is set, every launch is planned for CUDA and handed
 * to fn instead of running, with the outputs it would write (host arrays
 * when the inputs are), so that a test can compile the exact CUDA sources
 * without a GPU, or run them some other way. Not thread-safe: for
 * single-threaded tests. */
typedef zmlx_status (*zcat_norm_dry_fn)(void *ctx, zmlx_kernel *k, int n_in,
                                        zmlx_array *const *in, const zmlx_launch_config *cfg,
                                        int n_out, zmlx_array *const *out);
void zcat_norm_set_dry(zcat_norm_dry_fn fn, void *ctx);

/* The source texts (norm_src.c). */
const char *zcat_norm_header(void);
const char *zcat_norm_loads(void);
const char *zcat_norm_fwd_body(void);
const char *zcat_norm_bwd_body(void);
const char *zcat_norm_wsum_body(void);

#endif
