/* config.json parsing.
 *
 * References: tests/data/configs/<family>.json are the files transformers
 * writes for each family's default config class (scripts/gen_hf_configs.py
 * regenerates them); every field of the parsed description is pinned here
 * to the default documented in that family's transformers config class.
 * A second check parses each family from only its required fields and
 * wants the same description: the defaults ZMLX applies must be the ones
 * the transformers files spell out. Real-world files in the 4.x spelling
 * (rope_theta + rope_scaling, torch_dtype, lfm2's original keys, an MLX
 * quantized checkpoint) are checked against their published values, and
 * every error names the file and the field. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "zt.h"

static char g_data[512];

static int data_dir(void) {
  if (g_data[0]) return 1;
  const char *env = getenv("ZMLX_TEST_DATA");
  if (env) {
    snprintf(g_data, sizeof g_data, "%s/configs", env);
  } else {
    const char *f = __FILE__, *slash = strrchr(f, '/');
    if (!slash || f[0] != '/') return 0;
    snprintf(g_data, sizeof g_data, "%.*s/data/configs", (int)(slash - f), f);
  }
  struct stat sb;
  return stat(g_data, &sb) == 0;
}

typedef struct expect {
  const char *family;
  zmlx_model_family id;
  int64_t vocab, hidden, inter, ffn, layers, heads, kv, head_dim, max_pos;
  double theta, eps;
  zmlx_rope_type rope;
  int tie, qkv_bias, out_bias, mlp_bias, qk_norm;
  int64_t experts, per_tok, moe_inter;
  int norm_topk;
  int64_t sliding;
  int n_bos;
  int64_t bos;
  int n_eos;
  int64_t eos;
  int n_pad;
  int64_t pad;
} expect;

/* transformers' defaults per config class (see the table in
 * include/zmlx/model_config.h). */
static const expect EXPECT[] = {
    {"llama", ZMLX_MODEL_FAMILY_LLAMA, 32000, 4096, 11008, 11008, 32, 32, 32, 128, 2048, 1e4,
     1e-6, ZMLX_ROPE_TYPE_DEFAULT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 0, 0},
    {"qwen2", ZMLX_MODEL_FAMILY_QWEN2, 151936, 4096, 22016, 22016, 32, 32, 32, 128, 32768, 1e4,
     1e-6, ZMLX_ROPE_TYPE_DEFAULT, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"qwen3", ZMLX_MODEL_FAMILY_QWEN3, 151936, 4096, 22016, 22016, 32, 32, 32, 128, 32768, 1e4,
     1e-6, ZMLX_ROPE_TYPE_DEFAULT, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"qwen3_moe", ZMLX_MODEL_FAMILY_QWEN3_MOE, 151936, 2048, 6144, 6144, 24, 32, 4, 64, 32768,
     1e4, 1e-6, ZMLX_ROPE_TYPE_DEFAULT, 0, 0, 0, 0, 1, 128, 8, 768, 0, 0, 0, 0, 0, 0, 0, 0},
    {"mixtral", ZMLX_MODEL_FAMILY_MIXTRAL, 32000, 4096, 14336, 14336, 32, 32, 8, 128, 131072, 1e6,
     1e-5, ZMLX_ROPE_TYPE_DEFAULT, 0, 0, 0, 0, 0, 8, 2, 14336, 1, 0, 1, 1, 1, 2, 0, 0},
    {"gpt_oss", ZMLX_MODEL_FAMILY_GPT_OSS, 201088, 2880, 2880, 2880, 36, 64, 8, 64, 131072, 1.5e5,
     1e-5, ZMLX_ROPE_TYPE_YARN, 0, 1, 1, 1, 0, 128, 4, 2880, 1, 128, 0, 0, 0, 0, 0, 0},
    {"lfm2", ZMLX_MODEL_FAMILY_LFM2, 65536, 2560, 12288, 8192, 32, 32, 8, 80, 128000, 1e6, 1e-5,
     ZMLX_ROPE_TYPE_DEFAULT, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0},
    {"lfm2_moe", ZMLX_MODEL_FAMILY_LFM2_MOE, 65536, 2048, 7168, 7168, 32, 32, 8, 64, 128000, 1e6,
     1e-5, ZMLX_ROPE_TYPE_DEFAULT, 1, 0, 0, 0, 1, 32, 4, 1792, 1, 0, 1, 1, 1, 2, 1, 0},
};
#define N_FAMILIES ((int)(sizeof EXPECT / sizeof EXPECT[0]))

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * fabs(b); }

