#ifndef ZMLX_BENCH_H
#define ZMLX_BENCH_H
#include <stdint.h>
#include <stdio.h>
#include "zmlx/device.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Benchmark helpers: time device work, measure the copy ceiling of the
 * same run, and keep every figure in a JSON "capsule" that `zmlx report`
 * turns into a Markdown table.
 *
 * Timing. zmlx_bench_time calls fn(ctx, rotation) over and over with
 * device events around each sample; the figure is the median per call.
 * The caller prepares `rotations` sets of inputs and outputs whose total
 * exceeds the last-level cache (zmlx_bench_rotations says how many), and
 * fn uses set `rotation`, so no call finds its data in cache from an
 * earlier one. Samples are queued without waiting, so the device never
 * idles between them; a call shorter than min_sample_us is repeated
 * within one sample and the sample divided.
 *
 * Bandwidth. GB/s = minimal bytes (each input read once, each output
 * written once) / median time; 1 GB = 1e9 bytes. The ceiling is a
 * device-to-device copy of a large buffer (the driver's memcpy on CUDA,
 * memcpy on the CPU), read and write both counted. */

/* One call of the work; rotation is in [0, rotations). A failing status
 * stops the measurement and is returned as it is. */
typedef zmlx_status (*zmlx_bench_fn)(void *ctx, int rotation);

typedef struct zmlx_bench_options {
  int warmup;           /* untimed calls first (at least one per rotation); 0: 10 */
  int iters;            /* timed samples; 0: 100 */
  int rotations;        /* rotation indices cycle through [0, rotations); 0: 1 */
  double min_sample_us; /* repeat short calls within a sample; 0: 50 */
  double budget_ms;     /* fewer samples (at least 5) past this; 0: no limit */
  zmlx_stream *stream;  /* where events go; NULL: the thread's current stream */
} zmlx_bench_options;

typedef struct zmlx_bench_result {
  double median_us;      /* per call */
  double min_us, p10_us, p90_us, mean_us;
  double first_call_ms;  /* host time of the very first call, to its
                            completion: compiling or loading included */
  int samples;           /* timed samples */
  int calls_per_sample;
} zmlx_bench_result;

/* opt may be NULL (every default). All of fn's work must go to the
 * thread's current stream of dev (or opt->stream). */
zmlx_status zmlx_bench_time(zmlx_device dev, zmlx_bench_fn fn, void *ctx,
                            const zmlx_bench_options *opt, zmlx_bench_result *out);

/* The cache a benchmark must defeat: the L2 on CUDA; on the CPU the
 * largest cache sysfs reports (32 MiB when it reports none). */
uint64_t zmlx_bench_cache_bytes(zmlx_device dev);
/* How many sets of bytes_per_set make at least twice that cache:
 * between 1 and max_sets. */
int zmlx_bench_rotations(zmlx_device dev, uint64_t bytes_per_set, int max_sets);
/* bytes / us in GB/s (1e9 bytes per second); NAN unless both are > 0. */
double zmlx_bench_gbps(double bytes, double us);

typedef struct zmlx_bench_copy {
  uint64_t bytes;          /* moved per copy: the buffer read plus written */
  zmlx_bench_result time;
  double gbps;
  char method[64];         /* "cuMemcpyDtoDAsync", "memmove (one thread)" */
} zmlx_bench_copy;

/* Copy a buffer of buffer_bytes (0: 512 MiB on CUDA, 64 MiB on the CPU)
 * into another on the same device; opt as for zmlx_bench_time (rotations
 * ignored: the buffers are far larger than any cache). */
zmlx_status zmlx_bench_copy_bandwidth(zmlx_device dev, uint64_t buffer_bytes,
                                      const zmlx_bench_options *opt, zmlx_bench_copy *out);

/* ---- The capsule ----------------------------------------------------------
 * One JSON document per run: where and how it ran, and every figure.
 * Unknown numbers are NAN in C and null in JSON. Strings longer than their
 * field are cut on reading. zmlx_bench_capsule_parse reads this format
 * (also as written by bench/peers/peers.py) and nothing else: anything
 * malformed is CORRUPT_DATA with the line and column in the error text. */
