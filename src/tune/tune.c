/* zmlx_tune_pick: the table in memory (loaded once from the file), the
 * search that fills it, progress reports, info and clear. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "kernel/disk_cache.h"
#include "tune/tune_internal.h"

/* Progress lines start past this many candidates, or this long into a
 * search: shorter searches finish before anyone wonders. */
#define PROGRESS_MIN_CANDIDATES 8
#define PROGRESS_AFTER_MS 1000.0

/* A launch path asks the same question over and over. Formatting the key
 * and walking its entries for every candidate costs about a microsecond,
 * as much as a quarter of a launch; a remembered answer costs a tenth of
 * that. What the table says holds while the table is unchanged (its
 * generation); a default holds for good. */
#define MEMO_SLOTS 64

typedef struct found {
  int n_tried;   /* candidates of the space with an entry, failed or not */
  int best;      /* index in the space of the fastest, -1 when none ran */
  double best_us;
} found;

typedef struct memo {
  int used;
  zmlx_device dev;
  zmlx_tune_key key;
  int n;                 /* the space: n candidates, */
  zmlx_tune_config *v;   /* a copy of them (malloc'd) */
  int f_known;
  uint64_t f_gen;        /* the table's generation when f was found */
  found f;
  int dflt_known;
  zmlx_tune_config dflt;
} memo;

typedef struct tune_state {
  int resolved;            /* mode and folder read from the environment */
  int loaded;              /* the file has been read (or found missing) */
  int corrupt_known;       /* ... and found corrupt: warned about once */
  zmlx_tune_mode env_mode; /* SEARCH, TABLE or OFF */
  char dir[PATH_MAX];      /* "" when results are not saved */
  ztune_table table;
  uint64_t gen;            /* bumped by every change to table */
  memo memo[MEMO_SLOTS];
  uint64_t n_searches, n_timed, n_corrupt;
} tune_state;

/* g_lock guards g; g_search_lock lets one search run at a time, so that
 * two searches never time each other's kernels. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_search_lock = PTHREAD_MUTEX_INITIALIZER;
static tune_state g;
/* Set while this thread searches: a pick from inside a run callback must
 * not wait for the search it is part of. */
static _Thread_local int t_searching;

/* ---- State --------------------------------------------------------------- */

static zmlx_tune_mode read_env_mode(void) {
  if (!zmlx_env("ZMLX_TUNE")) return ZMLX_TUNE_TABLE;
  return zmlx_env_flag("ZMLX_TUNE", 0) ? ZMLX_TUNE_SEARCH : ZMLX_TUNE_OFF;
}

static void resolve_locked(void) {
  if (g.resolved) return;
  g.resolved = 1;
  g.env_mode = read_env_mode();
  /* The kernel cache's folder: one place to find, move or delete. */
  snprintf(g.dir, sizeof g.dir, "%s", zk_disk_cache_dir());
}

static void load_locked(void) {
  resolve_locked();
  if (g.loaded) return;
  g.loaded = 1;
  g.gen++;
  if (!g.dir[0]) return;
  char path[PATH_MAX], why[256];
  snprintf(path, sizeof path, "%s/%s", g.dir, ZTUNE_FILE_NAME);
  switch (ztune_file_read(path, &g.table, why, sizeof why)) {
    case ZTUNE_READ_OK:
    case ZTUNE_READ_MISSING:
      break;
    case ZTUNE_READ_CORRUPT:
      g.n_corrupt++;
      g.corrupt_known = 1;
      zmlx_log(ZMLX_LOG_WARN,
               "tune: ignoring the corrupt or foreign table %s (%s); the next search "
               "replaces it",
               path, why);
      break;
    case ZTUNE_READ_IO:
    case ZTUNE_READ_NOMEM:
      zmlx_log(ZMLX_LOG_WARN, "tune: cannot read %s (%s); starting empty", path,
               why[0] ? why : "out of host memory");
      break;
  }
}

/* ---- Lookup -------------------------------------------------------------- */

/* What the table holds for the space's candidates under key. */
static found lookup(const char *key, uint64_t hash, const zmlx_tune_space *space,
                    uint64_t *gen) {
  found f = {0, -1, NAN};
  pthread_mutex_lock(&g_lock);
  load_locked();
  *gen = g.gen;
  if (ztune_table_first(&g.table, key, hash) >= 0) {
    for (int i = 0; i < space->n; i++) {
      int e = ztune_table_find(&g.table, key, hash, &space->v[i]);
      if (e < 0) continue;
      f.n_tried++;
      double us = g.table.v[e].us;
      if (!isnan(us) && (f.best < 0 || us < f.best_us)) {
        f.best = i;
        f.best_us = us;
      }
    }
  }
  pthread_mutex_unlock(&g_lock);
  return f;
}

