/* The rotary embeddings' catalog entries. The f64 references rotate each
 * pair by its angle with libm's cos and sin; the config entries compute
 * their frequencies here again from transformers' formulas
 * (modeling_rope_utils.py), independently of rope_freqs.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/raw_kernels.h"
#include "catalog/registry.h"
#include "core/error.h"
#include "zmlx/catalog_rope.h"

enum {
  K_ROPE, K_INTERLEAVED, K_OFFSET, K_QK, K_KV_CACHE,
  K_LLAMA3, K_YARN, K_GPT_OSS, K_LINEAR, K_DYNAMIC,
};

static int64_t last(const zcat_tensor *t, int k) { return t->ndim >= k ? t->shape[t->ndim - k] : 0; }

/* Rotate x (N tokens of H heads of D) by pairs of the layout; pos[n] the
 * token's position (NULL: offset + n % tlen); f the R/2 frequencies. */
typedef struct rot {
  const double *f;
  int64_t R;
  const double *pos;
  double offset, scale, sign;
  int64_t tlen;
  int interleaved;
} rot;

static void rotate(const rot *r, const double *x, double *y, int64_t N, int64_t H, int64_t D) {
  for (int64_t n = 0; n < N; n++) {
    double p = r->pos ? r->pos[n] : r->offset + (double)(n % r->tlen);
    for (int64_t h = 0; h < H; h++) {
      const double *xr = x + (n * H + h) * D;
      double *yr = y + (n * H + h) * D;
      for (int64_t d = r->R; d < D; d++) yr[d] += xr[d];
      for (int64_t i = 0; i < r->R / 2; i++) {
        int64_t d1 = r->interleaved ? 2 * i : i, d2 = r->interleaved ? 2 * i + 1 : i + r->R / 2;
        double a = p * r->f[i], c = cos(a) * r->scale, s = sin(a) * r->scale * r->sign;
        yr[d1] += xr[d1] * c - xr[d2] * s;
        yr[d2] += xr[d2] * c + xr[d1] * s;
      }
    }
  }
}

static int64_t lead_count(const zcat_tensor *x) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim - 2; d++) n *= x->shape[d];
  return n;
}

/* The size of the last leading axis (token t's index runs along it). */
static int64_t lead_last(const zcat_tensor *x) {
  return x->ndim > 2 && x->shape[x->ndim - 3] > 0 ? x->shape[x->ndim - 3] : 1;
}

/* ---- frequencies of the config entries, from transformers' formulas ---- */
typedef struct cfg {
  int type;  /* K_LLAMA3 ... */
  double theta, factor, orig, rotary, max_pos, seq_len;
} cfg;

/* The entries' parameters as a config; rotary 0 means the head size. */
static cfg config_of(int kind, const double *p, int64_t D) {
  cfg c = {.type = kind, .theta = p[1], .factor = p[0]};
  switch (kind) {
    case K_LLAMA3: case K_YARN: case K_GPT_OSS: c.orig = p[2]; c.rotary = p[3]; break;
    case K_LINEAR: c.rotary = p[2]; break;
    case K_DYNAMIC: c.theta = 10000; c.max_pos = p[1]; c.seq_len = p[2]; c.rotary = p[3]; break;
    default: break;
  }
  if (c.rotary == 0) c.rotary = (double)D;
  return c;
}

