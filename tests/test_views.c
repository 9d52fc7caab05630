/* Views: reshape, permute, transpose, slice, broadcast_to, expand_dims,
 * squeeze, chains of them, contiguous(), and a view of 2^32 logical
 * elements. Every view is read back through zmlx_array_to_host and checked
 * element by element against a host reference that walks the source data
 * with strides computed here. Every check runs on every available device.
 *
 * Random inputs come from a splitmix64 stream whose seed is printed at
 * start and on failure (ZT_SEED reproduces a run). Host buffers are
 * poisoned with 0xCD before every read back. */
#include <stdint.h>

#define ZT_SUITE_NAME "test_views"
#define ZT_SUITE_SALT 0x51e3ull
#include "zt_suite.h" /* seed, rnd, setup, devices, MISMATCH, host_read */

/* ---- a host model of a strided view ------------------------------------- */
/* The reference: a layout over the host copy of the base array, moved by
 * the same operations, computed here independently of the library. */
typedef struct model {
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS], strides[ZMLX_MAX_DIMS], offset;
} model;

static model model_contig(int ndim, const int64_t *shape) {
  model m = {.ndim = ndim};
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    m.shape[i] = shape[i];
    m.strides[i] = s;
    s *= shape[i];
  }
  return m;
}
static int64_t model_numel(const model *m) {
  int64_t n = 1;
  for (int i = 0; i < m->ndim; i++) n *= m->shape[i];
  return n;
}
/* The base element behind logical (C-order) index i. */
static int64_t model_at(const model *m, int64_t i) {
  int64_t off = m->offset;
  for (int d = m->ndim - 1; d >= 0; d--) {
    off += (i % m->shape[d]) * m->strides[d];
    i /= m->shape[d];
  }
  return off;
}
static model model_permute(const model *m, const int *perm) {
  model r = *m;
  for (int i = 0; i < m->ndim; i++) {
    r.shape[i] = m->shape[perm[i]];
    r.strides[i] = m->strides[perm[i]];
  }
  return r;
}
/* Python's slice.indices() for length n, written out as CPython does. */
static int64_t py_slice(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first) {
  int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? n : n - 1;
  if (start < 0) {
    start += n;
    if (start < lower) start = lower;
  } else if (start > upper) {
    start = upper;
  }
  if (stop < 0) {
    stop += n;
    if (stop < lower) stop = lower;
  } else if (stop > upper) {
    stop = upper;
  }
  *first = start;
  if (step > 0) return start < stop ? (int64_t)(((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step) + 1 : 0;
  uint64_t ustep = (uint64_t)0 - (uint64_t)step;
  return stop < start ? (int64_t)(((uint64_t)start - (uint64_t)stop - 1) / ustep) + 1 : 0;
}
static model model_slice(const model *m, int axis, int64_t start, int64_t stop, int64_t step) {
  model r = *m;
  int64_t first, len = py_slice(m->shape[axis], start, stop, step, &first);
  r.shape[axis] = len;
  if (len > 0) r.offset += first * m->strides[axis];
  r.strides[axis] = len > 1 ? m->strides[axis] * step : m->strides[axis];
  return r;
}
/* NumPy broadcasting; returns 0 when incompatible. */
static int model_broadcast(const model *m, int ndim, const int64_t *shape, model *out) {
  if (ndim < m->ndim) return 0;
  model r = {.ndim = ndim, .offset = m->offset};
  for (int i = 0; i < ndim; i++) {
    int j = i - (ndim - m->ndim);
    r.shape[i] = shape[i];
    if (j < 0 || m->shape[j] == 1) r.strides[i] = 0;
    else if (m->shape[j] == shape[i]) r.strides[i] = m->strides[j];
    else return 0;
  }
  *out = r;
  return 1;
}

/* Check an array against the model over host base data (element size es):
 * shape, then every element bytewise. */
static long check_view(const char *what, const zmlx_array *v, const model *m, const void *base,
                       size_t es) {
  long bad = 0;
  CHECK_MSG(zmlx_array_ndim(v) == m->ndim, "%s: ndim %d, want %d", what, zmlx_array_ndim(v),
            m->ndim);
  for (int i = 0; i < m->ndim && i < zmlx_array_ndim(v); i++)
    if (zmlx_array_dim(v, i) != m->shape[i])
      MISMATCH(bad, "%s: dim %d is %lld, want %lld", what, i, (long long)zmlx_array_dim(v, i),
               (long long)m->shape[i]);
  CHECK_MSG(bad == 0, "%s: shape wrong", what);
  if (bad) return bad;
  int64_t n = model_numel(m);
  CHECK_EQ_INT(zmlx_array_numel(v), n);
  unsigned char *h = host_read(v);
  for (int64_t i = 0; i < n; i++) {
    const unsigned char *want = (const unsigned char *)base + model_at(m, i) * (int64_t)es;
    if (memcmp(h + i * (int64_t)es, want, es))
      MISMATCH(bad, "%s: element %lld differs (base element %lld)", what, (long long)i,
               (long long)model_at(m, i));
  }
  CHECK_MSG(bad == 0, "%s: %ld of %lld elements wrong", what, bad, (long long)n);
  free(h);
  return bad;
}

/* A random base array of dtype t (random bytes; bools 0/1), and its host
 * copy in *host. */
static zmlx_array *random_base(zmlx_device dev, zmlx_dtype t, int ndim, const int64_t *shape,
                               unsigned char **host) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  size_t es = zmlx_dtype_size(t), nb = (size_t)n * es;
  unsigned char *h = malloc(nb ? nb : 1);
  for (size_t i = 0; i < nb; i++)
    h[i] = (unsigned char)(t == ZMLX_DTYPE_BOOL ? rnd() & 1 : rnd());
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_from_host(h, t, ndim, shape, dev, &a));
  *host = h;
  return a;
}

