/* The catalog's elementwise kernels, built once per process and compute
 * type. One description serves f32 and f64: the header below maps ZC(fn)
 * (libm: expf / exp), ZH(fn) (the prelude's helpers: zmlx_siluf /
 * zmlx_silud), ZK(c) (constants) and ZT (the type, for locals) to the
 * compute type, so f64 inputs are computed in f64 (exact
 * references for the gradient checks) and the rest in f32 without a
 * double-precision constant slipping into a float kernel. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/cat_internal.h"
#include "catalog/glu_internal.h"
#include "catalog/norm_kernels.h"
#include "catalog/quant_internal.h"
#include "catalog/image_internal.h"
#include "catalog/optim_internal.h"
#include "catalog/linear_internal.h"
#include "catalog/raw_kernels.h"
#include "catalog/softmax_kit.h"
#include "core/error.h"
#include "core/strbuf.h"

static const char header_f32[] = "#define ZT float\n#define ZC(fn) fn##f\n"
                                 "#define ZH(fn) zmlx_##fn##f\n#define ZK(c) ((float)(c))\n";
static const char header_f64[] = "#define ZT double\n#define ZC(fn) fn\n"
                                 "#define ZH(fn) zmlx_##fn##d\n#define ZK(c) ((double)(c))\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Every slot that holds a kernel, for zcat_shutdown. */
static zcat_ew_slot **slots;
static int n_slots, cap_slots;

static int remember(zcat_ew_slot *slot) {
  for (int i = 0; i < n_slots; i++)
    if (slots[i] == slot) return 1;
  if (n_slots == cap_slots) {
    int cap = cap_slots ? 2 * cap_slots : 64;
    zcat_ew_slot **grown = realloc(slots, sizeof *grown * (size_t)cap);
    if (!grown) return 0;
    slots = grown;
    cap_slots = cap;
  }
  slots[n_slots++] = slot;
  return 1;
}

static zmlx_status build(const zmlx_elementwise_desc *desc, int f64, zmlx_elementwise **out) {
  const char *base = f64 ? header_f64 : header_f32;
  size_t len = strlen(base) + (desc->header ? strlen(desc->header) : 0) + 2;
  char *header = malloc(len);
  if (!header) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, desc->name, "out of host memory");
  snprintf(header, len, "%s%s\n", base, desc->header ? desc->header : "");
  zmlx_elementwise_desc d = *desc;
  d.header = header;
  d.compute = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
  zmlx_status s = zmlx_elementwise_create(&d, out);
  free(header);
  return s;
}

/* Every input, scalar and output a local of the compute type, then the
 * expression and each gradient expression (seeing g) folded into one sum. */
static char *check_block(const zmlx_elementwise_desc *d) {
  zmlx_strbuf sb = {0};
  int has_g = 0;
  for (int i = 0; i < d->n_inputs; i++) has_g |= !strcmp(d->input_names[i], "g");
  for (int i = 0; i < d->n_outputs; i++) has_g |= !strcmp(d->output_names[i], "g");
  for (int i = 0; i < d->n_scalars; i++) has_g |= !strcmp(d->scalar_names[i], "g");
  zmlx_sb_printf(&sb, "{ /* %s */\n", d->name ? d->name : "?");
  if (!has_g) zmlx_sb_append(&sb, "  ZT g = zv * ZK(0.5);\n");
  for (int i = 0; i < d->n_inputs; i++)
    zmlx_sb_printf(&sb, "  ZT %s = zv + ZK(%d);\n", d->input_names[i], i);
  for (int i = 0; i < d->n_scalars; i++)
    zmlx_sb_printf(&sb, "  ZT %s = ZK(0.25);\n", d->scalar_names[i]);
  for (int i = 0; i < d->n_outputs; i++) zmlx_sb_printf(&sb, "  ZT %s = 0;\n", d->output_names[i]);
  zmlx_sb_printf(&sb, "  {\n%s\n  }\n", d->expr);
  for (int i = 0; i < d->n_outputs; i++) zmlx_sb_printf(&sb, "  zacc += %s;\n", d->output_names[i]);
  for (int i = 0; d->grad_exprs && i < d->n_inputs; i++)
    if (d->grad_exprs[i]) zmlx_sb_printf(&sb, "  zacc += (%s);\n", d->grad_exprs[i]);
  zmlx_sb_append(&sb, "}\n");
  return zmlx_sb_take(&sb);
}

zmlx_status zcat_ew_get(zcat_ew_slot *slot, const zmlx_elementwise_desc *desc, zmlx_dtype t,
                      zmlx_elementwise **out) {
  int f64 = t == ZMLX_DTYPE_F64;
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!slot->k[f64]) {
    if (!remember(slot))
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, desc->name, "out of host memory");
    else
      s = build(desc, f64, &slot->k[f64]);
    if (!s && !slot->check) slot->check = check_block(desc);
  }
  *out = slot->k[f64];
  pthread_mutex_unlock(&lock);
  return s;
}

void zcat_shutdown(void) {
  zcat_raw_shutdown();
  zsm_shutdown();
  zcat_norm_shutdown();
  zcat_quant_shutdown();
  zcat_image_shutdown();
  zcat_optim_shutdown();
  zcat_linear_shutdown();
  zcat_glu_shutdown();
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_slots; i++) {
    zmlx_elementwise_destroy(slots[i]->k[0]);
    zmlx_elementwise_destroy(slots[i]->k[1]);
    free(slots[i]->check);
    slots[i]->k[0] = slots[i]->k[1] = NULL;
    slots[i]->check = NULL;
  }
  free(slots);
  slots = NULL;
  n_slots = cap_slots = 0;
  pthread_mutex_unlock(&lock);
}

zmlx_status zcat_check_body(int f64, char **body, const char **header) {
  zmlx_strbuf sb = {0};
  *header = f64 ? header_f64 : header_f32;
  zmlx_sb_append(&sb, "ZT zv = (ZT)zmlx_tod(zcat_in[gid]), zacc = 0;\n");
  pthread_mutex_lock(&lock);
  int n = 0;
  for (int i = 0; i < n_slots; i++)
    if (slots[i]->check) {
      zmlx_sb_append(&sb, slots[i]->check);
      n++;
    }
  pthread_mutex_unlock(&lock);
  zmlx_sb_append(&sb, "zmlx_store(zcat_out, gid, zacc);\n");
  *body = n ? zmlx_sb_take(&sb) : NULL;
  if (!n) zmlx_sb_free(&sb);
  return n && !*body ? zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "catalog", "out of host memory")
                     : ZMLX_STATUS_OK;
}

zmlx_status zcat_sum_rows(zmlx_array *a, zmlx_array **out) {
  int nd = zmlx_array_ndim(a), axes[ZMLX_MAX_DIMS];
  if (nd <= 1) {
    /* Reducing zero axes would reduce every axis: copy instead. */
    zmlx_array *c = NULL;
    int64_t n = zmlx_array_numel(a);
    ZMLX_TRY(zmlx_array_empty(zmlx_array_dtype(a), 1, &n, zmlx_array_device(a), &c));
    zmlx_status s = zmlx_array_copy_into(c, a);
    if (s) zmlx_array_release(c);
    *out = s ? NULL : c;
    return s;
  }
  for (int d = 0; d < nd - 1; d++) axes[d] = d;
  return zmlx_reduce_sum(a, nd - 1, axes, 0, out);
}
