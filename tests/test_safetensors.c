/* Safetensors reading and writing.
 *
 * References: byte vectors from the reference implementation's own tests
 * (safetensors/src/tensor.rs: test_serialization, test_empty,
 * test_serialization_forced_alignement), and a small serializer written
 * here from the format's description, against which every file the
 * library writes is compared byte for byte. Tensors of every dtype, odd
 * and empty shapes and awkward names (quotes, control characters,
 * non-ASCII) come from a fresh seed each run (ZT_SEED reproduces).
 * Corrupt files, one per rule of the format, must fail with CORRUPT_DATA
 * and a message naming the file and the problem; random mutations of a
 * valid file must never crash. Loads run on every device. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZT_SUITE_NAME "test_safetensors"
#define ZT_SUITE_SALT 0x5afe7ull
#include "zt_suite.h"
#include "model/st_internal.h"

static char g_dir[256];

static void cleanup(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  if (!g_dir[0]) {
    snprintf(g_dir, sizeof g_dir, "/tmp/zmlx-st-XXXXXX");
    if (!mkdtemp(g_dir))
      g_dir[0] = 0;
    else
      atexit(cleanup);
  }
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK(fwrite(p, 1, n, f) == n);
  fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  *n = 0;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)len + 1);
  *n = fread(p, 1, (size_t)len, f);
  fclose(f);
  return p;
}

/* ---- the reference serializer ------------------------------------------- */

/* The format's dtypes in the reference implementation's enum order. */
static const char *const REF_ORDER[] = {"BOOL",    "F4",          "F6_E2M3",     "F6_E3M2",
                                        "U8",      "I8",          "F8_E5M2",     "F8_E4M3",
                                        "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
                                        "U16",     "F16",         "BF16",        "I32",
                                        "U32",     "F32",         "C64",         "F64",
                                        "I64",     "U64"};
static int ref_rank(const char *dt) {
  for (int i = 0; i < (int)(sizeof REF_ORDER / sizeof REF_ORDER[0]); i++)
    if (!strcmp(dt, REF_ORDER[i])) return i;
  return -1;
}

typedef struct ref_tensor {
  char name[64];
  const char *dtype; /* format name */
  int ndim;
  int64_t shape[ZMLX_MAX_DIMS];
  unsigned char *bytes;
  size_t nbytes;
} ref_tensor;

static int ref_cmp(const void *a, const void *b) {
  const ref_tensor *x = a, *y = b;
  int rx = ref_rank(x->dtype), ry = ref_rank(y->dtype);
  if (rx != ry) return ry - rx;
  return strcmp(x->name, y->name);
}

static void ref_string(char **p, const char *s) {
  *(*p)++ = '"';
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      *(*p)++ = '\\';
      *(*p)++ = (char)*c;
    } else if (*c == '\n' || *c == '\t' || *c == '\r' || *c == '\b' || *c == '\f') {
      *(*p)++ = '\\';
      *(*p)++ = *c == '\n' ? 'n' : *c == '\t' ? 't' : *c == '\r' ? 'r' : *c == '\b' ? 'b' : 'f';
    } else if (*c < 0x20) {
      *p += sprintf(*p, "\\u%04x", *c);
    } else {
      *(*p)++ = (char)*c;
    }
  }
  *(*p)++ = '"';
}

/* The file the format says n tensors (+ one metadata pair) make. */
static unsigned char *ref_file(ref_tensor *t, int n, const char *mkey, const char *mval,
                               size_t *len) {
  qsort(t, (size_t)n, sizeof *t, ref_cmp);
  size_t data = 0;
  for (int i = 0; i < n; i++) data += t[i].nbytes;
  char *h = malloc(4096 + (size_t)n * 512), *p = h;
  *p++ = '{';
  if (mkey) {
    p += sprintf(p, "\"__metadata__\":{");
    ref_string(&p, mkey);
    *p++ = ':';
    ref_string(&p, mval);
    *p++ = '}';
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (i || mkey) *p++ = ',';
    ref_string(&p, t[i].name);
    p += sprintf(p, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype);
    for (int d = 0; d < t[i].ndim; d++) p += sprintf(p, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
    p += sprintf(p, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].nbytes);
    off += t[i].nbytes;
  }
  *p++ = '}';
  while ((p - h) % 8) *p++ = ' ';
  size_t hl = (size_t)(p - h);
  unsigned char *f = malloc(8 + hl + data + 1);
  for (int i = 0; i < 8; i++) f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(f + 8, h, hl);
  size_t at = 8 + hl;
  for (int i = 0; i < n; i++) {
    if (t[i].nbytes) memcpy(f + at, t[i].bytes, t[i].nbytes);
    at += t[i].nbytes;
  }
  free(h);
  *len = at;
  return f;
}

