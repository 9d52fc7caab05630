#ifndef ZMLX_BENCH_CAPSULE_FIELDS_H
#define ZMLX_BENCH_CAPSULE_FIELDS_H
/* Internal: the capsule's JSON fields, listed once for the writer and the
 * reader so the two cannot drift apart. X(json_key, struct_member). */

/* Strings of a row; the first four identify it and are required. */
#define ZMLX_BENCH_ROW_KEYS(X) X(op, op) X(dtype, dtype) X(shape, shape) X(impl, impl)
#define ZMLX_BENCH_ROW_STRINGS(X) X(note, note)
/* Numbers of a row: null when unknown (NAN). */
#define ZMLX_BENCH_ROW_NUMBERS(X)                                              \
  X(us, us) X(min_us, min_us) X(p10_us, p10_us) X(p90_us, p90_us)              \
  X(bytes, bytes) X(gbps, gbps) X(pct_of_copy, pct_of_copy) X(tflops, tflops)  \
  X(err, err) X(first_ms, first_ms)
#define ZMLX_BENCH_ROW_INTS(X) X(rotations, rotations) X(samples, samples)

/* The "device" object. */
#define ZMLX_BENCH_DEVICE_STRINGS(X) X(name, name) X(arch, arch)
#define ZMLX_BENCH_DEVICE_INTS(X)                                              \
  X(sm_count, sm_count) X(cc_major, cc_major) X(cc_minor, cc_minor)            \
  X(driver_version, driver_version) X(compiler_version, compiler_version)
#define ZMLX_BENCH_DEVICE_U64S(X) X(total_memory, total_memory) X(l2_bytes, l2_bytes)

/* Top-level strings. */
#define ZMLX_BENCH_TOP_STRINGS(X)                                              \
  X(tool, tool) X(library_version, library_version) X(git_commit, git_commit)  \
  X(command, command) X(date, date) X(timing, timing)

#define ZMLX_BENCH_FORMAT "zmlx-bench-capsule"
#define ZMLX_BENCH_FORMAT_VERSION 1

#endif
