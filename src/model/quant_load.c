/* Loading MLX affine-quantized weights: the packed uint32 weight, its
 * scales and biases, checked against the bits and group size the config
 * gives, so kernels can trust the shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "model/st_internal.h"
#include "zmlx/model_config.h"

#define OP "quantized_weight_load"

static zmlx_status named(zmlx_safetensors *st, const char *path, const char *suffix,
                         zmlx_st_tensor *info, char *name, size_t cap) {
  snprintf(name, cap, "%s%s", path, suffix);
  if (strlen(path) + strlen(suffix) >= cap)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "module path too long");
  zmlx_status s = zmlx_safetensors_find(st, name, info);
  return s ? zmlx_fail_wrap(s, OP) : ZMLX_STATUS_OK;
}

static const char *shape_text(const zmlx_st_tensor *t, char *buf, size_t n) {
  return zmlx_shape_format(t->ndim, t->shape, buf, n);
}

static zmlx_status check(const char *file, const char *path, const zmlx_quant_params *p,
                         const zmlx_st_tensor *w, const zmlx_st_tensor *sc,
                         const zmlx_st_tensor *b, int64_t *in, int64_t *out) {
  char a[128], c[128];
  if (w->dtype != ZMLX_ST_DTYPE_U32 || w->ndim < 2)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: '%s.weight' is %s %s; expected U32 with at "
                     "least 2 dimensions", file, path, zmlx_st_dtype_name(w->dtype),
                     shape_text(w, a, sizeof a));
  if (sc->dtype != ZMLX_ST_DTYPE_F16 && sc->dtype != ZMLX_ST_DTYPE_BF16 &&
      sc->dtype != ZMLX_ST_DTYPE_F32)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: '%s.scales' is %s; expected F16, BF16 or F32",
                     file, path, zmlx_st_dtype_name(sc->dtype));
  if (b->dtype != sc->dtype || b->ndim != sc->ndim ||
      memcmp(b->shape, sc->shape, sizeof b->shape[0] * (size_t)b->ndim))
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP, "%s: '%s.biases' is %s %s but the scales are %s %s",
                     file, path, zmlx_st_dtype_name(b->dtype), shape_text(b, a, sizeof a),
                     zmlx_st_dtype_name(sc->dtype), shape_text(sc, c, sizeof c));
  int d = w->ndim;
  int lead_ok = sc->ndim == d;
  for (int i = 0; lead_ok && i < d - 1; i++) lead_ok = sc->shape[i] == w->shape[i];
  int64_t packed = w->shape[d - 1];
  int exact = (packed * 32) % p->bits == 0;
  *in = packed * 32 / p->bits;
  *out = w->shape[d - 2];
  if (!lead_ok || !exact || *in % p->group_size || sc->shape[d - 1] != *in / p->group_size)
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, OP,
                     "%s: '%s': weight %s and scales %s do not fit %d-bit groups of %d (weight's "
                     "last dimension = in * bits / 32, scales' = in / group_size)",
                     file, path, shape_text(w, a, sizeof a), shape_text(sc, c, sizeof c), p->bits,
                     p->group_size);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_quantized_weight_load(zmlx_safetensors *st, const char *path,
                                       const zmlx_quant_params *p, zmlx_device dev,
                                       zmlx_quantized_weight *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "out is NULL");
  memset(out, 0, sizeof *out);
  if (!st || !path || !p) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "NULL argument");
  if (!p->quantized)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "'%s' is not quantized", path);
  if (strcmp(p->mode, "affine"))
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, OP, "'%s': quantization mode '%s' (only affine)",
                     path, p->mode);
  if (p->bits < 2 || p->bits > 8 || p->bits == 7 || p->group_size <= 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, OP, "'%s': bits %d, group_size %d", path,
                     p->bits, p->group_size);
  zmlx_st_tensor w, sc, b;
  char nw[512], ns[512], nb[512];
  ZMLX_TRY(named(st, path, ".weight", &w, nw, sizeof nw));
  ZMLX_TRY(named(st, path, ".scales", &sc, ns, sizeof ns));
  ZMLX_TRY(named(st, path, ".biases", &b, nb, sizeof nb));
  int64_t in = 0, o = 0;
  ZMLX_TRY(check(w.file, path, p, &w, &sc, &b, &in, &o));
  zmlx_status s = zmlx_safetensors_load(st, nw, dev, &out->weight);
  if (!s) s = zmlx_safetensors_load(st, ns, dev, &out->scales);
  if (!s) s = zmlx_safetensors_load(st, nb, dev, &out->biases);
  if (s) {
    zmlx_quantized_weight_release(out);
    return s;
  }
  out->bits = p->bits;
  out->group_size = p->group_size;
  out->in_features = in;
  out->out_features = o;
  return ZMLX_STATUS_OK;
}

void zmlx_quantized_weight_release(zmlx_quantized_weight *w) {
  if (!w) return;
  zmlx_array_release(w->weight);
  zmlx_array_release(w->scales);
  zmlx_array_release(w->biases);
  memset(w, 0, sizeof *w);
}
