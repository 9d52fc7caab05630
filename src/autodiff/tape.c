/* The tape: which arrays are on it, and the list of recorded operations
 * in the order they ran (which is a topological order, so the backward
 * pass only has to walk it in reverse). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/autodiff_internal.h"
#include "core/error.h"

zmlx_status zmlx_tape_create(zmlx_tape **out) {
  if (!out) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_create", "out is NULL");
  *out = calloc(1, sizeof **out);
  if (!*out) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape_create", "out of host memory");
  (*out)->recording = 1;
  return ZMLX_STATUS_OK;
}

static void free_node(zad_node *n) {
  for (int i = 0; i < n->n_in + n->n_out; i++) zmlx_array_release(n->in[i]);
  free(n->in);
  free(n->name);
  free(n->sc);
  free(n->bwd);
  if (n->ctx_free) n->ctx_free(n->ctx);
}

void zmlx_tape_destroy(zmlx_tape *t) {
  if (!t) return;
  /* Newest first: a node's ctx may refer to what older nodes hold. */
  for (int64_t i = t->n_nodes - 1; i >= 0; i--) free_node(&t->nodes[i]);
  for (int64_t i = 0; i < t->n_watched; i++) zmlx_array_release(t->watched[i]);
  free(t->nodes);
  free(t->watched);
  zad_map_free(&t->on_tape);
  zmlx_elementwise_destroy(t->add);
  zmlx_kernel_destroy(t->sum);
  free(t);
}

int zmlx_tape_contains(const zmlx_tape *t, const zmlx_array *a) {
  return t && a && zad_map_get(&t->on_tape, a, NULL);
}

int64_t zmlx_tape_size(const zmlx_tape *t) { return t ? t->n_nodes : 0; }

int zad_should_record(const zmlx_tape *t, int n, zmlx_array *const *arrays) {
  if (!t->recording) return 0;
  for (int i = 0; i < n; i++)
    if (zad_map_get(&t->on_tape, arrays[i], NULL)) return 1;
  return 0;
}

zmlx_status zmlx_tape_watch(zmlx_tape *t, zmlx_array *x) {
  if (!t || !x) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, "tape_watch", "NULL argument");
  if (zad_map_get(&t->on_tape, x, NULL)) return ZMLX_STATUS_OK;
  if (t->n_watched == t->cap_watched) {
    int64_t cap = t->cap_watched ? 2 * t->cap_watched : 16;
    zmlx_array **w = realloc(t->watched, sizeof *w * (size_t)cap);
    if (!w) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape_watch", "out of host memory");
    t->watched = w;
    t->cap_watched = cap;
  }
  ZMLX_TRY(zad_map_put(&t->on_tape, x, -1));
  t->watched[t->n_watched++] = zmlx_array_retain(x);
  return ZMLX_STATUS_OK;
}

static zmlx_status grow_nodes(zmlx_tape *t) {
  if (t->n_nodes < t->cap_nodes) return ZMLX_STATUS_OK;
  int64_t cap = t->cap_nodes ? 2 * t->cap_nodes : 32;
  zad_node *n = realloc(t->nodes, sizeof *n * (size_t)cap);
  if (!n) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape", "out of host memory");
  t->nodes = n;
  t->cap_nodes = cap;
  return ZMLX_STATUS_OK;
}

/* Every allocation happens before anything is changed, so a failure
 * leaves the tape as it was. */
