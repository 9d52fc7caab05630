/* The autotuner on the CPU backend (its events give wall time): picking
 * the cheapest candidate of a synthetic cost, the file (every measured
 * configuration, reloads, corruption, merges between processes), the
 * default profile when tuning is off, failures, keys, spaces and progress.
 * Costs differ by a unit of spinning, short enough that a time slice
 * rarely ends inside one run, and each figure is a median of nine, so a
 * loaded machine does not reorder them; no other timing is asserted. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "tune/tune_internal.h"
#include "zmlx/tune.h"
#include "zt.h"

#define UNIT_US 200.0

static char g_dir[PATH_MAX];

/* ---- Fixture ------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void remove_dir(void) {
  if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  g_dir[0] = 0;
}

/* A fresh cache folder and tuner state, as a new process would see them. */
static void fresh(void) {
  static int registered;
  if (!registered) registered = !atexit(remove_dir);
  remove_dir();
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/zmlx_tune_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  CHECK(mkdtemp(g_dir) != NULL);
  setenv("ZMLX_CACHE_DIR", g_dir, 1);
  unsetenv("ZMLX_TUNE");
  unsetenv("ZMLX_DISK_CACHE");
  setenv("ZMLX_TUNE_QUIET", "1", 1);
  ztune_reset_for_tests();
}

static void file_path(char *out) { snprintf(out, PATH_MAX, "%s/%s", g_dir, ZTUNE_FILE_NAME); }

static int file_exists(void) {
  char p[PATH_MAX];
  file_path(p);
  return access(p, F_OK) == 0;
}

/* The file's text (malloc'd), or NULL. */
static char *file_text(void) {
  char p[PATH_MAX];
  file_path(p);
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void write_file(const char *text) {
  char p[PATH_MAX];
  file_path(p);
  FILE *f = fopen(p, "wb");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* ---- The synthetic kernel -------------------------------------------------- */

typedef struct synth {
  int best_block;      /* the cheapest block */
  int fail_block;      /* run fails for this block (0: never) */
  int calls;
  zmlx_tune_key inner; /* when set, run picks this key (a nested pick) */
  int nested;
  zmlx_tune_result nested_result;
} synth;

/* Spinning, not sleeping: on a busy machine a sleeper wakes milliseconds
 * late, while a short spin is rarely preempted at all. */
static void spin_us(double us) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) * 1e-3 < us);
}

static int log2i(int v) {
  int l = 0;
  for (; v > 1; v >>= 1) l++;
  return l;
}

/* One unit per doubling away from the best block, one per item, one for
 * the launch: never 0, so runs are not repeated within a sample. */
static double cost_us(const synth *s, const zmlx_tune_config *c) {
  return UNIT_US * (abs(log2i(c->block) - log2i(s->best_block)) + c->items + 1);
}

static const zmlx_tune_space *small_space(void);

static zmlx_status synth_run(void *ctx, const zmlx_tune_config *c) {
  synth *s = ctx;
  s->calls++;
  if (s->nested) {
    zmlx_tune_options o = {.mode = ZMLX_TUNE_SEARCH};
    CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &s->inner, small_space(), synth_run, s, &o,
                            &s->nested_result));
  }
  if (c->block == s->fail_block)
    return zmlx_fail(ZMLX_STATUS_LAUNCH_FAILED, "synth", "block %d does not launch", c->block);
  spin_us(cost_us(s, c));
  return ZMLX_STATUS_OK;
}

static const int blocks[] = {64, 128, 256, 512};
static const int items[] = {1, 2, 4};

/* 12 candidates: more than 8, so a search prints progress. */
static zmlx_tune_space make_space(void) {
  zmlx_tune_space sp;
  CHECK_OK(zmlx_tune_space_product(blocks, 4, items, 3, NULL, 0, NULL, 0, NULL, NULL, &sp));
  CHECK_EQ_INT(sp.n, 12);
  return sp;
}

static const zmlx_tune_space *small_space(void) {
  static zmlx_tune_space sp;
  static const int b[] = {128, 256};
  zmlx_tune_space_product(b, 2, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &sp);
  return &sp;
}

static zmlx_tune_key make_key(const char *kernel, int64_t n, zmlx_dtype t) {
  zmlx_tune_key k;
  CHECK_OK(zmlx_tune_key_make(kernel, ZMLX_CPU, 1, &n, t, &k));
  return k;
}

