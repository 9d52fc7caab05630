#ifndef ZMLX_TUNE_H
#define ZMLX_TUNE_H
#include <stdint.h>
#include "zmlx/device.h"
#include "zmlx/dtype.h"
#include "zmlx/status.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Autotuning of launch parameters.
 *
 * A kernel author lists candidate configurations (a space) and a callback
 * that runs the kernel once with a given one. zmlx_tune_pick answers with
 * the configuration to use for a key (kernel, device, shape bucket,
 * dtype):
 *   1. when searching is on ($ZMLX_TUNE=1 or ZMLX_TUNE_SEARCH) and some
 *      candidate has no result yet: it times those candidates on the
 *      device (warm-up runs, then samples between two events; the median),
 *      records every one of them, failures included, saves the table and
 *      answers the fastest of all measured;
 *   2. else the fastest measured candidate, if any ran: no timing;
 *   3. else the default: the device's profile moved to the nearest
 *      candidate. Nothing is timed or written.
 * A repeated question is answered from memory in about 0.1 µs.
 *
 * Results persist in <cache folder>/tune-v1.tsv: the folder of the kernel
 * cache ($ZMLX_CACHE_DIR, else $XDG_CACHE_HOME/zmlx, else ~/.cache/zmlx),
 * one line per measured configuration, read once per process. Writers
 * merge with what is on disk under a lock and replace the file atomically,
 * so processes tuning at once keep each other's lines. A corrupt or foreign
 * file is ignored (with a warning) and replaced by the next search. With
 * ZMLX_DISK_CACHE=0 results live in memory only.
 *
 * Environment: ZMLX_TUNE=1 searches; ZMLX_TUNE=0 answers the default and
 * ignores the table; unset, measured results are used but nothing is
 * timed. ZMLX_TUNE_QUIET=1 silences the progress lines printed to stderr
 * for searches of more than 8 candidates or longer than 1 s.
 *
 * The callback runs the kernel many times: it must not change what a
 * later run reads (an output that aliases an input would be updated once
 * per run), so such launches should tune on scratch outputs. */

/* One launch configuration. 0 in a field: not applicable to the kernel. */
typedef struct zmlx_tune_config {
  int block; /* threads per block */
  int items; /* items (vectors) per thread */
  int vec;   /* bytes per vector access: 16 is a 128-bit access */
  int rows;  /* rows per block */
} zmlx_tune_config;

#define ZMLX_TUNE_MAX_CANDIDATES 256
#define ZMLX_TUNE_MAX_DIMS 4

/* Candidates, in the order they are tried; ties go to the earlier one. */
typedef struct zmlx_tune_space {
  int n;
  zmlx_tune_config v[ZMLX_TUNE_MAX_CANDIDATES];
} zmlx_tune_space;

/* 1 keeps a candidate. ctx is the caller's. */
typedef int (*zmlx_tune_filter)(void *ctx, const zmlx_tune_config *c);

/* The cartesian product of the value lists (blocks outermost, rows
 * innermost), kept where keep() says so (NULL keeps all). A NULL list or a
 * count of 0 leaves that field 0. INVALID_ARGUMENT for a negative count,
 * a value <= 0, or more than ZMLX_TUNE_MAX_CANDIDATES kept; an empty
 * result is valid (out->n == 0) but zmlx_tune_pick refuses it. */
zmlx_status zmlx_tune_space_product(const int *blocks, int n_blocks, const int *items,
                                    int n_items, const int *vecs, int n_vecs, const int *rows,
                                    int n_rows, zmlx_tune_filter keep, void *ctx,
                                    zmlx_tune_space *out);

/* What a result is stored under. Text fields hold no tab or newline, and
 * kernel does not start with '#' (the file's comment mark). */
typedef struct zmlx_tune_key {
  char kernel[96];   /* identity of the code: a content hash, a name+version */
  char device[128];  /* device name */
  char arch[32];     /* "sm_90", "x86_64" */
  int sm_count;      /* multiprocessors (CUDA), threads (CPU) */
  int bw_class;      /* round(log2(GB/s)); 0 when the name implies it */
  int ndim;          /* 0 to ZMLX_TUNE_MAX_DIMS */
  int64_t shape[ZMLX_TUNE_MAX_DIMS]; /* bucketed sizes */
  zmlx_dtype dtype;
} zmlx_tune_key;

/* n rounded up to a power of two; 0 and 1 stay as they are. */
int64_t zmlx_tune_bucket(int64_t n);

/* A key for kernel on dev: the device's identity (cached per device), each
 * size bucketed with zmlx_tune_bucket (a caller may overwrite key->shape
 * with buckets of its own afterwards). Tabs and newlines in the kernel or
 * device name become spaces. INVALID_ARGUMENT for an empty kernel, one
 * starting with '#', a name too long for the field, ndim outside
 * 0..ZMLX_TUNE_MAX_DIMS or a negative size; DTYPE_UNSUPPORTED for an
 * invalid dtype; DEVICE_UNAVAILABLE if dev cannot be queried. */
