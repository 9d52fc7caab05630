/* The disk cache of compiled kernels: round trips, layout, corruption
 * handling, LRU eviction, disabled mode, clear, and concurrent stores.
 * Each test works in its own fresh mkdtemp folder. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "kernel/disk_cache.h"
#include "zt.h"

#define FOOTER ZK_DISK_CACHE_FOOTER_BYTES

#if defined(__GNUC__)
#define DC_TEST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DC_TEST_PRINTF(f, a)
#endif

static char g_tmp[PATH_MAX];

/* ---- Helpers ----------------------------------------------------------- */

/* snprintf into a PATH_MAX buffer; the test's names are short, so a
 * cut name is a failure of the test setup, reported as such. */
static void pathf(char *out, const char *fmt, ...) DC_TEST_PRINTF(2, 3);
static void pathf(char *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, PATH_MAX, fmt, ap);
  va_end(ap);
  CHECK_MSG(n >= 0 && n < PATH_MAX, "path too long: %s", out);
}

/* Fresh bytes each run: a fixed seed could hide a layout bug that only
 * some byte patterns expose. */
static void fill_random(void *buf, size_t n) {
  static uint64_t x = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  size_t got = f ? fread(buf, 1, n, f) : 0;
  if (f) fclose(f);
  if (!x)
    x = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ 0x9e3779b97f4a7c15ULL;
  for (size_t i = got; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ((unsigned char *)buf)[i] = (unsigned char)x;
  }
}

static zmlx_hash128 random_key(void) {
  zmlx_hash128 k;
  fill_random(&k, sizeof k);
  return k;
}

