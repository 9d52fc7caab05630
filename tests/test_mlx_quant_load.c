/* MLX quantized checkpoints: the "quantization" block of config.json and
 * the packed weights with their scales and biases.
 *
 * Reference: weights are quantized here as MLX's affine scheme does (per
 * group along a row: scale = (max - min) / (2^bits - 1), bias = min,
 * q = round((w - bias) / scale)), and the q values packed as one
 * little-endian bit stream per row into uint32 words, the layout of
 * mlx.core.quantize for every bit width (2, 4 and 8 bits fill each word;
 * 3, 5 and 6 bits run across word boundaries). The library loads what
 * was written (on every device); unpacking its arrays here must give back
 * every q, scale and bias. Fresh random weights and shapes each run. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZT_SUITE_NAME "test_mlx_quant_load"
#define ZT_SUITE_SALT 0x91a7ull
#include "zt_suite.h"

static char g_dir[64];

static void cleanup(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

static const char *dir_path(const char *name) {
  static char buf[4][256];
  static int k;
  if (!g_dir[0]) {
    snprintf(g_dir, sizeof g_dir, "/tmp/zmlx-mlxq-XXXXXX");
    if (mkdtemp(g_dir)) atexit(cleanup);
  }
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

typedef struct qweight {
  int bits, gs, ndim;
  int64_t lead, out, in;   /* lead: experts (1 when 2-D) */
  uint32_t *packed;        /* lead*out*(in*bits/32) */
  uint16_t *scales, *biases; /* bf16, lead*out*(in/gs) */
  uint32_t *q;             /* lead*out*in, the reference values */
} qweight;

static void pack_row(const uint32_t *q, int64_t n, int bits, uint32_t *words) {
  int64_t nw = n * bits / 32;
  memset(words, 0, (size_t)nw * 4);
  for (int64_t i = 0; i < n; i++)
    for (int b = 0; b < bits; b++) {
      int64_t bit = i * bits + b;
      if ((q[i] >> b) & 1) words[bit / 32] |= 1u << (bit % 32);
    }
}

static uint32_t unpack_one(const uint32_t *words, int64_t i, int bits) {
  uint32_t v = 0;
  for (int b = 0; b < bits; b++) {
    int64_t bit = i * bits + b;
    v |= ((words[bit / 32] >> (bit % 32)) & 1u) << b;
  }
  return v;
}

static qweight make(int bits, int gs, int64_t lead, int64_t out, int64_t in, int ndim) {
  qweight w = {bits, gs, ndim, lead, out, in, NULL, NULL, NULL, NULL};
  int64_t rows = lead * out, groups = in / gs, pw = in * bits / 32;
  w.packed = malloc((size_t)(rows * pw) * 4);
  w.scales = malloc((size_t)(rows * groups) * 2);
  w.biases = malloc((size_t)(rows * groups) * 2);
  w.q = malloc((size_t)(rows * in) * 4);
  float *row = malloc((size_t)in * sizeof *row);
  uint32_t maxq = (1u << bits) - 1;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t i = 0; i < in; i++) row[i] = (float)(rnd_unit() * 2 - 1);
    for (int64_t g = 0; g < groups; g++) {
      float lo = row[g * gs], hi = lo;
      for (int i = 0; i < gs; i++) {
        float x = row[g * gs + i];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
      uint16_t sb = zmlx_f32_to_bf16((hi - lo) / (float)maxq), bb = zmlx_f32_to_bf16(lo);
      w.scales[r * groups + g] = sb;
      w.biases[r * groups + g] = bb;
      float scale = zmlx_bf16_to_f32(sb), bias = zmlx_bf16_to_f32(bb);
      for (int i = 0; i < gs; i++) {
        float t = scale > 0 ? (row[g * gs + i] - bias) / scale : 0;
        long v = lroundf(t);
        w.q[r * in + g * gs + i] = (uint32_t)(v < 0 ? 0 : v > (long)maxq ? (long)maxq : v);
      }
    }
    pack_row(w.q + r * in, in, bits, w.packed + r * pw);
  }
  free(row);
  return w;
}

static void add(zmlx_safetensors_writer *wr, const char *path, const qweight *w) {
  char name[256];
  int64_t pw = w->in * w->bits / 32, groups = w->in / w->gs;
  int64_t ws[3], ss[3];
  int d = 0;
  if (w->ndim == 3) ws[d] = ss[d] = w->lead, d++;
  ws[d] = ss[d] = w->out;
  ws[d + 1] = pw;
  ss[d + 1] = groups;
  size_t rows = (size_t)(w->lead * w->out);
  snprintf(name, sizeof name, "%s.weight", path);
  CHECK_OK(zmlx_safetensors_writer_add_raw(wr, name, ZMLX_ST_DTYPE_U32, w->ndim, ws, w->packed,
                                           rows * (size_t)pw * 4));
  snprintf(name, sizeof name, "%s.scales", path);
  CHECK_OK(zmlx_safetensors_writer_add_raw(wr, name, ZMLX_ST_DTYPE_BF16, w->ndim, ss, w->scales,
                                           rows * (size_t)groups * 2));
  snprintf(name, sizeof name, "%s.biases", path);
  CHECK_OK(zmlx_safetensors_writer_add_raw(wr, name, ZMLX_ST_DTYPE_BF16, w->ndim, ss, w->biases,
                                           rows * (size_t)groups * 2));
}