static void check_expect(const expect *e, const zmlx_model_config *c, const char *what) {
#define PIN(got, want)                                                                    \
  CHECK_MSG((long long)(got) == (long long)(want), "%s %s: %s = %lld, want %lld", e->family, \
            what, #got, (long long)(got), (long long)(want))
  PIN(c->family, e->id);
  CHECK(!strcmp(c->model_type, e->family));
  PIN(c->vocab_size, e->vocab);
  PIN(c->hidden_size, e->hidden);
  PIN(c->intermediate_size, e->inter);
  PIN(c->ffn_dim, e->ffn);
  PIN(c->num_hidden_layers, e->layers);
  PIN(c->num_attention_heads, e->heads);
  PIN(c->num_key_value_heads, e->kv);
  PIN(c->head_dim, e->head_dim);
  PIN(c->max_position_embeddings, e->max_pos);
  CHECK_MSG(near(c->rope.theta, e->theta), "%s %s: theta %g", e->family, what, c->rope.theta);
  CHECK_MSG(near(c->norm_eps, e->eps), "%s %s: eps %g", e->family, what, c->norm_eps);
  PIN(c->rope.type, e->rope);
  PIN(c->rope.rotary_dim, e->head_dim);
  PIN(c->tie_word_embeddings, e->tie);
  PIN(c->attn_qkv_bias, e->qkv_bias);
  PIN(c->attn_out_bias, e->out_bias);
  PIN(c->mlp_bias, e->mlp_bias);
  PIN(c->qk_norm, e->qk_norm);
  PIN(c->num_experts, e->experts);
  PIN(c->num_experts_per_tok, e->per_tok);
  PIN(c->moe_intermediate_size, e->moe_inter);
  PIN(c->norm_topk_prob, e->norm_topk);
  PIN(c->sliding_window, e->sliding);
  PIN(c->n_bos, e->n_bos);
  if (e->n_bos) PIN(c->bos_token_ids[0], e->bos);
  PIN(c->n_eos, e->n_eos);
  if (e->n_eos) PIN(c->eos_token_ids[0], e->eos);
  PIN(c->n_pad, e->n_pad);
  if (e->n_pad) PIN(c->pad_token_ids[0], e->pad);
  CHECK(!strcmp(c->hidden_act, "silu"));
  CHECK(!c->quant.present);
  int moe_layers = 0, sliding_layers = 0, conv_layers = 0;
  for (int64_t i = 0; i < c->num_hidden_layers; i++) {
    moe_layers += c->layer_is_moe[i];
    sliding_layers += c->layer_kinds[i] == ZMLX_LAYER_KIND_SLIDING_ATTENTION;
    conv_layers += c->layer_kinds[i] == ZMLX_LAYER_KIND_CONV;
  }
  int64_t want_moe = !e->experts ? 0 : e->id == ZMLX_MODEL_FAMILY_LFM2_MOE ? e->layers - 2 : e->layers;
  PIN(moe_layers, want_moe);
  PIN(sliding_layers, e->id == ZMLX_MODEL_FAMILY_GPT_OSS ? 18 : 0);
  PIN(conv_layers, 0);
  if (e->id == ZMLX_MODEL_FAMILY_GPT_OSS) {
    PIN(c->layer_kinds[0], ZMLX_LAYER_KIND_SLIDING_ATTENTION);
    PIN(c->layer_kinds[1], ZMLX_LAYER_KIND_FULL_ATTENTION);
    CHECK(near(c->rope.factor, 32) && near(c->rope.beta_fast, 32) && near(c->rope.beta_slow, 1));
    PIN(c->rope.original_max_position_embeddings, 4096);
    PIN(c->rope.truncate, 0);
    PIN(c->router_bias, 1);
    CHECK(near(c->swiglu_limit, 7.0) && near(c->swiglu_alpha, 1.702));
  }
  if (e->id == ZMLX_MODEL_FAMILY_LFM2_MOE) {
    PIN(c->num_dense_layers, 2);
    PIN(c->expert_bias, 1);
    CHECK(near(c->routed_scaling_factor, 1.0));
  }
  if (e->id == ZMLX_MODEL_FAMILY_LFM2 || e->id == ZMLX_MODEL_FAMILY_LFM2_MOE) {
    PIN(c->conv_l_cache, 3);
    PIN(c->conv_bias, 0);
  }
  if (e->id == ZMLX_MODEL_FAMILY_QWEN3_MOE) {
    PIN(c->decoder_sparse_step, 1);
    PIN(c->n_mlp_only_layers, 0);
  }
#undef PIN
}

static void test_transformers_defaults(void) {
  if (!data_dir()) ZT_SKIP("tests/data/configs not found (set ZMLX_TEST_DATA to tests/data)");
  for (int f = 0; f < N_FAMILIES; f++) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s.json", g_data, EXPECT[f].family);
    zmlx_model_config c;
    CHECK_OK(zmlx_model_config_load(path, &c));
    if (c.layer_kinds) check_expect(&EXPECT[f], &c, "file");
    zmlx_model_config_free(&c);
  }
}