zmlx_status zad_record(zmlx_tape *t, zad_node *node) {
  ZMLX_TRY(grow_nodes(t));
  ZMLX_TRY(zad_map_reserve(&t->on_tape, (size_t)node->n_out));
  zad_node n = *node;
  n.in = malloc(sizeof *n.in * (size_t)(node->n_in + node->n_out));
  n.name = node->name ? strdup(node->name) : NULL;
  n.sc = node->n_sc ? malloc(sizeof *n.sc * (size_t)node->n_sc) : NULL;
  n.bwd = node->bwd ? malloc(sizeof *n.bwd * (size_t)node->n_in) : NULL;
  if (!n.in || (node->name && !n.name) || (node->n_sc && !n.sc) || (node->bwd && !n.bwd)) {
    free(n.in);
    free(n.name);
    free(n.sc);
    free(n.bwd);
    return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "tape", "out of host memory");
  }
  if (n.bwd) memcpy(n.bwd, node->bwd, sizeof *n.bwd * (size_t)n.n_in);
  n.out = n.in + n.n_in;
  for (int i = 0; i < n.n_in; i++) n.in[i] = zmlx_array_retain(node->in[i]);
  for (int i = 0; i < n.n_out; i++) n.out[i] = zmlx_array_retain(node->out[i]);
  if (n.n_sc) memcpy(n.sc, node->sc, sizeof *n.sc * (size_t)n.n_sc);
  for (int i = 0; i < n.n_out; i++) zad_map_put(&t->on_tape, n.out[i], (intptr_t)t->n_nodes);
  t->nodes[t->n_nodes++] = n;
  return ZMLX_STATUS_OK;
}

int zad_same_shape(const zmlx_array *a, const zmlx_array *b) {
  int nd = zmlx_array_ndim(a);
  if (nd != zmlx_array_ndim(b)) return 0;
  for (int d = 0; d < nd; d++)
    if (zmlx_array_dim(a, d) != zmlx_array_dim(b, d)) return 0;
  return 1;
}

const char *zad_format_arrays(int n, zmlx_array *const *a, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < n && used + 1 < len; i++) {
    char one[160];
    int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     a[i] ? zmlx_array_format(a[i], one, sizeof one) : "NULL");
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

static zmlx_status check_custom(zmlx_tape *t, const char *name, int n_in, zmlx_array *const *in,
                                int n_out, zmlx_array *const *out, zmlx_tape_backward_fn fn) {
  static const char *op = "tape_record_custom";
  const char *nm = name ? name : "(unnamed)";
  if (!t || !fn || n_in < 1 || n_out < 1 || !in || !out)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "node '%s': needs a tape, a backward callback, at least one input and "
                     "one output (got %d inputs, %d outputs)", nm, n_in, n_out);
  for (int i = 0; i < n_in; i++)
    if (!in[i]) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "node '%s': input %d is NULL", nm, i);
  for (int j = 0; j < n_out; j++) {
    char b[160];
    if (!out[j])
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "node '%s': output %d is NULL", nm, j);
    int dup = zad_map_get(&t->on_tape, out[j], NULL);
    for (int i = 0; i < n_in; i++) dup |= in[i] == out[j];
    for (int i = 0; i < j; i++) dup |= out[i] == out[j];
    if (dup)
      return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                       "node '%s': output %d %s is already on the tape or is an input; "
                       "outputs must be new arrays (no in-place updates)", nm, j,
                       zmlx_array_format(out[j], b, sizeof b));
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zmlx_tape_record_custom(zmlx_tape *t, const char *name, int n_inputs,
                                    zmlx_array *const *inputs, int n_outputs,
                                    zmlx_array *const *outputs, zmlx_tape_backward_fn backward,
                                    void *ctx, void (*ctx_free)(void *ctx)) {
  zmlx_status s = check_custom(t, name, n_inputs, inputs, n_outputs, outputs, backward);
  if (!s && zad_should_record(t, n_inputs, inputs)) {
    zad_node n = {.kind = ZAD_NODE_CUSTOM, .name = (char *)(name ? name : "custom"),
                  .n_in = n_inputs, .n_out = n_outputs, .in = (zmlx_array **)inputs,
                  .out = (zmlx_array **)outputs, .fn = backward, .ctx = ctx,
                  .ctx_free = ctx_free};
    s = zad_record(t, &n);
    if (!s) return ZMLX_STATUS_OK; /* the tape owns ctx now */
  }
  if (ctx_free) ctx_free(ctx);
  return s;
}
