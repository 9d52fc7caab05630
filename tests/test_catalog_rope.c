/* RoPE beyond the catalog harness: zmlx_rope_inv_freq against the values
 * transformers computes (tests/data/rope/hf_inv_freq.txt, written on a
 * machine with transformers by scripts/gen_rope_vectors.py; skipped with
 * a note while absent), rope_kv_cache with a positions array (a
 * permutation, plus positions outside the cache, which are skipped), the
 * backward undoing the forward, and bad configs. */
#include "zt_array.h"

static void test_hf_frequencies(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *slash = strrchr(path, '/');
  if (!slash) return;
  snprintf(slash, sizeof path - (size_t)(slash - path), "/data/rope/hf_inv_freq.txt");
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("  (no %s: run scripts/gen_rope_vectors.py where transformers is installed)\n", path);
    zt_checks_++;
    return;
  }
  char line[65536];
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char name[64];
    int type, truncate, used;
    double theta, factor, orig, low, high, bf, bs, af, ms, msa, rot, maxp, seq, scale, n;
    int got = sscanf(line, "%63s %d %lf %lf %lf %lf %lf %lf %lf %d %lf %lf %lf %lf %lf %lf | %lf %lf%n",
                     name, &type, &theta, &factor, &orig, &low, &high, &bf, &bs, &truncate, &af,
                     &ms, &msa, &rot, &maxp, &seq, &scale, &n, &used);
    CHECK_MSG(got == 18, "%s: unreadable line \"%.60s\"", path, line);
    if (got != 18) continue;
    zmlx_rope_config rc = {.type = (zmlx_rope_type)type, .theta = theta, .factor = factor,
                           .original_max_position_embeddings = (int64_t)orig,
                           .low_freq_factor = low, .high_freq_factor = high, .beta_fast = bf,
                           .beta_slow = bs, .has_attention_factor = af >= 0,
                           .attention_factor = af >= 0 ? af : 0, .mscale = ms,
                           .mscale_all_dim = msa, .truncate = truncate,
                           .partial_rotary_factor = 1, .rotary_dim = (int64_t)rot};
    double mine[1024], att = 0;
    CHECK_EQ_INT((int64_t)n, (int64_t)rot / 2);
    CHECK_OK(zmlx_rope_inv_freq(&rc, (int64_t)maxp, (int64_t)seq, mine, &att));
    CHECK_MSG(fabs(att - scale) <= 1e-12 * scale, "%s: attention scaling %.17g, transformers %.17g",
              name, att, scale);
    const char *p = line + used;
    /* transformers works in f32: its powers carry about 1e-6 relative error. */
    for (int i = 0; i < (int)n && i < 1024; i++) {
      char *end;
      double v = strtod(p, &end);
      CHECK_MSG(end != p && fabs(mine[i] - v) <= 4e-6 * v, "%s: inv_freq[%d] %.9g, transformers %.9g",
                name, i, mine[i], v);
      p = end;
    }
    rows++;
  }
  fclose(f);
  CHECK_MSG(rows > 0, "%s has no vectors", path);
  printf("  %d configs match transformers\n", rows);
}

static zmlx_array *arr(zmlx_dtype t, int nd, const int64_t *sh, uint64_t *seed) {
  return zt_random_array(t, nd, sh, 2, seed, ZMLX_CPU, NULL);
}

static zmlx_array *i64s(int n, const int64_t *v) {
  zmlx_array *a = NULL;
  int64_t len = n;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_I64, 1, &len, ZMLX_CPU, &a));
  return a;
}