/* Only the required fields: the defaults must fill in the rest exactly. */
static void test_minimal_configs(void) {
  for (int f = 0; f < N_FAMILIES; f++) {
    const expect *e = &EXPECT[f];
    char text[600];
    snprintf(text, sizeof text,
             "{\"model_type\":\"%s\",\"vocab_size\":%lld,\"hidden_size\":%lld,"
             "\"intermediate_size\":%lld,\"num_hidden_layers\":%lld,"
             "\"num_attention_heads\":%lld}",
             e->family, (long long)e->vocab, (long long)e->hidden, (long long)e->inter,
             (long long)e->layers, (long long)e->heads);
    zmlx_model_config c;
    CHECK_OK(zmlx_model_config_parse("minimal.json", text, strlen(text), &c));
    if (c.layer_kinds) check_expect(e, &c, "minimal");
    zmlx_model_config_free(&c);
  }
}

/* ---- real files in the 4.x spelling -------------------------------------- */

static void test_llama31(void) {
  static const char *text =
      "{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
      "\"bos_token_id\":128000,\"eos_token_id\":[128001,128008,128009],\"hidden_act\":\"silu\","
      "\"hidden_size\":4096,\"initializer_range\":0.02,\"intermediate_size\":14336,"
      "\"max_position_embeddings\":131072,\"mlp_bias\":false,\"model_type\":\"llama\","
      "\"num_attention_heads\":32,\"num_hidden_layers\":32,\"num_key_value_heads\":8,"
      "\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,\"rope_scaling\":{\"factor\":8.0,"
      "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192,"
      "\"rope_type\":\"llama3\"},\"rope_theta\":500000.0,\"tie_word_embeddings\":false,"
      "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.43.0.dev0\",\"use_cache\":true,"
      "\"vocab_size\":128256}";
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_parse("llama31.json", text, strlen(text), &c));
  CHECK(!strcmp(c.architecture, "LlamaForCausalLM"));
  CHECK_EQ_INT(c.rope.type, ZMLX_ROPE_TYPE_LLAMA3);
  CHECK(near(c.rope.theta, 500000.0) && near(c.rope.factor, 8.0));
  CHECK(near(c.rope.low_freq_factor, 1.0) && near(c.rope.high_freq_factor, 4.0));
  CHECK_EQ_INT(c.rope.original_max_position_embeddings, 8192);
  CHECK_EQ_INT(c.num_key_value_heads, 8);
  CHECK_EQ_INT(c.head_dim, 128);
  CHECK(c.has_dtype && c.dtype == ZMLX_DTYPE_BF16);
  CHECK_EQ_INT(c.n_eos, 3);
  CHECK_EQ_INT(c.eos_token_ids[2], 128009);
  CHECK_EQ_INT(c.bos_token_ids[0], 128000);
  CHECK_EQ_INT(c.n_pad, 0);
  CHECK(near(c.norm_eps, 1e-5));
  zmlx_model_config_free(&c);
}

