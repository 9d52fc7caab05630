/* The image family's catalog entries: f64 references from the definitions
 * (PyTorch's bilinear source coordinates; a direct 3x3 correlation),
 * their gradients as scatters, and runners. */
#include <math.h>

#include "catalog/registry.h"
#include "zmlx/catalog_image.h"

/* One axis of a bilinear resize: the two source pixels and weights. */
static void axis(int64_t dst, int64_t in, int64_t out, int ac, int64_t *i0, int64_t *i1,
                 double *l0, double *l1) {
  double src;
  if (ac) {
    src = out > 1 ? (double)dst * (double)(in - 1) / (double)(out - 1) : 0;
  } else {
    src = ((double)dst + 0.5) * (double)in / (double)out - 0.5;
    if (src < 0) src = 0;
  }
  *i0 = (int64_t)floor(src);
  if (*i0 > in - 1) *i0 = in - 1;
  *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
  *l1 = src - (double)*i0;
  *l0 = 1 - *l1;
}

/* Calls f(out index, x index, weight) for every term of the resize. */
#define RESIZE_TERMS(c, BODY)                                                             \
  do {                                                                                    \
    const zcat_tensor *x_ = &(c)->in[0];                                                  \
    int64_t N = x_->shape[0], H = x_->shape[1], W = x_->shape[2], C = x_->shape[3];       \
    int64_t OH = (int64_t)(c)->p[0], OW = (int64_t)(c)->p[1];                             \
    int ac = (c)->p[2] != 0;                                                              \
    for (int64_t n = 0; n < N; n++)                                                       \
      for (int64_t oy = 0; oy < OH; oy++) {                                               \
        int64_t y[2];                                                                     \
        double ly[2];                                                                     \
        axis(oy, H, OH, ac, &y[0], &y[1], &ly[0], &ly[1]);                                \
        for (int64_t ox = 0; ox < OW; ox++) {                                             \
          int64_t xs[2];                                                                  \
          double lx[2];                                                                   \
          axis(ox, W, OW, ac, &xs[0], &xs[1], &lx[0], &lx[1]);                            \
          for (int64_t ch = 0; ch < C; ch++)                                              \
            for (int a = 0; a < 2; a++)                                                   \
              for (int b = 0; b < 2; b++) {                                               \
                int64_t o_ = ((n * OH + oy) * OW + ox) * C + ch;                          \
                int64_t i_ = ((n * H + y[a]) * W + xs[b]) * C + ch;                       \
                double w_ = ly[a] * lx[b];                                                \
                BODY;                                                                     \
              }                                                                           \
        }                                                                                 \
      }                                                                                   \
  } while (0)

static void resize_ref(const zcat_host_call *c) {
  RESIZE_TERMS(c, c->out[0].v[o_] += w_ * x_->v[i_]);
}

static void resize_ref_grad(const zcat_host_call *c) {
  RESIZE_TERMS(c, c->din[0].v[i_] += w_ * c->dout[0].v[o_]);
}

static zmlx_status resize_run(const zcat_dev_call *c) {
  return zmlx_resize_bilinear(c->in[0], (int64_t)c->p[0], (int64_t)c->p[1], c->p[2] != 0,
                              &c->out[0]);
}

static zmlx_status resize_run_grad(const zcat_dev_call *c) {
  return zmlx_resize_bilinear_backward(c->in[0], c->dout[0], c->p[2] != 0, &c->din[0]);
}

/* Calls BODY for each (output, input, weight) product of the correlation. */
#define CONV_TERMS(c, BODY)                                                               \
  do {                                                                                    \
    const zcat_tensor *x_ = &(c)->in[0];                                                  \
    int64_t N = x_->shape[0], H = x_->shape[1], W = x_->shape[2], C = x_->shape[3];       \
    for (int64_t n = 0; n < N; n++)                                                       \
      for (int64_t h = 0; h < H; h++)                                                     \
        for (int64_t w = 0; w < W; w++)                                                   \
          for (int64_t ch = 0; ch < C; ch++)                                              \
            for (int i = 0; i < 3; i++)                                                   \
              for (int j = 0; j < 3; j++) {                                               \
                int64_t y = h + i - 1, xx = w + j - 1;                                    \
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;                       \
                int64_t o_ = ((n * H + h) * W + w) * C + ch;                               \
                int64_t i_ = ((n * H + y) * W + xx) * C + ch;                              \
                int64_t k_ = (i * 3 + j) * C + ch;                                        \
                BODY;                                                                     \
              }                                                                           \
  } while (0)

static void conv_ref(const zcat_host_call *c) {
  const zcat_tensor *b = &c->in[2];
  int64_t nc = c->in[0].shape[3];
  for (int64_t o = 0; o < c->out[0].n; o++) c->out[0].v[o] = b->v[o % nc];
  CONV_TERMS(c, c->out[0].v[o_] += x_->v[i_] * c->in[1].v[k_]);
}

