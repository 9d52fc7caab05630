#ifndef ZMLX_DEVICE_H
#define ZMLX_DEVICE_H
#include <stddef.h>
#include <stdint.h>
#include "zmlx/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum zmlx_device_type {
  ZMLX_DEVICE_CPU = 0,
  ZMLX_DEVICE_CUDA = 1
} zmlx_device_type;

/* A device is a plain value: its type and its index among devices of that
 * type. The CPU is always { ZMLX_DEVICE_CPU, 0 }. */
typedef struct zmlx_device {
  zmlx_device_type type;
  int index;
} zmlx_device;

#define ZMLX_CPU ((zmlx_device){ZMLX_DEVICE_CPU, 0})
#define ZMLX_CUDA(i) ((zmlx_device){ZMLX_DEVICE_CUDA, (i)})

typedef struct zmlx_device_info {
  char name[128];          /* "cpu (x86_64, 16 threads)", "NVIDIA H100 80GB HBM3" */
  char arch[32];           /* "sm_90" on CUDA, the machine on the CPU */
  int sm_count;            /* CUDA: multiprocessors; CPU: threads */
  int cc_major, cc_minor;  /* CUDA compute capability; 0 on the CPU */
  uint64_t total_memory;   /* bytes */
  uint64_t l2_bytes;       /* CUDA L2 size; 0 on the CPU */
  int driver_version;      /* CUDA driver, e.g. 13000; 0 on the CPU */
  int compiler_version;    /* NVRTC major*1000+minor*10; 0 on the CPU */
} zmlx_device_info;

/* The device named by $ZMLX_DEVICE ("cpu", "cuda", "cuda:1"); otherwise
 * cuda:0 when CUDA works, else the CPU. */
zmlx_device zmlx_device_default(void);
/* Parse "cpu", "cuda" or "cuda:N". */
zmlx_status zmlx_device_parse(const char *text, zmlx_device *out);
/* "cpu" or "cuda:0" into buf; returns buf. */
const char *zmlx_device_format(zmlx_device d, char *buf, size_t len);
/* Number of devices of a type (CPU: 1; CUDA: 0 when unavailable). */
int zmlx_device_count(zmlx_device_type type);
/* OK if the device can be used; otherwise DEVICE_UNAVAILABLE with the
 * reason (missing library, no GPU, driver error) in zmlx_error_last(). */
zmlx_status zmlx_device_check(zmlx_device d);
zmlx_status zmlx_device_info_get(zmlx_device d, zmlx_device_info *out);
/* Wait for all work queued on the device. */
zmlx_status zmlx_device_synchronize(zmlx_device d);

/* ---- Streams and events ------------------------------------------------
 * A stream orders work on one device. NULL means the device's default
 * stream (CUDA's legacy default stream, so work interleaves correctly with
 * PyTorch or CuPy in the same process). CPU streams run work at once.
 * Ownership: create/destroy pair; destroying a stream waits for its work. */
typedef struct zmlx_stream zmlx_stream;
typedef struct zmlx_event zmlx_event;

zmlx_status zmlx_stream_create(zmlx_device d, zmlx_stream **out);
zmlx_status zmlx_stream_destroy(zmlx_stream *s);
zmlx_status zmlx_stream_synchronize(zmlx_stream *s);
/* Future work on s waits until e has completed. */
zmlx_status zmlx_stream_wait_event(zmlx_stream *s, zmlx_event *e);
/* The stream later ops of this thread use on device d (NULL = default).
 * The thread does not own it; keep it alive while it is current. */
zmlx_status zmlx_stream_set_current(zmlx_device d, zmlx_stream *s);
zmlx_stream *zmlx_stream_current(zmlx_device d);
zmlx_device zmlx_stream_device(const zmlx_stream *s);

zmlx_status zmlx_event_create(zmlx_device d, zmlx_event **out);
zmlx_status zmlx_event_destroy(zmlx_event *e);
/* Record on stream s (NULL = default stream of the event's device). */
zmlx_status zmlx_event_record(zmlx_event *e, zmlx_stream *s);
zmlx_status zmlx_event_synchronize(zmlx_event *e);
/* Milliseconds between two recorded events of one device. */
zmlx_status zmlx_event_elapsed_ms(zmlx_event *start, zmlx_event *end, float *ms);

/* ---- Device memory allocator -------------------------------------------
 * CUDA memory comes from a caching allocator: freed blocks return to size
 * classes and are reused. On out-of-memory the cache is released and the
 * allocation retried once. Set ZMLX_ALLOC_CACHE=0 to allocate and free
 * directly (for debugging with compute-sanitizer). */
typedef struct zmlx_alloc_stats {
  uint64_t bytes_in_use;    /* held by live arrays */
  uint64_t bytes_cached;    /* freed, kept for reuse */
  uint64_t peak_in_use;
  uint64_t n_alloc;         /* allocation requests */
  uint64_t n_reuse;         /* requests served from the cache */
  uint64_t n_device_alloc;  /* requests that reached the driver */
  uint64_t n_oom_retry;     /* times the cache was released after OOM */
} zmlx_alloc_stats;

zmlx_status zmlx_alloc_stats_get(zmlx_device d, zmlx_alloc_stats *out);
/* Start a new peak: peak_in_use = bytes_in_use. Measuring what a call
 * needs: synchronize, reset, run it, read peak_in_use - the bytes before. */
zmlx_status zmlx_alloc_stats_reset_peak(zmlx_device d);
/* Give every cached block back to the driver. */
zmlx_status zmlx_alloc_cache_release(zmlx_device d);

#ifdef __cplusplus
}
#endif
#endif
