/* Where and when a capsule was made: device, library, git commit, command
 * line and date, so a figure can always be traced back to its run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "zmlx/zmlx.h"
#include "zmlx/bench.h"

/* The first line a shell command prints, without its newline ("" if none). */
static void first_line(const char *cmd, char *buf, size_t len) {
  buf[0] = 0;
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(buf, (int)len, p)) buf[strcspn(buf, "\r\n")] = 0;
  /* Drain, so the child never blocks on a full pipe. */
  char rest[256];
  while (fgets(rest, sizeof rest, p)) {
  }
  pclose(p);
}

static void git_commit(char *buf, size_t len) {
  const char *env = getenv("ZMLX_GIT_COMMIT");
  if (env && env[0]) {
    snprintf(buf, len, "%s", env);
    return;
  }
  char sha[64], dirty[256];
  first_line("{ git rev-parse HEAD; } 2>/dev/null", sha, sizeof sha);
  if (strlen(sha) < 7 || strspn(sha, "0123456789abcdef") != strlen(sha)) {
    snprintf(buf, len, "unknown");
    return;
  }
  /* Tracked files changed since the commit make the figures not its own. */
  first_line("{ git status --porcelain --untracked-files=no; } 2>/dev/null", dirty, sizeof dirty);
  snprintf(buf, len, "%s%s", sha, dirty[0] ? "-dirty" : "");
}

static int shell_safe(const char *s) {
  return s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                           "_./:=,+-@%") == strlen(s);
}

/* argv as a shell would need it typed: unsafe words in single quotes. */
static void join_command(int argc, char *const *argv, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < argc && argv && argv[i] && n + 1 < len; i++) {
    const char *a = argv[i];
    if (i) buf[n++] = ' ';
    if (shell_safe(a)) {
      n += (size_t)snprintf(buf + n, len - n, "%s", a);
    } else {
      buf[n++] = '\'';
      for (const char *p = a; *p && n + 5 < len; p++) {
        if (*p == '\'') {
          memcpy(buf + n, "'\\''", 4);
          n += 4;
        } else {
          buf[n++] = *p;
        }
      }
      if (n + 1 < len) buf[n++] = '\'';
    }
    if (n >= len) n = len - 1;
    buf[n] = 0;
  }
}

static void utc_now(char *buf, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, len, "unknown");
}

zmlx_status zmlx_bench_capsule_init(zmlx_bench_capsule *c, const char *tool, zmlx_device dev,
                                    int argc, char *const *argv) {
  if (!c) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_capsule_init", "c is NULL");
  memset(c, 0, sizeof *c);
  c->copy_bytes = c->copy_us = c->copy_gbps = NAN;
  snprintf(c->tool, sizeof c->tool, "%s", tool ? tool : "");
  zmlx_device_format(dev, c->device_id, sizeof c->device_id);
  ZMLX_TRY(zmlx_device_info_get(dev, &c->device));
  snprintf(c->library_version, sizeof c->library_version, "%s", zmlx_version());
  git_commit(c->git_commit, sizeof c->git_commit);
  join_command(argc, argv, c->command, sizeof c->command);
  utc_now(c->date, sizeof c->date);
  snprintf(c->timing, sizeof c->timing, "%s",
           "device events around each sample, queued back to back after a warm-up; "
           "median of the samples; inputs and outputs rotate over sets totalling at least "
           "twice the last-level cache");
  return ZMLX_STATUS_OK;
}