static int untried(const char *key, uint64_t hash, const zmlx_tune_space *space, int *pending) {
  int n = 0;
  pthread_mutex_lock(&g_lock);
  for (int i = 0; i < space->n; i++)
    if (ztune_table_find(&g.table, key, hash, &space->v[i]) < 0) pending[n++] = i;
  pthread_mutex_unlock(&g_lock);
  return n;
}

/* ---- Remembered answers --------------------------------------------------- */

/* Field by field: bytes past a string's end may differ between callers. */
static int same_key(const zmlx_tune_key *a, const zmlx_tune_key *b) {
  if (strcmp(a->kernel, b->kernel) || strcmp(a->device, b->device) || strcmp(a->arch, b->arch) ||
      a->sm_count != b->sm_count || a->bw_class != b->bw_class || a->ndim != b->ndim ||
      a->dtype != b->dtype)
    return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

/* FNV-1a over what most often tells questions apart; slots are checked
 * exactly, so a collision only costs a miss. */
static unsigned memo_index(zmlx_device dev, const zmlx_tune_key *key, int n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < sizeof key->kernel && key->kernel[i]; i++)
    h = (h ^ (unsigned char)key->kernel[i]) * 0x100000001b3ULL;
  uint64_t more[4] = {(uint64_t)n, (uint64_t)key->dtype,
                      key->ndim ? (uint64_t)key->shape[0] : 0, (uint64_t)dev.index};
  for (int i = 0; i < 4; i++) h = (h ^ more[i]) * 0x100000001b3ULL;
  return (unsigned)(h ^ h >> 32) & (MEMO_SLOTS - 1);
}

/* The slot for (dev, key, space); *same says whether it holds them. */
static memo *memo_slot_locked(zmlx_device dev, const zmlx_tune_key *key,
                              const zmlx_tune_space *space, int *same) {
  memo *m = &g.memo[memo_index(dev, key, space->n)];
  *same = m->used && m->n == space->n && m->dev.type == dev.type && m->dev.index == dev.index &&
          same_key(&m->key, key) && !memcmp(m->v, space->v, sizeof *m->v * (size_t)space->n);
  return m;
}

