/* Planning and launching the row-normalization kernels (source in
 * norm_src.c): one kernel object per set of arrays a call passes, built
 * on first use and kept for the process; templates pick the rest.
 *
 * CUDA launch shape (see norm_src.c): VEC elements per load (16 bytes when
 * the row length and every pointer allow it), TPR lanes per row aiming at
 * `et` elements per lane, rows kept in registers up to `emax` elements per
 * lane, else streamed. Where a lane's share of a row is at most 32 bytes,
 * the forward loads the weight (and bias) with the row and the backward
 * prefetches the next row; beyond that the registers would cost blocks
 * per multiprocessor (ptxas, sm_90, bf16: rmsnorm forward 40 registers at
 * D = 4096, backward 96; 132 and 168 at D = 16384 and 8192 with them). The
 * backward runs min(row groups, SMs * bps) blocks, each leaving one
 * partial row of the weight (and bias) gradient per row group; the wsum
 * kernel adds them (1024 threads a block: all partial rows in flight).
 *
 * Knobs, read once ($ZMLX_TUNE_<NAME>): NORM_ET, NORM_EMAX (forward),
 * NORM_BWD_ET, NORM_BWD_EMAX, NORM_BWD_BPS, NORM_BWD_PF (0: no prefetch
 * of the next row), NORM_BWD_EVEN (default 1: a block count that divides
 * the row groups, when one is within 1/16 below the most; rmsnorm's
 * backward at 16384 x 4096 bf16 160.8 -> 159.5 us on the H100), NORM_HLATE
 * (default 1: the forward writes x + residual with the output, after the
 * reductions; add_rmsnorm 184.4 -> 183.7 us), and NORM_LN_OWN=1 to run
 * the layernorm forward on these kernels rather than on zmlx_layernorm. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author/red_internal.h"
#include "catalog/norm_kernels.h"
#include "core/array_internal.h"
#include "core/error.h"
#include "kernel/kernel_internal.h"

typedef struct nrm_tuning {
  int et, emax, bwd_et, bwd_emax, bwd_bps, bwd_pf, bwd_even, ln_own, hlate;
} nrm_tuning;

static nrm_tuning tuning = {.et = 16, .emax = 64, .bwd_et = 16, .bwd_emax = 16, .bwd_bps = 2,
                             .bwd_pf = 1, .bwd_even = 1, .hlate = 1};
static pthread_once_t tuning_once = PTHREAD_ONCE_INIT;

static void knob(const char *name, int *v, int lo, int hi) {
  char var[64];
  snprintf(var, sizeof var, "ZMLX_TUNE_%s", name);
  const char *s = zmlx_env(var);
  if (!s || !s[0]) return;
  long n = strtol(s, NULL, 10);
  if (n < lo || n > hi) {
    zmlx_log(ZMLX_LOG_WARN, "%s=%s ignored (%d to %d)", var, s, lo, hi);
    return;
  }
  *v = (int)n;
}

static void read_tuning(void) {
  knob("NORM_ET", &tuning.et, 1, 128);
  knob("NORM_EMAX", &tuning.emax, 1, 256);
  knob("NORM_BWD_ET", &tuning.bwd_et, 1, 128);
  knob("NORM_BWD_EMAX", &tuning.bwd_emax, 1, 256);
  knob("NORM_BWD_BPS", &tuning.bwd_bps, 1, 64);
  knob("NORM_BWD_PF", &tuning.bwd_pf, 0, 1);
  knob("NORM_BWD_EVEN", &tuning.bwd_even, 0, 1);
  knob("NORM_HLATE", &tuning.hlate, 0, 1);
  knob("NORM_LN_OWN", &tuning.ln_own, 0, 1);
}

static const nrm_tuning *tune(void) {
  pthread_once(&tuning_once, read_tuning);
  return &tuning;
}

int zcat_norm_ln_own(void) { return tune()->ln_own; }

/* ---- kernel objects ------------------------------------------------------ */
enum { F_ADD = 1, F_W = 2, F_B = 4, F_DH = 8, F_DW = 16, F_DB = 32 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_kernel *k_fwd[8], *k_bwd[64], *k_wsum[2];
static zcat_norm_dry_fn dry_fn;
static void *dry_ctx;

void zcat_norm_set_dry(zcat_norm_dry_fn fn, void *ctx) {
  dry_fn = fn;
  dry_ctx = ctx;
}

static const char *const sc_names[] = {"eps",   "nrows",   "ncols",  "thr",   "scale",
                                       "seed_lo", "seed_hi", "off_lo", "off_hi"};
static const zmlx_dtype sc_types[] = {ZMLX_DTYPE_F64, ZMLX_DTYPE_I64, ZMLX_DTYPE_I64,
                                      ZMLX_DTYPE_U32, ZMLX_DTYPE_F64, ZMLX_DTYPE_U32,
                                      ZMLX_DTYPE_U32, ZMLX_DTYPE_U32, ZMLX_DTYPE_U32};
enum { N_SC = 9 };

/* The kernel for a set of arrays (flags), made on first use. */
static zmlx_status get_kernel(const char *op, int which, unsigned f, zmlx_kernel **out) {
  const char *ins[6], *outs[3];
  int ni = 0, no = 0;
  zmlx_kernel_desc d = {0};
  char name[32];
  zmlx_kernel **slot;
  if (which == 2) { /* wsum: f is F_DB when there are two sums */
    static const char *const sn[] = {"nparts", "ncols"};
    static const zmlx_dtype st[] = {ZMLX_DTYPE_I64, ZMLX_DTYPE_I64};
    slot = &k_wsum[f ? 1 : 0];
    ins[ni++] = "pa";
    outs[no++] = "oa";
    if (f) ins[ni++] = "pb", outs[no++] = "ob";
    d.n_scalars = 2;
    d.scalar_names = sn;
    d.scalar_dtypes = st;
    snprintf(name, sizeof name, "norm_wsum%u", f ? 2u : 1u);
  } else {
    ins[ni++] = "x";
    if (f & F_ADD) ins[ni++] = "res";
    if (f & F_W) ins[ni++] = "w";
    if (which == 0) {
      slot = &k_fwd[f & 7];
      if (f & F_B) ins[ni++] = "b";
      outs[no++] = "y";
      if (f & F_ADD) outs[no++] = "h";
    } else {
      slot = &k_bwd[f & 63];
      ins[ni++] = "dy";
      if (f & F_DH) ins[ni++] = "dh";
      outs[no++] = "dx";
      if (f & F_DW) outs[no++] = "dwp";
      if (f & F_DB) outs[no++] = "dbp";
    }
    d.n_scalars = N_SC;
    d.scalar_names = sc_names;
    d.scalar_dtypes = sc_types;
    d.header = zcat_norm_header();
    snprintf(name, sizeof name, "norm_%s%u", which ? "bwd" : "fwd", f);
  }
  d.name = name;
  d.n_inputs = ni;
  d.input_names = ins;
  d.n_outputs = no;
  d.output_names = outs;
  pthread_mutex_lock(&lock);
  zmlx_status s = ZMLX_STATUS_OK;
  if (!*slot) {
    /* The forward and backward bodies start with the shared loads. */
    char *src = NULL;
    if (which != 2) {
      const char *a = zcat_norm_loads(), *b = which ? zcat_norm_bwd_body() : zcat_norm_fwd_body();
      size_t len = strlen(a) + strlen(b) + 1;
      src = malloc(len);
      if (src) snprintf(src, len, "%s%s", a, b);
    }
    d.source = which == 2 ? zcat_norm_wsum_body() : src;
    if (d.source)
      s = zmlx_kernel_create(&d, slot);
    else
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, name, "out of host memory");
    free(src);
  }
  *out = *slot;
  pthread_mutex_unlock(&lock);
  return s ? zmlx_fail_wrap(s, op) : s;
}

