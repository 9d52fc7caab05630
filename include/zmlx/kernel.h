#ifndef ZMLX_KERNEL_H
#define ZMLX_KERNEL_H
#include <stdint.h>
#include "zmlx/array.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Run-time kernels: you write the body of a kernel in C; ZMLX writes the
 * signature, compiles it for the device (NVRTC on CUDA, the system C
 * compiler on the CPU), caches the binary in memory and on disk, and
 * launches it.
 *
 * The body runs once per point of the launch grid and sees:
 *   gid                 linear index of the point (long long)
 *   gid_x, gid_y, gid_z its coordinates; grid_x, grid_y, grid_z the extent
 *   NAME                each input as `const NAME_t *`, each output `NAME_t *`
 *   NAME_t              the element type (float, double, zmlx_f16, zmlx_bf16,
 *                       zmlx_fp8e4m3, zmlx_fp8e5m2, int8_t ... uint32_t,
 *                       zmlx_bool)
 *   NAME_shape[i], NAME_strides[i], NAME_ndim
 *                       the input's shape and element strides; passed only
 *                       when the body names them. An input whose strides the
 *                       body reads is passed as it is (views, broadcasts);
 *                       any other input is made C-contiguous first.
 *   scalars             each as `const float NAME` (or the dtype you give)
 *   template constants  ints and bools as #defines, dtypes as typedefs
 *   zmlx_tof(v), zmlx_tod(v)  any element to float / double
 *   zmlx_store(p, i, v) p[i] = v converted to p's element type
 *   ZMLX_CUDA / ZMLX_CPU defined on the backend compiling it
 * A body that uses CUDA-only features (threadIdx, __shared__) should keep
 * them under #ifdef ZMLX_CUDA.
 *
 * The in-memory and disk caches are keyed by a hash of the full generated
 * source, the compiler options, the compiler's version and the target
 * architecture, never by name.
 *
 * Ownership: zmlx_kernel_create copies everything in the description; the
 * caller owns the kernel and frees it with zmlx_kernel_destroy. Outputs of
 * zmlx_kernel_launch are new arrays owned by the caller. */
typedef struct zmlx_kernel zmlx_kernel;

typedef struct zmlx_kernel_desc {
  const char *name;               /* C identifier, used in the symbol name */
  int n_inputs;
  const char *const *input_names;
  int n_outputs;
  const char *const *output_names;
  int n_scalars;
  const char *const *scalar_names;
  const zmlx_dtype *scalar_dtypes; /* NULL: every scalar is f32 */
  const char *source;             /* the body */
  const char *header;             /* optional code placed before the kernel */
} zmlx_kernel_desc;

typedef enum zmlx_template_kind {
  ZMLX_TEMPLATE_INT = 0,  /* #define NAME value */
  ZMLX_TEMPLATE_BOOL,     /* #define NAME 0|1 */
  ZMLX_TEMPLATE_DTYPE     /* typedef <type of dtype> NAME; */
} zmlx_template_kind;

typedef struct zmlx_template_arg {
  const char *name;
  zmlx_template_kind kind;
  int64_t value;          /* the int, the bool, or a zmlx_dtype */
} zmlx_template_arg;

typedef struct zmlx_launch_config {
  /* Outputs: dtype and shape of each. */
  const zmlx_dtype *output_dtypes;
  const int *output_ndims;
  const int64_t *const *output_shapes;
  /* Grid points per dimension; {0,0,0} = auto: one point per element of
   * output 0. */
  int64_t grid[3];
  /* CUDA threads per block per dimension; 0 = the tuned default. */
  int block[3];
  unsigned shared_bytes;  /* CUDA dynamic shared memory */
  int n_templates;
  const zmlx_template_arg *templates;
  int n_scalars;          /* must match the description */
  const double *scalars;
  int init_outputs;       /* fill every output with init_value first */
  double init_value;
  zmlx_stream *stream;    /* NULL: the thread's current stream */
} zmlx_launch_config;

typedef struct zmlx_kernel_stats {
  uint64_t n_variants;     /* distinct compiled specializations */
  uint64_t n_compiles;     /* compiler runs */
  double compile_ms;       /* total time in the compiler */
  uint64_t n_memory_hits;  /* launches served by a loaded binary */
  uint64_t n_disk_hits;    /* binaries loaded from the disk cache */
  uint64_t n_launches;
} zmlx_kernel_stats;

zmlx_status zmlx_kernel_create(const zmlx_kernel_desc *desc, zmlx_kernel **out);
void zmlx_kernel_destroy(zmlx_kernel *k); /* NULL-safe */

/* All inputs on one device; outputs are created there. `outputs` has room
 * for desc.n_outputs handles. Compiles on first use of each specialization
 * (input dtypes, templates, backend and device). */
zmlx_status zmlx_kernel_launch(zmlx_kernel *k, int n_inputs,
                               zmlx_array *const *inputs,
                               const zmlx_launch_config *cfg,
                               zmlx_array **outputs);

zmlx_status zmlx_kernel_stats_get(const zmlx_kernel *k, zmlx_kernel_stats *out);

/* The source ZMLX generates for this launch on `dev`, with line numbers
 * exactly as the compiler sees them. *out is malloc'd; free() it. */
zmlx_status zmlx_kernel_source(zmlx_kernel *k, zmlx_device dev, int n_inputs,
                               zmlx_array *const *inputs,
                               const zmlx_launch_config *cfg, char **out);

/* ---- Process-wide compile cache -------------------------------------- */
typedef struct zmlx_cache_info {
  char dir[1024];          /* the disk cache folder ("" when disabled) */
  int enabled;
  uint64_t n_files;
  uint64_t bytes;
  uint64_t max_bytes;      /* LRU cap ($ZMLX_CACHE_MAX_MB, default 2048) */
  uint64_t n_memory_hits, n_disk_hits, n_compiles, n_corrupt;
} zmlx_cache_info;

zmlx_status zmlx_cache_info_get(zmlx_cache_info *out);
/* Delete every file of the disk cache (the in-memory one stays). */
zmlx_status zmlx_cache_clear(void);

#ifdef __cplusplus
}
#endif
#endif
