/* Which backends work in this process, probed once each. */
#include <pthread.h>
#include <stdio.h>

#include "backend/backend.h"
#include "core/error.h"

typedef struct probe_state {
  pthread_once_t once;
  const zb_backend *backend;
  zmlx_status status;
  char why[512];
} probe_state;

static probe_state cpu_state = {PTHREAD_ONCE_INIT, NULL, ZMLX_STATUS_OK, ""};
static probe_state cuda_state = {PTHREAD_ONCE_INIT, NULL, ZMLX_STATUS_OK, ""};

static void probe(probe_state *st, const zb_backend *b) {
  st->backend = b;
  st->status = b->probe(st->why, sizeof st->why);
  if (st->status == ZMLX_STATUS_OK && b->device_count() <= 0) {
    st->status = ZMLX_STATUS_DEVICE_UNAVAILABLE;
    snprintf(st->why, sizeof st->why, "no %s device found", b->name);
  }
  if (st->status != ZMLX_STATUS_OK)
    zmlx_log(ZMLX_LOG_INFO, "backend %s unavailable: %s", b->name, st->why);
}

static void probe_cpu(void) { probe(&cpu_state, zb_cpu_backend()); }
static void probe_cuda(void) { probe(&cuda_state, zb_cuda_backend()); }

static probe_state *state_for(zmlx_device_type type) {
  if (type == ZMLX_DEVICE_CPU) {
    pthread_once(&cpu_state.once, probe_cpu);
    return &cpu_state;
  }
  if (type == ZMLX_DEVICE_CUDA) {
    pthread_once(&cuda_state.once, probe_cuda);
    return &cuda_state;
  }
  return NULL;
}

const zb_backend *zb_get(zmlx_device_type type) {
  probe_state *st = state_for(type);
  if (!st) {
    zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "device", "unknown device type %d", (int)type);
    return NULL;
  }
  if (st->status != ZMLX_STATUS_OK) {
    zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, "device", "%s backend unavailable: %s",
              st->backend->name, st->why);
    return NULL;
  }
  return st->backend;
}

zmlx_status zb_for_device(zmlx_device d, const zb_backend **out) {
  const zb_backend *b = zb_get(d.type);
  if (!b) return ZMLX_STATUS_DEVICE_UNAVAILABLE;
  int n = b->device_count();
  if (d.index < 0 || d.index >= n)
    return zmlx_fail(ZMLX_STATUS_DEVICE_UNAVAILABLE, "device",
                     "%s:%d does not exist (%d %s device%s)", b->name, d.index, n,
                     b->name, n == 1 ? "" : "s");
  *out = b;
  return ZMLX_STATUS_OK;
}

const char *zb_unavailable_reason(zmlx_device_type type) {
  probe_state *st = state_for(type);
  return (st && st->status != ZMLX_STATUS_OK) ? st->why : NULL;
}

void zb_shutdown_all(void) {
  /* Only backends that were probed successfully hold resources. */
  probe_state *states[] = {&cuda_state, &cpu_state};
  for (int i = 0; i < 2; i++)
    if (states[i]->backend && states[i]->status == ZMLX_STATUS_OK &&
        states[i]->backend->shutdown)
      states[i]->backend->shutdown();
}