static void verify(const qweight *w, const zmlx_quantized_weight *got, zmlx_device dev) {
  CHECK_EQ_INT(got->bits, w->bits);
  CHECK_EQ_INT(got->group_size, w->gs);
  CHECK_EQ_INT(got->in_features, w->in);
  CHECK_EQ_INT(got->out_features, w->out);
  if (!got->weight || !got->scales || !got->biases) return;
  CHECK_EQ_INT(zmlx_array_dtype(got->weight), ZMLX_DTYPE_U32);
  CHECK_EQ_INT(zmlx_array_dtype(got->scales), ZMLX_DTYPE_BF16);
  CHECK_EQ_INT(zmlx_array_ndim(got->weight), w->ndim);
  CHECK_EQ_INT(zmlx_array_device(got->weight).type, dev.type);
  int64_t pw = w->in * w->bits / 32, groups = w->in / w->gs, rows = w->lead * w->out;
  uint32_t *words = host_read(got->weight);
  uint16_t *sc = host_read(got->scales), *bi = host_read(got->biases);
  int bad = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < w->in; i++)
      if (unpack_one(words + r * pw, i, w->bits) != w->q[r * w->in + i])
        MISMATCH(bad, "%d-bit row %lld element %lld on %s", w->bits, (long long)r, (long long)i,
                 devname(dev));
  CHECK_EQ_INT(bad, 0);
  CHECK(!memcmp(sc, w->scales, (size_t)(rows * groups) * 2));
  CHECK(!memcmp(bi, w->biases, (size_t)(rows * groups) * 2));
  free(words);
  free(sc);
  free(bi);
}

static void free_q(qweight *w) {
  free(w->packed);
  free(w->scales);
  free(w->biases);
  free(w->q);
}

static void write_config(const char *extra) {
  FILE *f = fopen(dir_path("config.json"), "w");
  CHECK(f != NULL);
  if (!f) return;
  fprintf(f,
          "{\"model_type\":\"qwen3_moe\",\"vocab_size\":100,\"hidden_size\":256,"
          "\"intermediate_size\":512,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
          "\"num_key_value_heads\":2,\"num_experts\":4,\"num_experts_per_tok\":2,"
          "\"quantization\":{\"group_size\":64,\"bits\":4%s}}",
          extra);
  fclose(f);
}

static void test_every_width(void) {
  setup();
  static const int widths[] = {2, 3, 4, 5, 6, 8};
  static const int groups[] = {32, 64, 128};
  for (int wi = 0; wi < 6; wi++) {
    int bits = widths[wi], gs = groups[rnd_in(0, 2)];
    /* in must fill whole groups and whole words */
    int64_t in = gs * rnd_in(1, 3), out = rnd_in(1, 9), lead = rnd_in(2, 3);
    qweight dense = make(bits, gs, 1, out, in, 2);
    qweight experts = make(bits, gs, lead, out, in, 3);
    zmlx_safetensors_writer *wr = NULL;
    CHECK_OK(zmlx_safetensors_writer_create(&wr));
    add(wr, "model.layers.0.mlp.up_proj", &dense);
    add(wr, "model.layers.1.mlp.switch_mlp.up_proj", &experts);
    uint16_t emb[6] = {0};
    int64_t es[2] = {2, 3};
    CHECK_OK(zmlx_safetensors_writer_add_raw(wr, "lm_head.weight", ZMLX_ST_DTYPE_F16, 2, es, emb, 12));
    CHECK_OK(zmlx_safetensors_writer_write(wr, dir_path("model.safetensors")));
    zmlx_safetensors_writer_destroy(wr);
    char extra[200];
    snprintf(extra, sizeof extra,
             ",\"model.layers.0.mlp.up_proj\":{\"group_size\":%d,\"bits\":%d},"
             "\"model.layers.1.mlp.switch_mlp.up_proj\":{\"group_size\":%d,\"bits\":%d},"
             "\"lm_head\":false",
             gs, bits, gs, bits);
    write_config(extra);
    zmlx_model_config cfg;
    zmlx_safetensors *st = NULL;
    CHECK_OK(zmlx_model_config_load(g_dir, &cfg));
    CHECK_OK(zmlx_safetensors_open(g_dir, &st));
    if (!st || !cfg.quant.present) {
      zmlx_model_config_free(&cfg);
      zmlx_safetensors_close(st);
      continue;
    }
    zmlx_quant_params p;
    CHECK_OK(zmlx_quant_params_for(&cfg.quant, st, "lm_head", &p));
    CHECK(!p.quantized);
    CHECK_OK(zmlx_quant_params_for(&cfg.quant, st, "model.norm", &p));
    CHECK(!p.quantized); /* no model.norm.scales in the checkpoint */
    FOR_EACH_DEVICE(dev) {
      zmlx_quantized_weight qw;
      CHECK_OK(zmlx_quant_params_for(&cfg.quant, st, "model.layers.0.mlp.up_proj", &p));
      CHECK(p.quantized && p.bits == bits && p.group_size == gs);
      CHECK_OK(zmlx_quantized_weight_load(st, "model.layers.0.mlp.up_proj", &p, dev, &qw));
      verify(&dense, &qw, dev);
      zmlx_quantized_weight_release(&qw);
      CHECK_OK(zmlx_quant_params_for(&cfg.quant, st, "model.layers.1.mlp.switch_mlp.up_proj", &p));
      CHECK_OK(zmlx_quantized_weight_load(st, "model.layers.1.mlp.switch_mlp.up_proj", &p, dev, &qw));
      verify(&experts, &qw, dev);
      CHECK(qw.weight && zmlx_array_dim(qw.weight, 0) == lead);
      zmlx_quantized_weight_release(&qw);
      CHECK(qw.weight == NULL);
    }
    /* the wrong width for the stored shapes is refused, naming both */
    zmlx_quant_params wrong = p;
    wrong.bits = bits == 8 ? 4 : 8;
    zmlx_quantized_weight qw;
    CHECK_STATUS(zmlx_quantized_weight_load(st, "model.layers.0.mlp.up_proj", &wrong, ZMLX_CPU, &qw),
                 ZMLX_STATUS_CORRUPT_DATA);
    CHECK_CONTAINS(zmlx_error_last(), "do not fit");
    CHECK(qw.weight == NULL);
    zmlx_model_config_free(&cfg);
    zmlx_safetensors_close(st);
    free_q(&dense);
    free_q(&experts);
  }
}

