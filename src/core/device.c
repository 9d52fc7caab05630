/* Devices, streams, events and allocator statistics: thin, checked
 * wrappers over the backend interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_internal.h"
#include "core/error.h"

struct zmlx_stream {
  zmlx_device device;
  const zb_backend *backend;
  void *native;
};

struct zmlx_event {
  zmlx_device device;
  const zb_backend *backend;
  void *native;
};

#define MAX_TRACKED_DEVICES 16
static _Thread_local zmlx_stream *current_stream[2][MAX_TRACKED_DEVICES];

zmlx_status zmlx_device_parse(const char *text, zmlx_device *out) {
  if (!text || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "device_parse", "NULL argument");
  if (!strcmp(text, "cpu")) {
    *out = ZMLX_CPU;
    return ZMLX_STATUS_OK;
  }
  if (!strncmp(text, "cuda", 4)) {
    const char *rest = text + 4;
    char *end = NULL;
    long idx = 0;
    if (*rest == ':') {
      idx = strtol(rest + 1, &end, 10);
      if (end == rest + 1 || *end || idx < 0 || idx >= MAX_TRACKED_DEVICES) goto bad;
    } else if (*rest) {
      goto bad;
    }
    *out = ZMLX_CUDA((int)idx);
    return ZMLX_STATUS_OK;
  }
bad:
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "device_parse",
                   "'%s' is not a device (use cpu, cuda or cuda:N)", text);
}

const char *zmlx_device_format(zmlx_device d, char *buf, size_t len) {
  if (d.type == ZMLX_DEVICE_CPU)
    snprintf(buf, len, "cpu");
  else
    snprintf(buf, len, "cuda:%d", d.index);
  return buf;
}

zmlx_device zmlx_device_default(void) {
  const char *env = zmlx_env("ZMLX_DEVICE");
  zmlx_device d;
  if (env) {
    if (zmlx_device_parse(env, &d) == ZMLX_STATUS_OK) return d;
    zmlx_log(ZMLX_LOG_WARN, "ZMLX_DEVICE=%s is not a device; using the default", env);
  }
  if (zmlx_device_count(ZMLX_DEVICE_CUDA) > 0) return ZMLX_CUDA(0);
  return ZMLX_CPU;
}

int zmlx_device_count(zmlx_device_type type) {
  const zb_backend *b = zb_get(type);
  if (!b) {
    zmlx_error_clear();
    return 0;
  }
  return b->device_count();
}

zmlx_status zmlx_device_check(zmlx_device d) {
  const zb_backend *b;
  return zb_for_device(d, &b);
}

zmlx_status zmlx_device_info_get(zmlx_device d, zmlx_device_info *out) {
  const zb_backend *b;
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "device_info", "out is NULL");
  ZMLX_TRY(zb_for_device(d, &b));
  return b->device_info(d.index, out);
}

zmlx_status zmlx_device_synchronize(zmlx_device d) {
  const zb_backend *b;
  ZMLX_TRY(zb_for_device(d, &b));
  return b->synchronize(d.index);
}

/* ---- streams ---------------------------------------------------------- */

zmlx_status zmlx_stream_create(zmlx_device d, zmlx_stream **out) {
  const zb_backend *b;
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "stream_create", "out is NULL");
  ZMLX_TRY(zb_for_device(d, &b));
  zmlx_stream *s = calloc(1, sizeof *s);
  if (!s) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "stream_create", "out of host memory");
  zmlx_status st = b->stream_create(d.index, &s->native);
  if (st != ZMLX_STATUS_OK) {
    free(s);
    return st;
  }
  s->device = d;
  s->backend = b;
  *out = s;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_stream_destroy(zmlx_stream *s) {
  if (!s) return ZMLX_STATUS_OK;
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < MAX_TRACKED_DEVICES; i++)
      if (current_stream[t][i] == s) current_stream[t][i] = NULL;
  zmlx_status st = s->backend->stream_synchronize(s->device.index, s->native);
  zmlx_status st2 = s->backend->stream_destroy(s->device.index, s->native);
  free(s);
  return st != ZMLX_STATUS_OK ? st : st2;
}

zmlx_status zmlx_stream_synchronize(zmlx_stream *s) {
  if (!s) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "stream_synchronize", "stream is NULL");
  return s->backend->stream_synchronize(s->device.index, s->native);
}