static const zmlx_tune_options fast_opts = {.mode = ZMLX_TUNE_SEARCH, .warmup = 1, .iters = 9};

static int same(zmlx_tune_config a, zmlx_tune_config b) {
  return a.block == b.block && a.items == b.items && a.vec == b.vec && a.rows == b.rows;
}

/* ---- Tests --------------------------------------------------------------- */

static void test_picks_cheapest_and_records_every_candidate(void) {
  fresh();
  zmlx_tune_space sp = make_space();
  zmlx_tune_key k = make_key("ew_add#1", 1 << 20, ZMLX_DTYPE_F32);
  synth s = {.best_block = 128};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_SEARCH);
  CHECK(same(r.config, (zmlx_tune_config){128, 1, 0, 0}));
  CHECK_MSG(r.median_us >= UNIT_US, "median %.1f us", r.median_us);
  /* Each candidate: one warm-up, then nine samples. */
  CHECK_EQ_INT(s.calls, 12 * 10);
  char *text = file_text();
  CHECK(text != NULL);
  CHECK(text && !strncmp(text, "# zmlx tune v1\n", 15));
  for (int i = 0; i < sp.n && text; i++) {
    char want[64];
    snprintf(want, sizeof want, "\t%d\t%d\t0\t0\t", sp.v[i].block, sp.v[i].items);
    CHECK_CONTAINS(text, want);
  }
  CHECK_CONTAINS(text, "ew_add#1\t");
  CHECK_CONTAINS(text, "\t1048576\tf32\t");
  free(text);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_keys, 1);
  CHECK_EQ_INT(info.n_entries, 12);
  CHECK_EQ_INT(info.n_failed, 0);
  CHECK_EQ_INT(info.n_searches, 1);
  CHECK_EQ_INT(info.n_timed, 12);
  CHECK_CONTAINS(info.path, ZTUNE_FILE_NAME);
}

static void test_stored_best_is_reused_without_running(void) {
  fresh();
  zmlx_tune_space sp = make_space();
  zmlx_tune_key k = make_key("ew_mul#1", 4096, ZMLX_DTYPE_BF16);
  synth s = {.best_block = 256};
  zmlx_tune_result first, again;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &first));
  CHECK(same(first.config, (zmlx_tune_config){256, 1, 0, 0}));
  int calls = s.calls;
  /* The same process. */
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &again));
  CHECK_EQ_INT(s.calls, calls);
  CHECK_EQ_INT(again.source, ZMLX_TUNE_FROM_TABLE);
  CHECK(same(again.config, first.config));
  /* A new process, searching on: the file answers. */
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &again));
  CHECK_EQ_INT(s.calls, calls);
  CHECK_EQ_INT(again.source, ZMLX_TUNE_FROM_TABLE);
  CHECK(same(again.config, first.config));
  CHECK(again.median_us == first.median_us ||
        fabs(again.median_us - first.median_us) < 1e-3); /* printed with %.3f */
  /* A new process with ZMLX_TUNE unset: measured results, no run needed. */
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, NULL, NULL, NULL, &again));
  CHECK_EQ_INT(again.source, ZMLX_TUNE_FROM_TABLE);
  CHECK(same(again.config, first.config));
  /* ZMLX_TUNE=1 in a new process: nothing left to measure. */
  setenv("ZMLX_TUNE", "1", 1);
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, NULL, &again));
  CHECK_EQ_INT(s.calls, calls);
  CHECK(same(again.config, first.config));
  unsetenv("ZMLX_TUNE");
}

static void test_env_search_mode(void) {
  fresh();
  setenv("ZMLX_TUNE", "1", 1);
  ztune_reset_for_tests();
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.mode, ZMLX_TUNE_SEARCH);
  zmlx_tune_key k = make_key("env#1", 100, ZMLX_DTYPE_F32);
  synth s = {.best_block = 256};
  zmlx_tune_options o = {.warmup = 1, .iters = 9}; /* mode: from the environment */
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &o, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_SEARCH);
  CHECK_EQ_INT(r.config.block, 256);
  CHECK(s.calls > 0);
  unsetenv("ZMLX_TUNE");
}

