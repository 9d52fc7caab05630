/* Launching run-time kernels: check the call, find or build the
 * specialization, allocate outputs, pack parameters, launch. The path for a
 * kernel already loaded takes no global lock and does no hashing of source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "kernel/kernel_internal.h"

static const char *op = "kernel_launch";

typedef struct dims_arg { long long d[8]; } dims_arg;

/* Everything a launch passes by pointer lives here until the launch
 * returns (CUDA copies parameter values at launch). */
typedef struct packed {
  void *ptrs[2 * ZK_MAX_IO];
  union { float f; double d; int32_t i; long long l; uint32_t u; } sc[ZK_MAX_IO];
  dims_arg dims[6 * ZK_MAX_IO]; /* indexed together with ndims */
  int ndims[6 * ZK_MAX_IO];
  long long grid[3];
  void *params[10 * ZK_MAX_IO];
  int n;
} packed;

static char *describe_arrays(int n, zmlx_array *const *arrays, char *const *names) {
  zmlx_strbuf sb = {0};
  for (int i = 0; i < n; i++) {
    char b[300];
    zmlx_sb_printf(&sb, "%s%s: %s", i ? ", " : "", names[i],
                   arrays[i] ? zmlx_array_format(arrays[i], b, sizeof b) : "NULL");
  }
  char *s = zmlx_sb_take(&sb);
  return s ? s : strdup("");
}

static zmlx_status fail_with_inputs(zmlx_status s, const zmlx_kernel *k, int n,
                                    zmlx_array *const *in, const char *fmt, const char *detail) {
  char *ins = describe_arrays(n <= k->n_in ? n : k->n_in, in, k->in_names);
  zmlx_status r = zmlx_fail(s, op, "kernel '%s' (inputs %s): %s%s", k->name, ins ? ins : "", fmt,
                            detail ? detail : "");
  free(ins);
  return r;
}

static zmlx_status check_call(const zmlx_kernel *k, int n_inputs, zmlx_array *const *inputs,
                              const zmlx_launch_config *cfg, int outputs_given) {
  if (n_inputs != k->n_in) {
    char msg[128];
    snprintf(msg, sizeof msg, "takes %d input%s, got %d", k->n_in, k->n_in == 1 ? "" : "s", n_inputs);
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' %s", k->name, msg);
  }
  for (int i = 0; i < n_inputs; i++)
    if (!inputs || !inputs[i])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': input '%s' is NULL",
                       k->name, k->in_names[i]);
  if (cfg->n_scalars != k->n_sc || (k->n_sc && !cfg->scalars))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s' takes %d scalar%s, got %d",
                     k->name, k->n_sc, k->n_sc == 1 ? "" : "s", cfg->n_scalars);
  if (cfg->n_templates < 0 || cfg->n_templates > ZK_MAX_TEMPLATES ||
      (cfg->n_templates && !cfg->templates))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': bad template list (%d)",
                     k->name, cfg->n_templates);
  for (int i = 0; i < cfg->n_templates; i++) {
    const zmlx_template_arg *t = &cfg->templates[i];
    const char *nm = t->name;
    int ok = zk_is_identifier(nm) && strlen(nm) < 64;
    if (!ok || (t->kind == ZMLX_TEMPLATE_DTYPE && !zk_ctype((zmlx_dtype)t->value)))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': template %d ('%s') is invalid",
                       k->name, i, nm ? nm : "(null)");
  }
  if (!outputs_given) {
    if (!cfg->output_dtypes || !cfg->output_ndims || !cfg->output_shapes)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "kernel '%s': output_dtypes, output_ndims and output_shapes are required",
                       k->name);
    for (int i = 0; i < k->n_out; i++) {
      if (!zk_ctype(cfg->output_dtypes[i]))
        return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "kernel '%s': output '%s' dtype %d",
                         k->name, k->out_names[i], (int)cfg->output_dtypes[i]);
      ZMLX_TRY(zmlx_shape_check(op, cfg->output_ndims[i], cfg->output_shapes[i], NULL));
    }
  }
  for (int d = 0; d < 3; d++)
    if (cfg->grid[d] < 0 || cfg->block[d] < 0)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': negative grid or block",
                       k->name);
  return ZMLX_STATUS_OK;
}

