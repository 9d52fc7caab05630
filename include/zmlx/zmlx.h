#ifndef ZMLX_H
#define ZMLX_H
/* ZMLX: fast GPU kernels from C expressions, on NVIDIA GPUs and the CPU.
 * Include this one header. See docs/QUICKSTART.md. */
#include "zmlx/status.h"
#include "zmlx/dtype.h"
#include "zmlx/device.h"
#include "zmlx/array.h"
#include "zmlx/kernel.h"
#include "zmlx/elementwise.h"
#include "zmlx/tune.h"
#include "zmlx/reduce.h"
#include "zmlx/catalog.h"
#include "zmlx/bench.h"
#include "zmlx/autodiff.h"
#include "zmlx/testing.h"
#include "zmlx/tokenizer.h"
#include "zmlx/safetensors.h"
#include "zmlx/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZMLX_VERSION_MAJOR 0
#define ZMLX_VERSION_MINOR 1
#define ZMLX_VERSION_PATCH 0
const char *zmlx_version(void); /* "0.1.0" */

/* Release every cached resource (device memory caches, loaded modules,
 * contexts). Optional: for leak checkers, or before unloading. Handles
 * still alive after it must not be used. */
void zmlx_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
