/* zmlx_check_matches: an implementation against an f64 reference over
 * shapes x dtypes, with fresh random inputs for every case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "testing/testing_internal.h"

static const char *op = "check_matches";

/* Sizes that catch the usual bugs: a single element, a tail shorter than
 * any vector, more than one block with a ragged end, a ragged inner
 * dimension, and nothing at all. */
static const zmlx_check_case default_cases[] = {
    {{1, {1}}, NULL}, {{1, {7}}, NULL}, {{1, {4097}}, NULL}, {{2, {3, 129}}, NULL}, {{1, {0}}, NULL}};
static const zmlx_dtype default_dtypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};

double zmlx_check_default_tol(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F64: return 1e-12;
    case ZMLX_DTYPE_F32: return 1e-5;
    case ZMLX_DTYPE_F16: return 2e-3;
    case ZMLX_DTYPE_BF16: return 1.6e-2;
    case ZMLX_DTYPE_FP8_E4M3: return 0.125;
    case ZMLX_DTYPE_FP8_E5M2: return 0.25;
    default: return 0;
  }
}

typedef struct run {
  const zmlx_check_spec *sp;
  const zmlx_check_case *cases;
  const zmlx_dtype *dtypes;
  int n_cases, n_dtypes, n_out;
  uint64_t seed;
} run;

/* The worst output of one case. */
typedef struct outcome {
  int output;
  double tol;
  ztst_cmp m;
  int ndim;                 /* the output's shape, for the element index */
  int64_t shape[ZMLX_MAX_DIMS];
  char shapes_differ[400];  /* set when impl and ref disagree on the shape */
} outcome;

static const zmlx_check_shape *shape_of(const zmlx_check_case *c, int i) {
  return c->input_shapes ? &c->input_shapes[i] : &c->shape;
}

static const char *inputs_format(const run *u, const zmlx_check_case *c, char *buf, size_t len) {
  size_t used = 0;
  int n = c->input_shapes ? u->sp->n_inputs : 1;
  buf[0] = 0;
  for (int i = 0; i < n && used + 1 < len; i++) {
    char b[200];
    int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     ztst_shape_format(shape_of(c, i), b, sizeof b));
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

static zmlx_status make_inputs(const run *u, const zmlx_check_case *c, zmlx_dtype t,
                               uint64_t seed, zmlx_array **in, zmlx_array **ref_in) {
  const zmlx_check_spec *sp = u->sp;
  double std = sp->input_std > 0 ? sp->input_std : 1;
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < sp->n_inputs && !s; i++) {
    const zmlx_check_shape *sh = shape_of(c, i);
    s = zmlx_array_random_normal(t, sh->ndim, sh->dims, ztst_mix(seed, (uint64_t)i + 1),
                                 sp->input_mean, std, sp->device, &in[i]);
    /* The reference sees the very values impl sees: rounded to t. */
    if (!s) s = ztst_cpu_copy(in[i], ZMLX_DTYPE_F64, &ref_in[i]);
  }
  return s;
}

static double tolerance(const run *u, zmlx_dtype case_t, zmlx_dtype out_t) {
  if (u->sp->rtol > 0) return u->sp->rtol;
  double t = zmlx_check_default_tol(case_t);
  return zmlx_dtype_is_float(out_t) ? fmax(t, zmlx_check_default_tol(out_t)) : t;
}

