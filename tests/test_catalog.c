/* The kernel catalog's harness: one data-driven program that tests every
 * registry entry on every backend it lists.
 *
 *   test_catalog [-k PATTERN] [-b cpu|cuda] [--dtype T] [--full] [-j N]
 *   test_catalog --list
 *   test_catalog perf [-k PATTERN] [-b cpu|cuda] [--dtype T] [--case C] [--json F]
 *
 * For each entry, device and case (odd sizes, scalars, empty arrays,
 * non-contiguous views), and each dtype it lists: the forward against its
 * f64 reference on the very same input values, and the backward against
 * the analytic f64 reference, with per-entry tolerances. On the CPU, for
 * a small case: the backward against central differences of the kernel
 * itself in f64, and the reference backward against central differences
 * of the reference forward. Then bad inputs (catalog_bad.h). With no -k,
 * the registry must be complete (catalog_registry.h) and docs/KERNELS.md
 * must equal its text. Where NVRTC exists without a GPU, the expressions
 * built are compiled for CUDA (catalog_nvrtc.h).
 *
 * Compiles dominate the CPU run (each dtype and path is one compile), so
 * by default the CPU runs f32, f64 and one of bf16 and f16 (alternating
 * from entry to entry: both formats get coverage), and cases with strided
 * or misaligned views in f32 only (they take other paths, whose code does
 * not depend on the dtype). CUDA runs every dtype. --full runs every case in every dtype
 * on every backend, plus the entries' bigger full_cases. -j N runs N
 * worker processes, entries dealt round robin (on CUDA too: the parent
 * touches no device before it forks). */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog_bad.h"
#include "catalog_grad.h"
#include "catalog_harness.h"
#include "catalog_nvrtc.h"
#include "catalog_perf.h"
#include "catalog_registry.h"

static const zmlx_dtype all_dtypes[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_BF16, ZMLX_DTYPE_F16,
                                        ZMLX_DTYPE_F64};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int n_elements(const zcat_entry *e, const zcat_case *c) {
  int64_t total = 0;
  for (int i = 0; i < e->n_in; i++) {
    int nd;
    int64_t sh[ZMLX_MAX_DIMS], n = 1;
    if (zcat_case_shape(e, c, &e->in[i], &nd, sh)) return -1;
    for (int d = 0; d < nd; d++) n *= sh[d];
    if (!(e->in[i].flags & ZCAT_INDEX)) total += n;
  }
  return total > 1 << 30 ? -1 : (int)total;
}

/* Whether this run tests dtype dt of entry number `index` (see the top). */
static int wanted_dtype(const zcat_entry *e, int index, zmlx_dtype dt, zmlx_device dev,
                        const hc_opts *o) {
  if (!(e->dtypes & (1u << dt))) return 0;
  if (o->has_dtype) return dt == o->dtype;
  if (o->full || dev.type != ZMLX_DEVICE_CPU) return 1;
  int both = (e->dtypes & ZCAT_DT(BF16)) && (e->dtypes & ZCAT_DT(F16));
  if (both && dt == (index % 2 ? ZMLX_DTYPE_F16 : ZMLX_DTYPE_BF16)) return 0;
  return 1;
}

static void run_case_list(const zcat_entry *e, int index, const char *const *list,
                          zmlx_device dev, const hc_opts *o, uint64_t *seed, hc_tally *t,
                          int *grad_case_elems, zcat_case *grad_case) {
  for (int k = 0; list && list[k]; k++) {
    zcat_case c;
    zt_checks_++;
    if (zcat_case_parse(e, list[k], &c)) {
      ZT_FAIL_("%s: %s", e->name, zmlx_error_last());
      continue;
    }
    for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++) {
      zmlx_dtype dt = all_dtypes[d];
      if (!wanted_dtype(e, index, dt, dev, o)) continue;
      /* Views take other paths (general, narrower vectors): on the CPU
       * one dtype shows they work. */
      if ((c.noncontig || c.misaligned) && dev.type == ZMLX_DEVICE_CPU && !o->full && !o->has_dtype && dt != ZMLX_DTYPE_F32 &&
          (e->dtypes & ZCAT_DT(F32)))
        continue;
      hc_check_case(e, &c, dt, dev, seed, t);
    }
    /* The largest small case is the one to differentiate numerically. */
    int n = n_elements(e, &c);
    if (n > 0 && n <= 256 && n > *grad_case_elems) {
      *grad_case_elems = n;
      *grad_case = c;
    }
  }
}

