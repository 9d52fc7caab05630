/* The loss family's catalog entries: softmax cross-entropy per row and
 * its mean, f64 references from the definition (max-shifted logsumexp),
 * runners. The entries' default ignore_index is 1, so that random targets
 * hit it. */
#include <math.h>
#include <stdlib.h>

#include "catalog/registry.h"
#include "zmlx/catalog_loss.h"

enum { K_CE, K_CE_MEAN };

static zmlx_cross_entropy_opts opts_of(const double *p) {
  zmlx_cross_entropy_opts o = {(int64_t)p[0], p[1], p[2]};
  return o;
}

typedef struct row_stats {
  double lse, sx;
} row_stats;

/* An empty row's logsumexp is -inf. */
static row_stats stats(const double *x, int64_t V) {
  double m = -INFINITY, s = 0, sx = 0;
  for (int64_t j = 0; j < V; j++) m = fmax(m, x[j]);
  for (int64_t j = 0; j < V; j++) {
    s += exp(x[j] - m);
    sx += x[j];
  }
  row_stats r = {V ? m + log(s) : -INFINITY, sx};
  return r;
}

static int64_t n_rows(const zcat_host_call *c, int64_t *V) {
  const zcat_tensor *x = &c->in[0];
  *V = x->shape[x->ndim - 1];
  return c->in[1].n;
}

/* Each row's loss (0 when ignored); returns the count of rows kept. */
static int64_t losses(const zcat_host_call *c, double *loss, double *lse) {
  int64_t V, rows = n_rows(c, &V), kept = 0;
  double eps = c->p[1], z = c->p[2];
  for (int64_t r = 0; r < rows; r++) {
    const double *x = c->in[0].v + r * V;
    row_stats st = stats(x, V);
    int64_t t = (int64_t)c->in[1].v[r];
    if (lse) lse[r] = st.lse;
    if (t == (int64_t)c->p[0]) {
      loss[r] = 0;
      continue;
    }
    kept++;
    loss[r] = st.lse - (1 - eps) * x[t] - eps / (double)V * st.sx + z * st.lse * st.lse;
  }
  return kept;
}

static void ref(const zcat_host_call *c) {
  if (c->e->kind == K_CE) {
    losses(c, c->out[0].v, c->out[1].v);
    return;
  }
  int64_t V, rows = n_rows(c, &V);
  double *loss = calloc((size_t)rows + 1, sizeof *loss), sum = 0;
  if (!loss) return;
  int64_t kept = losses(c, loss, NULL);
  for (int64_t r = 0; r < rows; r++) sum += loss[r];
  c->out[0].v[0] = sum / (double)kept;
  free(loss);
}

static void ref_grad(const zcat_host_call *c) {
  int64_t V, rows = n_rows(c, &V), kept = 0;
  double eps = c->p[1], z = c->p[2];
  int64_t ii = (int64_t)c->p[0];
  for (int64_t r = 0; r < rows; r++) kept += (int64_t)c->in[1].v[r] != ii;
  for (int64_t r = 0; r < rows; r++) {
    const double *x = c->in[0].v + r * V;
    double *dx = c->din[0].v + r * V;
    row_stats st = stats(x, V);
    int64_t t = (int64_t)c->in[1].v[r];
    double dl = c->e->kind == K_CE ? c->dout[0].v[r] : c->dout[0].v[0] / (double)kept;
    double dlse = c->e->kind == K_CE ? c->dout[1].v[r] : 0;
    if (t == ii) dl = 0;
    for (int64_t j = 0; j < V; j++) {
      double p = exp(x[j] - st.lse);
      dx[j] += dl * (p * (1 + 2 * z * st.lse) - (1 - eps) * (j == t) - eps / (double)V) + dlse * p;
    }
  }
}

static zmlx_status run(const zcat_dev_call *c) {
  zmlx_cross_entropy_opts o = opts_of(c->p);
  if (c->e->kind == K_CE)
    return zmlx_cross_entropy(c->in[0], c->in[1], &o, &c->out[0], &c->out[1]);
  return zmlx_cross_entropy_mean(c->in[0], c->in[1], &o, &c->out[0], NULL);
}

/* The backward needs the forward's lse: run it first, unless the caller
 * kept it (c->saved). */