/* Whether v's first element lies inside base's (contiguous) data. */
static int shares_storage(const zmlx_array *base, const zmlx_array *v) {
  zmlx_array_desc b = zmlx_array_describe(base), d = zmlx_array_describe(v);
  if (!b.data || !d.data) return 0;
  const char *lo = b.data, *hi = lo + zmlx_array_nbytes(base);
  return (const char *)d.data >= lo && (const char *)d.data < hi;
}

static const zmlx_dtype VIEW_DTYPES[] = {ZMLX_DTYPE_F32, ZMLX_DTYPE_F64, ZMLX_DTYPE_BF16,
                                         ZMLX_DTYPE_I8,  ZMLX_DTYPE_I64, ZMLX_DTYPE_FP8_E5M2};
#define N_VIEW_DTYPES ((int)(sizeof VIEW_DTYPES / sizeof VIEW_DTYPES[0]))

/* ---- reshape ------------------------------------------------------------ */
static void t_reshape_contiguous_is_view(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {4, 6, 5};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 3, shape, &h);
    if (!a) continue;
    struct { int ndim; int64_t s[4]; int64_t want[4]; } cases[] = {
        {1, {120}, {120}},        {1, {-1}, {120}},         {3, {2, -1, 5}, {2, 12, 5}},
        {2, {5, 24}, {5, 24}},    {4, {1, 120, 1, 1}, {1, 120, 1, 1}},
        {2, {-1, 8}, {15, 8}},    {4, {2, 3, 4, 5}, {2, 3, 4, 5}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      zmlx_array *v = NULL;
      CHECK_OK(zmlx_array_reshape(a, cases[k].ndim, cases[k].s, &v));
      if (!v) continue;
      CHECK_MSG(zmlx_array_describe(v).data == zmlx_array_describe(a).data,
                "%s reshape case %zu copied a contiguous array", devname(dev), k);
      model m = model_contig(cases[k].ndim, cases[k].want);
      char what[64];
      snprintf(what, sizeof what, "%s reshape case %zu", devname(dev), k);
      check_view(what, v, &m, h, 4);
      zmlx_array_release(v);
    }
    /* A contiguous slice (rows 1..2) reshapes as a view with its offset. */
    zmlx_array *s = NULL, *v = NULL;
    CHECK_OK(zmlx_array_slice(a, 0, 1, 3, 1, &s));
    const int64_t flat[1] = {-1};
    if (s) CHECK_OK(zmlx_array_reshape(s, 1, flat, &v));
    if (v) {
      CHECK(zmlx_array_describe(v).data == zmlx_array_describe(s).data);
      CHECK_EQ_INT(zmlx_array_describe(v).offset, 30);
      model m = model_contig(1, (int64_t[]){60});
      m.offset = 30;
      check_view("reshape of a row slice", v, &m, h, 4);
    }
    zmlx_array_release(s);
    zmlx_array_release(v);
    /* Scalars: (1, 1) <-> (). */
    zmlx_array *one = NULL, *sc = NULL, *back = NULL;
    const int64_t s11[2] = {1, 1}, col[2] = {120, 1};
    v = NULL;
    CHECK_OK(zmlx_array_reshape(a, 2, col, &v));
    if (v) CHECK_OK(zmlx_array_slice(v, 0, 7, 8, 1, &one)); /* element 7, shape (1, 1) */
    if (one) CHECK_OK(zmlx_array_reshape(one, 0, NULL, &sc));
    if (sc) {
      CHECK_EQ_INT(zmlx_array_ndim(sc), 0);
      CHECK_EQ_INT(zmlx_array_numel(sc), 1);
      CHECK(zmlx_array_describe(sc).data == zmlx_array_describe(one).data);
      model m = {.ndim = 0, .offset = 7};
      check_view("reshape to a scalar", sc, &m, h, 4);
      CHECK_OK(zmlx_array_reshape(sc, 2, s11, &back));
      if (back) {
        model m2 = model_contig(2, s11);
        m2.offset = 7;
        check_view("scalar reshaped to (1, 1)", back, &m2, h, 4);
      }
    }
    zmlx_array_release(v);
    zmlx_array_release(one);
    zmlx_array_release(sc);
    zmlx_array_release(back);
    zmlx_array_release(a);
    free(h);
  }
}

/* A transposed array cannot be flattened without a copy: the copy holds
 * the transposed order. A reshape that only splits or merges dimensions
 * that stay contiguous is still a view. */
static void t_reshape_needs_copy(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {6, 10};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_I32, 2, shape, &h), *t = NULL, *f = NULL;
    if (!a) continue;
    CHECK_OK(zmlx_array_transpose(a, 0, 1, &t));
    const int64_t flat[1] = {60};
    if (t) CHECK_OK(zmlx_array_reshape(t, 1, flat, &f));
    if (f) {
      CHECK(!shares_storage(a, f));
      CHECK(zmlx_array_is_contiguous(f));
      model m = model_contig(2, shape), mt;
      int perm[2] = {1, 0};
      mt = model_permute(&m, perm);
      /* f[i] = t.flat[i] */
      long bad = 0;
      int32_t *hf = host_read(f);
      for (int64_t i = 0; i < 60; i++)
        if (hf[i] != ((int32_t *)h)[model_at(&mt, i)]) bad++;
      CHECK_MSG(bad == 0, "%s reshape of a transpose: %ld wrong", devname(dev), bad);
      free(hf);
    }
    /* Splitting the transposed array's dimensions is a view: (10, 6) ->
     * (2, 5, 3, 2). */
    zmlx_array *sp = NULL;
    const int64_t split[4] = {2, 5, 3, 2};
    if (t) CHECK_OK(zmlx_array_reshape(t, 4, split, &sp));
    if (sp) {
      CHECK_MSG(shares_storage(a, sp), "%s: splitting dims of a transpose copied",
                devname(dev));
      model m = model_contig(2, shape);
      int perm[2] = {1, 0};
      model mt = model_permute(&m, perm);
      /* the split, in the model: dims 10 -> (2, 5) stride (5s, s); 6 -> (3, 2) */
      model ms = {.ndim = 4, .shape = {2, 5, 3, 2},
                  .strides = {5 * mt.strides[0], mt.strides[0], 2 * mt.strides[1], mt.strides[1]}};
      check_view("split of a transpose", sp, &ms, h, 4);
    }
    zmlx_array_release(a);
    zmlx_array_release(t);
    zmlx_array_release(f);
    zmlx_array_release(sp);
    free(h);
  }
}

