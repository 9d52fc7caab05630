/* Capsules as Markdown: one capsule's rows, or several side by side with
 * the first as the base and a ratio column per other implementation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "zmlx/bench.h"

enum { MAX_PEERS = 16 };

/* A table cell: '|' would end it and a newline the row. */
static void cell(FILE *out, const char *text) {
  fputs(" ", out);
  for (const char *p = text; *p; p++) {
    if (*p == '|')
      fputs("\\|", out);
    else if (*p == '\n' || *p == '\r')
      fputc(' ', out);
    else
      fputc(*p, out);
  }
  fputs(" |", out);
}

static void num_cell(FILE *out, double v, const char *fmt) {
  char buf[48];
  if (isfinite(v))
    snprintf(buf, sizeof buf, fmt, v);
  else
    snprintf(buf, sizeof buf, "-");
  cell(out, buf);
}

/* Time with about four significant digits. */
static void us_cell(FILE *out, double us) {
  num_cell(out, us, us >= 100 ? "%.1f" : us >= 1 ? "%.2f" : "%.3f");
}

static void version_text(int v, char *buf, size_t len) {
  snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

static void header(FILE *out, const zmlx_bench_capsule *c) {
  const zmlx_device_info *d = &c->device;
  fprintf(out, "### %s on %s\n\n", c->tool[0] ? c->tool : "capsule",
          d->name[0] ? d->name : "an unknown device");
  fprintf(out, "- device: %s", c->device_id[0] ? c->device_id : "?");
  if (d->arch[0]) fprintf(out, ", %s", d->arch);
  if (d->sm_count) fprintf(out, ", %d %s", d->sm_count, d->cc_major ? "SMs" : "threads");
  if (d->total_memory) fprintf(out, ", %.1f GiB", (double)d->total_memory / 1073741824.0);
  if (d->l2_bytes) fprintf(out, ", L2 %.1f MiB", (double)d->l2_bytes / 1048576.0);
  char v[16];
  if (d->driver_version) {
    version_text(d->driver_version, v, sizeof v);
    fprintf(out, ", driver %s", v);
  }
  if (d->compiler_version) {
    version_text(d->compiler_version, v, sizeof v);
    fprintf(out, ", CUDA toolkit %s", v);
  }
  fprintf(out, "\n- version %s, commit %s, %s\n", c->library_version[0] ? c->library_version : "?",
          c->git_commit[0] ? c->git_commit : "unknown", c->date[0] ? c->date : "undated");
  if (c->command[0]) fprintf(out, "- command: `%s`\n", c->command);
  if (isfinite(c->copy_gbps))
    fprintf(out, "- copy ceiling: %.1f GB/s (%s, %.0f MiB moved in %.1f µs)\n", c->copy_gbps,
            c->copy_method[0] ? c->copy_method : "copy", c->copy_bytes / 1048576.0, c->copy_us);
  else
    fprintf(out, "- copy ceiling: not measured\n");
  if (c->timing[0]) fprintf(out, "- timing: %s\n", c->timing);
  for (int i = 0; i < c->n_meta; i++)
    fprintf(out, "- %s: %s\n", c->meta[i].key, c->meta[i].value);
  fputs("\n", out);
}

static void single_table(FILE *out, const zmlx_bench_capsule *c) {
  int flops = 0; /* the TFLOP/s column only when some op has one */
  for (int i = 0; i < c->n_rows; i++) flops |= isfinite(c->rows[i].tflops);
  fprintf(out, "| op | dtype | shape | impl | µs | GB/s | %% of copy |%s err | first call ms |\n",
          flops ? " TFLOP/s |" : "");
  fprintf(out, "|---|---|---|---|---:|---:|---:|%s---:|---:|\n", flops ? "---:|" : "");
  for (int i = 0; i < c->n_rows; i++) {
    const zmlx_bench_row *r = &c->rows[i];
    fputs("|", out);
    cell(out, r->op);
    cell(out, r->dtype);
    cell(out, r->shape);
    cell(out, r->impl);
    us_cell(out, r->us);
    num_cell(out, r->gbps, "%.1f");
    num_cell(out, r->pct_of_copy, "%.1f");
    if (flops) num_cell(out, r->tflops, "%.1f");
    num_cell(out, r->err, "%.1e");
    num_cell(out, r->first_ms, "%.1f");
    fputs("\n", out);
  }
}

static int same_key(const zmlx_bench_row *a, const zmlx_bench_row *b) {
  return !strcmp(a->op, b->op) && !strcmp(a->dtype, b->dtype) && !strcmp(a->shape, b->shape);
}

/* The implementations of capsules 1..n-1, in order of first appearance. */
static int peer_impls(const zmlx_bench_capsule *caps, int n, const char *names[MAX_PEERS]) {
  int k = 0;
  for (int c = 1; c < n; c++)
    for (int i = 0; i < caps[c].n_rows; i++) {
      const char *impl = caps[c].rows[i].impl;
      int seen = 0;
      for (int j = 0; j < k && !seen; j++) seen = !strcmp(names[j], impl);
      if (!seen && k < MAX_PEERS) names[k++] = impl;
    }
  return k;
}

static const zmlx_bench_row *find_peer(const zmlx_bench_capsule *caps, int n,
                                       const zmlx_bench_row *key, const char *impl) {
  for (int c = 1; c < n; c++)
    for (int i = 0; i < caps[c].n_rows; i++) {
      const zmlx_bench_row *r = &caps[c].rows[i];
      if (same_key(r, key) && !strcmp(r->impl, impl)) return r;
    }
  return NULL;
}

/* GB/s with a word when the row's note qualifies the figure. */
static void gbps_cell(FILE *out, const zmlx_bench_row *r) {
  char buf[64];
  if (!r || !isfinite(r->gbps)) {
    cell(out, "-");
    return;
  }
  const char *tag = !strncmp(r->note, "WRONG", 5) ? " (wrong)"
                    : !strncmp(r->note, "ran in f32", 10) ? " (f32)" : "";
  snprintf(buf, sizeof buf, "%.1f%s", r->gbps, tag);
  cell(out, buf);
}

static void merged_line(FILE *out, const zmlx_bench_row *key, const zmlx_bench_row *base,
                        const zmlx_bench_capsule *caps, int n, const char **peers, int n_peers) {
  fputs("|", out);
  cell(out, key->op);
  cell(out, key->dtype);
  cell(out, key->shape);
  cell(out, base ? base->impl : "-");
  us_cell(out, base ? base->us : NAN);
  gbps_cell(out, base);
  num_cell(out, base ? base->pct_of_copy : NAN, "%.1f");
  for (int p = 0; p < n_peers; p++) {
    const zmlx_bench_row *r = find_peer(caps, n, key, peers[p]);
    double g = r ? r->gbps : NAN;
    gbps_cell(out, r);
    num_cell(out, base && g > 0 ? base->gbps / g : NAN, "%.2f×");
  }
  fputs("\n", out);
}

/* Rows of the other capsules whose key the base lacks get lines too. */
static int base_has(const zmlx_bench_capsule *base, const zmlx_bench_row *r) {
  for (int i = 0; i < base->n_rows; i++)
    if (same_key(&base->rows[i], r)) return 1;
  return 0;
}

static int listed_before(const zmlx_bench_capsule *caps, int c, int i) {
  for (int cc = 1; cc <= c; cc++)
    for (int j = 0; j < (cc == c ? i : caps[cc].n_rows); j++)
      if (same_key(&caps[cc].rows[j], &caps[c].rows[i])) return 1;
  return 0;
}

static void merged_table(FILE *out, const zmlx_bench_capsule *caps, int n) {
  const char *peers[MAX_PEERS];
  int n_peers = peer_impls(caps, n, peers);
  const char *base_name = caps[0].n_rows ? caps[0].rows[0].impl : "base";
  fprintf(out, "GB/s = minimal bytes / median time; `×impl` = %s GB/s ÷ impl GB/s "
               "(above 1: %s is faster; with equal bytes it is impl µs ÷ %s µs).\n\n",
          base_name, base_name, base_name);
  fputs("| op | dtype | shape | impl | µs | GB/s | % of copy |", out);
  for (int p = 0; p < n_peers; p++) fprintf(out, " %s GB/s | ×%s |", peers[p], peers[p]);
  fputs("\n|---|---|---|---|---:|---:|---:|", out);
  for (int p = 0; p < n_peers; p++) fputs("---:|---:|", out);
  fputs("\n", out);
  for (int i = 0; i < caps[0].n_rows; i++)
    merged_line(out, &caps[0].rows[i], &caps[0].rows[i], caps, n, peers, n_peers);
  for (int c = 1; c < n; c++)
    for (int i = 0; i < caps[c].n_rows; i++)
      if (!base_has(&caps[0], &caps[c].rows[i]) && !listed_before(caps, c, i))
        merged_line(out, &caps[c].rows[i], NULL, caps, n, peers, n_peers);
}

static void notes(FILE *out, const zmlx_bench_capsule *caps, int n) {
  int any = 0;
  for (int c = 0; c < n; c++)
    for (int i = 0; i < caps[c].n_rows; i++) {
      const zmlx_bench_row *r = &caps[c].rows[i];
      if (!r->note[0]) continue;
      if (!any) fputs("\nNotes:\n\n", out);
      any = 1;
      fprintf(out, "- %s %s %s %s: %s\n", r->impl, r->op, r->dtype, r->shape, r->note);
    }
}

zmlx_status zmlx_bench_report(FILE *out, const zmlx_bench_capsule *caps, int n_caps) {
  if (!out || !caps || n_caps < 1)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "bench_report", "no capsule to report");
  for (int c = 0; c < n_caps; c++) header(out, &caps[c]);
  if (n_caps == 1)
    single_table(out, &caps[0]);
  else
    merged_table(out, caps, n_caps);
  notes(out, caps, n_caps);
  if (fflush(out) != 0 || ferror(out))
    return zmlx_fail(ZMLX_STATUS_IO_ERROR, "bench_report", "cannot write the report");
  return ZMLX_STATUS_OK;
}
