/* The CPU backend: the reference every other backend is tested against.
 * Memory is plain aligned host memory; streams run work as it is queued,
 * so they and events only need to keep time. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"
#include "core/error.h"

typedef struct cpu_event {
  double t_ms;
  int recorded;
} cpu_event;

static struct {
  _Atomic uint64_t in_use, peak, n_alloc;
} cpu_mem;

static zmlx_status cpu_probe(char *why, size_t len) { return ZMLX_STATUS_OK; }
static int cpu_device_count(void) { return 1; }

static zmlx_status cpu_device_info(int dev, zmlx_device_info *out) {
  struct utsname u;
  memset(out, 0, sizeof *out);
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  const char *machine = uname(&u) == 0 ? u.machine : "unknown";
  snprintf(out->name, sizeof out->name, "cpu (%s, %ld threads)", machine, threads);
  snprintf(out->arch, sizeof out->arch, "%s", machine);
  out->sm_count = (int)threads;
  out->total_memory = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  return ZMLX_STATUS_OK;
}

static zmlx_status cpu_synchronize(int dev) { return ZMLX_STATUS_OK; }

static zmlx_status cpu_mem_alloc(int dev, size_t bytes, void *stream, void **out) {
  *out = NULL;
  if (bytes == 0) return ZMLX_STATUS_OK;
  /* 64-byte alignment: whole cache lines, and any vector width. */
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded < bytes || !(*out = aligned_alloc(64, rounded)))
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "cpu.alloc",
                     "cannot allocate %zu bytes of host memory", bytes);
  uint64_t now = atomic_fetch_add(&cpu_mem.in_use, bytes) + bytes;
  uint64_t peak = atomic_load(&cpu_mem.peak);
  while (now > peak && !atomic_compare_exchange_weak(&cpu_mem.peak, &peak, now)) {
  }
  atomic_fetch_add(&cpu_mem.n_alloc, 1);
  return ZMLX_STATUS_OK;
}

static void cpu_mem_free(int dev, void *ptr, size_t bytes, void *stream) {
  if (!ptr) return;
  free(ptr);
  atomic_fetch_sub(&cpu_mem.in_use, bytes);
}

static zmlx_status cpu_mem_stats(int dev, zmlx_alloc_stats *out) {
  memset(out, 0, sizeof *out);
  out->bytes_in_use = atomic_load(&cpu_mem.in_use);
  out->peak_in_use = atomic_load(&cpu_mem.peak);
  out->n_alloc = out->n_device_alloc = atomic_load(&cpu_mem.n_alloc);
  return ZMLX_STATUS_OK;
}

static zmlx_status cpu_mem_release_cache(int dev) { return ZMLX_STATUS_OK; }

static zmlx_status cpu_mem_reset_peak(int dev) {
  atomic_store(&cpu_mem.peak, atomic_load(&cpu_mem.in_use));
  return ZMLX_STATUS_OK;
}

static zmlx_status cpu_mem_fill(int dev, void *dst, size_t n, const void *pattern,
                                size_t elem_size, void *stream) {
  unsigned char *p = dst;
  if (n == 0) return ZMLX_STATUS_OK;
  memcpy(p, pattern, elem_size);
  /* Doubling memcpy: log(n) calls, each at memcpy speed. */
  size_t done = 1;
  while (done < n) {
    size_t k = done < n - done ? done : n - done;
    memcpy(p + done * elem_size, p, k * elem_size);
    done += k;
  }
  return ZMLX_STATUS_OK;
}

static zmlx_status cpu_copy(int dev, void *dst, const void *src, size_t bytes, void *stream) {
  if (bytes) memmove(dst, src, bytes);
  return ZMLX_STATUS_OK;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static zmlx_status cpu_stream_create(int dev, void **out) {
  /* A distinct non-NULL handle; CPU streams hold no state. */
  *out = malloc(1);
  return *out ? ZMLX_STATUS_OK
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "cpu.stream_create", "out of memory");
}
static zmlx_status cpu_stream_destroy(int dev, void *s) {
  free(s);
  return ZMLX_STATUS_OK;
}
static zmlx_status cpu_stream_sync(int dev, void *s) { return ZMLX_STATUS_OK; }
static zmlx_status cpu_stream_wait_event(int dev, void *s, void *e) { return ZMLX_STATUS_OK; }

static zmlx_status cpu_event_create(int dev, void **out) {
  *out = calloc(1, sizeof(cpu_event));
  return *out ? ZMLX_STATUS_OK
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "cpu.event_create", "out of memory");
}
static zmlx_status cpu_event_destroy(int dev, void *e) {
  free(e);
  return ZMLX_STATUS_OK;
}
static zmlx_status cpu_event_record(int dev, void *e, void *s) {
  cpu_event *ev = e;
  ev->t_ms = now_ms();
  ev->recorded = 1;
  return ZMLX_STATUS_OK;
}
static zmlx_status cpu_event_sync(int dev, void *e) { return ZMLX_STATUS_OK; }
static zmlx_status cpu_event_elapsed(int dev, void *a, void *b, float *ms) {
  const cpu_event *s = a, *e = b;
  if (!s->recorded || !e->recorded)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "event.elapsed_ms",
                     "both events must be recorded first (cpu)");
  *ms = (float)(e->t_ms - s->t_ms);
  return ZMLX_STATUS_OK;
}

typedef void (*cpu_entry_fn)(void **params);

static zmlx_status cpu_launch(int dev, void *function, const int64_t grid[3],
                              const int block[3], unsigned shared_bytes, void **params,
                              void *stream) {
  /* The generated entry reads the grid from its own parameters. */
  ((cpu_entry_fn)function)(params);
  return ZMLX_STATUS_OK;
}

static const zb_backend cpu_backend = {
    .name = "cpu",
    .type = ZMLX_DEVICE_CPU,
    .probe = cpu_probe,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .synchronize = cpu_synchronize,
    .shutdown = NULL,
    .mem_alloc = cpu_mem_alloc,
    .mem_free = cpu_mem_free,
    .mem_stats = cpu_mem_stats,
    .mem_release_cache = cpu_mem_release_cache,
    .mem_reset_peak = cpu_mem_reset_peak,
    .mem_fill = cpu_mem_fill,
    .copy_h2d = cpu_copy,
    .copy_d2h = cpu_copy,
    .copy_d2d = cpu_copy,
    .stream_create = cpu_stream_create,
    .stream_destroy = cpu_stream_destroy,
    .stream_synchronize = cpu_stream_sync,
    .stream_wait_event = cpu_stream_wait_event,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_synchronize = cpu_event_sync,
    .event_elapsed_ms = cpu_event_elapsed,
    .compiler_id = zb_cpu_compiler_id,
    .compile = zb_cpu_compile,
    .module_load = zb_cpu_module_load,
    .module_unload = zb_cpu_module_unload,
    .launch = cpu_launch,
};

const zb_backend *zb_cpu_backend(void) { return &cpu_backend; }