static zmlx_status compare_output(const run *u, zmlx_dtype t, int j, zmlx_array *got,
                                  zmlx_array *ref, outcome *o) {
  outcome cur = {.output = j, .tol = tolerance(u, t, zmlx_array_dtype(got)),
                 .ndim = zmlx_array_ndim(got)};
  int same = zmlx_array_ndim(got) == zmlx_array_ndim(ref);
  for (int d = 0; d < cur.ndim; d++) {
    cur.shape[d] = zmlx_array_dim(got, d);
    same = same && cur.shape[d] == zmlx_array_dim(ref, d);
  }
  zmlx_status s = ZMLX_STATUS_OK;
  if (!same) {
    char b1[160], b2[160];
    cur.m = (ztst_cmp){.score = INFINITY, .worst = -1};
    snprintf(cur.shapes_differ, sizeof cur.shapes_differ, "impl gave %s, ref gave %s",
             zmlx_array_format(got, b1, sizeof b1), zmlx_array_format(ref, b2, sizeof b2));
  } else {
    double *g = NULL, *r = NULL;
    s = ztst_read_f64(got, &g);
    if (!s) s = ztst_read_f64(ref, &r);
    if (!s) ztst_compare(g, r, zmlx_array_numel(got), cur.tol, u->sp->atol, &cur.m);
    free(g);
    free(r);
  }
  if (!s && (j == 0 || cur.m.score > o->m.score)) *o = cur;
  return s;
}

static zmlx_status call(zmlx_check_fn fn, const run *u, zmlx_array **in, zmlx_array **out,
                        const char *who) {
  zmlx_error_clear(); /* so that a silent failure is not blamed on older text */
  zmlx_status s = fn(u->sp->ctx, u->sp->n_inputs, in, u->n_out, out);
  for (int j = 0; !s && j < u->n_out; j++)
    if (!out[j]) s = zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "returned OK without output %d", j);
  return s ? zmlx_fail_wrap(s, who) : s;
}

static zmlx_status run_case(const run *u, int ci, int di, outcome *o) {
  int n_in = u->sp->n_inputs;
  zmlx_dtype t = u->dtypes[di];
  zmlx_array **a = calloc((size_t)(2 * n_in + 2 * u->n_out), sizeof *a);
  if (!a) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_array **in = a, **ref_in = a + n_in, **got = a + 2 * n_in, **ref = got + u->n_out;
  uint64_t seed = ztst_mix(u->seed, (uint64_t)ci * (uint64_t)u->n_dtypes + (uint64_t)di + 1);
  zmlx_status s = make_inputs(u, &u->cases[ci], t, seed, in, ref_in);
  if (!s) s = call(u->sp->impl, u, in, got, "impl");
  if (!s) s = call(u->sp->ref, u, ref_in, ref, "ref");
  for (int j = 0; j < u->n_out && !s; j++) s = compare_output(u, t, j, got[j], ref[j], o);
  if (s) {
    char ins[400], dev[32], why[1024];
    snprintf(why, sizeof why, "%s", zmlx_error_last());
    zmlx_fail(s, op, "case %d, inputs %s %s on %s: %s", ci,
              inputs_format(u, &u->cases[ci], ins, sizeof ins), zmlx_dtype_name(t),
              zmlx_device_format(u->sp->device, dev, sizeof dev), why);
  }
  for (int i = 0; i < 2 * n_in + 2 * u->n_out; i++) zmlx_array_release(a[i]);
  free(a);
  return s;
}

static void fill(const run *u, int ci, int di, const outcome *o, zmlx_check_report *r) {
  r->failed_case = o->m.score > 1 ? ci : -1;
  r->shape = *shape_of(&u->cases[ci], 0);
  r->dtype = u->dtypes[di];
  r->device = u->sp->device;
  r->output = o->output;
  r->rel_err = o->m.rel_err;
  r->max_abs_err = o->m.max_abs_err;
  r->tol = o->tol;
  r->worst_index = o->m.worst;
  r->worst_got = o->m.got;
  r->worst_ref = o->m.ref;
}