void zcat_norm_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < 8; i++) zmlx_kernel_destroy(k_fwd[i]), k_fwd[i] = NULL;
  for (int i = 0; i < 64; i++) zmlx_kernel_destroy(k_bwd[i]), k_bwd[i] = NULL;
  for (int i = 0; i < 2; i++) zmlx_kernel_destroy(k_wsum[i]), k_wsum[i] = NULL;
  pthread_mutex_unlock(&lock);
}

/* ---- launch plans ------------------------------------------------------- */
typedef struct nrm_plan {
  int cuda, vec, tpr, rpb, nch, regs, quad;
  int few; /* a lane's share of a row, as stored, fits in 32 bytes */
} nrm_plan;

static int imax(int a, int b) { return a > b ? a : b; }

/* Lanes per row and vectors per lane for rows of D elements of esize
 * bytes. */
static void plan_rows(int64_t D, size_t esize, int f64, int bwd, nrm_plan *p) {
  const nrm_tuning *t = tune();
  int et = bwd ? t->bwd_et : t->et, emax = bwd ? t->bwd_emax : t->emax;
  if (f64) et = imax(1, et / 2), emax = imax(1, emax / 2); /* twice the registers */
  int64_t nv = D / p->vec;
  int nch_t = imax(1, et / p->vec), nch_max = imax(1, emax / p->vec);
  p->tpr = zr_pow2_clamp((nv + nch_t - 1) / nch_t, 1, 256);
  int64_t nch = (nv + p->tpr - 1) / p->tpr;
  p->regs = nch <= nch_max;
  /* Streamed rows: half the register budget in loads per pass. */
  p->nch = p->regs ? (int)nch : imax(1, emax / 2 / p->vec);
  if (!p->regs) p->tpr = 256;
  p->rpb = p->tpr >= 128 ? 1 : 128 / p->tpr;
  p->quad = D % 4 == 0 && p->vec % 4 == 0;
  p->few = p->regs && (size_t)p->nch * (size_t)p->vec * esize <= 32;
}

