/* The CUDA backend's table of entry points (see backend/backend.h). */
#include "backend/backend.h"
#include "backend/cuda/cuda_internal.h"

static const zb_backend g_cuda = {
    .name = "cuda",
    .type = ZMLX_DEVICE_CUDA,
    .probe = zc_backend_probe,
    .device_count = zc_device_count,
    .device_info = zc_device_info,
    .synchronize = zc_synchronize,
    .shutdown = zc_shutdown,
    .mem_alloc = zc_mem_alloc,
    .mem_free = zc_mem_free,
    .mem_stats = zc_mem_stats,
    .mem_release_cache = zc_mem_release_cache,
    .mem_reset_peak = zc_mem_reset_peak,
    .mem_fill = zc_mem_fill,
    .copy_h2d = zc_copy_h2d,
    .copy_d2h = zc_copy_d2h,
    .copy_d2d = zc_copy_d2d,
    .stream_create = zc_stream_create,
    .stream_destroy = zc_stream_destroy,
    .stream_synchronize = zc_stream_synchronize,
    .stream_wait_event = zc_stream_wait_event,
    .event_create = zc_event_create,
    .event_destroy = zc_event_destroy,
    .event_record = zc_event_record,
    .event_synchronize = zc_event_synchronize,
    .event_elapsed_ms = zc_event_elapsed_ms,
    .compiler_id = zc_compiler_id,
    .compile = zc_compile,
    .module_load = zc_module_load,
    .module_unload = zc_module_unload,
    .launch = zc_launch,
};

const zb_backend *zb_cuda_backend(void) { return &g_cuda; }