static unsigned char *random_bytes(size_t n) {
  unsigned char *p = malloc(n ? n : 1);
  fill_random(p, n);
  return p;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_tree(const char *dir) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void use_env(const char *name, const char *value) {
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

/* A fresh cache folder with default settings. */
static void setup(void) {
  const char *t = getenv("TMPDIR");
  pathf(g_tmp, "%s/zmlx_dc_XXXXXX", t && t[0] ? t : "/tmp");
  if (!mkdtemp(g_tmp)) {
    fprintf(stderr, "mkdtemp %s: %s\n", g_tmp, strerror(errno));
    exit(1);
  }
  use_env("ZMLX_CACHE_DIR", g_tmp);
  use_env("ZMLX_DISK_CACHE", NULL);
  use_env("ZMLX_CACHE_MAX_MB", NULL);
  zk_disk_cache_reset_for_tests();
  CHECK(zk_disk_cache_enabled());
}

static void teardown(void) {
  rm_tree(g_tmp);
  use_env("ZMLX_DISK_CACHE", NULL);
  use_env("ZMLX_CACHE_MAX_MB", NULL);
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static time_t file_mtime(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_mtime : 0;
}

static void set_mtime(const char *path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(p, 1, (size_t)n, f);
  fclose(f);
  return p;
}

static int spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, len, f);
  return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Stores random bytes under a random key; the caller frees *payload. */
static zmlx_hash128 store_random(size_t len, unsigned char **payload,
                                 char path[PATH_MAX]) {
  zmlx_hash128 k = random_key();
  *payload = random_bytes(len);
  CHECK_OK(zk_disk_cache_store(k, "cubin", *payload, len, path, PATH_MAX));
  return k;
}

/* Loads and compares with want; 1 on an exact match. */
static int loads_as(zmlx_hash128 k, const char *ext, const void *want,
                    size_t len) {
  void *got = NULL;
  size_t n = 0;
  zmlx_status s = zk_disk_cache_load(k, ext, &got, &n, NULL, 0);
  int same = s == ZMLX_STATUS_OK && n == len &&
             (len == 0 || !memcmp(got, want, len));
  free(got);
  return same;
}

/* ---- Round trips and misses -------------------------------------------- */

static void test_roundtrip(void) {
  setup();
  static const size_t sizes[] = {0,  1,  7,  8,    9,
                                 47, 48, 49, 4096, (1u << 20) + 3};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t len = sizes[i];
    unsigned char *p;
    char stored[PATH_MAX], loaded[PATH_MAX];
    zmlx_hash128 k = store_random(len, &p, stored);
    void *got = NULL;
    size_t n = 12345;
    CHECK_OK(zk_disk_cache_load(k, "cubin", &got, &n, loaded, sizeof loaded));
    CHECK(got != NULL);
    CHECK_EQ_INT(n, len);
    CHECK_MSG(got && n == len && (len == 0 || !memcmp(got, p, len)),
              "payload of %zu bytes differs after the round trip", len);
    CHECK(!strcmp(stored, loaded));
    CHECK_EQ_INT(file_size(loaded), len + FOOTER);
    /* Verify-only lookups: no data wanted. */
    CHECK_OK(zk_disk_cache_load(k, "cubin", NULL, NULL, NULL, 0));
    free(got);
    free(p);
  }
  /* A second store of a key replaces the first. */
  zmlx_hash128 k = random_key();
  unsigned char *a = random_bytes(100), *b = random_bytes(300);
  CHECK_OK(zk_disk_cache_store(k, "so", a, 100, NULL, 0));
  CHECK_OK(zk_disk_cache_store(k, "so", b, 300, NULL, 0));
  CHECK(loads_as(k, "so", b, 300));
  free(a);
  free(b);
  teardown();
}

static void test_miss_and_bad_arguments(void) {
  setup();
  zmlx_hash128 k = random_key();
  void *got = (void *)&k;
  size_t n = 99;
  char path[PATH_MAX] = "junk";
  CHECK_STATUS(zk_disk_cache_load(k, "cubin", &got, &n, path, sizeof path),
               ZMLX_STATUS_NOT_FOUND);
  CHECK(got == NULL);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(path[0], 0);
  /* The ext is part of the entry's name: a cubin is not a shared object. */
  unsigned char byte = 7;
  CHECK_OK(zk_disk_cache_store(k, "so", &byte, 1, NULL, 0));
  CHECK_STATUS(zk_disk_cache_load(k, "cubin", &got, &n, NULL, 0),
               ZMLX_STATUS_NOT_FOUND);
  CHECK(loads_as(k, "so", &byte, 1));
  /* Exts that could name a file elsewhere are refused. */
  CHECK_STATUS(zk_disk_cache_store(k, "../x", &byte, 1, NULL, 0),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zk_disk_cache_load(k, "a/b", &got, &n, NULL, 0),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zk_disk_cache_load(k, "", &got, &n, NULL, 0),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zk_disk_cache_store(k, NULL, &byte, 1, NULL, 0),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zk_disk_cache_store(k, "so", NULL, 5, NULL, 0),
               ZMLX_STATUS_INVALID_ARGUMENT);
  /* A path buffer too small for the entry's path is an error, not a cut. */
  char small[8];
  CHECK_STATUS(zk_disk_cache_load(k, "so", &got, &n, small, sizeof small),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zk_disk_cache_store(k, "so", &byte, 1, small, sizeof small),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "disk_cache.store");
  teardown();
}

/* ---- Layout and footer ------------------------------------------------- */

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void check_entry_file(const char *path, zmlx_hash128 k,
                             const unsigned char *p, size_t len) {
  size_t n = 0;
  unsigned char *f = slurp(path, &n);
  CHECK(f != NULL);
  CHECK_EQ_INT(n, len + FOOTER);
  if (!f || n != len + FOOTER) {
    free(f);
    return;
  }
  /* The payload comes first, byte for byte, so a shared object stays
   * loadable; the footer follows it. */
  CHECK(!memcmp(f, p, len));
  const unsigned char *t = f + len;
  CHECK(!memcmp(t, "ZMLXCACH", 8));
  CHECK_EQ_INT(le32(t + 8), 1);
  CHECK_EQ_INT(le32(t + 12), 0);
  CHECK(le64(t + 16) == k.lo);
  CHECK(le64(t + 24) == k.hi);
  CHECK(le64(t + 32) == len);
  CHECK(le64(t + 40) == zmlx_hash64(p, len, 0x636b73756dULL));
  free(f);
}

static void test_layout(void) {
  setup();
  char real[PATH_MAX];
  CHECK(realpath(g_tmp, real) != NULL);
  CHECK(!strcmp(zk_disk_cache_dir(), real));
  static const uint64_t his[] = {0xab00000000000001ULL, 0x0f12345678abcdefULL};
  for (int i = 0; i < 2; i++) {
    zmlx_hash128 k = random_key();
    k.hi = his[i];
    char hex[33], want[PATH_MAX], got[PATH_MAX], shard[PATH_MAX];
    zmlx_hash128_hex(k, hex);
    pathf(shard, "%s/v1/%.2s", real, hex);
    pathf(want, "%s/%s.so", shard, hex);
    CHECK(!strncmp(hex, i == 0 ? "ab" : "0f", 2));
    unsigned char *p = random_bytes(1000);
    CHECK_OK(zk_disk_cache_store(k, "so", p, 1000, got, sizeof got));
    CHECK_MSG(!strcmp(got, want), "path %s, want %s", got, want);
    CHECK(exists(want));
    check_entry_file(want, k, p, 1000);
    /* The temp file was renamed away: the shard holds just the entry. */
    CHECK_EQ_INT(count_files(shard), 1);
    free(p);
  }
  char v1[PATH_MAX];
  pathf(v1, "%s/v1", real);
  CHECK_EQ_INT(count_files(v1), 2);
  teardown();
}

/* A cached shared object must stay dlopen()-able with its footer. */
static void test_shared_object_loads(void) {
  setup();
  char src[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX];
  pathf(src, "%s/answer.c", g_tmp);
  pathf(so, "%s/answer.so", g_tmp);
  const char *code = "int zt_answer(void) { return 42; }\n";
  CHECK(spit(src, code, strlen(code)) == 0);
  pathf(cmd, "cc -shared -fPIC -o '%s' '%s' 2>/dev/null", so, src);
  if (system(cmd) != 0) {
    printf("note: no C compiler here; dlopen of a cached .so not tried\n");
    CHECK(1);
    teardown();
    return;
  }
  size_t len = 0;
  unsigned char *bin = slurp(so, &len);
  CHECK(bin && len > 0);
  zmlx_hash128 k = random_key();
  char path[PATH_MAX];
  CHECK_OK(zk_disk_cache_store(k, "so", bin, len, NULL, 0));
  CHECK_OK(zk_disk_cache_load(k, "so", NULL, NULL, path, sizeof path));
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK_MSG(h != NULL, "dlopen %s: %s", path, dlerror());
  if (h) {
    int (*fn)(void) = (int (*)(void))dlsym(h, "zt_answer");
    CHECK(fn && fn() == 42);
    dlclose(h);
  }
  free(bin);
  teardown();
}

/* ---- Corruption -------------------------------------------------------- */

typedef enum damage {
  FLIP_PAYLOAD, TRUNCATE_ONE, TRUNCATE_SHORT, EMPTY_FILE, GARBAGE, FOREIGN,
  BAD_VERSION, BAD_LENGTH, BAD_MAGIC, N_DAMAGE
} damage;

static const char *damage_name[N_DAMAGE] = {
    "flip a payload byte", "truncate by 1 byte", "truncate to 10 bytes",
    "empty file", "garbage", "foreign entry", "bad version", "bad length",
    "bad magic"};

static void poke(const char *path, long off, unsigned char xor_mask) {
  size_t n = 0;
  unsigned char *f = slurp(path, &n);
  CHECK(f && (size_t)off < n);
  if (!f || (size_t)off >= n) {
    free(f);
    return;
  }
  f[off] ^= xor_mask;
  CHECK(spit(path, f, n) == 0);
  free(f);
}

static void apply_damage(damage d, const char *path, size_t len) {
  switch (d) {
    case FLIP_PAYLOAD: poke(path, (long)len / 2, 0x01); break;
    case TRUNCATE_ONE:
      CHECK(truncate(path, (off_t)(len + FOOTER - 1)) == 0);
      break;
    case TRUNCATE_SHORT: CHECK(truncate(path, 10) == 0); break;
    case EMPTY_FILE: CHECK(truncate(path, 0) == 0); break;
    case GARBAGE: {
      unsigned char *g = random_bytes(len + FOOTER);
      CHECK(spit(path, g, len + FOOTER) == 0);
      free(g);
      break;
    }
    case FOREIGN: {
      /* Another key's valid entry renamed into this key's place. */
      char other[PATH_MAX];
      unsigned char *q;
      store_random(len, &q, other);
      CHECK(rename(other, path) == 0);
      free(q);
      break;
    }
    case BAD_VERSION: poke(path, (long)len + 8, 0x02); break;
    case BAD_LENGTH: poke(path, (long)len + 32, 0x01); break;
    case BAD_MAGIC: poke(path, (long)len, 0x20); break;
    case N_DAMAGE: break;
  }
}

static void test_corrupt_entries(void) {
  setup();
  for (int d = 0; d < N_DAMAGE; d++) {
    size_t len = 4096 + (size_t)d;
    unsigned char *p;
    char path[PATH_MAX];
    zmlx_hash128 k = store_random(len, &p, path);
    apply_damage((damage)d, path, len);
    uint64_t before = zk_disk_cache_corrupt_count();
    void *got = NULL;
    size_t n = 0;
    CHECK_STATUS(zk_disk_cache_load(k, "cubin", &got, &n, NULL, 0),
                 ZMLX_STATUS_NOT_FOUND);
    CHECK_CONTAINS(zmlx_error_last(), "corrupt");
    CHECK_MSG(got == NULL, "%s: data returned", damage_name[d]);
    CHECK_MSG(!exists(path), "%s: the bad file was not deleted",
              damage_name[d]);
    CHECK_MSG(zk_disk_cache_corrupt_count() == before + 1,
              "%s: corrupt count %llu, want %llu", damage_name[d],
              (unsigned long long)zk_disk_cache_corrupt_count(),
              (unsigned long long)before + 1);
    zmlx_cache_info ci;
    CHECK_OK(zk_disk_cache_info(&ci));
    CHECK(ci.n_corrupt == before + 1);
    /* The caller rebuilds and stores again; that entry is good. */
    CHECK_OK(zk_disk_cache_store(k, "cubin", p, len, NULL, 0));
    CHECK_MSG(loads_as(k, "cubin", p, len), "%s: no good entry after rebuild",
              damage_name[d]);
    free(p);
  }
  teardown();
}

/* ---- LRU eviction ------------------------------------------------------ */

/* 13 entries of 240 KiB (about 3 MB) against a 1 MiB cap: four entries fit
 * under the cap but not under 90% of it, so an eviction that stopped at the
 * cap would leave four entries where trimming to 90% leaves three. */
#define LRU_N 13
#define LRU_LEN (240u << 10)

static void test_lru_eviction(void) {
  setup();
  use_env("ZMLX_CACHE_MAX_MB", "1");
  zk_disk_cache_reset_for_tests();
  const uint64_t cap = 1u << 20;
  zmlx_cache_info ci;
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK(ci.max_bytes == cap);

  /* Stores get distinct, old mtimes, in order, so the oldest is known. */
  const time_t base = time(NULL) - 100000;
  zmlx_hash128 keys[LRU_N];
  unsigned char *pays[LRU_N];
  char paths[LRU_N][PATH_MAX];
  for (int i = 0; i < LRU_N; i++) {
    keys[i] = store_random(LRU_LEN, &pays[i], paths[i]);
    set_mtime(paths[i], base + 10 * i);
    if (i == 2) {
      /* Using entry 0 makes it the most recent, so it must outlive 1..9. */
      CHECK(loads_as(keys[0], "cubin", pays[0], LRU_LEN));
      CHECK(file_mtime(paths[0]) >= time(NULL) - 60);
    }
  }
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK_MSG(ci.bytes <= cap, "%llu bytes left, cap %llu",
            (unsigned long long)ci.bytes, (unsigned long long)cap);
  /* The last store made five entries; eviction went down to 90%: three. */
  CHECK_EQ_INT(ci.n_files, 3);
  CHECK_EQ_INT(ci.bytes, 3 * (LRU_LEN + FOOTER));
  CHECK_MSG(exists(paths[0]), "the recently used entry was evicted");
  for (int i = 1; i < LRU_N - 2; i++)
    CHECK_MSG(!exists(paths[i]), "entry %d (old) survived", i);
  for (int i = LRU_N - 2; i < LRU_N; i++)
    CHECK_MSG(exists(paths[i]), "entry %d (newest) was evicted", i);
  CHECK(loads_as(keys[0], "cubin", pays[0], LRU_LEN));
  CHECK(loads_as(keys[LRU_N - 1], "cubin", pays[LRU_N - 1], LRU_LEN));
  CHECK_STATUS(zk_disk_cache_load(keys[1], "cubin", NULL, NULL, NULL, 0),
               ZMLX_STATUS_NOT_FOUND);
  for (int i = 0; i < LRU_N; i++) free(pays[i]);

  /* An entry larger than the whole cap is kept: the caller is about to use
   * it (the CPU backend dlopen()s the path it gets back). */
  unsigned char *big;
  char big_path[PATH_MAX];
  zmlx_hash128 kb = store_random(cap + cap / 2, &big, big_path);
  CHECK(exists(big_path));
  CHECK(loads_as(kb, "cubin", big, cap + cap / 2));
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK_EQ_INT(ci.n_files, 1);
  free(big);
  teardown();
}

static void test_load_touches_mtime(void) {
  setup();
  unsigned char *p;
  char path[PATH_MAX];
  zmlx_hash128 k = store_random(100, &p, path);
  const time_t old = time(NULL) - 86400;
  set_mtime(path, old);
  CHECK(file_mtime(path) == old);
  CHECK(loads_as(k, "cubin", p, 100));
  CHECK_MSG(file_mtime(path) >= time(NULL) - 60, "mtime %lld not refreshed",
            (long long)file_mtime(path));
  free(p);
  teardown();
}

/* ---- Configuration ----------------------------------------------------- */

static void test_disabled(void) {
  setup();
  use_env("ZMLX_DISK_CACHE", "0");
  zk_disk_cache_reset_for_tests();
  CHECK(!zk_disk_cache_enabled());
  CHECK(!strcmp(zk_disk_cache_dir(), ""));
  zmlx_hash128 k = random_key();
  unsigned char byte = 1;
  char path[PATH_MAX] = "junk";
  /* Store says so rather than pretending: there is no file to dlopen. */
  CHECK_STATUS(zk_disk_cache_store(k, "so", &byte, 1, path, sizeof path),
               ZMLX_STATUS_UNSUPPORTED);
  CHECK_EQ_INT(path[0], 0);
  CHECK_STATUS(zk_disk_cache_load(k, "so", NULL, NULL, NULL, 0),
               ZMLX_STATUS_NOT_FOUND);
  zmlx_cache_info ci;
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK_EQ_INT(ci.enabled, 0);
  CHECK_EQ_INT(ci.dir[0], 0);
  CHECK_EQ_INT(ci.n_files, 0);
  CHECK_OK(zk_disk_cache_clear());
  CHECK_EQ_INT(count_files(g_tmp), 0);

  /* Re-enabled, the same key is a plain miss: nothing was written. */
  use_env("ZMLX_DISK_CACHE", "1");
  zk_disk_cache_reset_for_tests();
  CHECK(zk_disk_cache_enabled());
  CHECK_STATUS(zk_disk_cache_load(k, "so", NULL, NULL, NULL, 0),
               ZMLX_STATUS_NOT_FOUND);

  /* A folder that cannot be made disables the cache instead of failing. */
  char blocker[PATH_MAX], below[PATH_MAX];
  pathf(blocker, "%s/a_file", g_tmp);
  pathf(below, "%s/sub", blocker);
  CHECK(spit(blocker, "x", 1) == 0);
  use_env("ZMLX_CACHE_DIR", below);
  zk_disk_cache_reset_for_tests();
  CHECK(!zk_disk_cache_enabled());
  CHECK_STATUS(zk_disk_cache_store(k, "so", &byte, 1, NULL, 0),
               ZMLX_STATUS_UNSUPPORTED);
  teardown();
}

static char *save_env(const char *name) {
  const char *v = getenv(name);
  return v ? strdup(v) : NULL;
}

static void test_folder_choice(void) {
  setup();
  char *home = save_env("HOME"), *xdg = save_env("XDG_CACHE_HOME");
  char real[PATH_MAX], want[PATH_MAX], v[PATH_MAX];
  CHECK(realpath(g_tmp, real) != NULL);

  use_env("ZMLX_CACHE_DIR", NULL);
  pathf(v, "%s/xdg", g_tmp);
  use_env("XDG_CACHE_HOME", v);
  zk_disk_cache_reset_for_tests();
  pathf(want, "%s/xdg/zmlx", real);
  CHECK_MSG(!strcmp(zk_disk_cache_dir(), want), "dir %s, want %s",
            zk_disk_cache_dir(), want);

  use_env("XDG_CACHE_HOME", NULL);
  pathf(v, "%s/home", g_tmp);
  use_env("HOME", v);
  zk_disk_cache_reset_for_tests();
  pathf(want, "%s/home/.cache/zmlx", real);
  CHECK_MSG(!strcmp(zk_disk_cache_dir(), want), "dir %s, want %s",
            zk_disk_cache_dir(), want);
  CHECK(exists(want));

  /* A relative folder is made absolute: paths handed out must survive a
   * chdir() of the caller. */
  char cwd[PATH_MAX];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(chdir(g_tmp) == 0);
  use_env("ZMLX_CACHE_DIR", "rel/cache");
  zk_disk_cache_reset_for_tests();
  CHECK(chdir(cwd) == 0);
  pathf(want, "%s/rel/cache", real);
  CHECK_MSG(!strcmp(zk_disk_cache_dir(), want), "dir %s, want %s",
            zk_disk_cache_dir(), want);

  /* A bad cap falls back to the 2048 MiB default. */
  use_env("ZMLX_CACHE_MAX_MB", "lots");
  zk_disk_cache_reset_for_tests();
  zmlx_cache_info ci;
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK(ci.max_bytes == 2048ull << 20);

  use_env("HOME", home);
  use_env("XDG_CACHE_HOME", xdg);
  free(home);
  free(xdg);
  teardown();
}

/* ---- Info and clear ---------------------------------------------------- */

static void test_info_and_clear(void) {
  setup();
  enum { N = 6 };
  zmlx_hash128 keys[N];
  unsigned char *pays[N];
  char path[PATH_MAX];
  uint64_t bytes = 0;
  for (int i = 0; i < N; i++) {
    keys[i] = store_random(1000 * (size_t)(i + 1), &pays[i], path);
    bytes += 1000 * (uint64_t)(i + 1) + FOOTER;
  }
  /* A temp file left by a writer that died counts as no entry. */
  char hex[33], stray[PATH_MAX];
  zmlx_hash128_hex(keys[0], hex);
  pathf(stray, "%s/v1/%.2s/.%s.cubin.tmp.abcdef",
           zk_disk_cache_dir(), hex, hex);
  CHECK(spit(stray, "partial", 7) == 0);

  zmlx_cache_info ci;
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK(!strcmp(ci.dir, zk_disk_cache_dir()));
  CHECK_EQ_INT(ci.enabled, 1);
  CHECK_EQ_INT(ci.n_files, N);
  CHECK(ci.bytes == bytes);
  CHECK(ci.max_bytes == 2048ull << 20);
  CHECK(ci.n_memory_hits == 0 && ci.n_disk_hits == 0 && ci.n_compiles == 0);

  CHECK_OK(zk_disk_cache_clear());
  CHECK_OK(zk_disk_cache_info(&ci));
  CHECK_EQ_INT(ci.n_files, 0);
  CHECK_EQ_INT(ci.bytes, 0);
  CHECK(!exists(stray));
  char v1[PATH_MAX];
  pathf(v1, "%s/v1", zk_disk_cache_dir());
  CHECK_MSG(count_files(v1) <= 0, "shard folders left in %s", v1);
  CHECK(exists(zk_disk_cache_dir()));
  for (int i = 0; i < N; i++)
    CHECK_STATUS(zk_disk_cache_load(keys[i], "cubin", NULL, NULL, NULL, 0),
                 ZMLX_STATUS_NOT_FOUND);
  /* The cache works again right after. */
  CHECK_OK(zk_disk_cache_store(keys[0], "cubin", pays[0], 1000, NULL, 0));
  CHECK(loads_as(keys[0], "cubin", pays[0], 1000));
  CHECK_OK(zk_disk_cache_clear()); /* twice in a row is fine */
  CHECK_OK(zk_disk_cache_clear());
  for (int i = 0; i < N; i++) free(pays[i]);
  teardown();
}

/* A temp file from a writer that died is swept by a later store; a recent
 * one may belong to a live writer and stays. */
static void test_stale_temp_swept(void) {
  setup();
  zmlx_hash128 k = random_key();
  char hex[33], shard[PATH_MAX], stale[PATH_MAX], fresh[PATH_MAX];
  zmlx_hash128_hex(k, hex);
  pathf(shard, "%s/v1/%.2s", zk_disk_cache_dir(), hex);
  pathf(stale, "%s/.%s.so.tmp.aaaaaa", shard, hex);
  pathf(fresh, "%s/.%s.so.tmp.bbbbbb", shard, hex);
  unsigned char byte = 3;
  CHECK_OK(zk_disk_cache_store(k, "so", &byte, 1, NULL, 0)); /* makes shard */
  CHECK(spit(stale, "half", 4) == 0);
  CHECK(spit(fresh, "half", 4) == 0);
  set_mtime(stale, time(NULL) - 2 * 3600);
  CHECK_OK(zk_disk_cache_store(random_key(), "so", &byte, 1, NULL, 0));
  CHECK(!exists(stale));
  CHECK(exists(fresh));
  CHECK(loads_as(k, "so", &byte, 1));
  teardown();
}

/* ---- Concurrency ------------------------------------------------------- */

#define RACE_ROUNDS 200
#define RACE_LEN (64u << 10)

typedef struct race {
  zmlx_hash128 key;
  const unsigned char *payload;
  int failures;   /* stores that failed, or loads that saw wrong bytes */
  int hits;
  atomic_int *stop;
} race;

static void *race_writer(void *arg) {
  race *r = arg;
  for (int i = 0; i < RACE_ROUNDS; i++)
    if (zk_disk_cache_store(r->key, "cubin", r->payload, RACE_LEN, NULL, 0))
      r->failures++;
  return NULL;
}

/* Readers must only ever see a whole entry or none. */
static void *race_reader(void *arg) {
  race *r = arg;
  while (!atomic_load(r->stop)) {
    void *got = NULL;
    size_t n = 0;
    zmlx_status s = zk_disk_cache_load(r->key, "cubin", &got, &n, NULL, 0);
    if (s == ZMLX_STATUS_OK) {
      r->hits++;
      if (n != RACE_LEN || memcmp(got, r->payload, n)) r->failures++;
    } else if (s != ZMLX_STATUS_NOT_FOUND) {
      r->failures++;
    }
    free(got);
  }
  return NULL;
}

static void test_concurrent_stores(void) {
  setup();
  unsigned char *p = random_bytes(RACE_LEN);
  atomic_int stop = 0;
  race w[2], rd;
  for (int i = 0; i < 2; i++) w[i] = (race){random_key(), p, 0, 0, &stop};
  w[1].key = w[0].key;
  rd = w[0];
  uint64_t corrupt_before = zk_disk_cache_corrupt_count();
  pthread_t tw[2], tr;
  CHECK(pthread_create(&tr, NULL, race_reader, &rd) == 0);
  for (int i = 0; i < 2; i++)
    CHECK(pthread_create(&tw[i], NULL, race_writer, &w[i]) == 0);
  for (int i = 0; i < 2; i++) pthread_join(tw[i], NULL);
  atomic_store(&stop, 1);
  pthread_join(tr, NULL);
  CHECK_EQ_INT(w[0].failures + w[1].failures, 0);
  CHECK_EQ_INT(rd.failures, 0);
  CHECK(zk_disk_cache_corrupt_count() == corrupt_before);
  CHECK(loads_as(w[0].key, "cubin", p, RACE_LEN));
  /* Every temp file was renamed or removed. */
  char hex[33], shard[PATH_MAX];
  zmlx_hash128_hex(w[0].key, hex);
  pathf(shard, "%s/v1/%.2s", zk_disk_cache_dir(), hex);
  CHECK_EQ_INT(count_files(shard), 1);
  free(p);
  teardown();
}

ZT_MAIN(ZT(test_roundtrip), ZT(test_miss_and_bad_arguments), ZT(test_layout),
        ZT(test_shared_object_loads), ZT(test_corrupt_entries),
        ZT(test_lru_eviction), ZT(test_load_touches_mtime), ZT(test_disabled),
        ZT(test_folder_choice), ZT(test_info_and_clear),
        ZT(test_stale_temp_swept),
        ZT(test_concurrent_stores))
