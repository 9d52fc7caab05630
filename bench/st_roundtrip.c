/* The C half of scripts/check_safetensors_peer.py: read a checkpoint with
 * ZMLX, dump what it loaded, and write it back with ZMLX's writer.
 *
 *   st_roundtrip IN OUT_DIR
 *
 * IN is anything zmlx_safetensors_open takes (a sharded folder here).
 * For tensor i (in ZMLX's byte-wise name order) OUT_DIR/i.bin holds the
 * bytes ZMLX loaded: through an array on every device (the CPU's
 * zero-copy view, and a copy into cuda:0 when present), each read back
 * and compared with the mapping's bytes here; tensors of dtypes ZMLX has
 * no array type for are dumped from the mapping. OUT_DIR/manifest.tsv
 * lists "i dtype shape nbytes how". OUT_DIR/zmlx.safetensors is every
 * tensor written by ZMLX's writer (from the arrays on the last device)
 * with the checkpoint's metadata. Exit 1 on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zmlx/zmlx.h"

static int fail(const char *what) {
  fprintf(stderr, "st_roundtrip: %s: %s\n", what, zmlx_error_last());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: st_roundtrip IN OUT_DIR\n");
    return 2;
  }
  zmlx_device devs[2] = {ZMLX_CPU, ZMLX_CUDA(0)};
  int ndev = zmlx_device_count(ZMLX_DEVICE_CUDA) > 0 ? 2 : 1;
  printf("devices: cpu%s\n", ndev > 1 ? ", cuda:0" : "");
  zmlx_safetensors *st = NULL;
  if (zmlx_safetensors_open(argv[1], &st)) return fail(argv[1]);
  zmlx_safetensors_writer *w = NULL;
  if (zmlx_safetensors_writer_create(&w)) return fail("writer");
  for (int i = 0; i < zmlx_safetensors_metadata_count(st); i++) {
    const char *k, *v;
    zmlx_safetensors_metadata_at(st, i, &k, &v);
    if (zmlx_safetensors_writer_metadata(w, k, v)) return fail("metadata");
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/manifest.tsv", argv[2]);
  FILE *man = fopen(path, "w");
  if (!man) {
    perror(path);
    return 1;
  }
  int bad = 0;
  int64_t n = zmlx_safetensors_count(st);
  for (int64_t i = 0; i < n; i++) {
    zmlx_st_tensor t;
    zmlx_safetensors_tensor(st, i, &t);
    const void *raw;
    size_t nb;
    zmlx_safetensors_data(st, t.name, &raw, &nb);
    unsigned char *got = malloc(nb ? nb : 1);
    const char *how = "array";
    zmlx_dtype dt;
    if (zmlx_st_dtype_to_zmlx(t.dtype, &dt) == 0) {
      zmlx_array *a = NULL;
      for (int d = 0; d < ndev; d++) {
        zmlx_array_release(a);
        a = NULL;
        char dn[16];
        if (zmlx_safetensors_load(st, t.name, devs[d], &a) ||
            zmlx_array_to_host(a, got, nb)) {
          bad |= fail(t.name);
          break;
        }
        if (nb && memcmp(got, raw, nb)) {
          fprintf(stderr, "st_roundtrip: %s: bytes differ after a load on %s\n", t.name,
                  zmlx_device_format(devs[d], dn, sizeof dn));
          bad = 1;
        }
      }
      if (a && zmlx_safetensors_writer_add(w, t.name, a)) bad |= fail(t.name);
      zmlx_array_release(a);
    } else {
      how = "raw";
      if (nb) memcpy(got, raw, nb);
      if (zmlx_safetensors_writer_add_raw(w, t.name, t.dtype, t.ndim, t.shape, raw, nb))
        bad |= fail(t.name);
    }
    snprintf(path, sizeof path, "%s/%lld.bin", argv[2], (long long)i);
    FILE *f = fopen(path, "wb");
    if (!f || (nb && fwrite(got, 1, nb, f) != nb)) bad = 1;
    if (f) fclose(f);
    fprintf(man, "%lld\t%s\t", (long long)i, zmlx_st_dtype_name(t.dtype));
    for (int d = 0; d < t.ndim; d++) fprintf(man, "%s%lld", d ? "," : "", (long long)t.shape[d]);
    fprintf(man, "\t%zu\t%s\n", nb, how);
    free(got);
  }
  fclose(man);
  snprintf(path, sizeof path, "%s/zmlx.safetensors", argv[2]);
  if (zmlx_safetensors_writer_write(w, path)) bad |= fail(path);
  zmlx_safetensors_writer_destroy(w);
  zmlx_safetensors_close(st);
  zmlx_shutdown();
  printf("%lld tensors, %s\n", (long long)n, bad ? "FAILED" : "ok");
  return bad;
}
