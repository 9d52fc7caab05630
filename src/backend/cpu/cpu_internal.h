#ifndef ZMLX_CPU_INTERNAL_H
#define ZMLX_CPU_INTERNAL_H
#include <stddef.h>
#include "zmlx/status.h"

/* cpu_compile.c: the system C compiler and dlopen. */
zmlx_status zb_cpu_compiler_id(int dev, char *buf, size_t len);
zmlx_status zb_cpu_compile(int dev, const char *source, const char *entry,
                           void **binary, size_t *binary_len, char **log);
zmlx_status zb_cpu_module_load(int dev, const void *binary, size_t len,
                               const char *path, const char *entry,
                               void **module, void **function);
void zb_cpu_module_unload(int dev, void *module);
/* "gcc (Debian 12.2.0-14) 12.2.0" or a reason; for zmlx doctor. */
const char *zb_cpu_compiler_version(void);

#endif
