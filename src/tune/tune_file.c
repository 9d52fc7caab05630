/* The table's file: one tab-separated line per measured configuration
 * under a versioned header, replaced atomically under a lock so that
 * processes tuning at once merge rather than overwrite each other. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/error.h"
#include "tune/tune_internal.h"

/* The version is also in the file's name, so a later format gets a file of
 * its own and this header only has to catch damage and strangers. */
static const char header[] = "# zmlx tune v1";
static const char columns[] =
    "# kernel\tdevice\tarch\tsm_count\tbw_class\tshape\tdtype\tblock\titems\tvec\trows\t"
    "median_us\tstatus\tdate";

#define N_FIELDS 14
#define MAX_LINE 4096

/* ---- Parsing ----------------------------------------------------------- */

static int parse_int(const char *s, long lo, long hi, int *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!s[0] || *end || errno || v < lo || v > hi) return 0;
  *out = (int)v;
  return 1;
}

static int copy_field(const char *s, char *out, size_t cap) {
  size_t n = strlen(s);
  if (n >= cap) return 0;
  memcpy(out, s, n + 1);
  return 1;
}

/* "-" or up to ZMLX_TUNE_MAX_DIMS sizes joined by 'x'. */
static int parse_shape(const char *s, zmlx_tune_key *k) {
  k->ndim = 0;
  if (!strcmp(s, "-")) return 1;
  for (;;) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0 || k->ndim == ZMLX_TUNE_MAX_DIMS) return 0;
    k->shape[k->ndim++] = v;
    if (!*end) return 1;
    if (*end != 'x') return 0;
    s = end + 1;
  }
}

static int parse_status(const char *s, char out[32]) {
  size_t n = strlen(s);
  if (n == 0 || n >= 32) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  memcpy(out, s, n + 1);
  return 1;
}

/* "2025-01-31T12:00:00Z": fixed width, so dates compare as strings. */
static int parse_date(const char *s, char out[24]) {
  static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (strlen(s) != sizeof shape - 1) return 0;
  for (size_t i = 0; shape[i]; i++)
    if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) return 0;
  memcpy(out, s, sizeof shape);
  return 1;
}

/* A median in µs for "ok" lines; "-" for failed ones. */
static int parse_us(const char *s, const char *status, double *us) {
  if (strcmp(status, "ok")) {
    *us = NAN;
    return !strcmp(s, "-");
  }
  char *end = NULL;
  errno = 0;
  *us = strtod(s, &end);
  return s[0] && !*end && !errno && isfinite(*us) && *us >= 0;
}

static int split(char *line, char **f) {
  int n = 0;
  for (char *p = line;; p++) {
    if (n == N_FIELDS) return 0;
    f[n++] = p;
    p = strchr(p, '\t');
    if (!p) return n;
    *p = 0;
  }
}

static const char *parse_key(char **f, zmlx_tune_key *k) {
  memset(k, 0, sizeof *k);
  if (!copy_field(f[0], k->kernel, sizeof k->kernel) || !k->kernel[0]) return "bad kernel";
  if (!copy_field(f[1], k->device, sizeof k->device)) return "bad device";
  if (!copy_field(f[2], k->arch, sizeof k->arch)) return "bad arch";
  if (!parse_int(f[3], 0, INT_MAX, &k->sm_count)) return "bad sm_count";
  if (!parse_int(f[4], 0, ZTUNE_MAX_BW_CLASS, &k->bw_class)) return "bad bw_class";
  if (!parse_shape(f[5], k)) return "bad shape";
  zmlx_dtype t;
  if (zmlx_dtype_parse(f[6], &t)) return "bad dtype";
  k->dtype = t;
  return NULL;
}

static const char *parse_config(char **f, zmlx_tune_config *c) {
  if (!parse_int(f[7], 0, INT_MAX, &c->block)) return "bad block";
  if (!parse_int(f[8], 0, INT_MAX, &c->items)) return "bad items";
  if (!parse_int(f[9], 0, INT_MAX, &c->vec)) return "bad vec";
  if (!parse_int(f[10], 0, INT_MAX, &c->rows)) return "bad rows";
  return NULL;
}

