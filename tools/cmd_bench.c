/* zmlx bench: time ZMLX's ops over dtypes and shapes against the copy
 * ceiling of the same run; print a table and write a JSON capsule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/suite.h"
#include "tools/commands.h"
#include "zmlx/zmlx.h"

enum { MAX_LIST = 32 };

typedef struct bench_args {
  const char *device, *json;
  const char *ops[MAX_LIST];
  int n_ops;
  zmlx_dtype dtypes[MAX_LIST];
  int n_dtypes;
  int64_t rows[MAX_LIST], cols[MAX_LIST];
  int n_shapes;
  int iters, warmup, check, list;
  double copy_mib;
  char lists[3][1024]; /* storage for the split --ops, --dtype, --shape */
} bench_args;

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmlx bench [options]\n"
          "  --device D        cpu, cuda or cuda:N (default: $ZMLX_DEVICE, else cuda:0\n"
          "                    when CUDA works, else cpu)\n"
          "  --ops A,B         ops to run (default: all; --list shows them)\n"
          "  --dtype T,U       dtypes (default bf16,f32; f16 and f64 also run)\n"
          "  --shape RxC,...   problem shapes (default 16384x4096 on CUDA, 1024x1024 on cpu)\n"
          "  --iters N         timed samples per measurement (default 100)\n"
          "  --warmup N        untimed calls first (default 10)\n"
          "  --copy-mib N      buffer of the copy ceiling (default 512 on CUDA, 64 on cpu)\n"
          "  --json FILE       write the capsule there ('-': stdout; the table goes to stderr)\n"
          "  --no-check        do not compare results with the host reference\n"
          "  --list            list the ops and exit\n"
          "GB/s = minimal bytes (inputs read once, outputs written once) / median time;\n"
          "%% of copy = of a device-to-device copy measured in the same run.\n");
}

/* Split a comma list in place into items (at most MAX_LIST). */
static int split(char *text, const char **items) {
  int n = 0;
  for (char *tok = strtok(text, ","); tok && n < MAX_LIST; tok = strtok(NULL, ","))
    if (*tok) items[n++] = tok;
  return n;
}

static int parse_shape(const char *text, int64_t *rows, int64_t *cols) {
  char *end;
  long long r = strtoll(text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X')) return 0;
  const char *second = end + 1;
  long long c = strtoll(second, &end, 10);
  if (end == second || *end || r < 1 || c < 1) return 0;
  *rows = r;
  *cols = c;
  return 1;
}

static int parse_lists(bench_args *a, const char *ops, const char *dtypes, const char *shapes) {
  const char *items[MAX_LIST];
  if (ops) {
    snprintf(a->lists[0], sizeof a->lists[0], "%s", ops);
    const char *asked[MAX_LIST];
    int n = split(a->lists[0], asked);
    /* Unknown names are skipped, not fatal: run_all.sh gives the peers the
     * same list, and each side may know ops the other lacks. */
    for (int i = 0; i < n; i++) {
      if (zbs_op_find(asked[i]))
        a->ops[a->n_ops++] = asked[i];
      else
        fprintf(stderr, "zmlx bench: no op '%s' (zmlx bench --list); skipped\n", asked[i]);
    }
    if (a->n_ops == 0) {
      fprintf(stderr, "zmlx bench: no op left to run\n");
      return 0;
    }
  }
  if (dtypes) {
    snprintf(a->lists[1], sizeof a->lists[1], "%s", dtypes);
    a->n_dtypes = split(a->lists[1], items);
    for (int i = 0; i < a->n_dtypes; i++) {
      zmlx_dtype t;
      if (zmlx_dtype_parse(items[i], &t) ||
          (t != ZMLX_DTYPE_BF16 && t != ZMLX_DTYPE_F32 && t != ZMLX_DTYPE_F16 && t != ZMLX_DTYPE_F64)) {
        fprintf(stderr, "zmlx bench: dtype '%s': use bf16, f16, f32 or f64\n", items[i]);
        return 0;
      }
      a->dtypes[i] = t;
    }
  }
  if (shapes) {
    snprintf(a->lists[2], sizeof a->lists[2], "%s", shapes);
    a->n_shapes = split(a->lists[2], items);
    for (int i = 0; i < a->n_shapes; i++)
      if (!parse_shape(items[i], &a->rows[i], &a->cols[i])) {
        fprintf(stderr, "zmlx bench: shape '%s' is not ROWSxCOLS (e.g. 16384x4096)\n", items[i]);
        return 0;
      }
  }
  return 1;
}

static int parse_int(const char *text, int lo, int *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (end == text || *end || v < lo || v > 1000000) return 0;
  *out = (int)v;
  return 1;
}

/* 1: run, 0: exit 0 (help), -1: usage error. */
static int parse_args(int argc, char **argv, bench_args *a) {
  const char *ops = NULL, *dtypes = NULL, *shapes = NULL;
  a->check = 1;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int copy_mib = 0, takes_value = 1, ok = 1;
    if (!strcmp(o, "--device") && v) a->device = v;
    else if (!strcmp(o, "--ops") && v) ops = v;
    else if (!strcmp(o, "--dtype") && v) dtypes = v;
    else if (!strcmp(o, "--shape") && v) shapes = v;
    else if (!strcmp(o, "--json") && v) a->json = v;
    else if (!strcmp(o, "--iters") && v) ok = parse_int(v, 1, &a->iters);
    else if (!strcmp(o, "--warmup") && v) ok = parse_int(v, 1, &a->warmup);
    else if (!strcmp(o, "--copy-mib") && v) ok = parse_int(v, 1, &copy_mib), a->copy_mib = copy_mib;
    else if (!strcmp(o, "--no-check")) a->check = 0, takes_value = 0;
    else if (!strcmp(o, "--list")) a->list = 1, takes_value = 0;
    else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "zmlx bench: unknown option or missing value: %s\n", o);
      usage(stderr);
      return -1;
    }
    if (!ok) {
      fprintf(stderr, "zmlx bench: %s needs a positive integer, not '%s'\n", o, v);
      return -1;
    }
    i += takes_value;
  }
  return parse_lists(a, ops, dtypes, shapes) ? 1 : -1;
}