static zmlx_status run_grad(const zcat_dev_call *c) {
  zmlx_cross_entropy_opts o = opts_of(c->p);
  zmlx_array *loss = NULL, *lse = c->saved ? zmlx_array_retain(*c->saved) : NULL;
  zmlx_status s = ZMLX_STATUS_OK;
  int ce = c->e->kind == K_CE;
  if (!lse) {
    s = ce ? zmlx_cross_entropy(c->in[0], c->in[1], &o, &loss, &lse)
           : zmlx_cross_entropy_mean(c->in[0], c->in[1], &o, &loss, &lse);
    if (!s && c->saved) *c->saved = zmlx_array_retain(lse);
  }
  if (!s && ce)
    s = zmlx_cross_entropy_backward(c->in[0], c->in[1], lse, c->dout[0], c->dout[1], &o,
                                    &c->din[0]);
  else if (!s)
    s = zmlx_cross_entropy_mean_backward(c->in[0], c->in[1], lse, c->dout[0], &o, &c->din[0]);
  zmlx_array_release(loss);
  zmlx_array_release(lse);
  return s;
}

/* V=4097: rows start at every alignment (heads and tails); V=20000:
 * several chunks a row on the CPU too. */
static const char *const cases[] = {"4 V=7",
                                    "- V=1",
                                    "- V=5",
                                    "3x5 V=33",
                                    "0 V=16",
                                    "2 V=20000",
                                    "5 V=4097 label_smoothing=0 z_loss=0",
                                    "6 V=9 ignore_index=-100",
                                    "4 V=0 ignore_index=0",
                                    "9 V=64 ~logits",
                                    "4 V=64 @logits",
                                    NULL};
/* Every row ignored has no mean (NaN): no single-row cases. */
static const char *const mean_cases[] = {"6 V=7",     "3x5 V=33",
                                         "2 V=20000", "7 V=4097 label_smoothing=0",
                                         "5 V=9 ignore_index=-100 z_loss=0", "9 V=64 ~logits",
                                         "4 V=64 @logits", NULL};
static const char *const full_cases[] = {"64 V=32000", "3 V=151936", "1000 V=1025", NULL};
static const char *const bad[] = {"logits:4x7 targets:5 => SHAPE_MISMATCH",
                                  "logits:- targets:- => SHAPE_MISMATCH",
                                  "logits:4x7 targets:4 label_smoothing=2 => INVALID_ARGUMENT",
                                  "logits:4x7 targets:4 z_loss=-1 => INVALID_ARGUMENT", NULL};

#define LOGITS {"logits", "...,V", ZCAT_GRAD, -8, 8}
#define TARGETS(T) {"targets", "...", ZCAT_INDEX, 0, 0, "V", T}
#define ROW(NAME) {NAME, "...", ZCAT_FIXED, 0, 0, NULL, ZMLX_DTYPE_F32}
#define PARAMS .n_params = 3, .params = {{"ignore_index", 1}, {"label_smoothing", 0.1}, {"z_loss", 1e-3}}
/* loss = lse - x[t] + ... is a difference of f32 values near 10: a small
 * loss (a confident row) keeps an absolute error of their last bits. */
#define ATOL .atol = 1e-6

static const zcat_entry entries[] = {
    {.name = "cross_entropy", .family = "loss",
     .summary = "softmax cross-entropy per row, streamed over the vocabulary; ignore_index, "
                "label smoothing, z-loss; f32 loss and lse",
     .api = "zmlx_cross_entropy, zmlx_cross_entropy_backward", .kind = K_CE, .n_in = 2,
     .n_out = 2, .in = {LOGITS, TARGETS(ZMLX_DTYPE_I64)}, .out = {ROW("loss"), ROW("lse")},
     PARAMS, .dtypes = ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16),
     .backends = ZCAT_ALL_BACKENDS, .ref = ref, .ref_grad = ref_grad, .run = run,
     .run_grad = run_grad, .cases = cases, .full_cases = full_cases, .bad = bad,
     .perf = "4096 V=151936", ATOL},
    {.name = "cross_entropy_mean", .family = "loss",
     .summary = "softmax cross-entropy averaged over the rows not ignored (i32 targets here)",
     .api = "zmlx_cross_entropy_mean, zmlx_cross_entropy_mean_backward", .kind = K_CE_MEAN,
     .n_in = 2, .n_out = 1, .in = {LOGITS, TARGETS(ZMLX_DTYPE_I32)},
     .out = {{"mean", "", ZCAT_FIXED, 0, 0, NULL, ZMLX_DTYPE_F32}}, PARAMS,
     .dtypes = ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16), .backends = ZCAT_ALL_BACKENDS,
     .ref = ref, .ref_grad = ref_grad, .run = run, .run_grad = run_grad, .cases = mean_cases,
     .full_cases = full_cases, .bad = bad, .perf = "4096 V=151936", ATOL},
};

const zcat_family zcat_family_loss = {"loss", "Losses", entries,
                                      (int)(sizeof entries / sizeof entries[0])};
