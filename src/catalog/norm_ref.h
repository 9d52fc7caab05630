#ifndef ZMLX_CATALOG_NORM_REF_H
#define ZMLX_CATALOG_NORM_REF_H
/* Internal: f64 host references for the normalizations, written from the
 * textbook formulas and independent of the kernels (norm_entries.c and
 * tests/test_catalog_norm.c use them). */
#include <stdint.h>

/* One row of D: h given; w, b may be NULL (1 and 0). y gets
 * (h - mean) / sqrt(var + eps) * w + b (layernorm, biased variance) or
 * h / sqrt(mean(h^2) + eps) * w (rmsnorm). */
void zcat_norm_ref_row(int ln, const double *h, const double *w, const double *b, double eps,
                       int64_t D, double *y);
/* The same row's backward for the output gradient g: dh gets the
 * gradient of h (assigned); dw and db (may be NULL) are added to. */
void zcat_norm_ref_row_grad(int ln, const double *h, const double *w, double eps, int64_t D,
                            const double *g, double *dh, double *dw, double *db);

/* Philox-4x32-10 (Salmon et al., SC'11; the Random123 reference): the
 * 128-bit counter ctr under the 64-bit key, in place. */
void zcat_norm_ref_philox(uint32_t ctr[4], const uint32_t key[2]);
/* The dropout rule of zmlx_rmsnorm_dropout: 1 when element i is kept. */
int zcat_norm_ref_keep(uint64_t seed, uint64_t offset, int64_t i, double p);

#endif
