/* The reverse walk. Nodes were recorded in the order they ran, so walking
 * them from the one that produced y down to the first sees every use of
 * an array before the node that produced it: by then its gradient is
 * complete. Only nodes that depend on one of xs are visited. */
#include <stdio.h>
#include <stdlib.h>

#include "autodiff/autodiff_internal.h"
#include "core/error.h"

static const char *op = "tape_backward";

typedef struct walk {
  zmlx_tape *t;
  zad_map grad;   /* array -> its gradient so far (a reference), or 0 */
  zad_map needed; /* arrays that depend on one of xs, and xs themselves */
  int n;
  zmlx_array *const *xs;
} walk;

static zmlx_array *grad_of(const walk *w, const zmlx_array *a) {
  intptr_t v = 0;
  return zad_map_get(&w->grad, a, &v) ? (zmlx_array *)v : NULL;
}

static int is_x(const walk *w, const zmlx_array *a) {
  for (int i = 0; i < w->n; i++)
    if (w->xs[i] == a) return 1;
  return 0;
}

static const char *node_name(const zmlx_tape *t, int64_t i, char *buf, size_t len) {
  const zad_node *n = &t->nodes[i];
  if (n->kind == ZAD_NODE_CUSTOM)
    snprintf(buf, len, "node %lld (custom '%s')", (long long)i, n->name);
  else
    snprintf(buf, len, "node %lld (elementwise)", (long long)i);
  return buf;
}

/* Mark, in recording order, every node with an input that depends on xs. */
static zmlx_status mark_needed(walk *w, int64_t top, char *visit) {
  /* xs that are not on the tape are constants: no gradient for them. */
  for (int i = 0; i < w->n; i++)
    if (zad_map_get(&w->t->on_tape, w->xs[i], NULL)) ZMLX_TRY(zad_map_put(&w->needed, w->xs[i], 1));
  for (int64_t i = 0; i <= top; i++) {
    const zad_node *n = &w->t->nodes[i];
    for (int k = 0; k < n->n_in && !visit[i]; k++) visit[i] = zad_map_get(&w->needed, n->in[k], NULL);
    for (int j = 0; visit[i] && j < n->n_out; j++) ZMLX_TRY(zad_map_put(&w->needed, n->out[j], 1));
  }
  return ZMLX_STATUS_OK;
}

/* grad[a] += contrib. The sum is itself recorded when the tape records. */
static zmlx_status accumulate(walk *w, zmlx_array *a, zmlx_array *contrib) {
  zmlx_array *old = grad_of(w, a), *sum = NULL;
  if (!old) {
    zmlx_status s = zad_map_put(&w->grad, a, (intptr_t)contrib);
    if (!s) zmlx_array_retain(contrib);
    return s;
  }
  ZMLX_TRY(zad_add(w->t, old, contrib, &sum));
  zmlx_array_release(old);
  return zad_map_put(&w->grad, a, (intptr_t)sum); /* a is present: cannot fail */
}

static zmlx_status check_grad(const walk *w, int64_t node, int k, const zmlx_array *x,
                              const zmlx_array *gx) {
  zmlx_device dx = zmlx_array_device(x), dg = zmlx_array_device(gx);
  if (zad_same_shape(x, gx) && dx.type == dg.type && dx.index == dg.index) return ZMLX_STATUS_OK;
  char nm[200], b1[160], b2[160];
  return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                   "%s returned a gradient %s for input %d %s; it must have the input's shape "
                   "and device", node_name(w->t, node, nm, sizeof nm),
                   zmlx_array_format(gx, b1, sizeof b1), k, zmlx_array_format(x, b2, sizeof b2));
}

/* A custom rule sees zeros for outputs that no gradient reached, so that
 * every callback can rely on all of out_grads. */
static zmlx_status run_custom(walk *w, int64_t i, zmlx_array **og, zmlx_array **ig) {
  zad_node n = w->t->nodes[i];
  zmlx_array **zeros = calloc((size_t)n.n_out, sizeof *zeros);
  if (!zeros) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_status s = ZMLX_STATUS_OK;
  for (int j = 0; j < n.n_out && !s; j++) {
    if (og[j]) continue;
    zmlx_array *o = n.out[j];
    int nd = zmlx_array_ndim(o);
    int64_t shape[ZMLX_MAX_DIMS];
    for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(o, d);
    s = zmlx_array_zeros(zmlx_array_dtype(o), nd, shape, zmlx_array_device(o), &zeros[j]);
    og[j] = zeros[j];
  }
  if (!s) {
    zmlx_error_clear();
    s = n.fn(n.ctx, w->t, n.in, n.out, og, ig);
  }
  for (int j = 0; j < n.n_out; j++) zmlx_array_release(zeros[j]);
  free(zeros);
  return s;
}

