/* NVRTC compile checks of the normalization kernels, with or without a
 * GPU: every public call is planned for CUDA (norm_kernels.c's dry hook)
 * over shapes that take each path (lanes per row from 1 to 256, rows in
 * registers or streamed, 16-byte or single-element vectors, Philox four
 * elements at a time or one, weight loaded early or late, next row
 * prefetched or not) and each dtype, and the exact CUDA source of
 * each launch must compile for sm_90 ($ZMLX_CUDA_ARCH) into a cubin.
 * Skips (77) without NVRTC. */
#include <stdlib.h>

#include "backend/cuda/cuda_api.h"
#include "catalog/norm_kernels.h"
#include "kernel/kernel_internal.h"
#include "zt_array.h"

static const char *arch(void) {
  const char *a = getenv("ZMLX_CUDA_ARCH");
  return a ? a : "sm_90";
}

/* What the compiled launches covered; the sources compiled so far (a
 * launch whose source is one already compiled is skipped). */
typedef struct seen {
  uint64_t hashes[512];
  int n_hashes;
  int n, regs, stream, small_tpr, big_tpr, multi_warp_group, vec1, vec16, quad, drop_single, wsum;
  int early, late, prefetch, no_prefetch;
  char what[64];
} seen;

static int64_t tval(const zmlx_launch_config *cfg, const char *name) {
  for (int i = 0; i < cfg->n_templates; i++)
    if (!strcmp(cfg->templates[i].name, name)) return cfg->templates[i].value;
  return -1;
}

static zmlx_status compile_hook(void *ctx, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                                const zmlx_launch_config *cfg, int n_out, zmlx_array *const *out) {
  seen *s = ctx;
  char *src = NULL, *log = NULL, entry[300];
  void *cubin = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, cfg, &src));
  if (!src) return ZMLX_STATUS_INTERNAL;
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const char *c = src; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  for (int i = 0; i < s->n_hashes; i++)
    if (s->hashes[i] == h) {
      free(src);
      return ZMLX_STATUS_OK;
    }
  if (s->n_hashes < 512) s->hashes[s->n_hashes++] = h;
  snprintf(entry, sizeof entry, "zmlx_%s", k->name);
  zmlx_status st = zb_nvrtc_compile(src, entry, arch(), &cubin, &len, &log);
  CHECK_MSG(st == ZMLX_STATUS_OK, "%s (%s): %s\n%s", s->what, k->name, zmlx_error_last(),
            log ? log : "");
  CHECK_MSG(st != ZMLX_STATUS_OK || (len > 4 && !memcmp(cubin, "\x7f" "ELF", 4)),
            "%s: not an ELF cubin", s->what);
  free(src);
  free(log);
  free(cubin);
  s->n++;
  int64_t tpr = tval(cfg, "TPR"), vec = tval(cfg, "VEC");
  if (tpr < 0) {
    s->wsum++;
    return ZMLX_STATUS_OK;
  }
  s->regs += tval(cfg, "REGS") == 1;
  s->stream += tval(cfg, "REGS") == 0;
  s->small_tpr += tpr < 32;
  s->big_tpr += tpr == 256;
  s->multi_warp_group += tpr == 64;
  s->vec1 += vec == 1;
  s->vec16 += vec * (int64_t)zmlx_dtype_size(zmlx_array_dtype(in[0])) == 16;
  s->quad += tval(cfg, "DROP") == 1 && tval(cfg, "QUAD") == 1;
  s->drop_single += tval(cfg, "DROP") == 1 && tval(cfg, "QUAD") == 0;
  int regs = tval(cfg, "REGS") == 1;
  s->early += regs && tval(cfg, "EARLY") == 1;
  s->late += regs && tval(cfg, "EARLY") == 0;
  s->prefetch += regs && tval(cfg, "PF") == 1;
  s->no_prefetch += regs && tval(cfg, "PF") == 0;
  return ZMLX_STATUS_OK;
}

static zmlx_array *arr(zmlx_dtype t, int nd, const int64_t *shape) {
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, nd, shape, ZMLX_CPU, &a));
  return a;
}

enum { BASIC = 0, DROP = 1, ALL = 2 };

/* The ops on rows of D: rmsnorm and layernorm with weight (and bias),
 * forward and backward; DROP adds the dropout, ALL every other form. */
