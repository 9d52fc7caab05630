/* The process-wide compile cache: memory first, then disk, then the
 * compiler. Keys hash the full generated source together with the
 * backend's compiler id (compiler, version, architecture, options), never
 * a kernel's name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "kernel/disk_cache.h"
#include "kernel/kernel_internal.h"

#define N_BUCKETS 256

extern const char zk_prelude_text[];

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static zk_module *buckets[N_BUCKETS];
static uint64_t n_mem_hits, n_disk_hits, n_compiles;

/* Compiler ids are asked once per device: a CPU id stats the compiler. */
typedef struct id_entry {
  const zb_backend *backend;
  int dev;
  char id[1024];
} id_entry;
static id_entry ids[16];
static int n_ids;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static zmlx_status compiler_id(const zb_backend *b, int dev, const char **out) {
  for (int i = 0; i < n_ids; i++)
    if (ids[i].backend == b && ids[i].dev == dev) {
      *out = ids[i].id;
      return ZMLX_STATUS_OK;
    }
  static id_entry spare;
  id_entry *e = n_ids < 16 ? &ids[n_ids] : &spare;
  e->backend = b;
  e->dev = dev;
  ZMLX_TRY(b->compiler_id(dev, e->id, sizeof e->id));
  if (n_ids < 16) n_ids++;
  *out = e->id;
  return ZMLX_STATUS_OK;
}

static void dump_source(const char *source, const char *entry, const char *hex, int cuda) {
  const char *where = zmlx_env("ZMLX_DUMP_SOURCE");
  if (!where || !strcmp(where, "0")) return;
  if (!strchr(where, '/')) {
    fprintf(stderr, "=== zmlx: generated source of %s (%s) ===\n%s\n=== end ===\n", entry, hex,
            source);
    return;
  }
  mkdir(where, 0755);
  char path[2048];
  snprintf(path, sizeof path, "%s/%s_%.16s.%s", where, entry, hex, cuda ? "cu" : "c");
  FILE *f = fopen(path, "w");
  if (!f) {
    zmlx_log(ZMLX_LOG_WARN, "ZMLX_DUMP_SOURCE: cannot write %s: %s", path, strerror(errno));
    return;
  }
  fputs(source, f);
  fclose(f);
}

static zmlx_status compile_failed(const zb_backend *b, zmlx_device dev, const char *source,
                                  const char *kernel_name, const char *cid, char *log) {
  char d[32];
  zmlx_strbuf sb = {0};
  char *why = strdup(zmlx_error_last());
  zmlx_sb_printf(&sb, "kernel '%s' failed to compile for %s (%s)\n", kernel_name,
                 zmlx_device_format(dev, d, sizeof d), cid);
  zmlx_sb_printf(&sb, "--- compiler log ---\n%s\n", log && log[0] ? log : (why ? why : ""));
  zmlx_sb_append(&sb, "--- generated source ---\n");
  /* The prelude (line 2 on) is the same in every kernel: name it, keep
   * the numbering, and show what is particular to this kernel. */
  int prelude_lines = 0;
  for (const char *c = zk_prelude_text; *c; c++) prelude_lines += *c == '\n';
  zmlx_sb_append_numbered(&sb, source, 2, 1 + prelude_lines,
                          "(the ZMLX prelude, src/kernel/prelude.h)");
  char *text = zmlx_sb_take(&sb);
  zmlx_status s = zmlx_fail(ZMLX_STATUS_COMPILE_FAILED, "kernel_compile", "%s",
                            text ? text : "out of memory");
  free(text);
  free(why);
  return s;
}

/* Load a binary into a new module entry. */
static zmlx_status load(const zb_backend *b, zmlx_device dev, zmlx_hash128 key, const void *bin,
                        size_t len, const char *path, const char *entry, zk_module **out) {
  zk_module *m = calloc(1, sizeof *m);
  if (!m) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "kernel_load", "out of host memory");
  zmlx_status s = b->module_load(dev.index, bin, len, path, entry, &m->module, &m->function);
  if (s != ZMLX_STATUS_OK) {
    free(m);
    return s;
  }
  m->key = key;
  m->device = dev;
  m->backend = b;
  *out = m;
  return ZMLX_STATUS_OK;
}

static zk_module *find(zmlx_hash128 key, zmlx_device dev) {
  for (zk_module *m = buckets[key.lo % N_BUCKETS]; m; m = m->next)
    if (zmlx_hash128_equal(m->key, key) && m->device.type == dev.type &&
        m->device.index == dev.index)
      return m;
  return NULL;
}