static void test_gpt_oss_hub(void) {
  static const char *text =
      "{\"architectures\":[\"GptOssForCausalLM\"],\"attention_bias\":true,\"eos_token_id\":200002,"
      "\"experts_per_token\":4,\"head_dim\":64,\"hidden_act\":\"silu\",\"hidden_size\":2880,"
      "\"initial_context_length\":4096,\"intermediate_size\":2880,\"layer_types\":["
      "\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\"],"
      "\"max_position_embeddings\":131072,\"model_type\":\"gpt_oss\",\"num_attention_heads\":64,"
      "\"num_experts_per_tok\":4,\"num_hidden_layers\":4,\"num_key_value_heads\":8,"
      "\"num_local_experts\":32,\"pad_token_id\":199999,\"quantization_config\":{"
      "\"modules_to_not_convert\":[\"model.layers.*.self_attn\"],\"quant_method\":\"mxfp4\"},"
      "\"rms_norm_eps\":1e-05,\"rope_scaling\":{\"beta_fast\":32.0,\"beta_slow\":1.0,"
      "\"factor\":32.0,\"original_max_position_embeddings\":4096,\"rope_type\":\"yarn\","
      "\"truncate\":false},\"rope_theta\":150000,\"router_aux_loss_coef\":0.9,"
      "\"sliding_window\":128,\"swiglu_limit\":7.0,\"tie_word_embeddings\":false,"
      "\"torch_dtype\":\"bfloat16\",\"vocab_size\":201088}";
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_parse("gpt-oss-20b.json", text, strlen(text), &c));
  CHECK_EQ_INT(c.num_experts, 32);
  CHECK_EQ_INT(c.num_experts_per_tok, 4);
  CHECK_EQ_INT(c.rope.type, ZMLX_ROPE_TYPE_YARN);
  CHECK_EQ_INT(c.rope.truncate, 0);
  CHECK(!c.rope.has_attention_factor);
  CHECK(near(c.rope.theta, 150000));
  CHECK(!strcmp(c.quant_method, "mxfp4"));
  CHECK(!c.quant.present);
  CHECK_EQ_INT(c.pad_token_ids[0], 199999);
  CHECK_EQ_INT(c.layer_kinds[2], ZMLX_LAYER_KIND_SLIDING_ATTENTION);
  CHECK_EQ_INT(c.layer_kinds[3], ZMLX_LAYER_KIND_FULL_ATTENTION);
  CHECK(near(c.router_aux_loss_coef, 0.9));
  zmlx_model_config_free(&c);
}

static void test_qwen_variants(void) {
  /* Qwen3-30B-A3B style MoE with mlp_only_layers and a sparse step; a
   * Qwen2.5 yarn scaling; use_sliding_window with max_window_layers. */
  static const char *moe =
      "{\"model_type\":\"qwen3_moe\",\"vocab_size\":151936,\"hidden_size\":2048,"
      "\"intermediate_size\":6144,\"num_hidden_layers\":6,\"num_attention_heads\":32,"
      "\"num_key_value_heads\":4,\"head_dim\":128,\"num_experts\":128,\"num_experts_per_tok\":8,"
      "\"moe_intermediate_size\":768,\"norm_topk_prob\":true,\"decoder_sparse_step\":2,"
      "\"mlp_only_layers\":[3],\"rope_theta\":1000000.0,\"rope_scaling\":null,"
      "\"bos_token_id\":151643,\"eos_token_id\":151645,\"tie_word_embeddings\":false,"
      "\"torch_dtype\":\"bfloat16\",\"use_sliding_window\":false,\"sliding_window\":null}";
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_parse("qwen3-moe.json", moe, strlen(moe), &c));
  CHECK_EQ_INT(c.head_dim, 128);
  CHECK_EQ_INT(c.norm_topk_prob, 1);
  static const uint8_t want[6] = {0, 1, 0, 0, 0, 1}; /* (i+1)%2==0, minus layer 3 */
  for (int i = 0; i < 6; i++) CHECK_EQ_INT(c.layer_is_moe[i], want[i]);
  CHECK_EQ_INT(c.sliding_window, 0);
  zmlx_model_config_free(&c);

  static const char *yarn =
      "{\"model_type\":\"qwen2\",\"vocab_size\":152064,\"hidden_size\":3584,"
      "\"intermediate_size\":18944,\"num_hidden_layers\":28,\"num_attention_heads\":28,"
      "\"num_key_value_heads\":4,\"max_position_embeddings\":32768,\"max_window_layers\":20,"
      "\"rope_theta\":1000000.0,\"rope_scaling\":{\"factor\":4.0,"
      "\"original_max_position_embeddings\":32768,\"type\":\"yarn\"},\"sliding_window\":131072,"
      "\"use_sliding_window\":true,\"tie_word_embeddings\":false,\"torch_dtype\":\"float16\"}";
  CHECK_OK(zmlx_model_config_parse("qwen25.json", yarn, strlen(yarn), &c));
  CHECK_EQ_INT(c.rope.type, ZMLX_ROPE_TYPE_YARN);
  CHECK(near(c.rope.factor, 4.0) && near(c.rope.beta_fast, 32) && c.rope.truncate == 1);
  CHECK_EQ_INT(c.head_dim, 128);
  CHECK_EQ_INT(c.sliding_window, 131072);
  CHECK_EQ_INT(c.layer_kinds[19], ZMLX_LAYER_KIND_FULL_ATTENTION);
  CHECK_EQ_INT(c.layer_kinds[20], ZMLX_LAYER_KIND_SLIDING_ATTENTION);
  CHECK(c.has_dtype && c.dtype == ZMLX_DTYPE_F16);
  CHECK_EQ_INT(c.attn_qkv_bias, 1);
  CHECK_EQ_INT(c.attn_out_bias, 0);
  zmlx_model_config_free(&c);
}