/* ---- golden bytes from the reference implementation's tests ------------- */

static void test_reference_vectors(void) {
  setup();
  static const unsigned char serialization[] = {
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
  static const unsigned char empty[] = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32};
  static const unsigned char empty_meta[] = {
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32};
  static const unsigned char aligned[] = {
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
      121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
      160, 64};
  float vals[6] = {0, 1, 2, 3, 4, 5};
  struct {
    const char *name, *mkey, *mval;
    int ndim;
    int64_t shape[4];
    const unsigned char *want;
    size_t want_len;
  } cases[] = {
      {"attn.0", NULL, NULL, 3, {1, 2, 3}, serialization, sizeof serialization},
      {"attn0", NULL, NULL, 4, {1, 1, 2, 3}, aligned, sizeof aligned},
      {NULL, NULL, NULL, 0, {0}, empty, sizeof empty},
      {NULL, "framework", "pt", 0, {0}, empty_meta, sizeof empty_meta},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    zmlx_safetensors_writer *w = NULL;
    CHECK_OK(zmlx_safetensors_writer_create(&w));
    zmlx_array *a = NULL;
    if (cases[c].name) {
      CHECK_OK(zmlx_array_from_host(vals, ZMLX_DTYPE_F32, cases[c].ndim, cases[c].shape, ZMLX_CPU, &a));
      CHECK_OK(zmlx_safetensors_writer_add(w, cases[c].name, a));
    }
    if (cases[c].mkey) CHECK_OK(zmlx_safetensors_writer_metadata(w, cases[c].mkey, cases[c].mval));
    const char *path = tmp_path("golden.safetensors");
    CHECK_OK(zmlx_safetensors_writer_write(w, path));
    size_t n;
    unsigned char *got = read_bytes(path, &n);
    CHECK_MSG(got && n == cases[c].want_len && !memcmp(got, cases[c].want, n),
              "case %zu: written bytes differ from the reference implementation's", c);
    free(got);
    /* and the golden file reads back */
    write_bytes(path, cases[c].want, cases[c].want_len);
    zmlx_safetensors *st = NULL;
    CHECK_OK(zmlx_safetensors_open(path, &st));
    CHECK_EQ_INT(zmlx_safetensors_count(st), cases[c].name ? 1 : 0);
    if (cases[c].mkey) CHECK(!strcmp(zmlx_safetensors_metadata_get(st, "framework") ? zmlx_safetensors_metadata_get(st, "framework") : "", "pt"));
    if (cases[c].name) {
      zmlx_array *b = NULL;
      CHECK_OK(zmlx_safetensors_load(st, cases[c].name, ZMLX_CPU, &b));
      float back[6] = {0};
      if (b) CHECK_OK(zmlx_array_to_host(b, back, sizeof back));
      CHECK(!memcmp(back, vals, sizeof vals));
      zmlx_array_release(b);
    }
    zmlx_safetensors_close(st);
    zmlx_array_release(a);
    zmlx_safetensors_writer_destroy(w);
  }
}

/* ---- random round trips -------------------------------------------------- */

static void random_name(char *out, int i) {
  static const char *const pieces[] = {"model", ".", "layers", "_", "q\"uote", "back\\slash",
                                       "tab\t", "nl\n", "\x01", "\xc3\xa9", "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80", "weight", "/", " ", "\x7f"};
  int n = (int)rnd_in(1, 5);
  out[0] = 0;
  for (int k = 0; k < n; k++) strcat(out, pieces[rnd_in(0, 15)]);
  sprintf(out + strlen(out), "%d", i);
}

