#ifndef ZMLX_KERNEL_DISK_CACHE_H
#define ZMLX_KERNEL_DISK_CACHE_H
/* The on-disk cache of compiled kernel binaries (cubins, shared objects).
 *
 * Folder: $ZMLX_CACHE_DIR, else $XDG_CACHE_HOME/zmlx, else
 * $HOME/.cache/zmlx. Disabled when ZMLX_DISK_CACHE=0 or when no folder can
 * be made. Resolved lazily, once per process (pthread_once);
 * zk_disk_cache_reset_for_tests() re-reads the environment.
 *
 * Layout: <dir>/v1/<first 2 hex digits of key>/<32 hex key>.<ext>. Each file
 * is the payload followed by a 48-byte footer (magic, version, key, length,
 * checksum) at its END, so a cached shared object stays dlopen()-able.
 *
 * Every entry is written to a temp file and renamed into place, so readers
 * (threads or processes) only ever see whole entries. Callers treat any
 * non-OK result of load or store as "no cache" and go on: the cache is an
 * optimisation, never a reason for a kernel launch to fail. */
#include <stddef.h>
#include <stdint.h>
#include "core/hash.h"
#include "zmlx/kernel.h" /* zmlx_cache_info */
#include "zmlx/status.h"

/* Size of the footer appended to every entry. */
#define ZK_DISK_CACHE_FOOTER_BYTES 48

int zk_disk_cache_enabled(void);
const char *zk_disk_cache_dir(void); /* "" when disabled */

/* Look a binary up. key: the 128-bit hash of the generated source, options
 * and compiler id; ext: "cubin" or "so" (1-15 letters or digits).
 * On a hit: *data is malloc'd (caller frees), *len is the payload size,
 * path (if non-NULL) receives the entry's file path, and the file's mtime
 * is touched so LRU eviction sees it as recently used. data and len may be
 * NULL to only check the entry and get its path.
 * Returns NOT_FOUND on a miss, when disabled, when the entry is unreadable,
 * and for a corrupt, foreign or truncated entry (which is also deleted,
 * counted and logged at WARN). INVALID_ARGUMENT for a bad ext or a path
 * buffer too small; OUT_OF_MEMORY if the payload cannot be allocated. */
zmlx_status zk_disk_cache_load(zmlx_hash128 key, const char *ext, void **data,
                               size_t *len, char *path, size_t path_len);

/* Store atomically (temp file + rename), then evict least-recently-used
 * entries if the cache exceeds its cap ($ZMLX_CACHE_MAX_MB, default 2048),
 * down to 90% of it; the entry just stored is never evicted. path (if
 * non-NULL) receives the final path.
 * Returns IO_ERROR when the entry cannot be written, UNSUPPORTED when the
 * disk cache is disabled (nothing is written, path is set to ""),
 * INVALID_ARGUMENT for a bad ext, NULL data with len > 0, or a path buffer
 * too small. */
zmlx_status zk_disk_cache_store(zmlx_hash128 key, const char *ext,
                                const void *data, size_t len, char *path,
                                size_t path_len);

/* Fills dir, enabled, n_files, bytes, max_bytes and n_corrupt; the hit and
 * compile counters are left 0 for the caller to fill. */
zmlx_status zk_disk_cache_info(zmlx_cache_info *out);

/* Removes every entry (and stray temp file) and the shard folders; the root
 * folder stays. Entries written concurrently by another process may
 * survive. OK when disabled (there is nothing to clear). */
zmlx_status zk_disk_cache_clear(void);

/* Corrupt entries found (and deleted) by this process. */
uint64_t zk_disk_cache_corrupt_count(void);

/* Re-reads the environment. Only while no other thread uses the cache. */
void zk_disk_cache_reset_for_tests(void);

#endif
