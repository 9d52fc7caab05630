#include "kernel/disk_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

#define DC_VERSION 1u
#define DC_CHECKSUM_SEED 0x636b73756dULL
#define DC_DEFAULT_MAX_MB 2048ULL
#define DC_EXT_MAX 15
/* No store takes an hour: a temp file that old belongs to a dead writer. */
#define DC_STALE_TEMP_SECONDS 3600
/* "xx/" + the longest name we create (a temp file) + NUL, rounded up. */
#define DC_REL_MAX 80

static const char dc_magic[8] = {'Z', 'M', 'L', 'X', 'C', 'A', 'C', 'H'};

typedef struct dc_state {
  int enabled;
  char dir[sizeof(((zmlx_cache_info *)0)->dir)];
  uint64_t max_bytes;
} dc_state;

static dc_state g_state;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t g_corrupt;

/* ---- Configuration ---------------------------------------------------- */

static uint64_t read_max_bytes(void) {
  const char *v = zmlx_env("ZMLX_CACHE_MAX_MB");
  if (!v) return DC_DEFAULT_MAX_MB << 20;
  char *end = NULL;
  errno = 0;
  unsigned long long mb = strtoull(v, &end, 10);
  if (v[0] < '0' || v[0] > '9' || errno || *end || mb == 0 ||
      mb > (UINT64_MAX >> 20)) {
    zmlx_log(ZMLX_LOG_WARN,
             "ignoring ZMLX_CACHE_MAX_MB=%s (want a positive whole number of "
             "MiB); using %llu",
             v, DC_DEFAULT_MAX_MB);
    return DC_DEFAULT_MAX_MB << 20;
  }
  return (uint64_t)mb << 20;
}

/* Writes the configured folder into out; returns a reason when there is
 * none, NULL otherwise. */
static const char *pick_dir(char *out, size_t cap) {
  const char *d = zmlx_env("ZMLX_CACHE_DIR");
  const char *x = zmlx_env("XDG_CACHE_HOME");
  const char *h = zmlx_env("HOME");
  int n;
  if (d)
    n = snprintf(out, cap, "%s", d);
  else if (x && x[0] == '/') /* the XDG spec says to ignore relative ones */
    n = snprintf(out, cap, "%s/zmlx", x);
  else if (h)
    n = snprintf(out, cap, "%s/.cache/zmlx", h);
  else
    return "none of ZMLX_CACHE_DIR, XDG_CACHE_HOME, HOME is set";
  return (n < 0 || (size_t)n >= cap) ? "the folder name is too long" : NULL;
}

/* mkdir that accepts an existing folder, whatever mkdir's errno says about
 * it (EACCES or EROFS on a parent we only pass through). */
static int mkdir_one(const char *p, mode_t mode) {
  if (mkdir(p, mode) == 0) return 0;
  int e = errno;
  struct stat st;
  if (stat(p, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return 0;
    e = ENOTDIR;
  }
  errno = e;
  return -1;
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (buf[i] != '/') continue;
    buf[i] = 0;
    int r = mkdir_one(buf, mode);
    buf[i] = '/';
    if (r) return -1;
  }
  return mkdir_one(buf, mode);
}

/* Why the folder cannot be used, with the folder and errno behind it. */
typedef struct dc_why {
  const char *what; /* NULL: the folder is usable */
  const char *dir;
  int err;
} dc_why;

static dc_why why_not(const char *what, const char *dir, int err) {
  dc_why w = {what, dir, err};
  return w;
}

/* Makes the folder and writes its absolute name into real. */
static dc_why make_dir(char want[PATH_MAX], char real[PATH_MAX]) {
  const char *why = pick_dir(want, PATH_MAX);
  if (why) return why_not(why, NULL, 0);
  /* 0700: entries are code that this process will load and run. */
  if (mkdir_p(want, 0700)) return why_not("cannot create", want, errno);
  /* Absolute, so that paths handed out stay valid after a chdir(). */
  if (!realpath(want, real)) return why_not("cannot resolve", want, errno);
  if (access(real, W_OK | X_OK)) return why_not("cannot write to", real, errno);
  if (strlen(real) >= sizeof g_state.dir)
    return why_not("the name is too long:", real, 0);
  return why_not(NULL, NULL, 0);
}

