/* Process-wide slots for the catalog's hand-written kernels. */
#include "catalog/raw_kernels.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zcat_raw_slot **slots;
static int n_slots, cap_slots;

zmlx_status zcat_raw_get(zcat_raw_slot *slot, const zmlx_kernel_desc *desc, zmlx_kernel **out) {
  zmlx_status s = ZMLX_STATUS_OK;
  pthread_mutex_lock(&lock);
  if (!slot->k) {
    if (n_slots == cap_slots) {
      int cap = cap_slots ? 2 * cap_slots : 32;
      zcat_raw_slot **grown = realloc(slots, sizeof *grown * (size_t)cap);
      if (grown) {
        slots = grown;
        cap_slots = cap;
      }
    }
    if (n_slots == cap_slots)
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, desc->name, "out of host memory");
    else
      s = zmlx_kernel_create(desc, &slot->k);
    if (!s) slots[n_slots++] = slot;
  }
  *out = slot->k;
  pthread_mutex_unlock(&lock);
  return s;
}

void zcat_raw_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_slots; i++) {
    zmlx_kernel_destroy(slots[i]->k);
    slots[i]->k = NULL;
  }
  free(slots);
  slots = NULL;
  n_slots = cap_slots = 0;
  pthread_mutex_unlock(&lock);
}

zmlx_status zcat_raw_launch(zmlx_kernel *k, int n_in, zmlx_array *const *in, int n_out,
                            zmlx_array **out, int64_t n, int n_templates,
                            const zmlx_template_arg *templates, int n_scalars,
                            const double *scalars) {
  (void)n_out;
  if (n <= 0) return ZMLX_STATUS_OK;
  zmlx_launch_config cfg = {.grid = {n, 1, 1}, .n_templates = n_templates,
                            .templates = templates, .n_scalars = n_scalars, .scalars = scalars};
  return zk_launch(k, n_in, in, &cfg, out, ZK_OUTPUTS_GIVEN);
}

int zcat_aligned16(const zmlx_array *a) {
  return zmlx_array_numel(a) == 0 || !zmlx_array_is_contiguous(a) ||
         ((uintptr_t)zmlx_array_data(a) % 16) == 0;
}

zmlx_status zcat_check_grad_shape(const char *op, const zmlx_array *g, const zmlx_array *x) {
  if (!g || !x) return ZMLX_STATUS_OK; /* the op itself reports NULL */
  char b1[300], b2[300];
  zmlx_device dg = zmlx_array_device(g), dx = zmlx_array_device(x);
  if (dg.type != dx.type || dg.index != dx.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, op,
                     "the output gradient is %s but the forward's input is %s",
                     zmlx_array_format(g, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2));
  int same = zmlx_array_ndim(g) == zmlx_array_ndim(x);
  for (int d = 0; same && d < zmlx_array_ndim(x); d++)
    same = zmlx_array_dim(g, d) == zmlx_array_dim(x, d);
  if (same) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "the output gradient is %s but the forward's input is %s",
                   zmlx_array_format(g, b1, sizeof b1), zmlx_array_format(x, b2, sizeof b2));
}

zmlx_status zcat_named(const char *name, zmlx_status s) {
  if (s && !strstr(zmlx_error_last(), name)) return zmlx_fail_wrap(s, name);
  return s;
}
