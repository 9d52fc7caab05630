/* f64 references for the normalizations (see norm_ref.h). The gradients
 * are the chain rule written out term by term, not the kernels' algebra:
 * with c = h - mean (h itself for rmsnorm) and r = 1 / sqrt(var + eps),
 *   d(c_j r)/dh_k = r (delta_jk - [ln] / D) - c_j c_k r^3 / D,
 * so dh_k = r gw_k - [ln] r sum(gw) / D - c_k r^3 sum_j(gw_j c_j) / D. */
#include "catalog/norm_ref.h"

#include <math.h>

/* mean (0 for rmsnorm) and r of a row. */
static void stats(int ln, const double *h, double eps, int64_t D, double *mean, double *r) {
  double m = 0, v = 0;
  if (ln) {
    for (int64_t j = 0; j < D; j++) m += h[j];
    m /= (double)D;
  }
  for (int64_t j = 0; j < D; j++) v += (h[j] - m) * (h[j] - m);
  *mean = m;
  *r = 1 / sqrt(v / (double)D + eps);
}

void zcat_norm_ref_row(int ln, const double *h, const double *w, const double *b, double eps,
                       int64_t D, double *y) {
  double m, r;
  if (D == 0) return;
  stats(ln, h, eps, D, &m, &r);
  for (int64_t j = 0; j < D; j++) y[j] = (h[j] - m) * r * (w ? w[j] : 1) + (b ? b[j] : 0);
}

void zcat_norm_ref_row_grad(int ln, const double *h, const double *w, double eps, int64_t D,
                            const double *g, double *dh, double *dw, double *db) {
  double m, r, sum_gw = 0, sum_gwc = 0;
  if (D == 0) return;
  stats(ln, h, eps, D, &m, &r);
  for (int64_t j = 0; j < D; j++) {
    double gw = g[j] * (w ? w[j] : 1);
    sum_gw += gw;
    sum_gwc += gw * (h[j] - m);
  }
  for (int64_t k = 0; k < D; k++) {
    double c = h[k] - m, gw = g[k] * (w ? w[k] : 1);
    if (!ln && D == 1) /* d/dh of h / sqrt(h^2 + eps), without cancellation */
      dh[k] = gw * eps * r * r * r;
    else
      dh[k] = r * gw - (ln ? r * sum_gw / (double)D : 0) - c * r * r * r * sum_gwc / (double)D;
    if (dw) dw[k] += g[k] * c * r;
    if (db) db[k] += g[k];
  }
}

void zcat_norm_ref_philox(uint32_t ctr[4], const uint32_t key[2]) {
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    if (round) {
      k0 += 0x9E3779B9u; /* the Weyl key schedule */
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0], p1 = (uint64_t)0xCD9E8D57u * ctr[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t c1 = ctr[1], c3 = ctr[3];
    ctr[0] = hi1 ^ c1 ^ k0;
    ctr[1] = lo1;
    ctr[2] = hi0 ^ c3 ^ k1;
    ctr[3] = lo0;
  }
}

int zcat_norm_ref_keep(uint64_t seed, uint64_t offset, int64_t i, double p) {
  uint64_t c = offset + (uint64_t)i / 4;
  uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  zcat_norm_ref_philox(ctr, key);
  /* A uniform in [0, 1) from the word's top 24 bits. */
  return (double)(ctr[i % 4] >> 8) / 16777216.0 >= p;
}