static void test_roundtrip_random(void) {
  setup();
  for (int round = 0; round < 6; round++) {
    int n = (int)rnd_in(round == 0 ? 0 : 1, 14);
    ref_tensor ref[16];
    zmlx_array *arrays[16] = {0};
    zmlx_safetensors_writer *w = NULL;
    CHECK_OK(zmlx_safetensors_writer_create(&w));
    for (int i = 0; i < n; i++) {
      ref_tensor *t = &ref[i];
      zmlx_dtype dt = ALL_DTYPES[rnd_in(0, ZMLX_DTYPE_COUNT - 1)];
      random_name(t->name, i);
      t->dtype = zmlx_st_dtype_name(zmlx_st_dtype_from_zmlx(dt));
      t->ndim = (int)rnd_in(0, 4);
      int64_t numel = 1;
      for (int d = 0; d < t->ndim; d++) {
        t->shape[d] = rnd_in(0, 10) == 0 ? 0 : rnd_in(1, 7);
        numel *= t->shape[d];
      }
      t->nbytes = (size_t)numel * zmlx_dtype_size(dt);
      t->bytes = malloc(t->nbytes + 1);
      rnd_bytes(t->bytes, t->nbytes);
      if (dt == ZMLX_DTYPE_BOOL)
        for (size_t b = 0; b < t->nbytes; b++) t->bytes[b] &= 1;
      CHECK_OK(zmlx_array_from_host(t->bytes, dt, t->ndim, t->shape, ZMLX_CPU, &arrays[i]));
      /* half through a strided view, to write a non-contiguous array */
      if (rnd_in(0, 1) && t->ndim == 2 && t->shape[0] > 1 && t->shape[1] > 1) {
        zmlx_array *tr = NULL, *back = NULL;
        int64_t sh[2] = {t->shape[1], t->shape[0]};
        zmlx_array *base = NULL;
        CHECK_OK(zmlx_array_empty(dt, 2, sh, ZMLX_CPU, &base));
        CHECK_OK(zmlx_array_transpose(base, 0, 1, &tr));
        CHECK_OK(zmlx_array_copy_into(tr, arrays[i]));
        zmlx_array_release(arrays[i]);
        arrays[i] = tr;
        zmlx_array_release(base);
        (void)back;
      }
      CHECK_OK(zmlx_safetensors_writer_add(w, t->name, arrays[i]));
    }
    int with_meta = (int)rnd_in(0, 1);
    if (with_meta) CHECK_OK(zmlx_safetensors_writer_metadata(w, "format", "pt\n\"x\""));
    const char *path = tmp_path("rt.safetensors");
    CHECK_OK(zmlx_safetensors_writer_write(w, path));
    size_t got_len, want_len;
    unsigned char *got = read_bytes(path, &got_len);
    unsigned char *want = ref_file(ref, n, with_meta ? "format" : NULL, "pt\n\"x\"", &want_len);
    CHECK_MSG(got && got_len == want_len && !memcmp(got, want, want_len),
              "round %d: file bytes differ from the reference layout (%zu vs %zu bytes)", round,
              got_len, want_len);
    free(got);
    free(want);

    zmlx_safetensors *st = NULL;
    CHECK_OK(zmlx_safetensors_open(path, &st));
    CHECK_EQ_INT(zmlx_safetensors_count(st), n);
    int bad = 0;
    for (int i = 0; i < n && st; i++) {
      ref_tensor *t = &ref[i];
      zmlx_st_tensor info;
      CHECK_OK(zmlx_safetensors_find(st, t->name, &info));
      if (strcmp(zmlx_st_dtype_name(info.dtype), t->dtype) || info.ndim != t->ndim ||
          info.nbytes != t->nbytes)
        MISMATCH(bad, "tensor %d: dtype/shape/size", i);
      const void *raw;
      size_t nb;
      CHECK_OK(zmlx_safetensors_data(st, t->name, &raw, &nb));
      if (nb != t->nbytes || (nb && memcmp(raw, t->bytes, nb))) MISMATCH(bad, "tensor %d: raw bytes", i);
      FOR_EACH_DEVICE(dev) {
        zmlx_array *a = NULL;
        CHECK_OK(zmlx_safetensors_load(st, t->name, dev, &a));
        if (!a) continue;
        void *h = host_read(a);
        if (t->nbytes && memcmp(h, t->bytes, t->nbytes)) MISMATCH(bad, "tensor %d on %s", i, devname(dev));
        free(h);
        zmlx_array_release(a);
      }
    }
    CHECK_EQ_INT(bad, 0);
    if (with_meta) {
      const char *v = zmlx_safetensors_metadata_get(st, "format");
      CHECK(v && !strcmp(v, "pt\n\"x\""));
    }
    zmlx_safetensors_close(st);
    for (int i = 0; i < n; i++) {
      free(ref[i].bytes);
      zmlx_array_release(arrays[i]);
    }
    zmlx_safetensors_writer_destroy(w);
  }
}

