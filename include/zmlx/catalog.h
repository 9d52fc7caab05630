#ifndef ZMLX_CATALOG_H
#define ZMLX_CATALOG_H
/* The kernel catalog: ready-made fused kernels for transformer layers and
 * training, each with its backward where it has one.
 *
 * Conventions shared by every catalog op (each family's header adds its
 * own shapes):
 *   - Shapes are written as comments, `// x: (..., D)`: `...` is any number
 *     of leading dimensions (zero included), capitals are sizes tied
 *     between arguments. Shapes must match exactly: catalog ops do not
 *     broadcast unless their header says so. Empty arrays are valid.
 *   - Inputs may have any strides (views, transposes); results are new
 *     C-contiguous arrays.
 *   - Float inputs must share one dtype among f32, f16, bf16 and f64;
 *     results take that dtype. Work is done in f32 (in f64 for f64
 *     inputs), so f16/bf16 results are rounded once.
 *   - Every array must live on one device; the work is queued on the
 *     calling thread's current stream of that device (zmlx_stream_current)
 *     and the call returns without waiting for it.
 *   - Ownership: each `zmlx_array **` result is a new reference the caller
 *     releases with zmlx_array_release; inputs are borrowed. On failure
 *     every result is NULL.
 *   - Errors (a zmlx_status, never an abort) name the op as the catalog
 *     lists it ("silu", "swiglu_packed"), with the shapes, dtypes and
 *     device involved. Kernels are compiled on first use and kept for the
 *     process (zmlx_shutdown frees them).
 *
 * docs/KERNELS.md lists every entry, generated from the catalog's
 * registry (`zmlx kernels --markdown`); docs/CATALOG.md explains how the
 * catalog is tested and how to add to it. */
#include "zmlx/catalog_act.h"
#include "zmlx/catalog_glu.h"
#include "zmlx/catalog_softmax.h"
#include "zmlx/catalog_reduce.h"
#include "zmlx/catalog_scan.h"
#include "zmlx/catalog_loss.h"
#include "zmlx/catalog_quant.h"
#include "zmlx/catalog_image.h"
#include "zmlx/catalog_optim.h"
#include "zmlx/catalog_linear.h"
#include "zmlx/catalog_norm.h"
#include "zmlx/catalog_rope.h"
#include "zmlx/catalog_dropout.h"
#include "zmlx/catalog_index.h"
#include "zmlx/catalog_bits.h"

#endif