/* Random strided views reshaped to random shapes of the same size: values
 * always in C order of the view. */
static void t_reshape_random_views(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int trial = 0; trial < 40; trial++) {
      zmlx_dtype dt = VIEW_DTYPES[rnd() % N_VIEW_DTYPES];
      size_t es = zmlx_dtype_size(dt);
      const int64_t shape[4] = {2 * rnd_in(1, 3), 3, rnd_in(1, 4), 2 * rnd_in(1, 2)};
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, dt, 4, shape, &h), *v = NULL, *w = NULL, *r = NULL;
      if (!a) continue;
      int perm[4] = {0, 1, 2, 3};
      for (int i = 3; i > 0; i--) {
        int j = (int)rnd_in(0, i), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
      }
      model m = model_contig(4, shape);
      CHECK_OK(zmlx_array_permute(a, perm, &v));
      m = model_permute(&m, perm);
      /* reverse one axis */
      int ax = (int)rnd_in(0, 3);
      if (v) CHECK_OK(zmlx_array_slice(v, ax, -1, INT64_MIN, -1, &w));
      m = model_slice(&m, ax, -1, INT64_MIN, -1);
      /* target: the dims' product regrouped at random */
      int64_t n = model_numel(&m), target[4];
      int tn = 0;
      int64_t rest = n;
      while (rest > 1 && tn < 3) {
        int64_t f = 1;
        for (int64_t d = 2; d <= rest; d++)
          if (rest % d == 0 && (rnd() & 1)) {
            f = d;
            break;
          }
        if (f == 1) break;
        target[tn++] = f;
        rest /= f;
      }
      target[tn++] = rest;
      if (tn > 1 && (rnd() & 1)) target[rnd() % (uint64_t)tn] = -1;
      if (w) CHECK_OK(zmlx_array_reshape(w, tn, target, &r));
      if (r) {
        /* Compare: r's C-order elements are w's C-order elements. */
        unsigned char *hr = host_read(r);
        long bad = 0;
        for (int64_t i = 0; i < n; i++)
          if (memcmp(hr + i * (int64_t)es, h + model_at(&m, i) * (int64_t)es, es)) bad++;
        CHECK_MSG(bad == 0, "%s trial %d: reshape of a permuted, reversed view: %ld wrong",
                  devname(dev), trial, bad);
        int64_t prod = 1;
        for (int i = 0; i < tn; i++) {
          int64_t want = target[i] == -1 ? 0 : target[i];
          if (want) CHECK_EQ_INT(zmlx_array_dim(r, i), want);
          prod *= zmlx_array_dim(r, i);
        }
        CHECK_EQ_INT(prod, n);
        free(hr);
      }
      zmlx_array_release(a);
      zmlx_array_release(v);
      zmlx_array_release(w);
      zmlx_array_release(r);
      free(h);
    }
  }
}