/* Parses one line into e (whose key points into key_text); returns what
 * is wrong with it, or NULL. */
static const char *parse_line(char *line, ztune_entry *e, char key_text[ZTUNE_KEY_TEXT]) {
  char *f[N_FIELDS];
  if (split(line, f) != N_FIELDS) return "not 14 tab-separated fields";
  zmlx_tune_key k;
  const char *bad = parse_key(f, &k);
  if (!bad) bad = parse_config(f, &e->config);
  if (bad) return bad;
  if (!parse_status(f[12], e->status)) return "bad status";
  if (!parse_us(f[11], e->status, &e->us)) return "bad median_us";
  if (!parse_date(f[13], e->date)) return "bad date";
  const char *why;
  if (!ztune_key_text(&k, key_text, &why)) return why;
  /* Re-written from the parsed fields, so "007" and "7" are one key. */
  e->key = key_text;
  e->hash = ztune_hash(key_text);
  e->next = -1;
  return NULL;
}

static void chomp(char *line, ssize_t *n) {
  while (*n > 0 && (line[*n - 1] == '\n' || line[*n - 1] == '\r')) line[--*n] = 0;
}

static ztune_read read_lines(FILE *f, ztune_table *t, char *why, size_t why_len) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long no = 0;
  ztune_read r = ZTUNE_READ_OK;
  char key_text[ZTUNE_KEY_TEXT];
  while (r == ZTUNE_READ_OK && (n = getline(&line, &cap, f)) >= 0) {
    no++;
    chomp(line, &n);
    if (no == 1 && strcmp(line, header)) {
      snprintf(why, why_len, "line 1 is not \"%s\"", header);
      r = ZTUNE_READ_CORRUPT;
    } else if (n >= MAX_LINE || memchr(line, 0, (size_t)n)) {
      snprintf(why, why_len, "line %ld is not text of at most %d bytes", no, MAX_LINE);
      r = ZTUNE_READ_CORRUPT;
    } else if (line[0] != '#' && n > 0) {
      ztune_entry e;
      const char *bad = parse_line(line, &e, key_text);
      if (bad) {
        snprintf(why, why_len, "line %ld: %s", no, bad);
        r = ZTUNE_READ_CORRUPT;
      } else if (ztune_table_put(t, &e)) {
        r = ZTUNE_READ_NOMEM;
      }
    }
  }
  if (r == ZTUNE_READ_OK && ferror(f)) {
    snprintf(why, why_len, "%s", strerror(errno));
    r = ZTUNE_READ_IO;
  } else if (r == ZTUNE_READ_OK && no == 0) {
    snprintf(why, why_len, "the file is empty");
    r = ZTUNE_READ_CORRUPT;
  }
  free(line);
  return r;
}

ztune_read ztune_file_read(const char *path, ztune_table *t, char *why, size_t why_len) {
  ztune_table_free(t);
  why[0] = 0;
  FILE *f = fopen(path, "re");
  if (!f) {
    snprintf(why, why_len, "%s", strerror(errno));
    return errno == ENOENT ? ZTUNE_READ_MISSING : ZTUNE_READ_IO;
  }
  ztune_read r = read_lines(f, t, why, why_len);
  fclose(f);
  if (r != ZTUNE_READ_OK) ztune_table_free(t);
  return r;
}

/* ---- Writing ----------------------------------------------------------- */

static void write_entry(FILE *f, const ztune_entry *e) {
  const zmlx_tune_config *c = &e->config;
  fprintf(f, "%s\t%d\t%d\t%d\t%d\t", e->key, c->block, c->items, c->vec, c->rows);
  if (isnan(e->us))
    fprintf(f, "-");
  else
    fprintf(f, "%.3f", e->us);
  fprintf(f, "\t%s\t%s\n", e->status, e->date);
}