static void test_off_gives_profile_default_and_writes_nothing(void) {
  fresh();
  zmlx_tune_space sp = make_space();
  zmlx_tune_key k = make_key("ew_off#1", 1 << 16, ZMLX_DTYPE_F16);
  synth s = {.best_block = 64};
  zmlx_tune_config dflt;
  CHECK_OK(zmlx_tune_default(ZMLX_CPU, &sp, &dflt));
  /* The CPU profile is 256 threads, one item; the nearest candidate. */
  CHECK(same(dflt, (zmlx_tune_config){256, 1, 0, 0}));
  zmlx_tune_config bare;
  CHECK_OK(zmlx_tune_default(ZMLX_CPU, NULL, &bare));
  CHECK(same(bare, (zmlx_tune_config){256, 1, 16, 1}));

  zmlx_tune_result r;
  /* Unset ZMLX_TUNE and an empty table. */
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK(same(r.config, dflt));
  CHECK(isnan(r.median_us));
  /* ZMLX_TUNE=0. */
  setenv("ZMLX_TUNE", "0", 1);
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK(same(r.config, dflt));
  /* A caller's own default. */
  zmlx_tune_config mine = {512, 4, 0, 0};
  zmlx_tune_options o = {.fallback = &mine};
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &o, &r));
  CHECK(same(r.config, mine));
  CHECK_EQ_INT(s.calls, 0);
  CHECK(!file_exists());

  /* OFF ignores even a measured result. */
  unsetenv("ZMLX_TUNE");
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 64);
  setenv("ZMLX_TUNE", "off", 1);
  ztune_reset_for_tests();
  int calls = s.calls;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK(same(r.config, dflt));
  CHECK_EQ_INT(s.calls, calls);
  unsetenv("ZMLX_TUNE");
}

static void test_failing_candidate_is_skipped_and_recorded(void) {
  fresh();
  zmlx_tune_space sp = make_space();
  zmlx_tune_key k = make_key("ew_fail#1", 1 << 10, ZMLX_DTYPE_F32);
  /* The cheapest block does not launch: the next cheapest wins. */
  synth s = {.best_block = 128, .fail_block = 128};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_SEARCH);
  CHECK(r.config.block != 128);
  CHECK_EQ_INT(r.config.items, 1);
  CHECK(r.config.block == 64 || r.config.block == 256);
  char *text = file_text();
  CHECK_CONTAINS(text, "\t128\t1\t0\t0\t-\tLAUNCH_FAILED\t");
  CHECK_CONTAINS(text, "\t128\t4\t0\t0\t-\tLAUNCH_FAILED\t");
  free(text);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_entries, 12);
  CHECK_EQ_INT(info.n_failed, 3);
  /* A failure is a result too: it is not tried again. */
  int calls = s.calls;
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls, calls);
  CHECK(r.config.block != 128);
}

static void test_no_candidate_runs(void) {
  fresh();
  zmlx_tune_key k = make_key("ew_dead#1", 8, ZMLX_DTYPE_F32);
  static const int b[] = {512};
  zmlx_tune_space sp;
  CHECK_OK(zmlx_tune_space_product(b, 1, items, 3, NULL, 0, NULL, 0, NULL, NULL, &sp));
  synth s = {.best_block = 512, .fail_block = 512};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK(same(r.config, (zmlx_tune_config){512, 1, 0, 0})); /* nearest to the profile */
  /* One try each (the failing warm-up), then never again. */
  CHECK_EQ_INT(s.calls, 3);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls, 3);
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
}

static void check_replaced_after_search(const char *junk) {
  fresh();
  write_file(junk);
  zmlx_tune_key k = make_key("ew_junk#1", 1 << 12, ZMLX_DTYPE_F32);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_corrupt, 1);
  CHECK_EQ_INT(info.n_entries, 0);
  synth s = {.best_block = 128};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 128);
  /* Replaced by a good file holding just the new lines. */
  ztune_table t = {0};
  char p[PATH_MAX], why[256];
  file_path(p);
  CHECK_EQ_INT(ztune_file_read(p, &t, why, sizeof why), ZTUNE_READ_OK);
  CHECK_EQ_INT(t.n, 2);
  ztune_table_free(&t);
  ztune_reset_for_tests();
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_corrupt, 0);
  CHECK_EQ_INT(info.n_entries, 2);
}

