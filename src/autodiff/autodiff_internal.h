#ifndef ZMLX_AUTODIFF_INTERNAL_H
#define ZMLX_AUTODIFF_INTERNAL_H
#include <stdint.h>

#include "zmlx/autodiff.h"

/* ---- ptr_map.c: an open-addressing map from pointers to integers -------
 * Keys are never removed (the backward pass overwrites values instead), so
 * no tombstones are needed. */
typedef struct zad_map {
  const void **keys;
  intptr_t *vals;
  size_t cap, len;
} zad_map;

/* 1 and *val when key is present, else 0. */
int zad_map_get(const zad_map *m, const void *key, intptr_t *val);
/* Insert or overwrite. */
zmlx_status zad_map_put(zad_map *m, const void *key, intptr_t val);
/* Make room so that the next `extra` insertions cannot fail. */
zmlx_status zad_map_reserve(zad_map *m, size_t extra);
void zad_map_free(zad_map *m);

/* ---- tape.c ------------------------------------------------------------ */
enum { ZAD_NODE_ELEMENTWISE = 0, ZAD_NODE_CUSTOM };

typedef struct zad_node {
  int kind;
  char *name;                 /* custom nodes; NULL for elementwise */
  int n_in, n_out;
  zmlx_array **in, **out;     /* the tape's references; one allocation */
  /* elementwise */
  zmlx_elementwise *k;        /* borrowed */
  zmlx_elementwise **bwd;     /* NULL, or one backward kernel (or NULL) per input */
  int n_sc;
  double *sc;
  /* custom */
  zmlx_tape_backward_fn fn;
  void *ctx;
  void (*ctx_free)(void *);
} zad_node;

struct zmlx_tape {
  zad_node *nodes;
  int64_t n_nodes, cap_nodes;
  /* Every array on the tape: value = index of the node that produced it,
   * or -1 for a watched leaf. */
  zad_map on_tape;
  zmlx_array **watched;
  int64_t n_watched, cap_watched;
  int recording;              /* 0 during a backward without CREATE_GRAPH */
  zmlx_elementwise *add;      /* built on first use */
  zmlx_kernel *sum;
};

/* Append a node and mark its outputs as on the tape. The tape copies
 * in/out (retaining each array), name, sc and bwd, and takes ctx. On
 * failure nothing is recorded or retained and the caller still owns ctx. */
zmlx_status zad_record(zmlx_tape *t, zad_node *node);
/* 1 when the tape records now and one of the arrays is on it. */
int zad_should_record(const zmlx_tape *t, int n, zmlx_array *const *arrays);

/* ---- tape_elementwise.c ------------------------------------------------ */
/* Launch k through the tape; outputs has room for ZK_MAX_IO arrays and
 * *n_out receives how many the kernel made. */
zmlx_status zad_elementwise(zmlx_tape *t, zmlx_elementwise *k, zmlx_elementwise *const *bwd, int n_in,
                            zmlx_array *const *in, int n_sc, const double *sc,
                            zmlx_array **outputs, int *n_out);
/* The backward rule of an elementwise node: in_grads (n_in slots, NULL on
 * entry) from out_grads (one per output, NULL where none arrived). */
zmlx_status zad_elementwise_backward(zmlx_tape *t, int64_t node, zmlx_array *const *out_grads,
                                     zmlx_array **in_grads);

/* ---- tape_linear.c: the tape's own recorded linear operations ---------- */
/* *out = a + b (same shapes; a's dtype). */
zmlx_status zad_add(zmlx_tape *t, zmlx_array *a, zmlx_array *b, zmlx_array **out);
/* *out = full summed over the dimensions `like` was broadcast along to
 * reach full's shape; shaped like `like`, full's dtype. */
zmlx_status zad_sum_to(zmlx_tape *t, zmlx_array *full, const zmlx_array *like, zmlx_array **out);
/* *out = g broadcast to the shape of `like` (a view). */
zmlx_status zad_broadcast(zmlx_tape *t, zmlx_array *g, const zmlx_array *like, zmlx_array **out);

/* 1 when a and b have the same shape (same ndim and dims). */
int zad_same_shape(const zmlx_array *a, const zmlx_array *b);
/* "(3, 4) f32 cpu" of every array, comma separated, into buf. */
const char *zad_format_arrays(int n, zmlx_array *const *a, char *buf, size_t len);

#endif
