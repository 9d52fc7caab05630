#ifndef ZMLX_CATALOG_QUANT_INTERNAL_H
#define ZMLX_CATALOG_QUANT_INTERNAL_H
/* Internal to the quantization family: its run-time kernels (raw bodies
 * compiled by NVRTC on CUDA and by the system compiler on the CPU), kept
 * for the process. */
#include "zmlx/catalog_quant.h"
#include "zmlx/kernel.h"

typedef enum zq_kernel_id {
  /* inputs q, s, b; output out; scalars n, K, G, S, flags (i64; flags:
   * 1 biases, 2 one scale for the tensor, 4 a point's values share one
   * scale, the zmlx_qformat << 4, the zmlx_dequant_act << 8). templates
   * NIB (two codes per byte), VEC (1 or 8 values per point), F64 (compute
   * in double), IDX32 (indices fit 32 bits), FULLWARP (CUDA: the grid is
   * whole blocks and the body checks bounds itself, for warp shuffles),
   * FMTC and ACTC (the format and activation as constants, or -1 to read
   * them from flags). */
  ZQ_DEQUANT = 0,
  /* inputs wq, s, b; output out; scalars n (words), group, act (i64);
   * templates BITS, IDX32, ACTC (act as a constant, or -1). One point per
   * u32 word. */
  ZQ_AFFINE_DEQUANT,
  /* input w; outputs wq, s, b; scalars n (groups), bits, group (i64);
   * templates TMAX (w's dtype: 0 f32, 1 f16, 2 bf16, for its largest finite
   * value, the starting minimum). One point per group. */
  ZQ_AFFINE_QUANT,
  ZQ_KERNEL_COUNT
} zq_kernel_id;

/* The kernel (borrowed; built on first use under a lock). */
zmlx_status zq_kernel(zq_kernel_id id, zmlx_kernel **out);
void zcat_quant_shutdown(void);

/* "_silu", "_gelu", "_gelu_erf" or "" (no activation): the suffix of an
 * op's catalog name. NULL for an invalid act. */
const char *zq_act_suffix(zmlx_dequant_act act);

#endif
