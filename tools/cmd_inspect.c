/* `zmlx inspect MODEL_DIR|FILE`: what a checkpoint holds (tensors, dtypes,
 * shapes, bytes), its parsed config.json and its MLX quantization. Reads
 * headers only; no tensor data is touched. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "zmlx/zmlx.h"

static void print_ids(const char *what, const int64_t *ids, int n) {
  printf("%s ", what);
  if (!n) printf("none");
  for (int i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)ids[i]);
}

static void print_config(const zmlx_model_config *c) {
  printf("config: %s%s%s%s%s\n", c->model_type, c->architecture[0] ? " (" : "", c->architecture,
         c->architecture[0] ? ")" : "", c->has_dtype ? "" : ", dtype unset");
  if (c->has_dtype) printf("  dtype %s\n", zmlx_dtype_name(c->dtype));
  printf("  vocab %lld, hidden %lld, intermediate %lld (mlp width %lld), layers %lld, "
         "max positions %lld\n",
         (long long)c->vocab_size, (long long)c->hidden_size, (long long)c->intermediate_size,
         (long long)c->ffn_dim, (long long)c->num_hidden_layers,
         (long long)c->max_position_embeddings);
  printf("  heads %lld, kv heads %lld, head_dim %lld, norm eps %g, act %s, tied embeddings %s\n",
         (long long)c->num_attention_heads, (long long)c->num_key_value_heads,
         (long long)c->head_dim, c->norm_eps, c->hidden_act, c->tie_word_embeddings ? "yes" : "no");
  printf("  bias: qkv %s, out %s, mlp %s; qk norm %s\n", c->attn_qkv_bias ? "yes" : "no",
         c->attn_out_bias ? "yes" : "no", c->mlp_bias ? "yes" : "no", c->qk_norm ? "yes" : "no");
  const zmlx_rope_config *r = &c->rope;
  printf("  rope %s, theta %g, rotary dim %lld", zmlx_rope_type_name(r->type), r->theta,
         (long long)r->rotary_dim);
  if (r->type != ZMLX_ROPE_TYPE_DEFAULT) printf(", factor %g", r->factor);
  if (r->original_max_position_embeddings)
    printf(", original max positions %lld", (long long)r->original_max_position_embeddings);
  if (r->type == ZMLX_ROPE_TYPE_LLAMA3)
    printf(", low/high freq factor %g/%g", r->low_freq_factor, r->high_freq_factor);
  if (r->type == ZMLX_ROPE_TYPE_YARN) {
    printf(", beta fast/slow %g/%g, truncate %s", r->beta_fast, r->beta_slow,
           r->truncate ? "yes" : "no");
    if (r->has_attention_factor) printf(", attention factor %g", r->attention_factor);
  }
  printf("\n");
  if (c->num_experts)
    printf("  experts %lld, per token %lld, expert width %lld, renormalized %s, shared %lld%s%s\n",
           (long long)c->num_experts, (long long)c->num_experts_per_tok,
           (long long)c->moe_intermediate_size, c->norm_topk_prob ? "yes" : "no",
           (long long)c->num_shared_experts, c->router_bias ? ", router bias" : "",
           c->expert_bias ? ", expert bias" : "");
  int kinds[3] = {0}, moe = 0;
  for (int64_t i = 0; i < c->num_hidden_layers; i++) {
    kinds[c->layer_kinds[i]]++;
    moe += c->layer_is_moe[i];
  }
  printf("  layers: %d full attention, %d sliding", kinds[0], kinds[1]);
  if (c->sliding_window) printf(" (window %lld)", (long long)c->sliding_window);
  printf(", %d conv; %d MoE\n", kinds[2], moe);
  printf("  tokens: ");
  print_ids("bos", c->bos_token_ids, c->n_bos);
  print_ids(", eos", c->eos_token_ids, c->n_eos);
  print_ids(", pad", c->pad_token_ids, c->n_pad);
  printf("\n");
  if (c->quant_method[0]) printf("  quantization_config.quant_method: %s\n", c->quant_method);
  const zmlx_quant_config *q = &c->quant;
  if (!q->present) return;
  printf("quantization: %s, %d bits, group size %d\n", q->defaults.mode, q->defaults.bits,
         q->defaults.group_size);
  for (int i = 0; i < q->n_overrides; i++) {
    const zmlx_quant_params *p = &q->overrides[i].params;
    if (p->quantized)
      printf("  %s: %s, %d bits, group size %d\n", q->overrides[i].path, p->mode, p->bits,
             p->group_size);
    else
      printf("  %s: not quantized\n", q->overrides[i].path);
  }
}

static void print_tensors(const zmlx_safetensors *st) {
  int64_t n = zmlx_safetensors_count(st);
  uint64_t total = 0;
  int nf = zmlx_safetensors_file_count(st);
  printf("files: %d\n", nf);
  for (int i = 0; i < nf; i++) printf("  %s\n", zmlx_safetensors_file_path(st, i));
  for (int i = 0; i < zmlx_safetensors_metadata_count(st); i++) {
    const char *k, *v;
    if (zmlx_safetensors_metadata_at(st, i, &k, &v) == ZMLX_STATUS_OK)
      printf("metadata: %s = %s\n", k, v);
  }
  printf("tensors: %lld\n", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    zmlx_st_tensor t;
    if (zmlx_safetensors_tensor(st, i, &t) != ZMLX_STATUS_OK) continue;
    char shape[160];
    size_t k = (size_t)snprintf(shape, sizeof shape, "(");
    for (int d = 0; d < t.ndim && k < sizeof shape; d++)
      k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "",
                            (long long)t.shape[d]);
    if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, t.ndim == 1 ? ",)" : ")");
    printf("  %-60s %-8s %-24s %12llu\n", t.name, zmlx_st_dtype_name(t.dtype), shape,
           (unsigned long long)t.nbytes);
    total += t.nbytes;
  }
  printf("total: %llu bytes (%.2f GiB)\n", (unsigned long long)total,
         (double)total / (1024.0 * 1024.0 * 1024.0));
}

int zmlx_cmd_inspect(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fprintf(argc == 2 ? stdout : stderr,
            "usage: zmlx inspect MODEL_DIR|FILE\n"
            "Lists the tensors of a safetensors checkpoint (a folder, an index json\n"
            "or one file) with dtypes, shapes and bytes, then the folder's parsed\n"
            "config.json and MLX quantization, if any.\n");
    return argc == 2 ? 0 : 2;
  }
  const char *path = argv[1];
  struct stat sb;
  int is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
  printf("model: %s\n", path);
  int rc = 0;
  zmlx_safetensors *st = NULL;
  if (zmlx_safetensors_open(path, &st) == ZMLX_STATUS_OK) {
    print_tensors(st);
  } else {
    fprintf(stderr, "zmlx inspect: %s\n", zmlx_error_last());
    rc = 1;
  }
  if (is_dir) {
    zmlx_model_config c;
    zmlx_status s = zmlx_model_config_load(path, &c);
    if (s == ZMLX_STATUS_OK) {
      print_config(&c);
      zmlx_model_config_free(&c);
    } else if (s == ZMLX_STATUS_NOT_FOUND) {
      printf("config: none (no config.json)\n");
    } else {
      fprintf(stderr, "zmlx inspect: %s\n", zmlx_error_last());
      rc = 1;
    }
  }
  zmlx_safetensors_close(st);
  return rc;
}
