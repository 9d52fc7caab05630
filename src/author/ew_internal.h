#ifndef ZMLX_AUTHOR_EW_INTERNAL_H
#define ZMLX_AUTHOR_EW_INTERNAL_H
#include "core/strbuf.h"
#include "zmlx/elementwise.h"

/* Raw kernel bodies and the fast path's header (malloc'd; NULL on OOM). */
char *zk_ew_fast_body(const zmlx_elementwise_desc *d);
char *zk_ew_fast_header(const zmlx_elementwise_desc *d);
char *zk_ew_general_body(const zmlx_elementwise_desc *d);
char *zk_ew_tile_body(const zmlx_elementwise_desc *d);

/* The raw kernels behind an elementwise kernel (borrowed), for compile
 * checks. fast takes VEC and MODE_<input>, and scalars + _zn, _zm;
 * general takes NDIM and OUT_CONTIG; tile takes TMODE_<input>. */
void zk_ew_raw_kernels(zmlx_elementwise *k, zmlx_kernel **fast, zmlx_kernel **general,
                       zmlx_kernel **tile);
/* ew_backward.c */
zmlx_status zk_ew_backward(zmlx_elementwise_desc *fwd, zmlx_elementwise **bwd, int *grad_of,
                           int n_inputs, zmlx_array *const *inputs, int n_scalars,
                           const double *scalars, zmlx_array *g, zmlx_array **grads);
void zk_ew_backward_shutdown(void);
/* ew_jvp.c */
zmlx_status zk_ew_jvp_build(const zmlx_elementwise_desc *fwd, zmlx_elementwise **out);
zmlx_status zk_ew_jvp_run(zmlx_elementwise *jvp, int n_inputs, zmlx_array *const *inputs,
                          zmlx_array *const *tangents, int n_scalars, const double *scalars,
                          zmlx_array **out, zmlx_array **out_tangent);

#endif
