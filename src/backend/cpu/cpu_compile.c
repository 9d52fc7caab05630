/* CPU kernels: the system C compiler ($ZMLX_CC, default cc) builds each
 * generated source into a shared object with -O3 and OpenMP, which is then
 * dlopen()ed. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/cpu/cpu_internal.h"
#include "core/error.h"

extern char **environ;

#define CC_MAX_ARGS 32

static struct {
  pthread_once_t once;
  char *argv[CC_MAX_ARGS]; /* the compiler command, split on spaces */
  int argc;
  char text[512];          /* $ZMLX_CC as given */
  char id[1024];           /* path, size and mtime of the binary: its version */
  int openmp;              /* 1 until a build shows -fopenmp does not work */
} cc = {PTHREAD_ONCE_INIT};
static pthread_mutex_t cc_lock = PTHREAD_MUTEX_INITIALIZER;

/* Kernel modules built with -fopenmp pull in libgomp. Keep it loaded for
 * good: otherwise unloading the last module unloads libgomp under its idle
 * worker threads, and its start-up allocations show up as leaks. */
static pthread_once_t gomp_once = PTHREAD_ONCE_INIT;
static void pin_gomp(void) {
  (void)dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
}

static int find_in_path(const char *name, char *out, size_t len) {
  if (strchr(name, '/')) {
    snprintf(out, len, "%s", name);
    return access(out, X_OK) == 0;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    snprintf(out, len, "%.*s/%s", (int)n, path, name);
    if (access(out, X_OK) == 0) return 1;
    path += n + (end ? 1 : 0);
  }
  return 0;
}

static void cc_init(void) {
  const char *v = zmlx_env("ZMLX_CC");
  snprintf(cc.text, sizeof cc.text, "%s", v ? v : "cc");
  char *save = NULL;
  for (char *tok = strtok_r(cc.text, " \t", &save); tok && cc.argc < CC_MAX_ARGS - 16;
       tok = strtok_r(NULL, " \t", &save))
    cc.argv[cc.argc++] = tok;
  cc.openmp = zmlx_env_flag("ZMLX_CPU_OPENMP", 1);
  char path[PATH_MAX], real[PATH_MAX]; /* realpath() needs PATH_MAX */
  struct stat st;
  if (cc.argc && find_in_path(cc.argv[0], path, sizeof path) &&
      realpath(path, real) && stat(real, &st) == 0)
    snprintf(cc.id, sizeof cc.id, "%s size=%lld mtime=%lld", real, (long long)st.st_size,
             (long long)st.st_mtime);
  else
    snprintf(cc.id, sizeof cc.id, "missing:%s", cc.argc ? cc.argv[0] : "");
}

zmlx_status zb_cpu_compiler_id(int dev, char *buf, size_t len) {
  pthread_once(&cc.once, cc_init);
  snprintf(buf, len, "cc %s | %s | -O3 -std=gnu11 -fPIC -shared%s", cc.id,
           zmlx_env("ZMLX_CC") ? zmlx_env("ZMLX_CC") : "cc", cc.openmp ? " -fopenmp" : "");
  return ZMLX_STATUS_OK;
}

static char cc_version[256];

static void read_version(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "%s --version 2>/dev/null", cc.argc ? cc.argv[0] : "cc");
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(cc_version, sizeof cc_version, p)) cc_version[strcspn(cc_version, "\n")] = 0;
  pclose(p);
}

const char *zb_cpu_compiler_version(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&cc.once, cc_init);
  pthread_once(&once, read_version);
  return cc_version[0] ? cc_version : "not found";
}

static zmlx_status read_file(const char *path, void **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return ZMLX_STATUS_IO_ERROR;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    free(buf);
    fclose(f);
    return ZMLX_STATUS_IO_ERROR;
  }
  buf[n > 0 ? n : 0] = 0;
  fclose(f);
  *data = buf;
  *len = n > 0 ? (size_t)n : 0;
  return ZMLX_STATUS_OK;
}

static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(data, 1, len, f) == len;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Run the compiler with stdout and stderr into log_path; returns its exit
 * status, or -1 when it could not be started (errno set). */
static int run_compiler(const char *src, const char *out, const char *log_path, int openmp) {
  char *argv[CC_MAX_ARGS];
  int n = 0;
  for (int i = 0; i < cc.argc; i++) argv[n++] = cc.argv[i];
  static char *flags[] = {"-O3", "-std=gnu11", "-fPIC", "-shared", "-w"};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) argv[n++] = flags[i];
  if (openmp) argv[n++] = "-fopenmp";
  argv[n++] = "-o";
  argv[n++] = (char *)out;
  argv[n++] = (char *)src;
  argv[n++] = "-lm";
  argv[n] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  int wstatus;
  while (waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
      }
    closedir(d);
  }
  rmdir(dir);
}

