/* The bit packing entries. References from the layout's definition:
 * byte j of a row is the sum of 2^k over the nonzero elements 8j + k. */
#include "catalog/raw_kernels.h"
#include "catalog/registry.h"
#include "zmlx/catalog_bits.h"

enum { K_PACK, K_UNPACK };

static int64_t last(const zcat_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

static void ref_pack(const zcat_host_call *c) {
  const zcat_tensor *x = &c->in[0];
  int64_t N = last(x), B = last(&c->out[0]), R = N ? x->n / N : c->out[0].n / (B ? B : 1);
  for (int64_t r = 0; r < R; r++)
    for (int64_t e = 0; e < N; e++)
      if (x->v[r * N + e] != 0) c->out[0].v[r * B + e / 8] += (double)(1 << (e % 8));
}

static void ref_unpack(const zcat_host_call *c) {
  const zcat_tensor *p = &c->in[0];
  int64_t B = last(p), N = last(&c->out[0]), R = B ? p->n / B : 0;
  for (int64_t r = 0; r < R; r++)
    for (int64_t e = 0; e < N; e++) {
      int byte = (int)p->v[r * B + e / 8];
      c->out[0].v[r * N + e] = (byte >> (e % 8)) & 1;
    }
}

static zmlx_status run(const zcat_dev_call *c) {
  switch (c->e->kind) {
    case K_PACK: return zcat_named(c->e->name, zmlx_pack_bits(c->in[0], &c->out[0]));
    default:
      return zcat_named(c->e->name, zmlx_unpack_bits(c->in[0], (int64_t)c->p[0],
                                                     c->e->out[0].dtype, &c->out[0]));
  }
}

static const char *const pack_cases[] = {"5 N=13 B=2", "3x4 N=8 B=1", "- N=1 B=1", "0 N=9 B=2",
                                         "4 N=0 B=0", "7 N=64 B=8", "6 N=17 B=3 ~x",
                                         "5 N=24 B=3 @x", NULL};
static const char *const unpack_cases[] = {"5 B=2 N=13 count=13", "3x4 B=1 N=8", "- B=3 N=20 count=20",
                                           "0 B=2 N=16", "4 B=0 N=0", "6 B=5 N=40 ~packed",
                                           "2 B=2 N=0 count=0", "9 B=7 N=50 count=50",
                                           "3 B=4 N=32 @packed", NULL};
static const char *const pack_bad[] = {"x:- => SHAPE_MISMATCH", NULL};
static const char *const unpack_bad[] = {"count=17 packed:3x2 => INVALID_ARGUMENT",
                                         "count=-2 packed:3x2 => INVALID_ARGUMENT",
                                         "packed:- => SHAPE_MISMATCH", NULL};

#define IN(NAME, SPEC, T, R) {NAME, SPEC, ZCAT_INDEX, .range = R, .dtype = ZMLX_DTYPE_##T}
#define B(KIND, NAME, SUMMARY, CALL, CASES, BAD, REF, DT, PERF, ...)                             \
  {.name = NAME, .family = "bits", .summary = SUMMARY, .api = CALL, .kind = KIND, .n_in = 1,     \
   .n_out = 1, .dtypes = DT, .backends = ZCAT_ALL_BACKENDS, .ref = REF, .run = run,              \
   .cases = CASES, .bad = BAD, .perf = PERF, __VA_ARGS__}

#define UNPACK(NAME, T, SUMMARY)                                                                \
  B(K_UNPACK, NAME, SUMMARY, "zmlx_unpack_bits", unpack_cases, unpack_bad, ref_unpack,           \
    ZCAT_DT(F32), "16384 B=512 N=4096", .in = {IN("packed", "...,B", U8, "256")},                \
    .out = {{"y", "...,N", ZCAT_FIXED, .dtype = ZMLX_DTYPE_##T}}, .n_params = 1,                 \
    .params = {{"count", -1}})

/* No argument of these is a float of the case's dtype: each entry runs
 * once (listed as f32), and the dtypes are its arguments' own. */
static const zcat_entry entries[] = {
    B(K_PACK, "pack_bits", "numpy.packbits(x != 0, axis=-1, bitorder='little'), bool x",
      "zmlx_pack_bits", pack_cases, pack_bad, ref_pack, ZCAT_DT(F32), "16384 N=4096 B=512",
      .in = {IN("x", "...,N", BOOL, "2")}, .out = {{"y", "...,B", ZCAT_FIXED, .dtype = ZMLX_DTYPE_U8}}),
    B(K_PACK, "pack_bits_float", "packbits of a float array (0, 1 and 2 in bf16): x != 0",
      "zmlx_pack_bits", pack_cases, pack_bad, ref_pack, ZCAT_DT(F32), "16384 N=4096 B=512",
      .in = {IN("x", "...,N", BF16, "3")}, .out = {{"y", "...,B", ZCAT_FIXED, .dtype = ZMLX_DTYPE_U8}}),
    UNPACK("unpack_bits", F32, "numpy.unpackbits(count, bitorder='little') as f32 0s and 1s"),
    UNPACK("unpack_bits_bf16", BF16, "unpack_bits as bf16 (a mask to multiply by)"),
    UNPACK("unpack_bits_bool", BOOL, "unpack_bits as bool"),
};

const zcat_family zcat_family_bits = {"bits", "Bit packing", entries,
                                      (int)(sizeof entries / sizeof entries[0])};
