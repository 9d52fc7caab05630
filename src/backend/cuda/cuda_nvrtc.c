/* NVRTC, loaded with dlopen. Needs neither a GPU nor libcuda, so that
 * compile-only work (tests, cache warm-up) runs on a machine without one. */
#include "backend/cuda/cuda_api.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

static zc_nvrtc_api g_nv;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_why[1024];
static int g_ok;
static int g_version; /* major*1000 + minor*10 */

static int load_sym(void *lib, void *slot, const char *name) {
  void *p = dlsym(lib, name);
  if (!p) return 0;
  memcpy(slot, &p, sizeof p);
  return 1;
}

/* Where NVRTC lives, found with stat() alone, in the order dlopen would
 * look: $ZMLX_NVRTC_PATH, then each name in $LD_LIBRARY_PATH and the usual
 * folders. Loading NVRTC costs tens of milliseconds; a kernel found in the
 * disk cache needs only the library's identity, so it never pays that. */
static pthread_once_t g_locate_once = PTHREAD_ONCE_INIT;
static char g_path[PATH_MAX];
static char g_identity[PATH_MAX + 64];

static int try_file(const char *dir, const char *name) {
  char p[PATH_MAX];
  if (dir)
    snprintf(p, sizeof p, "%s/%s", dir, name);
  else
    snprintf(p, sizeof p, "%s", name);
  struct stat st;
  char real[PATH_MAX];
  if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || !realpath(p, real)) return 0;
  snprintf(g_path, sizeof g_path, "%s", p);
  snprintf(g_identity, sizeof g_identity, "%s size=%lld mtime=%lld", real, (long long)st.st_size,
           (long long)st.st_mtime);
  return 1;
}

static int search_dirs(const char *name) {
  if (strchr(name, '/')) return try_file(NULL, name);
  const char *ld = getenv("LD_LIBRARY_PATH");
  while (ld && *ld) {
    const char *end = strchr(ld, ':');
    size_t n = end ? (size_t)(end - ld) : strlen(ld);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)n, ld);
    if (n && try_file(dir, name)) return 1;
    ld += n + (end ? 1 : 0);
  }
  static const char *dirs[] = {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                               "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
                               "/lib/x86_64-linux-gnu"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
    if (try_file(dirs[i], name)) return 1;
  return 0;
}

static void locate_once(void) {
  const char *names[] = {zmlx_env("ZMLX_NVRTC_PATH"), "libnvrtc.so", "libnvrtc.so.13",
                         "libnvrtc.so.12"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (names[i] && search_dirs(names[i])) return;
}

const char *zc_nvrtc_identity(void) {
  pthread_once(&g_locate_once, locate_once);
  return g_identity[0] ? g_identity : NULL;
}

static void load_once(void) {
  pthread_once(&g_locate_once, locate_once);
  const char *candidates[] = {
      g_path[0] ? g_path : NULL, /* the file whose identity keys the cache */
      zmlx_env("ZMLX_NVRTC_PATH"),
      "libnvrtc.so",
      "libnvrtc.so.13",
      "libnvrtc.so.12",
      "/usr/local/cuda/lib64/libnvrtc.so",
      "/usr/local/cuda/lib64/libnvrtc.so.13",
      "/usr/local/cuda/lib64/libnvrtc.so.12",
  };
  void *lib = NULL;
  size_t used = 0;
  g_why[0] = 0;
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    if (!candidates[i]) continue;
    lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
    /* Only the first error is kept in full: the others say the same. */
    if (used == 0) {
      const char *e = dlerror();
      int n = snprintf(g_why, sizeof g_why, "NVRTC not found (dlopen: %s; also tried",
                       e ? e : "unknown error");
      used = n > 0 ? (size_t)n : 0;
    } else if (used < sizeof g_why) {
      int n = snprintf(g_why + used, sizeof g_why - used, " %s", candidates[i]);
      if (n > 0) used += (size_t)n;
    }
  }
  if (!lib) {
    if (used < sizeof g_why)
      snprintf(g_why + used, sizeof g_why - used, "; set ZMLX_NVRTC_PATH)");
    return;
  }
  static const struct {
    size_t off;
    const char *name;
  } syms[] = {
#define S(field) {offsetof(zc_nvrtc_api, field), #field}
      S(nvrtcGetErrorString),   S(nvrtcVersion),
      S(nvrtcCreateProgram),    S(nvrtcDestroyProgram),
      S(nvrtcCompileProgram),   S(nvrtcGetProgramLogSize),
      S(nvrtcGetProgramLog),    S(nvrtcGetCUBINSize),
      S(nvrtcGetCUBIN),
#undef S
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    if (!load_sym(lib, (char *)&g_nv + syms[i].off, syms[i].name)) {
      snprintf(g_why, sizeof g_why, "NVRTC library lacks %s (too old?)",
               syms[i].name);
      dlclose(lib);
      return;
    }
  }
  int major = 0, minor = 0;
  if (g_nv.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) {
    snprintf(g_why, sizeof g_why, "nvrtcVersion failed");
    dlclose(lib);
    return;
  }
  g_version = major * 1000 + minor * 10;
  g_ok = 1;
}