static void describe(const run *u, int ci, int di, const outcome *o, char *buf, size_t len) {
  char ins[400], dev[32], idx[200], what[600];
  const ztst_cmp *m = &o->m;
  if (o->shapes_differ[0])
    snprintf(what, sizeof what, "%s", o->shapes_differ);
  else if (m->nan)
    snprintf(what, sizeof what, "NaN at element %lld %s: got %.9g, ref %.9g", (long long)m->worst,
             ztst_index_format(o->ndim, o->shape, m->worst, idx, sizeof idx), m->got, m->ref);
  else
    snprintf(what, sizeof what,
             "||got - ref|| / ||ref|| = %.3g (tol %.3g), max |got - ref| = %.3g (allowed "
             "%.3g) at element %lld %s: got %.9g, ref %.9g", m->rel_err, o->tol, m->max_abs_err,
             m->max_allowed, (long long)m->worst,
             ztst_index_format(o->ndim, o->shape, m->worst, idx, sizeof idx), m->got, m->ref);
  snprintf(buf, len, "case %d, inputs %s %s on %s, output %d: %s", ci,
           inputs_format(u, &u->cases[ci], ins, sizeof ins), zmlx_dtype_name(u->dtypes[di]),
           zmlx_device_format(u->sp->device, dev, sizeof dev), o->output, what);
}

static zmlx_status check_spec(const zmlx_check_spec *sp) {
  if (!sp || !sp->impl || !sp->ref || sp->n_inputs < 1 || sp->n_inputs > 32 ||
      sp->n_outputs < 0 || sp->n_outputs > 32 || sp->n_cases < 0 || sp->n_dtypes < 0 ||
      (sp->n_cases && !sp->cases) || (sp->n_dtypes && !sp->dtypes))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "needs impl, ref, 1..32 inputs, 0..32 outputs and the cases and dtypes "
                     "it counts");
  for (int d = 0; d < sp->n_dtypes; d++)
    if (!zmlx_dtype_is_float(sp->dtypes[d]))
      return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                       "dtype %s: inputs are drawn from a normal distribution, so dtypes must "
                       "be floating point", zmlx_dtype_name(sp->dtypes[d]));
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_check_matches(const zmlx_check_spec *spec, zmlx_check_report *report) {
  zmlx_check_report local;
  zmlx_check_report *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  r->failed_case = -1;
  r->worst_index = -1;
  ZMLX_TRY(check_spec(spec));
  run u = {.sp = spec, .cases = spec->n_cases ? spec->cases : default_cases,
           .n_cases = spec->n_cases ? spec->n_cases : (int)(sizeof default_cases / sizeof *default_cases),
           .dtypes = spec->n_dtypes ? spec->dtypes : default_dtypes,
           .n_dtypes = spec->n_dtypes ? spec->n_dtypes : (int)(sizeof default_dtypes / sizeof *default_dtypes),
           .n_out = spec->n_outputs ? spec->n_outputs : 1,
           .seed = spec->seed ? spec->seed : ztst_fresh_seed()};
  r->seed = u.seed;
  double shown = -1; /* score of the case the report shows */
  char first[1024] = "";
  for (int ci = 0; ci < u.n_cases; ci++)
    for (int di = 0; di < u.n_dtypes; di++) {
      outcome o = {0};
      zmlx_status s = run_case(&u, ci, di, &o);
      if (s) {
        snprintf(r->message, sizeof r->message, "%s", zmlx_error_last());
        return s;
      }
      r->n_run++;
      int failing = o.m.score > 1;
      r->n_failed += failing;
      if ((failing && r->n_failed == 1) || (!r->n_failed && o.m.score >= shown)) {
        shown = o.m.score;
        fill(&u, ci, di, &o, r);
        if (failing) describe(&u, ci, di, &o, first, sizeof first);
      }
    }
  if (!r->n_failed) {
    r->passed = 1;
    snprintf(r->message, sizeof r->message,
             "check_matches passed %d cases; worst: %s output %d, rel err %.3g, max abs err "
             "%.3g (seed 0x%llx)", r->n_run, zmlx_dtype_name(r->dtype), r->output, r->rel_err,
             r->max_abs_err, (unsigned long long)r->seed);
    return ZMLX_STATUS_OK;
  }
  r->mismatch = 1;
  zmlx_fail(ZMLX_CHECK_FAILED, op, "%s (%d of %d cases failed; seed 0x%llx)", first, r->n_failed,
            r->n_run, (unsigned long long)r->seed);
  snprintf(r->message, sizeof r->message, "%s", zmlx_error_last());
  return ZMLX_CHECK_FAILED;
}
