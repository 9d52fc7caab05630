/* Run-time kernels on every device: results against f64 host references,
 * strided and broadcast inputs, templates, scalars, grids, errors, and the
 * in-memory cache. */
#include <stdio.h>
#include "zt_array.h"

static uint64_t seed = 0x5eed0001;
static const zmlx_dtype float_types[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F16, ZMLX_DTYPE_BF16};

/* out = 2*x + y over sizes 1, 7, 4097 and empty, every float dtype. */
static void test_axpy_dtypes(void) {
  static const char *ins[] = {"x", "y"}, *outs[] = {"out"};
  zmlx_kernel_desc d = {.name = "axpy", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                        .output_names = outs,
                        .source = "zmlx_store(out, gid, 2.0f * zmlx_tof(x[gid]) + zmlx_tof(y[gid]));"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  const int64_t sizes[] = {1, 7, 4097, 0};
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 3; ti++)
      for (int si = 0; si < 4; si++) {
        zmlx_dtype t = float_types[ti];
        int64_t n = sizes[si];
        double *hx = NULL, *hy = NULL;
        zmlx_array *x = zt_random_array(t, 1, &n, 3.0, &seed, devs[di], &hx);
        zmlx_array *y = zt_random_array(t, 1, &n, 3.0, &seed, devs[di], &hy);
        zmlx_array *in[2] = {x, y}, *out = NULL;
        const int64_t *shapes[] = {&n};
        int one = 1;
        zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
        CHECK_OK(zmlx_kernel_launch(k, 2, in, &cfg, &out));
        double *got = out ? zt_read_f64(out) : NULL;
        CHECK(got != NULL);
        double *ref = malloc(((size_t)n + 1) * sizeof *ref);
        for (int64_t i = 0; i < n; i++) ref[i] = 2 * hx[i] + hy[i];
        double err = got ? zt_rel_err(got, ref, (size_t)n) : INFINITY;
        CHECK_MSG(err <= zt_tol(t), "axpy %s n=%lld dev=%d: rel err %g", zmlx_dtype_name(t),
                  (long long)n, devs[di].type, err);
        CHECK_EQ_INT(zmlx_array_numel(out), n);
        free(got); free(ref); free(hx); free(hy);
        zmlx_array_release(x); zmlx_array_release(y); zmlx_array_release(out);
      }
  zmlx_kernel_destroy(k);
}

/* A transposed input read through its strides, with no copy. */
static void test_strided_input(void) {
  static const char *ins[] = {"x"}, *outs[] = {"out"};
  zmlx_kernel_desc d = {
      .name = "strided", .n_inputs = 1, .input_names = ins, .n_outputs = 1, .output_names = outs,
      .source = "long long o = zmlx_offset(gid, x_ndim, x_shape, x_strides);\n"
                "zmlx_store(out, gid, zmlx_tof(x[o]) * 3.0f);"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 3; ti++) {
      zmlx_dtype t = float_types[ti];
      int64_t shape[2] = {37, 129}, tshape[2] = {129, 37};
      double *h = NULL;
      zmlx_array *a = zt_random_array(t, 2, shape, 2.0, &seed, devs[di], &h);
      zmlx_array *at = NULL, *out = NULL;
      CHECK_OK(zmlx_array_transpose(a, 0, 1, &at));
      CHECK(!zmlx_array_is_contiguous(at));
      const int64_t *shapes[] = {tshape};
      int two = 2;
      zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &two, .output_shapes = shapes};
      CHECK_OK(zmlx_kernel_launch(k, 1, &at, &cfg, &out));
      double *got = zt_read_f64(out), ref[129 * 37];
      for (int i = 0; i < 129; i++)
        for (int j = 0; j < 37; j++) ref[i * 37 + j] = 3 * h[j * 129 + i];
      double err = got ? zt_rel_err(got, ref, 129 * 37) : INFINITY;
      CHECK_MSG(err <= zt_tol(t), "strided %s: rel err %g", zmlx_dtype_name(t), err);
      free(got); free(h);
      zmlx_array_release(a); zmlx_array_release(at); zmlx_array_release(out);
    }
  zmlx_kernel_destroy(k);
}

/* A row vector broadcast over rows (stride 0), and a non-contiguous input
 * to a body that ignores strides (ZMLX makes it contiguous first). */
