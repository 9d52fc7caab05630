/* `zmlx cache info` and `zmlx cache clear`: look at or empty the disk cache
 * of compiled kernels. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "zmlx/zmlx.h"

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static void cache_usage(void) {
  fprintf(stderr,
          "usage: zmlx cache info    show the disk cache's folder and size\n"
          "       zmlx cache clear   delete every cached kernel binary\n"
          "The folder is $ZMLX_CACHE_DIR, else $XDG_CACHE_HOME/zmlx, else\n"
          "~/.cache/zmlx; ZMLX_DISK_CACHE=0 turns the cache off and\n"
          "ZMLX_CACHE_MAX_MB sets its cap (default 2048).\n");
}

static int cache_info(void) {
  zmlx_cache_info ci;
  zmlx_status s = zmlx_cache_info_get(&ci);
  if (s != ZMLX_STATUS_OK) {
    fprintf(stderr, "zmlx cache info: %s\n", zmlx_error_last());
    return 1;
  }
  printf("dir: %s\n", ci.enabled ? ci.dir : "(none)");
  printf("enabled: %s\n", ci.enabled ? "yes" : "no");
  printf("files: %llu\n", (unsigned long long)ci.n_files);
  printf("bytes: %llu (%.1f MiB)\n", (unsigned long long)ci.bytes,
         mib(ci.bytes));
  printf("max: %llu MiB\n", (unsigned long long)(ci.max_bytes >> 20));
  return 0;
}

static int cache_clear(void) {
  zmlx_cache_info before, after;
  if (zmlx_cache_info_get(&before) != ZMLX_STATUS_OK) {
    fprintf(stderr, "zmlx cache clear: %s\n", zmlx_error_last());
    return 1;
  }
  if (!before.enabled) {
    printf("the disk cache is disabled; nothing to clear\n");
    return 0;
  }
  if (zmlx_cache_clear() != ZMLX_STATUS_OK) {
    fprintf(stderr, "zmlx cache clear: %s\n", zmlx_error_last());
    return 1;
  }
  /* Another process may store while we clear: report what really went. */
  uint64_t left = 0;
  if (zmlx_cache_info_get(&after) == ZMLX_STATUS_OK) left = after.bytes;
  uint64_t freed = before.bytes > left ? before.bytes - left : 0;
  printf("freed %llu bytes (%.1f MiB) from %s\n", (unsigned long long)freed,
         mib(freed), before.dir);
  return 0;
}

int zmlx_cmd_cache(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "info")) return cache_info();
  if (argc == 2 && !strcmp(argv[1], "clear")) return cache_clear();
  cache_usage();
  return 2;
}
