/* Kernel objects: a validated copy of the user's description. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernel/kernel_internal.h"

static const char *op = "kernel_create";

int zk_is_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* Names the generated code defines itself. */
static int is_reserved(const char *s) {
  static const char *words[] = {"gid", "gid_x", "gid_y", "gid_z", "grid_x", "grid_y", "grid_z"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcmp(s, words[i])) return 1;
  return !strncmp(s, "zmlx_", 5) || !strncmp(s, "ZMLX_", 5) || !strncmp(s, "__", 2);
}

static zmlx_status copy_names(const char *what, int n, const char *const *names, char ***out) {
  if (n < 0 || n > ZK_MAX_IO)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d %s (at most %d)", n, what, ZK_MAX_IO);
  if (n > 0 && !names)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d %s but the name list is NULL", n, what);
  *out = calloc((size_t)n + 1, sizeof **out);
  if (!*out) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  for (int i = 0; i < n; i++) {
    if (!zk_is_identifier(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%s name '%s' is not a C identifier",
                       what, names[i] ? names[i] : "(null)");
    if (is_reserved(names[i]))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "%s name '%s' is reserved (gid*, grid_*, zmlx_*, __*)", what, names[i]);
    if (!((*out)[i] = strdup(names[i])))
      return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status check_unique(const zmlx_kernel *k) {
  char *all[3 * ZK_MAX_IO];
  int n = 0;
  for (int i = 0; i < k->n_in; i++) all[n++] = k->in_names[i];
  for (int i = 0; i < k->n_out; i++) all[n++] = k->out_names[i];
  for (int i = 0; i < k->n_sc; i++) all[n++] = k->sc_names[i];
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (!strcmp(all[i], all[j]))
        return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': name '%s' used twice",
                         k->name, all[i]);
  return ZMLX_STATUS_OK;
}

static unsigned char uses_of(const char *body, const char *name) {
  char word[300];
  unsigned char u = 0;
  snprintf(word, sizeof word, "%s_shape", name);
  if (zk_uses_identifier(body, word)) u |= ZK_USES_SHAPE;
  snprintf(word, sizeof word, "%s_strides", name);
  if (zk_uses_identifier(body, word)) u |= ZK_USES_STRIDES;
  snprintf(word, sizeof word, "%s_ndim", name);
  if (zk_uses_identifier(body, word)) u |= ZK_USES_NDIM;
  return u;
}

static int scalar_dtype_ok(zmlx_dtype t) {
  return t == ZMLX_DTYPE_F32 || t == ZMLX_DTYPE_F64 || t == ZMLX_DTYPE_I32 ||
         t == ZMLX_DTYPE_I64 || t == ZMLX_DTYPE_U32;
}

static zmlx_status fill_kernel(zmlx_kernel *k, const zmlx_kernel_desc *d) {
  if (!zk_is_identifier(d->name))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel name '%s' is not a C identifier",
                     d->name ? d->name : "(null)");
  if (!d->source || !d->source[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' has no source", d->name);
  if (d->n_outputs < 1)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' needs at least one output",
                     d->name);
  k->name = strdup(d->name);
  k->source = strdup(d->source);
  k->header = strdup(d->header ? d->header : "");
  if (!k->name || !k->source || !k->header)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  k->n_in = d->n_inputs;
  k->n_out = d->n_outputs;
  k->n_sc = d->n_scalars;
  ZMLX_TRY(copy_names("input", d->n_inputs, d->input_names, &k->in_names));
  ZMLX_TRY(copy_names("output", d->n_outputs, d->output_names, &k->out_names));
  ZMLX_TRY(copy_names("scalar", d->n_scalars, d->scalar_names, &k->sc_names));
  ZMLX_TRY(check_unique(k));
  for (int i = 0; i < k->n_sc; i++) {
    k->sc_dtypes[i] = d->scalar_dtypes ? d->scalar_dtypes[i] : ZMLX_DTYPE_F32;
    if (!scalar_dtype_ok(k->sc_dtypes[i]))
      return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op,
                       "kernel '%s': scalar '%s' has dtype %s (use f32, f64, i32, i64 or u32)",
                       k->name, k->sc_names[i], zmlx_dtype_name(k->sc_dtypes[i]));
  }
  for (int i = 0; i < k->n_in; i++) k->in_uses[i] = uses_of(k->source, k->in_names[i]);
  for (int i = 0; i < k->n_out; i++) k->out_uses[i] = uses_of(k->source, k->out_names[i]);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_kernel_create(const zmlx_kernel_desc *desc, zmlx_kernel **out) {
  if (!desc || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  *out = NULL;
  zmlx_kernel *k = calloc(1, sizeof *k);
  if (!k) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  pthread_mutex_init(&k->lock, NULL);
  zmlx_status s = fill_kernel(k, desc);
  if (s != ZMLX_STATUS_OK) {
    zmlx_kernel_destroy(k);
    return s;
  }
  *out = k;
  return ZMLX_STATUS_OK;
}

static void free_names(char **names) {
  for (int i = 0; names && names[i]; i++) free(names[i]);
  free(names);
}

void zmlx_kernel_destroy(zmlx_kernel *k) {
  if (!k) return;
  /* Variants point at shared modules, which stay cached for other kernels. */
  for (zk_variant *v = k->variants, *next; v; v = next) {
    next = v->next;
    free(v);
  }
  free_names(k->in_names);
  free_names(k->out_names);
  free_names(k->sc_names);
  free(k->name);
  free(k->source);
  free(k->header);
  pthread_mutex_destroy(&k->lock);
  free(k);
}

zmlx_status zmlx_kernel_stats_get(const zmlx_kernel *k, zmlx_kernel_stats *out) {
  if (!k || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "kernel_stats", "NULL argument");
  out->n_variants = atomic_load(&k->n_variants);
  out->n_compiles = atomic_load(&k->n_compiles);
  out->compile_ms = atomic_load(&k->compile_ms);
  out->n_memory_hits = atomic_load(&k->n_memory_hits);
  out->n_disk_hits = atomic_load(&k->n_disk_hits);
  out->n_launches = atomic_load(&k->n_launches);
  return ZMLX_STATUS_OK;
}
