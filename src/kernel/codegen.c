/* Source generation for run-time kernels: the prelude, the template
 * constants, typedefs for every array, the user's header, then a kernel
 * whose signature holds exactly what the body uses. The body is wrapped in
 * #line directives so compiler messages point into it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "kernel/kernel_internal.h"

extern const char zk_prelude_text[];

const char *zk_ctype(zmlx_dtype t) {
  switch (t) {
    case ZMLX_DTYPE_F32: return "float";
    case ZMLX_DTYPE_F64: return "double";
    case ZMLX_DTYPE_F16: return "zmlx_f16";
    case ZMLX_DTYPE_BF16: return "zmlx_bf16";
    case ZMLX_DTYPE_I8: return "int8_t";
    case ZMLX_DTYPE_U8: return "uint8_t";
    case ZMLX_DTYPE_I16: return "int16_t";
    case ZMLX_DTYPE_I32: return "int32_t";
    case ZMLX_DTYPE_I64: return "int64_t";
    case ZMLX_DTYPE_U32: return "uint32_t";
    case ZMLX_DTYPE_BOOL: return "zmlx_bool";
    case ZMLX_DTYPE_FP8_E4M3: return "zmlx_fp8e4m3";
    case ZMLX_DTYPE_FP8_E5M2: return "zmlx_fp8e5m2";
    default: return NULL;
  }
}

static const char *scalar_ctype(zmlx_dtype t) {
  return t == ZMLX_DTYPE_I64 ? "long long" : zk_ctype(t);
}

int zk_uses_identifier(const char *text, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
    int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
    int after = isalnum((unsigned char)p[n]) || p[n] == '_';
    if (!before && !after) return 1;
  }
  return 0;
}

static int count_lines(const zmlx_strbuf *sb) {
  int n = 1;
  for (size_t i = 0; i < sb->len; i++) n += sb->data[i] == '\n';
  return n;
}

static void emit_preamble(zmlx_strbuf *sb, const zk_spec *s) {
  const zmlx_kernel *k = s->k;
  zmlx_sb_printf(sb, "/* ZMLX kernel '%s' for %s. Generated; see include/zmlx/kernel.h. */\n",
                 k->name, s->target == ZMLX_DEVICE_CUDA ? "CUDA (NVRTC)" : "the CPU");
  zmlx_sb_append(sb, zk_prelude_text);
  zmlx_sb_append(sb, "\n/* template constants */\n");
  for (int i = 0; i < s->n_templates; i++) {
    const zmlx_template_arg *t = &s->templates[i];
    if (t->kind == ZMLX_TEMPLATE_DTYPE)
      zmlx_sb_printf(sb, "typedef %s %s;\n", zk_ctype((zmlx_dtype)t->value), t->name);
    else if (t->kind == ZMLX_TEMPLATE_BOOL)
      zmlx_sb_printf(sb, "#define %s %d\n", t->name, t->value != 0);
    else
      zmlx_sb_printf(sb, "#define %s %lldLL\n", t->name, (long long)t->value);
  }
  zmlx_sb_append(sb, "/* element types */\n");
  for (int i = 0; i < k->n_in; i++)
    zmlx_sb_printf(sb, "typedef %s %s_t;\n", zk_ctype(s->in_dtypes[i]), k->in_names[i]);
  for (int i = 0; i < k->n_out; i++)
    zmlx_sb_printf(sb, "typedef %s %s_t;\n", zk_ctype(s->out_dtypes[i]), k->out_names[i]);
  if (k->header[0]) {
    zmlx_sb_printf(sb, "#line 1 \"%s.header\"\n%s\n", k->name, k->header);
    zmlx_sb_printf(sb, "#line %d \"%s.gen\"\n", count_lines(sb) + 1, k->name);
  }
}

/* The body's parameters, in the order the launcher packs them. `by_value`
 * selects CUDA's signature (dims structs) or the CPU body's (pointers). */
