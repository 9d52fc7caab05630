#ifndef ZMLX_TUNE_INTERNAL_H
#define ZMLX_TUNE_INTERNAL_H
/* Internal: the table of measured configurations, its file, and timing. */
#include <stddef.h>
#include <stdint.h>

#include "zmlx/tune.h"

/* A key as text: its tab-separated fields, exactly as in the file. The
 * text is the key's identity for lookups, hashing and merging. */
#define ZTUNE_KEY_TEXT 512
/* 2^64 GB/s: any real device is far below. */
#define ZTUNE_MAX_BW_CLASS 64

/* 0 when the key cannot be written as text (a tab or newline in a field,
 * an empty kernel, a bad ndim or dtype); why says which. */
int ztune_key_text(const zmlx_tune_key *k, char out[ZTUNE_KEY_TEXT], const char **why);
/* "-" for no dimensions, else "1024x4096"; 0 when it does not fit. */
int ztune_shape_text(const zmlx_tune_key *k, char *out, size_t cap);

/* One measured configuration. */
typedef struct ztune_entry {
  char *key;            /* key text, owned */
  uint64_t hash;        /* of key */
  zmlx_tune_config config;
  double us;            /* median µs; NAN when it failed */
  char status[32];      /* "ok", or the failing status's name */
  char date[24];        /* UTC "2025-01-31T12:00:00Z": newer lines win merges */
  int next;             /* the next entry of the same key; -1 ends */
} ztune_entry;

/* Entries, and an open-addressing index from key to its first entry. */
typedef struct ztune_table {
  ztune_entry *v;
  int n, cap;
  int *slot;            /* first entry of a key, -1 empty; n_slot is 2^k */
  int n_slot, n_keys;
} ztune_table;

uint64_t ztune_hash(const char *key_text);
/* The first entry of key, or -1. */
int ztune_table_first(const ztune_table *t, const char *key, uint64_t hash);
/* The entry of key with config c, or -1. */
int ztune_table_find(const ztune_table *t, const char *key, uint64_t hash,
                     const zmlx_tune_config *c);
/* Adds e (copying its key), or replaces the entry of the same key and
 * config when e's date is not older. -1 when out of memory. */
int ztune_table_put(ztune_table *t, const ztune_entry *e);
void ztune_table_free(ztune_table *t);

/* ---- The file (tune_file.c) ------------------------------------------- */

#define ZTUNE_FILE_NAME "tune-v1.tsv"
#define ZTUNE_LOCK_NAME "tune-v1.lock"

typedef enum ztune_read {
  ZTUNE_READ_OK = 0,
  ZTUNE_READ_MISSING,
  ZTUNE_READ_CORRUPT,
  ZTUNE_READ_IO,
  ZTUNE_READ_NOMEM
} ztune_read;
/* Reads a table file into t (emptied first). CORRUPT when any line is bad
 * (a foreign version included), with the line and the reason in why; t is
 * then empty. Sets no error text: the caller decides what a failure means. */
ztune_read ztune_file_read(const char *path, ztune_table *t, char *why, size_t why_len);

/* Under an exclusive lock on the folder's lock file: reads the file,
 * merges mem into it (newer lines win), writes the result to a temp file
 * and renames it over the file, then makes mem the merged table. A corrupt
 * or foreign file on disk is replaced; corrupt receives why ("" when the
 * file was fine or missing). IO_ERROR (with text) when the file cannot be
 * read or written; mem then still holds what it held. */
zmlx_status ztune_file_merge_store(const char *dir, ztune_table *mem, char *corrupt,
                                   size_t corrupt_len);

/* Removes the file under the lock. OK when it is already gone. */
zmlx_status ztune_file_remove(const char *dir);

/* ---- Timing (tune_time.c) --------------------------------------------- */

typedef struct ztune_timer {
  zmlx_device dev;
  zmlx_stream *stream;
  zmlx_event *start, *end;
  int warmup, iters;
  double min_sample_us, budget_ms;
} ztune_timer;

/* Events on dev; the options' defaults filled in. */
zmlx_status ztune_timer_init(ztune_timer *t, zmlx_device dev, const zmlx_tune_options *opt);
void ztune_timer_free(ztune_timer *t);
/* Times one candidate: *run_status is run's status (the candidate failed
 * unless OK, and *median_us is NAN); the function's own status is not OK
 * only when the events fail, which ends the search. */
zmlx_status ztune_time_candidate(ztune_timer *t, zmlx_tune_run_fn run, void *ctx,
                                 const zmlx_tune_config *c, zmlx_status *run_status,
                                 double *median_us);
/* The median of v[0..n) (n > 0); v is sorted in place. */
double ztune_median(double *v, int n);

/* Forgets cached device identities and bandwidths (tune_key.c). */
void ztune_devices_reset(void);

/* ---- For tests and shutdown ------------------------------------------- */

/* Drops the table in memory (as a new process would start) and re-reads
 * the environment, the cache folder included. Only while no other thread
 * uses the tuner. */
void ztune_reset_for_tests(void);
/* Frees the table in memory; the next use reloads it. */
void ztune_shutdown(void);

#endif
