#ifndef ZMLX_CATALOG_RAW_KERNELS_H
#define ZMLX_CATALOG_RAW_KERNELS_H
/* Internal: hand-written run-time kernels of the catalog (rope, dropout,
 * indexing, bits), built once per process from a description and freed by
 * zcat_shutdown. The same body compiles as C11 for the CPU and as CUDA C++
 * for NVRTC; CUDA-only parts sit under #ifdef ZMLX_CUDA. */
#include "kernel/kernel_internal.h"

/* Kernel text: ZDIV(a, b), the quotient of non-negative integers in 32
 * bits when both fit (a 64-bit division costs a GPU some hundred
 * instructions), for bodies that split a linear index. */
#define ZCAT_DIV_TEXT                                                                    \
  "#define ZDIV(a, b) ((((unsigned long long)(a) | (unsigned long long)(b)) >> 32) \\\n"  \
  "    ? (long long)(a) / (long long)(b) : (long long)((unsigned)(a) / (unsigned)(b)))\n"

typedef struct zcat_raw_slot {
  zmlx_kernel *k;
} zcat_raw_slot;

/* The kernel of desc, built on first use (thread-safe). */
zmlx_status zcat_raw_get(zcat_raw_slot *slot, const zmlx_kernel_desc *desc, zmlx_kernel **out);
/* Frees every kernel built through zcat_raw_get (called by zcat_shutdown). */
void zcat_raw_shutdown(void);

/* Launch k over a 1-D grid of n points into outputs the caller made
 * (ZK_OUTPUTS_GIVEN); nothing runs when n is 0. */
zmlx_status zcat_raw_launch(zmlx_kernel *k, int n_in, zmlx_array *const *in, int n_out,
                            zmlx_array **out, int64_t n, int n_templates,
                            const zmlx_template_arg *templates, int n_scalars,
                            const double *scalars);

/* 1 when a kernel whose body ignores a's strides sees a's data on a
 * 16-byte boundary: a is empty, or not contiguous (the launcher copies it
 * into a fresh, aligned buffer), or contiguous and aligned. */
int zcat_aligned16(const zmlx_array *a);

/* For the registry's runners: a backward's output gradient g must have
 * the forward's shape and device (x's), as the tape would check, for
 * backward calls that do not take x themselves; fails naming op. */
zmlx_status zcat_check_grad_shape(const char *op, const zmlx_array *g, const zmlx_array *x);
/* For runners whose entry name differs from the op's: s, with the last
 * error prefixed by "name: " unless it already names it. */
zmlx_status zcat_named(const char *name, zmlx_status s);

#endif
