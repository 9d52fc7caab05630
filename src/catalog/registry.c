/* The registry: the families' tables (families.h) seen as one list. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/registry.h"
#include "zmlx/testing.h"

#define ZCAT_FAMILY(n) extern const zcat_family zcat_family_##n;
#include "catalog/families.h"
#undef ZCAT_FAMILY

static const zcat_family *const families[] = {
#define ZCAT_FAMILY(n) &zcat_family_##n,
#include "catalog/families.h"
#undef ZCAT_FAMILY
};

/* Sizes 1 and 7, one past a power of two, odd leading shapes, both kinds
 * of empty, strided views of every input, and misaligned ones. */
const char *const zcat_default_cases[] = {"- D=1",  "1 D=1", "D=7",       "D=4097",  "3x5 D=33",
                                          "0 D=16", "4 D=0", "9 D=64 ~*", "2 D=64 @*", NULL};

int zcat_family_count(void) { return (int)(sizeof families / sizeof families[0]); }
const zcat_family *zcat_family_at(int i) {
  return i >= 0 && i < zcat_family_count() ? families[i] : NULL;
}

int zcat_entry_count(void) {
  int n = 0;
  for (int f = 0; f < zcat_family_count(); f++) n += families[f]->n;
  return n;
}

const zcat_entry *zcat_entry_at(int i) {
  for (int f = 0; f < zcat_family_count() && i >= 0; f++) {
    if (i < families[f]->n) return &families[f]->entries[i];
    i -= families[f]->n;
  }
  return NULL;
}

const zcat_entry *zcat_entry_find(const char *name) {
  for (int i = 0; name && i < zcat_entry_count(); i++)
    if (!strcmp(zcat_entry_at(i)->name, name)) return zcat_entry_at(i);
  return NULL;
}

static int match_one(const char *pattern, size_t len, const char *name) {
  char p[128];
  if (len >= sizeof p) len = sizeof p - 1;
  memcpy(p, pattern, len);
  p[len] = 0;
  if (strpbrk(p, "*?[")) return fnmatch(p, name, 0) == 0;
  return strstr(name, p) != NULL;
}

int zcat_match(const char *pattern, const char *name) {
  if (!pattern || !pattern[0]) return 1;
  for (const char *s = pattern;;) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len && match_one(s, len, name)) return 1;
    if (!comma) return 0;
    s = comma + 1;
  }
}

double zcat_tol(const zcat_entry *e, zmlx_dtype t, int grad) {
  double given = t < ZMLX_DTYPE_COUNT ? (grad ? e->grad_tol[t] : e->tol[t]) : 0;
  if (given > 0) return given;
  /* Gradients pass through more operations (and some are sums), so they
   * get a little more room than a value rounded once. */
  switch (t) {
    case ZMLX_DTYPE_F64: return grad ? 1e-10 : 1e-12;
    case ZMLX_DTYPE_F32: return grad ? 2e-5 : 1e-5;
    default: return (grad ? 2 : 1) * zmlx_check_default_tol(t);
  }
}

/* |t| in a new buffer (NULL stays NULL); *ok = 0 when out of memory. */
static double *abs_copy(const zcat_tensor *t, int *ok) {
  if (!t->v) return NULL;
  double *v = malloc(((size_t)t->n + 1) * sizeof(double));
  *ok = *ok && v;
  for (int64_t k = 0; v && k < t->n; k++) v[k] = fabs(t->v[k]);
  return v;
}

/* The entry's ref (grad 0) or ref_grad (grad 1) over |inputs| (and
 * |output gradients|). Out of memory: nothing is filled, so the sizes
 * stay zero and the reference alone counts. */
static void of_abs(const zcat_host_call *c, int grad) {
  zcat_tensor in[ZCAT_MAX_IN], dout[ZCAT_MAX_OUT];
  int ok = 1;
  for (int i = 0; i < c->e->n_in; i++) {
    in[i] = c->in[i];
    in[i].v = abs_copy(&c->in[i], &ok);
  }
  for (int j = 0; grad && j < c->e->n_out; j++) {
    dout[j] = c->dout[j];
    dout[j].v = abs_copy(&c->dout[j], &ok);
  }
  zcat_host_call a = *c;
  a.in = in;
  if (grad) a.dout = dout;
  if (ok) (grad ? c->e->ref_grad : c->e->ref)(&a);
  for (int i = 0; i < c->e->n_in; i++) free(in[i].v);
  for (int j = 0; grad && j < c->e->n_out; j++) free(dout[j].v);
}

void zcat_ref_of_abs(const zcat_host_call *c) { of_abs(c, 0); }
void zcat_ref_grad_of_abs(const zcat_host_call *c) { of_abs(c, 1); }

int zcat_has_backward(const zcat_entry *e) {
  if (!e->ref_grad || !e->run_grad) return 0;
  for (int i = 0; i < e->n_in; i++)
    if (e->in[i].flags & ZCAT_GRAD) return 1;
  return 0;
}
