#ifndef ZMLX_CATALOG_OPTIM_INTERNAL_H
#define ZMLX_CATALOG_OPTIM_INTERNAL_H
/* Internal to the optimizer family: the reductions behind gradient
 * clipping are kept for the process; zcat_shutdown frees them. */
void zcat_optim_shutdown(void);

#endif
