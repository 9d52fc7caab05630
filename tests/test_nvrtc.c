/* NVRTC compile checks, with or without a GPU: the CUDA source generated
 * for the builtin kernels and for kernels like the tests' own compiles for
 * sm_90 ($ZMLX_CUDA_ARCH) into a real cubin. Catches prelude and codegen
 * mistakes on machines that can only compile. Skips (77) without NVRTC. */
#include "backend/cuda/cuda_api.h"
#include "author/ew_internal.h"
#include "kernel/builtin.h"
#include "zt_array.h"

static const char *arch(void) {
  const char *a = getenv("ZMLX_CUDA_ARCH");
  return a ? a : "sm_90";
}

/* Generate the CUDA source for this launch and compile it with NVRTC. */
static void compile_ok(zmlx_kernel *k, const char *entry, int n_in, zmlx_array **in,
                       const zmlx_launch_config *cfg, const char *what) {
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), n_in, in, cfg, &src));
  if (!src) return;
  zmlx_status s = zb_nvrtc_compile(src, entry, arch(), &cubin, &len, &log);
  CHECK_MSG(s == ZMLX_STATUS_OK, "%s: %s\n%s", what, zmlx_error_last(), log ? log : "");
  CHECK_MSG(s != ZMLX_STATUS_OK || (len > 4 && !memcmp(cubin, "\x7f" "ELF", 4)),
            "%s: not an ELF cubin", what);
  free(src);
  free(log);
  free(cubin);
}

static zmlx_array *host_array(zmlx_dtype t) {
  int64_t n = 4;
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(t, 1, &n, ZMLX_CPU, &a));
  return a;
}

static void test_builtin_copy_every_dtype(void) {
  zmlx_kernel *k;
  CHECK_OK(zk_builtin_kernel(ZK_BUILTIN_COPY, &k));
  int64_t n = 4;
  const int64_t *shapes[] = {&n};
  int one = 1;
  for (int a = 0; a < ZMLX_DTYPE_COUNT; a++)
    for (int b = 0; b < ZMLX_DTYPE_COUNT; b++) {
      /* Every dtype to and from f32 and bf16, and to itself. */
      if (!(a == b || a == ZMLX_DTYPE_F32 || b == ZMLX_DTYPE_F32 || b == ZMLX_DTYPE_BF16)) continue;
      zmlx_dtype to = (zmlx_dtype)b;
      zmlx_array *x = host_array((zmlx_dtype)a);
      zmlx_template_arg t[2] = {{"MODE", ZMLX_TEMPLATE_INT, zk_copy_mode((zmlx_dtype)a, to)},
                                {"CONTIG_OUT", ZMLX_TEMPLATE_BOOL, (a + b) % 2}};
      zmlx_launch_config cfg = {.output_dtypes = &to, .output_ndims = &one,
                                .output_shapes = shapes, .n_templates = 2, .templates = t};
      char what[64];
      snprintf(what, sizeof what, "copy %s -> %s", zmlx_dtype_name((zmlx_dtype)a), zmlx_dtype_name(to));
      compile_ok(k, "zmlx_copy", 1, &x, &cfg, what);
      zmlx_array_release(x);
    }
}

static void test_builtin_random_and_arange(void) {
  zmlx_kernel *k;
  int64_t n = 4;
  const int64_t *shapes[] = {&n};
  int one = 1;
  double sc[4] = {1, 2, 0, 1};
  const zmlx_dtype types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_BF16, ZMLX_DTYPE_FP8_E4M3};
  CHECK_OK(zk_builtin_kernel(ZK_BUILTIN_RANDOM, &k));
  for (int i = 0; i < 4; i++)
    for (int normal = 0; normal < 2; normal++) {
      zmlx_dtype t = types[i];
      zmlx_template_arg tp[2] = {{"NORMAL", ZMLX_TEMPLATE_BOOL, normal},
                                 {"F64", ZMLX_TEMPLATE_BOOL, t == ZMLX_DTYPE_F64}};
      zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                                .n_templates = 2, .templates = tp, .n_scalars = 4, .scalars = sc};
      compile_ok(k, "zmlx_random", 0, NULL, &cfg, normal ? "random normal" : "random uniform");
    }
  CHECK_OK(zk_builtin_kernel(ZK_BUILTIN_ARANGE, &k));
  const zmlx_dtype at[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_F16, ZMLX_DTYPE_U32};
  for (int i = 0; i < 3; i++) {
    zmlx_dtype t = at[i];
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                              .n_scalars = 2, .scalars = sc};
    compile_ok(k, "zmlx_arange", 0, NULL, &cfg, "arange");
  }
}