static void resolve(dc_state *s) {
  memset(s, 0, sizeof *s);
  s->max_bytes = read_max_bytes();
  if (!zmlx_env_flag("ZMLX_DISK_CACHE", 1)) {
    zmlx_log(ZMLX_LOG_DEBUG, "disk cache disabled by ZMLX_DISK_CACHE");
    return;
  }
  char want[PATH_MAX], real[PATH_MAX];
  dc_why w = make_dir(want, real);
  if (w.what) {
    zmlx_log(ZMLX_LOG_WARN, "disk cache disabled: %s%s%s%s%s", w.what,
             w.dir ? " " : "", w.dir ? w.dir : "", w.err ? ": " : "",
             w.err ? strerror(w.err) : "");
    return;
  }
  memcpy(s->dir, real, strlen(real) + 1);
  s->enabled = 1;
}

static void init_once(void) { resolve(&g_state); }

static const dc_state *state(void) {
  pthread_once(&g_once, init_once);
  return &g_state;
}

int zk_disk_cache_enabled(void) { return state()->enabled; }
const char *zk_disk_cache_dir(void) { return state()->dir; }
uint64_t zk_disk_cache_corrupt_count(void) { return atomic_load(&g_corrupt); }

void zk_disk_cache_reset_for_tests(void) {
  pthread_once(&g_once, init_once);
  resolve(&g_state);
}

/* ---- Names ------------------------------------------------------------ */

/* snprintf for paths; 0 when the result did not fit. Our own names always
 * fit (the folder is shorter than 1024 bytes, an ext than 16), but names
 * read from disk are checked, not trusted. */
static int fmt_path(char *out, size_t cap, const char *fmt, ...)
    ZMLX_PRINTF(3, 4);
static int fmt_path(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < cap;
}

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static int is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Letters and digits only, so an ext can never climb out of the folder. */
static int ext_ok(const char *ext, size_t n_max) {
  if (!ext) return 0;
  size_t n = 0;
  for (; ext[n]; n++)
    if (n >= n_max || !is_alnum(ext[n])) return 0;
  return n > 0;
}

static int is_shard_name(const char *name) {
  return is_lower_hex(name[0]) && is_lower_hex(name[1]) && name[2] == 0;
}

/* "<32 hex>.<ext>" inside the shard named by its first two digits. */
static int is_entry_name(const char *name, const char *shard) {
  for (int i = 0; i < 32; i++)
    if (!is_lower_hex(name[i])) return 0;
  return name[32] == '.' && ext_ok(name + 33, DC_EXT_MAX) &&
         name[0] == shard[0] && name[1] == shard[1];
}

static int is_temp_name(const char *name) {
  return name[0] == '.' && strlen(name) + 4 <= DC_REL_MAX &&
         strstr(name, ".tmp.") != NULL;
}

static void entry_paths(const dc_state *s, zmlx_hash128 key, const char *ext,
                        char hex[33], char shard[PATH_MAX],
                        char file[PATH_MAX]) {
  zmlx_hash128_hex(key, hex);
  fmt_path(shard, PATH_MAX, "%s/v1/%.2s", s->dir, hex);
  fmt_path(file, PATH_MAX, "%s/%s.%s", shard, hex, ext);
}

static zmlx_status check_ext(const char *op, const char *ext) {
  if (ext_ok(ext, DC_EXT_MAX)) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                   "bad extension \"%s\" (want 1 to %d letters or digits)",
                   ext ? ext : "(null)", DC_EXT_MAX);
}

static zmlx_status check_room(const char *op, const char *file, char *path,
                              size_t path_len) {
  if (!path || strlen(file) < path_len) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                   "a path buffer of %zu bytes cannot hold %s", path_len, file);
}

static void copy_path(char *path, const char *file) {
  if (path) memcpy(path, file, strlen(file) + 1);
}

/* ---- Footer ------------------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* zmlx_hash64 memcpy()s from the pointer even for 0 bytes: never NULL. */
static uint64_t checksum(const void *data, size_t len) {
  return zmlx_hash64(len ? data : "", len, DC_CHECKSUM_SEED);
}

static void footer_encode(unsigned char f[ZK_DISK_CACHE_FOOTER_BYTES],
                          zmlx_hash128 key, const void *data, size_t len) {
  memcpy(f, dc_magic, 8);
  put_u32(f + 8, DC_VERSION);
  put_u32(f + 12, 0);
  put_u64(f + 16, key.lo);
  put_u64(f + 24, key.hi);
  put_u64(f + 32, (uint64_t)len);
  put_u64(f + 40, checksum(data, len));
}

