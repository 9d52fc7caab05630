/* Keys (device identity, shape buckets), search spaces and the per-device
 * default profile. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/error.h"
#include "tune/tune_internal.h"

/* Identities are cached for the first devices of each type; the rest are
 * queried each time (no machine has that many). */
#define CACHED_DEVICES 64

typedef struct dev_identity {
  int valid;
  char name[128];
  char arch[32];
  int sm_count;
  int bw_class;
} dev_identity;

static pthread_mutex_t g_dev_lock = PTHREAD_MUTEX_INITIALIZER;
static dev_identity g_dev[2][CACHED_DEVICES];

static dev_identity *cached(zmlx_device dev) {
  int t = dev.type == ZMLX_DEVICE_CUDA ? 1 : 0;
  return dev.index >= 0 && dev.index < CACHED_DEVICES ? &g_dev[t][dev.index] : NULL;
}

/* Tabs and newlines would break the file's lines. */
static void copy_clean(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  for (; src[i] && i + 1 < cap; i++)
    dst[i] = (src[i] == '\t' || src[i] == '\n' || src[i] == '\r') ? ' ' : src[i];
  dst[i] = 0;
}

static zmlx_status identity(zmlx_device dev, dev_identity *out) {
  dev_identity *c = cached(dev);
  pthread_mutex_lock(&g_dev_lock);
  int hit = c && c->valid;
  if (hit) *out = *c;
  pthread_mutex_unlock(&g_dev_lock);
  if (hit) return ZMLX_STATUS_OK;
  zmlx_device_info info = {0};
  zmlx_status s = zmlx_device_info_get(dev, &info);
  if (s) return zmlx_fail_wrap(s, "tune");
  pthread_mutex_lock(&g_dev_lock);
  /* The bandwidth may have been set before the first key was made. */
  dev_identity id = {.valid = 1, .sm_count = info.sm_count, .bw_class = c ? c->bw_class : 0};
  copy_clean(id.name, sizeof id.name, info.name);
  copy_clean(id.arch, sizeof id.arch, info.arch);
  if (c) *c = id;
  pthread_mutex_unlock(&g_dev_lock);
  *out = id;
  return ZMLX_STATUS_OK;
}

void ztune_devices_reset(void) {
  pthread_mutex_lock(&g_dev_lock);
  memset(g_dev, 0, sizeof g_dev);
  pthread_mutex_unlock(&g_dev_lock);
}

zmlx_status zmlx_tune_set_bandwidth(zmlx_device dev, double gbps) {
  static const char op[] = "tune.set_bandwidth";
  dev_identity *c = cached(dev);
  if (!c) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "device index %d", dev.index);
  if (!(gbps >= 0) || gbps > ldexp(1.0, ZTUNE_MAX_BW_CLASS))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%g GB/s (want 0 to 2^%d)", gbps,
                     ZTUNE_MAX_BW_CLASS);
  /* 0 means "implied by the name", so even a slow device gets class 1. */
  long cls = gbps > 0 ? lround(log2(gbps)) : 0;
  if (gbps > 0 && cls < 1) cls = 1;
  pthread_mutex_lock(&g_dev_lock);
  c->bw_class = (int)cls;
  pthread_mutex_unlock(&g_dev_lock);
  return ZMLX_STATUS_OK;
}

int64_t zmlx_tune_bucket(int64_t n) {
  if (n <= 1) return n < 0 ? 0 : n;
  if (n > (INT64_C(1) << 62)) return INT64_C(1) << 62;
  int64_t b = 1;
  while (b < n) b <<= 1;
  return b;
}

static zmlx_status check_key_args(const char *kernel, int ndim, const int64_t *shape,
                                  zmlx_dtype dtype, const zmlx_tune_key *out) {
  static const char op[] = "tune.key";
  if (!out || !kernel || !kernel[0])
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument or empty kernel name");
  if (kernel[0] == '#')
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "kernel identity \"%.40s\" starts with '#', the table file's comment mark",
                     kernel);
  if (strlen(kernel) >= sizeof out->kernel)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "kernel identity \"%.40s...\" is longer than %zu bytes", kernel,
                     sizeof out->kernel - 1);
  if (ndim < 0 || ndim > ZMLX_TUNE_MAX_DIMS || (ndim > 0 && !shape))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "ndim %d (want 0 to %d, with a shape)",
                     ndim, ZMLX_TUNE_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "size %lld in dimension %d",
                       (long long)shape[d], d);
  if ((unsigned)dtype >= ZMLX_DTYPE_COUNT)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op, "dtype %d", (int)dtype);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tune_key_make(const char *kernel, zmlx_device dev, int ndim,
                               const int64_t *shape, zmlx_dtype dtype, zmlx_tune_key *out) {
  ZMLX_TRY(check_key_args(kernel, ndim, shape, dtype, out));
  dev_identity id;
  ZMLX_TRY(identity(dev, &id));
  memset(out, 0, sizeof *out);
  copy_clean(out->kernel, sizeof out->kernel, kernel);
  memcpy(out->device, id.name, sizeof out->device);
  memcpy(out->arch, id.arch, sizeof out->arch);
  out->sm_count = id.sm_count;
  out->bw_class = id.bw_class;
  out->ndim = ndim;
  for (int d = 0; d < ndim; d++) out->shape[d] = zmlx_tune_bucket(shape[d]);
  out->dtype = dtype;
  return ZMLX_STATUS_OK;
}

