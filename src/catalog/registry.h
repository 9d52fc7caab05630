#ifndef ZMLX_CATALOG_REGISTRY_H
#define ZMLX_CATALOG_REGISTRY_H
/* The catalog's registry: one zcat_entry per kernel, in tables that the
 * family files define (act_entries.c, glu_entries.c, ...) and registry.c
 * concatenates in the order of families.h. Everything that knows about
 * the catalog reads it: the test harness (tests/test_catalog.c), which
 * runs every entry on every backend against its f64 references, and
 * `zmlx kernels --markdown`, which writes docs/KERNELS.md.
 * docs/CATALOG.md explains how to add a family.
 *
 * Shapes. An argument's shape is a spec: comma-separated terms, each an
 * integer or [k]L[/m] with L a capital letter (a size that a case sets),
 * and "..." for the case's leading dimensions:
 *     "...,D"  (..., D)      "...,2D"  (..., 2D)      "D"  (D,)
 *     "..."    any shape     "N,V"     (N, V)         "T,D/2"
 * Cases. A case is a string of space-separated tokens:
 *     3x5       the leading dimensions ("-" for none; the default)
 *     D=129     a size
 *     alpha=0.3 a parameter (by its name)
 *     ~x        input x is passed as a non-contiguous view (a transpose of
 *               its last two axes, or every other element of a 1-D array)
 *     @x        input x is contiguous but starts one element into its
 *               buffer, so it is not 16-byte aligned ("~*", "@*": all)
 *     x:4x6     input x gets exactly this shape ("x:-" for a scalar);
 *               bad-input cases use it
 * e.g. "3x5 D=129 ~gate". Bad-input cases add " => STATUS", the status
 * name without its prefix: "gate:4x6 up:4x7 => SHAPE_MISMATCH". */
#include <stdint.h>

#include "zmlx/array.h"

#define ZCAT_MAX_IN 8
#define ZCAT_MAX_OUT 4
#define ZCAT_MAX_PARAMS 4
#define ZCAT_MAX_CASES 32

/* Backends an entry runs on. */
enum { ZCAT_CPU = 1u << 0, ZCAT_CUDA = 1u << 1, ZCAT_ALL_BACKENDS = ZCAT_CPU | ZCAT_CUDA };

/* Dtype sets are bit masks over zmlx_dtype. */
#define ZCAT_DT(t) (1u << ZMLX_DTYPE_##t)
#define ZCAT_DT_FLOATS (ZCAT_DT(F32) | ZCAT_DT(F16) | ZCAT_DT(BF16) | ZCAT_DT(F64))

/* Argument flags. */
enum {
  ZCAT_GRAD = 1u << 0,  /* the backward gives this input's gradient */
  ZCAT_INDEX = 1u << 1, /* integer values in [0, range), stored as `dtype`
                         (targets, ids; any dtype); never differentiated */
  ZCAT_FIXED = 1u << 2, /* a float of `dtype`, whatever the case's dtype */
  ZCAT_OPTIONAL = 1u << 3, /* may be NULL: the op then leaves it out */
};

typedef struct zcat_arg {
  const char *name;
  const char *shape;  /* a spec, see above */
  unsigned flags;
  double lo, hi;      /* inputs: uniform values in [lo, hi); both 0: [-3, 3) */
  const char *range;  /* ZCAT_INDEX: a term ("V"); values in [0, range) */
  zmlx_dtype dtype;   /* ZCAT_INDEX / ZCAT_FIXED */
} zcat_arg;

typedef struct zcat_param {
  const char *name;   /* lower case */
  double value;       /* the default */
} zcat_param;

/* A host array in f64, C order. */
typedef struct zcat_tensor {
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  int64_t n;
  double *v;
} zcat_tensor;

struct zcat_entry;

/* What a reference sees: f64 host copies of the very values the kernel
 * got. Forward: fill out (zeroed, shaped by the entry's output specs).
 * Backward: dout holds the gradients of the outputs; add the gradient of
 * each ZCAT_GRAD input into din[i] (zeroed, shaped like in[i]; v is NULL
 * for other inputs). */
typedef struct zcat_host_call {
  const struct zcat_entry *e;
  const zcat_tensor *in;
  zcat_tensor *out;
  const zcat_tensor *dout;
  zcat_tensor *din;
  const double *p;    /* the entry's parameters, in order */
} zcat_host_call;

/* What a runner sees: the inputs on one device. Forward: set out[j] to new
 * arrays. Backward: dout[j] are given; set din[i] to a new array for each
 * ZCAT_GRAD input (slots start NULL). saved, when not NULL, is a slot for
 * what a backward needs from its forward (cross-entropy's lse) on these
 * very inputs: a backward that finds it set skips the forward, else fills
 * it; the caller releases it. The perf mode passes one per input set, so
 * that a backward is timed alone; the checks pass NULL. */
typedef struct zcat_dev_call {
  const struct zcat_entry *e;
  zmlx_array *const *in;
  zmlx_array **out;
  zmlx_array *const *dout;
  zmlx_array **din;
  const double *p;
  zmlx_array **saved;
} zcat_dev_call;