static zmlx_status pick_device(const zmlx_kernel *k, int n, zmlx_array *const *in,
                               zmlx_array **outputs, int outputs_given,
                               const zmlx_launch_config *cfg, zmlx_device *dev) {
  if (n > 0)
    *dev = zmlx_array_device(in[0]);
  else if (outputs_given)
    *dev = zmlx_array_device(outputs[0]);
  else
    *dev = cfg->stream ? zmlx_stream_device(cfg->stream) : zmlx_device_default();
  for (int i = 1; i < n; i++) {
    zmlx_device d = zmlx_array_device(in[i]);
    if (d.type != dev->type || d.index != dev->index)
      return fail_with_inputs(ZMLX_STATUS_DEVICE_MISMATCH, k, n, in,
                              "inputs live on different devices; copy them with zmlx_array_to_device",
                              NULL);
  }
  if (cfg->stream) {
    zmlx_device d = zmlx_stream_device(cfg->stream);
    if (d.type != dev->type || d.index != dev->index)
      return fail_with_inputs(ZMLX_STATUS_DEVICE_MISMATCH, k, n, in,
                              "the stream belongs to another device", NULL);
  }
  return ZMLX_STATUS_OK;
}

static size_t put(unsigned char *key, size_t at, const void *v, size_t n) {
  if (at + n <= 512) memcpy(key + at, v, n);
  return at + n;
}

static size_t variant_key(unsigned char *key, zmlx_device dev, const zmlx_kernel *k,
                          const zmlx_dtype *in, const zmlx_dtype *out,
                          const zmlx_launch_config *cfg) {
  size_t n = 0;
  unsigned char ids[2 * ZK_MAX_IO];
  n = put(key, n, &dev, sizeof dev);
  for (int i = 0; i < k->n_in; i++) ids[i] = (unsigned char)in[i];
  for (int i = 0; i < k->n_out; i++) ids[k->n_in + i] = (unsigned char)out[i];
  n = put(key, n, ids, (size_t)(k->n_in + k->n_out));
  for (int i = 0; i < cfg->n_templates; i++) {
    const zmlx_template_arg *t = &cfg->templates[i];
    n = put(key, n, &t->kind, sizeof t->kind);
    n = put(key, n, &t->value, sizeof t->value);
    n = put(key, n, t->name, strlen(t->name) + 1);
  }
  return n;
}

static zk_variant *find_variant(zmlx_kernel *k, const unsigned char *key, size_t len) {
  zk_variant *v = k->last;
  if (v && v->key_len == len && !memcmp(v->key, key, len)) return v;
  for (v = k->variants; v; v = v->next)
    if (v->key_len == len && !memcmp(v->key, key, len)) return v;
  return NULL;
}

static void add_ms(_Atomic double *acc, double ms) {
  double old = atomic_load(acc);
  while (!atomic_compare_exchange_weak(acc, &old, old + ms)) {
  }
}

static zmlx_status get_variant(zmlx_kernel *k, const zb_backend *b, zmlx_device dev,
                               const zmlx_dtype *in, const zmlx_dtype *out,
                               const zmlx_launch_config *cfg, zk_variant **out_v) {
  unsigned char key[512];
  size_t len = variant_key(key, dev, k, in, out, cfg);
  if (len > sizeof key)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel '%s': template names too long",
                     k->name);
  pthread_mutex_lock(&k->lock);
  zk_variant *v = find_variant(k, key, len);
  if (v) k->last = v;
  pthread_mutex_unlock(&k->lock);
  if (v) {
    atomic_fetch_add(&k->n_memory_hits, 1);
    *out_v = v;
    return ZMLX_STATUS_OK;
  }
  zk_spec spec = {.k = k, .target = dev.type, .n_templates = cfg->n_templates,
                  .templates = cfg->templates};
  memcpy(spec.in_dtypes, in, sizeof(zmlx_dtype) * (size_t)k->n_in);
  memcpy(spec.out_dtypes, out, sizeof(zmlx_dtype) * (size_t)k->n_out);
  char *source, entry[300];
  ZMLX_TRY(zk_codegen(&spec, &source, entry, sizeof entry));
  zk_module *m;
  zk_resolve_info info;
  zmlx_status s = zk_module_get(b, dev, source, entry, k->name, &m, &info);
  free(source);
  if (info.compiled) {
    atomic_fetch_add(&k->n_compiles, 1);
    add_ms(&k->compile_ms, info.compile_ms);
  }
  ZMLX_TRY(s);
  if (info.disk_hit) atomic_fetch_add(&k->n_disk_hits, 1);
  if (info.memory_hit) atomic_fetch_add(&k->n_memory_hits, 1);
  v = calloc(1, sizeof *v);
  if (!v) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  memcpy(v->key, key, len);
  v->key_len = len;
  v->module = m;
  pthread_mutex_lock(&k->lock);
  v->next = k->variants;
  k->variants = v;
  k->last = v;
  pthread_mutex_unlock(&k->lock);
  atomic_fetch_add(&k->n_variants, 1);
  *out_v = v;
  return ZMLX_STATUS_OK;
}

