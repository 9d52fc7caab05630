/* Ready-made map-reductions (softmax, log-softmax, layernorm), built on
 * zmlx_map_reduce and kept for the process. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

/* Online softmax: the running maximum m and the sum s of exp(x - m). An
 * -inf element adds nothing; a NaN makes the sum NaN. */
static const char sm_header[] = "typedef struct zr_sm_acc { compute_t m, s; } zr_sm_acc;\n";
static const char sm_init[] = "acc.m = -INFINITY; acc.s = 0;";
static const char sm_update[] =
    "if (x > acc.m) { acc.s = acc.s * zr_exp(acc.m - x); acc.m = x; }\n"
    /* One shared exp for both cases keeps the warp on one path. */
    "if (x > -INFINITY) acc.s += zr_exp(x - acc.m);\n"
    "else if (x != x) acc.s = x;";
/* A vector at a time: its maximum rescales the sum at most once, and each
 * element costs one exponential and no branch. fmax skips NaN, so a NaN
 * reaches the sum through its own exponential; while every element so far
 * is -inf the sum stays 0 unless a NaN arrives. */
static const char sm_update_many[] =
    "compute_t mx = xs[0];\n"
    "for (int i = 1; i < nx; i++) mx = mx > xs[i] ? mx : xs[i];\n"
    "if (mx > acc.m) { acc.s = acc.s * zr_exp(acc.m - mx); acc.m = mx; }\n"
    "if (acc.m > -INFINITY) {\n"
    "  for (int i = 0; i < nx; i++) acc.s += zr_exp(xs[i] - acc.m);\n"
    "} else {\n"
    "  for (int i = 0; i < nx; i++) if (xs[i] != xs[i]) acc.s = xs[i];\n"
    "}";
static const char sm_combine[] =
    "const compute_t m = acc.m > other.m ? acc.m : other.m;\n"
    "if (m > -INFINITY) acc.s = acc.s * zr_exp(acc.m - m) + other.s * zr_exp(other.m - m);\n"
    "else acc.s += other.s;\n"
    "acc.m = m;";

/* Shifted sums: s and q sum x - k and its square, k being the first
 * element an accumulator saw (a data value near the mean, so q/n - (s/n)^2
 * keeps its digits); no division per element. combine moves the other
 * partial onto this one's shift: dk = other.k - acc.k is exact for nearby
 * values, and nothing is re-centred on a rounded mean. */
static const char ln_header[] = "typedef struct zr_ln_acc { compute_t k, s, q, n; } zr_ln_acc;\n";
static const char ln_init[] = "acc.k = 0; acc.s = 0; acc.q = 0; acc.n = 0;";
static const char ln_update[] =
    "if (acc.n == 0) acc.k = x;\n"
    "const compute_t d = x - acc.k;\n"
    "acc.s += d;\n"
    "acc.q += d * d;\n"
    "acc.n += 1;";
static const char ln_update_many[] =
    "if (acc.n == 0) acc.k = xs[0];\n"
    "for (int i = 0; i < nx; i++) {\n"
    "  const compute_t d = xs[i] - acc.k;\n"
    "  acc.s += d;\n"
    "  acc.q += d * d;\n"
    "}\n"
    "acc.n += nx;";
static const char ln_combine[] =
    "if (acc.n == 0) {\n"
    "  acc = other;\n"
    "} else if (other.n > 0) {\n"
    "  const compute_t dk = other.k - acc.k;\n"
    "  acc.q += other.q + dk * (2 * other.s + other.n * dk);\n"
    "  acc.s += other.s + other.n * dk;\n"
    "  acc.n += other.n;\n"
    "}";
/* s becomes the mean's offset from k, q 1 / sqrt(var + eps) (biased
 * variance, like PyTorch); the write subtracts k, then the small offset. */
static const char ln_finalize[] =
    "const compute_t m = acc.s / (compute_t)n, var = acc.q / (compute_t)n - m * m;\n"
    "acc.s = m;\n"
    "acc.q = 1 / zr_sqrt((var > 0 ? var : 0) + eps);";

/* Two-pass forms for rows held on chip (read once either way): the first
 * pass's result (`pre`) makes the accumulators plain sums, whose group
 * reduction costs a shuffle and an add per step instead of the online
 * forms' rescaling. Streamed rows keep the online forms (two reads, not
 * three). NaN: the maximum pass keeps a NaN, so every exp(x - pre) is NaN. */
#define MAX_PASS                                                                  \
  .pre_init = "acc = -INFINITY;", .pre_update = "if (x > acc || x != x) acc = x;", \
  .pre_combine = "if (other > acc || other != other) acc = other;"
