/* The one list of ZMLX status codes. Each row: X(NAME, value, "message").
 * The public enum, zmlx_status_name() and zmlx_status_message() are all
 * generated from this list, so the three can never disagree.
 * Values are stable: append new codes, never renumber. */
X(OK,                  0, "success")
X(INVALID_ARGUMENT,    1, "invalid argument")
X(SHAPE_MISMATCH,      2, "shapes do not match or cannot broadcast")
X(DTYPE_UNSUPPORTED,   3, "dtype not supported by this operation")
X(DEVICE_UNAVAILABLE,  4, "device or backend not available")
X(DEVICE_MISMATCH,     5, "arrays live on different devices")
X(OUT_OF_MEMORY,       6, "out of memory")
X(COMPILE_FAILED,      7, "kernel compilation failed")
X(LAUNCH_FAILED,       8, "kernel launch failed")
X(BACKEND_ERROR,       9, "backend (driver, runtime or compiler) error")
X(IO_ERROR,           10, "file input/output error")
X(NOT_FOUND,          11, "not found")
X(UNSUPPORTED,        12, "operation not supported")
X(INTERNAL,           13, "internal error (a bug in ZMLX)")
X(CORRUPT_DATA,       14, "corrupt or foreign data")
X(MISMATCH,          15, "results do not match the reference")