static void emit_params(zmlx_strbuf *sb, const zmlx_kernel *k, int cuda) {
  const char *restrict_kw = cuda ? "__restrict__" : "restrict";
  const char *sep = "\n    ";
  for (int i = 0; i < k->n_in; i++)
    zmlx_sb_printf(sb, "%sconst %s_t *%s %s,", sep, k->in_names[i], restrict_kw, k->in_names[i]);
  for (int i = 0; i < k->n_out; i++)
    zmlx_sb_printf(sb, "%s%s_t *%s %s,", sep, k->out_names[i], restrict_kw, k->out_names[i]);
  for (int i = 0; i < k->n_sc; i++)
    zmlx_sb_printf(sb, "%sconst %s %s,", sep, scalar_ctype(k->sc_dtypes[i]), k->sc_names[i]);
  for (int side = 0; side < 2; side++) {
    int n = side ? k->n_out : k->n_in;
    for (int i = 0; i < n; i++) {
      const char *name = side ? k->out_names[i] : k->in_names[i];
      unsigned char u = side ? k->out_uses[i] : k->in_uses[i];
      if (u & ZK_USES_SHAPE)
        zmlx_sb_printf(sb, cuda ? "%szmlx_dims %s_shape_," : "%sconst long long *%s_shape,", sep, name);
      if (u & ZK_USES_STRIDES)
        zmlx_sb_printf(sb, cuda ? "%szmlx_dims %s_strides_," : "%sconst long long *%s_strides,", sep,
                       name);
      if (u & ZK_USES_NDIM) zmlx_sb_printf(sb, "%sconst int %s_ndim,", sep, name);
    }
  }
  zmlx_sb_printf(sb, "%sconst long long grid_x, const long long grid_y, const long long grid_z", sep);
}

static void emit_body(zmlx_strbuf *sb, const zmlx_kernel *k) {
  zmlx_sb_append(sb, "  const long long gid = (gid_z * grid_y + gid_y) * grid_x + gid_x;\n  (void)gid;\n");
  zmlx_sb_printf(sb, "#line 1 \"%s.body\"\n%s\n", k->name, k->source);
  zmlx_sb_printf(sb, "#line %d \"%s.gen\"\n", count_lines(sb) + 1, k->name);
}

static void emit_cuda(zmlx_strbuf *sb, const zmlx_kernel *k, const char *entry) {
  zmlx_sb_printf(sb, "extern \"C\" __global__ void %s(", entry);
  emit_params(sb, k, 1);
  zmlx_sb_append(sb, ") {\n"
                     "  const long long gid_x = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
                     "  const long long gid_y = (long long)blockIdx.y * blockDim.y + threadIdx.y;\n"
                     "  const long long gid_z = (long long)blockIdx.z * blockDim.z + threadIdx.z;\n"
                     "  if (gid_x >= grid_x || gid_y >= grid_y || gid_z >= grid_z) return;\n");
  for (int side = 0; side < 2; side++) {
    int n = side ? k->n_out : k->n_in;
    for (int i = 0; i < n; i++) {
      const char *name = side ? k->out_names[i] : k->in_names[i];
      unsigned char u = side ? k->out_uses[i] : k->in_uses[i];
      if (u & ZK_USES_SHAPE) zmlx_sb_printf(sb, "  const long long *%s_shape = %s_shape_.d;\n", name, name);
      if (u & ZK_USES_STRIDES)
        zmlx_sb_printf(sb, "  const long long *%s_strides = %s_strides_.d;\n", name, name);
    }
  }
  emit_body(sb, k);
  zmlx_sb_append(sb, "}\n");
}

/* The CPU entry unpacks the same parameter array CUDA would get and runs
 * the body over the grid with OpenMP. */
