#include "author/ew_internal.h"
#include "author/red_internal.h"
#include "backend/backend.h"
#include "catalog/cat_internal.h"
#include "kernel/builtin.h"
#include "kernel/kernel_internal.h"
#include "tune/tune_internal.h"
#include "zmlx/zmlx.h"

const char *zmlx_version(void) { return ZMLX_VERSION_STRING; }

void zmlx_shutdown(void) {
  /* Kernels first: their modules live in the backends' contexts. */
  zk_builtin_shutdown();
  zcat_shutdown();
  zk_ew_backward_shutdown();
  zk_red_shutdown();
  ztune_shutdown();
  zk_module_cache_shutdown();
  zb_shutdown_all();
}