/* User-style bodies: every helper of the prelude, templates, typed scalars,
 * every piece of metadata. */
static void test_user_kernels(void) {
  static const char *ins[] = {"x", "w"}, *outs[] = {"y", "z"}, *scs[] = {"a", "b", "c", "d", "e"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_I32, ZMLX_DTYPE_I64,
                                   ZMLX_DTYPE_U32};
  zmlx_kernel_desc d = {
      .name = "everything", .n_inputs = 2, .input_names = ins, .n_outputs = 2,
      .output_names = outs, .n_scalars = 5, .scalar_names = scs, .scalar_dtypes = sct,
      .header = "static inline float twice(float v) { return 2.0f * v; }\n",
      .source = "float v = zmlx_tof(x[zmlx_offset(gid, x_ndim, x_shape, x_strides)]);\n"
                "float m = -INFINITY; if (v != v) m = NAN;\n"
                "float r = zmlx_siluf(v) + zmlx_sigmoidf(v) + zmlx_gelu_erff(v) + zmlx_gelu_tanhf(v)\n"
                "        + zmlx_softplusf(v) + twice(zmlx_tof(w[gid])) + zmlx_uniformf(N, gid);\n"
                "ACC acc = (ACC)r * (ACC)b + (ACC)(c + d + e) + (ACC)a + (ACC)zmlx_normal(7, gid);\n"
                "zmlx_store(y, gid, fmaxf((float)acc, m));\n"
                "zmlx_store(z, gid, FLAG ? zmlx_tod(x[0]) : (double)y_shape[0]);\n"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = 4;
  const int64_t *shapes[] = {&n, &n};
  int nds[2] = {1, 1};
  double sc[5] = {1, 2, 3, 4, 5};
  for (int t = 0; t < ZMLX_DTYPE_COUNT; t++) {
    zmlx_dtype ot[2] = {(zmlx_dtype)t, ZMLX_DTYPE_F64};
    zmlx_array *x = host_array((zmlx_dtype)t), *w = host_array(ZMLX_DTYPE_BF16);
    zmlx_array *in[2] = {x, w};
    zmlx_template_arg tp[3] = {{"N", ZMLX_TEMPLATE_INT, 3},
                               {"FLAG", ZMLX_TEMPLATE_BOOL, t % 2},
                               {"ACC", ZMLX_TEMPLATE_DTYPE, t % 2 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32}};
    zmlx_launch_config cfg = {.output_dtypes = ot, .output_ndims = nds, .output_shapes = shapes,
                              .n_templates = 3, .templates = tp, .n_scalars = 5, .scalars = sc};
    char what[64];
    snprintf(what, sizeof what, "everything(%s)", zmlx_dtype_name((zmlx_dtype)t));
    compile_ok(k, "zmlx_everything", 2, in, &cfg, what);
    zmlx_array_release(x);
    zmlx_array_release(w);
  }
  zmlx_kernel_destroy(k);
}

/* The three raw kernels of an elementwise kernel, every path's templates. */
static void test_elementwise_paths(void) {
  static const char *ins[] = {"gate", "up"}, *outs[] = {"out", "aux"}, *scs[] = {"alpha"};
  zmlx_elementwise_desc d = {.name = "ew_paths", .n_inputs = 2, .input_names = ins, .n_outputs = 2,
                             .output_names = outs, .n_scalars = 1, .scalar_names = scs,
                             .expr = "out = zmlx_siluf(gate) * up * alpha; aux = gate - up;"};
  const zmlx_dtype types[] = {ZMLX_DTYPE_BF16, ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_F64};
  for (int c = 0; c < 2; c++) {
    d.compute = c ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
    zmlx_elementwise *k = NULL;
    CHECK_OK(zmlx_elementwise_create(&d, &k));
    if (!k) return;
    zmlx_kernel *fast, *general, *tile;
    zk_ew_raw_kernels(k, &fast, &general, &tile);
    for (int ti = 0; ti < 4; ti++) {
      zmlx_dtype t = types[ti], ot[2] = {t, t};
      zmlx_array *x = host_array(t), *in[2] = {x, x};
      int64_t n = 4;
      const int64_t *shapes[] = {&n, &n};
      int nds[2] = {1, 1};
      double sc[3] = {0.5, 4, 2};
      zmlx_template_arg ft[4] = {{"VEC", ZMLX_TEMPLATE_INT, 16 / (int)zmlx_dtype_size(t)},
                                 {"ITEMS", ZMLX_TEMPLATE_INT, 1 + ti % 3},
                                 {"MODE_gate", ZMLX_TEMPLATE_INT, ti % 4},
                                 {"MODE_up", ZMLX_TEMPLATE_INT, (ti + 1) % 4}};
      zmlx_launch_config cfg = {.output_dtypes = ot, .output_ndims = nds, .output_shapes = shapes,
                                .n_templates = 4, .templates = ft, .n_scalars = 3, .scalars = sc};
      compile_ok(fast, "zmlx_ew_paths", 2, in, &cfg, "elementwise fast");
      zmlx_template_arg gt[2] = {{"NDIM", ZMLX_TEMPLATE_INT, 3}, {"OUT_CONTIG", ZMLX_TEMPLATE_BOOL, ti % 2}};
      cfg.templates = gt;
      cfg.n_templates = 2;
      cfg.n_scalars = 1;
      compile_ok(general, "zmlx_ew_paths", 2, in, &cfg, "elementwise general");
      zmlx_template_arg tt[2] = {{"TMODE_gate", ZMLX_TEMPLATE_INT, 1}, {"TMODE_up", ZMLX_TEMPLATE_INT, ti % 2}};
      cfg.templates = tt;
      compile_ok(tile, "zmlx_ew_paths", 2, in, &cfg, "elementwise tile");
      zmlx_array_release(x);
    }
    zmlx_elementwise_destroy(k);
  }
}

/* A broken body fails with the log pointing into the body. */
static void test_error_points_into_body(void) {
  static const char *outs[] = {"y"};
  zmlx_kernel_desc d = {.name = "oops", .n_outputs = 1, .output_names = outs,
                        .source = "float ok = 1.0f;\ny[gid] = ok + missing_thing;\n"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = 4;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_dtype t = ZMLX_DTYPE_F32;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), 0, NULL, &cfg, &src));
  CHECK_STATUS(zb_nvrtc_compile(src, "zmlx_oops", arch(), &cubin, &len, &log),
               ZMLX_STATUS_COMPILE_FAILED);
  CHECK_CONTAINS(log, "oops.body(2)");
  CHECK_CONTAINS(log, "missing_thing");
  free(src); free(log); free(cubin);
  zmlx_kernel_destroy(k);
}

static const zt_case cases[] = {ZT(test_builtin_copy_every_dtype), ZT(test_builtin_random_and_arange),
                                ZT(test_user_kernels), ZT(test_elementwise_paths),
                                ZT(test_error_points_into_body)};

int main(int argc, char **argv) {
  char why[512];
  if (!zb_nvrtc_available(why, sizeof why)) ZT_SKIP("NVRTC not found: %s", why);
  return zt_run(cases, (int)(sizeof cases / sizeof *cases), argc, argv);
}