/* ---- zero copy, conversion, alignment ------------------------------------ */

static void test_zero_copy_and_lifetime(void) {
  setup();
  int64_t shape[2] = {37, 53};
  float *v = malloc(sizeof(float) * 37 * 53);
  for (int i = 0; i < 37 * 53; i++) v[i] = (float)(rnd_unit() * 2 - 1);
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_from_host(v, ZMLX_DTYPE_F32, 2, shape, ZMLX_CPU, &a));
  const char *path = tmp_path("zc.safetensors");
  const char *names[1] = {"w"};
  CHECK_OK(zmlx_safetensors_save(path, 1, names, &a));
  zmlx_safetensors *st = NULL;
  CHECK_OK(zmlx_safetensors_open(path, &st));
  const void *raw = NULL;
  CHECK_OK(zmlx_safetensors_data(st, "w", &raw, NULL));
  zmlx_array *b = NULL;
  CHECK_OK(zmlx_safetensors_load(st, "w", ZMLX_CPU, &b));
  zmlx_array_desc d = zmlx_array_describe(b);
  CHECK_MSG(d.data == raw, "a CPU load of aligned data must view the mapping");
  zmlx_safetensors_close(st);
  /* the view outlives the handle, and writing to it leaves the file alone */
  float *h = host_read(b);
  CHECK(!memcmp(h, v, sizeof(float) * 37 * 53));
  free(h);
  zmlx_array *ones = NULL;
  CHECK_OK(zmlx_array_ones(ZMLX_DTYPE_F32, 2, shape, ZMLX_CPU, &ones));
  CHECK_OK(zmlx_array_copy_into(b, ones));
  h = host_read(b);
  CHECK(h[0] == 1.0f && h[37 * 53 - 1] == 1.0f);
  free(h);
  zmlx_array_release(b);
  CHECK_OK(zmlx_safetensors_open(path, &st));
  zmlx_array *c = NULL;
  CHECK_OK(zmlx_safetensors_load(st, "w", ZMLX_CPU, &c));
  h = host_read(c);
  CHECK_MSG(!memcmp(h, v, sizeof(float) * 37 * 53), "the file changed after writing to a view");
  free(h);
  /* load_as: conversions on every device against host conversions */
  FOR_EACH_DEVICE(dev) {
    zmlx_array *bf = NULL;
    CHECK_OK(zmlx_safetensors_load_as(st, "w", ZMLX_DTYPE_BF16, dev, &bf));
    if (!bf) continue;
    uint16_t *got = host_read(bf);
    int bad = 0;
    for (int i = 0; i < 37 * 53; i++)
      if (got[i] != zmlx_f32_to_bf16(v[i])) MISMATCH(bad, "element %d on %s", i, devname(dev));
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(zmlx_array_dtype(bf), ZMLX_DTYPE_BF16);
    free(got);
    zmlx_array_release(bf);
  }
  zmlx_array_release(c);
  zmlx_array_release(ones);
  zmlx_safetensors_close(st);
  zmlx_array_release(a);
  free(v);
}

/* A header whose length is not a multiple of 8 puts an f32 tensor at an
 * odd address: the load copies instead of viewing, with the same values. */
static void test_unaligned(void) {
  setup();
  const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
  size_t hl = strlen(hdr);
  CHECK(hl % 4 != 0);
  unsigned char file[256];
  for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(file + 8, hdr, hl);
  float v[3] = {1.5f, -2.25f, 1e30f};
  memcpy(file + 8 + hl, v, sizeof v);
  const char *path = tmp_path("unaligned.safetensors");
  write_bytes(path, file, 8 + hl + sizeof v);
  zmlx_safetensors *st = NULL;
  CHECK_OK(zmlx_safetensors_open(path, &st));
  FOR_EACH_DEVICE(dev) {
    zmlx_array *a = NULL;
    CHECK_OK(zmlx_safetensors_load(st, "x", dev, &a));
    if (!a) continue;
    float *h = host_read(a);
    CHECK(!memcmp(h, v, sizeof v));
    free(h);
    zmlx_array_release(a);
  }
  zmlx_safetensors_close(st);
}

