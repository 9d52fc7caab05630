#ifndef CATALOG_BAD_H
#define CATALOG_BAD_H
/* Bad input must fail with the right status and a message naming the op,
 * leave every result NULL, and never crash. Generic cases for every
 * entry (an integer or fp8 array where a float goes, a NULL input, a
 * tied size made one larger, an output gradient of the wrong shape,
 * arrays on two devices) plus the entry's own `bad` list. */
#include <ctype.h>

#include "catalog_harness.h"

/* Run forward (grad = 0) or backward on inputs/douts; check the status. */
static inline void hc_expect(const zcat_entry *e, int grad, zmlx_array *const *in,
                             zmlx_array *const *dout, const double *p, zmlx_status want,
                             const char *what, hc_tally *tally) {
  zmlx_array *out[ZCAT_MAX_OUT] = {0}, *din[ZCAT_MAX_IN] = {0};
  zcat_dev_call dc = {e, in, out, dout, din, p, NULL};
  zmlx_error_clear();
  zmlx_status s = grad ? e->run_grad(&dc) : e->run(&dc);
  zt_checks_++;
  tally->bad++;
  if (s != want)
    ZT_FAIL_("%s: %s: got %s (%s), want %s", e->name, what, zmlx_status_name(s),
             zmlx_error_last(), zmlx_status_name(want));
  else if (s && !strstr(zmlx_error_last(), e->name))
    ZT_FAIL_("%s: %s: the message does not name the op: \"%s\"", e->name, what, zmlx_error_last());
  int leaked = 0;
  for (int j = 0; j < ZCAT_MAX_OUT; j++) leaked += s && out[j];
  for (int i = 0; i < ZCAT_MAX_IN; i++) leaked += s && din[i];
  if (leaked) ZT_FAIL_("%s: %s: failed but left %d result(s) set", e->name, what, leaked);
  for (int j = 0; j < ZCAT_MAX_OUT; j++) zmlx_array_release(out[j]);
  for (int i = 0; i < ZCAT_MAX_IN; i++) zmlx_array_release(din[i]);
}

/* A case with no empty arrays, the first of the entry's list. */
static inline int hc_plain_case(const zcat_entry *e, zcat_case *c) {
  const char *const *list = e->cases ? e->cases : zcat_default_cases;
  for (int k = 0; list[k]; k++) {
    if (zcat_case_parse(e, list[k], c)) continue;
    int ok = 1;
    for (int i = 0; i < e->n_in && ok; i++) {
      int nd;
      int64_t sh[ZMLX_MAX_DIMS], n = 1;
      ok = !zcat_case_shape(e, c, &e->in[i], &nd, sh);
      for (int d = 0; d < nd; d++) n *= sh[d];
      ok = ok && n > 1 && nd >= 1;
    }
    if (ok) {
      c->noncontig = c->misaligned = 0;
      return 1;
    }
  }
  return 0;
}

/* The letter of a spec's last term, its multiplier, or 0 when the term
 * is a number or "...". */
static inline char hc_last_letter(const char *spec, int *mult) {
  const char *t = strrchr(spec, ',');
  t = t ? t + 1 : spec;
  *mult = 1;
  if (isdigit((unsigned char)*t)) *mult = atoi(t);
  while (isdigit((unsigned char)*t)) t++;
  return isupper((unsigned char)*t) ? *t : 0;
}

/* Input i's last size is tied to something that makes one more wrong. */
static inline int hc_tied(const zcat_entry *e, int i) {
  int mult;
  char L = hc_last_letter(e->in[i].shape, &mult);
  if (!L) return 0;
  if (mult > 1) return 1;
  for (int k = 0; k < e->n_in; k++)
    if (k != i && strchr(e->in[k].shape, L)) return 1;
  return 0;
}

static inline zmlx_status hc_bigger_last(zmlx_array *a, zmlx_array **out) {
  int nd = zmlx_array_ndim(a);
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < nd; d++) sh[d] = zmlx_array_dim(a, d);
  sh[nd - 1]++;
  return zmlx_array_zeros(zmlx_array_dtype(a), nd, sh, zmlx_array_device(a), out);
}

