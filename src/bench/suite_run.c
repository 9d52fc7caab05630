/* One measurement of the suite: an op at one dtype and shape. Inputs and
 * outputs are prepared in as many sets as it takes to defeat the cache;
 * the timer cycles through them; the results of set 0 are then checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/suite.h"
#include "core/error.h"

static const char *op_name = "bench";

typedef struct run_ctx {
  const zbs_op *op;
  void *state;
  int n_in, n_out, sets;
  zmlx_array **in;  /* sets * n_in */
  zmlx_array **out; /* sets * n_out */
} run_ctx;

static zmlx_status call_op(void *p, int rotation) {
  run_ctx *c = p;
  return c->op->impl->run(c->state, c->op, c->in + (size_t)rotation * c->n_in,
                          c->out + (size_t)rotation * c->n_out);
}

/* One array of a layout: inputs random normal (seeded), outputs zeros, so
 * that no timed call pays for first-touching fresh host pages. */
static zmlx_status make_array(char layout, const zbs_config *cfg, uint64_t seed, int is_input,
                              zmlx_array **out) {
  int64_t shape[3] = {cfg->rows, cfg->cols, 1};
  int ndim = 2;
  zmlx_dtype t = layout == 'i' ? ZMLX_DTYPE_I64 : cfg->dtype;
  if (layout == 't') shape[0] = cfg->cols, shape[1] = cfg->rows;
  if (layout == 'r') shape[0] = cfg->cols, ndim = 1;
  if (layout == 'c') ndim = is_input ? 2 : 1, shape[1] = 1;
  if (layout == 'i') ndim = 1;
  if (layout == 'b') {
    int64_t k = zbs_mid_inner(cfg->rows);
    shape[0] = cfg->rows / k, shape[2] = k, ndim = 3;
  }
  zmlx_array *a;
  if (is_input)
    ZMLX_TRY(zmlx_array_random_normal(t, ndim, shape, seed, 0.0, 1.0, cfg->dev, &a));
  else
    ZMLX_TRY(zmlx_array_zeros(t, ndim, shape, cfg->dev, &a));
  if (layout != 't') {
    *out = a;
    return ZMLX_STATUS_OK;
  }
  zmlx_status s = zmlx_array_transpose(a, 0, 1, out);
  zmlx_array_release(a);
  return s;
}

static zmlx_status make_sets(run_ctx *c, const zbs_config *cfg) {
  c->in = calloc((size_t)c->sets * c->n_in + 1, sizeof *c->in);
  c->out = calloc((size_t)c->sets * c->n_out + 1, sizeof *c->out);
  if (!c->in || !c->out) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op_name, "out of host memory");
  for (int r = 0; r < c->sets; r++) {
    for (int i = 0; i < c->n_in; i++)
      ZMLX_TRY(make_array(c->op->inputs[i], cfg, 1000u * (uint64_t)r + (uint64_t)i + 1, 1,
                          &c->in[(size_t)r * c->n_in + i]));
    for (int j = 0; j < c->n_out; j++)
      ZMLX_TRY(make_array(c->op->outputs[j], cfg, 0, 0, &c->out[(size_t)r * c->n_out + j]));
  }
  return ZMLX_STATUS_OK;
}

static void free_sets(run_ctx *c) {
  for (size_t i = 0; c->in && i < (size_t)c->sets * c->n_in; i++) zmlx_array_release(c->in[i]);
  for (size_t i = 0; c->out && i < (size_t)c->sets * c->n_out; i++) zmlx_array_release(c->out[i]);
  free(c->in);
  free(c->out);
}

static zmlx_status validate(const zbs_op *op, const zbs_config *cfg) {
  size_t n_in = strlen(op->inputs), n_out = strlen(op->outputs);
  if (n_in > ZBS_MAX_IO || n_out < 1 || n_out > ZBS_MAX_IO ||
      strspn(op->inputs, "mtbrc") != n_in || strspn(op->outputs, "mrci") != n_out)
    return zmlx_fail(ZMLX_STATUS_INTERNAL, op_name, "op %s: bad layouts '%s' -> '%s'", op->name,
                     op->inputs, op->outputs);
  if (cfg->rows < 1 || cfg->cols < 1)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op_name, "shape %lldx%lld: both must be >= 1",
                     (long long)cfg->rows, (long long)cfg->cols);
  zmlx_dtype t = cfg->dtype;
  if (t != ZMLX_DTYPE_F32 && t != ZMLX_DTYPE_F64 && t != ZMLX_DTYPE_F16 && t != ZMLX_DTYPE_BF16)
    return zmlx_fail(ZMLX_STATUS_DTYPE_UNSUPPORTED, op_name,
                     "dtype %s: the suite runs f32, f64, f16 and bf16", zmlx_dtype_name(t));
  return ZMLX_STATUS_OK;
}

