#ifndef CATALOG_PERF_H
#define CATALOG_PERF_H
/* Perf mode: each entry's forward and backward on its perf case, timed
 * with the bench helpers (median of event-timed samples, inputs rotated
 * past the cache), in µs, GB/s of the minimal traffic and % of the copy
 * ceiling measured in the same run. --json writes a capsule that `zmlx
 * report` renders. */
#include "catalog_harness.h"

typedef struct hc_perf_ctx {
  const zcat_entry *e;
  const zcat_case *c;
  int grad, keep;              /* keep: pass saved (a backward alone) */
  hc_inputs *sets;             /* one input set per rotation */
  zmlx_array *dout[8][ZCAT_MAX_OUT];
  zmlx_array *saved[8];        /* what a backward keeps from its forward */
} hc_perf_ctx;

static zmlx_status hc_perf_call(void *ctx, int rot) {
  hc_perf_ctx *p = ctx;
  zmlx_array *out[ZCAT_MAX_OUT] = {0}, *din[ZCAT_MAX_IN] = {0};
  zcat_dev_call dc = {p->e, p->sets[rot].dev, out, p->dout[rot], din, p->c->p,
                      p->keep ? &p->saved[rot] : NULL};
  zmlx_status s = p->grad ? p->e->run_grad(&dc) : p->e->run(&dc);
  for (int j = 0; j < ZCAT_MAX_OUT; j++) zmlx_array_release(out[j]);
  for (int i = 0; i < ZCAT_MAX_IN; i++) zmlx_array_release(din[i]);
  return s;
}

static inline double hc_bytes(const zcat_entry *e, const zcat_case *c, zmlx_dtype t, int grad) {
  double b = 0;
  int nd;
  int64_t sh[ZMLX_MAX_DIMS];
  for (int i = 0; i < e->n_in; i++) {
    if (zcat_case_shape(e, c, &e->in[i], &nd, sh)) return NAN;
    double n = 1;
    for (int d = 0; d < nd; d++) n *= (double)sh[d];
    size_t es = zmlx_dtype_size(hc_arg_dtype(&e->in[i], t));
    b += n * (double)es;                                     /* read */
    if (grad && (e->in[i].flags & ZCAT_GRAD)) b += n * (double)es; /* its gradient written */
  }
  for (int j = 0; j < e->n_out; j++) {
    if (zcat_case_shape(e, c, &e->out[j], &nd, sh)) return NAN;
    double n = 1;
    for (int d = 0; d < nd; d++) n *= (double)sh[d];
    b += n * (double)zmlx_dtype_size(hc_arg_dtype(&e->out[j], t)); /* written, or dout read */
  }
  return b;
}

/* Peak memory one call adds beyond what is live before it (its outputs,
 * gradients and temporaries), as torch.cuda.max_memory_allocated counts
 * it; 0 if the allocator cannot say. */
static inline uint64_t hc_peak_extra(hc_perf_ctx *p, zmlx_device dev) {
  zmlx_alloc_stats a, b;
  if (zmlx_device_synchronize(dev) || zmlx_alloc_stats_reset_peak(dev) ||
      zmlx_alloc_stats_get(dev, &a) || hc_perf_call(p, 0) || zmlx_device_synchronize(dev) ||
      zmlx_alloc_stats_get(dev, &b))
    return 0;
  return b.peak_in_use - a.bytes_in_use;
}

