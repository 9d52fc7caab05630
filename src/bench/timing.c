/* zmlx_bench_time: device-event timing of a callback, median of samples. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "zmlx/bench.h"

enum { MAX_SAMPLES = 100000, MAX_CALLS_PER_SAMPLE = 10000, MIN_BUDGET_SAMPLES = 5 };

typedef struct timer {
  zmlx_device dev;
  zmlx_bench_fn fn;
  void *ctx;
  zmlx_stream *stream;
  int rotations;
  long long next; /* calls made: the next rotation is next % rotations */
} timer;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static zmlx_status call(timer *t) {
  zmlx_status s = t->fn(t->ctx, (int)(t->next % t->rotations));
  t->next++;
  return s;
}

static zmlx_status wait_stream(timer *t) {
  return t->stream ? zmlx_stream_synchronize(t->stream) : zmlx_device_synchronize(t->dev);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear interpolation between order statistics of sorted v. */
static double quantile(const double *v, int n, double q) {
  double pos = q * (n - 1);
  int lo = (int)pos;
  if (lo >= n - 1) return v[n - 1];
  return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

/* One sample of `calls` calls between two events: elapsed ms. */
static zmlx_status pilot(timer *t, zmlx_event *a, zmlx_event *b, int calls, float *ms) {
  ZMLX_TRY(zmlx_event_record(a, t->stream));
  for (int i = 0; i < calls; i++) ZMLX_TRY(call(t));
  ZMLX_TRY(zmlx_event_record(b, t->stream));
  ZMLX_TRY(zmlx_event_synchronize(b));
  return zmlx_event_elapsed_ms(a, b, ms);
}

/* Calls per sample so that a sample lasts min_us, from a pilot estimate. */
static zmlx_status choose_calls(timer *t, zmlx_event *a, zmlx_event *b, double min_us,
                                int *calls, double *est_us) {
  int n = 1;
  float ms = 0;
  for (;;) {
    ZMLX_TRY(pilot(t, a, b, n, &ms));
    double us = (double)ms * 1e3;
    /* Grow until the pilot itself is long enough to trust its estimate. */
    if (us >= min_us || n >= MAX_CALLS_PER_SAMPLE) {
      *est_us = us / n;
      break;
    }
    n = us > 0 ? (int)fmin(MAX_CALLS_PER_SAMPLE, ceil(n * 2.0 * min_us / us)) : n * 10;
    if (n > MAX_CALLS_PER_SAMPLE) n = MAX_CALLS_PER_SAMPLE;
  }
  double c = *est_us > 0 ? ceil(min_us / *est_us) : MAX_CALLS_PER_SAMPLE;
  *calls = c < 1 ? 1 : c > MAX_CALLS_PER_SAMPLE ? MAX_CALLS_PER_SAMPLE : (int)c;
  return ZMLX_STATUS_OK;
}

/* All samples queued back to back; event i+1 ends sample i. One untimed
 * call goes first so the device is busy, not waiting for the host, when
 * the first sample starts. */
static zmlx_status run_samples(timer *t, zmlx_event **ev, int samples, int calls, double *us) {
  ZMLX_TRY(call(t));
  ZMLX_TRY(zmlx_event_record(ev[0], t->stream));
  for (int i = 0; i < samples; i++) {
    for (int j = 0; j < calls; j++) ZMLX_TRY(call(t));
    ZMLX_TRY(zmlx_event_record(ev[i + 1], t->stream));
  }
  ZMLX_TRY(zmlx_event_synchronize(ev[samples]));
  for (int i = 0; i < samples; i++) {
    float ms;
    ZMLX_TRY(zmlx_event_elapsed_ms(ev[i], ev[i + 1], &ms));
    us[i] = (double)ms * 1e3 / calls;
  }
  return ZMLX_STATUS_OK;
}

/* The first call timed on the host (it compiles or loads the code), then
 * the rest of the warm-up. */
static zmlx_status warm_up(timer *t, int calls, double *first_ms) {
  double t0 = now_ms();
  ZMLX_TRY(call(t));
  ZMLX_TRY(wait_stream(t));
  *first_ms = now_ms() - t0;
  for (int i = 1; i < calls; i++) ZMLX_TRY(call(t));
  return wait_stream(t);
}

static void summarize(double *us, int n, zmlx_bench_result *out) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += us[i];
  qsort(us, (size_t)n, sizeof *us, cmp_double);
  out->median_us = quantile(us, n, 0.5);
  out->min_us = us[0];
  out->p10_us = quantile(us, n, 0.1);
  out->p90_us = quantile(us, n, 0.9);
  out->mean_us = sum / n;
  out->samples = n;
}

static zmlx_status measure(timer *t, const zmlx_bench_options *o, zmlx_bench_result *out) {
  static const char *op = "bench_time";
  int warmup = o->warmup > 0 ? o->warmup : 10;
  /* Every set once at least: the first use of one pays for page faults
   * and TLB misses that no later call sees. */
  if (warmup < t->rotations) warmup = t->rotations;
  int samples = o->iters > 0 ? o->iters : 100;
  double min_us = o->min_sample_us > 0 ? o->min_sample_us : 50.0;
  if (samples > MAX_SAMPLES)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d samples; at most %d", samples,
                     MAX_SAMPLES);

  ZMLX_TRY(warm_up(t, warmup, &out->first_call_ms));

  const int n_ev = samples + 1;
  zmlx_event **ev = calloc((size_t)n_ev, sizeof *ev);
  double *us = malloc((size_t)n_ev * sizeof *us);
  zmlx_status s = ev && us ? ZMLX_STATUS_OK
                           : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  for (int i = 0; i < n_ev && !s; i++) s = zmlx_event_create(t->dev, &ev[i]);
  int calls = 1;
  double est_us = 0;
  if (!s) s = choose_calls(t, ev[0], ev[1], min_us, &calls, &est_us);
  if (!s && o->budget_ms > 0 && est_us * calls * samples > o->budget_ms * 1e3) {
    int fit = (int)(o->budget_ms * 1e3 / (est_us * calls));
    if (fit < MIN_BUDGET_SAMPLES) fit = MIN_BUDGET_SAMPLES;
    if (fit < samples) samples = fit;
  }
  if (!s) s = run_samples(t, ev, samples, calls, us);
  if (!s) {
    summarize(us, samples, out);
    out->calls_per_sample = calls;
  }
  for (int i = 0; ev && i < n_ev; i++) zmlx_event_destroy(ev[i]);
  free(ev);
  free(us);
  return s;
}

