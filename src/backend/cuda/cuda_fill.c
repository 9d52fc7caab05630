/* mem_fill: n elements of 1, 2, 4 or 8 bytes set to a pattern.
 *
 *  - a pattern whose bytes are all equal: cuMemsetD8Async over n*size bytes;
 *  - 2 and 4 bytes, aligned: cuMemsetD16Async / cuMemsetD32Async;
 *  - 8 bytes with equal halves, 4-aligned: cuMemsetD32Async over 2n words;
 *  - 8 bytes, 8-aligned: a built-in kernel written in PTX (below), loaded
 *    lazily once per device with cuModuleLoadData (the driver JIT-compiles
 *    it, so NVRTC is not needed), run as a grid-stride loop so any n works;
 *  - anything else (misaligned, or the kernel cannot load): one strided
 *    cuMemsetD2D8Async per byte of the element ("columns" of pitch size). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

static const char k_fill64_ptx[] =
    ".version 6.0\n"
    ".target sm_50\n"
    ".address_size 64\n"
    "\n"
    ".visible .entry zmlx_fill64(\n"
    "  .param .u64 p_dst,\n"
    "  .param .u64 p_n,\n"
    "  .param .u64 p_val\n"
    ")\n"
    "{\n"
    "  .reg .pred %p<2>;\n"
    "  .reg .b32 %r<5>;\n"
    "  .reg .b64 %rd<10>;\n"
    "  ld.param.u64 %rd1, [p_dst];\n"
    "  ld.param.u64 %rd2, [p_n];\n"
    "  ld.param.u64 %rd3, [p_val];\n"
    "  cvta.to.global.u64 %rd1, %rd1;\n"
    "  mov.u32 %r1, %ctaid.x;\n"
    "  mov.u32 %r2, %ntid.x;\n"
    "  mov.u32 %r3, %tid.x;\n"
    "  mov.u32 %r4, %nctaid.x;\n"
    "  mul.wide.u32 %rd4, %r1, %r2;\n"   /* i = ctaid * ntid + tid */
    "  cvt.u64.u32 %rd5, %r3;\n"
    "  add.u64 %rd4, %rd4, %rd5;\n"
    "  mul.wide.u32 %rd6, %r4, %r2;\n"   /* stride = nctaid * ntid */
    "LOOP:\n"
    "  setp.ge.u64 %p1, %rd4, %rd2;\n"
    "  @%p1 bra DONE;\n"
    "  shl.b64 %rd7, %rd4, 3;\n"
    "  add.u64 %rd8, %rd1, %rd7;\n"
    "  st.global.u64 [%rd8], %rd3;\n"
    "  add.u64 %rd4, %rd4, %rd6;\n"
    "  bra.uni LOOP;\n"
    "DONE:\n"
    "  ret;\n"
    "}\n";

typedef struct fill_state {
  pthread_mutex_t mu;
  _Atomic int state; /* 0: not tried, 1: loaded, -1: unavailable */
  CUmodule mod;
  CUfunction fn;
} fill_state;

static fill_state g_fill[ZC_MAX_DEVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
  for (int i = 0; i < ZC_MAX_DEVICES; i++) pthread_mutex_init(&g_fill[i].mu, NULL);
}

/* With dev's context current. Returns the kernel or NULL (logged). */
static CUfunction fill64_kernel(int dev) {
  pthread_once(&g_once, init_once);
  fill_state *F = &g_fill[dev];
  int st = atomic_load_explicit(&F->state, memory_order_acquire);
  if (st) return st > 0 ? F->fn : NULL;
  pthread_mutex_lock(&F->mu);
  if (atomic_load(&F->state) == 0) {
    CUresult r = zc_cu->cuModuleLoadData(&F->mod, k_fill64_ptx);
    if (r == CUDA_SUCCESS) r = zc_cu->cuModuleGetFunction(&F->fn, F->mod, "zmlx_fill64");
    if (r == CUDA_SUCCESS) {
      atomic_store_explicit(&F->state, 1, memory_order_release);
    } else {
      zmlx_log(ZMLX_LOG_WARN, "cuda: the 8-byte fill kernel did not load on cuda:%d "
               "(%s: %s); using strided memsets", dev, zc_err_name(r), zc_err_string(r));
      if (F->mod) zc_cu->cuModuleUnload(F->mod);
      F->mod = NULL;
      F->fn = NULL;
      atomic_store_explicit(&F->state, -1, memory_order_release);
    }
  }
  pthread_mutex_unlock(&F->mu);
  return atomic_load(&F->state) > 0 ? F->fn : NULL;
}