/* Dtypes ZMLX lacks: listed and readable as bytes, refused as arrays,
 * written back exactly. */
static void test_foreign_dtypes(void) {
  setup();
  uint16_t u16[5];
  uint8_t f4[3], e8m0[4];
  rnd_bytes(u16, sizeof u16);
  rnd_bytes(f4, sizeof f4);
  rnd_bytes(e8m0, sizeof e8m0);
  zmlx_safetensors_writer *w = NULL;
  CHECK_OK(zmlx_safetensors_writer_create(&w));
  int64_t s5[1] = {5}, s6[2] = {2, 3}, s4[1] = {4};
  CHECK_OK(zmlx_safetensors_writer_add_raw(w, "u", ZMLX_ST_DTYPE_U16, 1, s5, u16, sizeof u16));
  CHECK_OK(zmlx_safetensors_writer_add_raw(w, "f4", ZMLX_ST_DTYPE_F4, 2, s6, f4, sizeof f4));
  CHECK_OK(zmlx_safetensors_writer_add_raw(w, "e", ZMLX_ST_DTYPE_F8_E8M0, 1, s4, e8m0, 4));
  int64_t odd[1] = {3};
  CHECK_STATUS(zmlx_safetensors_writer_add_raw(w, "half", ZMLX_ST_DTYPE_F4, 1, odd, f4, 2),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_safetensors_writer_add_raw(w, "u", ZMLX_ST_DTYPE_U8, 1, odd, f4, 3),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_safetensors_writer_add_raw(w, "__metadata__", ZMLX_ST_DTYPE_U8, 1, odd, f4, 3),
               ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_safetensors_writer_add_raw(w, "\xff", ZMLX_ST_DTYPE_U8, 1, odd, f4, 3),
               ZMLX_STATUS_INVALID_ARGUMENT);
  const char *path = tmp_path("foreign.safetensors");
  CHECK_OK(zmlx_safetensors_writer_write(w, path));
  zmlx_safetensors_writer_destroy(w);
  zmlx_safetensors *st = NULL;
  CHECK_OK(zmlx_safetensors_open(path, &st));
  zmlx_array *a = NULL;
  CHECK_STATUS(zmlx_safetensors_load(st, "u", ZMLX_CPU, &a), ZMLX_STATUS_DTYPE_UNSUPPORTED);
  CHECK_CONTAINS(zmlx_error_last(), "U16");
  CHECK_CONTAINS(zmlx_error_last(), "foreign.safetensors");
  CHECK(a == NULL);
  const void *raw;
  size_t nb;
  CHECK_OK(zmlx_safetensors_data(st, "f4", &raw, &nb));
  CHECK(nb == 3 && !memcmp(raw, f4, 3));
  CHECK_OK(zmlx_safetensors_data(st, "u", &raw, &nb));
  CHECK(nb == sizeof u16 && !memcmp(raw, u16, nb));
  CHECK_STATUS(zmlx_safetensors_find(st, "missing", NULL), ZMLX_STATUS_NOT_FOUND);
  CHECK_CONTAINS(zmlx_error_last(), "missing");
  zmlx_safetensors_close(st);
}

/* ---- shards --------------------------------------------------------------- */

