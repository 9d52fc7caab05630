/* The optimizer family's catalog entries. The ops work in place; the
 * runners take `steps` steps on the harness's inputs and hand the updated
 * arrays back as outputs, and the references take the same steps from
 * PyTorch's formulas (torch.optim.AdamW / SGD, clip_grad_norm_) in f64.
 * The param is rounded to its dtype after every step on the device but
 * not in the reference, hence the bf16/f16 tolerances. Finer multi-step
 * checks with a fresh gradient per step: tests/test_catalog_optim.c. */
#include <math.h>

#include "catalog/registry.h"
#include "core/error.h"
#include "zmlx/catalog_optim.h"

#define BETA1 0.9
#define BETA2 0.999
#define EPS 1e-8

static zmlx_status retain_outs(const zcat_dev_call *c, int n, const int *from) {
  for (int j = 0; j < n; j++) c->out[j] = zmlx_array_retain(c->in[from[j]]);
  return ZMLX_STATUS_OK;
}

/* Params: lr, weight_decay, step, steps. Inputs p [, w], g, m, v. */
static void adamw_ref(const zcat_host_call *c) {
  int master = c->e->n_in == 5, gi = master ? 2 : 1;
  double lr = c->p[0], wd = c->p[1];
  const zcat_tensor *g = &c->in[gi];
  double *p = c->out[master ? 1 : 0].v, *m = c->out[master ? 2 : 1].v, *v = c->out[master ? 3 : 2].v;
  for (int64_t i = 0; i < g->n; i++) {
    p[i] = c->in[master ? 1 : 0].v[i];
    m[i] = c->in[gi + 1].v[i];
    v[i] = c->in[gi + 2].v[i];
  }
  for (int s = 0; s < (int)c->p[3]; s++) {
    double t = c->p[2] + s, bc1 = 1 - pow(BETA1, t), bc2 = 1 - pow(BETA2, t);
    for (int64_t i = 0; i < g->n; i++) {
      double gv = g->v[i];
      m[i] += (1 - BETA1) * (gv - m[i]);
      v[i] = BETA2 * v[i] + (1 - BETA2) * gv * gv;
      p[i] = p[i] * (1 - lr * wd) - lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + EPS);
    }
  }
  if (master)
    for (int64_t i = 0; i < g->n; i++) c->out[0].v[i] = p[i];
}

static zmlx_status adamw_run(const zcat_dev_call *c) {
  int master = c->e->n_in == 5, gi = master ? 2 : 1;
  for (int s = 0; s < (int)c->p[3]; s++) {
    zmlx_adamw_config cfg = {c->p[0], BETA1, BETA2, EPS, c->p[1], (int64_t)c->p[2] + s};
    ZMLX_TRY(zmlx_adamw_step(c->in[0], master ? c->in[1] : NULL, c->in[gi], c->in[gi + 1],
                             c->in[gi + 2], &cfg));
  }
  static const int plain[] = {0, 2, 3}, with_master[] = {0, 1, 3, 4};
  return retain_outs(c, master ? 4 : 3, master ? with_master : plain);
}

/* sgd params: lr, momentum, dampening, weight_decay (first = 0: the buffer
 * continues); sgd_nesterov: lr, momentum, weight_decay (first step
 * creates the buffer). Inputs p, g, b. With `size`, the magnitudes of the
 * same recurrences (every input as |v|, the step added, not subtracted):
 * three steps can take p near 0, and the rounding of each step's p is
 * relative to what p was then. */
static void sgd_steps(const zcat_host_call *c, int size) {
  int nesterov = c->e->kind;
  double lr = c->p[0], mom = c->p[1], damp = nesterov ? 0 : c->p[2];
  double wd = nesterov ? c->p[2] : c->p[3], keep = 1 - damp;
  if (size) lr = fabs(lr), mom = fabs(mom), wd = fabs(wd), keep = fabs(keep);
  double *p = c->out[0].v, *b = c->out[1].v;
  for (int64_t i = 0; i < c->in[0].n; i++) {
    p[i] = size ? fabs(c->in[0].v[i]) : c->in[0].v[i];
    b[i] = size ? fabs(c->in[2].v[i]) : c->in[2].v[i];
  }
  for (int s = 0; s < 3; s++)
    for (int64_t i = 0; i < c->in[0].n; i++) {
      double d = (size ? fabs(c->in[1].v[i]) : c->in[1].v[i]) + wd * p[i];
      if (mom != 0) {
        b[i] = nesterov && s == 0 ? d : mom * b[i] + keep * d;
        d = nesterov ? d + mom * b[i] : b[i];
      }
      p[i] += size ? lr * d : -lr * d;
    }
}