static void test_corrupt_file_is_ignored_and_replaced(void) {
  check_replaced_after_search("\x7f" "ELF\x01\x02 not a table at all\n");
  check_replaced_after_search("# zmlx tune v2\nk\tdev\tarch\t1\t0\t-\tf32\t1\t1\t1\t1\t1.0\tok\t"
                              "2025-01-01T00:00:00Z\n");
  check_replaced_after_search("");
  /* A good header, then a line cut short. */
  check_replaced_after_search("# zmlx tune v1\nk\tdev\tarch\t1\t0\t-\tf32\t1\t1\n");
  /* A bad number. */
  check_replaced_after_search("# zmlx tune v1\nk\tdev\tarch\tx\t0\t-\tf32\t1\t1\t1\t1\t1.0\tok\t"
                              "2025-01-01T00:00:00Z\n");
}

static void test_file_round_trip_and_hand_written_lines(void) {
  fresh();
  zmlx_tune_key k = make_key("hand#1", 3000, ZMLX_DTYPE_F64);
  zmlx_tune_space sp;
  static const int b[] = {128, 256};
  CHECK_OK(zmlx_tune_space_product(b, 2, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &sp));
  /* A file written by hand (or another tool): its best line wins. */
  char line[2048], text[4096];
  snprintf(line, sizeof line, "%s\t%s\t%s\t%d\t0\t4096\tf64", k.kernel, k.device, k.arch,
           k.sm_count);
  snprintf(text, sizeof text,
           "# zmlx tune v1\n# a comment\n\n%s\t128\t0\t0\t0\t9.5\tok\t2025-01-01T00:00:00Z\n"
           "%s\t256\t0\t0\t0\t7.25\tok\t2025-01-01T00:00:00Z\n",
           line, line);
  write_file(text);
  synth s = {.best_block = 128};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls, 0);
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
  CHECK_EQ_INT(r.config.block, 256);
  CHECK(fabs(r.median_us - 7.25) < 1e-9);
}

static int64_t shape1(const zmlx_tune_key *k) { return k->shape[0]; }

static void test_keys_by_bucket_and_dtype(void) {
  fresh();
  CHECK_EQ_INT(zmlx_tune_bucket(0), 0);
  CHECK_EQ_INT(zmlx_tune_bucket(1), 1);
  CHECK_EQ_INT(zmlx_tune_bucket(3), 4);
  CHECK_EQ_INT(zmlx_tune_bucket(1024), 1024);
  CHECK_EQ_INT(zmlx_tune_bucket(1025), 2048);
  CHECK_EQ_INT(zmlx_tune_bucket(-5), 0);
  zmlx_tune_key a = make_key("bucket#1", 1000, ZMLX_DTYPE_F32);
  zmlx_tune_key a2 = make_key("bucket#1", 1024, ZMLX_DTYPE_F32);
  zmlx_tune_key b = make_key("bucket#1", 1025, ZMLX_DTYPE_F32);
  zmlx_tune_key c = make_key("bucket#1", 1000, ZMLX_DTYPE_BF16);
  CHECK_EQ_INT(shape1(&a), 1024);
  CHECK_EQ_INT(shape1(&b), 2048);
  zmlx_device_info info;
  CHECK_OK(zmlx_device_info_get(ZMLX_CPU, &info));
  CHECK(!strcmp(a.device, info.name));
  CHECK(!strcmp(a.arch, info.arch));
  CHECK_EQ_INT(a.sm_count, info.sm_count);

  /* Each key learns its own best; the same bucket shares it. */
  synth sa = {.best_block = 128}, sb = {.best_block = 256}, sc = {.best_block = 256};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &a, small_space(), synth_run, &sa, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 128);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &b, small_space(), synth_run, &sb, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 256);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &c, small_space(), synth_run, &sc, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 256);
  synth none = {.best_block = 256};
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &a2, small_space(), synth_run, &none, &fast_opts, &r));
  CHECK_EQ_INT(none.calls, 0);
  CHECK_EQ_INT(r.config.block, 128);
  zmlx_tune_info ti;
  CHECK_OK(zmlx_tune_info_get(&ti));
  CHECK_EQ_INT(ti.n_keys, 3);

  /* The bandwidth class is part of the key. */
  CHECK_OK(zmlx_tune_set_bandwidth(ZMLX_CPU, 3350.0));
  zmlx_tune_key bw = make_key("bucket#1", 1000, ZMLX_DTYPE_F32);
  CHECK_EQ_INT(bw.bw_class, 12);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &bw, small_space(), NULL, NULL, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK_OK(zmlx_tune_set_bandwidth(ZMLX_CPU, 0));
  CHECK_STATUS(zmlx_tune_set_bandwidth(ZMLX_CPU, -1), ZMLX_STATUS_INVALID_ARGUMENT);
}