static zmlx_status resolve_locked(const zb_backend *b, zmlx_device dev, const char *source,
                                  const char *entry, const char *kernel_name, zk_module **out,
                                  zk_resolve_info *info) {
  const char *cid;
  double t_start = now_ms();
  ZMLX_TRY(compiler_id(b, dev.index, &cid));
  double t_id = now_ms();
  size_t slen = strlen(source), clen = strlen(cid);
  char *keytext = malloc(slen + clen + 2);
  if (!keytext) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "kernel_cache", "out of host memory");
  memcpy(keytext, source, slen + 1);
  memcpy(keytext + slen + 1, cid, clen + 1);
  zmlx_hash128 key = zmlx_hash128_bytes(keytext, slen + clen + 2);
  free(keytext);

  if ((*out = find(key, dev))) {
    info->memory_hit = 1;
    n_mem_hits++;
    return ZMLX_STATUS_OK;
  }
  char hex[33], path[2048];
  zmlx_hash128_hex(key, hex);
  const char *ext = b->type == ZMLX_DEVICE_CUDA ? "cubin" : "so";
  void *bin = NULL;
  size_t len = 0;
  double t_read = 0;
  zmlx_status s = zk_disk_cache_load(key, ext, &bin, &len, path, sizeof path);
  if (s == ZMLX_STATUS_OK) {
    t_read = now_ms();
    s = load(b, dev, key, bin, len, path, entry, out);
    free(bin);
    if (s == ZMLX_STATUS_OK) {
      info->disk_hit = 1;
      n_disk_hits++;
      zmlx_log(ZMLX_LOG_DEBUG, "kernel_cache: %s from disk: compiler id %.3f ms, read %.3f ms, load %.3f ms",
               entry, t_id - t_start, t_read - t_id, now_ms() - t_read);
    } else {
      zmlx_log(ZMLX_LOG_WARN, "kernel_cache: cannot load cached %s (%s); rebuilding", path,
               zmlx_error_last());
    }
  }
  if (!*out) {
    dump_source(source, entry, hex, b->type == ZMLX_DEVICE_CUDA);
    char *log = NULL;
    double t0 = now_ms();
    s = b->compile(dev.index, source, entry, &bin, &len, &log);
    info->compile_ms = now_ms() - t0;
    info->compiled = 1;
    n_compiles++;
    if (s != ZMLX_STATUS_OK) {
      s = s == ZMLX_STATUS_COMPILE_FAILED ? compile_failed(b, dev, source, kernel_name, cid, log) : s;
      free(log);
      return s;
    }
    free(log);
    const char *stored = NULL;
    if (zk_disk_cache_store(key, ext, bin, len, path, sizeof path) == ZMLX_STATUS_OK)
      stored = path;
    else
      zmlx_log(ZMLX_LOG_INFO, "kernel_cache: not cached on disk: %s", zmlx_error_last());
    s = load(b, dev, key, bin, len, stored, entry, out);
    free(bin);
    ZMLX_TRY(s);
  }
  zk_module **head = &buckets[key.lo % N_BUCKETS];
  (*out)->next = *head;
  *head = *out;
  return ZMLX_STATUS_OK;
}

zmlx_status zk_module_get(const zb_backend *b, zmlx_device dev, const char *source,
                          const char *entry, const char *kernel_name, zk_module **out,
                          zk_resolve_info *info) {
  memset(info, 0, sizeof *info);
  *out = NULL;
  /* One lock: compiles are rare, and two threads asking for the same
   * kernel must not both build it. */
  pthread_mutex_lock(&cache_lock);
  zmlx_status s = resolve_locked(b, dev, source, entry, kernel_name, out, info);
  pthread_mutex_unlock(&cache_lock);
  return s;
}

void zk_module_cache_counters(uint64_t *mem, uint64_t *disk, uint64_t *compiles) {
  pthread_mutex_lock(&cache_lock);
  *mem = n_mem_hits;
  *disk = n_disk_hits;
  *compiles = n_compiles;
  pthread_mutex_unlock(&cache_lock);
}

void zk_module_cache_shutdown(void) {
  pthread_mutex_lock(&cache_lock);
  for (int i = 0; i < N_BUCKETS; i++) {
    for (zk_module *m = buckets[i], *next; m; m = next) {
      next = m->next;
      m->backend->module_unload(m->device.index, m->module);
      free(m);
    }
    buckets[i] = NULL;
  }
  n_ids = 0;
  pthread_mutex_unlock(&cache_lock);
}