static void sgd_ref(const zcat_host_call *c) { sgd_steps(c, 0); }
static void sgd_size(const zcat_host_call *c) { sgd_steps(c, 1); }

static zmlx_status sgd_run(const zcat_dev_call *c) {
  int nesterov = c->e->kind;
  zmlx_sgd_config cfg = {.lr = c->p[0], .momentum = c->p[1], .dampening = nesterov ? 0 : c->p[2],
                         .weight_decay = nesterov ? c->p[2] : c->p[3], .nesterov = nesterov};
  for (int s = 0; s < 3; s++) {
    cfg.first = nesterov && s == 0;
    ZMLX_TRY(zmlx_sgd_step(c->in[0], NULL, c->in[1], cfg.momentum != 0 ? c->in[2] : NULL, &cfg));
  }
  static const int outs[] = {0, 2};
  return retain_outs(c, 2, outs);
}

static void clip_ref(const zcat_host_call *c) {
  double sum = 0;
  for (int i = 0; i < 2; i++)
    for (int64_t k = 0; k < c->in[i].n; k++) sum += c->in[i].v[k] * c->in[i].v[k];
  double total = sqrt(sum), coef = c->p[0] / (total + 1e-6);
  for (int i = 0; i < 2; i++)
    for (int64_t k = 0; k < c->in[i].n; k++)
      c->out[i].v[k] = coef < 1 ? c->in[i].v[k] * coef : c->in[i].v[k];
  c->out[2].v[0] = total;
}

static zmlx_status clip_run(const zcat_dev_call *c) {
  ZMLX_TRY(zmlx_clip_grad_norm(2, c->in, c->p[0], &c->out[2]));
  static const int outs[] = {0, 1};
  return retain_outs(c, 2, outs);
}

static const char *const step_cases[] = {"-",          "1",          "7",         "4097",
                                         "3x5x33",     "0",          "4x0",       "33x64 ~p",
                                         "9x8 ~m",     "5 step=10 steps=2",
                                         "3x7 weight_decay=0 lr=0.5", NULL};
static const char *const master_cases[] = {"-", "7", "4097", "3x5x33", "0", "33x64 ~w",
                                           "9x8 ~p", "5 step=10 steps=2", NULL};
static const char *const sgd_cases[] = {"-", "7", "4097", "3x5x33", "0", "33x64 ~p", "9x8 ~b",
                                        "5 momentum=0", "6 dampening=0 weight_decay=0", NULL};
static const char *const nesterov_cases[] = {"-", "7", "4097", "3x5x33", "0", "33x64 ~p", NULL};
static const char *const clip_cases[] = {"N=7 3 D=5",         "N=7 3 D=5 max_norm=1e4",
                                         "N=1 D=1",           "N=0 0 D=3",
                                         "N=0 0 D=3 max_norm=0", "N=4097 2 D=3 max_norm=20",
                                         "N=9 4 D=6 ~a",      "N=5 7 D=8 ~b max_norm=0.5", NULL};
static const char *const adamw_bad[] = {"p:3x4 g:3x5 m:3x4 v:3x4 => SHAPE_MISMATCH",
                                        "p:3 g:3 m:3 v:3 step=0 => INVALID_ARGUMENT",
                                        "p:3 g:3 m:3 v:3 lr=-1 => INVALID_ARGUMENT", NULL};
static const char *const sgd_bad[] = {"p:3x4 g:3x4 b:4x3 => SHAPE_MISMATCH",
                                      "p:3 g:3 b:3 momentum=-1 => INVALID_ARGUMENT", NULL};
static const char *const clip_bad[] = {"a:3 b:2x2 max_norm=-1 => INVALID_ARGUMENT", NULL};

