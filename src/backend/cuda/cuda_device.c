/* Discovery, device information, primary contexts, synchronize, shutdown. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

zc_dev zc_devs[ZC_MAX_DEVICES];
_Atomic int zc_ndev;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_state; /* 0: not probed, 1: works, -1: does not (g_why says why) */
static char g_why[600];

zmlx_status zc_fail_cu(zmlx_status s, const char *op, CUresult r, int dev,
                       const char *what) {
  if (r == CUDA_ERROR_OUT_OF_MEMORY) s = ZMLX_STATUS_OUT_OF_MEMORY;
  return zmlx_fail(s, op, "%s failed: %s (%s) on cuda:%d", what, zc_err_name(r),
                   zc_err_string(r), dev);
}

static int attr(const zc_cuda_api *cu, int a, CUdevice d, int *out) {
  *out = 0;
  return cu->cuDeviceGetAttribute(out, a, d);
}

/* With g_mu held. */
static void probe_locked(void) {
  char why[512];
  const zc_cuda_api *cu = zc_cuda_load(why, sizeof why);
  if (!cu) {
    snprintf(g_why, sizeof g_why, "%s", why);
    g_state = -1;
    return;
  }
  CUresult r = cu->cuInit(0);
  if (r != CUDA_SUCCESS) {
    snprintf(g_why, sizeof g_why, "cuInit failed: %s (%s)", zc_err_name(r),
             zc_err_string(r));
    g_state = -1;
    return;
  }
  int n = 0;
  r = cu->cuDeviceGetCount(&n);
  if (r != CUDA_SUCCESS) {
    snprintf(g_why, sizeof g_why, "cuDeviceGetCount failed: %s (%s)",
             zc_err_name(r), zc_err_string(r));
    g_state = -1;
    return;
  }
  if (n <= 0) {
    snprintf(g_why, sizeof g_why, "no CUDA device");
    g_state = -1;
    return;
  }
  if (n > ZC_MAX_DEVICES) {
    zmlx_log(ZMLX_LOG_WARN, "cuda: using the first %d of %d devices",
             ZC_MAX_DEVICES, n);
    n = ZC_MAX_DEVICES;
  }
  for (int i = 0; i < n; i++) {
    zc_dev *d = &zc_devs[i];
    r = cu->cuDeviceGet(&d->cu, i);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->cu, &d->cc_major);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->cu, &d->cc_minor);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->cu, &d->sm_count);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, d->cu, &d->max_threads_per_block);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, d->cu, &d->max_grid[0]);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, d->cu, &d->max_grid[1]);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, d->cu, &d->max_grid[2]);
    if (r == CUDA_SUCCESS) r = attr(cu, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, d->cu, &d->max_smem_optin);
    if (r != CUDA_SUCCESS) {
      snprintf(g_why, sizeof g_why, "querying cuda:%d failed: %s (%s)", i,
               zc_err_name(r), zc_err_string(r));
      g_state = -1;
      return;
    }
    atomic_store(&d->ctx, NULL);
  }
  g_state = 1;
  atomic_store_explicit(&zc_ndev, n, memory_order_release);
}

zmlx_status zc_probe(char *why, size_t why_len) {
  pthread_mutex_lock(&g_mu);
  if (g_state == 0) probe_locked();
  int ok = g_state > 0;
  if (!ok && why && why_len) snprintf(why, why_len, "%s", g_why);
  pthread_mutex_unlock(&g_mu);
  if (ok) return ZMLX_STATUS_OK;
  return zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, "cuda", "%s", g_why);
}

zmlx_status zc_backend_probe(char *why, size_t why_len) {
  return zc_probe(why, why_len);
}

zmlx_status zc_check_dev(int dev, const char *op) {
  int n = atomic_load_explicit(&zc_ndev, memory_order_acquire);
  if (n == 0) {
    char why[600];
    if (zc_probe(why, sizeof why) != ZMLX_STATUS_OK)
      return zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, op,
                       "CUDA is not available: %s", why);
    n = atomic_load_explicit(&zc_ndev, memory_order_acquire);
  }
  if (dev < 0 || dev >= n)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "cuda:%d does not exist (%d CUDA device%s)", dev, n,
                     n == 1 ? "" : "s");
  return ZMLX_STATUS_OK;
}