/* The widest VEC for rows of D elements and these (contiguous) arrays. */
static int pick_vec(int64_t D, int n, zmlx_array *const *a) {
  void *ptrs[12];
  size_t sizes[12];
  int np = 0;
  for (int i = 0; i < n && np < 12; i++)
    if (a[i]) {
      ptrs[np] = zmlx_array_data(a[i]);
      sizes[np++] = zmlx_dtype_size(zmlx_array_dtype(a[i]));
    }
  return zr_vec_for(sizes[0], 1, &D, np, ptrs, sizes);
}

typedef struct nrm_tmpl {
  zmlx_template_arg t[ZK_MAX_TEMPLATES];
  int n;
} nrm_tmpl;

static void tadd(nrm_tmpl *t, const char *name, int64_t v) {
  /* The backward passes 15 of ZK_MAX_TEMPLATES (16); more would be a bug here. */
  if (t->n < ZK_MAX_TEMPLATES) t->t[t->n++] = (zmlx_template_arg){name, ZMLX_TEMPLATE_INT, v};
}

static void plan_templates(const nrm_plan *p, nrm_tmpl *t) {
  if (!p->cuda) return;
  tadd(t, "VEC", p->vec);
  tadd(t, "TPR", p->tpr);
  tadd(t, "RPB", p->rpb);
  tadd(t, "NCH", p->nch);
  tadd(t, "REGS", p->regs);
  tadd(t, "QUAD", p->quad);
}

static void job_scalars(const zcat_norm_job *j, int64_t rows, int64_t D, double *sc) {
  double p = j->drop ? j->p : 0;
  double thr = p >= 1 ? 16777216.0 : ceil(p * 16777216.0);
  double scale = j->drop && p < 1 ? 1.0 / (1.0 - p) : 0;
  double v[N_SC] = {j->eps, (double)rows, (double)D, thr, scale, (double)(uint32_t)j->seed,
                    (double)(uint32_t)(j->seed >> 32), (double)(uint32_t)j->offset,
                    (double)(uint32_t)(j->offset >> 32)};
  memcpy(sc, v, sizeof v);
}

static zmlx_status launch(zmlx_kernel *k, int n_in, zmlx_array **in, zmlx_launch_config *cfg,
                          zmlx_array **out, int n_out) {
  zmlx_dtype dt[3];
  int nd[3];
  int64_t shapes[3][ZMLX_MAX_DIMS];
  const int64_t *sp[3];
  for (int i = 0; i < n_out; i++) {
    dt[i] = zmlx_array_dtype(out[i]);
    nd[i] = zmlx_array_ndim(out[i]);
    for (int d = 0; d < nd[i]; d++) shapes[i][d] = zmlx_array_dim(out[i], d);
    sp[i] = shapes[i];
  }
  cfg->output_dtypes = dt;
  cfg->output_ndims = nd;
  cfg->output_shapes = sp;
  if (dry_fn) return dry_fn(dry_ctx, k, n_in, in, cfg, n_out, out);
  return zk_launch(k, n_in, in, cfg, out, ZK_OUTPUTS_GIVEN);
}