static void list_ops(void) {
  for (int i = 0; i < zbs_op_count(); i++) {
    const zbs_op *op = zbs_op_at(i);
    printf("  %-16s %s\n", op->name, op->what);
  }
}

/* Defaults that depend on the device. */
static void fill_defaults(bench_args *a, zmlx_device dev) {
  if (a->n_ops == 0)
    while (a->n_ops < zbs_op_count() && a->n_ops < MAX_LIST) {
      a->ops[a->n_ops] = zbs_op_at(a->n_ops)->name;
      a->n_ops++;
    }
  if (a->n_dtypes == 0) {
    a->dtypes[0] = ZMLX_DTYPE_BF16;
    a->dtypes[1] = ZMLX_DTYPE_F32;
    a->n_dtypes = 2;
  }
  if (a->n_shapes == 0) {
    int gpu = dev.type == ZMLX_DEVICE_CUDA;
    a->rows[0] = gpu ? 16384 : 1024;
    a->cols[0] = gpu ? 4096 : 1024;
    a->n_shapes = 1;
  }
}

static void print_value(FILE *f, const char *fmt, double v, int width) {
  if (isfinite(v))
    fprintf(f, fmt, width, v);
  else
    fprintf(f, "%*s", width, "-");
}

static void print_row(FILE *f, const zmlx_bench_row *r) {
  fprintf(f, "%-16s %-6s %-12s", r->op, r->dtype, r->shape);
  print_value(f, "%*.2f", r->us, 11);
  print_value(f, "%*.1f", r->gbps, 9);
  print_value(f, "%*.1f", r->pct_of_copy, 8);
  print_value(f, "%*.1e", r->err, 10);
  print_value(f, "%*.1f", r->first_ms, 10);
  fprintf(f, "%s%s\n", r->note[0] ? "  " : "", r->note);
  fflush(f);
}

static int measure_copy(zmlx_device dev, const bench_args *a, const zmlx_bench_options *t,
                        zmlx_bench_capsule *cap, FILE *f) {
  zmlx_bench_copy copy;
  uint64_t bytes = (uint64_t)(a->copy_mib * 1048576.0);
  zmlx_status s = zmlx_bench_copy_bandwidth(dev, bytes, t, &copy);
  if (s) {
    fprintf(stderr, "zmlx bench: copy ceiling: %s\n", zmlx_error_last());
    return 0;
  }
  zmlx_bench_capsule_set_copy(cap, &copy);
  fprintf(f, "copy ceiling: %.1f GB/s (%s of %.0f MiB: %.0f MiB moved in %.1f us)\n\n", copy.gbps,
          copy.method, copy.bytes / 2 / 1048576.0, copy.bytes / 1048576.0, copy.time.median_us);
  return 1;
}

/* A measurement that failed still gets its row, saying why. */
static void failed_row(const zbs_op *op, const zbs_config *cfg, zmlx_bench_row *row) {
  zmlx_bench_row_init(row);
  snprintf(row->op, sizeof row->op, "%s", op->name);
  snprintf(row->dtype, sizeof row->dtype, "%s", zmlx_dtype_name(cfg->dtype));
  zbs_shape_text(op, cfg->rows, cfg->cols, row->shape, sizeof row->shape);
  snprintf(row->impl, sizeof row->impl, "zmlx");
  snprintf(row->note, sizeof row->note, "FAILED: %s", zmlx_error_last());
}