/* A 16-bit output rounds away far more than folding the maximum into the
 * log-sum first loses (ulp(max + log-sum) in f32), and saves a subtraction
 * per element; wider outputs keep (x - max) - log-sum. */
static const char lsm2_finalize[] = "acc = zr_log(acc) + (sizeof(out_t) == 2 ? pre : 0);";
static const char lsm2_write[] = "out = sizeof(out_t) == 2 ? x - acc : (x - pre) - acc;";
static const char sm2_update_many[] = "for (int i = 0; i < nx; i++) acc += zr_exp(xs[i] - pre);";
/* The mean first (`pre`, rounded), then shifted sums around it as the
 * online form has them around its first element: x - pre is exact for
 * values near the mean, s/n recovers what rounding the mean lost, and the
 * shift is the same in every lane, so combining is two adds. */
#define MEAN_PASS                                                                 \
  .pre_init = "acc = 0;", .pre_update = "acc += x;", .pre_combine = "acc += other;", \
  .pre_finalize = "acc = acc / (compute_t)n;"
static const char ln2_header[] = "typedef struct zr_ln2_acc { compute_t s, q; } zr_ln2_acc;\n";
static const char ln2_update_many[] =
    "for (int i = 0; i < nx; i++) { const compute_t d = xs[i] - pre; acc.s += d; acc.q += d * d; }";
/* s becomes the mean's offset from pre, q 1 / sqrt(var + eps). */
static const char ln2_finalize[] =
    "const compute_t m = acc.s / (compute_t)n, var = acc.q / (compute_t)n - m * m;\n"
    "acc.s = m;\n"
    "acc.q = 1 / zr_sqrt((var > 0 ? var : 0) + eps);";

enum { OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LN, OP_LN_W, OP_LN_B, OP_LN_WB, N_ONLINE,
       /* the same ops, on-chip forms */
       OP_SOFTMAX2 = N_ONLINE, OP_LOG_SOFTMAX2, OP_LN2, OP_LN2_W, OP_LN2_B, OP_LN2_WB, N_OPS };

static const char *const w_only[] = {"weight"}, *const b_only[] = {"bias"},
                         *const wb[] = {"weight", "bias"}, *const eps_name[] = {"eps"};

#define LN_RULE(MASK) .backward = zr_rule_layernorm, .backward_ctx = (void *)(intptr_t)(MASK)
#define LAYERNORM(NAME, NP, PARAMS, WRITE, MASK)                                         \
  {.name = NAME, .header = ln_header, .acc_type = "zr_ln_acc", .init = ln_init, LN_RULE(MASK), \
   .update = ln_update, .update_many = ln_update_many, .combine = ln_combine, .finalize = ln_finalize, .write = WRITE,  \
   .n_params = NP, .param_names = PARAMS, .n_scalars = 1, .scalar_names = eps_name}

#define LAYERNORM2(NAME, NP, PARAMS, WRITE, MASK)                                        \
  {.name = NAME, LN_RULE(MASK), .header = ln2_header, .acc_type = "zr_ln2_acc", .init = "acc.s = 0; acc.q = 0;", \
   .update = "const compute_t d = x - pre; acc.s += d; acc.q += d * d;",                  \
   .update_many = ln2_update_many, .combine = "acc.s += other.s; acc.q += other.q;",      \
   .finalize = ln2_finalize,                                                              \
   .write = WRITE, .n_params = NP, .param_names = PARAMS, .n_scalars = 1,                 \
   .scalar_names = eps_name, MEAN_PASS}

