#include "kernel/builtin.h"

#include <pthread.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

/* MODE: 0 same dtype, 1 to bool, 2 integer to integer, 3 through double.
 * CONTIG_OUT skips the output's index arithmetic when it is dense. */
static const char copy_body[] =
    "const x_t v = x[zmlx_offset(gid, x_ndim, x_shape, x_strides)];\n"
    "const long long o = CONTIG_OUT ? gid : zmlx_offset(gid, out_ndim, out_shape, out_strides);\n"
    "#if MODE == 0\n"
    "out[o] = v;\n"
    "#elif MODE == 1\n"
    "out[o] = zmlx_tod(v) != 0;\n"
    "#elif MODE == 2\n"
    "out[o] = (out_t)v;\n"
    "#else\n"
    "zmlx_store(out, o, zmlx_tod(v));\n"
    "#endif\n";

static const char arange_body[] = "zmlx_store(out, gid, start + step * (double)gid);\n";

/* fma on both backends: NVRTC would contract a + b * c on its own and the
 * CPU build would not, and uniform draws must match bit for bit. */
static const char random_body[] =
    "const uint64_t seed = ((uint64_t)seed_hi << 32) | seed_lo;\n"
    "#if F64\n"
    "const double u = NORMAL ? zmlx_normal(seed, (uint64_t)gid) : zmlx_uniform(seed, (uint64_t)gid);\n"
    "zmlx_store(out, gid, NORMAL ? fma(u, b, a) : fma(u, b - a, a));\n"
    "#else\n"
    "const float u = NORMAL ? zmlx_normalf(seed, (uint64_t)gid) : zmlx_uniformf(seed, (uint64_t)gid);\n"
    "zmlx_store(out, gid, NORMAL ? fmaf(u, (float)b, (float)a) : fmaf(u, (float)(b - a), (float)a));\n"
    "#endif\n";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *k_copy, *k_arange, *k_random;

static zmlx_status get(zmlx_kernel **slot, const char *name, int n_in, const char *const *ins,
                       int n_sc, const char *const *scs, const zmlx_dtype *sc_dtypes,
                       const char *body) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!*slot) {
    static const char *const outs[] = {"out"};
    zmlx_kernel_desc d = {.name = name, .n_inputs = n_in, .input_names = ins, .n_outputs = 1,
                          .output_names = outs, .n_scalars = n_sc, .scalar_names = scs,
                          .scalar_dtypes = sc_dtypes, .source = body};
    s = zmlx_kernel_create(&d, slot);
  }
  pthread_mutex_unlock(&lock);
  return s;
}

zmlx_status zk_builtin_kernel(zk_builtin which, zmlx_kernel **out) {
  static const char *const copy_in[] = {"x"};
  static const char *const ar_sc[] = {"start", "step"};
  static const zmlx_dtype ar_t[] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_F64};
  static const char *const rnd_sc[] = {"seed_lo", "seed_hi", "a", "b"};
  static const zmlx_dtype rnd_t[] = {ZMLX_DTYPE_U32, ZMLX_DTYPE_U32, ZMLX_DTYPE_F64, ZMLX_DTYPE_F64};
  switch (which) {
    case ZK_BUILTIN_COPY:
      ZMLX_TRY(get(&k_copy, "copy", 1, copy_in, 0, NULL, NULL, copy_body));
      *out = k_copy;
      return ZMLX_STATUS_OK;
    case ZK_BUILTIN_ARANGE:
      ZMLX_TRY(get(&k_arange, "arange", 0, NULL, 2, ar_sc, ar_t, arange_body));
      *out = k_arange;
      return ZMLX_STATUS_OK;
    case ZK_BUILTIN_RANDOM:
      ZMLX_TRY(get(&k_random, "random", 0, NULL, 4, rnd_sc, rnd_t, random_body));
      *out = k_random;
      return ZMLX_STATUS_OK;
  }
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "builtin", "no builtin kernel %d", (int)which);
}

int zk_copy_mode(zmlx_dtype from, zmlx_dtype to) {
  if (from == to) return 0;
  if (to == ZMLX_DTYPE_BOOL) return 1;
  if (zmlx_dtype_is_integer(from) && zmlx_dtype_is_integer(to)) return 2;
  return 3;
}

zmlx_status zk_copy(zmlx_array *dst, zmlx_array *src) {
  zmlx_kernel *k;
  ZMLX_TRY(zk_builtin_kernel(ZK_BUILTIN_COPY, &k));
  zmlx_template_arg t[2] = {
      {"MODE", ZMLX_TEMPLATE_INT, zk_copy_mode(src->dtype, dst->dtype)},
      {"CONTIG_OUT", ZMLX_TEMPLATE_BOOL, zmlx_array_is_contiguous(dst)},
  };
  zmlx_launch_config cfg = {.n_templates = 2, .templates = t};
  return zk_launch(k, 1, &src, &cfg, &dst, ZK_OUTPUTS_GIVEN);
}

zmlx_status zk_arange(zmlx_array *out, double start, double step) {
  zmlx_kernel *k;
  ZMLX_TRY(zk_builtin_kernel(ZK_BUILTIN_ARANGE, &k));
  double sc[2] = {start, step};
  zmlx_launch_config cfg = {.n_scalars = 2, .scalars = sc};
  return zk_launch(k, 0, NULL, &cfg, &out, ZK_OUTPUTS_GIVEN);
}

zmlx_status zk_random(zmlx_array *out, int normal, uint64_t seed, double a, double b) {
  zmlx_kernel *k;
  ZMLX_TRY(zk_builtin_kernel(ZK_BUILTIN_RANDOM, &k));
  zmlx_template_arg t[2] = {
      {"NORMAL", ZMLX_TEMPLATE_BOOL, normal},
      {"F64", ZMLX_TEMPLATE_BOOL, out->dtype == ZMLX_DTYPE_F64},
  };
  double sc[4] = {(double)(uint32_t)seed, (double)(uint32_t)(seed >> 32), a, b};
  zmlx_launch_config cfg = {.n_templates = 2, .templates = t, .n_scalars = 4, .scalars = sc};
  return zk_launch(k, 0, NULL, &cfg, &out, ZK_OUTPUTS_GIVEN);
}

void zk_builtin_shutdown(void) {
  pthread_mutex_lock(&lock);
  zmlx_kernel_destroy(k_copy);
  zmlx_kernel_destroy(k_arange);
  zmlx_kernel_destroy(k_random);
  k_copy = k_arange = k_random = NULL;
  pthread_mutex_unlock(&lock);
}