static void save_one(const char *path, const char *name, float value) {
  int64_t shape[1] = {3};
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_full(ZMLX_DTYPE_F32, 1, shape, value, ZMLX_CPU, &a));
  CHECK_OK(zmlx_safetensors_save(path, 1, &name, &a));
  zmlx_array_release(a);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static void test_shards(void) {
  setup();
  char dir[600];
  snprintf(dir, sizeof dir, "%s", tmp_path("sharded"));
  mkdir(dir, 0755);
  char p1[700], p2[700], idx[700];
  snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
  snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
  save_one(p1, "a", 1.0f);
  save_one(p2, "b", 2.0f);
  write_text(idx, "{\"metadata\":{\"total_size\":24},\"weight_map\":{"
                  "\"a\":\"model-00001-of-00002.safetensors\","
                  "\"b\":\"model-00002-of-00002.safetensors\"}}");
  zmlx_safetensors *st = NULL;
  CHECK_OK(zmlx_safetensors_open(dir, &st));
  CHECK_EQ_INT(zmlx_safetensors_count(st), 2);
  CHECK_EQ_INT(zmlx_safetensors_file_count(st), 2);
  FOR_EACH_DEVICE(dev) {
    zmlx_array *b = NULL;
    CHECK_OK(zmlx_safetensors_load(st, "b", dev, &b));
    float *h = b ? host_read(b) : NULL;
    CHECK(h && h[0] == 2.0f && h[2] == 2.0f);
    free(h);
    zmlx_array_release(b);
  }
  zmlx_safetensors_close(st);
  CHECK_OK(zmlx_safetensors_open(idx, &st));
  zmlx_safetensors_close(st);

  char p3[700];
  snprintf(p3, sizeof p3, "%s/extra.safetensors", dir);
  {
    zmlx_safetensors_writer *w = NULL;
    int64_t one[1] = {1};
    float x = 0;
    CHECK_OK(zmlx_safetensors_writer_create(&w));
    CHECK_OK(zmlx_safetensors_writer_add_raw(w, "c", ZMLX_ST_DTYPE_F32, 1, one, &x, 4));
    CHECK_OK(zmlx_safetensors_writer_add_raw(w, "d", ZMLX_ST_DTYPE_F32, 1, one, &x, 4));
    CHECK_OK(zmlx_safetensors_writer_write(w, p3));
    zmlx_safetensors_writer_destroy(w);
  }
  struct {
    const char *index, *want;
  } bad[] = {
      {"{\"weight_map\":{\"c\":\"extra.safetensors\"}}", "does not list"},
      {"{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002."
       "safetensors\"}}", "does not hold"},
      {"{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}", "inside the index"},
      {"{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "inside the index"},
      {"{\"weight_map\":{\"a\":\"nothere.safetensors\"}}", "nothere.safetensors"},
      {"{\"weight_map\":[]}", "weight_map"},
      {"{\"weight_map\":{\"a\":7}}", "weight_map entry 'a'"},
      {"{\"weight_map\":{\"a\":\"x\",\"a\":\"x\"}}", "twice"},
      {"[1,2]", "not a JSON object"},
      {"{\"weight_map\":{", "line 1"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_text(idx, bad[i].index);
    zmlx_status s = zmlx_safetensors_open(dir, &st);
    CHECK_MSG(s != ZMLX_STATUS_OK && st == NULL, "bad index %zu opened", i);
    CHECK_CONTAINS(zmlx_error_last(), bad[i].want);
    CHECK_CONTAINS(zmlx_error_last(), "model.safetensors.index.json");
  }
  /* no index: every *.safetensors of the folder; a name in two files fails */
  unlink(idx);
  unlink(p3);
  CHECK_OK(zmlx_safetensors_open(dir, &st));
  CHECK_EQ_INT(zmlx_safetensors_count(st), 2);
  zmlx_safetensors_close(st);
  save_one(p2, "a", 3.0f);
  CHECK_STATUS(zmlx_safetensors_open(dir, &st), ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "in both");
  unlink(p1);
  unlink(p2);
  CHECK_STATUS(zmlx_safetensors_open(dir, &st), ZMLX_STATUS_NOT_FOUND);
  CHECK_STATUS(zmlx_safetensors_open(tmp_path("absent.safetensors"), &st), ZMLX_STATUS_NOT_FOUND);
  rmdir(dir);
}

/* ---- corrupt files -------------------------------------------------------- */

/* header text + data bytes -> a file image (length prefix computed). */
static size_t image(unsigned char *out, const char *header, size_t data_len) {
  size_t hl = strlen(header);
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(out + 8, header, hl);
  memset(out + 8 + hl, 0x11, data_len);
  return 8 + hl + data_len;
}

static void test_corrupt_headers(void) {
  setup();
  static const struct {
    const char *header;
    size_t data;
    const char *want;
  } cases[] = {
      {"[]", 0, "does not start with '{'"},
      {" {}", 0, "does not start with '{'"},
      {"{", 0, "header JSON"},
      {"{}x", 0, "header JSON"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, "header JSON"},
      {"{\"a\":1}", 0, "expected an object"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice"},
      {"{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'F31'"},
      {"{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype"},
      {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not a string"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "not an array"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dimensions"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "two integers"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "two integers"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "give 8 bytes"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4, "overflows"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 4, "non-negative integers"},
      {"{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "whole byte"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a hole of 4 bytes"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, "2 bytes after the last"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "truncated"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, "unknown field 'extra'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing 'data_offsets'"},
      {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing 'dtype'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"dtype\":\"F32\"}}", 4, "appears twice"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "only strings"},
      {"{\"__metadata__\":[]}", 0, "not an object"},
      {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "twice"},
      {"{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "UTF-8"},
      {"{\"a\xc0\x80\":1}", 0, "UTF-8"},
      {"{\"a\xed\xa0\x80\":1}", 0, "UTF-8"},
  };
  unsigned char buf[1024];
  const char *path = tmp_path("corrupt.safetensors");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = image(buf, cases[i].header, cases[i].data);
    zst_header h;
    zmlx_status s = zst_header_parse("mem.safetensors", buf, n, &h);
    CHECK_MSG(s == ZMLX_STATUS_CORRUPT_DATA, "case %zu (%s) -> %s", i, cases[i].header,
              zmlx_status_name(s));
    CHECK_CONTAINS(zmlx_error_last(), cases[i].want);
    CHECK_CONTAINS(zmlx_error_last(), "mem.safetensors");
    if (!s) zst_header_free(&h);
    write_bytes(path, buf, n);
    zmlx_safetensors *st = NULL;
    CHECK_STATUS(zmlx_safetensors_open(path, &st), ZMLX_STATUS_CORRUPT_DATA);
    CHECK_CONTAINS(zmlx_error_last(), "corrupt.safetensors");
    CHECK(st == NULL);
  }
  /* tensors named in errors */
  image(buf, "{\"good\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"layer.7\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,12]}}", 8);
  zst_header h;
  CHECK(zst_header_parse("m", buf, 8 + strlen((char *)buf + 8) + 8, &h) == ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "'layer.7'");
  /* the length prefix */
  CHECK(zst_header_parse("m", buf, 7, &h) == ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "shorter than the 8-byte");
  memset(buf, 0xff, 16);
  CHECK(zst_header_parse("m", buf, 16, &h) == ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "over the format's limit");
  memset(buf, 0, 16);
  buf[0] = 100;
  CHECK(zst_header_parse("m", buf, 16, &h) == ZMLX_STATUS_CORRUPT_DATA);
  CHECK_CONTAINS(zmlx_error_last(), "runs past the end");
  write_bytes(path, buf, 0);
  zmlx_safetensors *st = NULL;
  CHECK_STATUS(zmlx_safetensors_open(path, &st), ZMLX_STATUS_CORRUPT_DATA);
  CHECK_STATUS(zmlx_safetensors_open(g_dir, &st), ZMLX_STATUS_CORRUPT_DATA);
  unlink(path);
}

/* Random byte flips, truncations and splices of a valid file: every
 * outcome is OK or CORRUPT_DATA, and an accepted file lists tensors whose
 * extents lie inside it. (The libFuzzer target does this at length.) */
static void test_mutations(void) {
  setup();
  ref_tensor t[3] = {{"alpha", "F32", 2, {2, 3}, NULL, 24},
                     {"beta", "BF16", 1, {5}, NULL, 10},
                     {"gamma", "U8", 0, {0}, NULL, 1}};
  for (int i = 0; i < 3; i++) {
    t[i].bytes = malloc(t[i].nbytes);
    rnd_bytes(t[i].bytes, t[i].nbytes);
  }
  size_t len;
  unsigned char *good = ref_file(t, 3, "format", "pt", &len);
  unsigned char *m = malloc(len + 64);
  int accepted = 0, bad = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = len;
    memcpy(m, good, len);
    int edits = (int)rnd_in(1, 4);
    for (int e = 0; e < edits; e++) {
      int kind = (int)rnd_in(0, 3);
      if (kind == 0) m[rnd_in(0, (int64_t)n - 1)] ^= (unsigned char)(1u << rnd_in(0, 7));
      if (kind == 1) m[rnd_in(0, (int64_t)n - 1)] = (unsigned char)rnd();
      if (kind == 2) n = (size_t)rnd_in(0, (int64_t)n);
      if (kind == 3 && n > 9)
        m[rnd_in(8, (int64_t)(n < 80 ? n : 80) - 1)] = (unsigned char)"{}[]\",:0123456789-.eE \\"[rnd_in(0, 22)];
      if (n == 0) break;
    }
    zst_header h;
    zmlx_status s = zst_header_parse("mut", m, n, &h);
    if (s != ZMLX_STATUS_OK && s != ZMLX_STATUS_CORRUPT_DATA) MISMATCH(bad, "status %d", (int)s);
    if (s == ZMLX_STATUS_OK) {
      accepted++;
      for (int64_t i = 0; i < h.n; i++)
        if (h.data_start + h.entries[i].end > n) MISMATCH(bad, "tensor past the end");
      zst_header_free(&h);
    }
  }
  CHECK_EQ_INT(bad, 0);
  CHECK(accepted > 0); /* flips inside tensor data keep the file valid */
  free(m);
  free(good);
  for (int i = 0; i < 3; i++) free(t[i].bytes);
}