static void test_bad_keys_and_arguments(void) {
  fresh();
  zmlx_tune_key k;
  CHECK_OK(zmlx_tune_key_make("tab\there\nnew", ZMLX_CPU, 0, NULL, ZMLX_DTYPE_F32, &k));
  CHECK(!strcmp(k.kernel, "tab here new"));
  int64_t sh[5] = {1, 2, 3, 4, 5};
  CHECK_STATUS(zmlx_tune_key_make("x", ZMLX_CPU, 5, sh, ZMLX_DTYPE_F32, &k),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_key_make("", ZMLX_CPU, 0, NULL, ZMLX_DTYPE_F32, &k),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_key_make("#x", ZMLX_CPU, 0, NULL, ZMLX_DTYPE_F32, &k),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_key_make("x", ZMLX_CPU, 0, NULL, ZMLX_DTYPE_COUNT, &k),
               ZMLX_STATUS_DTYPE_UNSUPPORTED);
  int64_t neg = -1;
  CHECK_STATUS(zmlx_tune_key_make("x", ZMLX_CPU, 1, &neg, ZMLX_DTYPE_F32, &k),
               ZMLX_STATUS_INVALID_ARGUMENT);
  char long_name[200];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = 0;
  CHECK_STATUS(zmlx_tune_key_make(long_name, ZMLX_CPU, 0, NULL, ZMLX_DTYPE_F32, &k),
               ZMLX_STATUS_INVALID_ARGUMENT);

  zmlx_tune_key good = make_key("args#1", 10, ZMLX_DTYPE_F32);
  zmlx_tune_result r;
  k = good;
  k.kernel[1] = '\t';
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), NULL, NULL, NULL, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
  k = good;
  k.kernel[0] = '#';
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), NULL, NULL, NULL, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
  k = good;
  k.bw_class = 65;
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), NULL, NULL, NULL, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_set_bandwidth(ZMLX_CPU, 1e300), ZMLX_STATUS_INVALID_ARGUMENT);
  zmlx_tune_space empty = {0};
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, &good, &empty, NULL, NULL, NULL, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, &good, small_space(), NULL, NULL, &fast_opts, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_pick(ZMLX_CPU, NULL, small_space(), NULL, NULL, NULL, &r),
               ZMLX_STATUS_INVALID_ARGUMENT);
}

static int fits_1024_threads_of_items(void *ctx, const zmlx_tune_config *c) {
  (*(int *)ctx)++;
  return c->block * c->items <= 1024;
}

static void test_space_product(void) {
  static const int b[] = {128, 256, 512, 1024}, it[] = {1, 2, 4}, v[] = {8, 16}, rw[] = {1, 4};
  zmlx_tune_space sp;
  int asked = 0;
  CHECK_OK(zmlx_tune_space_product(b, 4, it, 3, v, 2, rw, 2, fits_1024_threads_of_items, &asked,
                                   &sp));
  CHECK_EQ_INT(asked, 4 * 3 * 2 * 2);
  /* block*items <= 1024: 128x{1,2,4}, 256x{1,2,4}, 512x{1,2}, 1024x1 = 9 pairs. */
  CHECK_EQ_INT(sp.n, 9 * 2 * 2);
  for (int i = 0; i < sp.n; i++) CHECK(sp.v[i].block * sp.v[i].items <= 1024);
  /* Blocks outermost, rows innermost. */
  CHECK(same(sp.v[0], (zmlx_tune_config){128, 1, 8, 1}));
  CHECK(same(sp.v[1], (zmlx_tune_config){128, 1, 8, 4}));
  CHECK(same(sp.v[2], (zmlx_tune_config){128, 1, 16, 1}));
  CHECK_OK(zmlx_tune_space_product(NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &sp));
  CHECK_EQ_INT(sp.n, 1);
  CHECK(same(sp.v[0], (zmlx_tune_config){0, 0, 0, 0}));
  static const int bad[] = {0};
  CHECK_STATUS(zmlx_tune_space_product(bad, 1, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &sp),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_tune_space_product(b, -1, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &sp),
               ZMLX_STATUS_INVALID_ARGUMENT);
  int many[20];
  for (int i = 0; i < 20; i++) many[i] = i + 1;
  CHECK_STATUS(zmlx_tune_space_product(many, 20, many, 20, NULL, 0, NULL, 0, NULL, NULL, &sp),
               ZMLX_STATUS_INVALID_ARGUMENT);
}