/* Every op at every dtype and shape; failures become rows with a note. */
static int run_all(zmlx_device dev, const bench_args *a, const zmlx_bench_options *t,
                   zmlx_bench_capsule *cap, FILE *f) {
  int failed = 0;
  fprintf(f, "%-16s %-6s %-12s%11s%9s%8s%10s%10s\n", "op", "dtype", "shape", "us", "GB/s",
          "%copy", "err", "first ms");
  for (int si = 0; si < a->n_shapes; si++)
    for (int di = 0; di < a->n_dtypes; di++)
      for (int oi = 0; oi < a->n_ops; oi++) {
        const zbs_op *op = zbs_op_find(a->ops[oi]);
        zbs_config cfg = {.dev = dev, .dtype = a->dtypes[di], .rows = a->rows[si],
                          .cols = a->cols[si], .timing = *t, .check = a->check,
                          .copy_gbps = cap->copy_gbps};
        zmlx_bench_row row;
        int wrong = 0;
        zmlx_status s = zbs_run(op, &cfg, &row, &wrong);
        if (s) failed_row(op, &cfg, &row);
        failed |= s != ZMLX_STATUS_OK || wrong;
        print_row(f, &row);
        if (zmlx_bench_capsule_add_row(cap, &row)) {
          fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
          return 1;
        }
      }
  return failed;
}

/* How the figures were made, beside them in the capsule. */
static int record_settings(zmlx_bench_capsule *cap, const bench_args *a,
                           const zmlx_bench_options *t) {
  char buf[160];
  snprintf(buf, sizeof buf, "%d warm-up calls, %d samples of at least 50 us, %.0f ms cap",
           t->warmup ? t->warmup : 10, t->iters ? t->iters : 100, t->budget_ms);
  zmlx_status s = zmlx_bench_capsule_set_meta(cap, "samples", buf);
  if (!s)
    s = zmlx_bench_capsule_set_meta(
        cap, "check", a->check ? "every result against a host f64 reference (err column)" : "off");
  if (s) fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
  return s != ZMLX_STATUS_OK;
}

/* argv[0] is "bench": the capsule records the line as typed, "zmlx bench ...". */
static int bench(zmlx_device dev, bench_args *a, int argc, char **argv) {
  zmlx_bench_capsule cap;
  char **line = malloc(((size_t)argc + 1) * sizeof *line);
  if (!line) {
    fprintf(stderr, "zmlx bench: out of host memory\n");
    return 1;
  }
  line[0] = "zmlx";
  memcpy(line + 1, argv, (size_t)argc * sizeof *line);
  zmlx_status s = zmlx_bench_capsule_init(&cap, "zmlx bench", dev, argc + 1, line);
  free(line);
  if (s) {
    fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
    return 1;
  }
  fill_defaults(a, dev);
  FILE *f = a->json && !strcmp(a->json, "-") ? stderr : stdout;
  const zmlx_device_info *d = &cap.device;
  fprintf(f, "zmlx %s bench on %s: %s", cap.library_version, cap.device_id, d->name);
  if (dev.type == ZMLX_DEVICE_CUDA) fprintf(f, " (%s, %d SMs)", d->arch, d->sm_count);
  fprintf(f, ", commit %s\n", cap.git_commit);
  zmlx_bench_options t = {.warmup = a->warmup, .iters = a->iters, .budget_ms = 3000};
  int failed = record_settings(&cap, a, &t);
  if (!failed && measure_copy(dev, a, &t, &cap, f)) failed = run_all(dev, a, &t, &cap, f);
  else failed = 1;
  if (a->json) {
    if (zmlx_bench_capsule_write(&cap, a->json)) {
      fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
      failed = 1;
    } else if (f == stdout) {
      printf("\ncapsule: %s (zmlx report %s)\n", a->json, a->json);
    }
  }
  if (failed) fprintf(stderr, "zmlx bench: some measurements failed or gave wrong results\n");
  zmlx_bench_capsule_free(&cap);
  return failed ? 1 : 0;
}

int zmlx_cmd_bench(int argc, char **argv) {
  bench_args a = {0};
  int p = parse_args(argc, argv, &a);
  if (p <= 0) return p == 0 ? 0 : 2;
  if (a.list) {
    list_ops();
    return 0;
  }
  zmlx_device dev = zmlx_device_default();
  if (a.device && zmlx_device_parse(a.device, &dev)) {
    fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
    return 2;
  }
  if (zmlx_device_check(dev)) {
    fprintf(stderr, "zmlx bench: %s\n", zmlx_error_last());
    return 1;
  }
  return bench(dev, &a, argc, argv);
}