#define FLOATS (ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16))
#define STATE(NAME) {NAME, "...", ZCAT_FIXED, -1, 1, .dtype = ZMLX_DTYPE_F32}
#define SQ_STATE(NAME) {NAME, "...", ZCAT_FIXED, 0, 0.5, .dtype = ZMLX_DTYPE_F32}
#define ADAM_PARAMS .n_params = 4, .params = {{"lr", 0.01}, {"weight_decay", 0.1}, {"step", 1}, {"steps", 3}}
/* Three rounded steps of bf16/f16 params against unrounded references. */
#define STEP_TOLS .tol = {[ZMLX_DTYPE_F16] = 4e-3, [ZMLX_DTYPE_BF16] = 3e-2}

static const zcat_entry entries[] = {
    {.name = "adamw", .family = "optim",
     .summary = "AdamW step in place (torch.optim.AdamW), f32 state m, v",
     .api = "zmlx_adamw_step", .n_in = 4, .n_out = 3,
     .in = {{"p", "..."}, {"g", "..."}, STATE("m"), SQ_STATE("v")},
     .out = {{"p", "..."}, {"m", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32},
             {"v", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32}},
     ADAM_PARAMS, .dtypes = FLOATS, .backends = ZCAT_ALL_BACKENDS, STEP_TOLS, .ref = adamw_ref,
     .run = adamw_run, .cases = step_cases, .bad = adamw_bad, .perf = "100000000 steps=1"},
    {.name = "adamw_master", .family = "optim",
     .summary = "AdamW step in place on an f32 master copy; the param gets it rounded",
     .api = "zmlx_adamw_step", .n_in = 5, .n_out = 4,
     .in = {{"p", "..."},
            {"w", "...", ZCAT_FIXED | ZCAT_OPTIONAL, -1, 1, .dtype = ZMLX_DTYPE_F32},
            {"g", "..."}, STATE("m"), SQ_STATE("v")},
     .out = {{"p", "..."}, {"w", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32},
             {"m", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32},
             {"v", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32}},
     ADAM_PARAMS, .dtypes = FLOATS, .backends = ZCAT_ALL_BACKENDS, .ref = adamw_ref,
     .run = adamw_run, .cases = master_cases, .perf = "100000000 steps=1"},
    {.name = "sgd", .family = "optim",
     .summary = "SGD step in place with momentum, dampening, weight decay (torch.optim.SGD)",
     .api = "zmlx_sgd_step", .kind = 0, .n_in = 3, .n_out = 2,
     .in = {{"p", "..."}, {"g", "..."}, STATE("b")},
     .out = {{"p", "..."}, {"b", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32}}, .n_params = 4,
     .params = {{"lr", 0.1}, {"momentum", 0.9}, {"dampening", 0.1}, {"weight_decay", 0.01}},
     .dtypes = FLOATS, .backends = ZCAT_ALL_BACKENDS, STEP_TOLS, .ref = sgd_ref, .run = sgd_run,
     .ref_size = sgd_size, .cases = sgd_cases, .bad = sgd_bad, .perf = "100000000"},
    {.name = "sgd_nesterov", .family = "optim",
     .summary = "SGD step in place, Nesterov momentum, from the step that creates the buffer",
     .api = "zmlx_sgd_step", .kind = 1, .n_in = 3, .n_out = 2,
     .in = {{"p", "..."}, {"g", "..."}, STATE("b")},
     .out = {{"p", "..."}, {"b", "...", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32}}, .n_params = 3,
     .params = {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 0.01}}, .dtypes = FLOATS,
     .backends = ZCAT_ALL_BACKENDS, STEP_TOLS, .ref = sgd_ref, .run = sgd_run,
     .ref_size = sgd_size, .cases = nesterov_cases, .perf = "100000000"},
    {.name = "clip_grad_norm", .family = "optim",
     .summary = "global L2-norm clipping of a list of gradients in place; returns the norm",
     .api = "zmlx_clip_grad_norm", .n_in = 2, .n_out = 3,
     .in = {{"a", "N"}, {"b", "...,D"}},
     .out = {{"a", "N"}, {"b", "...,D"}, {"norm", "", ZCAT_FIXED, .dtype = ZMLX_DTYPE_F32}},
     .n_params = 1, .params = {{"max_norm", 1}}, .dtypes = FLOATS,
     .backends = ZCAT_ALL_BACKENDS, .ref = clip_ref, .run = clip_run, .cases = clip_cases,
     .bad = clip_bad, .perf = "N=50000000 50000 D=1000"},
};

const zcat_family zcat_family_optim = {"optim", "Optimizers", entries,
                                       (int)(sizeof entries / sizeof entries[0])};
