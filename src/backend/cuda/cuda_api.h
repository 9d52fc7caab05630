#ifndef ZMLX_BACKEND_CUDA_API_H
#define ZMLX_BACKEND_CUDA_API_H
/* Our own minimal declarations of the CUDA driver API and NVRTC, loaded at
 * run time with dlopen. No CUDA header is included: the types, enum values
 * and prototypes below are copied from cuda.h / nvrtc.h (CUDA 13.0) and are
 * ABI-stable. Symbol names are the versioned ones cuda.h maps to
 * (cuMemAlloc -> cuMemAlloc_v2 and so on). */
#include <stddef.h>
#include <stdint.h>
#include "zmlx/status.h"

/* ---- CUDA driver types ------------------------------------------------- */
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr; /* 64-bit builds only */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

/* CUresult values we look at (cuda.h: enum cudaError_enum). */
enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_DEINITIALIZED = 4,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600
};

/* CUdevice_attribute values (cuda.h: enum CUdevice_attribute_enum). */
enum {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
};

/* CUfunction_attribute (cuda.h: enum CUfunction_attribute_enum). */
enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

/* Flags. */
enum {
  CU_STREAM_DEFAULT = 0x0,        /* blocking: orders with the legacy stream */
  CU_EVENT_DEFAULT = 0x0,         /* timing enabled */
  CU_EVENT_DISABLE_TIMING = 0x2,
  CU_MEMHOSTALLOC_PORTABLE = 0x01
};

/* ---- The driver entry points we use ------------------------------------ */
typedef struct zc_cuda_api {
  CUresult (*cuInit)(unsigned int flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuGetErrorName)(CUresult error, const char **str);
  CUresult (*cuGetErrorString)(CUresult error, const char **str);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice dev);
  CUresult (*cuDeviceGetAttribute)(int *pi, int attrib, CUdevice dev);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice dev);          /* _v2 */
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice dev);                /* _v2 */
  CUresult (*cuCtxSetCurrent)(CUcontext ctx);
  CUresult (*cuCtxGetCurrent)(CUcontext *pctx);
  CUresult (*cuCtxSynchronize)(void);
  CUresult (*cuMemAlloc)(CUdeviceptr *dptr, size_t bytes);            /* _v2 */
  CUresult (*cuMemFree)(CUdeviceptr dptr);                            /* _v2 */
  CUresult (*cuMemGetInfo)(size_t *free_bytes, size_t *total_bytes);  /* _v2 */
  CUresult (*cuMemHostAlloc)(void **pp, size_t bytes, unsigned int flags);
  CUresult (*cuMemFreeHost)(void *p);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t n,
                                CUstream s);                          /* _v2 */
  CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t n,
                                CUstream s);                          /* _v2 */
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t n,
                                CUstream s);                          /* _v2 */
  CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char v, size_t n,
                              CUstream s);
  CUresult (*cuMemsetD16Async)(CUdeviceptr dst, unsigned short v, size_t n,
                               CUstream s);
  CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned int v, size_t n,
                               CUstream s);
  CUresult (*cuMemsetD2D8Async)(CUdeviceptr dst, size_t pitch, unsigned char v,
                                size_t width, size_t height, CUstream s);
  CUresult (*cuStreamCreate)(CUstream *ps, unsigned int flags);
  CUresult (*cuStreamDestroy)(CUstream s);                            /* _v2 */
  CUresult (*cuStreamSynchronize)(CUstream s);
  CUresult (*cuStreamWaitEvent)(CUstream s, CUevent e, unsigned int flags);
  CUresult (*cuEventCreate)(CUevent *pe, unsigned int flags);
  CUresult (*cuEventDestroy)(CUevent e);                              /* _v2 */
  CUresult (*cuEventRecord)(CUevent e, CUstream s);
  CUresult (*cuEventSynchronize)(CUevent e);
  /* cuEventElapsedTime_v2 (CUDA >= 12.8), else cuEventElapsedTime. */
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
  CUresult (*cuModuleLoadData)(CUmodule *mod, const void *image);
  CUresult (*cuModuleUnload)(CUmodule mod);
  CUresult (*cuModuleGetFunction)(CUfunction *fn, CUmodule mod,
                                  const char *name);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gx, unsigned gy,
                             unsigned gz, unsigned bx, unsigned by,
                             unsigned bz, unsigned shared, CUstream s,
                             void **params, void **extra);
  CUresult (*cuFuncSetAttribute)(CUfunction f, int attrib, int value);
} zc_cuda_api;

/* Loads libcuda.so.1 once (thread-safe). Returns the table, or NULL with
 * the reason ("libcuda.so.1 not found (dlopen: ...)") in why. */
const zc_cuda_api *zc_cuda_load(char *why, size_t why_len);
/* The table once zc_cuda_load has succeeded (NULL before). */
extern const zc_cuda_api *zc_cu;
/* Never NULL: "CUDA_ERROR_OUT_OF_MEMORY", "out of memory". */
const char *zc_err_name(CUresult r);
const char *zc_err_string(CUresult r);

/* ---- NVRTC --------------------------------------------------------------- */
typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
enum { NVRTC_SUCCESS = 0, NVRTC_ERROR_COMPILATION = 6 };

typedef struct zc_nvrtc_api {
  const char *(*nvrtcGetErrorString)(nvrtcResult r);
  nvrtcResult (*nvrtcVersion)(int *major, int *minor);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *prog, const char *src,
                                    const char *name, int num_headers,
                                    const char *const *headers,
                                    const char *const *include_names);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *prog);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram prog, int num_options,
                                     const char *const *options);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram prog, char *log);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram prog, char *cubin);
} zc_nvrtc_api;

/* Loads NVRTC once (thread-safe), trying $ZMLX_NVRTC_PATH, libnvrtc.so,
 * libnvrtc.so.13, libnvrtc.so.12, /usr/local/cuda/lib64/libnvrtc.so and
 * /usr/local/cuda/lib64/libnvrtc.so.13. Needs no GPU and no libcuda. */
const zc_nvrtc_api *zc_nvrtc_load(char *why, size_t why_len);
/* "<realpath> size=N mtime=T" of the NVRTC library that zc_nvrtc_load
 * opens first, found without loading it; NULL when only the dynamic
 * loader's own search could find it. */
const char *zc_nvrtc_identity(void);

/* The compiler options every compile uses, after --gpu-architecture. */
#define ZC_NVRTC_OPTIONS "-default-device --std=c++17 -lineinfo"

/* ---- Exported for tests and `zmlx doctor` ------------------------------ */
/* 1 if NVRTC can be loaded; else 0 and why says what is missing. */
int zb_nvrtc_available(char *why, size_t len);
/* Compile CUDA C++ source to a cubin for arch ("sm_90") with the options
 * above. *cubin is malloc'd. On COMPILE_FAILED, *log (malloc'd) holds the
 * compiler log; on success *log is NULL. Works without a GPU. */
zmlx_status zb_nvrtc_compile(const char *source, const char *entry,
                             const char *arch, void **cubin, size_t *len,
                             char **log);
/* The CUDA driver version (e.g. 13000), 0 when libcuda is missing. */
int zb_cuda_driver_version(void);
/* NVRTC as major*1000+minor*10 (e.g. 13000), 0 when NVRTC is missing. */
int zb_nvrtc_version(void);

#endif