zmlx_status zmlx_tune_key_make(const char *kernel, zmlx_device dev, int ndim,
                               const int64_t *shape, zmlx_dtype dtype, zmlx_tune_key *out);

/* The memory bandwidth of dev, for the keys made afterwards. Give a stable
 * figure (the theoretical peak), not a measurement: a measurement near a
 * class boundary would change the key from run to run. 0 clears it. */
zmlx_status zmlx_tune_set_bandwidth(zmlx_device dev, double gbps);

/* Runs the kernel once with c, queued on the thread's current stream of
 * the device (or options.stream). A failing status marks c as failed. */
typedef zmlx_status (*zmlx_tune_run_fn)(void *ctx, const zmlx_tune_config *c);

/* One candidate measured. */
typedef struct zmlx_tune_progress {
  const char *name;        /* options.name, else the key's kernel */
  int index, n;            /* 1-based index among the n being measured */
  zmlx_tune_config config;
  double median_us;        /* NAN when it failed */
  zmlx_status status;      /* what run returned */
  zmlx_tune_config best;   /* the best so far (zero while none ran) */
  double best_us;          /* NAN while none ran */
} zmlx_tune_progress;

typedef void (*zmlx_tune_progress_fn)(void *ctx, const zmlx_tune_progress *p);

typedef enum zmlx_tune_mode {
  ZMLX_TUNE_ENV = 0, /* as $ZMLX_TUNE says (read once per process) */
  ZMLX_TUNE_SEARCH,  /* measure what is missing */
  ZMLX_TUNE_TABLE,   /* measured results, else the default; never times */
  ZMLX_TUNE_OFF      /* the default; the table is not consulted */
} zmlx_tune_mode;

typedef struct zmlx_tune_options {
  zmlx_tune_mode mode;
  const char *name;       /* for progress; NULL: the key's kernel */
  int warmup;             /* untimed runs per candidate; 0: 2 */
  int iters;              /* timed samples per candidate; 0: 9 */
  double min_sample_us;   /* a shorter run is repeated within a sample; 0: 50 */
  double budget_ms;       /* fewer samples (at least 3) past this per candidate; 0: 500 */
  zmlx_stream *stream;    /* where run's work goes; NULL: the thread's current stream */
  const zmlx_tune_config *fallback; /* the default; NULL: the device profile */
  zmlx_tune_progress_fn progress;   /* called once per candidate measured */
  void *progress_ctx;
} zmlx_tune_options;

typedef enum zmlx_tune_source {
  ZMLX_TUNE_FROM_TABLE = 0, /* measured before (by this or another process) */
  ZMLX_TUNE_FROM_SEARCH,    /* measured by this call */
  ZMLX_TUNE_FROM_DEFAULT    /* not measured: the default */
} zmlx_tune_source;

typedef struct zmlx_tune_result {
  zmlx_tune_config config;
  double median_us;         /* NAN for a default */
  zmlx_tune_source source;
} zmlx_tune_result;

/* The configuration to use for key on dev among space's candidates (see
 * the top of this file). opt may be NULL. run and ctx are used only while
 * searching (run may be NULL otherwise). When no candidate runs, the
 * answer is the default (and a warning is logged): the caller's own launch
 * then reports the real error. Called from inside a run callback, pick
 * never searches (one search at a time per process).
 * INVALID_ARGUMENT for a bad key, an empty or oversized space, or a
 * search without run. A failing event or stream call stops the search and
 * is returned. Failing to save the table only logs a warning. */
zmlx_status zmlx_tune_pick(zmlx_device dev, const zmlx_tune_key *key,
                           const zmlx_tune_space *space, zmlx_tune_run_fn run, void *ctx,
                           const zmlx_tune_options *opt, zmlx_tune_result *out);

/* The device profile's default for dev, moved to the nearest candidate of
 * space (fields compared on a log2 scale; space may be NULL or empty: the
 * profile as it is). */
zmlx_status zmlx_tune_default(zmlx_device dev, const zmlx_tune_space *space,
                              zmlx_tune_config *out);

typedef struct zmlx_tune_info {
  char path[1040];       /* the table's file; "" when results are not saved */
  zmlx_tune_mode mode;   /* what $ZMLX_TUNE asks for (never ZMLX_TUNE_ENV) */
  uint64_t n_keys;       /* distinct keys in the table */
  uint64_t n_entries;    /* measured configurations, failures included */
  uint64_t n_failed;
  uint64_t n_searches;   /* searches run by this process */
  uint64_t n_timed;      /* candidates timed by this process */
  uint64_t n_corrupt;    /* corrupt or foreign files met by this process */
} zmlx_tune_info;

zmlx_status zmlx_tune_info_get(zmlx_tune_info *out);
/* Forget every result: the file and the table in memory. */
zmlx_status zmlx_tune_clear(void);

#ifdef __cplusplus
}
#endif
#endif