static void emit_cpu(zmlx_strbuf *sb, const zmlx_kernel *k, const char *entry) {
  zmlx_sb_append(sb, "static inline void zmlx_body(");
  emit_params(sb, k, 0);
  zmlx_sb_append(sb, ",\n    const long long gid_x, const long long gid_y, const long long gid_z) {\n");
  emit_body(sb, k);
  zmlx_sb_printf(sb, "}\n\nvoid %s(void **zmlx_p) {\n", entry);
  int p = 0;
  zmlx_strbuf args = {0};
  for (int i = 0; i < k->n_in; i++, p++) {
    zmlx_sb_printf(sb, "  const %s_t *a%d = *(%s_t *const *)zmlx_p[%d];\n", k->in_names[i], p,
                   k->in_names[i], p);
    zmlx_sb_printf(&args, "a%d, ", p);
  }
  for (int i = 0; i < k->n_out; i++, p++) {
    zmlx_sb_printf(sb, "  %s_t *a%d = *(%s_t **)zmlx_p[%d];\n", k->out_names[i], p, k->out_names[i], p);
    zmlx_sb_printf(&args, "a%d, ", p);
  }
  for (int i = 0; i < k->n_sc; i++, p++) {
    const char *t = scalar_ctype(k->sc_dtypes[i]);
    zmlx_sb_printf(sb, "  const %s a%d = *(const %s *)zmlx_p[%d];\n", t, p, t, p);
    zmlx_sb_printf(&args, "a%d, ", p);
  }
  for (int side = 0; side < 2; side++) {
    int n = side ? k->n_out : k->n_in;
    for (int i = 0; i < n; i++) {
      unsigned char u = side ? k->out_uses[i] : k->in_uses[i];
      for (int bit = ZK_USES_SHAPE; bit <= ZK_USES_STRIDES; bit <<= 1)
        if (u & bit) {
          zmlx_sb_printf(sb, "  const long long *a%d = ((const zmlx_dims *)zmlx_p[%d])->d;\n", p, p);
          zmlx_sb_printf(&args, "a%d, ", p++);
        }
      if (u & ZK_USES_NDIM) {
        zmlx_sb_printf(sb, "  const int a%d = *(const int *)zmlx_p[%d];\n", p, p);
        zmlx_sb_printf(&args, "a%d, ", p++);
      }
    }
  }
  zmlx_sb_printf(sb,
                 "  const long long gx = *(const long long *)zmlx_p[%d];\n"
                 "  const long long gy = *(const long long *)zmlx_p[%d];\n"
                 "  const long long gz = *(const long long *)zmlx_p[%d];\n",
                 p, p + 1, p + 2);
  char *a = zmlx_sb_take(&args);
  /* Small grids stay out of OpenMP altogether: even a parallel region
   * with a false if() costs microseconds in libgomp. */
  zmlx_sb_printf(sb,
                 "  if (gx * gy * gz < 16384) {\n"
                 "    for (long long z = 0; z < gz; z++)\n"
                 "      for (long long y = 0; y < gy; y++)\n"
                 "        for (long long x = 0; x < gx; x++)\n"
                 "          zmlx_body(%sgx, gy, gz, x, y, z);\n"
                 "    return;\n  }\n"
                 "#pragma omp parallel for collapse(3) schedule(static)\n"
                 "  for (long long z = 0; z < gz; z++)\n"
                 "    for (long long y = 0; y < gy; y++)\n"
                 "      for (long long x = 0; x < gx; x++)\n"
                 "        zmlx_body(%sgx, gy, gz, x, y, z);\n}\n",
                 a ? a : "", a ? a : "");
  free(a);
}

zmlx_status zk_codegen(const zk_spec *spec, char **out, char *entry, size_t entry_len) {
  const zmlx_kernel *k = spec->k;
  snprintf(entry, entry_len, "zmlx_%s", k->name);
  zmlx_strbuf sb = {0};
  emit_preamble(&sb, spec);
  zmlx_sb_append(&sb, "\n");
  if (spec->target == ZMLX_DEVICE_CUDA)
    emit_cuda(&sb, k, entry);
  else
    emit_cpu(&sb, k, entry);
  *out = zmlx_sb_take(&sb);
  return *out ? ZMLX_STATUS_OK
              : zmlx_fail(ZMLX_STATUS_OUT_OF_MEMORY, "kernel_codegen", "out of host memory");
}
