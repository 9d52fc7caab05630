/* zmlx kernels: the kernel catalog, from its registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/registry.h"
#include "tools/commands.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmlx kernels [--markdown] [-k PATTERN]\n"
          "  list the catalog's kernels (name, family, backward, summary);\n"
          "  --markdown   print docs/KERNELS.md as generated from the registry\n"
          "  -k PATTERN   only names matching PATTERN (a glob, or a substring)\n");
}

int zmlx_cmd_kernels(int argc, char **argv) {
  int markdown = 0;
  const char *pattern = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--markdown")) {
      markdown = 1;
    } else if (!strcmp(argv[i], "-k") && i + 1 < argc) {
      pattern = argv[++i];
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "zmlx kernels: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (markdown && pattern) {
    fprintf(stderr, "zmlx kernels: --markdown prints the whole catalog; drop -k\n");
    return 2;
  }
  if (markdown) {
    char *text = zcat_markdown();
    if (!text) {
      fprintf(stderr, "zmlx kernels: out of memory\n");
      return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
  }
  int shown = 0;
  for (int i = 0; i < zcat_entry_count(); i++) {
    const zcat_entry *e = zcat_entry_at(i);
    if (!zcat_match(pattern, e->name)) continue;
    printf("%-24s %-8s %-4s %s\n", e->name, e->family, zcat_has_backward(e) ? "grad" : "", e->summary);
    shown++;
  }
  if (!shown && pattern) fprintf(stderr, "zmlx kernels: nothing matches '%s'\n", pattern);
  return shown || !pattern ? 0 : 1;
}