/* Checks the footer at the end of buf[0..size); writes why it is bad and
 * returns 0, or returns 1. */
static int footer_check(const unsigned char *buf, size_t size,
                        zmlx_hash128 key, char *why, size_t why_len) {
  size_t len = size - ZK_DISK_CACHE_FOOTER_BYTES;
  const unsigned char *f = buf + len;
  if (memcmp(f, dc_magic, 8)) {
    snprintf(why, why_len, "bad magic: not a ZMLX cache entry");
  } else if (get_u32(f + 8) != DC_VERSION) {
    snprintf(why, why_len, "format version %u, want %u", get_u32(f + 8),
             DC_VERSION);
  } else if (get_u32(f + 12) != 0) {
    snprintf(why, why_len, "reserved field is %u, want 0", get_u32(f + 12));
  } else if (get_u64(f + 16) != key.lo || get_u64(f + 24) != key.hi) {
    snprintf(why, why_len, "key mismatch: a foreign entry");
  } else if (get_u64(f + 32) != (uint64_t)len) {
    snprintf(why, why_len, "payload length %llu, but the file holds %zu",
             (unsigned long long)get_u64(f + 32), len);
  } else if (get_u64(f + 40) != checksum(buf, len)) {
    snprintf(why, why_len, "checksum mismatch");
  } else {
    return 1;
  }
  return 0;
}

/* ---- File I/O ---------------------------------------------------------- */

/* Bytes read (fewer only at end of file), or -1 with errno. */
static ssize_t read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, (const char *)buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    done += (size_t)w;
  }
  return 0;
}

typedef enum dc_read {
  DC_READ_OK,
  DC_READ_CORRUPT,
  DC_READ_IO,
  DC_READ_NOMEM
} dc_read;

/* Reads and verifies the whole entry. On OK, *buf holds the file (payload
 * first) and *len the payload size. Otherwise why says what went wrong. */
static dc_read read_entry(int fd, zmlx_hash128 key, unsigned char **buf,
                          size_t *len, char *why, size_t why_len) {
  struct stat st;
  if (fstat(fd, &st)) {
    snprintf(why, why_len, "fstat: %s", strerror(errno));
    return DC_READ_IO;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, why_len, "not a regular file");
    return DC_READ_IO;
  }
  if (st.st_size < ZK_DISK_CACHE_FOOTER_BYTES) {
    snprintf(why, why_len, "truncated: %lld bytes, shorter than the footer",
             (long long)st.st_size);
    return DC_READ_CORRUPT;
  }
  size_t size = (size_t)st.st_size;
  unsigned char *b = malloc(size);
  if (!b) {
    snprintf(why, why_len, "cannot allocate %zu bytes", size);
    return DC_READ_NOMEM;
  }
  ssize_t got = read_full(fd, b, size);
  if (got < 0 || (size_t)got != size) {
    if (got < 0) snprintf(why, why_len, "read: %s", strerror(errno));
    else snprintf(why, why_len, "truncated while reading");
    free(b);
    return got < 0 ? DC_READ_IO : DC_READ_CORRUPT;
  }
  if (!footer_check(b, size, key, why, why_len)) {
    free(b);
    return DC_READ_CORRUPT;
  }
  *buf = b;
  *len = size - ZK_DISK_CACHE_FOOTER_BYTES;
  return DC_READ_OK;
}

