/* The public view of the compile cache. */
#include <string.h>

#include "core/error.h"
#include "kernel/disk_cache.h"
#include "kernel/kernel_internal.h"

zmlx_status zmlx_cache_info_get(zmlx_cache_info *out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "cache_info", "out is NULL");
  memset(out, 0, sizeof *out);
  ZMLX_TRY(zk_disk_cache_info(out));
  zk_module_cache_counters(&out->n_memory_hits, &out->n_disk_hits, &out->n_compiles);
  out->n_corrupt = zk_disk_cache_corrupt_count();
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_cache_clear(void) { return zk_disk_cache_clear(); }