static void test_lfm2_original_keys(void) {
  static const char *text =
      "{\"model_type\":\"lfm2\",\"vocab_size\":65536,\"hidden_size\":2048,"
      "\"block_ff_dim\":12288,\"intermediate_size\":999,\"block_multiple_of\":256,"
      "\"block_ffn_dim_multiplier\":1.0,\"block_auto_adjust_ff_dim\":true,"
      "\"num_hidden_layers\":16,\"num_attention_heads\":32,\"num_key_value_heads\":8,"
      "\"full_attn_idxs\":[2,5,8,10,12,14],\"theta\":1000000.0,\"tie_embedding\":true,"
      "\"norm_eps\":1e-05,\"conv_L_cache\":3,\"conv_bias\":false,\"max_position_embeddings\":128000}";
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_parse("lfm2-1.2b.json", text, strlen(text), &c));
  CHECK_EQ_INT(c.intermediate_size, 12288);
  CHECK_EQ_INT(c.ffn_dim, 8192); /* 256 * ceil(int(2 * 12288 / 3) / 256) */
  CHECK_EQ_INT(c.tie_word_embeddings, 1);
  CHECK(near(c.rope.theta, 1e6));
  int full = 0;
  for (int i = 0; i < 16; i++) full += c.layer_kinds[i] == ZMLX_LAYER_KIND_FULL_ATTENTION;
  CHECK_EQ_INT(full, 6);
  CHECK_EQ_INT(c.layer_kinds[0], ZMLX_LAYER_KIND_CONV);
  CHECK_EQ_INT(c.layer_kinds[14], ZMLX_LAYER_KIND_FULL_ATTENTION);
  CHECK_EQ_INT(c.head_dim, 64);
  zmlx_model_config_free(&c);
  /* per layer type rope parameters, as some transformers 5 files write */
  static const char *per_type =
      "{\"model_type\":\"lfm2\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":96,"
      "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
      "\"layer_types\":[\"conv\",\"full_attention\"],\"rope_parameters\":{\"full_attention\":"
      "{\"rope_theta\":12345.0,\"rope_type\":\"default\"},\"conv\":null}}";
  CHECK_OK(zmlx_model_config_parse("lfm2-v5.json", per_type, strlen(per_type), &c));
  CHECK(near(c.rope.theta, 12345.0));
  CHECK_EQ_INT(c.ffn_dim, 256); /* int(2*96/3) = 64 -> rounded up to 256 */
  zmlx_model_config_free(&c);
}

