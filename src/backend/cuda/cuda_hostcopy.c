/* A parallel memcpy for the staging copies. One CPU thread copies about 6 to
 * 10 GB/s, far below what the DMA engines move (about 55 GB/s on an H100),
 * so large chunks are split across a small pool of helper threads, started
 * on first use. One job runs at a time; a caller that finds the pool busy,
 * or a copy below PAR_MIN, just calls memcpy. $ZMLX_COPY_THREADS sets the
 * number of helpers (0 disables them); by default min(4, cores/2). */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cuda/cuda_internal.h"

#define PAR_MIN ((size_t)2 << 20)
#define MAX_HELPERS 15

static pthread_mutex_t g_busy = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;   /* the job's fields */
static pthread_cond_t g_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static int g_started, g_nhelpers, g_stop;
static pthread_t g_threads[MAX_HELPERS];
static unsigned g_gen;
static unsigned g_gen_at_start; /* g_gen when the helpers were created */
static char *g_dst;
static const char *g_src;
static size_t g_n, g_per;
static int g_remaining;

static void copy_part(int part) {
  size_t off = (size_t)part * g_per;
  if (off >= g_n) return;
  size_t m = g_n - off < g_per ? g_n - off : g_per;
  memcpy(g_dst + off, g_src + off, m);
}

static void *helper(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned seen = g_gen_at_start; /* written before pthread_create */
  pthread_mutex_lock(&g_mu);
  for (;;) {
    while (!g_stop && g_gen == seen) pthread_cond_wait(&g_go, &g_mu);
    if (g_stop) break;
    seen = g_gen;
    pthread_mutex_unlock(&g_mu);
    copy_part(id);
    pthread_mutex_lock(&g_mu);
    if (--g_remaining == 0) pthread_cond_signal(&g_done);
  }
  pthread_mutex_unlock(&g_mu);
  return NULL;
}

/* With g_busy held. */
static void start_pool(void) {
  g_started = 1;
  g_gen_at_start = g_gen;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  long want = ncpu / 2 < 4 ? ncpu / 2 : 4;
  const char *env = zmlx_env("ZMLX_COPY_THREADS");
  if (env) want = strtol(env, NULL, 10);
  if (want < 0) want = 0;
  if (want > MAX_HELPERS) want = MAX_HELPERS;
  /* Helpers take no signals: those belong to the application's threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (long i = 0; i < want; i++) {
    if (pthread_create(&g_threads[g_nhelpers], NULL, helper,
                       (void *)(intptr_t)(g_nhelpers + 1)) != 0)
      break;
    g_nhelpers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void zc_memcpy_par(void *dst, const void *src, size_t n) {
  if (n < PAR_MIN || pthread_mutex_trylock(&g_busy) != 0) {
    memcpy(dst, src, n);
    return;
  }
  if (!g_started) start_pool();
  if (g_nhelpers == 0) {
    pthread_mutex_unlock(&g_busy);
    memcpy(dst, src, n);
    return;
  }
  int parts = g_nhelpers + 1;
  pthread_mutex_lock(&g_mu);
  g_dst = dst;
  g_src = src;
  g_n = n;
  g_per = ((n + (size_t)parts - 1) / (size_t)parts + 4095) & ~(size_t)4095;
  g_remaining = g_nhelpers;
  g_gen++;
  pthread_cond_broadcast(&g_go);
  pthread_mutex_unlock(&g_mu);
  copy_part(0);
  pthread_mutex_lock(&g_mu);
  while (g_remaining > 0) pthread_cond_wait(&g_done, &g_mu);
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_unlock(&g_busy);
}

void zc_hostcopy_shutdown(void) {
  pthread_mutex_lock(&g_busy);
  if (g_started) {
    pthread_mutex_lock(&g_mu);
    g_stop = 1;
    pthread_cond_broadcast(&g_go);
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < g_nhelpers; i++) pthread_join(g_threads[i], NULL);
    g_nhelpers = 0;
    g_stop = 0;
    g_started = 0;
  }
  pthread_mutex_unlock(&g_busy);
}