#define ZMLX_BENCH_MAX_META 32

typedef struct zmlx_bench_row {
  char op[32];           /* "swiglu" */
  char dtype[16];        /* "bf16" */
  char shape[48];        /* "16384x4096" */
  char impl[32];         /* "zmlx", "torch_eager", "torch_compile", "triton", "cupy" */
  double us;             /* median per call */
  double min_us, p10_us, p90_us;
  double bytes;          /* minimal bytes moved by one call */
  double gbps;
  double pct_of_copy;    /* of the copy ceiling of the same run */
  double tflops;         /* for compute-bound ops; NAN otherwise */
  double err;            /* max|got - ref| / max|ref|; NAN: not checked */
  double first_ms;       /* the first call (compile or cache load included) */
  int rotations;         /* input sets cycled through */
  int samples;
  char note[256];        /* why skipped, what differs; "" if nothing */
} zmlx_bench_row;

typedef struct zmlx_bench_meta {
  char key[48];
  char value[208];
} zmlx_bench_meta;

typedef struct zmlx_bench_capsule {
  char tool[32];            /* "zmlx bench", "peers" */
  char device_id[16];       /* "cuda:0", "cpu" */
  zmlx_device_info device;
  char library_version[32]; /* zmlx_version() */
  char git_commit[64];      /* "<sha>", "<sha>-dirty" or "unknown" */
  char command[2048];
  char date[32];            /* UTC, "2025-01-31T12:00:00Z" */
  char timing[256];         /* the method, in words */
  double copy_bytes, copy_us, copy_gbps; /* the ceiling of this run */
  char copy_method[64];
  int n_meta;
  zmlx_bench_meta meta[ZMLX_BENCH_MAX_META];
  int n_rows, cap_rows;
  zmlx_bench_row *rows;     /* owned; zmlx_bench_capsule_free */
} zmlx_bench_capsule;

/* Every number NAN (counts 0), every string empty. */
void zmlx_bench_row_init(zmlx_bench_row *r);
/* Fill in the device (dev's info), the library version, the git commit
 * ($ZMLX_GIT_COMMIT, else `git rev-parse HEAD` in the current folder), the
 * command line (argv joined, shell-quoted) and the date. */
zmlx_status zmlx_bench_capsule_init(zmlx_bench_capsule *c, const char *tool, zmlx_device dev,
                                    int argc, char *const *argv);
/* Record the copy ceiling; later rows' pct_of_copy is computed from it. */
void zmlx_bench_capsule_set_copy(zmlx_bench_capsule *c, const zmlx_bench_copy *copy);
/* Appends a copy of r; fills in gbps and pct_of_copy when they are NAN. */
zmlx_status zmlx_bench_capsule_add_row(zmlx_bench_capsule *c, const zmlx_bench_row *r);
/* Set (or replace) a free-form key (versions of peers, notes). */
zmlx_status zmlx_bench_capsule_set_meta(zmlx_bench_capsule *c, const char *key,
                                        const char *value);
const char *zmlx_bench_capsule_meta(const zmlx_bench_capsule *c, const char *key); /* NULL if absent */
/* The capsule as JSON; *out is malloc'd, free() it. */
zmlx_status zmlx_bench_capsule_to_json(const zmlx_bench_capsule *c, char **out);
zmlx_status zmlx_bench_capsule_write(const zmlx_bench_capsule *c, const char *path);
/* c is initialized by these (free it even on failure). */
zmlx_status zmlx_bench_capsule_parse(const char *json, size_t len, zmlx_bench_capsule *c);
zmlx_status zmlx_bench_capsule_read(const char *path, zmlx_bench_capsule *c);
void zmlx_bench_capsule_free(zmlx_bench_capsule *c); /* the rows; c stays usable */

/* A Markdown report. One capsule: its rows. Several: the first is the base
 * and the others' rows join it by (op, dtype, shape), with one GB/s column
 * and one ratio column (base GB/s / peer GB/s) per other impl. */
zmlx_status zmlx_bench_report(FILE *out, const zmlx_bench_capsule *caps, int n_caps);

#ifdef __cplusplus
}
#endif
#endif