static void fill_row(const zbs_op *op, const zbs_config *cfg, const zmlx_bench_result *res,
                     double bytes, int sets, zmlx_bench_row *row) {
  snprintf(row->op, sizeof row->op, "%s", op->name);
  snprintf(row->dtype, sizeof row->dtype, "%s", zmlx_dtype_name(cfg->dtype));
  zbs_shape_text(op, cfg->rows, cfg->cols, row->shape, sizeof row->shape);
  snprintf(row->impl, sizeof row->impl, "zmlx");
  row->us = res->median_us;
  row->min_us = res->min_us;
  row->p10_us = res->p10_us;
  row->p90_us = res->p90_us;
  row->first_ms = res->first_call_ms;
  row->samples = res->samples;
  row->rotations = sets;
  row->bytes = bytes;
  row->gbps = zmlx_bench_gbps(bytes, res->median_us);
  if (cfg->copy_gbps > 0) row->pct_of_copy = 100.0 * row->gbps / cfg->copy_gbps;
  if (op->flops) row->tflops = op->flops(cfg->rows, cfg->cols) / (res->median_us * 1e6);
}

static zmlx_status measure(run_ctx *c, const zbs_config *cfg, zmlx_bench_row *row, int *wrong) {
  const zbs_op *op = c->op;
  double bytes = 0;
  for (int i = 0; i < c->n_in; i++) bytes += zbs_layout_bytes(op->inputs[i], cfg->rows, cfg->cols, cfg->dtype);
  for (int j = 0; j < c->n_out; j++) bytes += zbs_layout_bytes(op->outputs[j], cfg->rows, cfg->cols, cfg->dtype);
  c->sets = zmlx_bench_rotations(cfg->dev, (uint64_t)bytes, cfg->max_rotations > 0 ? cfg->max_rotations : 64);
  ZMLX_TRY(make_sets(c, cfg));
  ZMLX_TRY(op->impl->create(op, cfg->dtype, &c->state));
  zmlx_bench_options o = cfg->timing;
  o.rotations = c->sets;
  zmlx_bench_result res;
  ZMLX_TRY(zmlx_bench_time(cfg->dev, call_op, c, &o, &res));
  fill_row(op, cfg, &res, bytes, c->sets, row);
  if (!cfg->check) return ZMLX_STATUS_OK;
  char note[sizeof row->note];
  ZMLX_TRY(zbs_check(op, cfg->rows, cfg->cols, c->in, c->out, &row->err, note, sizeof note));
  double tol = zbs_tolerance(cfg->dtype);
  if (!(row->err <= tol) && !isnan(row->err)) {
    *wrong = 1;
    snprintf(row->note, sizeof row->note, "WRONG RESULTS: error %.3g exceeds %.3g%s%s", row->err,
             tol, note[0] ? "; " : "", note);
  } else {
    snprintf(row->note, sizeof row->note, "%s", note);
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zbs_run(const zbs_op *op, const zbs_config *cfg, zmlx_bench_row *row, int *wrong) {
  if (!op || !cfg || !row || !wrong)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op_name, "NULL argument");
  zmlx_bench_row_init(row);
  *wrong = 0;
  ZMLX_TRY(validate(op, cfg));
  run_ctx c = {.op = op, .n_in = (int)strlen(op->inputs), .n_out = (int)strlen(op->outputs)};
  zmlx_status s = measure(&c, cfg, row, wrong);
  if (s) {
    char what[96], shape[48];
    zbs_shape_text(op, cfg->rows, cfg->cols, shape, sizeof shape);
    snprintf(what, sizeof what, "%s %s %s", op->name, zmlx_dtype_name(cfg->dtype), shape);
    zmlx_fail_wrap(s, what);
  }
  if (c.state) op->impl->destroy(c.state);
  free_sets(&c);
  return s;
}