static void test_mlx_quantization(void) {
  static const char *text =
      "{\"model_type\":\"qwen3\",\"vocab_size\":1000,\"hidden_size\":256,"
      "\"intermediate_size\":512,\"num_hidden_layers\":2,\"num_attention_heads\":32,"
      "\"quantization\":{\"group_size\":64,\"bits\":4,\"model.layers.0.mlp.gate\":"
      "{\"group_size\":32,\"bits\":8},\"lm_head\":false,\"model.embed_tokens\":{\"bits\":6}},"
      "\"quantization_config\":{\"group_size\":64,\"bits\":4}}";
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_parse("mlx.json", text, strlen(text), &c));
  CHECK(c.quant.present);
  CHECK_EQ_INT(c.quant.defaults.bits, 4);
  CHECK_EQ_INT(c.quant.defaults.group_size, 64);
  CHECK(!strcmp(c.quant.defaults.mode, "affine"));
  CHECK_EQ_INT(c.quant.n_overrides, 3);
  zmlx_quant_params p;
  CHECK_OK(zmlx_quant_params_for(&c.quant, NULL, "model.layers.0.mlp.gate", &p));
  CHECK(p.quantized && p.bits == 8 && p.group_size == 32);
  CHECK_OK(zmlx_quant_params_for(&c.quant, NULL, "lm_head", &p));
  CHECK(!p.quantized);
  CHECK_OK(zmlx_quant_params_for(&c.quant, NULL, "model.embed_tokens", &p));
  CHECK(p.quantized && p.bits == 6 && p.group_size == 64);
  CHECK_OK(zmlx_quant_params_for(&c.quant, NULL, "model.layers.1.mlp.up_proj", &p));
  CHECK(p.quantized && p.bits == 4 && p.group_size == 64);
  zmlx_model_config_free(&c);
  /* only the quantization_config copy */
  static const char *copy =
      "{\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":96,"
      "\"num_hidden_layers\":1,\"num_attention_heads\":4,"
      "\"quantization_config\":{\"group_size\":128,\"bits\":2}}";
  CHECK_OK(zmlx_model_config_parse("copy.json", copy, strlen(copy), &c));
  CHECK(c.quant.present && c.quant.defaults.bits == 2 && c.quant.defaults.group_size == 128);
  CHECK_OK(zmlx_quant_params_for(&c.quant, NULL, "x", &p));
  CHECK(p.quantized);
  zmlx_model_config_free(&c);
}

/* ---- errors --------------------------------------------------------------- */