typedef struct progress_log {
  int calls;
  int ok;
  double last_best;
} progress_log;

static void on_progress(void *ctx, const zmlx_tune_progress *p) {
  progress_log *l = ctx;
  l->calls++;
  l->ok &= p->index == l->calls && p->n == 12 && !strcmp(p->name, "my kernel");
  l->ok &= p->status == ZMLX_STATUS_OK && p->median_us > 0;
  l->ok &= !(p->best_us > l->last_best) && p->best_us <= p->median_us + 1e-9;
  l->last_best = p->best_us;
}

/* Runs f with stderr going to a file; returns the text (malloc'd). */
static char *capture_stderr(void (*f)(void *), void *ctx) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/stderr.txt", g_dir);
  fflush(stderr);
  int saved = dup(2);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
  f(ctx);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *in = fopen(path, "rb");
  char *buf = calloc(1, 65536);
  if (in) {
    size_t n = fread(buf, 1, 65535, in);
    buf[n] = 0;
    fclose(in);
  }
  return buf;
}

static void progress_search(void *ctx) {
  progress_log *l = ctx;
  zmlx_tune_space sp = make_space();
  zmlx_tune_key k = make_key("ew_progress#1", 77, ZMLX_DTYPE_F32);
  synth s = {.best_block = 512};
  zmlx_tune_options o = fast_opts;
  o.name = "my kernel";
  o.progress = on_progress;
  o.progress_ctx = l;
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &sp, synth_run, &s, &o, &r));
  CHECK(same(r.config, (zmlx_tune_config){512, 1, 0, 0}));
}

static void test_progress(void) {
  fresh();
  unsetenv("ZMLX_TUNE_QUIET");
  progress_log l = {.ok = 1, .last_best = INFINITY};
  char *err = capture_stderr(progress_search, &l);
  CHECK_EQ_INT(l.calls, 12);
  CHECK(l.ok);
  CHECK_CONTAINS(err, "zmlx: tuning my kernel (128 f32) on ");
  CHECK_CONTAINS(err, "zmlx: tuning my kernel [1/12] block=64 items=1: ");
  CHECK_CONTAINS(err, "zmlx: tuning my kernel [12/12] block=512 items=4: ");
  CHECK_CONTAINS(err, "(best ");
  CHECK_CONTAINS(err, "zmlx: tuned my kernel: block=512 items=1, ");
  free(err);

  /* Quiet: the callback still runs, nothing is printed. */
  fresh();
  progress_log q = {.ok = 1, .last_best = INFINITY};
  err = capture_stderr(progress_search, &q);
  CHECK_EQ_INT(q.calls, 12);
  CHECK(q.ok);
  CHECK(err && !strstr(err, "zmlx: tuning"));
  free(err);
}

static void test_only_new_candidates_are_measured(void) {
  fresh();
  zmlx_tune_key k = make_key("ew_grow#1", 1 << 8, ZMLX_DTYPE_F32);
  synth s = {.best_block = 512};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 256);
  int per_candidate = s.calls / 2;
  zmlx_tune_space more;
  static const int b[] = {128, 256, 512};
  CHECK_OK(zmlx_tune_space_product(b, 3, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &more));
  /* Without searching: the best measured so far. */
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &more, NULL, NULL, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
  CHECK_EQ_INT(r.config.block, 256);
  int calls = s.calls;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &more, synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls - calls, per_candidate);
  CHECK_EQ_INT(r.config.block, 512);
}

static void test_nested_pick_does_not_search(void) {
  fresh();
  zmlx_tune_key outer = make_key("outer#1", 64, ZMLX_DTYPE_F32);
  synth s = {.best_block = 128, .nested = 1, .inner = make_key("inner#1", 64, ZMLX_DTYPE_F32)};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &outer, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 128);
  CHECK_EQ_INT(s.nested_result.source, ZMLX_TUNE_FROM_DEFAULT);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_keys, 1);
}

