/* Bench helpers: event timing (positive medians, every rotation used,
 * errors passed up), the copy ceiling, the capsule's JSON round trip with
 * exact numbers, rejection of malformed or truncated JSON with a message
 * and no crash, the Markdown report, and every op of the `zmlx bench`
 * suite on each device with its results checked. No speed is asserted:
 * speed belongs in benchmarks. */
#include <unistd.h>

#include "backend/cuda/cuda_api.h"
#include "core/json.h"
#include "bench/suite.h"
#include "core/error.h"
#include "zt_array.h"

/* ---- timing ---------------------------------------------------------------- */

typedef struct tick_ctx {
  zmlx_array *src, *dst;
  int counts[16];
  int out_of_range;
  int fail_at; /* call number that fails; -1: never */
  int calls;
} tick_ctx;

/* Each call copies a small array, so every device has real work to time. */
static zmlx_status tick(void *p, int rotation) {
  tick_ctx *c = p;
  if (rotation < 0 || rotation >= 16)
    c->out_of_range++;
  else
    c->counts[rotation]++;
  if (c->calls++ == c->fail_at)
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, "tick", "planned failure at call %d", c->fail_at);
  return zmlx_array_copy_into(c->dst, c->src);
}

static int tick_setup(tick_ctx *c, zmlx_device dev) {
  memset(c, 0, sizeof *c);
  c->fail_at = -1;
  int64_t n = 4096;
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 1, &n, dev, &c->src));
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 1, &n, dev, &c->dst));
  return c->src && c->dst;
}

static void tick_free(tick_ctx *c) {
  zmlx_array_release(c->src);
  zmlx_array_release(c->dst);
}

static void test_time_medians_and_rotations(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    tick_ctx c;
    if (!tick_setup(&c, devs[di])) continue;
    zmlx_bench_options o = {.warmup = 2, .iters = 9, .rotations = 5, .min_sample_us = 20};
    zmlx_bench_result r;
    CHECK_OK(zmlx_bench_time(devs[di], tick, &c, &o, &r));
    CHECK_MSG(r.median_us > 0 && isfinite(r.median_us), "median %g", r.median_us);
    CHECK(r.min_us <= r.p10_us && r.p10_us <= r.median_us && r.median_us <= r.p90_us);
    CHECK(r.min_us > 0 && r.mean_us > 0 && r.first_call_ms > 0);
    CHECK_EQ_INT(r.samples, 9);
    CHECK(r.calls_per_sample >= 1);
    CHECK_EQ_INT(c.out_of_range, 0);
    for (int i = 0; i < 5; i++) CHECK_MSG(c.counts[i] > 0, "rotation %d never used", i);
    for (int i = 5; i < 16; i++) CHECK_EQ_INT(c.counts[i], 0);
    /* Defaults (opt NULL): one rotation only. */
    memset(c.counts, 0, sizeof c.counts);
    CHECK_OK(zmlx_bench_time(devs[di], tick, &c, NULL, &r));
    CHECK_EQ_INT(r.samples, 100);
    CHECK(c.counts[0] > 0 && c.counts[1] == 0);
    tick_free(&c);
  }
}

