/* The accumulation description shared by reduce, map_reduce and scan:
 * checked once, then deep-copied into the kernel. */
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

static char *dup_or_null(const char *s, int *ok) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *ok = 0;
  return d;
}

static char **dup_list(int n, const char *const *src, int *ok) {
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) return (*ok = 0), NULL;
  for (int i = 0; i < n; i++) out[i] = dup_or_null(src[i], ok);
  return out;
}

static void free_list(char **l, int n) {
  for (int i = 0; l && i < n; i++) free(l[i]);
  free(l);
}

void zr_expr_free(zr_expr *e) {
  if (!e) return;
  free(e->name);
  free(e->header);
  free(e->acc_type);
  free(e->init);
  free(e->update);
  free(e->update_many);
  free(e->combine);
  free(e->finalize);
  free(e->write);
  free(e->pre_init);
  free(e->pre_update);
  free(e->pre_combine);
  free(e->pre_finalize);
  free_list(e->param_names, e->n_params);
  free_list(e->scalar_names, e->n_scalars);
  memset(e, 0, sizeof *e);
}

/* Names the generated code uses for its own variables. */
static int reserved_name(const char *s) {
  static const char *words[] = {"x", "xs", "nx", "out", "acc", "other", "idx", "n", "pre", "compute_t", "acc_t"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcmp(s, words[i])) return 1;
  return !strncmp(s, "_z", 2) || !strncmp(s, "zr_", 3);
}

static zmlx_status check_names(const char *op, const char *kname, const char *what, int n,
                               const char *const *names) {
  if (n < 0 || n > ZK_MAX_IO - 4 || (n && !names))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %d %ss (0 to %d, with names)",
                     kname, n, what, ZK_MAX_IO - 4);
  for (int i = 0; i < n; i++) {
    if (!zk_is_identifier(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': %s name '%s' is not a C identifier",
                       kname, what, names[i] ? names[i] : "(null)");
    if (reserved_name(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "kernel '%s': %s name '%s' is reserved (x, xs, nx, out, acc, other, idx, n, pre, _z*, zr_*)",
                       kname, what, names[i]);
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status check_expr(const char *op, const zr_expr *s) {
  if (!zk_is_identifier(s->name))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel name '%s' is not a C identifier",
                     s->name ? s->name : "(null)");
  const char *need[3] = {s->init, s->update, s->combine};
  const char *what[3] = {"init", "update", "combine"};
  for (int i = 0; i < 3; i++)
    if (!need[i] || !need[i][0])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' has no %s statement", s->name,
                       what[i]);
  if (s->compute != ZMLX_DTYPE_F32 && s->compute != ZMLX_DTYPE_F64)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': compute dtype %s (use f32 or f64)",
                     s->name, zmlx_dtype_name(s->compute));
  if (s->has_out_dtype && !zk_ctype(s->out_dtype))
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output dtype %d", s->name,
                     (int)s->out_dtype);
  int npre = !!(s->pre_init && s->pre_init[0]) + !!(s->pre_update && s->pre_update[0]) +
             !!(s->pre_combine && s->pre_combine[0]);
  if (npre != 0 && npre != 3)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "kernel '%s': a first pass needs pre_init, pre_update and pre_combine", s->name);
  if (!npre && s->pre_finalize && s->pre_finalize[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "kernel '%s': pre_finalize without pre_init, pre_update and pre_combine", s->name);
  if (s->acc_type && !s->acc_type[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': empty acc_type", s->name);
  ZMLX_TRY(check_names(op, s->name, "param", s->n_params, (const char *const *)s->param_names));
  ZMLX_TRY(check_names(op, s->name, "scalar", s->n_scalars, (const char *const *)s->scalar_names));
  for (int i = 0; i < s->n_params; i++)
    for (int j = 0; j < s->n_scalars; j++)
      if (!strcmp(s->param_names[i], s->scalar_names[j]))
        return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': name '%s' used twice", s->name,
                         s->param_names[i]);
  return ZMLX_STATUS_OK;
}

zmlx_status zr_expr_copy(const char *op, const zr_expr *s, zr_expr *d) {
  memset(d, 0, sizeof *d);
  ZMLX_TRY(check_expr(op, s));
  int ok = 1;
  d->name = dup_or_null(s->name, &ok);
  d->header = dup_or_null(s->header ? s->header : "", &ok);
  d->acc_type = dup_or_null(s->acc_type ? s->acc_type : "compute_t", &ok);
  d->init = dup_or_null(s->init, &ok);
  d->update = dup_or_null(s->update, &ok);
  d->update_many = s->update_many && s->update_many[0] ? dup_or_null(s->update_many, &ok) : NULL;
  d->combine = dup_or_null(s->combine, &ok);
  d->finalize = dup_or_null(s->finalize, &ok);
  d->write = dup_or_null(s->write, &ok);
  if (s->pre_init) {
    d->pre_init = dup_or_null(s->pre_init, &ok);
    d->pre_update = dup_or_null(s->pre_update, &ok);
    d->pre_combine = dup_or_null(s->pre_combine, &ok);
    d->pre_finalize = dup_or_null(s->pre_finalize, &ok);
  }
  d->n_params = s->n_params;
  d->n_scalars = s->n_scalars;
  d->param_names = dup_list(s->n_params, (const char *const *)s->param_names, &ok);
  d->scalar_names = dup_list(s->n_scalars, (const char *const *)s->scalar_names, &ok);
  d->has_out_dtype = s->has_out_dtype;
  d->out_dtype = s->out_dtype;
  d->compute = s->compute;
  if (!ok) {
    zr_expr_free(d);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  }
  return ZMLX_STATUS_OK;
}