/* Contiguous versions of the job's arrays (NULL stays NULL). */
typedef struct nrm_arrays {
  zmlx_array *x, *res, *w, *b, *dy, *dh;
} nrm_arrays;

static void arrays_release(nrm_arrays *a) {
  zmlx_array *all[6] = {a->x, a->res, a->w, a->b, a->dy, a->dh};
  for (int i = 0; i < 6; i++) zmlx_array_release(all[i]);
  memset(a, 0, sizeof *a);
}

static zmlx_status arrays_make(const zcat_norm_job *j, nrm_arrays *a) {
  zmlx_array *src[6] = {j->x, j->res, j->w, j->b, j->dy, j->dh};
  zmlx_array **dst[6] = {&a->x, &a->res, &a->w, &a->b, &a->dy, &a->dh};
  memset(a, 0, sizeof *a);
  for (int i = 0; i < 6; i++)
    if (src[i]) {
      zmlx_status s = zmlx_array_contiguous(src[i], dst[i]);
      if (s) {
        arrays_release(a);
        return zmlx_fail_wrap(s, j->op);
      }
    }
  return ZMLX_STATUS_OK;
}

static zmlx_status new_like(const char *op, zmlx_array *x, zmlx_dtype t, int nd,
                            const int64_t *shape, zmlx_array **out) {
  zmlx_status s = zmlx_array_empty(t, nd, shape, zmlx_array_device(x), out);
  return s ? zmlx_fail_wrap(s, op) : s;
}

static void shape_of(const zmlx_array *a, int *nd, int64_t *shape) {
  *nd = zmlx_array_ndim(a);
  for (int d = 0; d < *nd; d++) shape[d] = zmlx_array_dim(a, d);
}

static int is_cuda(const zmlx_array *x) {
  return dry_fn || zmlx_array_device(x).type == ZMLX_DEVICE_CUDA;
}

static zmlx_status check_len(const char *op, int64_t D) {
  if (D <= INT32_MAX / 2) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "rows of %lld elements are too long (at most %d)",
                   (long long)D, INT32_MAX / 2);
}

/* ---- forward ------------------------------------------------------------ */
zmlx_status zcat_norm_forward(const zcat_norm_job *j, zmlx_array **y, zmlx_array **h) {
  int nd;
  int64_t shape[ZMLX_MAX_DIMS];
  shape_of(j->x, &nd, shape);
  zmlx_dtype t = zmlx_array_dtype(j->x);
  int64_t D = shape[nd - 1], n = zmlx_array_numel(j->x), rows = D ? n / D : 0;
  ZMLX_TRY(check_len(j->op, D));
  zmlx_array *out[2] = {NULL, NULL};
  zmlx_status s = new_like(j->op, j->x, t, nd, shape, &out[0]);
  if (!s && j->res) s = new_like(j->op, j->x, t, nd, shape, &out[1]);
  nrm_arrays a = {0};
  if (!s && n > 0) s = arrays_make(j, &a);
  if (!s && n > 0) {
    unsigned f = (j->res ? F_ADD : 0) | (j->w ? F_W : 0) | (j->b ? F_B : 0);
    zmlx_kernel *k = NULL;
    s = get_kernel(j->op, 0, f, &k);
    zmlx_array *in[4];
    int ni = 0;
    in[ni++] = a.x;
    if (a.res) in[ni++] = a.res;
    if (a.w) in[ni++] = a.w;
    if (a.b) in[ni++] = a.b;
    nrm_plan p = {.cuda = is_cuda(j->x)};
    nrm_tmpl tm = {.n = 0};
    int f64 = t == ZMLX_DTYPE_F64;
    tadd(&tm, "F64", f64);
    tadd(&tm, "LN", j->ln);
    tadd(&tm, "ADD", j->res != NULL);
    tadd(&tm, "HAS_W", j->w != NULL);
    tadd(&tm, "HAS_B", j->b != NULL);
    tadd(&tm, "DROP", j->drop);
    zmlx_launch_config cfg = {.n_scalars = N_SC};
    double sc[N_SC];
    job_scalars(j, rows, D, sc);
    cfg.scalars = sc;
    if (p.cuda) {
      zmlx_array *all[6] = {a.x, a.res, a.w, a.b, out[0], out[1]};
      p.vec = pick_vec(D, 6, all);
      plan_rows(D, zmlx_dtype_size(t), f64, 0, &p);
      cfg.block[0] = p.tpr * p.rpb;
      cfg.grid[0] = (rows + p.rpb - 1) / p.rpb * cfg.block[0];
    } else {
      cfg.grid[0] = rows;
    }
    cfg.grid[1] = cfg.grid[2] = 1;
    plan_templates(&p, &tm);
    /* The weight and bias loaded with the row, when that costs few registers. */
    if (p.cuda) tadd(&tm, "EARLY", p.few);
    if (p.cuda) tadd(&tm, "HLATE", tune()->hlate);
    cfg.n_templates = tm.n;
    cfg.templates = tm.t;
    if (!s) s = launch(k, ni, in, &cfg, out, j->res ? 2 : 1);
    if (s) s = zmlx_fail_wrap(s, j->op);
  }
  arrays_release(&a);
  if (s) {
    zmlx_array_release(out[0]);
    zmlx_array_release(out[1]);
    return s;
  }
  *y = out[0];
  if (j->res) *h = out[1];
  return ZMLX_STATUS_OK;
}