static void freqs(const cfg *c, double *f, double *att) {
  const double dim = c->rotary;
  double base = c->theta;
  *att = 1;
  if (c->type == K_DYNAMIC) {
    double L = c->seq_len > c->max_pos ? c->seq_len : c->max_pos;
    base = base * pow(c->factor * L / c->max_pos - (c->factor - 1), dim / (dim - 2));
  }
  for (int i = 0; 2 * i < (int)dim; i++) f[i] = 1.0 / pow(base, 2.0 * i / dim);
  int n = (int)dim / 2;
  if (c->type == K_LINEAR)
    for (int i = 0; i < n; i++) f[i] = f[i] / c->factor;
  if (c->type == K_LLAMA3) {
    /* low_freq_factor 1, high_freq_factor 4 (Llama 3.1) */
    double lw = c->orig / 1.0, hw = c->orig / 4.0;
    for (int i = 0; i < n; i++) {
      double wl = 2 * M_PI / f[i];
      if (wl > lw) {
        f[i] /= c->factor;
      } else if (wl >= hw) {
        double sm = (c->orig / wl - 1.0) / (4.0 - 1.0);
        f[i] = (1 - sm) * f[i] / c->factor + sm * f[i];
      }
    }
  }
  if (c->type == K_YARN || c->type == K_GPT_OSS) {
    /* beta_fast 32, beta_slow 1; GPT-OSS: truncate false */
    double lo = dim * log(c->orig / (32 * 2 * M_PI)) / (2 * log(base));
    double hi = dim * log(c->orig / (1 * 2 * M_PI)) / (2 * log(base));
    if (c->type == K_YARN) lo = floor(lo), hi = ceil(hi);
    if (lo < 0) lo = 0;
    if (hi > dim - 1) hi = dim - 1;
    if (lo == hi) hi += 0.001;
    for (int i = 0; i < n; i++) {
      double ramp = ((double)i - lo) / (hi - lo);
      ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
      f[i] = f[i] * (1 - ramp) + f[i] / c->factor * ramp;
    }
    *att = c->factor <= 1 ? 1 : 0.1 * log(c->factor) + 1;
  }
}

/* ---- references ----------------------------------------------------------- */
static void ref_x(const zcat_host_call *c, double sign, int grad) {
  const zcat_entry *e = c->e;
  const zcat_tensor *x = &c->in[0];
  int k = e->kind;
  rot r = {.sign = sign, .tlen = lead_last(x), .interleaved = k == K_INTERLEAVED};
  double fbuf[4096], att = 1;
  if (k >= K_LLAMA3) {
    cfg cf = config_of(k, c->p, last(x, 1));
    freqs(&cf, fbuf, &att);
    r.f = fbuf;
    r.R = (int64_t)cf.rotary;
    r.pos = c->in[1].v;
    r.scale = att;
  } else {
    r.f = c->in[1].v;
    r.R = 2 * c->in[1].n;
    if (k == K_OFFSET) {
      r.offset = c->p[0];
      r.scale = c->p[1];
    } else {
      r.pos = c->in[2].v;
      r.scale = c->p[0];
    }
  }
  if (grad)
    rotate(&r, c->dout[0].v, c->din[0].v, lead_count(x), last(x, 2), last(x, 1));
  else
    rotate(&r, x->v, c->out[0].v, lead_count(x), last(x, 2), last(x, 1));
}

static void ref(const zcat_host_call *c) { ref_x(c, 1, 0); }
static void ref_grad(const zcat_host_call *c) { ref_x(c, -1, 1); }

static void ref_qk_x(const zcat_host_call *c, double sign, int grad) {
  rot r = {.f = c->in[2].v, .R = 2 * c->in[2].n, .pos = c->in[3].v, .scale = c->p[0],
           .sign = sign, .tlen = 1};
  for (int j = 0; j < 2; j++) {
    const zcat_tensor *x = &c->in[j];
    rotate(&r, grad ? c->dout[j].v : x->v, grad ? c->din[j].v : c->out[j].v, lead_count(x),
           last(x, 2), last(x, 1));
  }
}

static void ref_qk(const zcat_host_call *c) { ref_qk_x(c, 1, 0); }
static void ref_qk_grad(const zcat_host_call *c) { ref_qk_x(c, -1, 1); }

/* Caches keep their rows; rows offset + t get rotated k and v. */
static void ref_kv(const zcat_host_call *c) {
  const zcat_tensor *k = &c->in[0], *v = &c->in[1];
  int64_t T = k->shape[0], Hk = k->shape[1], D = k->shape[2], Dv = v->shape[2];
  int64_t off = (int64_t)c->p[0];
  memcpy(c->out[0].v, c->in[3].v, sizeof(double) * (size_t)c->in[3].n);
  memcpy(c->out[1].v, c->in[4].v, sizeof(double) * (size_t)c->in[4].n);
  rot r = {.f = c->in[2].v, .R = 2 * c->in[2].n, .offset = (double)off, .scale = 1, .sign = 1,
           .tlen = T > 0 ? T : 1};
  double *kr = calloc((size_t)(T * Hk * D) + 1, sizeof *kr);
  if (!kr) return;
  rotate(&r, k->v, kr, T, Hk, D);
  for (int64_t i = 0; i < T * Hk * D; i++) c->out[0].v[off * Hk * D + i] = kr[i];
  for (int64_t i = 0; i < T * Hk * Dv; i++) c->out[1].v[off * Hk * Dv + i] = v->v[i];
  free(kr);
}