/* Lines grouped by key, keys in the order they were first seen. */
static void write_table(FILE *f, const ztune_table *t) {
  fprintf(f, "%s\n%s\n", header, columns);
  for (int i = 0; i < t->n; i++) {
    if (ztune_table_first(t, t->v[i].key, t->v[i].hash) != i) continue;
    for (int e = i; e >= 0; e = t->v[e].next) write_entry(f, &t->v[e]);
  }
}

static zmlx_status write_atomic(const char *dir, const ztune_table *t) {
  static const char op[] = "tune.save";
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, ZTUNE_FILE_NAME);
  /* The pid makes the name unique: writers of this process hold the lock. */
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, ZTUNE_FILE_NAME, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (!f) {
    int e = errno;
    if (fd >= 0) close(fd);
    (void)unlink(tmp);
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot create %s: %s", tmp, strerror(e));
  }
  write_table(f, t);
  int bad = fflush(f) != 0 || ferror(f);
  int e = errno;
  if (fclose(f) && !bad) {
    bad = 1;
    e = errno;
  }
  if (!bad && rename(tmp, path) == 0) return ZMLX_STATUS_OK;
  if (!bad) e = errno;
  (void)unlink(tmp);
  return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot write %s: %s", path, strerror(e));
}

/* ---- The lock ---------------------------------------------------------- */

/* An fd holding the folder's exclusive lock, or -1 (error text set). The
 * lock file stays: removing it could let two writers lock different files. */
static int lock_dir(const char *dir, const char *op) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, ZTUNE_LOCK_NAME);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  int r;
  while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (r == 0) return fd;
  zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot lock %s: %s", path, strerror(errno));
  close(fd);
  return -1;
}

static void unlock_dir(int fd) {
  (void)flock(fd, LOCK_UN);
  close(fd);
}

/* ---- Merge and store --------------------------------------------------- */

static zmlx_status read_for_merge(const char *path, ztune_table *disk, char *corrupt,
                                  size_t corrupt_len) {
  static const char op[] = "tune.save";
  char why[256];
  switch (ztune_file_read(path, disk, why, sizeof why)) {
    case ZTUNE_READ_OK:
    case ZTUNE_READ_MISSING:
      return ZMLX_STATUS_OK;
    case ZTUNE_READ_CORRUPT:
      snprintf(corrupt, corrupt_len, "%s", why);
      return ZMLX_STATUS_OK;
    case ZTUNE_READ_NOMEM:
      return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "reading %s: out of host memory", path);
    case ZTUNE_READ_IO:
      break;
  }
  /* Writing without having read would drop other processes' lines. */
  return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot read %s: %s", path, why);
}

zmlx_status ztune_file_merge_store(const char *dir, ztune_table *mem, char *corrupt,
                                   size_t corrupt_len) {
  static const char op[] = "tune.save";
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, ZTUNE_FILE_NAME);
  int lock = lock_dir(dir, op);
  if (lock < 0) return ZMLX_STATUS_IO_ERROR;
  ztune_table disk = {0};
  corrupt[0] = 0;
  zmlx_status s = read_for_merge(path, &disk, corrupt, corrupt_len);
  for (int i = 0; i < mem->n && !s; i++)
    if (ztune_table_put(&disk, &mem->v[i]))
      s = zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "merging %s: out of host memory", path);
  if (!s) s = write_atomic(dir, &disk);
  unlock_dir(lock);
  if (s) {
    ztune_table_free(&disk);
    return s;
  }
  ztune_table_free(mem);
  *mem = disk;
  return ZMLX_STATUS_OK;
}

zmlx_status ztune_file_remove(const char *dir) {
  static const char op[] = "tune.clear";
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, ZTUNE_FILE_NAME);
  int lock = lock_dir(dir, op);
  if (lock < 0) return ZMLX_STATUS_IO_ERROR;
  int bad = unlink(path) != 0 && errno != ENOENT;
  int e = errno;
  unlock_dir(lock);
  if (bad) return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot remove %s: %s", path, strerror(e));
  return ZMLX_STATUS_OK;
}