static void run_entry(const zcat_entry *e, int index, zmlx_device dev, zmlx_device other,
                      int other_ok, const hc_opts *o, uint64_t *seed) {
  hc_tally t = {0};
  int before = zt_failures_;
  double start = now_s();
  char dn[32];
  zt_current_ = e->name;
  zcat_case grad_case;
  int grad_elems = 0;
  const char *const one[] = {o->case_text, NULL};
  run_case_list(e, index, o->case_text ? one : e->cases ? e->cases : zcat_default_cases, dev, o,
                seed, &t, &grad_elems, &grad_case);
  if (o->full && !o->case_text)
    run_case_list(e, index, e->full_cases, dev, o, seed, &t, &grad_elems, &grad_case);
  if (dev.type == ZMLX_DEVICE_CPU && zcat_has_backward(e) && grad_elems > 0) {
    hc_refcheck(e, &grad_case, seed, &t);
    if (e->dtypes & ZCAT_DT(F64)) hc_gradcheck(e, &grad_case, seed, &t);
  }
  hc_bad_generic(e, dev, other_ok, other, seed, &t);
  hc_bad_listed(e, dev, seed, &t);
  printf("%s %-24s %-6s %3d runs, %3d grads, %d gradcheck, %d refcheck, %2d bad inputs, "
         "worst %.2f of tol (%.1fs)\n",
         zt_failures_ == before ? "ok  " : "FAIL", e->name, zmlx_device_format(dev, dn, sizeof dn),
         t.runs, t.grads, t.gradchecks, t.refchecks, t.bad, t.worst,
         now_s() - start);
  fflush(stdout);
}

/* docs/KERNELS.md next to this file's folder must be the registry's text. */
static void check_kernels_md(void) {
  zt_current_ = "docs/KERNELS.md";
  char path[4096];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *slash = strrchr(path, '/');
  if (!slash) return;
  snprintf(slash, sizeof path - (size_t)(slash - path), "/../docs/KERNELS.md");
  char *want = zcat_markdown();
  FILE *f = fopen(path, "rb");
  char *have = NULL;
  long len = 0;
  if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
    have = calloc((size_t)len + 1, 1);
    if (have && fread(have, 1, (size_t)len, f) != (size_t)len) have[0] = 0;
  }
  if (f) fclose(f);
  zt_checks_++;
  if (!want || !have || strcmp(want, have))
    ZT_FAIL_("%s %s the registry; regenerate it: zmlx kernels --markdown > docs/KERNELS.md", path,
             have ? "differs from" : "cannot be read, and must come from");
  else
    printf("ok   docs/KERNELS.md matches the registry (%d entries)\n", zcat_entry_count());
  free(want);
  free(have);
}

/* Entries i with i % jobs == worker, on each backend asked for; returns
 * whether anything failed. */
static int run_worker(const hc_opts *o, int worker, int jobs, int *ran) {
  int has_cuda = zmlx_device_count(ZMLX_DEVICE_CUDA) > 0;
  if (!has_cuda && (o->backends & ZCAT_CUDA) && worker == 0) {
    zmlx_device_check(ZMLX_CUDA(0));
    printf("skip cuda: %s\n", zmlx_error_last()[0] ? zmlx_error_last() : "no CUDA device");
  }
  for (int b = 0; b < 2; b++) {
    unsigned bit = b ? ZCAT_CUDA : ZCAT_CPU;
    if (!(o->backends & bit) || (b && !has_cuda)) continue;
    zmlx_device dev = b ? ZMLX_CUDA(0) : ZMLX_CPU, other = b ? ZMLX_CPU : ZMLX_CUDA(0);
    for (int i = 0; i < zcat_entry_count(); i++) {
      const zcat_entry *e = zcat_entry_at(i);
      if (i % jobs != worker || !zcat_match(o->pattern, e->name) || !(e->backends & bit)) continue;
      /* A seed per entry and backend: -k and -j replay the same values. */
      uint64_t seed = ztst_mix(o->seed, (uint64_t)(2 * i + b));
      run_entry(e, i, dev, other, has_cuda, o, &seed);
      (*ran)++;
    }
  }
  if (!has_cuda && *ran) hc_nvrtc_check(worker == 0);
  zmlx_shutdown();
  printf("worker %d: %d entry runs, %d checks, %d failed\n", worker, *ran, zt_checks_,
         zt_failures_);
  return zt_failures_ != 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: test_catalog [perf] [-k PATTERN] [-b cpu|cuda] [--dtype T] [--full]\n"
          "                    [-j N] [--case CASE] [--json FILE] [--list]\n"
          "  --case CASE: only this case (registry.h's syntax), e.g. \"3x5 D=129 ~x\"\n"
          "  -j N: N worker processes (default $ZMLX_TEST_JOBS, else 1)\n");
  return 2;
}