static void ops(zmlx_dtype t, int64_t D, int set, seen *s) {
  int64_t shape[2] = {3, D};
  zmlx_array *x = arr(t, 2, shape), *r = arr(t, 2, shape), *dy = arr(t, 2, shape);
  zmlx_array *w = arr(t, 1, &D), *b = arr(t, 1, &D);
  zmlx_array *o[6] = {0};
  snprintf(s->what, sizeof s->what, "%s D=%lld", zmlx_dtype_name(t), (long long)D);
  for (int kind = 0; kind < ZMLX_NORM_COUNT; kind++) {
    zmlx_norm_kind k = (zmlx_norm_kind)kind;
    zmlx_array *bias = kind == ZMLX_NORM_LAYER ? b : NULL;
    CHECK_OK(zmlx_norm(k, x, w, bias, 1e-5, &o[0]));
    CHECK_OK(zmlx_norm_backward(k, x, w, bias, 1e-5, dy, &o[1], &o[2], &o[3]));
    for (int i = 0; i < 4; i++) zmlx_array_release(o[i]), o[i] = NULL;
    if (set != ALL) continue;
    CHECK_OK(zmlx_add_norm(k, x, r, w, bias, 1e-5, &o[0], &o[1]));
    CHECK_OK(zmlx_add_norm_backward(k, x, r, w, bias, 1e-5, dy, dy, &o[2], &o[3], &o[4]));
    for (int i = 0; i < 5; i++) zmlx_array_release(o[i]), o[i] = NULL;
    CHECK_OK(zmlx_norm(k, x, NULL, NULL, 1e-5, &o[0]));
    CHECK_OK(zmlx_norm_backward(k, x, NULL, NULL, 1e-5, dy, &o[1], NULL, NULL));
    for (int i = 0; i < 2; i++) zmlx_array_release(o[i]), o[i] = NULL;
  }
  if (set != BASIC) {
    CHECK_OK(zmlx_rmsnorm_dropout(x, w, 1e-6, 0.1, 1, 2, &o[0]));
    CHECK_OK(zmlx_rmsnorm_dropout_backward(x, w, 1e-6, 0.1, 1, 2, dy, &o[1], &o[2]));
    for (int i = 0; i < 3; i++) zmlx_array_release(o[i]);
  }
  zmlx_array *arrays[5] = {x, r, dy, w, b};
  for (int i = 0; i < 5; i++) zmlx_array_release(arrays[i]);
}

static void test_every_path_compiles(void) {
  /* Every form on 16-byte rows with 256 lanes (bf16 4096) and on streamed
   * rows (40000); then two warps per row (1000), a few lanes per row (24,
   * 7), one element per load (4097, 7, 70001: odd rows), in each dtype. */
  static const struct { zmlx_dtype t; int64_t D; int set; } runs[] = {
      {ZMLX_DTYPE_BF16, 4096, ALL},  {ZMLX_DTYPE_BF16, 40000, ALL}, {ZMLX_DTYPE_BF16, 1000, BASIC},
      {ZMLX_DTYPE_BF16, 24, BASIC},  {ZMLX_DTYPE_BF16, 7, DROP},    {ZMLX_DTYPE_BF16, 4097, DROP},
      {ZMLX_DTYPE_BF16, 70001, BASIC}, {ZMLX_DTYPE_F32, 4096, DROP}, {ZMLX_DTYPE_F32, 24, BASIC},
      {ZMLX_DTYPE_F32, 40000, BASIC}, {ZMLX_DTYPE_F16, 4096, BASIC}, {ZMLX_DTYPE_F64, 4096, DROP},
      {ZMLX_DTYPE_F64, 4097, BASIC}, {ZMLX_DTYPE_F64, 40000, BASIC},
  };
  seen s = {0};
  zcat_norm_set_dry(compile_hook, &s);
  for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) ops(runs[i].t, runs[i].D, runs[i].set, &s);
  zcat_norm_set_dry(NULL, NULL);
  printf("  %d sources compiled: regs %d, streamed %d, <32 lanes %d, 64 lanes %d, 256 lanes %d, "
         "1-element %d, 16-byte %d, dropout by 4 %d, dropout by 1 %d, wsum %d; in registers: "
         "weight early %d, late %d, prefetch %d, none %d\n",
         s.n, s.regs, s.stream, s.small_tpr, s.multi_warp_group, s.big_tpr, s.vec1, s.vec16,
         s.quad, s.drop_single, s.wsum, s.early, s.late, s.prefetch, s.no_prefetch);
  CHECK(s.regs > 0 && s.stream > 0 && s.small_tpr > 0 && s.multi_warp_group > 0 && s.big_tpr > 0);
  CHECK(s.vec1 > 0 && s.vec16 > 0 && s.quad > 0 && s.drop_single > 0 && s.wsum > 0);
  CHECK(s.early > 0 && s.late > 0 && s.prefetch > 0 && s.no_prefetch > 0);
}

int main(int argc, char **argv) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC not found: %s", why);
  /* The layernorm forward on the row kernels too (read once, first). */
  setenv("ZMLX_TUNE_NORM_LN_OWN", "1", 1);
  static const zt_case cases[] = {ZT(test_every_path_compiles)};
  return zt_run(cases, 1, argc, argv);
}