static zmlx_status visit(walk *w, int64_t i) {
  zad_node n = w->t->nodes[i]; /* a copy: rules may record nodes */
  zmlx_array **og = calloc((size_t)n.n_out, sizeof *og), **ig = calloc((size_t)n.n_in, sizeof *ig);
  zmlx_status s = og && ig ? ZMLX_STATUS_OK
                           : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  int any = 0;
  for (int j = 0; j < n.n_out && !s; j++) any |= (og[j] = grad_of(w, n.out[j])) != NULL;
  if (!s && any) {
    s = n.kind == ZAD_NODE_CUSTOM ? run_custom(w, i, og, ig)
                                  : zad_elementwise_backward(w->t, i, og, ig);
    if (s) {
      char nm[200], where[240];
      snprintf(where, sizeof where, "%s: %s", op, node_name(w->t, i, nm, sizeof nm));
      zmlx_fail_wrap(s, where);
    }
    for (int k = 0; k < n.n_in && !s; k++)
      if (ig[k] && zad_map_get(&w->needed, n.in[k], NULL)) {
        s = check_grad(w, i, k, n.in[k], ig[k]);
        if (!s) s = accumulate(w, n.in[k], ig[k]);
      }
  }
  for (int k = 0; ig && k < n.n_in; k++) zmlx_array_release(ig[k]);
  /* Gradients of this node's outputs are complete and used: drop them,
   * unless the caller asked for them. */
  for (int j = 0; !s && og && j < n.n_out; j++)
    if (!is_x(w, n.out[j]) && grad_of(w, n.out[j])) {
      zmlx_array_release(grad_of(w, n.out[j]));
      zad_map_put(&w->grad, n.out[j], 0);
    }
  free(og);
  free(ig);
  return s;
}

static zmlx_status check_args(zmlx_tape *t, zmlx_array *y, zmlx_array *g, int n,
                              zmlx_array *const *xs, zmlx_array **grads) {
  if (!t || !y || n < 0 || (n > 0 && (!xs || !grads)))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "NULL argument or negative n");
  for (int i = 0; i < n; i++) grads[i] = NULL;
  for (int i = 0; i < n; i++)
    if (!xs[i]) return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op, "xs[%d] is NULL", i);
  char b1[160], b2[160];
  if (!zad_map_get(&t->on_tape, y, NULL))
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, op,
                     "y %s is not on this tape: watch it, or compute it with an operation "
                     "recorded on the tape from a watched array",
                     zmlx_array_format(y, b1, sizeof b1));
  if (!g) return ZMLX_STATUS_OK;
  zmlx_device dy = zmlx_array_device(y), dg = zmlx_array_device(g);
  if (!zad_same_shape(y, g) || dy.type != dg.type || dy.index != dg.index)
    return zmlx_fail(ZMLX_STATUS_SHAPE_MISMATCH, op,
                     "g %s must have the shape and device of y %s",
                     zmlx_array_format(g, b1, sizeof b1), zmlx_array_format(y, b2, sizeof b2));
  return ZMLX_STATUS_OK;
}

static zmlx_status seed_grad(walk *w, zmlx_array *y, zmlx_array *g) {
  zmlx_array *g0 = zmlx_array_retain(g);
  if (!g0) {
    int nd = zmlx_array_ndim(y);
    int64_t shape[ZMLX_MAX_DIMS];
    for (int d = 0; d < nd; d++) shape[d] = zmlx_array_dim(y, d);
    ZMLX_TRY(zmlx_array_ones(zmlx_array_dtype(y), nd, shape, zmlx_array_device(y), &g0));
  }
  zmlx_status s = zad_map_put(&w->grad, y, (intptr_t)g0);
  if (s) zmlx_array_release(g0);
  return s;
}

static zmlx_status run(walk *w, zmlx_array *y, zmlx_array *g, zmlx_array **grads) {
  intptr_t top = -1;
  zad_map_get(&w->t->on_tape, y, &top);
  char *needed_nodes = calloc((size_t)top + 2, 1);
  if (!needed_nodes) return zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, op, "out of host memory");
  zmlx_status s = mark_needed(w, top, needed_nodes);
  if (!s) s = seed_grad(w, y, g);
  for (int64_t i = top; i >= 0 && !s; i--)
    if (needed_nodes[i]) s = visit(w, i);
  for (int i = 0; i < w->n && !s; i++) grads[i] = zmlx_array_retain(grad_of(w, w->xs[i]));
  free(needed_nodes);
  return s;
}

zmlx_status zmlx_tape_backward(zmlx_tape *t, zmlx_array *y, zmlx_array *g, int n,
                               zmlx_array *const *xs, zmlx_array **grads, int flags) {
  ZMLX_TRY(check_args(t, y, g, n, xs, grads));
  walk w = {.t = t, .n = n, .xs = xs};
  int was_recording = t->recording;
  t->recording = (flags & ZMLX_TAPE_CREATE_GRAPH) != 0;
  zmlx_status s = run(&w, y, g, grads);
  t->recording = was_recording;
  for (size_t i = 0; i < w.grad.cap; i++)
    if (w.grad.keys[i]) zmlx_array_release((zmlx_array *)w.grad.vals[i]);
  zad_map_free(&w.grad);
  zad_map_free(&w.needed);
  if (s)
    for (int i = 0; i < n; i++) {
      zmlx_array_release(grads[i]);
      grads[i] = NULL;
    }
  return s;
}
