/* Loading the CUDA driver (libcuda.so.1) with dlopen: nothing of CUDA is
 * needed at build or link time. */
#include "backend/cuda/cuda_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

const zc_cuda_api *zc_cu = NULL;

static zc_cuda_api g_api;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_why[512];
static int g_ok;

/* dlsym returns void*; converting it to a function pointer is what POSIX
 * guarantees works, through memcpy so that -Wpedantic stays quiet. */
static int load_sym(void *lib, void *slot, const char *name) {
  void *p = dlsym(lib, name);
  if (!p) return 0;
  memcpy(slot, &p, sizeof p);
  return 1;
}

static void load_once(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(g_why, sizeof g_why, "libcuda.so.1 not found (dlopen: %s)",
             e ? e : "unknown error");
    return;
  }
  static const struct {
    size_t off;
    const char *name;
  } syms[] = {
#define S(field, sym) {offsetof(zc_cuda_api, field), sym}
      S(cuInit, "cuInit"),
      S(cuDriverGetVersion, "cuDriverGetVersion"),
      S(cuGetErrorName, "cuGetErrorName"),
      S(cuGetErrorString, "cuGetErrorString"),
      S(cuDeviceGetCount, "cuDeviceGetCount"),
      S(cuDeviceGet, "cuDeviceGet"),
      S(cuDeviceGetName, "cuDeviceGetName"),
      S(cuDeviceGetAttribute, "cuDeviceGetAttribute"),
      S(cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
      S(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
      S(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
      S(cuCtxSetCurrent, "cuCtxSetCurrent"),
      S(cuCtxGetCurrent, "cuCtxGetCurrent"),
      S(cuCtxSynchronize, "cuCtxSynchronize"),
      S(cuMemAlloc, "cuMemAlloc_v2"),
      S(cuMemFree, "cuMemFree_v2"),
      S(cuMemGetInfo, "cuMemGetInfo_v2"),
      S(cuMemHostAlloc, "cuMemHostAlloc"),
      S(cuMemFreeHost, "cuMemFreeHost"),
      S(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
      S(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
      S(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
      S(cuMemsetD8Async, "cuMemsetD8Async"),
      S(cuMemsetD16Async, "cuMemsetD16Async"),
      S(cuMemsetD32Async, "cuMemsetD32Async"),
      S(cuMemsetD2D8Async, "cuMemsetD2D8Async"),
      S(cuStreamCreate, "cuStreamCreate"),
      S(cuStreamDestroy, "cuStreamDestroy_v2"),
      S(cuStreamSynchronize, "cuStreamSynchronize"),
      S(cuStreamWaitEvent, "cuStreamWaitEvent"),
      S(cuEventCreate, "cuEventCreate"),
      S(cuEventDestroy, "cuEventDestroy_v2"),
      S(cuEventRecord, "cuEventRecord"),
      S(cuEventSynchronize, "cuEventSynchronize"),
      S(cuModuleLoadData, "cuModuleLoadData"),
      S(cuModuleUnload, "cuModuleUnload"),
      S(cuModuleGetFunction, "cuModuleGetFunction"),
      S(cuLaunchKernel, "cuLaunchKernel"),
      S(cuFuncSetAttribute, "cuFuncSetAttribute"),
#undef S
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    if (!load_sym(lib, (char *)&g_api + syms[i].off, syms[i].name)) {
      snprintf(g_why, sizeof g_why,
               "libcuda.so.1 lacks %s (driver too old?)", syms[i].name);
      dlclose(lib);
      return;
    }
  }
  /* cuda.h 12.8+ maps cuEventElapsedTime to _v2; older drivers lack it. */
  if (!load_sym(lib, &g_api.cuEventElapsedTime, "cuEventElapsedTime_v2") &&
      !load_sym(lib, &g_api.cuEventElapsedTime, "cuEventElapsedTime")) {
    snprintf(g_why, sizeof g_why, "libcuda.so.1 lacks cuEventElapsedTime");
    dlclose(lib);
    return;
  }
  g_ok = 1;
  zc_cu = &g_api; /* published once; pthread_once orders it */
}

const zc_cuda_api *zc_cuda_load(char *why, size_t why_len) {
  pthread_once(&g_once, load_once);
  if (!g_ok) {
    if (why && why_len) snprintf(why, why_len, "%s", g_why);
    return NULL;
  }
  return &g_api;
}

const char *zc_err_name(CUresult r) {
  const char *s = NULL;
  if (zc_cu && zc_cu->cuGetErrorName(r, &s) == CUDA_SUCCESS && s) return s;
  static _Thread_local char buf[32];
  snprintf(buf, sizeof buf, "CUDA_ERROR_%d", r);
  return buf;
}

const char *zc_err_string(CUresult r) {
  const char *s = NULL;
  if (zc_cu && zc_cu->cuGetErrorString(r, &s) == CUDA_SUCCESS && s) return s;
  return "unknown CUDA error";
}

int zb_cuda_driver_version(void) {
  const zc_cuda_api *cu = zc_cuda_load(NULL, 0);
  int v = 0;
  if (!cu || cu->cuDriverGetVersion(&v) != CUDA_SUCCESS) return 0;
  return v;
}