const zc_nvrtc_api *zc_nvrtc_load(char *why, size_t why_len) {
  pthread_once(&g_once, load_once);
  if (!g_ok) {
    if (why && why_len) snprintf(why, why_len, "%s", g_why);
    return NULL;
  }
  return &g_nv;
}

int zb_nvrtc_available(char *why, size_t len) {
  return zc_nvrtc_load(why, len) != NULL;
}

int zb_nvrtc_version(void) {
  return zc_nvrtc_load(NULL, 0) ? g_version : 0;
}

static const char *nv_err(const zc_nvrtc_api *nv, nvrtcResult r) {
  const char *s = nv->nvrtcGetErrorString(r);
  return s ? s : "unknown NVRTC error";
}

static char *get_log(const zc_nvrtc_api *nv, nvrtcProgram prog) {
  size_t n = 0;
  if (nv->nvrtcGetProgramLogSize(prog, &n) != NVRTC_SUCCESS) n = 0;
  char *log = malloc(n + 1);
  if (!log) return NULL;
  log[0] = 0;
  if (n > 0 && nv->nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS) log[0] = 0;
  log[n] = 0;
  return log;
}

zmlx_status zb_nvrtc_compile(const char *source, const char *entry,
                             const char *arch, void **cubin, size_t *len,
                             char **log) {
  if (cubin) *cubin = NULL;
  if (len) *len = 0;
  if (log) *log = NULL;
  if (!source || !entry || !arch || !cubin || !len)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "cuda.compile",
                     "NULL source, entry, arch or output");
  if (strncmp(arch, "sm_", 3) != 0 || strlen(arch) > 16)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "cuda.compile",
                     "architecture \"%s\" is not of the form sm_XX", arch);
  char why[1024];
  const zc_nvrtc_api *nv = zc_nvrtc_load(why, sizeof why);
  if (!nv) return zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, "cuda.compile", "%s", why);

  char name[256];
  snprintf(name, sizeof name, "%s.cu", entry);
  char arch_opt[64];
  snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
  const char *opts[] = {arch_opt, "-default-device", "--std=c++17", "-lineinfo"};

  nvrtcProgram prog = NULL;
  nvrtcResult r = nv->nvrtcCreateProgram(&prog, source, name, 0, NULL, NULL);
  if (r != NVRTC_SUCCESS)
    return zmlx_fail(ZMLX_STATUS_BACKEND_ERROR, "cuda.compile",
                     "nvrtcCreateProgram failed for %s: %s", name, nv_err(nv, r));
  r = nv->nvrtcCompileProgram(prog, (int)(sizeof opts / sizeof opts[0]), opts);
  if (r != NVRTC_SUCCESS) {
    char *text = get_log(nv, prog);
    zmlx_status s = r == NVRTC_ERROR_COMPILATION ? ZMLX_STATUS_COMPILE_FAILED
                                                 : ZMLX_STATUS_BACKEND_ERROR;
    zmlx_fail(s, "cuda.compile", "nvrtc failed on %s for %s: %s\n%s", name, arch,
              nv_err(nv, r), text ? text : "");
    if (log) *log = text;
    else free(text);
    nv->nvrtcDestroyProgram(&prog);
    return s;
  }
  size_t n = 0;
  r = nv->nvrtcGetCUBINSize(prog, &n);
  if (r != NVRTC_SUCCESS || n == 0) {
    nv->nvrtcDestroyProgram(&prog);
    return zmlx_fail(ZMLX_STATUS_BACKEND_ERROR, "cuda.compile",
                     "nvrtcGetCUBINSize failed for %s (%s): %s", name, arch,
                     r != NVRTC_SUCCESS ? nv_err(nv, r) : "empty cubin");
  }
  char *bin = malloc(n);
  if (!bin) {
    nv->nvrtcDestroyProgram(&prog);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "cuda.compile",
                     "cannot allocate %zu bytes of host memory for a cubin", n);
  }
  r = nv->nvrtcGetCUBIN(prog, bin);
  nv->nvrtcDestroyProgram(&prog);
  if (r != NVRTC_SUCCESS) {
    free(bin);
    return zmlx_fail(ZMLX_STATUS_BACKEND_ERROR, "cuda.compile",
                     "nvrtcGetCUBIN failed for %s (%s): %s", name, arch,
                     nv_err(nv, r));
  }
  *cubin = bin;
  *len = n;
  return ZMLX_STATUS_OK;
}
