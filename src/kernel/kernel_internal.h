#ifndef ZMLX_KERNEL_INTERNAL_H
#define ZMLX_KERNEL_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"
#include "core/hash.h"
#include "zmlx/kernel.h"

#define ZK_MAX_IO 32        /* inputs, outputs or scalars */
#define ZK_MAX_TEMPLATES 16

/* What a body reads of one array besides its data. */
enum { ZK_USES_SHAPE = 1, ZK_USES_STRIDES = 2, ZK_USES_NDIM = 4 };

/* A compiled, loaded binary, shared by every kernel whose generated source
 * (and compiler) hash to the same key. Lives until zmlx_shutdown. */
typedef struct zk_module {
  struct zk_module *next;
  zmlx_hash128 key;
  zmlx_device device;
  const zb_backend *backend;
  void *module;
  void *function;
} zk_module;

/* One specialization of a kernel: device, dtypes and template values. */
typedef struct zk_variant {
  struct zk_variant *next;
  unsigned char key[512];
  size_t key_len;
  zk_module *module;
} zk_variant;

struct zmlx_kernel {
  char *name;
  int n_in, n_out, n_sc;
  char **in_names, **out_names, **sc_names;
  zmlx_dtype sc_dtypes[ZK_MAX_IO];
  unsigned char in_uses[ZK_MAX_IO], out_uses[ZK_MAX_IO];
  char *source, *header;
  pthread_mutex_t lock;
  zk_variant *variants;
  zk_variant *last; /* the fast path: most launches repeat the last one */
  atomic_uint_fast64_t n_variants, n_compiles, n_memory_hits, n_disk_hits, n_launches;
  _Atomic double compile_ms;
};

/* The everything-known description of one specialization, for codegen. */
typedef struct zk_spec {
  const zmlx_kernel *k;
  zmlx_device_type target;
  zmlx_dtype in_dtypes[ZK_MAX_IO];
  zmlx_dtype out_dtypes[ZK_MAX_IO];
  int n_templates;
  const zmlx_template_arg *templates;
} zk_spec;

/* codegen.c: the full source for a spec; *out is malloc'd. entry receives
 * the kernel's symbol name. */
zmlx_status zk_codegen(const zk_spec *spec, char **out, char *entry, size_t entry_len);
/* The C type name kernels use for a dtype ("float", "zmlx_bf16", ...). */
const char *zk_ctype(zmlx_dtype t);
int zk_is_identifier(const char *s);
/* 1 when identifier `word` occurs in text as a whole token. */
int zk_uses_identifier(const char *text, const char *word);

/* module_cache.c: find or build the binary for a source on a device. */
typedef struct zk_resolve_info {
  int memory_hit, disk_hit, compiled;
  double compile_ms;
} zk_resolve_info;
zmlx_status zk_module_get(const zb_backend *b, zmlx_device dev, const char *source,
                          const char *entry, const char *kernel_name, zk_module **out,
                          zk_resolve_info *info);
void zk_module_cache_shutdown(void);
void zk_module_cache_counters(uint64_t *mem, uint64_t *disk, uint64_t *compiles);

/* launch.c. Flags: ZK_OUTPUTS_GIVEN: outputs[] are existing arrays (any
 * strides) that the kernel writes into, and cfg's output fields are
 * ignored. ZK_INPUTS_AS_IS: pass every input's data pointer as it is, even
 * to a body that ignores strides (the caller's body indexes it itself). */
enum { ZK_OUTPUTS_GIVEN = 1, ZK_INPUTS_AS_IS = 2 };
zmlx_status zk_launch(zmlx_kernel *k, int n_inputs, zmlx_array *const *inputs,
                      const zmlx_launch_config *cfg, zmlx_array **outputs, int flags);


#endif
