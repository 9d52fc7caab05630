#ifndef ZMLX_CATALOG_IMAGE_INTERNAL_H
#define ZMLX_CATALOG_IMAGE_INTERNAL_H
/* Internal to the image family: its run-time kernels (raw bodies for
 * NVRTC and the CPU compiler), kept for the process. Every array is
 * NHWC and contiguous by the time a body sees it; one point per element,
 * channels fastest, so neighbouring CUDA threads read neighbouring bytes.
 * Templates: F64 (compute in double), IDX32 (indices fit 32 bits). */
#include "zmlx/catalog_image.h"
#include "zmlx/kernel.h"

typedef enum zi_kernel_id {
  /* x -> out (N, OH, OW, C); scalars n, H, W, OH, OW, C, ac (i64) */
  ZI_RESIZE = 0,
  /* dy -> dx (N, H, W, C); the same scalars, n = dx's size */
  ZI_RESIZE_BWD,
  /* x, w, b -> out; scalars n, H, W, C, has_bias (i64) */
  ZI_DWCONV,
  /* dy, w -> dx; scalars n, H, W, C */
  ZI_DWCONV_DX,
  /* x, dy -> part (P, 10, C): per block of R rows, the 9 taps' sums of
   * dy * x and the sum of dy; scalars n (= P * C), rows, H, W, C, R */
  ZI_DWCONV_PART,
  /* part -> dw (3, 3, C), db (C): sums over the P blocks; scalars n
   * (= 10 * C), P, C */
  ZI_DWCONV_SUM,
  ZI_KERNEL_COUNT
} zi_kernel_id;

zmlx_status zi_kernel(zi_kernel_id id, zmlx_kernel **out);
void zcat_image_shutdown(void);

#endif