static void drop_corrupt(int fd, const char *file, const char *why) {
  struct stat a, b;
  /* Delete only the file we read: a writer may have renamed a good entry
   * over it since. */
  if (fstat(fd, &a) == 0 && stat(file, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino && unlink(file) && errno != ENOENT)
    zmlx_log(ZMLX_LOG_WARN, "disk cache: cannot delete %s: %s", file,
             strerror(errno));
  atomic_fetch_add(&g_corrupt, 1);
  zmlx_log(ZMLX_LOG_WARN, "disk cache: deleted corrupt entry %s (%s); it "
           "will be rebuilt", file, why);
}

/* ---- Load -------------------------------------------------------------- */

zmlx_status zk_disk_cache_load(zmlx_hash128 key, const char *ext, void **data,
                               size_t *len, char *path, size_t path_len) {
  static const char op[] = "disk_cache.load";
  if (data) *data = NULL;
  if (len) *len = 0;
  if (path && path_len) path[0] = 0;
  ZMLX_TRY(check_ext(op, ext));
  const dc_state *s = state();
  if (!s->enabled)
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, op, "the disk cache is disabled");
  char hex[33], shard[PATH_MAX], file[PATH_MAX];
  entry_paths(s, key, ext, hex, shard, file);
  ZMLX_TRY(check_room(op, file, path, path_len));

  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e != ENOENT)
      zmlx_log(ZMLX_LOG_WARN, "disk cache: cannot open %s: %s", file,
               strerror(e));
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, op, "no entry %s: %s", file,
                     strerror(e));
  }
  unsigned char *buf = NULL;
  size_t n = 0;
  char why[256];
  dc_read r = read_entry(fd, key, &buf, &n, why, sizeof why);
  if (r == DC_READ_OK) {
    /* Mark it recently used for LRU eviction; a read-only cache still
     * serves hits, so a failure here does not matter. */
    (void)futimens(fd, NULL);
  } else if (r == DC_READ_CORRUPT) {
    drop_corrupt(fd, file, why);
  } else if (r == DC_READ_IO) {
    zmlx_log(ZMLX_LOG_WARN, "disk cache: cannot read %s: %s", file, why);
  }
  close(fd);
  if (r == DC_READ_NOMEM)
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "%s: %s", file, why);
  if (r != DC_READ_OK)
    return zmlx_fail(ZMLX_STATUS_NOT_FOUND, op, "%s entry %s: %s",
                     r == DC_READ_CORRUPT ? "deleted corrupt" : "unreadable",
                     file, why);
  if (data) *data = buf;
  else free(buf);
  if (len) *len = n;
  copy_path(path, file);
  return ZMLX_STATUS_OK;
}

/* ---- Scanning ---------------------------------------------------------- */

typedef enum dc_kind { DC_ENTRY, DC_TEMP } dc_kind;

typedef struct dc_file {
  char rel[DC_REL_MAX]; /* "xx/name", relative to <dir>/v1 */
  dc_kind kind;
  uint64_t size;
  struct timespec mtime;
} dc_file;

typedef struct dc_list {
  dc_file *v;
  size_t n, cap;
  const char *what;      /* the first failure: "list", "stat" or "remove", */
  char failed[PATH_MAX]; /* the path, */
  int err;               /* and its errno; 0 while all went well */
} dc_list;

static void list_fail(dc_list *l, const char *what, const char *path,
                      int err) {
  if (l->err) return;
  l->what = what;
  l->err = err;
  snprintf(l->failed, sizeof l->failed, "%s", path);
}

static int list_push(dc_list *l, const dc_file *f) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 256;
    dc_file *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = *f;
  return 0;
}