zmlx_status zmlx_stream_wait_event(zmlx_stream *s, zmlx_event *e) {
  if (!s || !e) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "stream_wait_event", "NULL argument");
  if (s->device.type != e->device.type || s->device.index != e->device.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, "stream_wait_event",
                     "stream and event are on different devices");
  return s->backend->stream_wait_event(s->device.index, s->native, e->native);
}

static int tracked(zmlx_device d) {
  return (d.type == ZMLX_DEVICE_CPU || d.type == ZMLX_DEVICE_CUDA) && d.index >= 0 &&
         d.index < MAX_TRACKED_DEVICES;
}

zmlx_status zmlx_stream_set_current(zmlx_device d, zmlx_stream *s) {
  if (!tracked(d))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "stream_set_current", "bad device index %d",
                     d.index);
  if (s && (s->device.type != d.type || s->device.index != d.index)) {
    char a[32], b[32];
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, "stream_set_current",
                     "stream of %s made current for %s", zmlx_device_format(s->device, a, sizeof a),
                     zmlx_device_format(d, b, sizeof b));
  }
  current_stream[d.type][d.index] = s;
  return ZMLX_STATUS_OK;
}

zmlx_stream *zmlx_stream_current(zmlx_device d) {
  return tracked(d) ? current_stream[d.type][d.index] : NULL;
}

zmlx_device zmlx_stream_device(const zmlx_stream *s) { return s ? s->device : ZMLX_CPU; }

void *zmlx_stream_native(zmlx_device d, zmlx_stream *s) {
  if (!s) s = zmlx_stream_current(d);
  return s ? s->native : NULL;
}

/* ---- events ------------------------------------------------------------ */

zmlx_status zmlx_event_create(zmlx_device d, zmlx_event **out) {
  const zb_backend *b;
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "event_create", "out is NULL");
  ZMLX_TRY(zb_for_device(d, &b));
  zmlx_event *e = calloc(1, sizeof *e);
  if (!e) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "event_create", "out of host memory");
  zmlx_status st = b->event_create(d.index, &e->native);
  if (st != ZMLX_STATUS_OK) {
    free(e);
    return st;
  }
  e->device = d;
  e->backend = b;
  *out = e;
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_event_destroy(zmlx_event *e) {
  if (!e) return ZMLX_STATUS_OK;
  zmlx_status st = e->backend->event_destroy(e->device.index, e->native);
  free(e);
  return st;
}

zmlx_status zmlx_event_record(zmlx_event *e, zmlx_stream *s) {
  if (!e) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "event_record", "event is NULL");
  if (s && (s->device.type != e->device.type || s->device.index != e->device.index))
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, "event_record",
                     "event and stream are on different devices");
  return e->backend->event_record(e->device.index, e->native, zmlx_stream_native(e->device, s));
}

zmlx_status zmlx_event_synchronize(zmlx_event *e) {
  if (!e) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "event_synchronize", "event is NULL");
  return e->backend->event_synchronize(e->device.index, e->native);
}

zmlx_status zmlx_event_elapsed_ms(zmlx_event *a, zmlx_event *b, float *ms) {
  if (!a || !b || !ms) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "event_elapsed_ms", "NULL argument");
  if (a->device.type != b->device.type || a->device.index != b->device.index)
    return zmlx_fail(ZMLX_STATUS_DEVICE_MISMATCH, "event_elapsed_ms", "events on different devices");
  return a->backend->event_elapsed_ms(a->device.index, a->native, b->native, ms);
}

/* ---- allocator ----------------------------------------------------------- */

zmlx_status zmlx_alloc_stats_get(zmlx_device d, zmlx_alloc_stats *out) {
  const zb_backend *b;
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "alloc_stats", "out is NULL");
  ZMLX_TRY(zb_for_device(d, &b));
  return b->mem_stats(d.index, out);
}

zmlx_status zmlx_alloc_stats_reset_peak(zmlx_device d) {
  const zb_backend *b;
  ZMLX_TRY(zb_for_device(d, &b));
  return b->mem_reset_peak(d.index);
}

zmlx_status zmlx_alloc_cache_release(zmlx_device d) {
  const zb_backend *b;
  ZMLX_TRY(zb_for_device(d, &b));
  return b->mem_release_cache(d.index);
}