static void t_reshape_errors(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {3, 7};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 2, shape, &h);
    if (!a) continue;
    zmlx_array *o = NULL;
    const int64_t bad1[2] = {4, 5}, bad2[2] = {2, -1}, two_inf[3] = {-1, 3, -1};
    const int64_t neg[2] = {-3, -7}, zero[2] = {0, 21};
    zmlx_error_clear();
    CHECK_STATUS(zmlx_array_reshape(a, 2, bad1, &o), ZMLX_STATUS_SHAPE_MISMATCH);
    CHECK_CONTAINS(zmlx_error_last(), "array_reshape");
    CHECK_CONTAINS(zmlx_error_last(), "(3, 7)");
    CHECK_CONTAINS(zmlx_error_last(), "(4, 5)");
    CHECK(o == NULL);
    CHECK_STATUS(zmlx_array_reshape(a, 2, bad2, &o), ZMLX_STATUS_SHAPE_MISMATCH);
    CHECK_CONTAINS(zmlx_error_last(), "array_reshape");
    CHECK_STATUS(zmlx_array_reshape(a, 2, zero, &o), ZMLX_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(zmlx_array_reshape(a, 3, two_inf, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_reshape");
    CHECK_STATUS(zmlx_array_reshape(a, 2, neg, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(a, 9, (int64_t[9]){21, 1, 1, 1, 1, 1, 1, 1, 1}, &o),
                 ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(a, -1, shape, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(a, 2, NULL, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(NULL, 2, shape, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(a, 2, shape, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_reshape(a, 0, NULL, &o), ZMLX_STATUS_SHAPE_MISMATCH);
    CHECK(o == NULL);
    zmlx_array_release(a);
    free(h);
  }
}

/* Dimensions whose product overflows 64 bits are an error, not a wrap. */
static void t_reshape_overflow(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[1] = {6};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 1, shape, &h), *o = NULL;
    if (!a) continue;
    /* 3 * B * 3 with B = (2^64 + 2) / 3 is 2^64 * 3 + 6: modulo 2^64 it is
     * exactly 6, so a wrapping product would accept this shape for 6
     * elements. So would (3, B, -1), and (2^62, 4, -1) wraps to 0. */
    const int64_t B = 6148914691236517206; /* (2^64 + 2) / 3 */
    const int64_t shapes[][3] = {{3, B, 3}, {3, B, -1}, {(int64_t)1 << 62, 4, -1},
                                 {(int64_t)1 << 62, 4, 6}};
    for (int k = 0; k < 4; k++) {
      o = NULL;
      zmlx_status s = zmlx_array_reshape(a, 3, shapes[k], &o);
      CHECK_MSG(s != ZMLX_STATUS_OK, "reshape of 6 elements to (%lld, %lld, %lld) succeeded",
                (long long)shapes[k][0], (long long)shapes[k][1], (long long)shapes[k][2]);
      CHECK(o == NULL || s == ZMLX_STATUS_OK);
      zmlx_array_release(o);
    }
    zmlx_array_release(a);
    free(h);
  }
}

/* ---- permute / transpose ------------------------------------------------- */
static void t_permute_all_4d(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int trial = 0; trial < 24; trial++) {
      zmlx_dtype dt = VIEW_DTYPES[trial % N_VIEW_DTYPES];
      const int64_t shape[4] = {rnd_in(1, 4), rnd_in(2, 5), 7, rnd_in(1, 6)};
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, dt, 4, shape, &h);
      if (!a) continue;
      /* permutation number `trial` of 24 (factorial number system) */
      int avail[4] = {0, 1, 2, 3}, perm[4], k = trial;
      for (int i = 0; i < 4; i++) {
        int f = (i == 0 ? 6 : i == 1 ? 2 : 1), j = k / f;
        k %= f;
        perm[i] = avail[j];
        for (int q = j; q < 3 - i; q++) avail[q] = avail[q + 1];
      }
      /* negative axes are accepted: write some as axis - 4 */
      int given[4];
      for (int i = 0; i < 4; i++) given[i] = (rnd() & 1) ? perm[i] - 4 : perm[i];
      zmlx_array *p = NULL;
      CHECK_OK(zmlx_array_permute(a, given, &p));
      if (p) {
        CHECK(shares_storage(a, p));
        model m = model_contig(4, shape);
        m = model_permute(&m, perm);
        char what[96];
        snprintf(what, sizeof what, "%s %s permute (%d %d %d %d)", devname(dev),
                 zmlx_dtype_name(dt), perm[0], perm[1], perm[2], perm[3]);
        check_view(what, p, &m, h, zmlx_dtype_size(dt));
        int ident = perm[0] == 0 && perm[1] == 1 && perm[2] == 2 && perm[3] == 3;
        int trivial = 1; /* only length-1 axes move: still contiguous */
        int64_t last = -1;
        for (int i = 0; i < 4; i++)
          if (shape[perm[i]] != 1) {
            if (perm[i] < last) trivial = 0;
            last = perm[i];
          }
        CHECK_EQ_INT(zmlx_array_is_contiguous(p), ident || trivial);
      }
      zmlx_array_release(p);
      zmlx_array_release(a);
      free(h);
    }
  }
}

static void t_permute_errors(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {2, 3, 4};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 3, shape, &h), *o = NULL;
    if (!a) continue;
    const int rep[3] = {0, 1, 1}, rep_neg[3] = {2, 1, -1}, big[3] = {0, 1, 3}, neg[3] = {0, 1, -4};
    zmlx_error_clear();
    CHECK_STATUS(zmlx_array_permute(a, rep, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_permute");
    CHECK_STATUS(zmlx_array_permute(a, rep_neg, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_permute(a, big, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_permute");
    CHECK_STATUS(zmlx_array_permute(a, neg, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_permute(a, NULL, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_permute(NULL, rep, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_transpose(a, 0, 3, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_transpose");
    CHECK_STATUS(zmlx_array_transpose(a, -4, 0, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_transpose(a, 0, 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    zmlx_array_release(a);
    free(h);
  }
}

static void t_transpose(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {3, 4, 7};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F64, 3, shape, &h);
    if (!a) continue;
    const int pairs[][2] = {{0, 1}, {0, 2}, {1, 2}, {-1, 0}, {-3, -1}, {2, 2}, {1, -2}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
      zmlx_array *t = NULL;
      CHECK_OK(zmlx_array_transpose(a, pairs[k][0], pairs[k][1], &t));
      if (!t) continue;
      int x = (pairs[k][0] + 3) % 3, y = (pairs[k][1] + 3) % 3;
      int perm[3] = {0, 1, 2};
      perm[x] = y;
      perm[y] = x;
      model m = model_contig(3, shape);
      m = model_permute(&m, perm);
      char what[64];
      snprintf(what, sizeof what, "%s transpose(%d, %d)", devname(dev), pairs[k][0], pairs[k][1]);
      check_view(what, t, &m, h, 8);
      /* Transposing back gives the original layout. */
      zmlx_array *b = NULL;
      CHECK_OK(zmlx_array_transpose(t, pairs[k][0], pairs[k][1], &b));
      if (b) {
        CHECK(zmlx_array_is_contiguous(b));
        model m0 = model_contig(3, shape);
        check_view("transposed twice", b, &m0, h, 8);
      }
      zmlx_array_release(b);
      zmlx_array_release(t);
    }
    zmlx_array_release(a);
    free(h);
  }
}

/* ---- slice ---------------------------------------------------------------- */
/* Random start/stop/step over random lengths, against CPython's rules. */
static void t_slice_python_semantics(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t lens[] = {0, 1, 2, 7, 13, 4097};
    for (size_t L = 0; L < sizeof lens / sizeof lens[0]; L++) {
      int64_t n = lens[L];
      const int64_t shape[2] = {3, n};
      unsigned char *h = NULL;
      zmlx_dtype dt = VIEW_DTYPES[L % N_VIEW_DTYPES];
      size_t es = zmlx_dtype_size(dt);
      zmlx_array *a = random_base(dev, dt, 2, shape, &h);
      if (!a) continue;
      long bad_cases = 0;
      for (int trial = 0; trial < 150; trial++) {
        int64_t span = 2 * n + 3;
        int64_t start = rnd_in(-span, span), stop = rnd_in(-span, span);
        int64_t step = rnd_in(1, n > 20 ? 40 : 5) * ((rnd() & 1) ? 1 : -1);
        if (trial % 10 == 0) start = (rnd() & 1) ? INT64_MIN : INT64_MAX;
        if (trial % 10 == 1) stop = (rnd() & 1) ? INT64_MIN : INT64_MAX;
        int axis = (rnd() & 1) ? 1 : -1;
        zmlx_array *s = NULL;
        CHECK_OK(zmlx_array_slice(a, axis, start, stop, step, &s));
        if (!s) continue;
        model m = model_contig(2, shape);
        m = model_slice(&m, 1, start, stop, step);
        char what[128];
        snprintf(what, sizeof what, "%s n=%lld [%lld:%lld:%lld]", devname(dev), (long long)n,
                 (long long)start, (long long)stop, (long long)step);
        if (check_view(what, s, &m, h, es)) bad_cases++;
        if (zmlx_array_numel(s)) CHECK(shares_storage(a, s));
        zmlx_array_release(s);
      }
      CHECK_MSG(bad_cases == 0, "%s n=%lld: %ld slices wrong", devname(dev), (long long)n,
                bad_cases);
      zmlx_array_release(a);
      free(h);
    }
  }
}

/* Slices of slices (both step signs), along different axes. */
static void t_slice_chains(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int trial = 0; trial < 30; trial++) {
      const int64_t shape[3] = {rnd_in(1, 9), rnd_in(1, 9), rnd_in(1, 9)};
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, ZMLX_DTYPE_I16, 3, shape, &h), *cur = NULL;
      if (!a) continue;
      model m = model_contig(3, shape);
      cur = zmlx_array_retain(a);
      for (int depth = 0; depth < 4 && cur; depth++) {
        int axis = (int)rnd_in(0, 2);
        int64_t n = m.shape[axis];
        int64_t start = rnd_in(-n - 2, n + 2), stop = rnd_in(-n - 2, n + 2);
        int64_t step = rnd_in(1, 3) * ((rnd() & 1) ? 1 : -1);
        zmlx_array *nx = NULL;
        CHECK_OK(zmlx_array_slice(cur, axis, start, stop, step, &nx));
        m = model_slice(&m, axis, start, stop, step);
        zmlx_array_release(cur);
        cur = nx;
      }
      if (cur) check_view("chained slices", cur, &m, h, 2);
      zmlx_array_release(cur);
      zmlx_array_release(a);
      free(h);
    }
  }
}

static void t_slice_errors(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {4, 5};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 2, shape, &h), *o = NULL;
    if (!a) continue;
    zmlx_error_clear();
    CHECK_STATUS(zmlx_array_slice(a, 0, 0, 4, 0, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_slice");
    CHECK_STATUS(zmlx_array_slice(a, 2, 0, 4, 1, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_slice");
    CHECK_CONTAINS(zmlx_error_last(), "(4, 5)");
    CHECK_STATUS(zmlx_array_slice(a, -3, 0, 4, 1, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_slice(NULL, 0, 0, 4, 1, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_slice(a, 0, 0, 4, 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    /* A scalar has no axis to slice. */
    zmlx_array *sc = NULL;
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F32, 0, NULL, dev, &sc));
    if (sc) CHECK_STATUS(zmlx_array_slice(sc, 0, 0, 1, 1, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    zmlx_array_release(sc);
    zmlx_array_release(a);
    free(h);
  }
}

/* Steps of any int64 size are valid in Python: a[1::huge] is [a[1]]. */
static void t_slice_extreme_steps(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[1] = {5};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_I32, 1, shape, &h);
    if (!a) continue;
    const int64_t steps[] = {INT64_MAX, INT64_MAX - 1, -INT64_MAX, INT64_MIN, (int64_t)1 << 62};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
      int64_t st = steps[k];
      int64_t start = st > 0 ? 1 : 3, stop = st > 0 ? 5 : -100;
      zmlx_array *s = NULL;
      CHECK_OK(zmlx_array_slice(a, 0, start, stop, st, &s));
      if (!s) continue;
      model m = model_contig(1, shape);
      m = model_slice(&m, 0, start, stop, st);
      char what[96];
      snprintf(what, sizeof what, "%s a[%lld:%lld:%lld]", devname(dev), (long long)start,
               (long long)stop, (long long)st);
      CHECK_MSG(zmlx_array_numel(s) == 1, "%s has %lld elements, want 1", what,
                (long long)zmlx_array_numel(s));
      if (zmlx_array_numel(s) == 1) check_view(what, s, &m, h, 4);
      zmlx_array_release(s);
    }
    zmlx_array_release(a);
    free(h);
  }
}

/* ---- broadcast_to ------------------------------------------------------- */
static void t_broadcast_to(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    struct { int an; int64_t as[3]; int bn; int64_t bs[4]; } cases[] = {
        {2, {3, 1}, 3, {2, 3, 4}},   {1, {1}, 1, {5}},           {0, {0}, 2, {2, 3}},
        {1, {7}, 3, {3, 1, 7}},       {3, {1, 4, 1}, 4, {2, 3, 4, 5}},
        {2, {3, 4}, 2, {3, 4}},       {1, {1}, 2, {0, 3}},        {2, {1, 0}, 3, {2, 5, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, cases[k].an, cases[k].as, &h), *b = NULL;
      if (!a) continue;
      CHECK_OK(zmlx_array_broadcast_to(a, cases[k].bn, cases[k].bs, &b));
      if (b) {
        model m0 = model_contig(cases[k].an, cases[k].as), m;
        CHECK(model_broadcast(&m0, cases[k].bn, cases[k].bs, &m));
        zmlx_array_desc d = zmlx_array_describe(b);
        for (int i = 0; i < cases[k].bn; i++) {
          int j = i - (cases[k].bn - cases[k].an);
          if ((j < 0 || cases[k].as[j] == 1) && cases[k].bs[i] != 1)
            CHECK_MSG(d.strides[i] == 0, "case %zu: broadcast dim %d has stride %lld", k, i,
                      (long long)d.strides[i]);
        }
        int64_t n = model_numel(&m);
        if (n) CHECK(zmlx_array_describe(b).data == zmlx_array_describe(a).data);
        char what[64];
        snprintf(what, sizeof what, "%s broadcast case %zu", devname(dev), k);
        check_view(what, b, &m, h, 4);
      }
      zmlx_array_release(a);
      zmlx_array_release(b);
      free(h);
    }
    /* Incompatible shapes. */
    struct { int an; int64_t as[2]; int bn; int64_t bs[3]; zmlx_status want; } bad[] = {
        {1, {3}, 1, {4}, ZMLX_STATUS_SHAPE_MISMATCH},
        {2, {2, 3}, 1, {3}, ZMLX_STATUS_SHAPE_MISMATCH},  /* fewer dims */
        {2, {2, 3}, 2, {3, 3}, ZMLX_STATUS_SHAPE_MISMATCH},
        {1, {3}, 2, {3, 0}, ZMLX_STATUS_SHAPE_MISMATCH},
        {1, {1}, 2, {2, -1}, ZMLX_STATUS_INVALID_ARGUMENT},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, bad[k].an, bad[k].as, &h), *b = NULL;
      if (!a) continue;
      zmlx_error_clear();
      CHECK_STATUS(zmlx_array_broadcast_to(a, bad[k].bn, bad[k].bs, &b), bad[k].want);
      CHECK_CONTAINS(zmlx_error_last(), "array_broadcast_to");
      CHECK(b == NULL);
      zmlx_array_release(a);
      free(h);
    }
  }
}

/* ---- expand_dims / squeeze ------------------------------------------------ */
static void t_expand_squeeze(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {3, 1, 5};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_BF16, 3, shape, &h);
    if (!a) continue;
    /* A non-contiguous source too: reversed along axis 2. */
    zmlx_array *r = NULL;
    CHECK_OK(zmlx_array_slice(a, 2, -1, INT64_MIN, -1, &r));
    for (int src = 0; src < 2 && r; src++) {
      zmlx_array *base = src ? r : a;
      model mb = model_contig(3, shape);
      if (src) mb = model_slice(&mb, 2, -1, INT64_MIN, -1);
      for (int axis = -4; axis <= 3; axis++) {
        zmlx_array *e = NULL, *s = NULL;
        CHECK_OK(zmlx_array_expand_dims(base, axis, &e));
        if (!e) continue;
        int ax = axis < 0 ? axis + 4 : axis;
        model m = {.ndim = 4, .offset = mb.offset};
        for (int i = 0, j = 0; i < 4; i++) {
          if (i == ax) {
            m.shape[i] = 1;
            m.strides[i] = 0;
          } else {
            m.shape[i] = mb.shape[j];
            m.strides[i] = mb.strides[j++];
          }
        }
        char what[64];
        snprintf(what, sizeof what, "%s expand_dims(%d)%s", devname(dev), axis,
                 src ? " of a reversed view" : "");
        check_view(what, e, &m, h, 2);
        CHECK_EQ_INT(zmlx_array_is_contiguous(e), zmlx_array_is_contiguous(base));
        CHECK(zmlx_array_describe(e).data == zmlx_array_describe(base).data);
        /* squeeze the new axis back out */
        CHECK_OK(zmlx_array_squeeze(e, axis, &s));
        if (s) check_view("squeeze of expand_dims", s, &mb, h, 2);
        zmlx_array_release(e);
        zmlx_array_release(s);
      }
      /* squeeze the original length-1 axis */
      zmlx_array *q = NULL;
      CHECK_OK(zmlx_array_squeeze(base, -2, &q));
      if (q) {
        model mq = {.ndim = 2, .shape = {3, 5}, .strides = {mb.strides[0], mb.strides[2]},
                    .offset = mb.offset};
        check_view("squeeze(-2)", q, &mq, h, 2);
      }
      zmlx_array_release(q);
    }
    /* Errors. */
    zmlx_array *o = NULL;
    zmlx_error_clear();
    CHECK_STATUS(zmlx_array_squeeze(a, 0, &o), ZMLX_STATUS_SHAPE_MISMATCH);
    CHECK_CONTAINS(zmlx_error_last(), "array_squeeze");
    CHECK_STATUS(zmlx_array_squeeze(a, 3, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_squeeze");
    CHECK_STATUS(zmlx_array_squeeze(a, -4, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_expand_dims(a, 4, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(zmlx_error_last(), "array_expand_dims");
    CHECK_STATUS(zmlx_array_expand_dims(a, -5, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_expand_dims(NULL, 0, &o), ZMLX_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(zmlx_array_squeeze(a, 1, NULL), ZMLX_STATUS_INVALID_ARGUMENT);
    /* 8 dimensions is the most: expand_dims on an 8-D array fails. */
    zmlx_array *e8 = NULL;
    const int64_t s8[8] = {1, 2, 1, 1, 3, 1, 1, 1};
    CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_I8, 8, s8, dev, &e8));
    if (e8) {
      CHECK_STATUS(zmlx_array_expand_dims(e8, 0, &o), ZMLX_STATUS_INVALID_ARGUMENT);
      CHECK_CONTAINS(zmlx_error_last(), "array_expand_dims");
    }
    CHECK(o == NULL);
    /* Scalar: expand_dims(0) gives (1,), squeeze gives () back. */
    zmlx_array *sc = NULL, *e1 = NULL, *s0 = NULL;
    CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 0, NULL, 2.5, dev, &sc));
    if (sc) CHECK_OK(zmlx_array_expand_dims(sc, -1, &e1));
    if (e1) {
      CHECK_EQ_INT(zmlx_array_ndim(e1), 1);
      CHECK_EQ_INT(zmlx_array_dim(e1, 0), 1);
      CHECK_OK(zmlx_array_squeeze(e1, 0, &s0));
    }
    if (s0) {
      float v = 0;
      CHECK_EQ_INT(zmlx_array_ndim(s0), 0);
      CHECK_OK(zmlx_array_to_host(s0, &v, sizeof v));
      CHECK(v == 2.5f);
    }
    zmlx_array_release(sc);
    zmlx_array_release(e1);
    zmlx_array_release(s0);
    zmlx_array_release(e8);
    zmlx_array_release(r);
    zmlx_array_release(a);
    free(h);
  }
}

/* ---- chains and contiguous() --------------------------------------------- */
/* broadcast -> permute -> slice (negative step) -> expand_dims, then
 * contiguous() and to_device(), all against the model. */
static void t_view_chain(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    for (int trial = 0; trial < 12; trial++) {
      zmlx_dtype dt = VIEW_DTYPES[trial % N_VIEW_DTYPES];
      size_t es = zmlx_dtype_size(dt);
      const int64_t shape[3] = {rnd_in(2, 5), 1, rnd_in(2, 7)};
      unsigned char *h = NULL;
      zmlx_array *a = random_base(dev, dt, 3, shape, &h);
      if (!a) continue;
      zmlx_array *b = NULL, *p = NULL, *s = NULL, *e = NULL, *c = NULL, *d = NULL;
      const int64_t bs[4] = {rnd_in(1, 3), shape[0], rnd_in(2, 4), shape[2]};
      const int perm[4] = {3, 1, 0, 2};
      model m = model_contig(3, shape), mb;
      CHECK_OK(zmlx_array_broadcast_to(a, 4, bs, &b));
      CHECK(model_broadcast(&m, 4, bs, &mb));
      if (b) CHECK_OK(zmlx_array_permute(b, perm, &p));
      mb = model_permute(&mb, perm);
      int64_t start = rnd_in(-6, 6), stop = rnd_in(-8, 8), step = -rnd_in(1, 2);
      if (p) CHECK_OK(zmlx_array_slice(p, 1, start, stop, step, &s));
      mb = model_slice(&mb, 1, start, stop, step);
      if (s) CHECK_OK(zmlx_array_expand_dims(s, 2, &e));
      model me = {.ndim = 5, .offset = mb.offset};
      for (int i = 0, j = 0; i < 5; i++) {
        if (i == 2) {
          me.shape[i] = 1;
          me.strides[i] = 0;
        } else {
          me.shape[i] = mb.shape[j];
          me.strides[i] = mb.strides[j++];
        }
      }
      char what[96];
      snprintf(what, sizeof what, "%s %s chain [%lld:%lld:%lld]", devname(dev),
               zmlx_dtype_name(dt), (long long)start, (long long)stop, (long long)step);
      if (e) {
        check_view(what, e, &me, h, es);
        CHECK_OK(zmlx_array_contiguous(e, &c));
        CHECK_OK(zmlx_array_to_device(e, ZMLX_CPU, &d));
      }
      if (c) {
        CHECK(zmlx_array_is_contiguous(c));
        if (model_numel(&me) > 1) CHECK(c != e);
        check_view("contiguous() of the chain", c, &me, h, es);
      }
      if (d) {
        CHECK(zmlx_array_is_contiguous(d));
        check_view("to_device(cpu) of the chain", d, &me, h, es);
      }
      zmlx_array *rs[] = {a, b, p, s, e, c, d};
      for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) zmlx_array_release(rs[i]);
      free(h);
    }
  }
}

static void t_contiguous(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[2] = {6, 9};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_F32, 2, shape, &h);
    if (!a) continue;
    /* Already contiguous: the same handle, one more reference. */
    zmlx_array *c = NULL;
    CHECK_OK(zmlx_array_contiguous(a, &c));
    CHECK(c == a);
    zmlx_array_release(c);
    /* Contiguous views (a block of rows, a length-1 column) too. */
    zmlx_array *rows = NULL, *c2 = NULL;
    CHECK_OK(zmlx_array_slice(a, 0, 2, 5, 1, &rows));
    if (rows) {
      CHECK(zmlx_array_is_contiguous(rows));
      CHECK_OK(zmlx_array_contiguous(rows, &c2));
      CHECK(c2 == rows);
      zmlx_array_release(c2);
    }
    zmlx_array *col = NULL, *col2 = NULL;
    CHECK_OK(zmlx_array_slice(a, 1, 4, 5, 1, &col)); /* (6, 1): strided, not contiguous */
    if (col) {
      CHECK(!zmlx_array_is_contiguous(col));
      CHECK_OK(zmlx_array_contiguous(col, &col2));
    }
    if (col2) {
      CHECK(col2 != col);
      CHECK(zmlx_array_is_contiguous(col2));
      CHECK(!shares_storage(a, col2));
      model m = model_contig(2, shape);
      m = model_slice(&m, 1, 4, 5, 1);
      check_view("contiguous() of a column", col2, &m, h, 4);
    }
    /* Not contiguous: a copy in C order, independent of the original. */
    zmlx_array *t = NULL, *tc = NULL;
    CHECK_OK(zmlx_array_transpose(a, 0, 1, &t));
    if (t) CHECK_OK(zmlx_array_contiguous(t, &tc));
    if (tc) {
      CHECK(tc != t);
      CHECK(!shares_storage(a, tc));
      zmlx_array_desc d = zmlx_array_describe(tc);
      CHECK(d.strides[0] == 6 && d.strides[1] == 1 && d.offset == 0);
      model m = model_contig(2, shape);
      int perm[2] = {1, 0};
      m = model_permute(&m, perm);
      check_view("contiguous() of a transpose", tc, &m, h, 4);
      /* Writing into the copy leaves the original alone. */
      zmlx_array *v = NULL;
      CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 0, NULL, -7.25, dev, &v));
      if (v) CHECK_OK(zmlx_array_copy_into(tc, v));
      model m0 = model_contig(2, shape);
      check_view("original after writing its copy", a, &m0, h, 4);
      zmlx_array_release(v);
    }
    zmlx_array *rs[] = {a, rows, col, col2, t, tc};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) zmlx_array_release(rs[i]);
    free(h);
  }
}

/* Writes through a view land in the base, at the right places. */
static void t_write_through_views(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    const int64_t shape[3] = {4, 5, 6};
    unsigned char *h = NULL;
    zmlx_array *a = random_base(dev, ZMLX_DTYPE_I64, 3, shape, &h);
    if (!a) continue;
    zmlx_array *p = NULL, *s = NULL;
    const int perm[3] = {2, 0, 1};
    CHECK_OK(zmlx_array_permute(a, perm, &p)); /* (6, 4, 5) */
    if (p) CHECK_OK(zmlx_array_slice(p, 2, 4, 0, -2, &s)); /* (6, 4, 2): k = 4, 2 */
    model m = model_contig(3, shape);
    m = model_permute(&m, perm);
    m = model_slice(&m, 2, 4, 0, -2);
    if (s) {
      int64_t n = model_numel(&m);
      int64_t *src = malloc((size_t)n * sizeof *src);
      for (int64_t i = 0; i < n; i++) src[i] = (int64_t)rnd() | 1;
      zmlx_array *v = NULL;
      const int64_t vs[3] = {6, 4, 2};
      CHECK_OK(zmlx_array_from_host(src, ZMLX_DTYPE_I64, 3, vs, dev, &v));
      if (v) CHECK_OK(zmlx_array_copy_into(s, v));
      /* the expected base: h with the view's elements replaced */
      for (int64_t i = 0; i < n; i++) ((int64_t *)h)[model_at(&m, i)] = src[i];
      model m0 = model_contig(3, shape);
      check_view("base after writing a permuted, reversed view", a, &m0, h, 8);
      zmlx_array_release(v);
      free(src);
    }
    zmlx_array_release(a);
    zmlx_array_release(p);
    zmlx_array_release(s);
    free(h);
  }
}

/* ---- 2^32 logical elements, one real one ---------------------------------- */
static void t_huge_broadcast(void) {
  setup();
  FOR_EACH_DEVICE(dev) {
    float val = (float)(rnd() % 1000) + 0.5f;
    const int64_t one[1] = {1};
    zmlx_array *a = NULL, *b = NULL;
    CHECK_OK(zmlx_array_from_host(&val, ZMLX_DTYPE_F32, 1, one, dev, &a));
    zmlx_alloc_stats before, after;
    CHECK_OK(zmlx_alloc_stats_get(dev, &before));
    const int64_t big[2] = {(int64_t)1 << 20, (int64_t)1 << 12};
    if (a) CHECK_OK(zmlx_array_broadcast_to(a, 2, big, &b));
    if (!b) {
      zmlx_array_release(a);
      continue;
    }
    CHECK_OK(zmlx_alloc_stats_get(dev, &after));
    CHECK_EQ_INT(after.bytes_in_use, before.bytes_in_use); /* nothing allocated */
    CHECK(zmlx_array_numel(b) == (int64_t)1 << 32);
    CHECK(zmlx_array_nbytes(b) == (size_t)1 << 34);
    CHECK(!zmlx_array_is_contiguous(b));
    zmlx_array_desc d = zmlx_array_describe(b);
    CHECK(d.strides[0] == 0 && d.strides[1] == 0);
    CHECK(d.data == zmlx_array_describe(a).data);
    char buf[128];
    CHECK_CONTAINS(zmlx_array_format(b, buf, sizeof buf), "(1048576, 4096) f32");
    /* A small window far into it: rows 1000000..1000002, every 7th column
     * from 4095 down. */
    zmlx_array *r = NULL, *w = NULL;
    CHECK_OK(zmlx_array_slice(b, 0, 1000000, 1000003, 1, &r));
    if (r) CHECK_OK(zmlx_array_slice(r, 1, 4095, -4097, -7, &w));
    if (w) {
      int64_t cols = (4095 + 7) / 7; /* 4095, 4088, ..., 0 */
      CHECK_EQ_INT(zmlx_array_dim(w, 0), 3);
      CHECK_EQ_INT(zmlx_array_dim(w, 1), cols);
      float *hw = host_read(w);
      long bad = 0;
      for (int64_t i = 0; i < 3 * cols; i++) bad += hw[i] != val;
      CHECK_MSG(bad == 0, "%s: %ld of %lld values read from the huge broadcast are wrong",
                devname(dev), bad, (long long)(3 * cols));
      free(hw);
    }
    /* The huge view reshaped to a split of its dims stays a view. */
    zmlx_array *rv = NULL;
    const int64_t split[3] = {1 << 10, 1 << 10, 1 << 12};
    CHECK_OK(zmlx_array_reshape(b, 3, split, &rv));
    if (rv) {
      CHECK(zmlx_array_numel(rv) == (int64_t)1 << 32);
      CHECK(zmlx_array_describe(rv).data == zmlx_array_describe(a).data);
      zmlx_array *last = NULL;
      CHECK_OK(zmlx_array_slice(rv, 0, -1, INT64_MAX, 1, &last));
      zmlx_array *tiny = NULL;
      if (last) CHECK_OK(zmlx_array_slice(last, 1, -2, INT64_MAX, 1, &tiny));
      zmlx_array *t2 = NULL;
      if (tiny) CHECK_OK(zmlx_array_slice(tiny, 2, 0, 5, 1, &t2));
      if (t2) {
        float got[10];
        memset(got, 0xCD, sizeof got);
        CHECK_EQ_INT(zmlx_array_numel(t2), 10);
        CHECK_OK(zmlx_array_to_host(t2, got, sizeof got));
        for (int i = 0; i < 10; i++) CHECK(got[i] == val);
      }
      zmlx_array_release(last);
      zmlx_array_release(tiny);
      zmlx_array_release(t2);
    }
    CHECK_OK(zmlx_alloc_stats_get(dev, &after));
    CHECK(after.peak_in_use < ((uint64_t)1 << 30)); /* never materialized */
    zmlx_array_release(rv);
    zmlx_array_release(r);
    zmlx_array_release(w);
    zmlx_array_release(a);
    zmlx_array_release(b);
  }
}

ZT_MAIN(ZT(t_reshape_contiguous_is_view), ZT(t_reshape_needs_copy), ZT(t_reshape_random_views),
        ZT(t_reshape_errors), ZT(t_permute_all_4d), ZT(t_permute_errors), ZT(t_transpose),
        ZT(t_slice_python_semantics), ZT(t_slice_chains), ZT(t_slice_errors),
        ZT(t_broadcast_to), ZT(t_expand_squeeze), ZT(t_view_chain), ZT(t_contiguous),
        ZT(t_write_through_views), ZT(t_huge_broadcast),
        /* Last: under UBSan these abort the process on the library's signed
         * overflow (see the report), so everything else runs first. */
        ZT(t_reshape_overflow), ZT(t_slice_extreme_steps))