zmlx_status zc_enter_slow(int dev, const char *op) {
  ZMLX_TRY(zc_check_dev(dev, op));
  zc_dev *d = &zc_devs[dev];
  CUcontext ctx = atomic_load_explicit(&d->ctx, memory_order_acquire);
  if (!ctx) {
    pthread_mutex_lock(&g_mu);
    ctx = atomic_load_explicit(&d->ctx, memory_order_acquire);
    if (!ctx) {
      CUresult r = zc_cu->cuDevicePrimaryCtxRetain(&ctx, d->cu);
      if (r != CUDA_SUCCESS) {
        pthread_mutex_unlock(&g_mu);
        return zc_fail_cu(ZMLX_STATUS_DEVICE_UNAVAILABLE, op, r, dev,
                          "cuDevicePrimaryCtxRetain");
      }
      atomic_store_explicit(&d->ctx, ctx, memory_order_release);
    }
    pthread_mutex_unlock(&g_mu);
  }
  CUresult r = zc_cu->cuCtxSetCurrent(ctx);
  if (r != CUDA_SUCCESS)
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, "cuCtxSetCurrent");
  return ZMLX_STATUS_OK;
}

int zc_device_count(void) {
  if (atomic_load_explicit(&zc_ndev, memory_order_acquire) == 0 &&
      zc_probe(NULL, 0) != ZMLX_STATUS_OK)
    return 0;
  return atomic_load_explicit(&zc_ndev, memory_order_acquire);
}

zmlx_status zc_device_info(int dev, zmlx_device_info *out) {
  const char *op = "cuda.device_info";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL output");
  ZMLX_TRY(zc_check_dev(dev, op));
  const zc_dev *d = &zc_devs[dev];
  memset(out, 0, sizeof *out);
  ZC_CALL(dev, op, "cuDeviceGetName",
          zc_cu->cuDeviceGetName(out->name, (int)sizeof out->name, d->cu));
  out->name[sizeof out->name - 1] = 0;
  snprintf(out->arch, sizeof out->arch, "sm_%d%d", d->cc_major, d->cc_minor);
  out->sm_count = d->sm_count;
  out->cc_major = d->cc_major;
  out->cc_minor = d->cc_minor;
  size_t total = 0;
  ZC_CALL(dev, op, "cuDeviceTotalMem", zc_cu->cuDeviceTotalMem(&total, d->cu));
  out->total_memory = total;
  int l2 = 0;
  ZC_CALL(dev, op, "cuDeviceGetAttribute(L2_CACHE_SIZE)",
          zc_cu->cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, d->cu));
  out->l2_bytes = (uint64_t)(l2 > 0 ? l2 : 0);
  int drv = 0;
  ZC_CALL(dev, op, "cuDriverGetVersion", zc_cu->cuDriverGetVersion(&drv));
  out->driver_version = drv;
  out->compiler_version = zb_nvrtc_version();
  return ZMLX_STATUS_OK;
}

zmlx_status zc_synchronize(int dev) {
  const char *op = "cuda.synchronize";
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuCtxSynchronize", zc_cu->cuCtxSynchronize());
  return ZMLX_STATUS_OK;
}

void zc_shutdown(void) {
  pthread_mutex_lock(&g_mu);
  int n = g_state > 0 ? atomic_load(&zc_ndev) : 0;
  CUcontext prev = NULL;
  if (n > 0) zc_cu->cuCtxGetCurrent(&prev);
  int prev_ours = 0;
  for (int i = 0; i < n; i++) {
    zc_dev *d = &zc_devs[i];
    CUcontext ctx = atomic_load(&d->ctx);
    if (!ctx) continue;
    if (ctx == prev) prev_ours = 1;
    if (zc_cu->cuCtxSetCurrent(ctx) == CUDA_SUCCESS) {
      CUresult r = zc_cu->cuCtxSynchronize();
      if (r != CUDA_SUCCESS)
        zmlx_log(ZMLX_LOG_WARN, "cuda: shutdown: cuCtxSynchronize on cuda:%d: %s",
                 i, zc_err_name(r));
      zc_fill_shutdown_dev(i);
      zc_copy_shutdown_dev(i);
      zc_alloc_shutdown_dev(i);
    }
    atomic_store(&d->ctx, NULL);
    CUresult r = zc_cu->cuDevicePrimaryCtxRelease(d->cu);
    if (r != CUDA_SUCCESS)
      zmlx_log(ZMLX_LOG_WARN, "cuda: shutdown: cuDevicePrimaryCtxRelease on cuda:%d: %s",
               i, zc_err_name(r));
  }
  if (n > 0) zc_cu->cuCtxSetCurrent(prev_ours ? NULL : prev);
  zc_launch_forget_functions();
  zc_hostcopy_shutdown();
  pthread_mutex_unlock(&g_mu);
}