static void test_broadcast_and_auto_contiguous(void) {
  static const char *ins[] = {"x", "b"}, *outs[] = {"out"};
  zmlx_kernel_desc d = {
      .name = "bias", .n_inputs = 2, .input_names = ins, .n_outputs = 1, .output_names = outs,
      .source = "zmlx_store(out, gid, zmlx_tof(x[gid]) + zmlx_tof(b[zmlx_offset(gid, b_ndim, b_shape, b_strides)]));"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++)
    for (int ti = 0; ti < 3; ti++) {
      zmlx_dtype t = float_types[ti];
      int64_t R = 33, C = 65, xs[2] = {C, R}, bs[1] = {C}, os[2] = {R, C};
      double *hx = NULL, *hb = NULL;
      zmlx_array *x = zt_random_array(t, 2, xs, 1.0, &seed, devs[di], &hx);
      zmlx_array *b = zt_random_array(t, 1, bs, 1.0, &seed, devs[di], &hb);
      zmlx_array *xt = NULL, *bb = NULL, *out = NULL;
      CHECK_OK(zmlx_array_transpose(x, 0, 1, &xt));       /* (R, C), not contiguous */
      CHECK_OK(zmlx_array_broadcast_to(b, 2, os, &bb));   /* (R, C), row stride 0 */
      zmlx_array *in[2] = {xt, bb};
      const int64_t *shapes[] = {os};
      int two = 2;
      zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &two, .output_shapes = shapes};
      CHECK_OK(zmlx_kernel_launch(k, 2, in, &cfg, &out));
      double *got = zt_read_f64(out);
      double *ref = malloc((size_t)(R * C) * sizeof *ref);
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) ref[r * C + c] = hx[c * R + r] + hb[c];
      double err = got ? zt_rel_err(got, ref, (size_t)(R * C)) : INFINITY;
      CHECK_MSG(err <= zt_tol(t), "broadcast %s: rel err %g", zmlx_dtype_name(t), err);
      free(got); free(ref); free(hx); free(hb);
      zmlx_array_release(x); zmlx_array_release(b); zmlx_array_release(xt);
      zmlx_array_release(bb); zmlx_array_release(out);
    }
  zmlx_kernel_destroy(k);
}

/* Templates (int, bool, dtype), typed scalars, two outputs, a 2-D grid. */
static void test_templates_scalars_grid(void) {
  static const char *ins[] = {"x"}, *outs[] = {"s", "m"}, *scs[] = {"alpha", "shift"};
  static const zmlx_dtype sct[] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_I64};
  /* One grid point per row: s = alpha * sum(x[row, :COLS]) + shift, m = max. */
  zmlx_kernel_desc d = {
      .name = "rowstats", .n_inputs = 1, .input_names = ins, .n_outputs = 2, .output_names = outs,
      .n_scalars = 2, .scalar_names = scs, .scalar_dtypes = sct,
      .source = "ACC acc = 0; float mx = -INFINITY;\n"
                "for (int c = 0; c < COLS; c++) {\n"
                "  float v = zmlx_tof(x[gid_y * grid_x * COLS + gid_x * COLS + c]);\n"
                "  acc += v; if (USE_MAX) mx = fmaxf(mx, v);\n"
                "}\n"
                "zmlx_store(s, gid, alpha * acc + (ACC)shift);\n"
                "zmlx_store(m, gid, USE_MAX ? mx : 0.0f);\n"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t gx = 5, gy = 3, cols = 9, xs[3] = {gy, gx, cols}, os[2] = {gy, gx};
    double *h = NULL;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 3, xs, 1.0, &seed, devs[di], &h);
    zmlx_array *out[2] = {NULL, NULL};
    zmlx_template_arg t[3] = {{"COLS", ZMLX_TEMPLATE_INT, cols},
                              {"USE_MAX", ZMLX_TEMPLATE_BOOL, 1},
                              {"ACC", ZMLX_TEMPLATE_DTYPE, ZMLX_DTYPE_F64}};
    zmlx_dtype odt[2] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_F32};
    const int64_t *shapes[] = {os, os};
    int nds[2] = {2, 2};
    double sc[2] = {0.5, -3};
    zmlx_launch_config cfg = {.output_dtypes = odt, .output_ndims = nds, .output_shapes = shapes,
                              .grid = {gx, gy, 1}, .block = {4, 2, 1}, .n_templates = 3,
                              .templates = t, .n_scalars = 2, .scalars = sc};
    CHECK_OK(zmlx_kernel_launch(k, 1, &x, &cfg, out));
    double *s = zt_read_f64(out[0]), *m = zt_read_f64(out[1]);
    double rs[15], rm[15];
    for (int r = 0; r < 15; r++) {
      double acc = 0, mx = -INFINITY;
      for (int c = 0; c < cols; c++) {
        acc += h[r * cols + c];
        mx = fmax(mx, h[r * cols + c]);
      }
      rs[r] = 0.5 * acc - 3;
      rm[r] = mx;
    }
    CHECK(s && zt_rel_err(s, rs, 15) < 1e-6);
    CHECK(m && zt_rel_err(m, rm, 15) == 0);
    free(s); free(m); free(h);
    zmlx_array_release(x); zmlx_array_release(out[0]); zmlx_array_release(out[1]);
  }
  zmlx_kernel_destroy(k);
}

