/* The catalog's families, in the order docs/KERNELS.md lists them. One
 * line per family: ZCAT_FAMILY(name) refers to `const zcat_family
 * zcat_family_<name>`, defined in src/catalog/<name>_entries.c. No include
 * guard: registry.c includes this list twice. */
ZCAT_FAMILY(act)
ZCAT_FAMILY(glu)
ZCAT_FAMILY(softmax)
ZCAT_FAMILY(reduce)
ZCAT_FAMILY(scan)
ZCAT_FAMILY(loss)
ZCAT_FAMILY(norm)
ZCAT_FAMILY(quant)
ZCAT_FAMILY(image)
ZCAT_FAMILY(optim)
ZCAT_FAMILY(linear)
ZCAT_FAMILY(rope)
ZCAT_FAMILY(dropout)
ZCAT_FAMILY(index)
ZCAT_FAMILY(bits)
