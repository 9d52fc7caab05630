/* The comparison behind zmlx_check_matches: a relative norm, which sees
 * errors spread over the output, and a max-abs test scaled by the
 * reference's largest value, which sees a few wrong elements that the
 * norm would average away. NaN matches NaN, as numpy's assert_allclose
 * has it: a gradient at a degenerate point (std of equal values) is NaN
 * in the reference too. A size (ztst_compare_sized) stands in for |ref|
 * where it is larger. */
#include <math.h>

#include "testing/testing_internal.h"

static double ratio(double err, double allowed) {
  if (isnan(err)) return INFINITY;
  return allowed > 0 ? err / allowed : err > 0 ? INFINITY : 0;
}

void ztst_compare(const double *got, const double *ref, int64_t n, double tol, double atol,
                  ztst_cmp *out) {
  ztst_compare_sized(got, ref, NULL, n, tol, atol, out);
}

void ztst_compare_sized(const double *got, const double *ref, const double *size, int64_t n,
                        double tol, double atol, ztst_cmp *out) {
  double num = 0, den = 0, max_d = 0, max_ref = 0;
  *out = (ztst_cmp){.worst = -1};
  for (int64_t k = 0; k < n; k++) {
    if (isnan(got[k]) && isnan(ref[k])) continue;
    if (isnan(got[k]) || isnan(ref[k])) {
      if (!out->nan) *out = (ztst_cmp){.worst = k, .got = got[k], .ref = ref[k], .nan = 1};
      continue;
    }
    /* Equal values (equal infinities too) differ by nothing. */
    double d = got[k] == ref[k] ? 0 : fabs(got[k] - ref[k]);
    if (isfinite(ref[k])) {
      double m = size && isfinite(size[k]) ? fmax(fabs(ref[k]), size[k]) : fabs(ref[k]);
      den += m * m;
      max_ref = fmax(max_ref, m);
    }
    num += d * d;
    if (!out->nan && (out->worst < 0 || d > max_d)) {
      out->worst = k;
      out->got = got[k];
      out->ref = ref[k];
    }
    max_d = fmax(max_d, d);
  }
  int nan = out->nan;
  out->rel_err = den > 0 ? sqrt(num / den) : sqrt(num);
  out->max_abs_err = max_d;
  out->rel_allowed = tol * sqrt(den) + atol * sqrt((double)n);
  out->max_allowed = tol * max_ref + atol;
  out->score = nan ? INFINITY
                   : fmax(ratio(sqrt(num), out->rel_allowed), ratio(max_d, out->max_allowed));
}