static void test_init_outputs(void) {
  static const char *outs[] = {"out"};
  /* Writes only even elements; the rest must keep the init value. */
  zmlx_kernel_desc d = {.name = "evens", .n_outputs = 1, .output_names = outs,
                        .source = "if (gid % 2 == 0) zmlx_store(out, gid, (double)gid);"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t n = 101;
    zmlx_dtype t = ZMLX_DTYPE_F32;
    const int64_t *shapes[] = {&n};
    int one = 1;
    zmlx_stream *st = NULL;
    CHECK_OK(zmlx_stream_create(devs[di], &st)); /* a kernel with no inputs runs on the stream's device */
    zmlx_array *out = NULL;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                              .init_outputs = 1, .init_value = -7.5, .stream = st};
    CHECK_OK(zmlx_kernel_launch(k, 0, NULL, &cfg, &out));
    CHECK_OK(zmlx_stream_synchronize(st));
    double *got = out ? zt_read_f64(out) : NULL;
    int bad = !got;
    for (int i = 0; got && i < n; i++) bad += got[i] != (i % 2 ? -7.5 : i);
    CHECK_EQ_INT(bad, 0);
    zmlx_device od = out ? zmlx_array_device(out) : ZMLX_CPU;
    CHECK(od.type == devs[di].type);
    free(got);
    zmlx_array_release(out);
    CHECK_OK(zmlx_stream_destroy(st));
  }
  zmlx_kernel_destroy(k);
}

/* Two kernels with one name and different bodies are never confused. */
static void test_identity_is_content(void) {
  static const char *ins[] = {"x"}, *outs[] = {"y"};
  zmlx_kernel_desc d1 = {.name = "same", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                         .output_names = outs, .source = "y[gid] = x[gid] + 1;"};
  zmlx_kernel_desc d2 = d1;
  d2.source = "y[gid] = x[gid] * 10;";
  zmlx_kernel *k1, *k2, *k3;
  CHECK_OK(zmlx_kernel_create(&d1, &k1));
  CHECK_OK(zmlx_kernel_create(&d2, &k2));
  CHECK_OK(zmlx_kernel_create(&d1, &k3));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t n = 3;
    int32_t xv[3] = {1, 2, 3};
    zmlx_array *x = NULL, *y1 = NULL, *y2 = NULL, *y3 = NULL;
    CHECK_OK(zmlx_array_from_host(xv, ZMLX_DTYPE_I32, 1, &n, devs[di], &x));
    zmlx_dtype t = ZMLX_DTYPE_I32;
    const int64_t *shapes[] = {&n};
    int one = 1;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
    CHECK_OK(zmlx_kernel_launch(k1, 1, &x, &cfg, &y1));
    CHECK_OK(zmlx_kernel_launch(k2, 1, &x, &cfg, &y2));
    CHECK_OK(zmlx_kernel_launch(k3, 1, &x, &cfg, &y3));
    int32_t a[3], b[3], c[3];
    CHECK_OK(zmlx_array_to_host(y1, a, sizeof a));
    CHECK_OK(zmlx_array_to_host(y2, b, sizeof b));
    CHECK_OK(zmlx_array_to_host(y3, c, sizeof c));
    for (int i = 0; i < 3; i++) {
      CHECK_EQ_INT(a[i], xv[i] + 1);
      CHECK_EQ_INT(b[i], xv[i] * 10);
      CHECK_EQ_INT(c[i], xv[i] + 1);
    }
    zmlx_array_release(x); zmlx_array_release(y1); zmlx_array_release(y2); zmlx_array_release(y3);
  }
  /* k3 has k1's source: it found k1's module in memory and compiled nothing. */
  zmlx_kernel_stats s1, s3;
  CHECK_OK(zmlx_kernel_stats_get(k1, &s1));
  CHECK_OK(zmlx_kernel_stats_get(k3, &s3));
  CHECK_EQ_INT(s3.n_compiles, 0);
  CHECK(s3.n_memory_hits >= 1);
  CHECK_EQ_INT(s1.n_launches, nd);
  CHECK_EQ_INT(s1.n_variants, nd);
  zmlx_kernel_destroy(k1); zmlx_kernel_destroy(k2); zmlx_kernel_destroy(k3);
}