typedef struct zcat_entry {
  const char *name;     /* the op's name in error messages, too */
  const char *family;
  const char *summary;  /* one line for docs/KERNELS.md */
  const char *api;      /* the public call(s), e.g. "zmlx_act(ZMLX_ACT_SILU)" */
  int kind;             /* the family's own number (an enum value) */
  int n_in, n_out;
  zcat_arg in[ZCAT_MAX_IN];
  zcat_arg out[ZCAT_MAX_OUT];
  int n_params;
  zcat_param params[ZCAT_MAX_PARAMS];
  unsigned dtypes;      /* of the float arguments: ZCAT_DT(...) bits */
  unsigned backends;    /* ZCAT_CPU | ZCAT_CUDA */
  /* Relative tolerances by dtype for outputs and gradients; 0: the
   * defaults (zcat_tol). atol: absolute slack added to both. */
  double tol[ZMLX_DTYPE_COUNT], grad_tol[ZMLX_DTYPE_COUNT];
  double atol;
  void (*ref)(const zcat_host_call *c);
  void (*ref_grad)(const zcat_host_call *c);  /* NULL: no backward */
  /* Optional, where an output (gradient) is a signed sum whose terms can
   * cancel (a sum of random signs, softmax's g - sum(y g)): the magnitude
   * of those terms, filled like ref (ref_grad) fills out (din). Rounding
   * in the dtype under test is relative to it, so the harness's tolerance
   * is relative to the larger of it and the reference. */
  void (*ref_size)(const zcat_host_call *c);
  void (*ref_grad_size)(const zcat_host_call *c);
  zmlx_status (*run)(const zcat_dev_call *c);
  zmlx_status (*run_grad)(const zcat_dev_call *c);
  /* NULL-terminated case lists; NULL cases: zcat_default_cases. full_cases
   * run only with --full. */
  const char *const *cases;
  const char *const *full_cases;
  const char *const *bad;  /* extra bad-input cases ("... => STATUS") */
  const char *perf;        /* the perf mode's case; NULL: "4096 D=4096" */
  unsigned flags;          /* ZCAT_NO_* below */
} zcat_entry;

enum {
  /* Skip the generic shape check (each tied dimension made one larger
   * must fail with SHAPE_MISMATCH), for entries where that is legal. */
  ZCAT_NO_BAD_SHAPE = 1u << 0,
};

/* A family: its entries, defined in its own file. */
typedef struct zcat_family {
  const char *name;
  const char *title;    /* "Activations" */
  const zcat_entry *entries;
  int n;
} zcat_family;

/* ---- the registry (registry.c) ------------------------------------------ */
int zcat_family_count(void);
const zcat_family *zcat_family_at(int i);
int zcat_entry_count(void);
const zcat_entry *zcat_entry_at(int i);
const zcat_entry *zcat_entry_find(const char *name);
/* 1 if name matches pattern: a comma-separated list of globs (with *?[)
 * or substrings, any of which may match. */
int zcat_match(const char *pattern, const char *name);
/* Default cases for entries with any-shape or (..., D) arguments. */
extern const char *const zcat_default_cases[];
/* Default relative tolerances: for outputs and for gradients. */
double zcat_tol(const zcat_entry *e, zmlx_dtype t, int grad);
int zcat_has_backward(const zcat_entry *e);
/* ref_size and ref_grad_size for an entry linear in each input (sums,
 * matmul, scatter-adds, cumsum): its ref over |inputs|, its ref_grad over
 * |inputs| and |output gradients|. */
void zcat_ref_of_abs(const zcat_host_call *c);
void zcat_ref_grad_of_abs(const zcat_host_call *c);

/* ---- cases (case.c) ------------------------------------------------------ */
typedef struct zcat_case {
  char text[256];
  int n_lead;
  int64_t lead[ZMLX_MAX_DIMS];
  int64_t sym[26];                /* by letter; -1 unset */
  double p[ZCAT_MAX_PARAMS];
  unsigned noncontig;             /* bit i: input i as a strided view */
  unsigned misaligned;            /* bit i: input i one element past 16 bytes */
  int has_shape[ZCAT_MAX_IN];       /* explicit shapes */
  int ndim[ZCAT_MAX_IN];
  int64_t shape[ZCAT_MAX_IN][ZMLX_MAX_DIMS];
  int expect;                     /* bad cases: the status (0 otherwise) */
} zcat_case;

/* Parse a case for e. Errors (INVALID_ARGUMENT) name the entry and token. */
zmlx_status zcat_case_parse(const zcat_entry *e, const char *text, zcat_case *out);
/* The shape of an argument in a case (an explicit one if given). */
zmlx_status zcat_case_shape(const zcat_entry *e, const zcat_case *c, const zcat_arg *a, int *ndim,
                          int64_t *shape);
/* "(..., 2D)" for a spec. */
const char *zcat_spec_format(const char *spec, char *buf, size_t len);

/* ---- docs (markdown.c) --------------------------------------------------- */
/* The text of docs/KERNELS.md (malloc'd; free it), NULL on OOM. */
char *zcat_markdown(void);

#endif