/* ---- backward ----------------------------------------------------------- */
/* dw (and db) from nparts partial rows. */
static zmlx_status wsum(const zcat_norm_job *j, zmlx_array *pa, zmlx_array *pb, int64_t D,
                        zmlx_array **oa, zmlx_array **ob) {
  zmlx_kernel *k = NULL;
  ZMLX_TRY(get_kernel(j->op, 2, pb ? 1u : 0u, &k));
  zmlx_dtype t = zmlx_array_dtype(j->x);
  zmlx_array *out[2] = {NULL, NULL}, *in[2] = {pa, pb};
  zmlx_status s = new_like(j->op, j->x, t, 1, &D, &out[0]);
  if (!s && pb) s = new_like(j->op, j->x, t, 1, &D, &out[1]);
  double sc[2] = {(double)zmlx_array_dim(pa, 0), (double)D};
  zmlx_template_arg two = {"TWO", ZMLX_TEMPLATE_BOOL, pb != NULL};
  zmlx_launch_config cfg = {.n_scalars = 2, .scalars = sc, .grid = {D, 1, 1}, .n_templates = 1,
                            .templates = &two};
  if (is_cuda(j->x)) {
    cfg.block[0] = 1024;
    cfg.grid[0] = (D + 31) / 32 * 1024;
  }
  if (!s) s = launch(k, pb ? 2 : 1, in, &cfg, out, pb ? 2 : 1);
  if (s) {
    zmlx_array_release(out[0]);
    zmlx_array_release(out[1]);
    return zmlx_fail_wrap(s, j->op);
  }
  *oa = out[0];
  if (pb) *ob = out[1];
  return ZMLX_STATUS_OK;
}