static const zmlx_map_reduce_desc descs[N_OPS] = {
    [OP_SOFTMAX] = {.name = "softmax", .header = sm_header, .acc_type = "zr_sm_acc",
                    .init = sm_init, .update = sm_update, .update_many = sm_update_many, .combine = sm_combine,
                    .finalize = "acc.s = 1 / acc.s;", .write = "out = zr_exp(x - acc.m) * acc.s;",
                    .backward = zr_rule_softmax},
    [OP_LOG_SOFTMAX] = {.name = "log_softmax", .header = sm_header, .acc_type = "zr_sm_acc",
                        .init = sm_init, .update = sm_update, .update_many = sm_update_many, .combine = sm_combine,
                        .finalize = "acc.s = zr_log(acc.s);", .write = "out = (x - acc.m) - acc.s;",
                        .backward = zr_rule_log_softmax},
    [OP_LN] = LAYERNORM("layernorm", 0, NULL, "out = ((x - acc.k) - acc.s) * acc.q;", 0),
    [OP_LN_W] = LAYERNORM("layernorm_w", 1, w_only, "out = ((x - acc.k) - acc.s) * acc.q * weight;", 1),
    [OP_LN_B] = LAYERNORM("layernorm_b", 1, b_only, "out = ((x - acc.k) - acc.s) * acc.q + bias;", 2),
    [OP_LN_WB] = LAYERNORM("layernorm_wb", 2, wb, "out = ((x - acc.k) - acc.s) * acc.q * weight + bias;", 3),
    [OP_SOFTMAX2] = {.name = "softmax", .init = "acc = 0;", .update = "acc += zr_exp(x - pre);",
                     .update_many = sm2_update_many, .combine = "acc += other;",
                     .finalize = "acc = 1 / acc;", .write = "out = zr_exp(x - pre) * acc;", MAX_PASS,
                     .backward = zr_rule_softmax},
    [OP_LOG_SOFTMAX2] = {.name = "log_softmax", .init = "acc = 0;",
                         .update = "acc += zr_exp(x - pre);", .update_many = sm2_update_many,
                         .combine = "acc += other;", .finalize = lsm2_finalize,
                         .write = lsm2_write, MAX_PASS,
                         .backward = zr_rule_log_softmax},
    [OP_LN2] = LAYERNORM2("layernorm", 0, NULL, "out = ((x - pre) - acc.s) * acc.q;", 0),
    [OP_LN2_W] = LAYERNORM2("layernorm_w", 1, w_only, "out = ((x - pre) - acc.s) * acc.q * weight;", 1),
    [OP_LN2_B] = LAYERNORM2("layernorm_b", 1, b_only, "out = ((x - pre) - acc.s) * acc.q + bias;", 2),
    [OP_LN2_WB] = LAYERNORM2("layernorm_wb", 2, wb, "out = ((x - pre) - acc.s) * acc.q * weight + bias;", 3),
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_map_reduce *ops[N_ONLINE];

void zk_map_reduce_ops_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < N_ONLINE; i++) {
    zmlx_map_reduce_destroy(ops[i]);
    ops[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

/* Online form, with its on-chip twin. */
static zmlx_status get_op(int which, zmlx_map_reduce **k) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!ops[which]) {
    zmlx_map_reduce *twin = NULL;
    s = zmlx_map_reduce_create(&descs[which], &ops[which]);
    if (!s) s = zmlx_map_reduce_create(&descs[which + N_ONLINE], &twin);
    if (!s) zr_map_reduce_set_twin(ops[which], twin);
    if (s) {
      zmlx_map_reduce_destroy(ops[which]);
      ops[which] = NULL;
    }
  }
  *k = ops[which];
  pthread_mutex_unlock(&lock);
  return s;
}

zmlx_status zr_map_reduce_op(const char *name, zmlx_map_reduce **k) {
  for (int i = 0; i < N_ONLINE; i++)
    if (!strcmp(descs[i].name, name)) return get_op(i, k);
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "map_reduce", "no ready-made map_reduce '%s'", name);
}

zmlx_status zmlx_map_reduce_builtin(const char *name, zmlx_map_reduce **out) {
  if (!out || !name)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "map_reduce_builtin", "NULL argument");
  *out = NULL;
  for (int i = 0; i < N_ONLINE; i++)
    if (!strcmp(descs[i].name, name)) return get_op(i, out);
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "map_reduce_builtin",
                   "no ready-made map_reduce '%s' (softmax, log_softmax, layernorm, layernorm_w, "
                   "layernorm_b, layernorm_wb)", name);
}

zmlx_status zmlx_softmax(zmlx_array *x, int axis, zmlx_array **out) {
  zmlx_map_reduce *k;
  ZMLX_TRY(get_op(OP_SOFTMAX, &k));
  return zmlx_map_reduce_launch(k, x, axis, 0, NULL, 0, NULL, out);
}

zmlx_status zmlx_log_softmax(zmlx_array *x, int axis, zmlx_array **out) {
  zmlx_map_reduce *k;
  ZMLX_TRY(get_op(OP_LOG_SOFTMAX, &k));
  return zmlx_map_reduce_launch(k, x, axis, 0, NULL, 0, NULL, out);
}

zmlx_status zmlx_layernorm(zmlx_array *x, zmlx_array *weight, zmlx_array *bias, double eps,
                           zmlx_array **out) {
  int which = weight ? (bias ? OP_LN_WB : OP_LN_W) : (bias ? OP_LN_B : OP_LN);
  zmlx_array *params[2];
  int np = 0;
  if (weight) params[np++] = weight;
  if (bias) params[np++] = bias;
  zmlx_map_reduce *k;
  ZMLX_TRY(get_op(which, &k));
  return zmlx_map_reduce_launch(k, x, -1, np, params, 1, &eps, out);
}