/* ---- runners -------------------------------------------------------------- */
static zmlx_status named(const zcat_dev_call *c, zmlx_status s) { return zcat_named(c->e->name, s); }

static zmlx_status grad_like(const zcat_dev_call *c, int j, const zmlx_array *x) {
  return zcat_check_grad_shape(c->e->name, c->dout[j], x);
}

static zmlx_rope_spec spec_of(const zcat_dev_call *c) {
  int k = c->e->kind;
  zmlx_rope_spec r = {.inv_freq = c->in[1],
                      .layout = k == K_INTERLEAVED ? ZMLX_ROPE_INTERLEAVED : ZMLX_ROPE_HALF};
  if (k == K_OFFSET) {
    r.offset = (int64_t)c->p[0];
    r.scale = c->p[1];
  } else {
    r.positions = c->in[2];
    r.scale = c->p[0];
  }
  return r;
}

static zmlx_status run(const zcat_dev_call *c) {
  zmlx_rope_spec r = spec_of(c);
  return named(c, zmlx_rope(&r, c->in[0], &c->out[0]));
}

static zmlx_status run_grad(const zcat_dev_call *c) {
  ZMLX_TRY(grad_like(c, 0, c->in[0]));
  zmlx_rope_spec r = spec_of(c);
  return named(c, zmlx_rope_backward(&r, c->dout[0], &c->din[0]));
}

static zmlx_status run_qk(const zcat_dev_call *c) {
  zmlx_rope_spec r = {.inv_freq = c->in[2], .positions = c->in[3], .scale = c->p[0]};
  return named(c, zmlx_rope_qk(&r, c->in[0], c->in[1], &c->out[0], &c->out[1]));
}

static zmlx_status run_qk_grad(const zcat_dev_call *c) {
  ZMLX_TRY(grad_like(c, 0, c->in[0]));
  ZMLX_TRY(grad_like(c, 1, c->in[1]));
  zmlx_rope_spec r = {.inv_freq = c->in[2], .positions = c->in[3], .scale = c->p[0]};
  zmlx_status s = zmlx_rope_qk_backward(&r, c->dout[0], c->dout[1], &c->din[0], &c->din[1]);
  return named(c, s);
}

/* A new C-contiguous copy of a (NULL for NULL). */
static zmlx_status copy_of(zmlx_array *a, zmlx_array **out) {
  *out = NULL;
  if (!a) return ZMLX_STATUS_OK;
  int64_t sh[ZMLX_MAX_DIMS];
  for (int d = 0; d < zmlx_array_ndim(a); d++) sh[d] = zmlx_array_dim(a, d);
  zmlx_status s = zmlx_array_empty(zmlx_array_dtype(a), zmlx_array_ndim(a), sh,
                                   zmlx_array_device(a), out);
  if (!s) s = zmlx_array_copy_into(*out, a);
  if (s) {
    zmlx_array_release(*out);
    *out = NULL;
  }
  return s;
}

/* The op writes the caches in place: give it copies, and return those. */
static zmlx_status run_kv(const zcat_dev_call *c) {
  zmlx_array *kc = NULL, *vc = NULL;
  zmlx_status s = copy_of(c->in[3], &kc);
  if (!s) s = copy_of(c->in[4], &vc);
  zmlx_rope_spec r = {.inv_freq = c->in[2], .offset = (int64_t)c->p[0]};
  if (!s) s = zmlx_rope_kv_cache(&r, c->in[0], c->in[1], kc, vc);
  if (s) {
    zmlx_array_release(kc);
    zmlx_array_release(vc);
    return named(c, s);
  }
  c->out[0] = kc;
  c->out[1] = vc;
  return s;
}

