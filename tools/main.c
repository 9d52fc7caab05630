/* zmlx: the command-line tool. */
#include <stdio.h>
#include <string.h>

#include "tools/commands.h"
#include "zmlx/zmlx.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmlx <command> [args]\n"
          "commands:\n"
          "  doctor [--device cpu|cuda]   report backends, devices and a smoke test\n"
          "  cache info|clear             show or empty the kernel disk cache\n"
          "  bench [--ops ...] [--json F] time ops against the copy ceiling (--help)\n"
          "  report CAPSULE.json [...]    bench capsules as Markdown, side by side\n"
          "  tokenize --tokenizer P TEXT  text to token ids (--decode, --file, --chat; --help)\n"
          "  kernels [--markdown] [-k P]  the kernel catalog (docs/KERNELS.md)\n"
          "  inspect MODEL_DIR|FILE       tensors, config and quantization of a model\n"
          "  version                      print the library version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  int rc;
  if (!strcmp(cmd, "doctor"))
    rc = zmlx_cmd_doctor(argc - 1, argv + 1);
  else if (!strcmp(cmd, "cache"))
    rc = zmlx_cmd_cache(argc - 1, argv + 1);
  else if (!strcmp(cmd, "bench"))
    rc = zmlx_cmd_bench(argc - 1, argv + 1);
  else if (!strcmp(cmd, "report"))
    rc = zmlx_cmd_report(argc - 1, argv + 1);
  else if (!strcmp(cmd, "tokenize"))
    rc = zmlx_cmd_tokenize(argc - 1, argv + 1);
  else if (!strcmp(cmd, "kernels"))
    rc = zmlx_cmd_kernels(argc - 1, argv + 1);
  else if (!strcmp(cmd, "inspect"))
    rc = zmlx_cmd_inspect(argc - 1, argv + 1);
  else if (!strcmp(cmd, "version")) {
    printf("zmlx %s\n", zmlx_version());
    rc = 0;
  } else if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    rc = 0;
  } else {
    fprintf(stderr, "zmlx: unknown command '%s'\n", cmd);
    usage(stderr);
    rc = 2;
  }
  zmlx_shutdown();
  return rc;
}