static uint64_t base_seed(void) {
  const char *s = getenv("ZMLX_TEST_SEED");
  if (s && *s) return strtoull(s, NULL, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
}

static int perf(const hc_opts *o, const char *json, int argc, char **argv) {
  zmlx_device dev = (o->backends & ZCAT_CUDA) && zmlx_device_count(ZMLX_DEVICE_CUDA) > 0
                        ? ZMLX_CUDA(0)
                        : ZMLX_CPU;
  if (!(o->backends & ZCAT_CPU) && dev.type == ZMLX_DEVICE_CPU) {
    printf("SKIP: perf on cuda: %s\n", zmlx_device_check(ZMLX_CUDA(0)) ? zmlx_error_last() : "");
    return 77;
  }
  zmlx_dtype t = o->has_dtype ? o->dtype : ZMLX_DTYPE_BF16;
  zmlx_bench_capsule cap;
  zmlx_bench_copy copy;
  if (zmlx_bench_capsule_init(&cap, "test_catalog perf", dev, argc, argv) ||
      zmlx_bench_copy_bandwidth(dev, 0, NULL, &copy)) {
    fprintf(stderr, "perf: %s\n", zmlx_error_last());
    zmlx_bench_capsule_free(&cap);
    return 1;
  }
  zmlx_bench_capsule_set_copy(&cap, &copy);
  printf("copy ceiling: %.1f GB/s (%s)\n", copy.gbps, copy.method);
  uint64_t seed = o->seed;
  int rc = 0;
  for (int i = 0; i < zcat_entry_count(); i++) {
    const zcat_entry *e = zcat_entry_at(i);
    if (!zcat_match(o->pattern, e->name) || !(e->dtypes & (1u << t))) continue;
    if (!(e->backends & (dev.type == ZMLX_DEVICE_CUDA ? ZCAT_CUDA : ZCAT_CPU))) continue;
    rc |= hc_perf_entry(e, dev, t, o->case_text, &seed, &cap);
  }
  if (json && zmlx_bench_capsule_write(&cap, json)) {
    fprintf(stderr, "perf: %s\n", zmlx_error_last());
    rc = 1;
  }
  zmlx_bench_capsule_free(&cap);
  zmlx_shutdown();
  return rc;
}

int main(int argc, char **argv) {
  hc_opts o = {.backends = ZCAT_ALL_BACKENDS, .seed = base_seed()};
  int list = 0, perf_mode = 0, jobs = getenv("ZMLX_TEST_JOBS") ? atoi(getenv("ZMLX_TEST_JOBS")) : 1;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-k") && i + 1 < argc) {
      o.pattern = argv[++i];
    } else if (!strcmp(a, "-b") && i + 1 < argc) {
      const char *b = argv[++i];
      o.backends = !strcmp(b, "cpu") ? ZCAT_CPU : !strcmp(b, "cuda") ? ZCAT_CUDA : 0;
      if (!o.backends) return usage();
    } else if (!strcmp(a, "--dtype") && i + 1 < argc) {
      o.has_dtype = 1;
      if (zmlx_dtype_parse(argv[++i], &o.dtype)) return usage();
    } else if (!strcmp(a, "--json") && i + 1 < argc) {
      json = argv[++i];
    } else if (!strcmp(a, "--case") && i + 1 < argc) {
      o.case_text = argv[++i];
    } else if (!strcmp(a, "-j") && i + 1 < argc) {
      jobs = atoi(argv[++i]);
    } else if (!strcmp(a, "--full")) {
      o.full = 1;
    } else if (!strcmp(a, "--list")) {
      list = 1;
    } else if (!strcmp(a, "perf") || !strcmp(a, "--perf")) {
      perf_mode = 1;
    } else {
      return usage();
    }
  }
  if (list) {
    for (int i = 0; i < zcat_entry_count(); i++) {
      const zcat_entry *e = zcat_entry_at(i);
      if (zcat_match(o.pattern, e->name))
        printf("%-24s %-6s %s\n", e->name, e->family, e->summary);
    }
    return 0;
  }
  if (perf_mode) return perf(&o, json, argc, argv);
  printf("seed 0x%llx (set ZMLX_TEST_SEED to replay)\n", (unsigned long long)o.seed);
  int whole = !o.pattern && (o.backends & ZCAT_CPU); /* the default run */
  if (whole) hc_check_registry();
  fflush(stdout);
  int ran = 0, failed = 0;
  if (jobs <= 1) {
    failed = run_worker(&o, 0, 1, &ran);
  } else {
    /* Each worker reports through its exit status: bit 0 failures, bit 1
     * "ran something". */
    pid_t pids[64];
    int n = jobs < 64 ? jobs : 64;
    for (int w = 0; w < n; w++) {
      pids[w] = fork();
      if (pids[w] == 0) {
        zt_failures_ = zt_checks_ = 0; /* the parent reports its own */
        int r = 0, f = run_worker(&o, w, n, &r);
        fflush(stdout);
        _exit((f ? 1 : 0) | (r ? 2 : 0));
      }
      if (pids[w] < 0) {
        fprintf(stderr, "test_catalog: fork failed\n");
        return 1;
      }
    }
    for (int w = 0; w < n; w++) {
      int st = 0;
      if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st)) {
        fprintf(stderr, "test_catalog: worker %d died\n", w);
        failed = 1;
        continue;
      }
      failed |= WEXITSTATUS(st) & 1;
      ran += (WEXITSTATUS(st) & 2) != 0;
    }
  }
  if (whole) check_kernels_md();
  failed |= zt_failures_ != 0;
  if (ran) printf("%s (seed 0x%llx)\n", failed ? "FAILED" : "passed", (unsigned long long)o.seed);
  if (ran == 0) {
    printf(o.backends == ZCAT_CUDA ? "SKIP: no CUDA device\n" : "no entry matched\n");
    return o.backends == ZCAT_CUDA ? 77 : 1;
  }
  return failed ? 1 : 0;
}