static zmlx_rope_config rope_config(const zcat_dev_call *c, int64_t D) {
  cfg f = config_of(c->e->kind, c->p, D);
  static const zmlx_rope_type types[] = {
      [K_LLAMA3] = ZMLX_ROPE_TYPE_LLAMA3, [K_YARN] = ZMLX_ROPE_TYPE_YARN,
      [K_GPT_OSS] = ZMLX_ROPE_TYPE_YARN, [K_LINEAR] = ZMLX_ROPE_TYPE_LINEAR,
      [K_DYNAMIC] = ZMLX_ROPE_TYPE_DYNAMIC};
  zmlx_rope_config r = {.type = types[c->e->kind], .theta = f.theta, .factor = f.factor,
                        .original_max_position_embeddings = (int64_t)f.orig,
                        .low_freq_factor = 1, .high_freq_factor = 4, .beta_fast = 32,
                        .beta_slow = 1, .truncate = c->e->kind != K_GPT_OSS,
                        .partial_rotary_factor = f.rotary / (double)D, .rotary_dim = (int64_t)f.rotary};
  return r;
}

/* Frequencies from the config on x's device, then the rotation. */
static zmlx_status run_cfg_dir(const zcat_dev_call *c, zmlx_array *x, zmlx_array **out, int grad) {
  if (!x || zmlx_array_ndim(x) < 1) {
    zmlx_rope_spec none = {0};
    return named(c, grad ? zmlx_rope_backward(&none, x, out) : zmlx_rope(&none, x, out));
  }
  zmlx_rope_config rc = rope_config(c, zmlx_array_dim(x, -1));
  int64_t max_pos = c->e->kind == K_DYNAMIC ? (int64_t)c->p[1] : 0;
  int64_t seq_len = c->e->kind == K_DYNAMIC ? (int64_t)c->p[2] : 0;
  zmlx_rope_spec r = {.positions = c->in[1]};
  zmlx_status s = zmlx_rope_inv_freq_array(&rc, max_pos, seq_len, ZMLX_DTYPE_F64,
                                           zmlx_array_device(x), &r.inv_freq, &r.scale);
  if (!s) s = grad ? zmlx_rope_backward(&r, x, out) : zmlx_rope(&r, x, out);
  zmlx_array_release(r.inv_freq);
  return named(c, s);
}

static zmlx_status run_cfg(const zcat_dev_call *c) { return run_cfg_dir(c, c->in[0], &c->out[0], 0); }

static zmlx_status run_cfg_grad(const zcat_dev_call *c) {
  ZMLX_TRY(grad_like(c, 0, c->in[0]));
  return run_cfg_dir(c, c->dout[0], &c->din[0], 1);
}

/* ---- cases ---------------------------------------------------------------- */
/* Vector and scalar paths, partial rotation, positions up to 2^17, no
 * leading dimensions, empty arrays, a transposed view. */
static const char *const cases[] = {
    "7 H=1 D=2 R=2 P=8",           "5 H=3 D=16 R=16 P=4096 scale=1.3",
    "2x9 H=4 D=64 R=32 P=131072",  "3 H=2 D=10 R=6 P=64",
    "- H=3 D=8 R=8 P=10",          "0 H=4 D=16 R=16 P=4",
    "4 H=0 D=8 R=8 P=4",           "6 H=5 D=32 R=32 P=50 ~x",
    "4 H=2 D=16 R=16 P=99 @x",     NULL};
static const char *const full_cases[] = {"1000 H=8 D=128 R=128 P=131072", "33 H=7 D=96 R=64 P=999",
                                         "17x3 H=4 D=20 R=12 P=77 ~x", NULL};
static const char *const offset_cases[] = {
    "7 H=1 D=2 R=2",  "5 H=3 D=16 R=16 offset=4000", "2x9 H=4 D=64 R=32 offset=77",
    "3 H=2 D=10 R=6 offset=2", "0 H=4 D=16 R=16", "6 H=5 D=32 R=32 offset=9 ~x",
    "4 H=2 D=16 R=16 offset=1 @x", NULL};
static const char *const bad[] = {"x:3x2x8 inv_freq:5 positions:3 => SHAPE_MISMATCH",
                                  "x:3x2x8 inv_freq:4 positions:4 => SHAPE_MISMATCH",
                                  "x:8 inv_freq:4 positions:- => SHAPE_MISMATCH",
                                  "x:3x2x8 inv_freq:2x2 positions:3 => SHAPE_MISMATCH", NULL};