static void test_stats_and_variants(void) {
  static const char *ins[] = {"x"}, *outs[] = {"y"};
  zmlx_kernel_desc d = {.name = "neg", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                        .output_names = outs, .source = "zmlx_store(y, gid, -zmlx_tof(x[gid]));"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = 16;
  const int64_t *shapes[] = {&n};
  int one = 1;
  for (int rep = 0; rep < 3; rep++)
    for (int ti = 0; ti < 2; ti++) {
      zmlx_dtype t = float_types[ti];
      zmlx_array *x = zt_random_array(t, 1, &n, 1.0, &seed, ZMLX_CPU, NULL), *y = NULL;
      zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
      CHECK_OK(zmlx_kernel_launch(k, 1, &x, &cfg, &y));
      zmlx_array_release(x);
      zmlx_array_release(y);
    }
  zmlx_kernel_stats st;
  CHECK_OK(zmlx_kernel_stats_get(k, &st));
  CHECK_EQ_INT(st.n_launches, 6);
  CHECK_EQ_INT(st.n_variants, 2);  /* f32 and f16 */
  CHECK_EQ_INT(st.n_compiles + st.n_disk_hits, 2);
  CHECK(st.n_memory_hits >= 4);
  CHECK(st.n_compiles == 0 || st.compile_ms > 0);
  zmlx_kernel_destroy(k);
}

static void test_errors(void) {
  static const char *ins[] = {"x"}, *outs[] = {"y"};
  zmlx_kernel *k = NULL;
  /* Malformed body: the error shows the compiler log and numbered source. */
  zmlx_kernel_desc bad = {.name = "broken", .n_inputs = 1, .input_names = ins, .n_outputs = 1,
                          .output_names = outs, .source = "y[gid] = x[gid] +;\n"};
  CHECK_OK(zmlx_kernel_create(&bad, &k));
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    int64_t n = 4;
    zmlx_array *x = zt_random_array(ZMLX_DTYPE_F32, 1, &n, 1.0, &seed, devs[di], NULL), *y = NULL;
    zmlx_dtype t = ZMLX_DTYPE_F32;
    const int64_t *shapes[] = {&n};
    int one = 1;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
    CHECK_STATUS(zmlx_kernel_launch(k, 1, &x, &cfg, &y), ZMLX_STATUS_COMPILE_FAILED);
    CHECK_CONTAINS(zmlx_error_last(), "kernel 'broken' failed to compile");
    CHECK_CONTAINS(zmlx_error_last(), "broken.body");
    CHECK_CONTAINS(zmlx_error_last(), "--- generated source ---");
    CHECK_CONTAINS(zmlx_error_last(), "| y[gid] = x[gid] +;");
    CHECK(y == NULL);
    /* Unknown name in the body. */
    zmlx_kernel *k2 = NULL;
    zmlx_kernel_desc unk = bad;
    unk.name = "unknown_name";
    unk.source = "y[gid] = x[gid] * not_declared;";
    CHECK_OK(zmlx_kernel_create(&unk, &k2));
    CHECK_STATUS(zmlx_kernel_launch(k2, 1, &x, &cfg, &y), ZMLX_STATUS_COMPILE_FAILED);
    CHECK_CONTAINS(zmlx_error_last(), "not_declared");
    zmlx_kernel_destroy(k2);
    /* Wrong number of inputs. */
    zmlx_array *two[2] = {x, x};
    CHECK_STATUS(zmlx_kernel_launch(k, 2, two, &cfg, &y), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "takes 1 input");
    /* Missing output description. */
    zmlx_launch_config empty = {0};
    CHECK_STATUS(zmlx_kernel_launch(k, 1, &x, &empty, &y), ZMLX_STATUS_INVALID_ARGUMENT);
    zmlx_array_release(x);
  }
  zmlx_kernel_destroy(k);
  /* Inputs on two devices never mix silently. */
  if (nd > 1) {
    static const char *two_in[] = {"a", "b"};
    zmlx_kernel_desc d2 = {.name = "mix", .n_inputs = 2, .input_names = two_in, .n_outputs = 1,
                           .output_names = outs, .source = "y[gid] = a[gid] + b[gid];"};
    CHECK_OK(zmlx_kernel_create(&d2, &k));
    int64_t n = 4;
    zmlx_array *a = zt_random_array(ZMLX_DTYPE_F32, 1, &n, 1.0, &seed, devs[0], NULL);
    zmlx_array *b = zt_random_array(ZMLX_DTYPE_F32, 1, &n, 1.0, &seed, devs[1], NULL);
    zmlx_array *in[2] = {a, b}, *y = NULL;
    zmlx_dtype t = ZMLX_DTYPE_F32;
    const int64_t *shapes[] = {&n};
    int one = 1;
    zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
    CHECK_STATUS(zmlx_kernel_launch(k, 2, in, &cfg, &y), ZMLX_STATUS_DEVICE_MISMATCH);
    CHECK_CONTAINS(zmlx_error_last(), "cuda:0");
    zmlx_array_release(a); zmlx_array_release(b);
    zmlx_kernel_destroy(k);
  }
  /* Descriptions that cannot be kernels. */
  zmlx_kernel_desc d = bad;
  d.name = "has space";
  CHECK_STATUS(zmlx_kernel_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  d = bad;
  static const char *reserved[] = {"gid"};
  d.input_names = reserved;
  CHECK_STATUS(zmlx_kernel_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "reserved");
  d = bad;
  d.output_names = ins; /* "x" twice */
  CHECK_STATUS(zmlx_kernel_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "used twice");
  d = bad;
  d.source = "";
  CHECK_STATUS(zmlx_kernel_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
  d = bad;
  d.n_outputs = 0;
  CHECK_STATUS(zmlx_kernel_create(&d, &k), ZMLX_STATUS_INVALID_ARGUMENT);
}

/* The generated source shows the body and only the metadata it uses. */
static void test_generated_source(void) {
  static const char *ins[] = {"x", "w"}, *outs[] = {"y"};
  zmlx_kernel_desc d = {.name = "gen", .n_inputs = 2, .input_names = ins, .n_outputs = 1,
                        .output_names = outs,
                        .source = "y[gid] = x[gid] * (float)x_shape[0] + w[gid];"};
  zmlx_kernel *k;
  CHECK_OK(zmlx_kernel_create(&d, &k));
  int64_t n = 4;
  zmlx_array *x = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, ZMLX_CPU, &x));
  zmlx_array *in[2] = {x, x};
  zmlx_dtype t = ZMLX_DTYPE_F32;
  const int64_t *shapes[] = {&n};
  int one = 1;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes};
  for (int target = 0; target < 2; target++) {
    char *src = NULL;
    CHECK_OK(zmlx_kernel_source(k, target ? ZMLX_CUDA(0) : ZMLX_CPU, 2, in, &cfg, &src));
    CHECK_CONTAINS(src, "x_shape");
    CHECK(src && !strstr(src, "w_shape") && !strstr(src, "x_strides"));
    CHECK_CONTAINS(src, "#line 1 \"gen.body\"");
    CHECK_CONTAINS(src, target ? "__global__" : "omp parallel for");
    free(src);
  }
  zmlx_array_release(x);
  zmlx_kernel_destroy(k);
}

ZT_MAIN(ZT(test_axpy_dtypes), ZT(test_strided_input), ZT(test_broadcast_and_auto_contiguous),
        ZT(test_templates_scalars_grid), ZT(test_init_outputs), ZT(test_identity_is_content),
        ZT(test_stats_and_variants), ZT(test_errors), ZT(test_generated_source))
