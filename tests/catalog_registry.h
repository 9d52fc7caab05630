#ifndef CATALOG_REGISTRY_H
#define CATALOG_REGISTRY_H
/* The registry itself: every entry complete and consistent, so that the
 * harness and docs/KERNELS.md can trust it. */
#include "catalog_harness.h"

static inline void hc_check_cases(const zcat_entry *e, const char *const *list, int bad) {
  for (int k = 0; list && list[k]; k++) {
    zcat_case c;
    zt_checks_++;
    if (zcat_case_parse(e, list[k], &c)) {
      ZT_FAIL_("%s: %s", e->name, zmlx_error_last());
      continue;
    }
    if (bad != (c.expect != 0))
      ZT_FAIL_("%s: case \"%s\" %s", e->name, list[k],
               bad ? "lacks \"=> STATUS\"" : "expects a failure: put it in .bad");
    for (int i = 0; i < e->n_in + (bad ? 0 : e->n_out); i++) {
      const zcat_arg *a = i < e->n_in ? &e->in[i] : &e->out[i - e->n_in];
      int nd;
      int64_t sh[ZMLX_MAX_DIMS];
      if (zcat_case_shape(e, &c, a, &nd, sh))
        ZT_FAIL_("%s: case \"%s\", %s: %s", e->name, list[k], a->name, zmlx_error_last());
    }
  }
}

static inline void hc_check_registry(void) {
  zt_current_ = "registry";
  int before = zt_failures_;
  for (int f = 0; f < zcat_family_count(); f++) {
    const zcat_family *fam = zcat_family_at(f);
    for (int i = 0; i < fam->n; i++) {
      const zcat_entry *e = &fam->entries[i];
      zt_checks_++;
      if (!e->name || !e->name[0] || !e->summary || !e->api || !e->ref || !e->run) {
        ZT_FAIL_("%s entry %d: name, summary, api, ref and run are required", fam->name, i);
        continue;
      }
      if (!e->family || strcmp(e->family, fam->name))
        ZT_FAIL_("%s: family \"%s\" but listed in family %s", e->name,
                 e->family ? e->family : "(null)", fam->name);
      if (strchr(e->summary, '|') || strchr(e->api, '|'))
        ZT_FAIL_("%s: '|' in the summary or api breaks the KERNELS.md table", e->name);
      for (int k = 0; k < zcat_entry_count(); k++) {
        const zcat_entry *o = zcat_entry_at(k);
        if (o != e && o->name && !strcmp(o->name, e->name)) ZT_FAIL_("%s: two entries", e->name);
      }
      if (e->n_in < 0 || e->n_in > ZCAT_MAX_IN || e->n_out < 1 || e->n_out > ZCAT_MAX_OUT ||
          e->n_params < 0 || e->n_params > ZCAT_MAX_PARAMS) {
        ZT_FAIL_("%s: %d inputs, %d outputs, %d params", e->name, e->n_in, e->n_out, e->n_params);
        continue;
      }
      if (!e->dtypes || !e->backends) ZT_FAIL_("%s: no dtypes or no backends", e->name);
      int grads = 0;
      for (int k = 0; k < e->n_in + e->n_out; k++) {
        const zcat_arg *a = k < e->n_in ? &e->in[k] : &e->out[k - e->n_in];
        if (!a->name || !a->shape) ZT_FAIL_("%s: argument %d lacks a name or shape", e->name, k);
        if ((a->flags & ZCAT_INDEX) && (a->flags & ZCAT_GRAD))
          ZT_FAIL_("%s: index input %s cannot have a gradient", e->name, a->name);
        if ((a->flags & (ZCAT_INDEX | ZCAT_FIXED)) && (unsigned)a->dtype >= ZMLX_DTYPE_COUNT)
          ZT_FAIL_("%s: %s has no valid dtype", e->name, a->name);
        if ((a->flags & ZCAT_INDEX) && k < e->n_in && !a->range)
          ZT_FAIL_("%s: index input %s needs a range", e->name, a->name);
        if (k < e->n_in) grads += (a->flags & ZCAT_GRAD) != 0;
      }
      if (grads && (!e->ref_grad || !e->run_grad))
        ZT_FAIL_("%s: inputs marked ZCAT_GRAD but no ref_grad or run_grad", e->name);
      if (!grads && (e->ref_grad || e->run_grad))
        ZT_FAIL_("%s: a backward but no input marked ZCAT_GRAD", e->name);
      hc_check_cases(e, e->cases ? e->cases : zcat_default_cases, 0);
      hc_check_cases(e, e->full_cases, 0);
      hc_check_cases(e, e->bad, 1);
      const char *perf[] = {e->perf ? e->perf : "4096 D=4096", NULL};
      hc_check_cases(e, perf, 0);
    }
  }
  if (zt_failures_ == before)
    printf("ok   registry: %d entries in %d families are complete\n", zcat_entry_count(),
           zcat_family_count());
}

#endif