static const char *const offset_bad[] = {"x:3x2x8 inv_freq:5 => SHAPE_MISMATCH", NULL};
static const char *const qk_cases[] = {
    "5 H=8 K=2 D=16 R=16 P=1000", "3 H=4 K=4 D=10 R=4 P=7", "2x3 H=6 K=3 D=64 R=64 P=5000",
    "0 H=2 K=1 D=8 R=8 P=3", "4 H=4 K=2 D=32 R=32 P=64 ~q", "3 H=4 K=2 D=16 R=16 P=9 @*", NULL};
static const char *const qk_bad[] = {"q:3x4x8 k:2x2x8 inv_freq:4 positions:3 => SHAPE_MISMATCH",
                                     NULL};
static const char *const kv_cases[] = {
    "T=5 K=2 D=16 E=16 M=9 R=16 offset=3", "T=3 K=3 D=10 E=6 M=3 R=4",
    "T=7 K=1 D=64 E=32 M=20 R=32 offset=13", "T=0 K=2 D=8 E=8 M=4 R=8 offset=4",
    "T=4 K=2 D=32 E=32 M=8 R=32 offset=1 ~k", "T=3 K=2 D=16 E=8 M=5 R=16 offset=2 @*", NULL};
static const char *const kv_bad[] = {"T=5 K=2 D=16 E=16 M=9 R=16 offset=5 => INVALID_ARGUMENT",
                                     "T=5 K=2 D=16 E=16 M=9 R=16 offset=-1 => INVALID_ARGUMENT",
                                     "k:5x2x16 v:5x2x16 inv_freq:8 k_cache:9x2x16 v_cache:8x2x16 "
                                     "=> SHAPE_MISMATCH",
                                     NULL};
static const char *const cfg_cases[] = {
    "5 H=3 D=16 P=40000", "2x7 H=2 D=64 P=131072 rotary=32", "3 H=2 D=10 P=64",
    "0 H=2 D=16 P=4", "6 H=4 D=32 P=5000 ~x", "4 H=2 D=32 P=300 @x", NULL};
static const char *const cfg_full[] = {"300 H=8 D=128 P=131072", "9 H=3 D=256 P=1000000", NULL};

#define X {"x", "...,H,D", ZCAT_GRAD}
#define INV {"inv_freq", "R/2", ZCAT_FIXED, 1e-4, 1, .dtype = ZMLX_DTYPE_F64}
#define POS(T) {"positions", "...", ZCAT_INDEX | ZCAT_OPTIONAL, .range = "P", .dtype = T}
/* Frequencies differ in their last bits between the kernels' and the
 * references' formulas, and angles up to 1e5 radians scale that up. */
#define CFG_TOL .tol = {[ZMLX_DTYPE_F64] = 1e-9}, .grad_tol = {[ZMLX_DTYPE_F64] = 1e-9}

#define ROPE(KIND, NAME, SUMMARY, CALL, CASES, FULL, BAD, PERF, NIN, ...)                      \
  .name = NAME, .family = "rope", .summary = SUMMARY, .api = CALL, .kind = KIND,                \
   .n_in = NIN, .in = {__VA_ARGS__}, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,    \
   .cases = CASES, .full_cases = FULL, .bad = BAD, .perf = PERF

#define CFG(KIND, NAME, SUMMARY, NP, ...)                                                      \
  {ROPE(KIND, NAME, SUMMARY, "zmlx_rope_inv_freq_array + zmlx_rope", cfg_cases, cfg_full, NULL,  \
        "16384 H=32 D=128 P=16384", 2, X, POS(ZMLX_DTYPE_I32)),                                 \
   .n_out = 1, .out = {{"y", "...,H,D"}}, .n_params = NP, .params = {__VA_ARGS__}, .ref = ref,   \
   .ref_grad = ref_grad, .run = run_cfg, .run_grad = run_cfg_grad, CFG_TOL}