static void memo_free(memo *m) {
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* The slot for (dev, key, space), taken over from whatever it held; NULL
 * when out of memory (the answer is then simply not remembered). */
static memo *memo_claim_locked(zmlx_device dev, const zmlx_tune_key *key,
                               const zmlx_tune_space *space) {
  int same;
  memo *m = memo_slot_locked(dev, key, space, &same);
  if (same) return m;
  memo_free(m);
  size_t bytes = sizeof *m->v * (size_t)space->n;
  if (!(m->v = malloc(bytes))) return NULL;
  memcpy(m->v, space->v, bytes);
  m->used = 1;
  m->dev = dev;
  m->key = *key;
  m->n = space->n;
  return m;
}

static void remember_found(zmlx_device dev, const zmlx_tune_key *key,
                           const zmlx_tune_space *space, const found *f, uint64_t gen) {
  pthread_mutex_lock(&g_lock);
  memo *m = memo_claim_locked(dev, key, space);
  if (m) {
    m->f = *f;
    m->f_gen = gen;
    m->f_known = 1;
  }
  pthread_mutex_unlock(&g_lock);
}

static void remember_default(zmlx_device dev, const zmlx_tune_key *key,
                             const zmlx_tune_space *space, const zmlx_tune_config *c) {
  pthread_mutex_lock(&g_lock);
  memo *m = memo_claim_locked(dev, key, space);
  if (m) {
    m->dflt = *c;
    m->dflt_known = 1;
  }
  pthread_mutex_unlock(&g_lock);
}

static void memo_clear_locked(void) {
  for (int i = 0; i < MEMO_SLOTS; i++) memo_free(&g.memo[i]);
}

/* The question of one pick: its mode, and what is remembered about it. */
typedef struct question {
  zmlx_device dev;
  const zmlx_tune_key *key;
  const zmlx_tune_space *space;
  zmlx_tune_mode mode;
  int hit;               /* the memo knew (dev, key, space) */
  int f_known, dflt_known;
  found f;
  zmlx_tune_config dflt;
} question;

static void ask(question *q, const zmlx_tune_options *opt) {
  pthread_mutex_lock(&g_lock);
  resolve_locked();
  q->mode = opt && opt->mode != ZMLX_TUNE_ENV ? opt->mode : g.env_mode;
  memo *m = memo_slot_locked(q->dev, q->key, q->space, &q->hit);
  if (q->hit) {
    q->f_known = m->f_known && m->f_gen == g.gen;
    q->f = m->f;
    q->dflt_known = m->dflt_known;
    q->dflt = m->dflt;
  }
  pthread_mutex_unlock(&g_lock);
}

static zmlx_status answer_default(const question *q, const zmlx_tune_options *opt,
                                  zmlx_tune_result *out) {
  out->source = ZMLX_TUNE_FROM_DEFAULT;
  out->median_us = NAN;
  if (opt && opt->fallback) {
    out->config = *opt->fallback;
    return ZMLX_STATUS_OK;
  }
  if (q->dflt_known) {
    out->config = q->dflt;
    return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(zmlx_tune_default(q->dev, q->space, &out->config));
  remember_default(q->dev, q->key, q->space, &out->config);
  return ZMLX_STATUS_OK;
}

static void answer_found(const zmlx_tune_space *space, const found *f,
                         zmlx_tune_source source, zmlx_tune_result *out) {
  out->config = space->v[f->best];
  out->median_us = f->best_us;
  out->source = source;
}

/* ---- Progress ------------------------------------------------------------ */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* "block=256 items=2": the fields that apply. */
static const char *config_text(const zmlx_tune_config *c, char *buf, size_t cap) {
  const char *names[4] = {"block", "items", "vec", "rows"};
  int v[4] = {c->block, c->items, c->vec, c->rows};
  size_t len = 0;
  buf[0] = 0;
  for (int f = 0; f < 4 && len < cap; f++) {
    if (!v[f]) continue;
    int n = snprintf(buf + len, cap - len, "%s%s=%d", len ? " " : "", names[f], v[f]);
    if (n > 0) len += (size_t)n;
  }
  if (!buf[0]) snprintf(buf, cap, "(no parameters)");
  return buf;
}

typedef struct search {
  const zmlx_tune_key *key;
  const zmlx_tune_options *opt;
  const char *name;
  int n;             /* candidates to measure */
  int n_failed;
  int printing;      /* progress lines have started */
  double t0_ms;
  zmlx_tune_progress p;
} search;

static void print_start(search *s) {
  char shape[ZMLX_TUNE_MAX_DIMS * 21 + 1];
  ztune_shape_text(s->key, shape, sizeof shape);
  fprintf(stderr, "zmlx: tuning %s (%s %s) on %s: %d candidates\n", s->name, shape,
          zmlx_dtype_name(s->key->dtype), s->key->device, s->n);
  s->printing = 1;
}

static void print_step(const search *s) {
  char c[96], b[96];
  config_text(&s->p.config, c, sizeof c);
  if (s->p.status != ZMLX_STATUS_OK)
    fprintf(stderr, "zmlx: tuning %s [%d/%d] %s: failed (%s)\n", s->name, s->p.index, s->n, c,
            zmlx_status_name(s->p.status));
  else
    fprintf(stderr, "zmlx: tuning %s [%d/%d] %s: %.1f us (best %.1f us, %s)\n", s->name,
            s->p.index, s->n, c, s->p.median_us, s->p.best_us,
            config_text(&s->p.best, b, sizeof b));
}

static void report(search *s) {
  if (s->opt && s->opt->progress) s->opt->progress(s->opt->progress_ctx, &s->p);
  if (zmlx_env_flag("ZMLX_TUNE_QUIET", 0)) return;
  if (!s->printing &&
      (s->n > PROGRESS_MIN_CANDIDATES || now_ms() - s->t0_ms > PROGRESS_AFTER_MS))
    print_start(s);
  if (s->printing) print_step(s);
}

/* ---- Search -------------------------------------------------------------- */

static void utc_now(char out[24]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "ok", or the status's name without its ZMLX_STATUS_ prefix. */
static void status_text(zmlx_status st, char out[32]) {
  const char *name = zmlx_status_name(st);
  const char *prefix = "ZMLX_STATUS_";
  if (st == ZMLX_STATUS_OK) name = "ok";
  else if (!strncmp(name, prefix, strlen(prefix))) name += strlen(prefix);
  snprintf(out, 32, "%s", name);
}

static void record(const char *key, uint64_t hash, const zmlx_tune_config *c, zmlx_status st,
                   double us) {
  ztune_entry e = {.key = (char *)key, .hash = hash, .config = *c, .us = us, .next = -1};
  status_text(st, e.status);
  utc_now(e.date);
  pthread_mutex_lock(&g_lock);
  int bad = ztune_table_put(&g.table, &e);
  g.gen++;
  g.n_timed++;
  pthread_mutex_unlock(&g_lock);
  if (bad) zmlx_log(ZMLX_LOG_WARN, "tune: out of host memory; a result is not kept");
}

static void note(search *s, const zmlx_tune_config *c, zmlx_status st, double us) {
  s->p.index++;
  s->p.config = *c;
  s->p.status = st;
  s->p.median_us = us;
  if (st == ZMLX_STATUS_OK && (isnan(s->p.best_us) || us < s->p.best_us)) {
    s->p.best = *c;
    s->p.best_us = us;
  }
  if (st != ZMLX_STATUS_OK) s->n_failed++;
  report(s);
}

/* Times each candidate in pending, recording each as it is measured. */
static zmlx_status time_all(search *s, zmlx_device dev, const char *key, uint64_t hash,
                            const zmlx_tune_space *space, const int *pending,
                            zmlx_tune_run_fn run, void *ctx) {
  ztune_timer timer;
  ZMLX_TRY(ztune_timer_init(&timer, dev, s->opt));
  zmlx_status err = ZMLX_STATUS_OK;
  for (int k = 0; k < s->n && !err; k++) {
    const zmlx_tune_config *c = &space->v[pending[k]];
    zmlx_status st;
    double us;
    err = ztune_time_candidate(&timer, run, ctx, c, &st, &us);
    if (err) break;
    record(key, hash, c, st, us);
    note(s, c, st, us);
  }
  ztune_timer_free(&timer);
  return err;
}

static void save(void) {
  char corrupt[256] = "";
  pthread_mutex_lock(&g_lock);
  g.n_searches++;
  zmlx_status s = g.dir[0] ? ztune_file_merge_store(g.dir, &g.table, corrupt, sizeof corrupt)
                           : ZMLX_STATUS_OK;
  g.gen++; /* other processes' lines came in */
  /* Damage found at load time was reported then; new damage is news. */
  if (corrupt[0] && !g.corrupt_known) {
    g.n_corrupt++;
    zmlx_log(ZMLX_LOG_WARN, "tune: replaced the corrupt or foreign table %s/%s (%s)", g.dir,
             ZTUNE_FILE_NAME, corrupt);
  }
  if (!s) g.corrupt_known = 0;
  pthread_mutex_unlock(&g_lock);
  if (s) zmlx_log(ZMLX_LOG_WARN, "tune: results kept in memory only: %s", zmlx_error_last());
}

static void print_end(const search *s, const found *f, const zmlx_tune_space *space) {
  if (!s->printing) return;
  char c[96];
  if (f->best < 0) {
    fprintf(stderr, "zmlx: tuning %s: no candidate ran\n", s->name);
    return;
  }
  fprintf(stderr, "zmlx: tuned %s: %s, %.1f us (%d measured, %d failed, %.1f s)\n", s->name,
          config_text(&space->v[f->best], c, sizeof c), f->best_us, s->p.index, s->n_failed,
          (now_ms() - s->t0_ms) / 1e3);
}

static zmlx_status run_search(const question *q, const char *text, uint64_t hash,
                              zmlx_tune_run_fn run, void *ctx, const zmlx_tune_options *opt,
                              zmlx_tune_result *out) {
  int pending[ZMLX_TUNE_MAX_CANDIDATES];
  search s = {.key = q->key, .opt = opt, .name = opt && opt->name ? opt->name : q->key->kernel,
              .t0_ms = now_ms()};
  s.p.name = s.name;
  s.p.best_us = NAN;
  /* Another thread may have measured these while this one waited. */
  s.n = s.p.n = untried(text, hash, q->space, pending);
  zmlx_status err = ZMLX_STATUS_OK;
  if (s.n > 0) {
    err = time_all(&s, q->dev, text, hash, q->space, pending, run, ctx);
    /* Whatever was measured before a failure is still worth keeping. */
    if (s.p.index > 0) save();
  }
  uint64_t gen;
  found f = lookup(text, hash, q->space, &gen);
  print_end(&s, &f, q->space);
  if (err) return err;
  if (f.best >= 0) {
    answer_found(q->space, &f, s.n > 0 ? ZMLX_TUNE_FROM_SEARCH : ZMLX_TUNE_FROM_TABLE, out);
    return ZMLX_STATUS_OK;
  }
  zmlx_log(ZMLX_LOG_WARN, "tune: no candidate of %s ran; using the default", s.name);
  return answer_default(q, opt, out);
}

static zmlx_status search_locked(const question *q, zmlx_tune_run_fn run, void *ctx,
                                 const zmlx_tune_options *opt, zmlx_tune_result *out) {
  char text[ZTUNE_KEY_TEXT];
  const char *why;
  ztune_key_text(q->key, text, &why); /* checked by the caller */
  pthread_mutex_lock(&g_search_lock);
  t_searching = 1;
  zmlx_status s = run_search(q, text, ztune_hash(text), run, ctx, opt, out);
  t_searching = 0;
  pthread_mutex_unlock(&g_search_lock);
  return s;
}

/* ---- API ----------------------------------------------------------------- */

static zmlx_status check_key(const zmlx_tune_key *key) {
  char text[ZTUNE_KEY_TEXT];
  const char *why;
  if (ztune_key_text(key, text, &why)) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.pick", "bad key: %s", why);
}

/* What the table says about q, remembered until the table changes. */
static found table_answer(question *q) {
  if (q->f_known) return q->f;
  char text[ZTUNE_KEY_TEXT];
  const char *why;
  ztune_key_text(q->key, text, &why); /* checked on the way in */
  uint64_t gen;
  found f = lookup(text, ztune_hash(text), q->space, &gen);
  remember_found(q->dev, q->key, q->space, &f, gen);
  return f;
}

zmlx_status zmlx_tune_pick(zmlx_device dev, const zmlx_tune_key *key,
                           const zmlx_tune_space *space, zmlx_tune_run_fn run, void *ctx,
                           const zmlx_tune_options *opt, zmlx_tune_result *out) {
  static const char op[] = "tune.pick";
  if (!key || !space || !out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument");
  if (space->n < 1 || space->n > ZMLX_TUNE_MAX_CANDIDATES)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "%d candidates (want 1 to %d)",
                     space->n, ZMLX_TUNE_MAX_CANDIDATES);
  question q = {.dev = dev, .key = key, .space = space};
  ask(&q, opt);
  /* A remembered key was checked when it was first asked about. */
  if (!q.hit) ZMLX_TRY(check_key(key));
  if (q.mode == ZMLX_TUNE_SEARCH && t_searching) q.mode = ZMLX_TUNE_TABLE;
  if (q.mode == ZMLX_TUNE_OFF) return answer_default(&q, opt, out);
  if (q.mode == ZMLX_TUNE_SEARCH && !run)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "searching for %s needs a run callback",
                     key->kernel);
  found f = table_answer(&q);
  if (q.mode == ZMLX_TUNE_SEARCH && f.n_tried < space->n)
    return search_locked(&q, run, ctx, opt, out);
  if (f.best < 0) return answer_default(&q, opt, out);
  answer_found(space, &f, ZMLX_TUNE_FROM_TABLE, out);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tune_info_get(zmlx_tune_info *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tune.info", "out is NULL");
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&g_lock);
  load_locked();
  if (g.dir[0]) snprintf(out->path, sizeof out->path, "%s/%s", g.dir, ZTUNE_FILE_NAME);
  out->mode = g.env_mode;
  out->n_keys = (uint64_t)g.table.n_keys;
  out->n_entries = (uint64_t)g.table.n;
  for (int i = 0; i < g.table.n; i++) out->n_failed += isnan(g.table.v[i].us);
  out->n_searches = g.n_searches;
  out->n_timed = g.n_timed;
  out->n_corrupt = g.n_corrupt;
  pthread_mutex_unlock(&g_lock);
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tune_clear(void) {
  pthread_mutex_lock(&g_lock);
  resolve_locked();
  ztune_table_free(&g.table);
  g.gen++;
  /* Nothing left to load: the file goes too. */
  g.loaded = 1;
  zmlx_status s = g.dir[0] ? ztune_file_remove(g.dir) : ZMLX_STATUS_OK;
  pthread_mutex_unlock(&g_lock);
  return s;
}

void ztune_shutdown(void) {
  pthread_mutex_lock(&g_lock);
  ztune_table_free(&g.table);
  memo_clear_locked();
  g.gen++;
  g.loaded = 0;
  pthread_mutex_unlock(&g_lock);
}

void ztune_reset_for_tests(void) {
  zk_disk_cache_reset_for_tests();
  ztune_devices_reset();
  pthread_mutex_lock(&g_lock);
  ztune_table_free(&g.table);
  memo_clear_locked();
  memset(&g, 0, sizeof g);
  pthread_mutex_unlock(&g_lock);
}