zmlx_status zmlx_bench_time(zmlx_device dev, zmlx_bench_fn fn, void *ctx,
                            const zmlx_bench_options *opt, zmlx_bench_result *out) {
  static const char *op = "bench_time";
  if (!fn || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "fn or out is NULL");
  zmlx_bench_options o = opt ? *opt : (zmlx_bench_options){0};
  if (o.warmup < 0 || o.iters < 0 || o.rotations < 0 || o.min_sample_us < 0 || o.budget_ms < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "negative option (warmup %d, iters %d, rotations %d, min_sample_us %g, "
                     "budget_ms %g)",
                     o.warmup, o.iters, o.rotations, o.min_sample_us, o.budget_ms);
  ZMLX_TRY(zmlx_device_check(dev));
  *out = (zmlx_bench_result){.median_us = NAN, .min_us = NAN, .p10_us = NAN, .p90_us = NAN,
                             .mean_us = NAN, .first_call_ms = NAN};
  timer t = {.dev = dev, .fn = fn, .ctx = ctx, .stream = o.stream,
             .rotations = o.rotations > 0 ? o.rotations : 1};
  return measure(&t, &o, out);
}

double zmlx_bench_gbps(double bytes, double us) {
  return bytes > 0 && us > 0 ? bytes / (us * 1e3) : NAN;
}