zmlx_status zcat_norm_backward(const zcat_norm_job *j, zmlx_array **dx, zmlx_array **dw,
                               zmlx_array **db) {
  int nd;
  int64_t shape[ZMLX_MAX_DIMS];
  shape_of(j->x, &nd, shape);
  zmlx_dtype t = zmlx_array_dtype(j->x);
  int f64 = t == ZMLX_DTYPE_F64;
  int64_t D = shape[nd - 1], n = zmlx_array_numel(j->x), rows = D ? n / D : 0;
  int want_dw = dw && j->w, want_db = db && j->b;
  ZMLX_TRY(check_len(j->op, D));
  zmlx_array *gx = NULL, *gw = NULL, *gb = NULL, *part[2] = {NULL, NULL};
  zmlx_status s = new_like(j->op, j->x, t, nd, shape, &gx);
  nrm_arrays a = {0};
  if (!s && n == 0) {
    /* No rows: the gradients of weight and bias are sums of nothing. */
    if (want_dw) s = zmlx_array_zeros(t, 1, &D, zmlx_array_device(j->x), &gw);
    if (!s && want_db) s = zmlx_array_zeros(t, 1, &D, zmlx_array_device(j->x), &gb);
    if (s) s = zmlx_fail_wrap(s, j->op);
  } else if (!s) {
    s = arrays_make(j, &a);
    nrm_plan p = {.cuda = is_cuda(j->x)};
    int64_t parts;
    zmlx_launch_config cfg = {.n_scalars = N_SC};
    zmlx_array *in[5];
    int ni = 0;
    in[ni++] = a.x;
    if (a.res) in[ni++] = a.res;
    if (a.w) in[ni++] = a.w;
    in[ni++] = a.dy;
    if (a.dh) in[ni++] = a.dh;
    if (p.cuda && !s) {
      zmlx_array *all[6] = {a.x, a.res, a.w, a.dy, a.dh, gx};
      p.vec = pick_vec(D, 6, all);
      plan_rows(D, zmlx_dtype_size(t), f64, 1, &p);
      int64_t groups = (rows + p.rpb - 1) / p.rpb;
      /* Streamed rows keep fewer registers and have no prefetch: twice
       * the blocks. */
      int64_t most = (int64_t)zr_device_sms(zmlx_array_device(j->x)) * tune()->bwd_bps *
                     (p.regs ? 1 : 2);
      int64_t blocks = groups < most ? groups : most;
      /* EVEN: rows are dealt round-robin, so unless the blocks divide
       * them a few blocks take one more row at the end, alone; a divisor
       * a little below `most` has no such tail. */
      for (int64_t b = blocks; tune()->bwd_even && blocks == most && b > most - most / 16; b--)
        if (groups % b == 0) {
          blocks = b;
          break;
        }
      parts = blocks * p.rpb;
      cfg.block[0] = p.tpr * p.rpb;
      cfg.grid[0] = blocks * cfg.block[0];
    } else {
      parts = rows < 32 ? rows : 32;
      cfg.grid[0] = parts;
    }
    cfg.grid[1] = cfg.grid[2] = 1;
    zmlx_dtype acc = f64 ? ZMLX_DTYPE_F64 : ZMLX_DTYPE_F32;
    int64_t pshape[2] = {parts, D};
    if (!s && want_dw) s = new_like(j->op, j->x, acc, 2, pshape, &part[0]);
    if (!s && want_db) s = new_like(j->op, j->x, acc, 2, pshape, &part[1]);
    unsigned f = (j->res ? F_ADD : 0) | (j->w ? F_W : 0) | (j->dh ? F_DH : 0) |
                 (want_dw ? F_DW : 0) | (want_db ? F_DB : 0);
    zmlx_kernel *k = NULL;
    if (!s) s = get_kernel(j->op, 1, f, &k);
    nrm_tmpl tm = {.n = 0};
    tadd(&tm, "F64", f64);
    tadd(&tm, "LN", j->ln);
    tadd(&tm, "ADD", j->res != NULL);
    tadd(&tm, "HAS_W", j->w != NULL);
    tadd(&tm, "HAS_DH", j->dh != NULL);
    tadd(&tm, "WANT_DW", want_dw);
    tadd(&tm, "WANT_DB", want_db);
    tadd(&tm, "DROP", j->drop);
    plan_templates(&p, &tm);
    /* Prefetching the next row, when that costs few registers. */
    if (p.cuda) tadd(&tm, "PF", tune()->bwd_pf && p.few);
    cfg.n_templates = tm.n;
    cfg.templates = tm.t;
    double sc[N_SC];
    job_scalars(j, rows, D, sc);
    cfg.scalars = sc;
    zmlx_array *out[3];
    int no = 0;
    out[no++] = gx;
    if (part[0]) out[no++] = part[0];
    if (part[1]) out[no++] = part[1];
    if (!s) s = launch(k, ni, in, &cfg, out, no);
    if (s) s = zmlx_fail_wrap(s, j->op);
    if (!s && (want_dw || want_db)) {
      zmlx_array *pa = part[0] ? part[0] : part[1], *pb = part[0] ? part[1] : NULL;
      zmlx_array *oa = NULL, *ob = NULL;
      s = wsum(j, pa, pb, D, &oa, &ob);
      if (!s) {
        gw = part[0] ? oa : NULL;
        gb = part[0] ? ob : oa;
      }
    }
  }
  arrays_release(&a);
  zmlx_array_release(part[0]);
  zmlx_array_release(part[1]);
  if (s) {
    zmlx_array_release(gx);
    zmlx_array_release(gw);
    zmlx_array_release(gb);
    return s;
  }
  *dx = gx;
  if (dw) *dw = gw;
  if (db) *db = gb;
  return ZMLX_STATUS_OK;
}