void zc_fill_shutdown_dev(int dev) {
  pthread_once(&g_once, init_once);
  fill_state *F = &g_fill[dev];
  pthread_mutex_lock(&F->mu);
  if (F->mod) zc_cu->cuModuleUnload(F->mod);
  F->mod = NULL;
  F->fn = NULL;
  atomic_store(&F->state, 0);
  pthread_mutex_unlock(&F->mu);
}

/* Byte b of every element: n rows of width 1 and pitch elem_size. Split so
 * no single call sets more than 2^30 rows. */
zmlx_status zc_fill_columns(int dev, void *dst, size_t n, const unsigned char *pat,
                            size_t elem_size, CUstream s) {
  const size_t max_rows = (size_t)1 << 30;
  for (size_t row = 0; row < n; row += max_rows) {
    size_t rows = n - row < max_rows ? n - row : max_rows;
    CUdeviceptr base = zc_dptr(dst) + row * elem_size;
    for (size_t b = 0; b < elem_size; b++)
      ZC_CALL(dev, "cuda.mem_fill", "cuMemsetD2D8Async",
              zc_cu->cuMemsetD2D8Async(base + b, elem_size, pat[b], 1, rows, s));
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zc_mem_fill(int dev, void *dst, size_t n, const void *pattern,
                        size_t elem_size, void *stream) {
  const char *op = "cuda.mem_fill";
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "element size %zu is not 1, 2, 4 or 8", elem_size);
  if (n == 0) return ZMLX_STATUS_OK;
  if (!dst || !pattern)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL %s",
                     dst ? "pattern" : "destination");
  if (n > SIZE_MAX / elem_size)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "%zu elements of %zu bytes overflow size_t", n, elem_size);
  ZMLX_TRY(zc_enter(dev, op));
  CUstream s = (CUstream)stream;
  CUdeviceptr d = zc_dptr(dst);
  unsigned char p[8];
  memcpy(p, pattern, elem_size);

  int uniform = 1;
  for (size_t i = 1; i < elem_size; i++) uniform &= p[i] == p[0];
  if (uniform) {
    ZC_CALL(dev, op, "cuMemsetD8Async", zc_cu->cuMemsetD8Async(d, p[0], n * elem_size, s));
    return ZMLX_STATUS_OK;
  }
  if (elem_size == 2 && d % 2 == 0) {
    unsigned short v;
    memcpy(&v, p, 2);
    ZC_CALL(dev, op, "cuMemsetD16Async", zc_cu->cuMemsetD16Async(d, v, n, s));
    return ZMLX_STATUS_OK;
  }
  if (elem_size == 4 && d % 4 == 0) {
    unsigned int v;
    memcpy(&v, p, 4);
    ZC_CALL(dev, op, "cuMemsetD32Async", zc_cu->cuMemsetD32Async(d, v, n, s));
    return ZMLX_STATUS_OK;
  }
  if (elem_size == 8 && d % 4 == 0 && !memcmp(p, p + 4, 4) && n <= SIZE_MAX / 2) {
    unsigned int v;
    memcpy(&v, p, 4);
    ZC_CALL(dev, op, "cuMemsetD32Async", zc_cu->cuMemsetD32Async(d, v, 2 * n, s));
    return ZMLX_STATUS_OK;
  }
  if (elem_size == 8 && d % 8 == 0) {
    CUfunction fn = fill64_kernel(dev);
    if (fn) {
      unsigned long long nn = n, val;
      memcpy(&val, p, 8);
      unsigned long long blocks = (nn + 255) / 256;
      unsigned long long cap = (unsigned long long)(zc_devs[dev].sm_count > 0 ? zc_devs[dev].sm_count : 1) * 16;
      if (blocks > cap) blocks = cap;
      void *params[] = {&d, &nn, &val};
      ZC_CALL(dev, op, "cuLaunchKernel (8-byte fill)",
              zc_cu->cuLaunchKernel(fn, (unsigned)blocks, 1, 1, 256, 1, 1, 0, s, params, NULL));
      return ZMLX_STATUS_OK;
    }
  }
  return zc_fill_columns(dev, dst, n, p, elem_size, s);
}
