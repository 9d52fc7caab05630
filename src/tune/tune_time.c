/* Timing one candidate: untimed warm-up runs (the first compiles), then
 * samples between two device events, and the median of the samples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "tune/tune_internal.h"

#define DEFAULT_WARMUP 2
#define DEFAULT_ITERS 9
#define DEFAULT_MIN_SAMPLE_US 50.0
#define DEFAULT_BUDGET_MS 500.0
#define MAX_ITERS 101
#define MAX_REPS 1000
#define MIN_SAMPLES 3

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double ztune_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

zmlx_status ztune_timer_init(ztune_timer *t, zmlx_device dev, const zmlx_tune_options *opt) {
  memset(t, 0, sizeof *t);
  t->dev = dev;
  t->stream = opt && opt->stream ? opt->stream : zmlx_stream_current(dev);
  t->warmup = opt && opt->warmup > 0 ? opt->warmup : DEFAULT_WARMUP;
  t->iters = opt && opt->iters > 0 ? opt->iters : DEFAULT_ITERS;
  if (t->iters > MAX_ITERS) t->iters = MAX_ITERS;
  t->min_sample_us = opt && opt->min_sample_us > 0 ? opt->min_sample_us : DEFAULT_MIN_SAMPLE_US;
  t->budget_ms = opt && opt->budget_ms > 0 ? opt->budget_ms : DEFAULT_BUDGET_MS;
  zmlx_status s = zmlx_event_create(dev, &t->start);
  if (!s) s = zmlx_event_create(dev, &t->end);
  if (s) {
    ztune_timer_free(t);
    return zmlx_fail_wrap(s, "tune");
  }
  return ZMLX_STATUS_OK;
}

void ztune_timer_free(ztune_timer *t) {
  if (t->start) zmlx_event_destroy(t->start);
  if (t->end) zmlx_event_destroy(t->end);
  t->start = t->end = NULL;
}

/* reps runs between the two events; *us per run. Short runs are repeated
 * so that the events' resolution and the launch latency of the first run
 * (queued after the start event has fired on an idle device) drown. */
static zmlx_status sample(ztune_timer *t, zmlx_tune_run_fn run, void *ctx,
                          const zmlx_tune_config *c, int reps, double *us,
                          zmlx_status *run_status) {
  ZMLX_TRY(zmlx_event_record(t->start, t->stream));
  for (int r = 0; r < reps; r++)
    if ((*run_status = run(ctx, c)) != ZMLX_STATUS_OK) return ZMLX_STATUS_OK;
  ZMLX_TRY(zmlx_event_record(t->end, t->stream));
  ZMLX_TRY(zmlx_event_synchronize(t->end));
  float ms = 0;
  ZMLX_TRY(zmlx_event_elapsed_ms(t->start, t->end, &ms));
  *us = (double)ms * 1e3 / reps;
  return ZMLX_STATUS_OK;
}

static int reps_for(const ztune_timer *t, double one_us) {
  if (one_us >= t->min_sample_us) return 1;
  double r = ceil(t->min_sample_us / fmax(one_us, 0.1));
  return r > MAX_REPS ? MAX_REPS : (int)r;
}

static zmlx_status measure(ztune_timer *t, zmlx_tune_run_fn run, void *ctx,
                           const zmlx_tune_config *c, zmlx_status *run_status,
                           double *median_us) {
  double v[MAX_ITERS], first;
  double t0 = now_ms();
  ZMLX_TRY(sample(t, run, ctx, c, 1, &first, run_status));
  if (*run_status) return ZMLX_STATUS_OK;
  int reps = reps_for(t, first), n = 0;
  if (reps == 1) v[n++] = first;
  while (n < t->iters && !(n >= MIN_SAMPLES && now_ms() - t0 > t->budget_ms)) {
    ZMLX_TRY(sample(t, run, ctx, c, reps, &v[n], run_status));
    if (*run_status) return ZMLX_STATUS_OK;
    n++;
  }
  *median_us = ztune_median(v, n);
  return ZMLX_STATUS_OK;
}

zmlx_status ztune_time_candidate(ztune_timer *t, zmlx_tune_run_fn run, void *ctx,
                                 const zmlx_tune_config *c, zmlx_status *run_status,
                                 double *median_us) {
  *run_status = ZMLX_STATUS_OK;
  *median_us = NAN;
  for (int i = 0; i < t->warmup; i++)
    if ((*run_status = run(ctx, c)) != ZMLX_STATUS_OK) return ZMLX_STATUS_OK;
  zmlx_status s = measure(t, run, ctx, c, run_status, median_us);
  if (*run_status) *median_us = NAN;
  return s ? zmlx_fail_wrap(s, "tune") : ZMLX_STATUS_OK;
}