static void pack_array_meta(packed *p, const zmlx_array *a, unsigned char uses, int *nd) {
  if (uses & ZK_USES_SHAPE) {
    dims_arg *d = &p->dims[(*nd)++];
    memset(d, 0, sizeof *d);
    for (int i = 0; i < a->ndim; i++) d->d[i] = a->shape[i];
    p->params[p->n++] = d;
  }
  if (uses & ZK_USES_STRIDES) {
    dims_arg *d = &p->dims[(*nd)++];
    memset(d, 0, sizeof *d);
    for (int i = 0; i < a->ndim; i++) d->d[i] = a->strides[i];
    p->params[p->n++] = d;
  }
  if (uses & ZK_USES_NDIM) {
    int *v = &p->ndims[(*nd)++];
    *v = a->ndim;
    p->params[p->n++] = v;
  }
}

static void pack(packed *p, const zmlx_kernel *k, zmlx_array *const *in, zmlx_array **out,
                 const zmlx_launch_config *cfg) {
  p->n = 0;
  for (int i = 0; i < k->n_in; i++) {
    p->ptrs[i] = zmlx_array_data(in[i]);
    p->params[p->n++] = &p->ptrs[i];
  }
  for (int i = 0; i < k->n_out; i++) {
    p->ptrs[k->n_in + i] = zmlx_array_data(out[i]);
    p->params[p->n++] = &p->ptrs[k->n_in + i];
  }
  for (int i = 0; i < k->n_sc; i++) {
    double v = cfg->scalars[i];
    switch (k->sc_dtypes[i]) {
      case ZMLX_DTYPE_F64: p->sc[i].d = v; break;
      case ZMLX_DTYPE_I32: p->sc[i].i = (int32_t)v; break;
      case ZMLX_DTYPE_I64: p->sc[i].l = (long long)v; break;
      case ZMLX_DTYPE_U32: p->sc[i].u = (uint32_t)v; break;
      default: p->sc[i].f = (float)v; break;
    }
    p->params[p->n++] = &p->sc[i];
  }
  int nd = 0;
  for (int i = 0; i < k->n_in; i++) pack_array_meta(p, in[i], k->in_uses[i], &nd);
  for (int i = 0; i < k->n_out; i++) pack_array_meta(p, out[i], k->out_uses[i], &nd);
  for (int d = 0; d < 3; d++) p->params[p->n++] = &p->grid[d];
}