static void scan_shard(dc_list *l, const char *v1, const char *shard) {
  char sdir[PATH_MAX], file[PATH_MAX];
  fmt_path(sdir, sizeof sdir, "%s/%s", v1, shard);
  DIR *d = opendir(sdir);
  if (!d) {
    if (errno != ENOENT) list_fail(l, "list", sdir, errno); /* just cleared */
    return;
  }
  struct dirent *de;
  while (!l->err && (de = readdir(d))) {
    int entry = is_entry_name(de->d_name, shard);
    if (!entry && !is_temp_name(de->d_name)) continue;
    dc_file f = {.kind = entry ? DC_ENTRY : DC_TEMP};
    if (!fmt_path(file, sizeof file, "%s/%s", sdir, de->d_name) ||
        !fmt_path(f.rel, sizeof f.rel, "%s/%s", shard, de->d_name))
      continue;
    struct stat st;
    if (lstat(file, &st)) {
      if (errno != ENOENT) list_fail(l, "stat", file, errno);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    f.size = (uint64_t)st.st_size;
    f.mtime = st.st_mtim;
    if (list_push(l, &f)) list_fail(l, "list", sdir, ENOMEM);
  }
  closedir(d);
}

/* Lists the entries and temp files of the v1 tree. A missing tree is an
 * empty cache. On failure l->err and l->failed say why. */
static void scan(const dc_state *s, dc_list *l) {
  char v1[PATH_MAX];
  fmt_path(v1, sizeof v1, "%s/v1", s->dir);
  DIR *d = opendir(v1);
  if (!d) {
    if (errno != ENOENT) list_fail(l, "list", v1, errno);
    return;
  }
  struct dirent *de;
  while (!l->err && (de = readdir(d)))
    if (is_shard_name(de->d_name)) scan_shard(l, v1, de->d_name);
  closedir(d);
}

static void rel_path(const dc_state *s, const dc_file *f, char out[PATH_MAX]) {
  fmt_path(out, PATH_MAX, "%s/v1/%s", s->dir, f->rel);
}

/* ---- Eviction ---------------------------------------------------------- */

static int older_first(const void *pa, const void *pb) {
  const dc_file *a = pa, *b = pb;
  if (a->mtime.tv_sec != b->mtime.tv_sec)
    return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
  if (a->mtime.tv_nsec != b->mtime.tv_nsec)
    return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
  return strcmp(a->rel, b->rel);
}

/* Sums the entries and deletes temp files left by writers that died. */
static uint64_t total_and_sweep(const dc_state *s, const dc_list *l) {
  uint64_t total = 0;
  time_t now = time(NULL);
  char file[PATH_MAX];
  for (size_t i = 0; i < l->n; i++) {
    const dc_file *f = &l->v[i];
    if (f->kind == DC_ENTRY) {
      total += f->size;
    } else if (now - f->mtime.tv_sec > DC_STALE_TEMP_SECONDS) {
      rel_path(s, f, file);
      (void)unlink(file); /* another process may have swept it first */
    }
  }
  return total;
}

/* Deletes the oldest entries, never `keep`, until the total is at most
 * `target`; returns the new total. */
static uint64_t evict_oldest(const dc_state *s, dc_list *l, uint64_t total,
                             uint64_t target, const char *keep) {
  char file[PATH_MAX];
  qsort(l->v, l->n, sizeof *l->v, older_first);
  for (size_t i = 0; i < l->n && total > target; i++) {
    const dc_file *f = &l->v[i];
    if (f->kind != DC_ENTRY) continue;
    rel_path(s, f, file);
    if (!strcmp(file, keep)) continue;
    /* ENOENT: another process evicted it; the space is free either way. */
    if (unlink(file) && errno != ENOENT) {
      zmlx_log(ZMLX_LOG_WARN, "disk cache: cannot evict %s: %s", file,
               strerror(errno));
      continue;
    }
    total -= f->size;
  }
  return total;
}

/* Runs after a store, which has already succeeded: problems are logged,
 * never returned. */
static void evict(const dc_state *s, const char *keep) {
  dc_list l = {0};
  scan(s, &l);
  if (l.err) {
    zmlx_log(ZMLX_LOG_WARN, "disk cache: eviction skipped, cannot %s %s: %s",
             l.what, l.failed, strerror(l.err));
  } else {
    uint64_t total = total_and_sweep(s, &l);
    if (total > s->max_bytes) {
      uint64_t target = s->max_bytes - s->max_bytes / 10;
      uint64_t left = evict_oldest(s, &l, total, target, keep);
      zmlx_log(ZMLX_LOG_INFO, "disk cache: evicted %llu bytes, %llu left "
               "(cap %llu)", (unsigned long long)(total - left),
               (unsigned long long)left, (unsigned long long)s->max_bytes);
    }
  }
  free(l.v);
}

/* ---- Store ------------------------------------------------------------- */

/* Creates the shard and a temp file in it. A concurrent clear may delete
 * the shard between the two steps, hence the second try. */
static int open_temp(const char *shard, const char *hex, const char *ext,
                     char tmp[PATH_MAX], const char **failed) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (mkdir_p(shard, 0700)) {
      *failed = shard;
      return -1;
    }
    fmt_path(tmp, PATH_MAX, "%s/.%s.%s.tmp.XXXXXX", shard, hex, ext);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
      (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* kernel compilers fork */
      return fd;
    }
    *failed = tmp;
    if (errno != ENOENT) break;
  }
  return -1;
}

