#ifndef ZMLX_TESTING_INTERNAL_H
#define ZMLX_TESTING_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "zmlx/testing.h"

/* seeds.c */
/* splitmix64 of a ^ b: derives independent seeds from one. */
uint64_t ztst_mix(uint64_t a, uint64_t b);
/* $ZMLX_TEST_SEED when set, else a new seed from the clock and a counter. */
uint64_t ztst_fresh_seed(void);

/* host_f64.c */
/* A new C-contiguous copy of a on the CPU in dtype. */
zmlx_status ztst_cpu_copy(zmlx_array *a, zmlx_dtype dtype, zmlx_array **out);
/* a's elements in C order as f64 (malloc'd, never NULL on success). */
zmlx_status ztst_read_f64(zmlx_array *a, double **out);
/* The host data of a contiguous f64 CPU array (NULL when empty). */
double *ztst_data_f64(zmlx_array *a);
/* "[1, 17]": the C-order index `flat` in a shape. */
const char *ztst_index_format(int ndim, const int64_t *shape, int64_t flat, char *buf,
                              size_t len);
/* "(3, 4)" of a check shape. */
const char *ztst_shape_format(const zmlx_check_shape *s, char *buf, size_t len);

/* compare.c: one output against its reference, as zmlx_check_matches
 * documents. score <= 1 passes; it is the larger of the two error ratios
 * (infinite for NaN). worst: the element with the largest |got - ref| (or
 * the first NaN). */
typedef struct ztst_cmp {
  double rel_err, max_abs_err, score;
  double rel_allowed, max_allowed;
  int64_t worst;
  double got, ref;
  int nan;
} ztst_cmp;
void ztst_compare(const double *got, const double *ref, int64_t n, double tol, double atol,
                  ztst_cmp *out);
/* The same, with the tolerance relative to max(|ref[k]|, size[k]) rather
 * than |ref[k]| (size NULL: ztst_compare). size[k] is the magnitude of the
 * terms that ref[k] is a signed sum of: where they cancel, rounding in the
 * dtype under test is relative to them, not to what is left. */
void ztst_compare_sized(const double *got, const double *ref, const double *size, int64_t n,
                        double tol, double atol, ztst_cmp *out);

#endif