static void conv_ref_grad(const zcat_host_call *c) {
  int64_t nc = c->in[0].shape[3];
  for (int64_t o = 0; o < c->dout[0].n; o++) c->din[2].v[o % nc] += c->dout[0].v[o];
  CONV_TERMS(c, {
    c->din[0].v[i_] += c->dout[0].v[o_] * c->in[1].v[k_];
    c->din[1].v[k_] += c->dout[0].v[o_] * x_->v[i_];
  });
}

static zmlx_status conv_run(const zcat_dev_call *c) {
  return zmlx_depthwise_conv3x3(c->in[0], c->in[1], c->in[2], &c->out[0]);
}

static zmlx_status conv_run_grad(const zcat_dev_call *c) {
  return zmlx_depthwise_conv3x3_backward(c->in[0], c->in[1], c->in[2], c->dout[0], &c->din[0],
                                         &c->din[1], &c->din[2]);
}

static const char *const resize_cases[] = {
    "N=1 H=1 W=1 C=1 P=1 Q=1 oh=1 ow=1",
    "N=2 H=5 W=7 C=3 P=9 Q=4 oh=9 ow=4",
    "N=1 H=4 W=4 C=2 P=8 Q=7 oh=8 ow=7 align_corners=1",
    "N=3 H=6 W=5 C=1 P=2 Q=3 oh=2 ow=3 align_corners=1",
    "N=1 H=3 W=3 C=4 P=1 Q=1 oh=1 ow=1 align_corners=1",
    "N=0 H=3 W=3 C=2 P=4 Q=4 oh=4 ow=4",
    "N=2 H=3 W=3 C=2 P=0 Q=4 oh=0 ow=4",
    "N=2 H=4 W=6 C=5 P=7 Q=3 oh=7 ow=3 ~x",
    "N=1 H=17 W=9 C=8 P=50 Q=4 oh=50 ow=4",
    NULL};
static const char *const resize_bad[] = {"x:2x3x4 oh=2 ow=2 => SHAPE_MISMATCH",
                                         "x:1x2x2x1 oh=-1 ow=2 => INVALID_ARGUMENT",
                                         "x:1x0x2x1 oh=2 ow=2 => SHAPE_MISMATCH", NULL};
static const char *const conv_cases[] = {
    "N=1 H=1 W=1 C=1", "N=2 H=5 W=7 C=3", "N=1 H=2 W=2 C=9",      "N=0 H=4 W=4 C=2",
    "N=2 H=3 W=0 C=4", "N=1 H=4 W=4 C=0", "N=2 H=6 W=5 C=4 ~x",  "N=1 H=9 W=3 C=2 ~w",
    NULL};
static const char *const conv_bad[] = {"x:2x3x4 w:3x3x4 bias:4 => SHAPE_MISMATCH",
                                       "x:1x3x3x4 w:2x3x4 bias:4 => SHAPE_MISMATCH", NULL};

static const zcat_entry entries[] = {
    {.name = "resize_bilinear", .family = "image",
     .summary = "bilinear resize, NHWC, as F.interpolate (align_corners 0: half-pixel)",
     .api = "zmlx_resize_bilinear", .n_in = 1, .n_out = 1,
     .in = {{"x", "N,H,W,C", ZCAT_GRAD}}, .out = {{"y", "N,P,Q,C"}}, .n_params = 3,
     .params = {{"oh", 1}, {"ow", 1}, {"align_corners", 0}}, .dtypes = ZCAT_DT_FLOATS,
     .backends = ZCAT_ALL_BACKENDS, .ref = resize_ref, .ref_grad = resize_ref_grad,
     .run = resize_run, .run_grad = resize_run_grad, .cases = resize_cases, .bad = resize_bad,
     .perf = "N=8 H=256 W=256 C=64 P=512 Q=512 oh=512 ow=512"},
    {.name = "depthwise_conv3x3", .family = "image",
     .summary = "depthwise 3x3 convolution, NHWC, stride 1, padding 1, weight (3, 3, C)",
     .api = "zmlx_depthwise_conv3x3", .n_in = 3, .n_out = 1,
     .in = {{"x", "N,H,W,C", ZCAT_GRAD}, {"w", "3,3,C", ZCAT_GRAD},
            {"bias", "C", ZCAT_GRAD | ZCAT_OPTIONAL}},
     .out = {{"y", "N,H,W,C"}}, .dtypes = ZCAT_DT_FLOATS, .backends = ZCAT_ALL_BACKENDS,
     .ref = conv_ref, .ref_grad = conv_ref_grad, .run = conv_run, .run_grad = conv_run_grad,
     .cases = conv_cases, .bad = conv_bad, .perf = "N=16 H=112 W=112 C=128"},
};

const zcat_family zcat_family_image = {"image", "Image", entries,
                                       (int)(sizeof entries / sizeof entries[0])};
