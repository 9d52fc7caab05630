/* Loading a large sharded checkpoint: ZMLX's memory-mapped, zero-copy
 * loads against plain read() of the same files.
 *
 *   bench_safetensors [--dir DIR] [--gb N] [--shards K] [--passes P] [--keep]
 *
 * Without a checkpoint in DIR (default /tmp/zmlx-bench-st), writes one of
 * about N GB (default 10) in K shards (default 4) of 64 MiB bf16 tensors,
 * with model.safetensors.index.json, through ZMLX's writer. Then, for each
 * of "cold" (every shard's pages dropped from the page cache first with
 * posix_fadvise(DONTNEED), so reads come from the disk) and "warm" (page
 * cache), it times:
 *   read      plain read() of every shard into a 64 MiB buffer, summing it
 *   zmlx cpu  zmlx_safetensors_open + zmlx_safetensors_load on the CPU
 *             (views of the mapping, no copy) + summing every byte
 *   zmlx cuda the same loads into cuda:0 (copies from the mapping), when
 *             a GPU is present
 * and prints GB/s (10^9 bytes per second of tensor data). The checkpoint
 * is deleted at the end unless --keep (or it was there before). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zmlx/zmlx.h"

#define TENSOR_BYTES ((size_t)64 << 20)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t sum_bytes(const void *p, size_t n) {
  const uint64_t *w = p;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t k = n / 32;
  for (size_t i = 0; i < k; i++) {
    uint64_t a, b, c, d;
    memcpy(&a, w + 4 * i, 8);
    memcpy(&b, w + 4 * i + 1, 8);
    memcpy(&c, w + 4 * i + 2, 8);
    memcpy(&d, w + 4 * i + 3, 8);
    s0 += a, s1 += b, s2 += c, s3 += d;
  }
  const unsigned char *t = (const unsigned char *)p + k * 32;
  for (size_t i = 0; i < n - k * 32; i++) s0 += t[i];
  return s0 ^ s1 ^ s2 ^ s3;
}

static int die(const char *what) {
  fprintf(stderr, "bench_safetensors: %s: %s\n", what, zmlx_error_last());
  return 1;
}

static int shard_path(char *buf, size_t n, const char *dir, int i, int k) {
  return snprintf(buf, n, "%s/model-%05d-of-%05d.safetensors", dir, i + 1, k);
}

static int write_checkpoint(const char *dir, double gb, int shards) {
  mkdir(dir, 0755);
  int64_t total = (int64_t)(gb * 1e9 / (double)TENSOR_BYTES);
  if (total < shards) total = shards;
  unsigned char *buf = malloc(TENSOR_BYTES);
  if (!buf) return 1;
  for (size_t i = 0; i < TENSOR_BYTES; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
  char path[1024], idx[1024];
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
  FILE *f = fopen(idx, "w");
  if (!f) return 1;
  fprintf(f, "{\"metadata\":{\"total_size\":%lld},\"weight_map\":{",
          (long long)(total * (int64_t)TENSOR_BYTES));
  int64_t t = 0;
  double t0 = now();
  for (int s = 0; s < shards; s++) {
    zmlx_safetensors_writer *w;
    if (zmlx_safetensors_writer_create(&w)) return die("writer");
    zmlx_safetensors_writer_metadata(w, "format", "pt");
    int64_t end = total * (s + 1) / shards;
    char names[4096][48];
    int n = 0;
    for (; t < end && n < 4096; t++, n++) {
      snprintf(names[n], sizeof names[n], "model.layers.%lld.weight", (long long)t);
      int64_t shape[2] = {8192, (int64_t)(TENSOR_BYTES / 2 / 8192)};
      if (zmlx_safetensors_writer_add_raw(w, names[n], ZMLX_ST_DTYPE_BF16, 2, shape, buf,
                                          TENSOR_BYTES))
        return die("add");
      shard_path(path, sizeof path, dir, s, shards);
      fprintf(f, "%s\"%s\":\"%s\"", t ? "," : "", names[n], strrchr(path, '/') + 1);
    }
    shard_path(path, sizeof path, dir, s, shards);
    if (zmlx_safetensors_writer_write(w, path)) return die(path);
    zmlx_safetensors_writer_destroy(w);
  }
  fprintf(f, "}}\n");
  fclose(f);
  free(buf);
  double dt = now() - t0;
  printf("wrote %.2f GB in %d shards in %.1f s (%.2f GB/s)\n",
         (double)total * (double)TENSOR_BYTES / 1e9, shards, dt,
         (double)total * (double)TENSOR_BYTES / 1e9 / dt);
  return 0;
}

/* Drop the shards' clean pages from the page cache (no root needed). */
static void drop_cache(const zmlx_safetensors *st) {
  for (int i = 0; i < zmlx_safetensors_file_count(st); i++) {
    int fd = open(zmlx_safetensors_file_path(st, i), O_RDONLY);
    if (fd < 0) continue;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

static double bench_read(const zmlx_safetensors *st, uint64_t *bytes, uint64_t *sum) {
  unsigned char *buf = malloc(TENSOR_BYTES);
  double t0 = now();
  *bytes = 0;
  for (int i = 0; buf && i < zmlx_safetensors_file_count(st); i++) {
    int fd = open(zmlx_safetensors_file_path(st, i), O_RDONLY);
    if (fd < 0) continue;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ssize_t k;
    while ((k = read(fd, buf, TENSOR_BYTES)) > 0) {
      *sum += sum_bytes(buf, (size_t)k);
      *bytes += (uint64_t)k;
    }
    close(fd);
  }
  free(buf);
  return now() - t0;
}

static double bench_zmlx(const char *dir, zmlx_device dev, uint64_t *bytes, uint64_t *sum,
                         double *open_s) {
  double t0 = now();
  zmlx_safetensors *st;
  if (zmlx_safetensors_open(dir, &st)) {
    die("open");
    return -1;
  }
  *open_s = now() - t0;
  *bytes = 0;
  for (int64_t i = 0; i < zmlx_safetensors_count(st); i++) {
    zmlx_st_tensor t;
    zmlx_safetensors_tensor(st, i, &t);
    zmlx_array *a;
    if (zmlx_safetensors_load(st, t.name, dev, &a)) {
      die(t.name);
      zmlx_safetensors_close(st);
      return -1;
    }
    if (dev.type == ZMLX_DEVICE_CPU) {
      zmlx_array_desc d = zmlx_array_describe(a);
      *sum += sum_bytes(d.data, t.nbytes);
    }
    *bytes += t.nbytes;
    zmlx_array_release(a);
  }
  zmlx_device_synchronize(dev);
  double dt = now() - t0;
  zmlx_safetensors_close(st);
  return dt;
}

int main(int argc, char **argv) {
  const char *dir = "/tmp/zmlx-bench-st";
  double gb = 10;
  int shards = 4, passes = 2, keep = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--gb") && i + 1 < argc) gb = atof(argv[++i]);
    else if (!strcmp(argv[i], "--shards") && i + 1 < argc) shards = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--passes") && i + 1 < argc) passes = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--keep")) keep = 1;
    else {
      fprintf(stderr, "usage: bench_safetensors [--dir DIR] [--gb N] [--shards K] [--passes P] [--keep]\n");
      return 2;
    }
  }
  if (shards < 1 || shards > 9999 || gb <= 0) return 2;
  zmlx_safetensors *st;
  int existed = zmlx_safetensors_open(dir, &st) == ZMLX_STATUS_OK;
  if (!existed) {
    if (write_checkpoint(dir, gb, shards)) return 1;
    if (zmlx_safetensors_open(dir, &st)) return die(dir);
  }
  printf("checkpoint %s: %d files, %lld tensors\n", dir, zmlx_safetensors_file_count(st),
         (long long)zmlx_safetensors_count(st));
  int cuda = zmlx_device_count(ZMLX_DEVICE_CUDA) > 0;
  uint64_t sum = 0;
  for (int pass = 0; pass < passes; pass++) {
    for (int warm = 0; warm < 2; warm++) {
      const char *mode = warm ? "warm" : "cold";
      uint64_t bytes;
      double open_s;
      if (!warm) drop_cache(st);
      double t = bench_read(st, &bytes, &sum);
      printf("pass %d %s  read      %6.2f GB/s (%.2f GB in %.2f s)\n", pass, mode,
             (double)bytes / 1e9 / t, (double)bytes / 1e9, t);
      if (!warm) drop_cache(st);
      t = bench_zmlx(dir, ZMLX_CPU, &bytes, &sum, &open_s);
      if (t < 0) return 1;
      printf("pass %d %s  zmlx cpu  %6.2f GB/s (%.2f GB in %.2f s; open %.1f ms)\n", pass, mode,
             (double)bytes / 1e9 / t, (double)bytes / 1e9, t, open_s * 1e3);
      if (cuda) {
        if (!warm) drop_cache(st);
        t = bench_zmlx(dir, ZMLX_CUDA(0), &bytes, &sum, &open_s);
        if (t < 0) return 1;
        printf("pass %d %s  zmlx cuda %6.2f GB/s (%.2f GB in %.2f s; open %.1f ms)\n", pass,
               mode, (double)bytes / 1e9 / t, (double)bytes / 1e9, t, open_s * 1e3);
      }
    }
  }
  printf("(checksum %llx)\n", (unsigned long long)sum);
  if (!existed && !keep) {
    for (int i = 0; i < zmlx_safetensors_file_count(st); i++) unlink(zmlx_safetensors_file_path(st, i));
    char idx[1024];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    unlink(idx);
    rmdir(dir);
  }
  zmlx_safetensors_close(st);
  zmlx_shutdown();
  return 0;
}