/* ---- Spaces ------------------------------------------------------------ */

static zmlx_status check_list(const int *v, int n, const char *field) {
  if (n < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.space", "%d %s values", n, field);
  for (int i = 0; v && i < n; i++)
    if (v[i] <= 0)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.space", "%s value %d (want > 0)",
                       field, v[i]);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tune_space_product(const int *blocks, int n_blocks, const int *items,
                                    int n_items, const int *vecs, int n_vecs, const int *rows,
                                    int n_rows, zmlx_tune_filter keep, void *ctx,
                                    zmlx_tune_space *out) {
  static const char *names[4] = {"block", "items", "vec", "rows"};
  static const int none = 0;
  const int *v[4] = {blocks, items, vecs, rows};
  int n[4] = {n_blocks, n_items, n_vecs, n_rows};
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.space", "out is NULL");
  out->n = 0;
  for (int f = 0; f < 4; f++) {
    ZMLX_TRY(check_list(v[f], n[f], names[f]));
    if (!v[f] || !n[f]) {
      v[f] = &none;
      n[f] = 1;
    }
  }
  for (int a = 0; a < n[0]; a++)
    for (int b = 0; b < n[1]; b++)
      for (int c = 0; c < n[2]; c++)
        for (int d = 0; d < n[3]; d++) {
          zmlx_tune_config cfg = {v[0][a], v[1][b], v[2][c], v[3][d]};
          if (keep && !keep(ctx, &cfg)) continue;
          if (out->n == ZMLX_TUNE_MAX_CANDIDATES)
            return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.space",
                             "more than %d candidates", ZMLX_TUNE_MAX_CANDIDATES);
          out->v[out->n++] = cfg;
        }
  return ZMLX_STATUS_OK;
}

/* ---- The default profile ----------------------------------------------- */

/* First matching arch prefix wins. What sets these values is keeping
 * enough bytes in flight per SM to cover memory latency (Little's law:
 * bandwidth per SM x ~800 ns). With 2048 resident threads moving one
 * 16-byte vector each, an SM has 32 KiB in flight: enough for Hopper
 * (3.35-4.8 TB/s over 132 SMs: 20-29 KiB) and everything older; Blackwell
 * data-center parts (8 TB/s over 148 SMs: ~43 KiB) need two vectors per
 * thread. */
static const struct {
  const char *arch_prefix;
  zmlx_tune_config config;
} gpu_profiles[] = {
    {"sm_10", {256, 2, 16, 1}},
    {"sm_", {256, 1, 16, 1}},
};

/* The CPU backend ignores block; 16-byte vectors match the prelude's
 * aligned vector accesses, which the C compiler widens as it sees fit. */
static const zmlx_tune_config cpu_profile = {256, 1, 16, 1};

static zmlx_tune_config profile_for(zmlx_device dev, const char *arch) {
  if (dev.type == ZMLX_DEVICE_CPU) return cpu_profile;
  size_t n = sizeof gpu_profiles / sizeof gpu_profiles[0];
  for (size_t i = 0; i < n; i++)
    if (!strncmp(arch, gpu_profiles[i].arch_prefix, strlen(gpu_profiles[i].arch_prefix)))
      return gpu_profiles[i].config;
  return gpu_profiles[n - 1].config;
}

static double field_distance(int a, int b) {
  return a > 0 && b > 0 ? fabs(log2((double)a) - log2((double)b)) : 0;
}

static double distance(const zmlx_tune_config *a, const zmlx_tune_config *b) {
  return field_distance(a->block, b->block) + field_distance(a->items, b->items) +
         field_distance(a->vec, b->vec) + field_distance(a->rows, b->rows);
}

zmlx_status zmlx_tune_default(zmlx_device dev, const zmlx_tune_space *space,
                              zmlx_tune_config *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.default", "out is NULL");
  dev_identity id;
  ZMLX_TRY(identity(dev, &id));
  zmlx_tune_config p = profile_for(dev, id.arch);
  *out = p;
  if (!space || space->n <= 0) return ZMLX_STATUS_OK;
  int n = space->n < ZMLX_TUNE_MAX_CANDIDATES ? space->n : ZMLX_TUNE_MAX_CANDIDATES;
  double best = INFINITY;
  for (int i = 0; i < n; i++) {
    double d = distance(&p, &space->v[i]);
    if (d < best) {
      best = d;
      *out = space->v[i];
    }
  }
  return ZMLX_STATUS_OK;
}
