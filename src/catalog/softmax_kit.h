#ifndef ZMLX_CATALOG_SOFTMAX_KIT_H
#define ZMLX_CATALOG_SOFTMAX_KIT_H
/* Internal: what the hand-written kernels of the softmax, reduce, scan and
 * loss families share. Kernels (raw run-time kernels, reductions, scans)
 * built once per process and freed by zsm_shutdown (from zcat_shutdown);
 * the text every raw kernel of these families starts with (compute type,
 * fast exponentials, vector conversions, group reductions); launch shapes;
 * and a capture mode that turns launches into CUDA sources, so that a test
 * without a GPU can compile every kernel with NVRTC. */
#include "catalog/cat_internal.h"
#include "zmlx/kernel.h"
#include "zmlx/reduce.h"

/* ---- kernels kept for the process ---------------------------------------- */
typedef struct zsm_slot {
  zmlx_kernel *k;
} zsm_slot;
typedef struct zsm_reduce_slot {
  zmlx_reduce *k;
} zsm_reduce_slot;

/* The kernel of d (whose header is prefixed with zsm_kit_text), built on
 * first use; errors name op. */
zmlx_status zsm_kernel_get(const char *op, zsm_slot *slot, const zmlx_kernel_desc *d,
                           zmlx_kernel **out);
zmlx_status zsm_reduce_get(const char *op, zsm_reduce_slot *slot, const zmlx_reduce_desc *d,
                           zmlx_reduce **out);
/* Frees every kernel above; called by zcat_shutdown. */
void zsm_shutdown(void);

/* The start of every raw kernel's header here. Templates it reads:
 * ZS_F64 (compute in double). It defines zs_t (the compute type), ZS_TOC
 * (an element to zs_t), ZS_EXP/ZS_EXP2/ZS_LOG (fast on CUDA in f32),
 * ZS_UNROLL, and on CUDA zs_shfl_xor and zs_group_reduce<G, NG>. */
extern const char zsm_kit_text[];

/* ---- launching ------------------------------------------------------------ */
/* 1 when launches for dev should take CUDA's shapes: a CUDA device, or a
 * capture in progress. */
int zsm_cuda_shapes(zmlx_device dev);
/* Multiprocessors of a CUDA device (132 while capturing), 8 on the CPU. */
int zsm_sms(zmlx_device dev);
/* Launch into the given outputs (ZK_OUTPUTS_GIVEN); while capturing, the
 * CUDA source of the launch is recorded instead and nothing runs. */
zmlx_status zsm_launch(const char *op, zmlx_kernel *k, int n_in, zmlx_array *const *in,
                       const zmlx_launch_config *cfg, int n_out, zmlx_array **out);
/* Smallest power of two >= v within [lo, hi]. */
int zsm_pow2(int64_t v, int lo, int hi);
/* The widest VEC (elements; VEC * esize <= 16 bytes) dividing every mult
 * and aligning every non-NULL ptr (ptr_esize: each one's element size). */
int zsm_vec(size_t esize, int n_mults, const int64_t *mults, int n_ptrs, void *const *ptrs,
            const size_t *ptr_esize);

/* ---- rows along an axis ------------------------------------------------------
 * a with `axis` moved last (a view, or a itself); the caller makes it
 * contiguous when it needs to. zsm_axis_back undoes it on a result laid
 * out like that view, giving a new contiguous array in a's layout. */
zmlx_status zsm_axis_last(zmlx_array *a, int axis, zmlx_array **out);
zmlx_status zsm_axis_back(zmlx_array *r, int ndim, int axis, zmlx_array **out);
/* Normalize axis for x (negative counts from the end); errors name op. */
zmlx_status zsm_norm_axis(const char *op, const zmlx_array *x, int *axis);

/* ---- capture (tests) ---------------------------------------------------------- */
#define ZSM_CAPTURE_MAX 16
typedef struct zsm_capture {
  int n;
  char *src[ZSM_CAPTURE_MAX];
  char entry[ZSM_CAPTURE_MAX][300];
} zsm_capture;
/* Between begin and end, this thread's launches of these families are
 * recorded as CUDA sources (inputs stay on the CPU). */
void zsm_capture_begin(zsm_capture *c);
void zsm_capture_end(void);
void zsm_capture_free(zsm_capture *c);

#endif