static inline void hc_bad_generic(const zcat_entry *e, zmlx_device dev, int other_ok,
                                  zmlx_device other, uint64_t *seed, hc_tally *tally) {
  zcat_case c;
  zmlx_dtype t = (e->dtypes & ZCAT_DT(F32)) ? ZMLX_DTYPE_F32 : ZMLX_DTYPE_BF16;
  if (!hc_plain_case(e, &c)) return;
  hc_inputs in;
  if (hc_make_inputs(e, &c, t, dev, 1, seed, &in)) {
    ZT_FAIL_("%s bad inputs: making inputs: %s", e->name, zmlx_error_last());
    return;
  }
  zmlx_array *args[ZCAT_MAX_IN], *dout[ZCAT_MAX_OUT] = {0};
  char what[160];
  zmlx_status s = ZMLX_STATUS_OK;
  for (int j = 0; j < e->n_out && !s; j++) {
    int nd;
    int64_t sh[ZMLX_MAX_DIMS];
    s = zcat_case_shape(e, &c, &e->out[j], &nd, sh);
    if (!s) s = zmlx_array_zeros(hc_arg_dtype(&e->out[j], t), nd, sh, dev, &dout[j]);
  }
  for (int i = 0; i < e->n_in && !s; i++) {
    memcpy(args, in.dev, sizeof args);
    if (!(e->in[i].flags & ZCAT_INDEX)) {
      /* Integers, and fp8 unless the entry lists it, where a float goes. */
      zmlx_dtype wrong[2] = {ZMLX_DTYPE_I32, ZMLX_DTYPE_FP8_E4M3};
      for (int w = 0; w < 2; w++) {
        if (e->dtypes & (1u << wrong[w])) continue;
        zmlx_array *x = NULL;
        if (zmlx_array_astype(in.dev[i], wrong[w], &x)) continue;
        args[i] = x;
        snprintf(what, sizeof what, "%s as %s", e->in[i].name, zmlx_dtype_name(wrong[w]));
        hc_expect(e, 0, args, NULL, c.p, ZMLX_STATUS_DTYPE_UNSUPPORTED, what, tally);
        args[i] = in.dev[i];
        zmlx_array_release(x);
      }
    }
    if (!(e->in[i].flags & ZCAT_OPTIONAL)) {
      args[i] = NULL;
      snprintf(what, sizeof what, "%s NULL", e->in[i].name);
      hc_expect(e, 0, args, NULL, c.p, ZMLX_STATUS_INVALID_ARGUMENT, what, tally);
      args[i] = in.dev[i];
    }
    if (!(e->flags & ZCAT_NO_BAD_SHAPE) && hc_tied(e, i)) {
      zmlx_array *x = NULL;
      if (!hc_bigger_last(in.dev[i], &x)) {
        args[i] = x;
        snprintf(what, sizeof what, "%s with its last size one larger", e->in[i].name);
        hc_expect(e, 0, args, NULL, c.p, ZMLX_STATUS_SHAPE_MISMATCH, what, tally);
        args[i] = in.dev[i];
        zmlx_array_release(x);
      }
    }
    if (other_ok && e->n_in > 1) {
      zmlx_array *x = NULL;
      if (!zmlx_array_to_device(in.dev[i], other, &x)) {
        args[i] = x;
        snprintf(what, sizeof what, "%s on another device", e->in[i].name);
        hc_expect(e, 0, args, NULL, c.p, ZMLX_STATUS_DEVICE_MISMATCH, what, tally);
        args[i] = in.dev[i];
        zmlx_array_release(x);
      }
    }
  }
  if (!s && zcat_has_backward(e)) {
    memcpy(args, in.dev, sizeof args);
    zmlx_array *good = dout[0], *x = NULL;
    if (zmlx_array_ndim(good) >= 1 && !hc_bigger_last(good, &x)) {
      dout[0] = x;
      snprintf(what, sizeof what, "backward, %s's gradient with its last size one larger",
               e->out[0].name);
      hc_expect(e, 1, args, dout, c.p, ZMLX_STATUS_SHAPE_MISMATCH, what, tally);
      zmlx_array_release(x);
      x = NULL;
    }
    dout[0] = NULL;
    snprintf(what, sizeof what, "backward, %s's gradient NULL", e->out[0].name);
    hc_expect(e, 1, args, dout, c.p, ZMLX_STATUS_INVALID_ARGUMENT, what, tally);
    if (other_ok && !zmlx_array_to_device(good, other, &x)) {
      dout[0] = x;
      snprintf(what, sizeof what, "backward, %s's gradient on another device", e->out[0].name);
      hc_expect(e, 1, args, dout, c.p, ZMLX_STATUS_DEVICE_MISMATCH, what, tally);
      zmlx_array_release(x);
    }
    dout[0] = good;
  }
  if (s) ZT_FAIL_("%s bad inputs: %s", e->name, zmlx_error_last());
  for (int j = 0; j < ZCAT_MAX_OUT; j++) zmlx_array_release(dout[j]);
  hc_inputs_free(&in);
}

/* The entry's own bad cases: inputs shaped as each case says. */
static inline void hc_bad_listed(const zcat_entry *e, zmlx_device dev, uint64_t *seed,
                                 hc_tally *tally) {
  for (int k = 0; e->bad && e->bad[k]; k++) {
    zcat_case c;
    zt_checks_++;
    if (zcat_case_parse(e, e->bad[k], &c) || !c.expect) {
      ZT_FAIL_("%s: bad case \"%s\": %s", e->name, e->bad[k],
               c.expect ? zmlx_error_last() : "no \"=> STATUS\"");
      continue;
    }
    zmlx_dtype t = (e->dtypes & ZCAT_DT(F32)) ? ZMLX_DTYPE_F32 : ZMLX_DTYPE_BF16;
    hc_inputs in;
    if (hc_make_inputs(e, &c, t, dev, 0, seed, &in)) {
      ZT_FAIL_("%s: bad case \"%s\": making inputs: %s", e->name, e->bad[k], zmlx_error_last());
      continue;
    }
    char what[300];
    snprintf(what, sizeof what, "bad case \"%s\"", e->bad[k]);
    hc_expect(e, 0, in.dev, NULL, c.p, (zmlx_status)c.expect, what, tally);
    hc_inputs_free(&in);
  }
}

#endif