static void test_clear(void) {
  fresh();
  zmlx_tune_key k = make_key("ew_clear#1", 5, ZMLX_DTYPE_F32);
  synth s = {.best_block = 128};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK(file_exists());
  CHECK_OK(zmlx_tune_clear());
  CHECK(!file_exists());
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_entries, 0);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), NULL, NULL, NULL, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  CHECK_OK(zmlx_tune_clear()); /* nothing to remove */
}

static void test_without_disk_cache(void) {
  fresh();
  setenv("ZMLX_DISK_CACHE", "0", 1);
  ztune_reset_for_tests();
  zmlx_tune_key k = make_key("ew_mem#1", 5, ZMLX_DTYPE_F32);
  synth s = {.best_block = 256};
  zmlx_tune_result r;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.config.block, 256);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK(info.path[0] == 0);
  CHECK_EQ_INT(info.n_entries, 2);
  CHECK(!file_exists());
  int calls = s.calls;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls, calls);
  unsetenv("ZMLX_DISK_CACHE");
}

/* Another process's lines, written while this one holds its own. */
static void test_merge_keeps_other_writers_lines(void) {
  fresh();
  synth s = {.best_block = 128};
  zmlx_tune_result r;
  zmlx_tune_key a = make_key("merge_a#1", 5, ZMLX_DTYPE_F32);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &a, small_space(), synth_run, &s, &fast_opts, &r));

  ztune_table other = {0};
  zmlx_tune_key b = make_key("merge_b#1", 5, ZMLX_DTYPE_F32);
  char text[ZTUNE_KEY_TEXT];
  const char *why;
  CHECK(ztune_key_text(&b, text, &why));
  ztune_entry e = {.key = text, .hash = ztune_hash(text), .config = {256, 0, 0, 0}, .us = 3.5,
                   .status = "ok", .date = "2025-01-01T00:00:00Z", .next = -1};
  CHECK_EQ_INT(ztune_table_put(&other, &e), 0);
  e.config.block = 128;
  e.us = 4.5;
  CHECK_EQ_INT(ztune_table_put(&other, &e), 0);
  char corrupt[256];
  CHECK_OK(ztune_file_merge_store(g_dir, &other, corrupt, sizeof corrupt));
  CHECK(corrupt[0] == 0);
  CHECK_EQ_INT(other.n_keys, 2); /* the other writer now sees a's lines too */
  ztune_table_free(&other);

  zmlx_tune_key c = make_key("merge_c#1", 5, ZMLX_DTYPE_F32);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &c, small_space(), synth_run, &s, &fast_opts, &r));
  char *t = file_text();
  CHECK_CONTAINS(t, "merge_a#1\t");
  CHECK_CONTAINS(t, "merge_b#1\t");
  CHECK_CONTAINS(t, "merge_c#1\t");
  free(t);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_keys, 3);
  /* b came from the file, so this process answers it without running. */
  int calls = s.calls;
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &b, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(s.calls, calls);
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
  CHECK_EQ_INT(r.config.block, 256);
}

/* Processes tuning at once keep every line of each other. */
static void test_processes_tuning_at_once(void) {
  fresh();
  enum { N_PROC = 3, N_KEYS = 4 };
  pid_t pids[N_PROC];
  for (int p = 0; p < N_PROC; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      int bad = 0;
      for (int i = 0; i < N_KEYS; i++) {
        char name[32];
        snprintf(name, sizeof name, "proc%d_key%d", p, i);
        int64_t n = 5;
        zmlx_tune_key k;
        synth s = {.best_block = 256};
        zmlx_tune_options o = {.mode = ZMLX_TUNE_SEARCH, .warmup = 1, .iters = 1};
        zmlx_tune_result r;
        bad |= zmlx_tune_key_make(name, ZMLX_CPU, 1, &n, ZMLX_DTYPE_F32, &k) != 0;
        bad |= zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &o, &r) != 0;
      }
      _exit(bad);
    }
  }
  for (int p = 0; p < N_PROC; p++) {
    int st = 0;
    CHECK(waitpid(pids[p], &st, 0) == pids[p]);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  ztune_reset_for_tests();
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_keys, N_PROC * N_KEYS);
  CHECK_EQ_INT(info.n_entries, N_PROC * N_KEYS * 2);
  CHECK_EQ_INT(info.n_corrupt, 0);
}

/* Answers are remembered between picks; any change to the table, the
 * space's contents or the mode must still be seen. */