static const char *tmp_root(void) {
  const char *t = zmlx_env("TMPDIR");
  return t ? t : "/tmp";
}

zmlx_status zb_cpu_compile(int dev, const char *source, const char *entry, void **binary,
                           size_t *binary_len, char **log) {
  pthread_once(&cc.once, cc_init);
  *binary = NULL;
  *log = NULL;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/zmlx-cc-XXXXXX", tmp_root());
  if (!mkdtemp(dir))
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, "cpu.compile", "cannot make a temporary folder %s: %s",
                     dir, strerror(errno));
  char src[1100], out[1100], logp[1100];
  snprintf(src, sizeof src, "%s/%s.c", dir, entry);
  snprintf(out, sizeof out, "%s/%s.so", dir, entry);
  snprintf(logp, sizeof logp, "%s/log.txt", dir);
  zmlx_status s = ZMLX_STATUS_OK;
  if (write_file(src, source, strlen(source)) != 0) {
    s = zmlx_fail(ZMLX_STATUS_IO_ERROR, "cpu.compile", "cannot write %s: %s", src, strerror(errno));
    goto done;
  }
  pthread_mutex_lock(&cc_lock);
  int openmp = cc.openmp;
  pthread_mutex_unlock(&cc_lock);
  int rc = run_compiler(src, out, logp, openmp);
  if (rc > 0 && openmp) {
    /* A compiler without OpenMP still builds correct, serial kernels. */
    size_t n;
    void *text = NULL;
    int omp_problem = 0;
    if (read_file(logp, &text, &n) == ZMLX_STATUS_OK)
      omp_problem = strstr(text, "omp") || strstr(text, "openmp");
    free(text);
    if (omp_problem && run_compiler(src, out, logp, 0) == 0) {
      zmlx_log(ZMLX_LOG_WARN, "cpu.compile: %s has no OpenMP; CPU kernels run on one thread",
               cc.argv[0]);
      pthread_mutex_lock(&cc_lock);
      cc.openmp = 0;
      pthread_mutex_unlock(&cc_lock);
      rc = 0;
    }
  }
  if (rc < 0) {
    s = zmlx_fail(ZMLX_STATUS_COMPILE_FAILED, "cpu.compile",
                  "cannot run the C compiler '%s' (set ZMLX_CC): %s", cc.text[0] ? cc.argv[0] : "cc",
                  strerror(errno));
    goto done;
  }
  if (rc != 0) {
    size_t n;
    void *text = NULL;
    if (read_file(logp, &text, &n) == ZMLX_STATUS_OK) *log = text;
    s = ZMLX_STATUS_COMPILE_FAILED;
    goto done;
  }
  if (read_file(out, binary, binary_len) != ZMLX_STATUS_OK)
    s = zmlx_fail(ZMLX_STATUS_IO_ERROR, "cpu.compile", "cannot read the compiled %s", out);
done:
  remove_dir(dir);
  return s;
}

zmlx_status zb_cpu_module_load(int dev, const void *binary, size_t len, const char *path,
                               const char *entry, void **module, void **function) {
  char tmp[1100] = "";
  if (!path) {
    /* dlopen needs a file: write one, open it, and unlink it at once. */
    snprintf(tmp, sizeof tmp, "%s/zmlx-so-XXXXXX", tmp_root());
    int fd = mkstemp(tmp);
    if (fd < 0)
      return zmlx_fail(ZMLX_STATUS_IO_ERROR, "cpu.module_load", "cannot make %s: %s", tmp,
                       strerror(errno));
    int ok = write(fd, binary, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
      unlink(tmp);
      return zmlx_fail(ZMLX_STATUS_IO_ERROR, "cpu.module_load", "cannot write %s", tmp);
    }
    path = tmp;
  }
  pthread_once(&gomp_once, pin_gomp);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (tmp[0]) unlink(tmp);
  if (!h)
    return zmlx_fail(ZMLX_STATUS_LAUNCH_FAILED, "cpu.module_load", "dlopen %s: %s", path,
                     dlerror());
  void *fn = dlsym(h, entry);
  if (!fn) {
    dlclose(h);
    return zmlx_fail(ZMLX_STATUS_LAUNCH_FAILED, "cpu.module_load", "symbol %s not found in %s",
                     entry, path);
  }
  *module = h;
  *function = fn;
  return ZMLX_STATUS_OK;
}

void zb_cpu_module_unload(int dev, void *module) {
  if (module) dlclose(module);
}
