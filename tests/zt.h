#ifndef ZT_H
#define ZT_H
/* The tests' small assertion header. A test file defines test functions,
 * lists them in ZT_MAIN, and exits 0 (pass), 1 (a check failed) or 77
 * (skipped, with a reason printed). Checks report file:line and keep going
 * inside a test so one run shows every failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zmlx/zmlx.h"

static int zt_failures_ = 0;
static int zt_checks_ = 0;
static const char *zt_current_ = "";

#define ZT_FAIL_(...)                                                  \
  do {                                                                 \
    zt_failures_++;                                                    \
    fprintf(stderr, "FAIL %s:%d [%s] ", __FILE__, __LINE__, zt_current_); \
    fprintf(stderr, __VA_ARGS__);                                      \
    fprintf(stderr, "\n");                                             \
  } while (0)

#define CHECK(cond)                                         \
  do {                                                      \
    zt_checks_++;                                           \
    if (!(cond)) ZT_FAIL_("CHECK(%s)", #cond);              \
  } while (0)

#define CHECK_MSG(cond, ...)                                \
  do {                                                      \
    zt_checks_++;                                           \
    if (!(cond)) ZT_FAIL_(__VA_ARGS__);                     \
  } while (0)

/* A ZMLX call that must succeed; prints the library's error text if not. */
#define CHECK_OK(expr)                                                   \
  do {                                                                   \
    zt_checks_++;                                                        \
    zmlx_status zt_s_ = (expr);                                          \
    if (zt_s_ != ZMLX_STATUS_OK)                                         \
      ZT_FAIL_("%s -> %s: %s", #expr, zmlx_status_name(zt_s_),           \
               zmlx_error_last());                                       \
  } while (0)

/* A ZMLX call that must fail with a given status and a non-empty text. */
#define CHECK_STATUS(expr, want)                                         \
  do {                                                                   \
    zt_checks_++;                                                        \
    zmlx_status zt_s_ = (expr);                                          \
    if (zt_s_ != (want))                                                 \
      ZT_FAIL_("%s -> %s, want %s (%s)", #expr, zmlx_status_name(zt_s_), \
               zmlx_status_name(want), zmlx_error_last());               \
    else if (zt_s_ != ZMLX_STATUS_OK && zmlx_error_last()[0] == 0)       \
      ZT_FAIL_("%s failed with no error text", #expr);                   \
  } while (0)

#define CHECK_EQ_INT(a, b)                                               \
  do {                                                                   \
    zt_checks_++;                                                        \
    long long zt_a_ = (long long)(a), zt_b_ = (long long)(b);            \
    if (zt_a_ != zt_b_) ZT_FAIL_("%s == %s: %lld != %lld", #a, #b, zt_a_, zt_b_); \
  } while (0)

#define CHECK_CONTAINS(haystack, needle)                                  \
  do {                                                                    \
    zt_checks_++;                                                         \
    const char *zt_h_ = (haystack);                                       \
    if (!zt_h_ || !strstr(zt_h_, (needle)))                               \
      ZT_FAIL_("expected \"%s\" in \"%s\"", (needle), zt_h_ ? zt_h_ : "(null)"); \
  } while (0)

/* Relative error ||got - ref|| / ||ref|| in f64; NaN in got never passes. */
static inline double zt_rel_err(const double *got, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(got[i]) != isnan(ref[i])) return INFINITY;
    if (isnan(ref[i])) continue;
    double d = got[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Tests that cannot run here print why and exit 77 (CTest: skipped). */
#define ZT_SKIP(...)                                  \
  do {                                                \
    printf("SKIP: ");                                 \
    printf(__VA_ARGS__);                              \
    printf("\n");                                     \
    exit(77);                                         \
  } while (0)

typedef struct zt_case { const char *name; void (*fn)(void); } zt_case;

/* Runs the listed tests (or those whose name contains argv[1]). */
static inline int zt_run(const zt_case *cases, int n, int argc, char **argv) {
  int ran = 0;
  for (int i = 0; i < n; i++) {
    if (argc > 1 && !strstr(cases[i].name, argv[1])) continue;
    zt_current_ = cases[i].name;
    int before = zt_failures_;
    cases[i].fn();
    ran++;
    printf("%s %s\n", zt_failures_ == before ? "ok  " : "FAIL", cases[i].name);
  }
  zmlx_shutdown();
  printf("%d tests, %d checks, %d failed\n", ran, zt_checks_, zt_failures_);
  if (ran == 0 || zt_checks_ == 0) {
    printf("no test ran\n");
    return 1;
  }
  return zt_failures_ ? 1 : 0;
}

#define ZT_MAIN(...)                                                      \
  int main(int argc, char **argv) {                                       \
    static const zt_case zt_cases_[] = {__VA_ARGS__};                     \
    return zt_run(zt_cases_, (int)(sizeof zt_cases_ / sizeof zt_cases_[0]), argc, argv); \
  }
#define ZT(fn) {#fn, fn}

#endif