static void test_remembered_answers_follow_changes(void) {
  fresh();
  zmlx_tune_key k = make_key("memo#1", 1 << 9, ZMLX_DTYPE_F32);
  synth s = {.best_block = 256};
  zmlx_tune_options table = {.mode = ZMLX_TUNE_TABLE}, off = {.mode = ZMLX_TUNE_OFF};
  zmlx_tune_result r;
  for (int i = 0; i < 2; i++) {
    CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &table, &r));
    CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  }
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &fast_opts, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_SEARCH);
  CHECK(s.calls > 0);
  for (int i = 0; i < 2; i++) {
    CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &table, &r));
    CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
    CHECK_EQ_INT(r.config.block, 256);
    CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), synth_run, &s, &off, &r));
    CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
  }
  /* Same size, other contents: 512 was never measured, 128 was. */
  zmlx_tune_space other;
  static const int b[] = {128, 512};
  CHECK_OK(zmlx_tune_space_product(b, 2, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, &other));
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, &other, NULL, NULL, &table, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
  CHECK_EQ_INT(r.config.block, 128);
  /* Bytes past the end of a name do not matter. */
  zmlx_tune_key dirty = k;
  size_t len = strlen(dirty.kernel);
  memset(dirty.kernel + len + 1, 'x', sizeof dirty.kernel - len - 2);
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &dirty, small_space(), NULL, NULL, &table, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_TABLE);
  CHECK_EQ_INT(r.config.block, 256);
  /* Cleared: back to the default. */
  CHECK_OK(zmlx_tune_clear());
  CHECK_OK(zmlx_tune_pick(ZMLX_CPU, &k, small_space(), NULL, NULL, &table, &r));
  CHECK_EQ_INT(r.source, ZMLX_TUNE_FROM_DEFAULT);
}

typedef struct racer {
  zmlx_tune_key key;
  synth s;
  zmlx_tune_result r;
  zmlx_status st;
} racer;

static void *race(void *p) {
  racer *x = p;
  x->st = zmlx_tune_pick(ZMLX_CPU, &x->key, small_space(), synth_run, &x->s, &fast_opts, &x->r);
  return NULL;
}

/* Threads asking for one key at once: one searches, the others wait and
 * get its answer. */
static void test_threads_share_one_search(void) {
  fresh();
  enum { N = 4 };
  racer x[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    memset(&x[i], 0, sizeof x[i]);
    x[i].key = make_key("race#1", 1 << 14, ZMLX_DTYPE_F32);
    x[i].s.best_block = 128;
    CHECK(pthread_create(&th[i], NULL, race, &x[i]) == 0);
  }
  int searched = 0, calls = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CHECK_OK(x[i].st);
    CHECK_EQ_INT(x[i].r.config.block, 128);
    searched += x[i].r.source == ZMLX_TUNE_FROM_SEARCH;
    calls += x[i].s.calls;
  }
  CHECK_EQ_INT(searched, 1);
  CHECK_EQ_INT(calls, 2 * 10);
  zmlx_tune_info info;
  CHECK_OK(zmlx_tune_info_get(&info));
  CHECK_EQ_INT(info.n_searches, 1);
}

static void test_median(void) {
  double a[] = {5, 1, 3};
  CHECK(ztune_median(a, 3) == 3);
  double b[] = {4, 1, 3, 2};
  CHECK(ztune_median(b, 4) == 2.5);
  double c[] = {7};
  CHECK(ztune_median(c, 1) == 7);
}

ZT_MAIN(ZT(test_picks_cheapest_and_records_every_candidate),
        ZT(test_stored_best_is_reused_without_running), ZT(test_env_search_mode),
        ZT(test_off_gives_profile_default_and_writes_nothing),
        ZT(test_failing_candidate_is_skipped_and_recorded), ZT(test_no_candidate_runs),
        ZT(test_corrupt_file_is_ignored_and_replaced),
        ZT(test_file_round_trip_and_hand_written_lines), ZT(test_keys_by_bucket_and_dtype),
        ZT(test_bad_keys_and_arguments), ZT(test_space_product), ZT(test_progress),
        ZT(test_only_new_candidates_are_measured), ZT(test_nested_pick_does_not_search),
        ZT(test_clear), ZT(test_without_disk_cache), ZT(test_merge_keeps_other_writers_lines),
        ZT(test_processes_tuning_at_once), ZT(test_threads_share_one_search),
        ZT(test_remembered_answers_follow_changes), ZT(test_median))
