/* Ready-made scans (cumsum, cumprod, logcumsumexp), built on zmlx_scan
 * and kept for the process. */
#include <pthread.h>
#include <string.h>

#include "author/red_internal.h"
#include "core/error.h"

/* log(exp(a) + exp(b)) without overflow; NaN propagates. */
static const char lse_header[] =
    "ZMLX_FN compute_t zr_logaddexp(const compute_t a, const compute_t b) {\n"
    "  if (a != a || b != b) return a + b;\n"
    "  const compute_t m = a > b ? a : b, d = a > b ? b - a : a - b;\n"
    "  if (m == -INFINITY || m == INFINITY) return m;\n"
    "  return m + zr_log1p(zr_exp(d));\n"
    "}\n";

enum { OP_CUMSUM, OP_CUMPROD, OP_LOGCUMSUMEXP, N_OPS };

static const zmlx_scan_desc descs[N_OPS] = {
    [OP_CUMSUM] = {.name = "cumsum", .init = "acc = 0;", .update = "acc += x;",
                   .combine = "acc += other;"},
    [OP_CUMPROD] = {.name = "cumprod", .init = "acc = 1;", .update = "acc *= x;",
                    .combine = "acc *= other;"},
    [OP_LOGCUMSUMEXP] = {.name = "logcumsumexp", .header = lse_header, .init = "acc = -INFINITY;",
                         .update = "acc = zr_logaddexp(acc, x);",
                         .combine = "acc = zr_logaddexp(acc, other);"},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zmlx_scan *ops[N_OPS];

void zk_scan_ops_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < N_OPS; i++) {
    zmlx_scan_destroy(ops[i]);
    ops[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

static zmlx_status get_op(int which, zmlx_scan **k) {
  pthread_mutex_lock(&lock);
  zmlx_status s = ops[which] ? ZMLX_STATUS_OK : zmlx_scan_create(&descs[which], &ops[which]);
  *k = ops[which];
  pthread_mutex_unlock(&lock);
  return s;
}

zmlx_status zr_scan_op(const char *name, zmlx_scan **k) {
  for (int i = 0; i < N_OPS; i++)
    if (!strcmp(descs[i].name, name)) return get_op(i, k);
  return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "scan", "no ready-made scan '%s'", name);
}

static zmlx_status run_op(int which, zmlx_array *x, int axis, zmlx_array **out) {
  zmlx_scan *k;
  ZMLX_TRY(get_op(which, &k));
  return zmlx_scan_launch(k, x, axis, 0, out);
}

zmlx_status zmlx_cumsum(zmlx_array *x, int axis, zmlx_array **out) {
  return run_op(OP_CUMSUM, x, axis, out);
}
zmlx_status zmlx_cumprod(zmlx_array *x, int axis, zmlx_array **out) {
  return run_op(OP_CUMPROD, x, axis, out);
}
zmlx_status zmlx_logcumsumexp(zmlx_array *x, int axis, zmlx_array **out) {
  return run_op(OP_LOGCUMSUMEXP, x, axis, out);
}
