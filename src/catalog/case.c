/* Case strings and shape specs (the grammar is in registry.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/registry.h"
#include "core/error.h"

/* "3x5" -> {3, 5}; "-" -> {}. Returns the count, or -1 when malformed. */
static int parse_dims(const char *s, int64_t *dims) {
  if (!strcmp(s, "-")) return 0;
  int n = 0;
  while (*s) {
    if (!isdigit((unsigned char)*s) || n == ZMLX_MAX_DIMS) return -1;
    char *end;
    dims[n++] = strtoll(s, &end, 10);
    s = end;
    if (*s == 'x') {
      s++;
      if (!*s) return -1;
    } else if (*s) {
      return -1;
    }
  }
  return n;
}

static int arg_index(const zcat_entry *e, const char *name, size_t len) {
  for (int i = 0; i < e->n_in; i++)
    if (strlen(e->in[i].name) == len && !strncmp(e->in[i].name, name, len)) return i;
  return -1;
}

static zmlx_status bad_token(const zcat_entry *e, const char *text, const char *tok) {
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, e->name, "case \"%s\": cannot read \"%s\"", text,
                   tok);
}

static int status_by_name(const char *name) {
  char full[96];
  snprintf(full, sizeof full, "ZMLX_STATUS_%s", name);
  for (int s = 1; s < 64; s++)
    if (!strcmp(zmlx_status_name((zmlx_status)s), full)) return s;
  return -1;
}

static zmlx_status parse_token(const zcat_entry *e, const char *text, char *tok, zcat_case *c) {
  char *eq = strchr(tok, '='), *colon = strchr(tok, ':');
  if (tok[0] == '~' || tok[0] == '@') {
    unsigned *mask = tok[0] == '~' ? &c->noncontig : &c->misaligned;
    if (!strcmp(tok + 1, "*")) {
      *mask = (1u << e->n_in) - 1;
      return ZMLX_STATUS_OK;
    }
    int i = arg_index(e, tok + 1, strlen(tok + 1));
    if (i < 0) return bad_token(e, text, tok);
    *mask |= 1u << i;
  } else if (colon) {
    int i = arg_index(e, tok, (size_t)(colon - tok));
    if (i < 0) return bad_token(e, text, tok);
    c->ndim[i] = parse_dims(colon + 1, c->shape[i]);
    if (c->ndim[i] < 0) return bad_token(e, text, tok);
    c->has_shape[i] = 1;
  } else if (eq) {
    *eq = 0;
    const char *val = eq + 1;
    char *end;
    double v = strtod(val, &end);
    if (!*val || *end) return bad_token(e, text, tok);
    if (strlen(tok) == 1 && isupper((unsigned char)tok[0])) {
      c->sym[tok[0] - 'A'] = (int64_t)v;
      return ZMLX_STATUS_OK;
    }
    for (int p = 0; p < e->n_params; p++)
      if (!strcmp(e->params[p].name, tok)) {
        c->p[p] = v;
        return ZMLX_STATUS_OK;
      }
    *eq = '=';
    return bad_token(e, text, tok);
  } else {
    c->n_lead = parse_dims(tok, c->lead);
    if (c->n_lead < 0) return bad_token(e, text, tok);
  }
  return ZMLX_STATUS_OK;
}

zmlx_status zcat_case_parse(const zcat_entry *e, const char *text, zcat_case *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < 26; i++) c->sym[i] = -1;
  for (int p = 0; p < e->n_params; p++) c->p[p] = e->params[p].value;
  snprintf(c->text, sizeof c->text, "%s", text);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  char *arrow = strstr(buf, "=>");
  if (arrow) {
    char *name = arrow + 2;
    while (*name == ' ') name++;
    char *end = name + strlen(name);
    while (end > name && end[-1] == ' ') *--end = 0;
    c->expect = status_by_name(name);
    if (c->expect < 0) return bad_token(e, text, name);
    *arrow = 0;
  }
  char *save = NULL;
  for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
    ZMLX_TRY(parse_token(e, text, tok, c));
  return ZMLX_STATUS_OK;
}

/* One term: an integer, or [k]L[/m]. */
static zmlx_status eval_term(const zcat_entry *e, const zcat_case *c, const char *t, size_t len,
                             int64_t *out) {
  char buf[32];
  if (len == 0 || len >= sizeof buf) goto bad;
  memcpy(buf, t, len);
  buf[len] = 0;
  char *p = buf, *end;
  int64_t k = 1, m = 1;
  if (isdigit((unsigned char)*p)) {
    k = strtoll(p, &end, 10);
    p = end;
    if (!*p) {
      *out = k;
      return ZMLX_STATUS_OK;
    }
  }
  if (!isupper((unsigned char)*p)) goto bad;
  int64_t v = c->sym[*p - 'A'];
  if (v < 0)
    return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, e->name, "case \"%s\" does not set %c",
                     c->text, *p);
  p++;
  if (*p == '/') {
    m = strtoll(p + 1, &end, 10);
    if (m <= 0 || *end) goto bad;
  } else if (*p) {
    goto bad;
  }
  *out = k * v / m;
  return ZMLX_STATUS_OK;
bad:
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, e->name, "bad shape term \"%.*s\"", (int)len, t);
}

zmlx_status zcat_case_shape(const zcat_entry *e, const zcat_case *c, const zcat_arg *a, int *ndim,
                          int64_t *shape) {
  int idx = (int)(a - e->in);
  if (idx >= 0 && idx < e->n_in && c->has_shape[idx]) {
    *ndim = c->ndim[idx];
    memcpy(shape, c->shape[idx], sizeof(int64_t) * (size_t)*ndim);
    return ZMLX_STATUS_OK;
  }
  *ndim = 0;
  const char *s = a->shape;
  while (s && *s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len == 3 && !strncmp(s, "...", 3)) {
      if (*ndim + c->n_lead > ZMLX_MAX_DIMS) goto too_many;
      for (int d = 0; d < c->n_lead; d++) shape[(*ndim)++] = c->lead[d];
    } else {
      if (*ndim == ZMLX_MAX_DIMS) goto too_many;
      ZMLX_TRY(eval_term(e, c, s, len, &shape[(*ndim)++]));
    }
    s = comma ? comma + 1 : NULL;
  }
  return ZMLX_STATUS_OK;
too_many:
  return zmlx_fail(ZMLX_STATUS_INVALID_ARGUMENT, e->name, "case \"%s\": %s has over %d dims",
                   c->text, a->name, ZMLX_MAX_DIMS);
}

const char *zcat_spec_format(const char *spec, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "(");
  int terms = 0;
  for (const char *s = spec; s && *s && used < len; terms++) {
    const char *comma = strchr(s, ',');
    int n = comma ? (int)(comma - s) : (int)strlen(s);
    used += (size_t)snprintf(buf + used, len - used, "%s%.*s", terms ? ", " : "", n, s);
    s = comma ? comma + 1 : NULL;
  }
  if (used < len) snprintf(buf + used, len - used, terms == 1 && strcmp(spec, "...") ? ",)" : ")");
  return buf;
}