static void test_writer_errors(void) {
  setup();
  zmlx_safetensors_writer *w = NULL;
  CHECK_OK(zmlx_safetensors_writer_create(&w));
  int64_t s1[1] = {2};
  zmlx_array *a = NULL;
  CHECK_OK(zmlx_array_zeros(ZMLX_DTYPE_F16, 1, s1, ZMLX_CPU, &a));
  CHECK_OK(zmlx_safetensors_writer_add(w, "x", a));
  CHECK_STATUS(zmlx_safetensors_writer_add(w, "x", a), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(zmlx_error_last(), "twice");
  CHECK_STATUS(zmlx_safetensors_writer_add(w, NULL, a), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_safetensors_writer_add(w, "y", NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(zmlx_safetensors_writer_metadata(w, "k", NULL), ZMLX_STATUS_INVALID_ARGUMENT);
  CHECK_OK(zmlx_safetensors_writer_metadata(w, "k", "1"));
  CHECK_OK(zmlx_safetensors_writer_metadata(w, "k", "2")); /* last value wins */
  CHECK_STATUS(zmlx_safetensors_writer_write(w, "/nonexistent-dir/x.safetensors"),
               ZMLX_STATUS_IO_ERROR);
  const char *path = tmp_path("w.safetensors");
  CHECK_OK(zmlx_safetensors_writer_write(w, path));
  zmlx_safetensors *st = NULL;
  CHECK_OK(zmlx_safetensors_open(path, &st));
  const char *v = zmlx_safetensors_metadata_get(st, "k");
  CHECK(v && !strcmp(v, "2"));
  CHECK_EQ_INT(zmlx_safetensors_metadata_count(st), 1);
  zmlx_safetensors_close(st);
  zmlx_safetensors_writer_destroy(w);
  zmlx_array_release(a);
  zmlx_safetensors_close(NULL);
  zmlx_safetensors_writer_destroy(NULL);
  CHECK_STATUS(zmlx_safetensors_open(NULL, &st), ZMLX_STATUS_INVALID_ARGUMENT);
  unlink(path);
}

static void test_dtype_table(void) {
  setup();
  for (int i = 0; i < ZMLX_DTYPE_COUNT; i++) {
    zmlx_st_dtype s = zmlx_st_dtype_from_zmlx((zmlx_dtype)i);
    zmlx_dtype back;
    CHECK(s < ZMLX_ST_DTYPE_COUNT);
    CHECK(zmlx_st_dtype_to_zmlx(s, &back) == 0 && back == (zmlx_dtype)i);
    CHECK_EQ_INT(zmlx_st_dtype_bits(s), 8 * (int)zmlx_dtype_size((zmlx_dtype)i));
  }
  for (int i = 0; i < ZMLX_ST_DTYPE_COUNT; i++) {
    zmlx_st_dtype p;
    CHECK(zmlx_st_dtype_parse(zmlx_st_dtype_name((zmlx_st_dtype)i), &p) == 0 && p == (zmlx_st_dtype)i);
    CHECK_EQ_INT(ref_rank(zmlx_st_dtype_name((zmlx_st_dtype)i)), i);
  }
  CHECK(zmlx_st_dtype_parse("bf16", NULL) != 0);
}

ZT_MAIN(ZT(test_dtype_table), ZT(test_reference_vectors), ZT(test_roundtrip_random),
        ZT(test_zero_copy_and_lifetime), ZT(test_unaligned), ZT(test_foreign_dtypes),
        ZT(test_shards), ZT(test_corrupt_headers), ZT(test_mutations), ZT(test_writer_errors))