/* Writes payload and footer to a temp file, then renames it into place. */
static zmlx_status write_entry(const char *op, zmlx_hash128 key,
                               const char *ext, const void *data, size_t len,
                               const char *hex, const char *shard,
                               const char *file) {
  char tmp[PATH_MAX];
  const char *failed = NULL;
  int fd = open_temp(shard, hex, ext, tmp, &failed);
  if (fd < 0)
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot create %s: %s", failed,
                     strerror(errno));
  unsigned char footer[ZK_DISK_CACHE_FOOTER_BYTES];
  footer_encode(footer, key, data, len);
  int bad = write_full(fd, data, len) || write_full(fd, footer, sizeof footer);
  int e = errno;
  if (close(fd) && !bad) {
    bad = 1;
    e = errno;
  }
  if (!bad && rename(tmp, file)) {
    bad = 1;
    e = errno;
    failed = file;
  }
  if (!bad) return ZMLX_STATUS_OK;
  (void)unlink(tmp);
  if (failed == file)
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot rename %s to %s: %s",
                     tmp, file, strerror(e));
  return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot write %s: %s", tmp,
                   strerror(e));
}

zmlx_status zk_disk_cache_store(zmlx_hash128 key, const char *ext,
                                const void *data, size_t len, char *path,
                                size_t path_len) {
  static const char op[] = "disk_cache.store";
  if (path && path_len) path[0] = 0;
  ZMLX_TRY(check_ext(op, ext));
  if (!data && len)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "data is NULL but len is %zu", len);
  const dc_state *s = state();
  if (!s->enabled)
    return zmlx_fail(ZMLX_STATUS_UNSUPPORTED, op,
                     "the disk cache is disabled (ZMLX_DISK_CACHE=0, or no "
                     "cache folder could be made)");
  char hex[33], shard[PATH_MAX], file[PATH_MAX];
  entry_paths(s, key, ext, hex, shard, file);
  ZMLX_TRY(check_room(op, file, path, path_len));
  ZMLX_TRY(write_entry(op, key, ext, data, len, hex, shard, file));
  evict(s, file);
  copy_path(path, file);
  return ZMLX_STATUS_OK;
}

/* ---- Info and clear ---------------------------------------------------- */

zmlx_status zk_disk_cache_info(zmlx_cache_info *out) {
  static const char op[] = "disk_cache.info";
  if (!out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "out is NULL");
  const dc_state *s = state();
  memset(out, 0, sizeof *out);
  memcpy(out->dir, s->dir, sizeof out->dir);
  out->enabled = s->enabled;
  out->max_bytes = s->max_bytes;
  out->n_corrupt = zk_disk_cache_corrupt_count();
  if (!s->enabled) return ZMLX_STATUS_OK;
  dc_list l = {0};
  scan(s, &l);
  for (size_t i = 0; i < l.n; i++) {
    if (l.v[i].kind != DC_ENTRY) continue;
    out->n_files++;
    out->bytes += l.v[i].size;
  }
  free(l.v);
  if (l.err)
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, op, "cannot %s %s: %s", l.what,
                     l.failed, strerror(l.err));
  return ZMLX_STATUS_OK;
}

/* rmdir's "not empty" means a concurrent store: that folder stays. */
static int rmdir_ok(const char *dir) {
  return rmdir(dir) == 0 || errno == ENOENT || errno == ENOTEMPTY ||
         errno == EEXIST;
}

static void remove_shards(const dc_state *s, dc_list *l) {
  char v1[PATH_MAX], sdir[PATH_MAX];
  fmt_path(v1, sizeof v1, "%s/v1", s->dir);
  DIR *d = opendir(v1);
  if (!d) {
    if (errno != ENOENT) list_fail(l, "list", v1, errno);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!is_shard_name(de->d_name)) continue;
    fmt_path(sdir, sizeof sdir, "%s/%s", v1, de->d_name);
    if (!rmdir_ok(sdir)) list_fail(l, "remove", sdir, errno);
  }
  closedir(d);
  if (!rmdir_ok(v1)) list_fail(l, "remove", v1, errno);
}

zmlx_status zk_disk_cache_clear(void) {
  const dc_state *s = state();
  if (!s->enabled) return ZMLX_STATUS_OK;
  dc_list l = {0};
  scan(s, &l);
  char file[PATH_MAX];
  for (size_t i = 0; i < l.n; i++) {
    rel_path(s, &l.v[i], file);
    if (unlink(file) && errno != ENOENT) list_fail(&l, "remove", file, errno);
  }
  if (!l.err) remove_shards(s, &l);
  free(l.v);
  if (l.err)
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, "disk_cache.clear",
                     "cannot %s %s: %s", l.what, l.failed, strerror(l.err));
  return ZMLX_STATUS_OK;
}