/* Fresh outputs, filled first when the caller asked for it. */
static zmlx_status make_outputs(const zmlx_kernel *k, const zmlx_launch_config *cfg,
                                zmlx_device dev, zmlx_array **outputs) {
  for (int i = 0; i < k->n_out; i++) {
    zmlx_status s = zmlx_array_empty(cfg->output_dtypes[i], cfg->output_ndims[i],
                                     cfg->output_shapes[i], dev, &outputs[i]);
    if (s == ZMLX_STATUS_OK && cfg->init_outputs) s = zmlx_array_fill(outputs[i], cfg->init_value);
    if (s != ZMLX_STATUS_OK) {
      for (int j = 0; j <= i; j++) {
        zmlx_array_release(outputs[j]);
        outputs[j] = NULL;
      }
      return zmlx_fail_wrap(s, op);
    }
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status run(zmlx_kernel *k, const zb_backend *b, zmlx_device dev, zmlx_array **in,
                       zmlx_array **out, const zmlx_launch_config *cfg) {
  zmlx_dtype in_t[ZK_MAX_IO], out_t[ZK_MAX_IO];
  for (int i = 0; i < k->n_in; i++) in_t[i] = in[i]->dtype;
  for (int i = 0; i < k->n_out; i++) out_t[i] = out[i]->dtype;
  zk_variant *v = NULL;
  ZMLX_TRY(get_variant(k, b, dev, in_t, out_t, cfg, &v));
  packed p;
  int auto_grid = !cfg->grid[0] && !cfg->grid[1] && !cfg->grid[2];
  p.grid[0] = auto_grid ? zmlx_array_numel(out[0]) : cfg->grid[0];
  p.grid[1] = auto_grid ? 1 : cfg->grid[1];
  p.grid[2] = auto_grid ? 1 : cfg->grid[2];
  atomic_fetch_add(&k->n_launches, 1);
  if (p.grid[0] == 0 || p.grid[1] == 0 || p.grid[2] == 0) return ZMLX_STATUS_OK;
  pack(&p, k, in, out, cfg);
  int block[3] = {cfg->block[0] ? cfg->block[0] : 256, cfg->block[1] ? cfg->block[1] : 1,
                  cfg->block[2] ? cfg->block[2] : 1};
  int64_t grid[3] = {p.grid[0], p.grid[1], p.grid[2]};
  zmlx_status s = b->launch(dev.index, v->module->function, grid, block, cfg->shared_bytes,
                            p.params, zmlx_stream_native(dev, cfg->stream));
  if (s == ZMLX_STATUS_OK) return s;
  /* Keep the backend's words (the driver's error), and add the inputs. */
  char *why = strdup(zmlx_error_last());
  s = fail_with_inputs(s, k, k->n_in, in, "", why);
  free(why);
  return s;
}

zmlx_status zk_launch(zmlx_kernel *k, int n_inputs, zmlx_array *const *inputs,
                      const zmlx_launch_config *cfg, zmlx_array **outputs, int flags) {
  int outputs_given = flags & ZK_OUTPUTS_GIVEN;
  if (!k || !cfg || !outputs)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "kernel, config and outputs are required");
  ZMLX_TRY(check_call(k, n_inputs, inputs, cfg, outputs_given));
  zmlx_device dev;
  ZMLX_TRY(pick_device(k, n_inputs, inputs, outputs, outputs_given, cfg, &dev));
  const zb_backend *b;
  ZMLX_TRY(zb_for_device(dev, &b));

  /* Inputs whose strides the body ignores must be dense in C order. */
  zmlx_array *in[ZK_MAX_IO] = {0};
  zmlx_status s = ZMLX_STATUS_OK;
  for (int i = 0; i < n_inputs && s == ZMLX_STATUS_OK; i++) {
    if ((flags & ZK_INPUTS_AS_IS) || (k->in_uses[i] & ZK_USES_STRIDES) ||
        zmlx_array_is_contiguous(inputs[i]))
      in[i] = zmlx_array_retain(inputs[i]);
    else
      s = zmlx_array_contiguous(inputs[i], &in[i]);
  }
  if (s == ZMLX_STATUS_OK && !outputs_given) s = make_outputs(k, cfg, dev, outputs);
  if (s == ZMLX_STATUS_OK) {
    s = run(k, b, dev, in, outputs, cfg);
    if (s != ZMLX_STATUS_OK && !outputs_given)
      for (int i = 0; i < k->n_out; i++) {
        zmlx_array_release(outputs[i]);
        outputs[i] = NULL;
      }
  }
  for (int i = 0; i < n_inputs; i++) zmlx_array_release(in[i]);
  return s;
}

zmlx_status zmlx_kernel_launch(zmlx_kernel *k, int n_inputs, zmlx_array *const *inputs,
                               const zmlx_launch_config *cfg, zmlx_array **outputs) {
  return zk_launch(k, n_inputs, inputs, cfg, outputs, 0);
}

zmlx_status zmlx_kernel_source(zmlx_kernel *k, zmlx_device dev, int n_inputs,
                               zmlx_array *const *inputs, const zmlx_launch_config *cfg,
                               char **out) {
  if (!k || !cfg || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "kernel_source", "NULL argument");
  ZMLX_TRY(check_call(k, n_inputs, inputs, cfg, 0));
  zk_spec spec = {.k = k, .target = dev.type, .n_templates = cfg->n_templates,
                  .templates = cfg->templates};
  for (int i = 0; i < k->n_in; i++) spec.in_dtypes[i] = inputs[i]->dtype;
  for (int i = 0; i < k->n_out; i++) spec.out_dtypes[i] = cfg->output_dtypes[i];
  char entry[300];
  return zk_codegen(&spec, out, entry, sizeof entry);
}