static void test_bad_checkpoints(void) {
  setup();
  qweight w = make(4, 64, 1, 3, 128, 2);
  zmlx_quant_params p = {1, 4, 64, "affine"};
  uint32_t i32[3 * 2] = {0};
  int64_t ss[2] = {3, 2}, ws[2] = {3, 16};
  struct {
    const char *what;
    int variant;
    zmlx_status want;
    const char *msg;
  } cases[] = {
      {"no biases", 0, ZMLX_STATUS_NOT_FOUND, "m.biases"},
      {"I32 scales", 1, ZMLX_STATUS_CORRUPT_DATA, "expected F16, BF16 or F32"},
      {"F32 weight", 2, ZMLX_STATUS_CORRUPT_DATA, "expected U32"},
      {"biases of another shape", 3, ZMLX_STATUS_CORRUPT_DATA, "but the scales are"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    zmlx_safetensors_writer *wr = NULL;
    CHECK_OK(zmlx_safetensors_writer_create(&wr));
    CHECK_OK(zmlx_safetensors_writer_add_raw(wr, "m.weight",
                                             cases[c].variant == 2 ? ZMLX_ST_DTYPE_F32 : ZMLX_ST_DTYPE_U32,
                                             2, ws, w.packed, 3 * 16 * 4));
    CHECK_OK(zmlx_safetensors_writer_add_raw(wr, "m.scales",
                                             cases[c].variant == 1 ? ZMLX_ST_DTYPE_I32 : ZMLX_ST_DTYPE_BF16,
                                             2, ss, cases[c].variant == 1 ? (void *)i32 : (void *)w.scales,
                                             cases[c].variant == 1 ? sizeof i32 : 12));
    int64_t bs[2] = {3, 1};
    if (cases[c].variant == 3)
      CHECK_OK(zmlx_safetensors_writer_add_raw(wr, "m.biases", ZMLX_ST_DTYPE_BF16, 2, bs, w.biases, 6));
    else if (cases[c].variant != 0)
      CHECK_OK(zmlx_safetensors_writer_add_raw(wr, "m.biases", ZMLX_ST_DTYPE_BF16, 2, ss, w.biases, 12));
    const char *path = dir_path("bad.safetensors");
    CHECK_OK(zmlx_safetensors_writer_write(wr, path));
    zmlx_safetensors_writer_destroy(wr);
    zmlx_safetensors *st = NULL;
    CHECK_OK(zmlx_safetensors_open(path, &st));
    zmlx_quantized_weight qw;
    zmlx_status s = zmlx_quantized_weight_load(st, "m", &p, ZMLX_CPU, &qw);
    CHECK_MSG(s == cases[c].want, "%s -> %s (%s)", cases[c].what, zmlx_status_name(s), zmlx_error_last());
    CHECK_CONTAINS(zmlx_error_last(), cases[c].msg);
    CHECK(qw.weight == NULL && qw.scales == NULL);
    zmlx_quant_params mx = {1, 4, 32, "mxfp4"};
    CHECK_STATUS(zmlx_quantized_weight_load(st, "m", &mx, ZMLX_CPU, &qw), ZMLX_STATUS_UNSUPPORTED);
    zmlx_quant_params off = {0, 4, 64, "affine"};
    CHECK_STATUS(zmlx_quantized_weight_load(st, "m", &off, ZMLX_CPU, &qw), ZMLX_STATUS_INVALID_ARGUMENT);
    zmlx_safetensors_close(st);
  }
  free_q(&w);
}

ZT_MAIN(ZT(test_every_width), ZT(test_bad_checkpoints))
