/* zmlx report: capsules (from `zmlx bench --json` or bench/peers/peers.py)
 * as Markdown; with several, side by side with ratios to the first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "zmlx/zmlx.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmlx report CAPSULE.json [OTHER.json ...]\n"
          "One capsule: its figures as a Markdown table. Several: the first is the\n"
          "base; rows of the others join it by (op, dtype, shape) with a GB/s column\n"
          "and a ratio column (base GB/s / their GB/s) per implementation.\n");
}

int zmlx_cmd_report(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  int n = argc - 1;
  zmlx_bench_capsule *caps = calloc((size_t)n, sizeof *caps);
  if (!caps) {
    fprintf(stderr, "zmlx report: out of host memory\n");
    return 1;
  }
  int rc = 0;
  for (int i = 0; i < n && !rc; i++)
    if (zmlx_bench_capsule_read(argv[i + 1], &caps[i])) {
      fprintf(stderr, "zmlx report: %s\n", zmlx_error_last());
      rc = 1;
    }
  if (!rc && zmlx_bench_report(stdout, caps, n)) {
    fprintf(stderr, "zmlx report: %s\n", zmlx_error_last());
    rc = 1;
  }
  for (int i = 0; i < n; i++) zmlx_bench_capsule_free(&caps[i]);
  free(caps);
  return rc;
}
