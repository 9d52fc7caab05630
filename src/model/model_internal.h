#ifndef ZMLX_MODEL_INTERNAL_H
#define ZMLX_MODEL_INTERNAL_H
/* Internal helpers shared by the model-file readers: paths and reading a
 * JSON file with errors that name it. */
#include "core/json.h"
#include "zmlx/status.h"

/* JSON files larger than this are refused (configs and indexes are KBs). */
#define ZMD_MAX_JSON_BYTES ((size_t)256 << 20)

/* Read and parse path; errors are "op: PATH: ..." (NOT_FOUND when the
 * file does not exist, CORRUPT_DATA for bad JSON). */
zmlx_status zmd_read_json(const char *op, const char *path, zj_value *out);
/* Parse text[0..len) with errors naming label. */
zmlx_status zmd_parse_json(const char *op, const char *label, const char *text, size_t len,
                           zj_value *out);
/* malloc'd "dir/name"; NULL when out of memory. */
char *zmd_join(const char *dir, const char *name);
/* malloc'd folder part of path ("." when none); NULL when out of memory. */
char *zmd_dirname(const char *path);

#endif