static const zcat_entry entries[] = {
    {ROPE(K_ROPE, "rope", "rotary embedding, half layout (NeoX, Llama, Qwen), positions array",
          "zmlx_rope(ZMLX_ROPE_HALF)", cases, full_cases, bad, "16384 H=32 D=128 R=128 P=16384", 3,
          X, INV, POS(ZMLX_DTYPE_I32)),
     .n_out = 1, .out = {{"y", "...,H,D"}}, .n_params = 1, .params = {{"scale", 1}}, .ref = ref,
     .ref_grad = ref_grad, .run = run, .run_grad = run_grad},
    {ROPE(K_INTERLEAVED, "rope_interleaved", "rotary embedding, interleaved pairs (GPT-J)",
          "zmlx_rope(ZMLX_ROPE_INTERLEAVED)", cases, full_cases, bad,
          "16384 H=32 D=128 R=128 P=16384", 3, X, INV, POS(ZMLX_DTYPE_I64)),
     .n_out = 1, .out = {{"y", "...,H,D"}}, .n_params = 1, .params = {{"scale", 1}}, .ref = ref,
     .ref_grad = ref_grad, .run = run, .run_grad = run_grad},
    {ROPE(K_OFFSET, "rope_offset", "rotary embedding at positions offset + t (no array)",
          "zmlx_rope(positions NULL, offset)", offset_cases, NULL, offset_bad,
          "16384 H=32 D=128 R=128", 2, X, INV),
     .n_out = 1, .out = {{"y", "...,H,D"}}, .n_params = 2, .params = {{"offset", 0}, {"scale", 1}},
     .ref = ref, .ref_grad = ref_grad, .run = run, .run_grad = run_grad},
    {ROPE(K_QK, "rope_qk", "q and k of grouped-query attention in one launch",
          "zmlx_rope_qk", qk_cases, NULL, qk_bad, "16384 H=32 K=8 D=128 R=128 P=16384", 4,
          {"q", "...,H,D", ZCAT_GRAD}, {"k", "...,K,D", ZCAT_GRAD}, INV, POS(ZMLX_DTYPE_I32)),
     .n_out = 2, .out = {{"q_out", "...,H,D"}, {"k_out", "...,K,D"}}, .n_params = 1,
     .params = {{"scale", 1}}, .ref = ref_qk, .ref_grad = ref_qk_grad, .run = run_qk,
     .run_grad = run_qk_grad},
    {ROPE(K_KV_CACHE, "rope_kv_cache", "rotate k and write k and v into caches at offset + t",
          "zmlx_rope_kv_cache", kv_cases, NULL, kv_bad,
          "T=16384 K=8 D=128 E=128 M=16384 R=128", 5, {"k", "T,K,D"}, {"v", "T,K,E"}, INV,
          {"k_cache", "M,K,D"}, {"v_cache", "M,K,E"}),
     .n_out = 2, .out = {{"k_cache", "M,K,D"}, {"v_cache", "M,K,E"}}, .n_params = 1,
     .params = {{"offset", 0}}, .ref = ref_kv, .run = run_kv},
    CFG(K_LLAMA3, "rope_llama3", "Llama 3.1 frequencies (rope_type llama3, low 1, high 4)", 4,
        {"factor", 8}, {"theta", 500000}, {"original", 8192}, {"rotary", 0}),
    CFG(K_YARN, "rope_yarn", "YaRN as Qwen3 configures it (truncated ramp, 0.1 ln(factor) + 1)", 4,
        {"factor", 4}, {"theta", 1000000}, {"original", 32768}, {"rotary", 0}),
    CFG(K_GPT_OSS, "rope_gpt_oss", "YaRN as GPT-OSS configures it (truncate false)", 4,
        {"factor", 32}, {"theta", 150000}, {"original", 4096}, {"rotary", 0}),
    CFG(K_LINEAR, "rope_linear", "linear scaling: frequencies / factor", 3, {"factor", 2},
        {"theta", 10000}, {"rotary", 0}),
    CFG(K_DYNAMIC, "rope_dynamic", "dynamic NTK: theta grown for seq_len past max_pos", 4,
        {"factor", 2}, {"max_pos", 2048}, {"seq_len", 4096}, {"rotary", 0}),
};

const zcat_family zcat_family_rope = {"rope", "Rotary position embeddings", entries,
                                      (int)(sizeof entries / sizeof entries[0])};