static void test_errors(void) {
  static const char *base_fields =
      "\"vocab_size\":10,\"hidden_size\":256,\"intermediate_size\":96,\"num_hidden_layers\":2,"
      "\"num_attention_heads\":32";
  static const struct {
    const char *extra; /* added after the base fields; a leading '!' replaces them */
    zmlx_status want;
    const char *msg1, *msg2;
  } cases[] = {
      {"\"model_type\":\"mistral\"", ZMLX_STATUS_UNSUPPORTED, "model_type", "'mistral'"},
      {"\"model_type\":7", ZMLX_STATUS_CORRUPT_DATA, "model_type", "expected a string"},
      {"!\"hidden_size\":64", ZMLX_STATUS_CORRUPT_DATA, "missing required field", "model_type"},
      {"!\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'vocab_size'"},
      {"!\"model_type\":\"llama\",\"vocab_size\":10,\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'hidden_size'"},
      {"!\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'intermediate_size'"},
      {"!\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'num_hidden_layers'"},
      {"!\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'num_attention_heads'"},
      {"!\"model_type\":\"llama\",\"vocab_size\":\"10\",\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "'vocab_size'", "expected an integer, found a string"},
      {"!\"model_type\":\"llama\",\"vocab_size\":10.5,\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "'vocab_size'", "expected an integer"},
      {"!\"model_type\":\"llama\",\"vocab_size\":-3,\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4",
       ZMLX_STATUS_CORRUPT_DATA, "'vocab_size'", "outside"},
      {"\"model_type\":\"llama\",\"tie_word_embeddings\":1", ZMLX_STATUS_CORRUPT_DATA,
       "'tie_word_embeddings'", "true or false"},
      {"\"model_type\":\"llama\",\"eos_token_id\":[1,\"2\"]", ZMLX_STATUS_CORRUPT_DATA,
       "'eos_token_id[1]'", "expected an integer"},
      {"\"model_type\":\"llama\",\"eos_token_id\":{}", ZMLX_STATUS_CORRUPT_DATA, "'eos_token_id'",
       "an integer or a list"},
      {"\"model_type\":\"llama\",\"num_key_value_heads\":3", ZMLX_STATUS_CORRUPT_DATA,
       "'num_key_value_heads'", "does not divide"},
      {"\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"longrope\",\"factor\":2}",
       ZMLX_STATUS_UNSUPPORTED, "rope_scaling.rope_type", "'longrope'"},
      {"\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"high_freq_factor\":4,\"original_max_position_embeddings\":8192}",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'rope_scaling.low_freq_factor'"},
      {"\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"linear\"}",
       ZMLX_STATUS_CORRUPT_DATA, "missing required field", "'rope_scaling.factor'"},
      {"\"model_type\":\"llama\",\"rope_parameters\":[1]", ZMLX_STATUS_CORRUPT_DATA,
       "'rope_parameters'", "expected an object"},
      {"\"model_type\":\"llama\",\"rope_theta\":\"big\"", ZMLX_STATUS_CORRUPT_DATA,
       "'rope_theta'", "expected a number"},
      {"\"model_type\":\"llama\",\"partial_rotary_factor\":1.5", ZMLX_STATUS_CORRUPT_DATA,
       "'partial_rotary_factor'", "(0, 1]"},
      {"\"model_type\":\"qwen3\",\"layer_types\":[\"full_attention\"]", ZMLX_STATUS_CORRUPT_DATA,
       "'layer_types'", "1 entries for 2 layers"},
      {"\"model_type\":\"qwen3\",\"layer_types\":[\"full_attention\",\"mamba\"]",
       ZMLX_STATUS_UNSUPPORTED, "'layer_types[1]'", "'mamba'"},
      {"\"model_type\":\"qwen3\",\"layer_types\":[\"full_attention\",\"conv\"]",
       ZMLX_STATUS_UNSUPPORTED, "'layer_types[1]'", "'conv'"},
      {"\"model_type\":\"qwen3\",\"layer_types\":[\"full_attention\",\"sliding_attention\"]",
       ZMLX_STATUS_CORRUPT_DATA, "'layer_types'", "no sliding window"},
      {"\"model_type\":\"qwen3\",\"torch_dtype\":\"int4\"", ZMLX_STATUS_UNSUPPORTED,
       "'torch_dtype'", "'int4'"},
      {"\"model_type\":\"qwen3_moe\",\"num_experts_per_tok\":200", ZMLX_STATUS_CORRUPT_DATA,
       "'num_experts_per_tok'", "outside"},
      {"\"model_type\":\"qwen3_moe\",\"mlp_only_layers\":3", ZMLX_STATUS_CORRUPT_DATA,
       "'mlp_only_layers'", "list"},
      {"\"model_type\":\"lfm2\",\"full_attn_idxs\":[9]", ZMLX_STATUS_CORRUPT_DATA,
       "'full_attn_idxs'", "outside"},
      {"\"model_type\":\"llama\",\"quantization\":{\"bits\":7,\"group_size\":64}",
       ZMLX_STATUS_CORRUPT_DATA, "'quantization.bits'", "not one of"},
      {"\"model_type\":\"llama\",\"quantization\":{\"bits\":4}", ZMLX_STATUS_CORRUPT_DATA,
       "missing required field", "'quantization.group_size'"},
      {"\"model_type\":\"llama\",\"quantization\":{\"bits\":4,\"group_size\":64,\"x\":3}",
       ZMLX_STATUS_CORRUPT_DATA, "'quantization.x'", "or false"},
      {"\"model_type\":\"llama\",\"quantization\":{\"bits\":4,\"group_size\":64,\"x\":{\"bits\":9}}",
       ZMLX_STATUS_CORRUPT_DATA, "'quantization.x.bits'", "not one of"},
      {"\"model_type\":\"llama\",\"quantization\":{\"bits\":4,\"group_size\":64,\"mode\":\"q4_k\"}",
       ZMLX_STATUS_UNSUPPORTED, "'quantization.mode'", "'q4_k'"},
      {"\"model_type\":\"llama\",\"architectures\":\"x\"", ZMLX_STATUS_CORRUPT_DATA,
       "'architectures'", "list of strings"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[1200];
    if (cases[i].extra[0] == '!')
      snprintf(text, sizeof text, "{%s}", cases[i].extra + 1);
    else
      snprintf(text, sizeof text, "{%s,%s}", base_fields, cases[i].extra);
    zmlx_model_config c;
    zmlx_status s = zmlx_model_config_parse("bad.json", text, strlen(text), &c);
    CHECK_MSG(s == cases[i].want, "case %zu -> %s (%s)", i, zmlx_status_name(s), zmlx_error_last());
    CHECK_CONTAINS(zmlx_error_last(), "bad.json");
    CHECK_CONTAINS(zmlx_error_last(), cases[i].msg1);
    CHECK_CONTAINS(zmlx_error_last(), cases[i].msg2);
    CHECK(c.layer_kinds == NULL && c.family == 0);
    if (!s) zmlx_model_config_free(&c);
  }
  zmlx_model_config c;
  CHECK_STATUS(zmlx_model_config_parse("j.json", "[1]", 3, &c), ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "not a JSON object");
  CHECK_STATUS(zmlx_model_config_parse("j.json", "{\"a\":", 5, &c), ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "line 1");
  CHECK_STATUS(zmlx_model_config_load("/nonexistent/config.json", &c), ZMLX_STATUS_NOT_FOUND);
  CHECK_CONTAINS(zmlx_error_last(), "/nonexistent/config.json");
  CHECK_STATUS(zmlx_model_config_parse("x", NULL, 0, &c), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_model_config_free(NULL);
}

static void test_folder(void) {
  if (!data_dir()) ZT_SKIP("tests/data/configs not found");
  char dir[] = "/tmp/zmlx-cfg-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char src[700], dst[700];
  snprintf(src, sizeof src, "%s/qwen3.json", g_data);
  snprintf(dst, sizeof dst, "%s/config.json", dir);
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char buf[4096];
  size_t n;
  while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  if (in) fclose(in);
  if (out) fclose(out);
  zmlx_model_config c;
  CHECK_OK(zmlx_model_config_load(dir, &c));
  CHECK_EQ_INT(c.family, ZMLX_MODEL_FAMILY_QWEN3);
  zmlx_model_config_free(&c);
  unlink(dst);
  rmdir(dir);
  CHECK(!strcmp(zmlx_model_family_name(ZMLX_MODEL_FAMILY_LFM2_MOE), "lfm2_moe"));
  CHECK(!strcmp(zmlx_rope_type_name(ZMLX_ROPE_TYPE_LLAMA3), "llama3"));
  CHECK(!strcmp(zmlx_layer_kind_name(ZMLX_LAYER_KIND_CONV), "conv"));
}

/* The whole-file reader behind config.json, indexes, tokenizer.json and
 * capsules: exact size limit, NUL after the text, errors by kind. */
static void test_file_read(void) {
  char dir[] = "/tmp/zmlx-file-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/f", dir);
  enum { N = 70001 }; /* past the first 64 KiB buffer */
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  for (int i = 0; f && i < N; i++) fputc('a' + i % 26, f);
  if (f) fclose(f);
  char *text = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_file_read("t", path, N, &text, &len));
  CHECK(len == N && text && text[N] == 0 && text[0] == 'a' && text[N - 1] == 'a' + (N - 1) % 26);
  free(text);
  CHECK_STATUS(zmlx_file_read("t", path, N - 1, &text, &len), ZMLX_STATUS_CORRUPT_DATA);
  CHECK(text == NULL && len == 0);
  CHECK_CONTAINS(zmlx_error_last(), "larger than 70000 bytes");
  CHECK_STATUS(zmlx_file_read("t", dir, 100, &text, &len), ZMLX_STATUS_IO_ERROR);
  CHECK_CONTAINS(zmlx_error_last(), dir);
  unlink(path);
  CHECK_STATUS(zmlx_file_read("t", path, 100, &text, &len), ZMLX_STATUS_NOT_FOUND);
  f = fopen(path, "wb");
  if (f) fclose(f);
  CHECK_OK(zmlx_file_read("t", path, 100, &text, &len));
  CHECK(len == 0 && text && text[0] == 0);
  free(text);
  unlink(path);
  rmdir(dir);
}

ZT_MAIN(ZT(test_transformers_defaults), ZT(test_minimal_configs), ZT(test_llama31),
        ZT(test_gpt_oss_hub), ZT(test_qwen_variants), ZT(test_lfm2_original_keys),
        ZT(test_mlx_quantization), ZT(test_errors), ZT(test_folder), ZT(test_file_read))
