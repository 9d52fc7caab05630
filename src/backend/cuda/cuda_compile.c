/* Run-time compilation with NVRTC, and loading the result as a module. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

/* "sm_" then digits, then an optional a/f suffix (sm_90a, sm_100f). */
static int valid_arch(const char *a) {
  if (strncmp(a, "sm_", 3) != 0) return 0;
  const char *p = a + 3;
  if (!isdigit((unsigned char)*p)) return 0;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == 'a' || *p == 'f') p++;
  return *p == 0 && strlen(a) < 16;
}

/* The target architecture: $ZMLX_CUDA_ARCH when set (any dev), else the
 * device's own, else (dev == -1, compile-only) sm_90. */
static zmlx_status target_arch(int dev, const char *op, char arch[16]) {
  const char *env = zmlx_env("ZMLX_CUDA_ARCH");
  if (env) {
    if (!valid_arch(env))
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "ZMLX_CUDA_ARCH=\"%s\" is not of the form sm_90 or sm_90a", env);
    snprintf(arch, 16, "%s", env);
    return ZMLX_STATUS_OK;
  }
  if (dev == -1) {
    snprintf(arch, 16, "sm_90");
    return ZMLX_STATUS_OK;
  }
  ZMLX_TRY(zc_check_dev(dev, op));
  snprintf(arch, 16, "sm_%d%d", zc_devs[dev].cc_major, zc_devs[dev].cc_minor);
  return ZMLX_STATUS_OK;
}

zmlx_status zc_compiler_id(int dev, char *buf, size_t len) {
  const char *op = "cuda.compiler_id";
  if (!buf || len == 0) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "no buffer");
  buf[0] = 0;
  char arch[16];
  ZMLX_TRY(target_arch(dev, op, arch));
  /* The library file itself names the compiler exactly (path, size and
   * time stamp), and finding it needs no dlopen; the loaded version is the
   * fallback when only the dynamic loader can find NVRTC. */
  const char *file = zc_nvrtc_identity();
  int n;
  if (file) {
    n = snprintf(buf, len, "nvrtc-file %s %s %s", file, arch, ZC_NVRTC_OPTIONS);
  } else {
    char why[1024];
    if (!zc_nvrtc_load(why, sizeof why))
      return zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, op, "%s", why);
    int v = zb_nvrtc_version();
    n = snprintf(buf, len, "nvrtc %d.%d %s %s", v / 1000, (v % 1000) / 10, arch,
                 ZC_NVRTC_OPTIONS);
  }
  if (n < 0 || (size_t)n >= len)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "buffer of %zu bytes is too small", len);
  return ZMLX_STATUS_OK;
}

zmlx_status zc_compile(int dev, const char *source, const char *entry,
                       void **binary, size_t *binary_len, char **log) {
  const char *op = "cuda.compile";
  if (log) *log = NULL;
  char arch[16];
  ZMLX_TRY(target_arch(dev, op, arch));
  return zb_nvrtc_compile(source, entry, arch, binary, binary_len, log);
}

/* cuModuleLoadData guesses the format from the first bytes and reads PTX up
 * to a NUL, so anything else is refused before it gets there. */
static int plausible_image(const unsigned char *b, size_t len) {
  if (len >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') return 1;
  if (len >= 4 && b[0] == 0x50 && b[1] == 0xed && b[2] == 0x55 && b[3] == 0xba) return 1;
  return len > 0 && memchr(b, 0, len) != NULL; /* PTX text */
}

zmlx_status zc_module_load(int dev, const void *binary, size_t len,
                           const char *path, const char *entry, void **module,
                           void **function) {
  const char *op = "cuda.module_load";
  (void)path;
  if (module) *module = NULL;
  if (function) *function = NULL;
  if (!binary || !entry || !module || !function)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL binary, entry or output");
  if (!plausible_image(binary, len))
    return zmlx_fail(ZMLX_STATUS_CORRUPT_DATA, op,
                     "%zu bytes for %s are not a cubin, fatbin or PTX text", len, entry);
  ZMLX_TRY(zc_enter(dev, op));
  CUmodule mod = NULL;
  CUresult r = zc_cu->cuModuleLoadData(&mod, binary);
  if (r != CUDA_SUCCESS) {
    zmlx_status s = ZMLX_STATUS_BACKEND_ERROR;
    if (r == CUDA_ERROR_INVALID_IMAGE || r == CUDA_ERROR_INVALID_PTX ||
        r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
      s = ZMLX_STATUS_CORRUPT_DATA; /* damaged, or built for another GPU */
    char what[160];
    snprintf(what, sizeof what, "cuModuleLoadData (%zu bytes, kernel %s, for sm_%d%d)", len,
             entry, zc_devs[dev].cc_major, zc_devs[dev].cc_minor);
    return zc_fail_cu(s, op, r, dev, what);
  }
  CUfunction fn = NULL;
  r = zc_cu->cuModuleGetFunction(&fn, mod, entry);
  if (r != CUDA_SUCCESS) {
    zc_cu->cuModuleUnload(mod);
    char what[160];
    snprintf(what, sizeof what, "cuModuleGetFunction(\"%s\")", entry);
    return zc_fail_cu(r == CUDA_ERROR_NOT_FOUND ? ZMLX_STATUS_NOT_FOUND
                                                : ZMLX_STATUS_BACKEND_ERROR,
                      op, r, dev, what);
  }
  *module = mod;
  *function = fn;
  return ZMLX_STATUS_OK;
}

void zc_module_unload(int dev, void *module) {
  const char *op = "cuda.module_unload";
  if (!module) return;
  if (zc_enter(dev, op) != ZMLX_STATUS_OK) {
    zmlx_log(ZMLX_LOG_WARN, "%s", zmlx_error_last());
    return;
  }
  CUresult r = zc_cu->cuModuleUnload((CUmodule)module);
  /* After the unload: a new function may now reuse an old handle value. */
  zc_launch_forget_functions();
  if (r != CUDA_SUCCESS)
    zmlx_log(ZMLX_LOG_WARN, "%s: cuModuleUnload failed: %s (%s) on cuda:%d", op,
             zc_err_name(r), zc_err_string(r), dev);
}
