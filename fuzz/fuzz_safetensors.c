/* libFuzzer target: a whole safetensors file image through the header
 * parser and validator. Accepted files must describe tensors that lie
 * inside the input, tile the data area exactly and have shapes that match
 * their byte counts; anything else must be refused cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/st_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  zst_header h;
  zmlx_status s = zst_header_parse("fuzz.safetensors", data, size, &h);
  if (s != ZMLX_STATUS_OK) {
    if (s != ZMLX_STATUS_CORRUPT_DATA && s != ZMLX_STATUS_OUT_OF_MEMORY) abort();
    return 0;
  }
  uint64_t at = 0;
  for (int64_t i = 0; i < h.n; i++) {
    const zst_entry *e = &h.entries[i];
    int ok;
    uint64_t nb = zst_nbytes(e->dtype, e->ndim, e->shape, &ok);
    if (!ok || e->begin != at || e->end - e->begin != nb) abort();
    if (h.data_start + e->end > size || !e->name) abort();
    at = e->end;
  }
  if (h.data_start + at != size) abort();
  for (int i = 1; i < h.n_meta; i++)
    if (strcmp(h.meta_keys[i - 1], h.meta_keys[i]) >= 0) abort();
  zst_header_free(&h);
  return 0;
}