static inline int hc_perf_entry(const zcat_entry *e, zmlx_device dev, zmlx_dtype t,
                                const char *case_text, uint64_t *seed, zmlx_bench_capsule *cap) {
  zcat_case c;
  const char *text = case_text ? case_text : e->perf ? e->perf : "4096 D=4096";
  if (zcat_case_parse(e, text, &c)) {
    fprintf(stderr, "%s: perf case: %s\n", e->name, zmlx_error_last());
    return 1;
  }
  double bytes_fwd = hc_bytes(e, &c, t, 0), bytes_bwd = hc_bytes(e, &c, t, 1);
  int rot = zmlx_bench_rotations(dev, (uint64_t)bytes_fwd, 8);
  hc_inputs sets[8];
  hc_perf_ctx p = {e, &c, 0, 0, sets, {{0}}, {0}};
  int made = 0, rc = 0;
  for (; made < rot; made++) {
    if (hc_make_inputs(e, &c, t, dev, 1, seed, &sets[made])) break;
    for (int j = 0; j < e->n_out; j++) {
      int nd;
      int64_t sh[ZMLX_MAX_DIMS];
      if (!zcat_case_shape(e, &c, &e->out[j], &nd, sh))
        zmlx_array_random_uniform(hc_arg_dtype(&e->out[j], t), nd, sh, zt_next(seed), -1, 1, dev,
                                  &p.dout[made][j]);
    }
  }
  if (made < rot) {
    fprintf(stderr, "%s: perf inputs: %s\n", e->name, zmlx_error_last());
    rc = 1;
  }
  char d[32];
  /* Passes: forward; backward as a user runs it (with its forward where
   * it needs one: cross-entropy's lse, as the peers' rows run it); and,
   * for such an entry, the backward alone, its forward's result kept
   * (X_bwd_alone: the backward kernel's own speed). */
  for (int pass = 0; pass < 3 && !rc; pass++) {
    int grad = pass > 0;
    if (grad && !zcat_has_backward(e)) break;
    p.grad = grad;
    p.keep = pass == 2;
    if (pass == 2) {
      if (hc_perf_call(&p, 0)) {
        fprintf(stderr, "%s backward alone: %s\n", e->name, zmlx_error_last());
        rc = 1;
        break;
      }
      if (!p.saved[0]) break; /* its backward keeps nothing */
    }
    zmlx_bench_options o = {.rotations = rot, .budget_ms = 2000};
    zmlx_bench_result r;
    zmlx_status s = zmlx_bench_time(dev, hc_perf_call, &p, &o, &r);
    if (s) {
      fprintf(stderr, "%s %s: %s\n", e->name, grad ? "backward" : "forward", zmlx_error_last());
      rc = 1;
      break;
    }
    zmlx_bench_row row;
    zmlx_bench_row_init(&row);
    snprintf(row.op, sizeof row.op, "%s%s", e->name, pass == 2 ? "_bwd_alone" : grad ? "_bwd" : "");
    snprintf(row.dtype, sizeof row.dtype, "%s", zmlx_dtype_name(t));
    snprintf(row.shape, sizeof row.shape, "%s", c.text);
    snprintf(row.impl, sizeof row.impl, "zmlx");
    row.us = r.median_us;
    row.min_us = r.min_us;
    row.p10_us = r.p10_us;
    row.p90_us = r.p90_us;
    row.bytes = grad ? bytes_bwd : bytes_fwd;
    row.first_ms = r.first_call_ms;
    row.rotations = rot;
    row.samples = r.samples;
    if (pass == 1) {
      /* The gradients' bytes: what a backward cannot avoid holding. */
      double gb = bytes_bwd - bytes_fwd;
      uint64_t peak = hc_peak_extra(&p, dev);
      snprintf(row.note, sizeof row.note,
               "peak extra memory %.3f GiB (%llu bytes) beyond the inputs, %.3fx the gradients'",
               (double)peak / 1073741824.0, (unsigned long long)peak, gb > 0 ? (double)peak / gb : 0);
    }
    zmlx_bench_capsule_add_row(cap, &row);
    const zmlx_bench_row *w = &cap->rows[cap->n_rows - 1];
    printf("%-26s %-5s %-8s %-16s %10.1f us %8.1f GB/s %6.1f%% of copy\n", row.op, row.dtype,
           zmlx_device_format(dev, d, sizeof d), c.text, w->us, w->gbps, w->pct_of_copy);
    fflush(stdout);
  }
  for (int k = 0; k < made; k++) {
    hc_inputs_free(&sets[k]);
    for (int j = 0; j < ZCAT_MAX_OUT; j++) zmlx_array_release(p.dout[k][j]);
    zmlx_array_release(p.saved[k]);
  }
  return rc;
}

#endif
