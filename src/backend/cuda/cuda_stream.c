/* Streams and events. Streams are created blocking (flags 0), so work on
 * them orders with the legacy default stream (NULL) that PyTorch and CuPy
 * use by default. Events keep timing enabled so elapsed_ms works. */
#include "backend/cuda/cuda_internal.h"

zmlx_status zc_stream_create(int dev, void **out) {
  const char *op = "cuda.stream_create";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL output");
  *out = NULL;
  ZMLX_TRY(zc_enter(dev, op));
  CUstream s = NULL;
  ZC_CALL(dev, op, "cuStreamCreate", zc_cu->cuStreamCreate(&s, CU_STREAM_DEFAULT));
  *out = s;
  return ZMLX_STATUS_OK;
}

zmlx_status zc_stream_destroy(int dev, void *stream) {
  const char *op = "cuda.stream_destroy";
  if (!stream) return ZMLX_STATUS_OK; /* the default stream is never destroyed */
  ZMLX_TRY(zc_enter(dev, op));
  CUstream s = (CUstream)stream;
  /* Destroying waits for the stream's work (the public contract); then no
   * cached block needs to wait for it again. */
  CUresult r = zc_cu->cuStreamSynchronize(s);
  zc_alloc_forget_stream(dev, s);
  CUresult r2 = zc_cu->cuStreamDestroy(s);
  if (r != CUDA_SUCCESS)
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r, dev, "cuStreamSynchronize");
  if (r2 != CUDA_SUCCESS)
    return zc_fail_cu(ZMLX_STATUS_BACKEND_ERROR, op, r2, dev, "cuStreamDestroy");
  return ZMLX_STATUS_OK;
}

zmlx_status zc_stream_synchronize(int dev, void *stream) {
  const char *op = "cuda.stream_synchronize";
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuStreamSynchronize", zc_cu->cuStreamSynchronize((CUstream)stream));
  return ZMLX_STATUS_OK;
}

zmlx_status zc_stream_wait_event(int dev, void *stream, void *event) {
  const char *op = "cuda.stream_wait_event";
  if (!event) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL event");
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuStreamWaitEvent",
          zc_cu->cuStreamWaitEvent((CUstream)stream, (CUevent)event, 0));
  return ZMLX_STATUS_OK;
}

zmlx_status zc_event_create(int dev, void **out) {
  const char *op = "cuda.event_create";
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL output");
  *out = NULL;
  ZMLX_TRY(zc_enter(dev, op));
  CUevent e = NULL;
  ZC_CALL(dev, op, "cuEventCreate", zc_cu->cuEventCreate(&e, CU_EVENT_DEFAULT));
  *out = e;
  return ZMLX_STATUS_OK;
}

zmlx_status zc_event_destroy(int dev, void *event) {
  const char *op = "cuda.event_destroy";
  if (!event) return ZMLX_STATUS_OK;
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuEventDestroy", zc_cu->cuEventDestroy((CUevent)event));
  return ZMLX_STATUS_OK;
}

zmlx_status zc_event_record(int dev, void *event, void *stream) {
  const char *op = "cuda.event_record";
  if (!event) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL event");
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuEventRecord", zc_cu->cuEventRecord((CUevent)event, (CUstream)stream));
  return ZMLX_STATUS_OK;
}

zmlx_status zc_event_synchronize(int dev, void *event) {
  const char *op = "cuda.event_synchronize";
  if (!event) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL event");
  ZMLX_TRY(zc_enter(dev, op));
  ZC_CALL(dev, op, "cuEventSynchronize", zc_cu->cuEventSynchronize((CUevent)event));
  return ZMLX_STATUS_OK;
}

zmlx_status zc_event_elapsed_ms(int dev, void *start, void *end, float *ms) {
  const char *op = "cuda.event_elapsed_ms";
  if (!start || !end || !ms)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL event or output");
  *ms = 0;
  ZMLX_TRY(zc_enter(dev, op));
  /* Waits for `end` first: elapsed time of an unfinished event is an error
   * (CUDA_ERROR_NOT_READY) in the driver, never what a caller wants. */
  ZC_CALL(dev, op, "cuEventSynchronize", zc_cu->cuEventSynchronize((CUevent)end));
  ZC_CALL(dev, op, "cuEventElapsedTime",
          zc_cu->cuEventElapsedTime(ms, (CUevent)start, (CUevent)end));
  return ZMLX_STATUS_OK;
}