static void test_kv_cache_positions(void) {
  uint64_t seed = 21;
  enum { T = 6, H = 2, D = 16, DV = 8, M = 10 };
  int64_t ksh[3] = {T, H, D}, vsh[3] = {T, H, DV}, kcs[3] = {M, H, D}, vcs[3] = {M, H, DV}, F = D / 2;
  zmlx_array *k = arr(ZMLX_DTYPE_F32, 3, ksh, &seed), *v = arr(ZMLX_DTYPE_F32, 3, vsh, &seed);
  zmlx_array *kc = arr(ZMLX_DTYPE_F32, 3, kcs, &seed), *vc = arr(ZMLX_DTYPE_F32, 3, vcs, &seed);
  zmlx_array *inv = arr(ZMLX_DTYPE_F64, 1, &F, &seed);
  double *kc0 = zt_read_f64(kc), *vc0 = zt_read_f64(vc), *vv = zt_read_f64(v);
  const int64_t pv[T] = {7, 2, -1, 9, 10, 0}; /* -1 and 10 fall outside */
  zmlx_array *pos = i64s(T, pv), *kr = NULL;
  zmlx_rope_spec r = {.inv_freq = inv, .positions = pos};
  CHECK_OK(zmlx_rope(&r, k, &kr));
  CHECK_OK(zmlx_rope_kv_cache(&r, k, v, kc, vc));
  double *kk = kr ? zt_read_f64(kr) : NULL, *kc1 = zt_read_f64(kc), *vc1 = zt_read_f64(vc);
  for (int m = 0; kk && kc0 && kc1 && vc0 && vc1 && vv && m < M; m++) {
    int t = -1;
    for (int j = 0; j < T; j++)
      if (pv[j] == m) t = j;
    for (int e = 0; e < H * D; e++)
      CHECK_MSG(kc1[m * H * D + e] == (t < 0 ? kc0[m * H * D + e] : kk[t * H * D + e]),
                "k_cache row %d element %d", m, e);
    for (int e = 0; e < H * DV; e++)
      CHECK_MSG(vc1[m * H * DV + e] == (t < 0 ? vc0[m * H * DV + e] : vv[t * H * DV + e]),
                "v_cache row %d element %d", m, e);
  }
  /* Without positions, offset + T past the rows is refused. */
  zmlx_rope_spec off = {.inv_freq = inv, .offset = M - T + 1};
  CHECK_STATUS(zmlx_rope_kv_cache(&off, k, v, kc, vc), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rope_kv_cache(&r, k, v, kc, kc), ZMLX_STATUS_SHAPE_MISMATCH);
  free(kc0), free(vc0), free(vv), free(kk), free(kc1), free(vc1);
  zmlx_array *all[] = {k, v, kc, vc, inv, pos, kr};
  for (int i = 0; i < 7; i++) zmlx_array_release(all[i]);
}

/* The backward is the inverse rotation: rope then its backward is x, in
 * both layouts, on the vector and the scalar path. */
static void test_backward_inverts(void) {
  uint64_t seed = 8;
  const int64_t shapes[2][3] = {{5, 4, 64}, {3, 3, 10}};
  for (int s = 0; s < 2; s++)
    for (int layout = 0; layout < 2; layout++) {
      int64_t F = s ? 3 : 24, n = shapes[s][0];
      zmlx_array *x = arr(ZMLX_DTYPE_F32, 3, shapes[s], &seed);
      zmlx_array *inv = arr(ZMLX_DTYPE_F32, 1, &F, &seed);
      int64_t *pv = malloc(sizeof *pv * (size_t)n);
      for (int64_t i = 0; pv && i < n; i++) pv[i] = (int64_t)(zt_next(&seed) % 100000);
      zmlx_array *pos = pv ? i64s((int)n, pv) : NULL, *y = NULL, *back = NULL;
      zmlx_rope_spec r = {.inv_freq = inv, .positions = pos, .layout = (zmlx_rope_layout)layout};
      CHECK_OK(zmlx_rope(&r, x, &y));
      if (y) CHECK_OK(zmlx_rope_backward(&r, y, &back));
      double *a = zt_read_f64(x), *b = back ? zt_read_f64(back) : NULL;
      int64_t N = zmlx_array_numel(x);
      if (a && b) CHECK_MSG(zt_rel_err(b, a, (size_t)N) < 1e-6, "layout %d shape %d", layout, s);
      free(a), free(b), free(pv);
      zmlx_array *all[] = {x, inv, pos, y, back};
      for (int i = 0; i < 5; i++) zmlx_array_release(all[i]);
    }
}

static void test_bad_configs(void) {
  double f[64], att;
  zmlx_rope_config ok = {.type = ZMLX_ROPE_TYPE_DEFAULT, .theta = 10000, .factor = 1,
                         .rotary_dim = 64, .truncate = 1};
  CHECK_OK(zmlx_rope_inv_freq(&ok, 0, 0, f, &att));
  CHECK(att == 1 && f[0] == 1);
  zmlx_rope_config odd = ok, theta = ok, type = ok, yarn = ok, dyn = ok;
  odd.rotary_dim = 63;
  theta.theta = 1;
  type.type = (zmlx_rope_type)99;
  yarn.type = ZMLX_ROPE_TYPE_YARN;
  yarn.factor = 4;
  dyn.type = ZMLX_ROPE_TYPE_DYNAMIC;
  dyn.factor = 2;
  CHECK_STATUS(zmlx_rope_inv_freq(&odd, 0, 0, f, &att), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rope_inv_freq(&theta, 0, 0, f, &att), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rope_inv_freq(&type, 0, 0, f, &att), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rope_inv_freq(&yarn, 0, 0, f, &att), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_rope_inv_freq(&dyn, 0, 0, f, &att), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "rope_inv_freq");
  zmlx_array *a = NULL;
  CHECK_STATUS(zmlx_rope_inv_freq_array(&ok, 0, 0, ZMLX_DTYPE_BF16, ZMLX_CPU, &a, &att),
               ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK(a == NULL);
}

ZT_MAIN(ZT(test_hf_frequencies), ZT(test_kv_cache_positions), ZT(test_backward_inverts),
        ZT(test_bad_configs))