static void test_time_budget_and_errors(void) {
  tick_ctx c;
  if (!tick_setup(&c, ZMLX_CPU)) return;
  zmlx_bench_result r;
  /* A budget far too small keeps 5 samples, never more than asked. */
  zmlx_bench_options o = {.iters = 1000, .min_sample_us = 200, .budget_ms = 0.001};
  CHECK_OK(zmlx_bench_time(ZMLX_CPU, tick, &c, &o, &r));
  CHECK_EQ_INT(r.samples, 5);
  o = (zmlx_bench_options){.iters = 3, .budget_ms = 0.001};
  CHECK_OK(zmlx_bench_time(ZMLX_CPU, tick, &c, &o, &r));
  CHECK_EQ_INT(r.samples, 3);
  /* The callback's failure comes back as it is, at any point. */
  for (int at = 0; at < 12; at += 5) {
    c.calls = 0;
    c.fail_at = at;
    CHECK_STATUS(zmlx_bench_time(ZMLX_CPU, tick, &c, NULL, &r), ZMLX_STATUS_NOT_FOUND);
  }
  c.fail_at = -1;
  CHECK_STATUS(zmlx_bench_time(ZMLX_CPU, NULL, &c, NULL, &r), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_bench_time(ZMLX_CPU, tick, &c, NULL, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  o = (zmlx_bench_options){.iters = -1};
  CHECK_STATUS(zmlx_bench_time(ZMLX_CPU, tick, &c, &o, &r), ZMLX_STATUS_INVALID_ARGUMENT);
  o = (zmlx_bench_options){.iters = 1000000};
  CHECK_STATUS(zmlx_bench_time(ZMLX_CPU, tick, &c, &o, &r), ZMLX_STATUS_INVALID_ARGUMENT);
  tick_free(&c);
}

static void test_copy_bandwidth_and_rotations(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  for (int di = 0; di < nd; di++) {
    zmlx_bench_copy copy;
    zmlx_bench_options o = {.warmup = 1, .iters = 5};
    CHECK_OK(zmlx_bench_copy_bandwidth(devs[di], 8u << 20, &o, &copy));
    CHECK_MSG(copy.gbps > 0 && isfinite(copy.gbps), "copy %g GB/s", copy.gbps);
    CHECK(copy.bytes == 16u << 20);
    CHECK(copy.method[0] != 0);
    CHECK(fabs(copy.gbps - zmlx_bench_gbps((double)copy.bytes, copy.time.median_us)) < 1e-9);

    uint64_t cache = zmlx_bench_cache_bytes(devs[di]);
    CHECK(cache > 0);
    CHECK_EQ_INT(zmlx_bench_rotations(devs[di], cache, 64), 2);
    CHECK_EQ_INT(zmlx_bench_rotations(devs[di], 2 * cache, 64), 1);
    CHECK_EQ_INT(zmlx_bench_rotations(devs[di], 1, 64), 64);
    CHECK_EQ_INT(zmlx_bench_rotations(devs[di], 0, 0), 1);
  }
  CHECK(isnan(zmlx_bench_gbps(100, 0)) && isnan(zmlx_bench_gbps(0, 1)));
  CHECK(zmlx_bench_gbps(2e9, 1e6) == 2.0);
}

/* ---- the capsule ----------------------------------------------------------- */

static int same_number(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void fill_capsule(zmlx_bench_capsule *c) {
  setenv("ZMLX_GIT_COMMIT", "0123abcd-dirty", 1);
  char *argv[] = {"zmlx", "bench", "--shape", "it's 2", NULL};
  CHECK_OK(zmlx_bench_capsule_init(c, "zmlx bench", ZMLX_CPU, 4, argv));
  unsetenv("ZMLX_GIT_COMMIT");
  zmlx_bench_copy copy = {.bytes = 1u << 30, .gbps = 2964.123456789, .method = "cuMemcpyDtoDAsync"};
  copy.time.median_us = 362.25;
  zmlx_bench_capsule_set_copy(c, &copy);
  CHECK_OK(zmlx_bench_capsule_set_meta(c, "torch", "2.11.0"));
  CHECK_OK(zmlx_bench_capsule_set_meta(c, "quote\"key", "back\\slash \xc2\xb5s\ttab\nnewline \x01"));
  CHECK_OK(zmlx_bench_capsule_set_meta(c, "torch", "2.11.1")); /* replaces */
  const double odd[] = {1.0 / 3.0, 1e-300, 123456789.123, -0.0, 5e-324, 1.7976931348623157e308};
  for (int i = 0; i < 6; i++) {
    zmlx_bench_row r;
    zmlx_bench_row_init(&r);
    snprintf(r.op, sizeof r.op, "op%d", i);
    snprintf(r.dtype, sizeof r.dtype, "bf16");
    snprintf(r.shape, sizeof r.shape, "16384x4096");
    snprintf(r.impl, sizeof r.impl, i % 2 ? "zmlx" : "a|b \"c\"");
    r.us = 100.0 + odd[i];
    r.min_us = odd[i];
    r.bytes = 402653184.0 * (i + 1);
    r.err = i == 3 ? INFINITY : odd[i]; /* infinity is written as null */
    r.rotations = i + 1;
    r.samples = 100;
    if (i == 2) snprintf(r.note, sizeof r.note, "skipped: \"no bf16\" \\ here");
    CHECK_OK(zmlx_bench_capsule_add_row(c, &r));
  }
}

static void check_same_capsule(const zmlx_bench_capsule *a, const zmlx_bench_capsule *b) {
  CHECK(!strcmp(a->tool, b->tool) && !strcmp(a->device_id, b->device_id));
  CHECK(!strcmp(a->device.name, b->device.name) && !strcmp(a->device.arch, b->device.arch));
  CHECK(a->device.sm_count == b->device.sm_count && a->device.total_memory == b->device.total_memory);
  CHECK(!strcmp(a->git_commit, b->git_commit) && !strcmp(a->command, b->command));
  CHECK(!strcmp(a->date, b->date) && !strcmp(a->library_version, b->library_version));
  CHECK(!strcmp(a->timing, b->timing) && !strcmp(a->copy_method, b->copy_method));
  CHECK(same_number(a->copy_gbps, b->copy_gbps) && same_number(a->copy_us, b->copy_us));
  CHECK(same_number(a->copy_bytes, b->copy_bytes));
  CHECK_EQ_INT(a->n_meta, b->n_meta);
  for (int i = 0; i < a->n_meta && i < b->n_meta; i++)
    CHECK(!strcmp(a->meta[i].key, b->meta[i].key) && !strcmp(a->meta[i].value, b->meta[i].value));
  CHECK_EQ_INT(a->n_rows, b->n_rows);
  for (int i = 0; i < a->n_rows && i < b->n_rows; i++) {
    const zmlx_bench_row *x = &a->rows[i], *y = &b->rows[i];
    CHECK(!strcmp(x->op, y->op) && !strcmp(x->impl, y->impl) && !strcmp(x->note, y->note));
    CHECK(!strcmp(x->dtype, y->dtype) && !strcmp(x->shape, y->shape));
    CHECK_MSG(same_number(x->us, y->us) && same_number(x->min_us, y->min_us) &&
                  same_number(x->gbps, y->gbps) && same_number(x->pct_of_copy, y->pct_of_copy) &&
                  same_number(x->bytes, y->bytes) && same_number(x->p90_us, y->p90_us) &&
                  same_number(x->tflops, y->tflops),
              "row %d: numbers differ after the round trip", i);
    CHECK(same_number(x->err, y->err) || (isinf(x->err) && isnan(y->err)));
    CHECK(x->rotations == y->rotations && x->samples == y->samples);
  }
}

static void test_capsule_round_trip(void) {
  zmlx_bench_capsule c, back, from_file;
  fill_capsule(&c);
  CHECK(!strcmp(c.git_commit, "0123abcd-dirty"));
  CHECK(!strcmp(c.command, "zmlx bench --shape 'it'\\''s 2'"));
  CHECK(!strcmp(zmlx_bench_capsule_meta(&c, "torch"), "2.11.1"));
  CHECK(zmlx_bench_capsule_meta(&c, "absent") == NULL);
  CHECK_EQ_INT(c.n_meta, 2);
  /* add_row fills in GB/s and the share of the copy ceiling. */
  CHECK(fabs(c.rows[0].gbps - 402653184.0 / ((100.0 + 1.0 / 3.0) * 1e3)) < 1e-9);
  CHECK(fabs(c.rows[0].pct_of_copy - 100.0 * c.rows[0].gbps / c.copy_gbps) < 1e-9);

  char *json = NULL;
  CHECK_OK(zmlx_bench_capsule_to_json(&c, &json));
  if (!json) return;
  CHECK(!strstr(json, "nan") && !strstr(json, "inf"));
  zj_value tree;
  CHECK_OK(zj_parse(json, strlen(json), &tree)); /* strict JSON */
  zj_free(&tree);
  CHECK_OK(zmlx_bench_capsule_parse(json, strlen(json), &back));
  check_same_capsule(&c, &back);

  char path[] = "/tmp/zmlx-test-bench-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  CHECK_OK(zmlx_bench_capsule_write(&c, path));
  CHECK_OK(zmlx_bench_capsule_read(path, &from_file));
  check_same_capsule(&c, &from_file);
  zmlx_bench_capsule_free(&from_file);
  unlink(path);
  CHECK_STATUS(zmlx_bench_capsule_read("/nonexistent/zmlx.json", &from_file), ZMLX_STATUS_IO_ERROR);
  CHECK_CONTAINS(zmlx_error_last(), "/nonexistent/zmlx.json");
  CHECK_STATUS(zmlx_bench_capsule_write(&c, "/nonexistent/dir/x.json"), ZMLX_STATUS_IO_ERROR);

  free(json);
  zmlx_bench_capsule_free(&c);
  zmlx_bench_capsule_free(&back);
  zmlx_bench_capsule_free(&from_file);
}

static void expect_corrupt(const char *text, const char *needle) {
  zmlx_bench_capsule c;
  zmlx_status s = zmlx_bench_capsule_parse(text, strlen(text), &c);
  CHECK_MSG(s == ZMLX_STATUS_CORRUPT_DATA, "accepted or wrong status (%s) for: %.60s",
            zmlx_status_name(s), text);
  if (s == ZMLX_STATUS_CORRUPT_DATA) CHECK_CONTAINS(zmlx_error_last(), needle);
  CHECK(c.n_rows == 0 && c.rows == NULL);
  zmlx_bench_capsule_free(&c);
}

#define HEAD "{\"format\": \"zmlx-bench-capsule\", \"format_version\": 1, "

static void test_malformed_rejected(void) {
  expect_corrupt("", "line 1, column 1: expected a value");
  expect_corrupt("{", "expected a key");
  expect_corrupt("{\"a\": 1,}", "expected a key");
  expect_corrupt("[1, 2,]", "invalid value");
  expect_corrupt("{\"a\" 1}", "expected ':'");
  expect_corrupt("[1 2]", "expected ',' or ']'");
  expect_corrupt("nul", "invalid value");
  expect_corrupt("NaN", "invalid value");
  expect_corrupt("01", "leading zero");
  expect_corrupt("1.", "after '.'");
  expect_corrupt("1e+", "exponent");
  expect_corrupt("1e999", "out of range");
  expect_corrupt("\"abc", "unterminated string");
  expect_corrupt("\"a\\x\"", "invalid escape");
  expect_corrupt("\"\\ud800\"", "surrogate");
  expect_corrupt("\"\\udc00\"", "surrogate");
  expect_corrupt("\"a\tb\"", "control character");
  expect_corrupt("{}\n  x", "line 2, column 3: unexpected text");
  char deep[400];
  memset(deep, '[', sizeof deep - 1);
  deep[sizeof deep - 1] = 0;
  expect_corrupt(deep, "nested too deeply");
  /* Valid JSON that is not a capsule, or a capsule with wrong types. */
  expect_corrupt("[]", "not an object");
  expect_corrupt("{\"format\": \"other\"}", "not a bench capsule");
  expect_corrupt("{\"format\": \"zmlx-bench-capsule\", \"format_version\": 99, \"rows\": []}",
                 "format_version 99");
  expect_corrupt(HEAD "\"rows\": 5}", "\"rows\" should be an array");
  expect_corrupt(HEAD "\"tool\": 5, \"rows\": []}", "\"tool\" should be a string");
  expect_corrupt(HEAD "\"device\": {\"sm_count\": 1.5}, \"rows\": []}", "sm_count");
  expect_corrupt(HEAD "\"rows\": [7]}", "rows[0]");
  expect_corrupt(HEAD "\"rows\": [{\"op\": \"a\", \"dtype\": \"f32\", \"impl\": \"x\"}]}",
                 "rows[0]: missing \"shape\"");
  expect_corrupt(HEAD "\"rows\": [{\"op\": \"a\", \"dtype\": \"f32\", \"shape\": \"1x1\", "
                 "\"impl\": \"x\", \"us\": \"fast\"}]}",
                 "line 1, column 127: rows[0]: \"us\" should be a number or null");
  expect_corrupt(HEAD "\"meta\": {\"a\": 1}, \"rows\": []}", "meta");
  expect_corrupt(HEAD "\"tool\": \"x\"}", "no \"rows\"");
  /* Embedded NUL bytes are not JSON. */
  zmlx_bench_capsule c;
  CHECK_STATUS(zmlx_bench_capsule_parse("{\"a\0\": 1}", 9, &c), ZMLX_STATUS_CORRUPT_DATA);
  zmlx_bench_capsule_free(&c);
  /* Minimal valid one: nulls, unknown keys skipped, \u escapes decoded. */
  const char *ok = HEAD "\"future\": [1, {\"x\": null}], \"tool\": \"p\\u00e9\\ud83d\\ude00\", "
                   "\"rows\": [{\"op\": \"a\", \"dtype\": \"f32\", \"shape\": \"1x1\", "
                   "\"impl\": \"x\", \"us\": null, \"gbps\": 1E2}]}";
  CHECK_OK(zmlx_bench_capsule_parse(ok, strlen(ok), &c));
  CHECK(!strcmp(c.tool, "p\xc3\xa9\xf0\x9f\x98\x80"));
  CHECK(c.n_rows == 1 && isnan(c.rows[0].us) && c.rows[0].gbps == 100.0);
  zmlx_bench_capsule_free(&c);
}

/* Every prefix of a real capsule, and single bytes changed all over it:
 * either read or refused with a message, never a crash (ASan checks). */
static void test_truncated_and_damaged(void) {
  zmlx_bench_capsule c, back;
  fill_capsule(&c);
  char *json = NULL;
  CHECK_OK(zmlx_bench_capsule_to_json(&c, &json));
  if (!json) return;
  size_t n = strlen(json);
  int accepted = 0, silent = 0;
  for (size_t len = 0; len < n; len++) {
    zmlx_status s = zmlx_bench_capsule_parse(json, len, &back);
    accepted += s == ZMLX_STATUS_OK && len < n - 1; /* the last byte is a newline */
    silent += s != ZMLX_STATUS_OK && !zmlx_error_last()[0];
    zmlx_bench_capsule_free(&back);
  }
  CHECK_EQ_INT(accepted, 0);
  uint64_t seed = 77;
  static const char bytes[] = "{}[],:\"\\0123456789.eE+-ntfu \x01\xff";
  for (int i = 0; i < 3000; i++) {
    char *copy = strdup(json);
    copy[zt_next(&seed) % n] = bytes[zt_next(&seed) % (sizeof bytes - 1)];
    zmlx_status s = zmlx_bench_capsule_parse(copy, n, &back);
    CHECK(s == ZMLX_STATUS_OK || s == ZMLX_STATUS_CORRUPT_DATA);
    silent += s != ZMLX_STATUS_OK && !zmlx_error_last()[0];
    zmlx_bench_capsule_free(&back);
    free(copy);
  }
  CHECK_EQ_INT(silent, 0);
  free(json);
  zmlx_bench_capsule_free(&c);
}

/* ---- the report ------------------------------------------------------------ */

static char *report_text(const zmlx_bench_capsule *caps, int n) {
  FILE *f = tmpfile();
  if (!f) return NULL;
  CHECK_OK(zmlx_bench_report(f, caps, n));
  long len = ftell(f);
  rewind(f);
  char *text = calloc((size_t)len + 1, 1);
  if (text && fread(text, 1, (size_t)len, f) != (size_t)len) text[0] = 0;
  fclose(f);
  return text;
}

static void add(zmlx_bench_capsule *c, const char *op, const char *impl, double us, const char *note) {
  zmlx_bench_row r;
  zmlx_bench_row_init(&r);
  snprintf(r.op, sizeof r.op, "%s", op);
  snprintf(r.dtype, sizeof r.dtype, "bf16");
  snprintf(r.shape, sizeof r.shape, "16384x4096");
  snprintf(r.impl, sizeof r.impl, "%s", impl);
  r.us = us;
  r.bytes = 4e8;
  snprintf(r.note, sizeof r.note, "%s", note);
  CHECK_OK(zmlx_bench_capsule_add_row(c, &r));
}

static void test_report(void) {
  zmlx_bench_capsule caps[2];
  CHECK_OK(zmlx_bench_capsule_init(&caps[0], "zmlx bench", ZMLX_CPU, 0, NULL));
  CHECK_OK(zmlx_bench_capsule_init(&caps[1], "peers", ZMLX_CPU, 0, NULL));
  zmlx_bench_copy copy = {.bytes = 1u << 30, .gbps = 2000, .method = "memcpy"};
  zmlx_bench_capsule_set_copy(&caps[0], &copy);
  add(&caps[0], "swiglu", "zmlx", 100, "");
  add(&caps[0], "copy_raw", "zmlx", 50, "");
  add(&caps[1], "swiglu", "torch_eager", 200, "");
  add(&caps[1], "swiglu", "cupy", NAN, "skipped: no bf16");
  add(&caps[1], "rmsnorm", "torch_eager", 400, "");
  add(&caps[1], "copy_raw", "triton", 25, "WRONG RESULTS: error 1 exceeds 0.01");

  char *one = report_text(caps, 1);
  CHECK_CONTAINS(one, "| op | dtype | shape | impl | µs | GB/s | % of copy |");
  CHECK_CONTAINS(one, "| swiglu | bf16 | 16384x4096 | zmlx | 100.0 | 4000.0 | 200.0 |");
  CHECK_CONTAINS(one, "copy ceiling: 2000.0 GB/s");
  free(one);

  char *both = report_text(caps, 2);
  CHECK_CONTAINS(both, "| torch_eager GB/s | ×torch_eager | cupy GB/s | ×cupy | triton GB/s | ×triton |");
  CHECK_CONTAINS(both, "| swiglu | bf16 | 16384x4096 | zmlx | 100.0 | 4000.0 | 200.0 | 2000.0 | 2.00× | - | - | - | - |");
  CHECK_CONTAINS(both, "| copy_raw | bf16 | 16384x4096 | zmlx | 50.00 | 8000.0 | 400.0 | - | - | - | - | 16000.0 (wrong) | 0.50× |");
  CHECK_CONTAINS(both, "| rmsnorm | bf16 | 16384x4096 | - | - | - | - | 1000.0 | - | - | - | - | - |");
  CHECK_CONTAINS(both, "- cupy swiglu bf16 16384x4096: skipped: no bf16");
  CHECK_CONTAINS(both, "### peers on cpu");
  free(both);
  CHECK_STATUS(zmlx_bench_report(stdout, caps, 0), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_bench_capsule_free(&caps[0]);
  zmlx_bench_capsule_free(&caps[1]);
}

/* ---- the suite ------------------------------------------------------------- */

static void run_suite(zmlx_device dev, zmlx_dtype t, int64_t rows, int64_t cols) {
  for (int i = 0; i < zbs_op_count(); i++) {
    const zbs_op *op = zbs_op_at(i);
    zbs_config cfg = {.dev = dev, .dtype = t, .rows = rows, .cols = cols,
                      .timing = {.warmup = 1, .iters = 3}, .max_rotations = 3, .check = 1,
                      .copy_gbps = 10};
    zmlx_bench_row row;
    int wrong = 1;
    CHECK_OK(zbs_run(op, &cfg, &row, &wrong));
    CHECK_MSG(!wrong, "%s %s dev %d: %s", op->name, zmlx_dtype_name(t), dev.type, row.note);
    CHECK_MSG(row.err <= zbs_tolerance(t), "%s: err %g", op->name, row.err);
    CHECK(row.us > 0 && row.gbps > 0 && row.pct_of_copy > 0 && row.samples == 3);
    CHECK(row.rotations >= 1 && row.rotations <= 3 && row.first_ms > 0);
    double want = 0;
    for (const char *l = op->inputs; *l; l++) want += zbs_layout_bytes(*l, rows, cols, t);
    for (const char *l = op->outputs; *l; l++) want += zbs_layout_bytes(*l, rows, cols, t);
    CHECK(row.bytes == want && !strcmp(row.impl, "zmlx") && !strcmp(row.op, op->name));
  }
}

static void test_suite_every_op(void) {
  zmlx_device devs[2];
  int nd = zt_devices(devs);
  CHECK(zbs_op_find("swiglu") && zbs_op_find("copy_raw") && !zbs_op_find("nope"));
  CHECK(zbs_layout_bytes('m', 3, 5, ZMLX_DTYPE_BF16) == 30 && zbs_layout_bytes('r', 3, 5, ZMLX_DTYPE_F32) == 20);
  for (int di = 0; di < nd; di++) {
    run_suite(devs[di], ZMLX_DTYPE_F32, 64, 96);
    run_suite(devs[di], ZMLX_DTYPE_BF16, 64, 96);
    run_suite(devs[di], ZMLX_DTYPE_BF16, 3, 7); /* 42 bytes: copy_raw's tail */
    run_suite(devs[di], ZMLX_DTYPE_F64, 5, 3);  /* f64 computes in f64 */
  }
  zbs_config bad = {.dev = ZMLX_CPU, .dtype = ZMLX_DTYPE_I32, .rows = 4, .cols = 4};
  zmlx_bench_row row;
  int wrong;
  CHECK_STATUS(zbs_run(zbs_op_find("copy"), &bad, &row, &wrong), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  bad.dtype = ZMLX_DTYPE_F32;
  bad.rows = 0;
  CHECK_STATUS(zbs_run(zbs_op_find("copy"), &bad, &row, &wrong), ZMLX_STATUS_INVALID_ARGUMENT);
}

/* ---- the row ops (reductions, softmax, layernorm, cumsum) ------------------ */

static const char *const row_ops[] = {"row_sum", "row_max", "argmax", "mid_sum", "softmax",
                                      "log_softmax", "layernorm", "cumsum"};
enum { N_ROW_OPS = sizeof row_ops / sizeof row_ops[0] };

/* Each row op on the CPU at small shapes, its result checked; 512x40 gives
 * mid_sum its full K = 256 (x is 2x40x256), 64x96 gives K = 64. */
static void test_suite_row_ops(void) {
  static const struct { zmlx_dtype t; int64_t rows, cols; } cases[] = {
      {ZMLX_DTYPE_F32, 512, 40}, {ZMLX_DTYPE_BF16, 512, 40}, {ZMLX_DTYPE_F16, 64, 96},
      {ZMLX_DTYPE_F64, 64, 96}, {ZMLX_DTYPE_F32, 2, 1000}, {ZMLX_DTYPE_F32, 7, 1}};
  for (int oi = 0; oi < N_ROW_OPS; oi++) {
    const zbs_op *op = zbs_op_find(row_ops[oi]);
    CHECK_MSG(op != NULL, "no op %s", row_ops[oi]);
    if (!op) continue;
    CHECK(op->ref_rows && op->call && op->impl == &zbs_library_impl);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      zbs_config cfg = {.dev = ZMLX_CPU, .dtype = cases[ci].t, .rows = cases[ci].rows,
                        .cols = cases[ci].cols, .timing = {.warmup = 1, .iters = 3},
                        .max_rotations = 2, .check = 1, .copy_gbps = 10};
      zmlx_bench_row row;
      int wrong = 1;
      CHECK_OK(zbs_run(op, &cfg, &row, &wrong));
      CHECK_MSG(!wrong && row.err <= zbs_tolerance(cfg.dtype), "%s %s %lldx%lld: err %g %s",
                op->name, zmlx_dtype_name(cfg.dtype), (long long)cfg.rows, (long long)cfg.cols,
                row.err, row.note);
      CHECK(row.us > 0 && row.gbps > 0 && row.samples == 3 && row.rotations >= 1);
    }
  }
}

/* The bytes each op must move, and the shapes the rows report. */
static void test_row_op_bytes_and_shapes(void) {
  const int64_t r = 64, c = 96;
  struct { const char *op; zmlx_dtype t; double bytes; } want[] = {
      {"row_sum", ZMLX_DTYPE_BF16, r * c * 2 + r * 2},
      {"row_max", ZMLX_DTYPE_F32, r * c * 4 + r * 4},
      {"argmax", ZMLX_DTYPE_BF16, r * c * 2 + r * 8},
      {"argmax", ZMLX_DTYPE_F64, r * c * 8 + r * 8},
      {"mid_sum", ZMLX_DTYPE_BF16, r * c * 2 + r * 2},
      {"softmax", ZMLX_DTYPE_BF16, 2 * r * c * 2},
      {"log_softmax", ZMLX_DTYPE_F32, 2 * r * c * 4},
      {"layernorm", ZMLX_DTYPE_BF16, 2 * r * c * 2 + 2 * c * 2},
      {"cumsum", ZMLX_DTYPE_F32, 2 * r * c * 4},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const zbs_op *op = zbs_op_find(want[i].op);
    if (!op) {
      CHECK_MSG(0, "no op %s", want[i].op);
      continue;
    }
    double got = 0;
    for (const char *l = op->inputs; *l; l++) got += zbs_layout_bytes(*l, r, c, want[i].t);
    for (const char *l = op->outputs; *l; l++) got += zbs_layout_bytes(*l, r, c, want[i].t);
    CHECK_MSG(got == want[i].bytes, "%s: %g bytes, want %g", op->name, got, want[i].bytes);
  }
  CHECK_EQ_INT(zbs_mid_inner(16384), 256);
  CHECK_EQ_INT(zbs_mid_inner(64), 64);
  CHECK_EQ_INT(zbs_mid_inner(96), 32);
  CHECK_EQ_INT(zbs_mid_inner(7), 1);
  char buf[48];
  zbs_shape_text(zbs_op_find("mid_sum"), 16384, 4096, buf, sizeof buf);
  CHECK(!strcmp(buf, "64x4096x256"));
  zbs_shape_text(zbs_op_find("row_sum"), 16384, 4096, buf, sizeof buf);
  CHECK(!strcmp(buf, "16384x4096"));
  /* Every elementwise op is still in the table (the default list is all). */
  const char *const ew[] = {"swiglu", "gelu_tanh", "add3", "bias_add", "copy", "transpose_copy",
                            "copy_raw"};
  for (int i = 0; i < 7; i++) CHECK_MSG(zbs_op_find(ew[i]) != NULL, "no op %s", ew[i]);
}

/* Wrong library calls that the check must catch. */
static zmlx_status wrong_row_sum(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_reduce_max(in[0], 1, (const int[]){-1}, 0, out);
}
/* The right sums in the wrong order: (K, rows/K) instead of (rows/K, K). */
static zmlx_status wrong_mid_sum(zmlx_array *const *in, zmlx_array **out) {
  zmlx_array *y = NULL, *t = NULL;
  zmlx_status s = zmlx_reduce_sum(in[0], 1, (const int[]){1}, 0, &y);
  if (!s) s = zmlx_array_transpose(y, 0, 1, &t);
  if (!s) s = zmlx_array_contiguous(t, out);
  zmlx_array_release(y);
  zmlx_array_release(t);
  return s;
}
static zmlx_status wrong_softmax(zmlx_array *const *in, zmlx_array **out) {
  return zmlx_log_softmax(in[0], -1, out);
}

static void expect_wrong(const char *base, zbs_call_fn call, int64_t rows, int64_t cols) {
  zbs_op op = *zbs_op_find(base);
  op.call = call;
  zbs_config cfg = {.dev = ZMLX_CPU, .dtype = ZMLX_DTYPE_F32, .rows = rows, .cols = cols,
                    .timing = {.warmup = 1, .iters = 3}, .max_rotations = 1, .check = 1};
  zmlx_bench_row row;
  int wrong = 0;
  CHECK_OK(zbs_run(&op, &cfg, &row, &wrong));
  CHECK_MSG(wrong && row.err > zbs_tolerance(cfg.dtype), "%s: a wrong call passed (err %g)",
            base, row.err);
  CHECK_CONTAINS(row.note, "WRONG RESULTS");
}

/* argmax is judged by the values it picks: another index among equal
 * values passes (and is noted), a smaller value or an index out of range
 * does not. */
static void test_row_check_catches_wrong(void) {
  expect_wrong("row_sum", wrong_row_sum, 32, 50);
  expect_wrong("mid_sum", wrong_mid_sum, 512, 12);
  expect_wrong("softmax", wrong_softmax, 16, 33);

  const zbs_op *op = zbs_op_find("argmax");
  const float x[2][4] = {{1, 5, 3, 5}, {-2, -1, -3, -4}}; /* row 0: a tie at 1 and 3 */
  const int64_t xs[2] = {2, 4}, ys[1] = {2};
  struct { int64_t idx[2]; int ok; double err; int noted; } cases[] = {
      {{1, 1}, 1, 0, 0},         /* the reference */
      {{3, 1}, 1, 0, 1},         /* the other of the tie */
      {{2, 1}, 0, 2.0 / 5, 1},   /* 3 instead of 5: off by 2 of max|ref| 5 */
      {{1, 4}, 0, INFINITY, 0},  /* out of range */
      {{1, -1}, 0, INFINITY, 0}, /* out of range */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    zmlx_array *xa = NULL, *ya = NULL;
    CHECK_OK(zmlx_array_from_host(x, ZMLX_DTYPE_F32, 2, xs, ZMLX_CPU, &xa));
    CHECK_OK(zmlx_array_from_host(cases[i].idx, ZMLX_DTYPE_I64, 1, ys, ZMLX_CPU, &ya));
    double err = -1;
    char note[256];
    CHECK_OK(zbs_check(op, 2, 4, &xa, &ya, &err, note, sizeof note));
    CHECK_MSG(err == cases[i].err || fabs(err - cases[i].err) < 1e-12, "case %zu: err %g", i, err);
    CHECK_EQ_INT(err <= zbs_tolerance(ZMLX_DTYPE_F32), cases[i].ok);
    if (cases[i].noted) CHECK_CONTAINS(note, "1 of 2 rows picked another index");
    else if (isfinite(err)) CHECK_EQ_INT(note[0], 0);
    zmlx_array_release(xa);
    zmlx_array_release(ya);
  }
}

/* The raw copy baseline's CUDA source compiles, GPU or not. */
static void test_raw_copy_compiles_for_cuda(void) {
  char why[256];
  if (!zb_nvrtc_available(why, sizeof why)) {
    printf("  (no NVRTC: %s)\n", why);
    CHECK(1);
    return;
  }
  void *k = NULL;
  CHECK_OK(zbs_raw_copy_impl.create(zbs_op_find("copy_raw"), ZMLX_DTYPE_BF16, &k));
  int64_t n = 40;
  zmlx_array *x = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_BF16, 1, &n, ZMLX_CPU, &x));
  zmlx_dtype t = ZMLX_DTYPE_BF16;
  int one = 1;
  const int64_t *shapes[] = {&n};
  double nb = 80;
  zmlx_launch_config cfg = {.output_dtypes = &t, .output_ndims = &one, .output_shapes = shapes,
                            .grid = {5, 1, 1}, .n_scalars = 1, .scalars = &nb};
  char *src = NULL, *log = NULL;
  void *cubin = NULL;
  size_t len = 0;
  CHECK_OK(zmlx_kernel_source(k, ZMLX_CUDA(0), 1, &x, &cfg, &src));
  if (src) {
    zmlx_status s = zb_nvrtc_compile(src, "zmlx_bench_copy_raw", "sm_90", &cubin, &len, &log);
    CHECK_MSG(s == ZMLX_STATUS_OK, "%s\n%s", zmlx_error_last(), log ? log : "");
  }
  free(src);
  free(log);
  free(cubin);
  zmlx_array_release(x);
  zbs_raw_copy_impl.destroy(k);
}

ZT_MAIN(ZT(test_time_medians_and_rotations), ZT(test_time_budget_and_errors),
        ZT(test_copy_bandwidth_and_rotations), ZT(test_capsule_round_trip),
        ZT(test_malformed_rejected), ZT(test_truncated_and_damaged), ZT(test_report),
        ZT(test_suite_every_op), ZT(test_suite_row_ops), ZT(test_row_op_bytes_and_shapes),
        ZT(test_row_check_catches_wrong), ZT(test_raw_copy_compiles_for_cuda))
