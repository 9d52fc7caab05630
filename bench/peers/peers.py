#!/usr/bin/env python3
"""The peers of `zmlx bench`: the same ops on the same shapes in PyTorch
eager, torch.compile, Triton and CuPy, timed the same way, written as a
capsule in the same JSON format (so `zmlx report zmlx.json peers.json`
puts them side by side).

    python3 bench/peers/peers.py --json peers.json [--ops swiglu,add3]
        [--dtype bf16,f32] [--shape 16384x4096] [--impls triton,cupy]
    python3 bench/peers/peers.py --dry-run     # the plan; imports no torch

Ops: the elementwise ones (swiglu, gelu_tanh, add3, bias_add, copy,
transpose_copy) and the row ones (row_sum, row_max, argmax, mid_sum,
softmax, log_softmax, layernorm, cumsum), as src/bench/suite_ops.c
defines them. mid_sum sums axis 1 of x (rows/K, cols, K), K = 256 when
it divides rows (else its largest power-of-two factor): at 16384x4096
that is (64, 4096, 256), and its rows report that shape.

Timing: triton.testing.do_bench (median, plus p10/p90/min), which empties
L2 before every call by writing a 256 MB buffer; the inputs also rotate
over sets totalling at least twice the L2, as in `zmlx bench`. GB/s is
the minimal bytes (each input read once, each output written once) over
the median time; % of copy is of torch's copy_ of a 512 MiB buffer
measured in this run. Every peer's output is checked against PyTorch
eager in f32 (max |got - ref| / max |ref|). A peer that cannot be
imported, compiled or run is reported as skipped with the reason, and
the script still finishes.
"""
import argparse
import ctypes
import datetime
import functools
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time

FORMAT = "zmlx-bench-capsule"
FORMAT_VERSION = 1
IMPLS = ("torch_eager", "torch_compile", "triton", "cupy")
DTYPE_BYTES = {"bf16": 2, "f16": 2, "f32": 4, "f64": 8}
# Layout letters as in src/bench/suite.h: 'm' a (rows, cols) matrix, 't' a
# transposed view of a (cols, rows) one, 'r' a (cols) row vector, 'b' the
# problem as a (rows/K, cols, K) array reduced over its middle axis, 'c' one
# value per row, 'i' one int64 index per row.
OPS = {
    "swiglu": ("mm", "m"),
    "gelu_tanh": ("m", "m"),
    "add3": ("mmm", "mm"),
    "bias_add": ("mr", "m"),
    "copy": ("m", "m"),
    "transpose_copy": ("t", "m"),
    "row_sum": ("m", "c"),
    "row_max": ("m", "c"),
    "argmax": ("m", "i"),
    "mid_sum": ("b", "c"),
    "softmax": ("m", "m"),
    "log_softmax": ("m", "m"),
    "layernorm": ("mrr", "m"),
    "cumsum": ("m", "m"),
}
ROW_OPS = ("row_sum", "row_max", "argmax", "mid_sum", "softmax", "log_softmax", "layernorm",
           "cumsum")
LAYERNORM_EPS = 1e-5
MID_INNER = 256
# The reference is PyTorch eager in f32, so f64 is held to f32's bound.
TOLERANCE = {"f64": 1e-5, "f32": 1e-5, "f16": 2e-3, "bf16": 1.6e-2}
TRITON_BLOCK, TRITON_WARPS = 4096, 8
TRITON_TILE, TRITON_TILE_WARPS = 64, 4
TRITON_MAX_ROW = 65536          # the row kernels hold a whole row in one block
TRITON_MID_ROWS, TRITON_MID_COLS = 32, 64
NOTE_CHARS = 240


# ---- pure parts: planning, bytes, GB/s, the capsule ----------------------

def layout_elements(layout, rows, cols):
    if layout == "r":
        return cols
    if layout in "ci":
        return rows
    return rows * cols


def layout_bytes(layout, dtype, rows, cols):
    """An 'i' array holds int64 indices whatever the dtype."""
    return layout_elements(layout, rows, cols) * (8 if layout == "i" else DTYPE_BYTES[dtype])


def op_bytes(op, dtype, rows, cols):
    """Minimal bytes of one call: every input read once, every output
    written once."""
    ins, outs = OPS[op]
    return sum(layout_bytes(l, dtype, rows, cols) for l in ins + outs)


def mid_inner(rows):
    """K of the 'b' layout: the largest power of two <= 256 dividing rows."""
    k = MID_INNER
    while k > 1 and rows % k:
        k //= 2
    return k


def mid_shape(rows, cols):
    k = mid_inner(rows)
    return rows // k, cols, k


def shape_text(op, rows, cols):
    """The shape a row reports, as zmlx bench writes it."""
    if "b" in OPS[op][0]:
        return "x".join(str(d) for d in mid_shape(rows, cols))
    return f"{rows}x{cols}"


def gbps(nbytes, us):
    if nbytes and us and nbytes > 0 and us > 0:
        return nbytes / (us * 1e3)
    return None


def rotations(bytes_per_set, cache_bytes, max_sets=64):
    """Input sets so that a byte is reused only after twice the cache."""
    if bytes_per_set <= 0:
        return max_sets
    return max(1, min(max_sets, math.ceil(2.0 * cache_bytes / bytes_per_set)))


def parse_shape(text):
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"shape '{text}' is not ROWSxCOLS (e.g. 16384x4096)")
    return int(parts[0]), int(parts[1])


def split_list(text):
    return [t for t in text.split(",") if t]


def new_row(op, dtype, shape, impl):
    return {"op": op, "dtype": dtype, "shape": shape_text(op, *shape), "impl": impl,
            "us": None, "min_us": None, "p10_us": None, "p90_us": None,
            "bytes": None, "gbps": None, "pct_of_copy": None, "tflops": None,
            "err": None, "first_ms": None, "rotations": 0, "samples": 0, "note": ""}


def finite_or_none(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def clean(obj):
    """NaN and infinities are not JSON: they become null."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return finite_or_none(obj)


def git_commit():
    env = os.environ.get("ZMLX_GIT_COMMIT")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        sha = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_capsule(argv):
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "tool": "peers",
        "library_version": "", "git_commit": git_commit(),
        "command": "python3 " + shlex.join(argv),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timing": ("triton.testing.do_bench: median of its samples, L2 emptied before every "
                   "call (256 MB write); inputs rotate over sets totalling at least twice "
                   "the L2; outputs allocated by each call as the library does"),
        "device": {"id": "cuda:0", "name": "", "arch": "", "sm_count": 0, "cc_major": 0,
                   "cc_minor": 0, "driver_version": 0, "compiler_version": 0,
                   "total_memory": 0, "l2_bytes": 0},
        "copy": {"bytes": None, "us": None, "gbps": None, "method": "torch copy_"},
        "meta": {}, "rows": [],
    }


def capsule_json(capsule):
    head = {k: v for k, v in capsule.items() if k != "rows"}
    text = json.dumps(clean(head), indent=2, allow_nan=False)
    # One row per line, as zmlx writes them, so a diff reads row by row.
    rows = ",".join("\n    " + json.dumps(clean(r), allow_nan=False) for r in capsule["rows"])
    return text[:-2] + ',\n  "rows": [' + rows + ("\n  ]" if rows else "]") + "\n}"


def write_capsule(capsule, path):
    text = capsule_json(capsule)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")


def add_row(capsule, row):
    row["gbps"] = gbps(row["bytes"], row["us"])
    copy = capsule["copy"]["gbps"]
    if row["gbps"] and copy:
        row["pct_of_copy"] = 100.0 * row["gbps"] / copy
    row["note"] = row["note"][:NOTE_CHARS]
    capsule["rows"].append(row)


def fmt(v, spec, width):
    return f"{v:{width}{spec}}" if v is not None and math.isfinite(v) else f"{'-':>{width}}"


def print_row(row):
    print(f"{row['op']:<16} {row['dtype']:<5} {row['shape']:<12} {row['impl']:<14}"
          f"{fmt(row['us'], '.2f', 11)}{fmt(row['gbps'], '.1f', 9)}"
          f"{fmt(row['pct_of_copy'], '.1f', 8)}{fmt(row['err'], '.1e', 10)}"
          f"{fmt(row['first_ms'], '.1f', 10)}  {row['note']}", flush=True)


def print_header():
    print(f"{'op':<16} {'dtype':<5} {'shape':<12} {'impl':<14}{'us':>11}{'GB/s':>9}"
          f"{'%copy':>8}{'err':>10}{'first ms':>10}", flush=True)


def dry_run(args, capsule):
    """The plan and the GB/s arithmetic, with no GPU and no torch."""
    l2 = int(args.l2_mib * 1048576)
    capsule["device"]["name"] = "dry run (no device)"
    capsule["device"]["l2_bytes"] = l2
    capsule["meta"]["dry_run"] = f"L2 assumed {args.l2_mib} MiB"
    print(f"dry run: L2 assumed {args.l2_mib} MiB; at 100 us per call, GB/s = bytes / 1e5")
    print_header()
    for shape in args.shape:
        for dtype in args.dtype:
            for op in args.ops:
                nbytes = op_bytes(op, dtype, *shape)
                for impl in args.impls:
                    row = new_row(op, dtype, shape, impl)
                    row["bytes"] = nbytes
                    row["rotations"] = rotations(nbytes, l2)
                    row["note"] = (f"dry run: {nbytes} bytes per call, {row['rotations']} "
                                   f"input set(s), {gbps(nbytes, 100.0):.1f} GB/s at 100 us")
                    add_row(capsule, row)
                    print_row(row)
    return 0


# ---- the GPU run ------------------------------------------------------------

class Skip(Exception):
    """A peer that cannot run here, with the reason."""


def short(exc):
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:NOTE_CHARS - 20]


def load_torch():
    import torch
    if not torch.cuda.is_available():
        raise Skip("torch sees no CUDA device")
    return torch


def torch_dtype(torch, name):
    return {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
            "f64": torch.float64}[name]


def eager_fns(torch):
    F = torch.nn.functional
    return {
        "swiglu": lambda g, u: F.silu(g) * u,
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "add3": lambda a, b, c: (a + b + c, a * b * c),
        "bias_add": lambda x, b: x + b,
        "copy": lambda x: x.clone(),
        "transpose_copy": lambda x: x.contiguous(),
        "row_sum": lambda x: x.sum(-1),
        "row_max": lambda x: x.amax(-1),
        "argmax": lambda x: x.argmax(-1),
        "mid_sum": lambda x: x.sum(1),
        "softmax": lambda x: torch.softmax(x, -1),
        "log_softmax": lambda x: torch.log_softmax(x, -1),
        "layernorm": lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, LAYERNORM_EPS),
        "cumsum": lambda x: torch.cumsum(x, -1),
    }


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def make_inputs(torch, op, dtype, rows, cols, seed):
    gen = torch.Generator(device="cuda")
    gen.manual_seed(seed)
    out = []
    for layout in OPS[op][0]:
        shape = {"m": (rows, cols), "t": (cols, rows), "r": (cols,),
                 "b": mid_shape(rows, cols)}[layout]
        x = torch.randn(shape, dtype=torch_dtype(torch, dtype), device="cuda", generator=gen)
        out.append(x.t() if layout == "t" else x)
    return out


def device_info(torch, capsule):
    p = torch.cuda.get_device_properties(0)
    d = capsule["device"]
    d["name"] = p.name
    d["arch"] = f"sm_{p.major}{p.minor}"
    d["sm_count"] = p.multi_processor_count
    d["cc_major"], d["cc_minor"] = p.major, p.minor
    d["total_memory"] = int(p.total_memory)
    d["l2_bytes"] = int(getattr(p, "L2_cache_size", 0) or 50 * 1048576)
    if torch.version.cuda:
        major, minor = (int(v) for v in torch.version.cuda.split(".")[:2])
        d["compiler_version"] = major * 1000 + minor * 10
    try:
        v = ctypes.c_int(0)
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(v)) == 0:
            d["driver_version"] = v.value
    except OSError:
        pass
    capsule["library_version"] = f"torch {torch.__version__}"
    capsule["meta"]["torch"] = torch.__version__
    capsule["meta"]["python"] = platform.python_version()


def summarize(times_ms):
    """Median, p10, p90 and min in microseconds, and the sample count."""
    s = sorted(float(t) for t in times_ms)

    def q(f):
        pos = f * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return (s[lo] + (pos - lo) * (s[hi] - s[lo])) * 1e3
    return q(0.5), q(0.1), q(0.9), s[0] * 1e3, len(s)


def event_bench(torch, fn, warmup_ms, rep_ms):
    """do_bench's method for when Triton is missing: L2 emptied by a 256 MB
    write before each call, CUDA events around the call alone."""
    flush = torch.empty(64 * 1048576, dtype=torch.int32, device="cuda")
    fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(5):
        flush.zero_()
        fn()
    b.record()
    torch.cuda.synchronize()
    est = max(a.elapsed_time(b) / 5, 1e-3)
    for _ in range(max(1, int(warmup_ms / est))):
        fn()
    n = max(1, int(rep_ms / est))
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    for i in range(n):
        flush.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def time_fn(torch, fn, args):
    """triton.testing.do_bench when Triton is there, else event_bench."""
    try:
        from triton.testing import do_bench
    except Exception:  # noqa: BLE001: any import failure means "no Triton"
        return summarize(event_bench(torch, fn, args.warmup_ms, args.rep_ms))
    try:
        times = do_bench(fn, warmup=args.warmup_ms, rep=args.rep_ms, return_mode="all")
        if isinstance(times, (list, tuple)) and times:
            return summarize(times)
    except (TypeError, ValueError, AssertionError):
        pass  # a Triton without return_mode="all": quantiles instead
    med, p10, p90, lo = do_bench(fn, warmup=args.warmup_ms, rep=args.rep_ms,
                                 quantiles=[0.5, 0.1, 0.9, 0.0])
    return med * 1e3, p10 * 1e3, p90 * 1e3, lo * 1e3, 0


def copy_ceiling(torch, capsule, args):
    n = int(args.copy_mib * 1048576)
    src = torch.ones(n, dtype=torch.uint8, device="cuda")
    bufs = [src, torch.empty_like(src)]
    del src
    med = time_fn(torch, lambda: bufs[1].copy_(bufs[0]), args)[0]
    bufs.clear()
    c = capsule["copy"]
    c["bytes"], c["us"], c["gbps"] = 2 * n, med, gbps(2 * n, med)
    print(f"copy ceiling: {c['gbps']:.1f} GB/s (torch copy_ of {args.copy_mib:g} MiB: "
          f"{2 * n / 1048576:.0f} MiB moved in {med:.1f} us)\n", flush=True)
    torch.cuda.empty_cache()


# ---- the peers: each turns torch input sets into a callable --------------
# prepare(torch, op, dtype, sets, rows, cols) -> (run(i): the outputs of set
# i in the peer's own arrays, bytes per call, note)

def prepare_eager(torch, op, dtype, sets, rows, cols):
    fn = eager_fns(torch)[op]
    return (lambda i: as_tuple(fn(*sets[i]))), op_bytes(op, dtype, rows, cols), ""


def prepare_compile(torch, op, dtype, sets, rows, cols):
    torch._dynamo.reset()  # a fresh compile per case, no recompile limit
    fn = torch.compile(eager_fns(torch)[op], dynamic=False)
    return (lambda i: as_tuple(fn(*sets[i]))), op_bytes(op, dtype, rows, cols), ""


@functools.lru_cache(maxsize=None)
def triton_kernels():
    """Defined once, so Triton compiles each kernel once per dtype."""
    import triton
    import triton.language as tl

    @triton.jit
    def swiglu(g_ptr, u_ptr, o_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        g = tl.load(g_ptr + offs, mask=mask).to(tl.float32)
        u = tl.load(u_ptr + offs, mask=mask).to(tl.float32)
        tl.store(o_ptr + offs, (g * tl.sigmoid(g) * u).to(o_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def gelu_tanh(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask).to(tl.float32)
        # 0.5 * (1 + tanh(z)) == sigmoid(2z): the tanh form exactly.
        z = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        tl.store(y_ptr + offs, (x * tl.sigmoid(2.0 * z)).to(y_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def add3(a_ptr, b_ptr, c_ptr, s_ptr, p_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        a = tl.load(a_ptr + offs, mask=mask).to(tl.float32)
        b = tl.load(b_ptr + offs, mask=mask).to(tl.float32)
        c = tl.load(c_ptr + offs, mask=mask).to(tl.float32)
        tl.store(s_ptr + offs, (a + b + c).to(s_ptr.dtype.element_ty), mask=mask)
        tl.store(p_ptr + offs, (a * b * c).to(p_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def bias_add(x_ptr, b_ptr, y_ptr, n, cols, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask).to(tl.float32)
        b = tl.load(b_ptr + offs % cols, mask=mask).to(tl.float32)
        tl.store(y_ptr + offs, (x + b).to(y_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def copy(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)

    @triton.jit
    def transpose_copy(x_ptr, y_ptr, rows, cols, sxr, sxc, TILE: tl.constexpr):
        r = tl.program_id(0).to(tl.int64) * TILE + tl.arange(0, TILE)
        c = tl.program_id(1).to(tl.int64) * TILE + tl.arange(0, TILE)
        mask = (r[:, None] < rows) & (c[None, :] < cols)
        x = tl.load(x_ptr + r[:, None] * sxr + c[None, :] * sxc, mask=mask)
        tl.store(y_ptr + r[:, None] * cols + c[None, :], x, mask=mask)

    # The row ops: one program per row, the whole row in one block of BLOCK
    # (the next power of two of cols), f32 inside.
    @triton.jit
    def row_sum(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row, tl.sum(x, axis=0).to(y_ptr.dtype.element_ty))

    @triton.jit
    def row_max(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=-float("inf")).to(tl.float32)
        tl.store(y_ptr + row, tl.max(x, axis=0).to(y_ptr.dtype.element_ty))

    @triton.jit
    def argmax(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=-float("inf")).to(tl.float32)
        tl.store(y_ptr + row, tl.argmax(x, axis=0).to(tl.int64))

    @triton.jit
    def softmax(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=-float("inf")).to(tl.float32)
        e = tl.exp(x - tl.max(x, axis=0))
        y = e / tl.sum(e, axis=0)
        tl.store(y_ptr + row * cols + offs, y.to(y_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def log_softmax(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=-float("inf")).to(tl.float32)
        m = tl.max(x, axis=0)
        y = x - m - tl.log(tl.sum(tl.exp(x - m), axis=0))
        tl.store(y_ptr + row * cols + offs, y.to(y_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def layernorm(x_ptr, w_ptr, b_ptr, y_ptr, cols, eps, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=0.0).to(tl.float32)
        mean = tl.sum(x, axis=0) / cols
        d = tl.where(mask, x - mean, 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / cols + eps)
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * cols + offs, (d * rstd * w + b).to(y_ptr.dtype.element_ty),
                 mask=mask)

    @triton.jit
    def cumsum(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < cols
        x = tl.load(x_ptr + row * cols + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * cols + offs, tl.cumsum(x, axis=0).to(y_ptr.dtype.element_ty),
                 mask=mask)

    # x (A, R, K): one program per (a, BLOCK_K columns), walking R in tiles
    # of BLOCK_R rows, coalesced along K; not split along R.
    @triton.jit
    def mid_sum(x_ptr, y_ptr, R, K, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr):
        a = tl.program_id(0).to(tl.int64)
        ks = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)
        kmask = ks < K
        base = x_ptr + a * R * K
        acc = tl.zeros((BLOCK_K,), dtype=tl.float32)
        for r0 in range(0, R, BLOCK_R):
            rs = r0 + tl.arange(0, BLOCK_R)
            m = (rs[:, None] < R) & kmask[None, :]
            t = tl.load(base + rs[:, None].to(tl.int64) * K + ks[None, :], mask=m, other=0.0)
            acc += tl.sum(t.to(tl.float32), axis=0)
        tl.store(y_ptr + a * K + ks, acc.to(y_ptr.dtype.element_ty), mask=kmask)

    return triton, {"swiglu": swiglu, "gelu_tanh": gelu_tanh, "add3": add3,
                    "bias_add": bias_add, "copy": copy, "transpose_copy": transpose_copy,
                    "row_sum": row_sum, "row_max": row_max, "argmax": argmax,
                    "softmax": softmax, "log_softmax": log_softmax, "layernorm": layernorm,
                    "cumsum": cumsum, "mid_sum": mid_sum}


def row_warps(block):
    return 4 if block < 2048 else 8 if block < 8192 else 16


def prepare_triton_rows(torch, triton, k, op, sets, rows, cols):
    """The row ops' kernels: (run, note)."""
    x0 = sets[0][0]
    if op == "mid_sum":
        a, r, kk = x0.shape
        bk = min(TRITON_MID_COLS, triton.next_power_of_2(kk))
        grid = (a, triton.cdiv(kk, bk))

        def run_mid(i):
            y = torch.empty((a, kk), dtype=x0.dtype, device="cuda")
            k[op][grid](sets[i][0], y, r, kk, BLOCK_R=TRITON_MID_ROWS, BLOCK_K=bk, num_warps=4)
            return (y,)
        return run_mid, (f"one program per ({TRITON_MID_ROWS} rows walked) x {bk} columns, "
                         f"{a * grid[1]} programs, 4 warps")
    block = triton.next_power_of_2(cols)
    if block > TRITON_MAX_ROW:
        raise Skip(f"not written for rows over {TRITON_MAX_ROW} columns (one block per row)")
    warps = row_warps(block)
    out = OPS[op][1]
    shape = (rows, cols) if out == "m" else (rows,)
    dtype = torch.int64 if out == "i" else x0.dtype

    def run(i):
        ins = sets[i]
        y = torch.empty(shape, dtype=dtype, device="cuda")
        if op == "layernorm":
            k[op][(rows,)](ins[0], ins[1], ins[2], y, cols, LAYERNORM_EPS, BLOCK=block,
                           num_warps=warps)
        else:
            k[op][(rows,)](ins[0], y, cols, BLOCK=block, num_warps=warps)
        return (y,)
    return run, f"one program per row, BLOCK {block}, {warps} warps"


def prepare_triton(torch, op, dtype, sets, rows, cols):
    triton, k = triton_kernels()
    if op in ROW_OPS:
        run, note = prepare_triton_rows(torch, triton, k, op, sets, rows, cols)
        return run, op_bytes(op, dtype, rows, cols), note
    n = rows * cols
    grid = (triton.cdiv(n, TRITON_BLOCK),)
    kw = {"BLOCK": TRITON_BLOCK, "num_warps": TRITON_WARPS}

    def run(i):
        ins = sets[i]
        outs = tuple(torch.empty((rows, cols), dtype=ins[0].dtype, device="cuda")
                     for _ in OPS[op][1])
        if op == "bias_add":
            k[op][grid](ins[0], ins[1], outs[0], n, cols, **kw)
        elif op == "transpose_copy":
            x = ins[0]
            tgrid = (triton.cdiv(rows, TRITON_TILE), triton.cdiv(cols, TRITON_TILE))
            k[op][tgrid](x, outs[0], rows, cols, x.stride(0), x.stride(1), TILE=TRITON_TILE,
                         num_warps=TRITON_TILE_WARPS)
        else:
            k[op][grid](*ins, *outs, n, **kw)
        return outs
    note = (f"one {TRITON_TILE}x{TRITON_TILE} tile per program, {TRITON_TILE_WARPS} warps"
            if op == "transpose_copy" else
            f"{TRITON_BLOCK} elements per program, {TRITON_WARPS} warps")
    return run, op_bytes(op, dtype, rows, cols), note


CUPY_BODIES = {
    "swiglu": ("T g, T u", "T o",
               "float gf = (float)g; o = (T)(gf / (1.0f + expf(-gf)) * (float)u);"),
    "gelu_tanh": ("T x", "T y",
                  "float v = (float)x;"
                  " y = (T)(0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v))));"),
    "add3": ("T a, T b, T c", "T s, T p",
             "float fa = (float)a, fb = (float)b, fc = (float)c;"
             " s = (T)(fa + fb + fc); p = (T)(fa * fb * fc);"),
    "bias_add": ("T x, T b", "T y", "y = (T)((float)x + (float)b);"),
    "copy": ("T x", "T y", "y = x;"),
    "transpose_copy": ("T x", "T y", "y = x;"),
}


# The row ops CuPy has as library calls; softmax, log_softmax and layernorm
# it has not (they would be chains of array ops, one pass each).
CUPY_ROW_FNS = {
    "row_sum": lambda cp, x: cp.sum(x, axis=-1),
    "row_max": lambda cp, x: cp.max(x, axis=-1),
    "argmax": lambda cp, x: cp.argmax(x, axis=-1),
    "mid_sum": lambda cp, x: cp.sum(x, axis=1),
    "cumsum": lambda cp, x: cp.cumsum(x, axis=-1),
}


def prepare_cupy(torch, op, dtype, sets, rows, cols):
    if op in ROW_OPS and op not in CUPY_ROW_FNS:
        raise Skip("not written: CuPy has no fused softmax, log_softmax or layernorm; a "
                   "chain of array ops (one pass each) would not be a like-for-like peer")
    import cupy as cp
    if op in CUPY_ROW_FNS:
        fn = CUPY_ROW_FNS[op]

        def kernel(*arrays):
            return fn(cp, *arrays)
    else:
        ins_t, outs_t, body = CUPY_BODIES[op]
        kernel = cp.ElementwiseKernel(ins_t, outs_t, body, f"zmlx_peer_{op}")
    note = ""

    def convert(tensors):
        return [cp.from_dlpack(t) for t in tensors]

    try:
        native = [convert(s) for s in sets]
        kernel(*native[0])  # compiles for this dtype, or fails for bf16
        torch.cuda.synchronize()
        nbytes = op_bytes(op, dtype, rows, cols)
    except Exception as exc:  # noqa: BLE001: any failure means "no such dtype in CuPy"
        if dtype == "f32":
            raise
        native = [convert([t.float() for t in s]) for s in sets]
        nbytes = op_bytes(op, "f32", rows, cols)
        note = f"ran in f32 (bytes counted at f32): CuPy {dtype} failed: {short(exc)}"

    return (lambda i: kernel(*native[i])), nbytes, note


PREPARE = {"torch_eager": prepare_eager, "torch_compile": prepare_compile,
           "triton": prepare_triton, "cupy": prepare_cupy}


def picked_values(torch, x, idx):
    """x's values at one index per row (the last axis); None if an index is
    out of range."""
    idx = idx.long()
    if bool(((idx < 0) | (idx >= x.shape[-1])).any()):
        return None
    return torch.gather(x.float(), -1, idx.unsqueeze(-1)).squeeze(-1)


def max_rel_err(torch, outs, refs, layouts="", x=None):
    """max |got - ref| / max |ref| of the worst output. An index output
    ('i') is judged by the values of x it picks, as zmlx bench judges it:
    another pick among equal values is right, any other is not."""
    worst = 0.0
    for j, (o, r) in enumerate(zip(outs, refs)):
        if o.shape != r.shape:
            return math.inf
        if j < len(layouts) and layouts[j] == "i":
            o, r = picked_values(torch, x, o), picked_values(torch, x, r)
            if o is None or r is None:
                return math.inf
        o = o.float()
        if bool(torch.isnan(o).any()):
            return math.inf
        den = float(r.abs().max())
        num = float((o - r).abs().max())
        worst = max(worst, num / den if den > 0 else num)
    return worst


def measure(torch, args, impl, op, dtype, shape, sets, refs, row):
    rows, cols = shape
    t0 = time.perf_counter()
    run, nbytes, note = PREPARE[impl](torch, op, dtype, sets, rows, cols)
    first = tuple(o if isinstance(o, torch.Tensor) else torch.from_dlpack(o)
                  for o in as_tuple(run(0)))
    torch.cuda.synchronize()
    row["first_ms"] = (time.perf_counter() - t0) * 1e3
    row["bytes"], row["note"] = nbytes, note
    state = {"i": 0}

    def call():
        state["i"] += 1
        return run(state["i"] % len(sets))
    med, p10, p90, lo, n = time_fn(torch, call, args)
    row.update(us=med, p10_us=p10, p90_us=p90, min_us=lo, samples=n, rotations=len(sets))
    if not args.no_check:
        row["err"] = max_rel_err(torch, first, refs, OPS[op][1], sets[0][0])
        tol = TOLERANCE["f32" if note.startswith("ran in f32") else dtype]
        if not row["err"] <= tol:
            row["note"] = (f"WRONG RESULTS: error {row['err']:.3g} exceeds {tol:.3g}; " + note)
            return False
    return True


def run_case(torch, args, capsule, op, dtype, shape, impls, unavailable):
    rows, cols = shape
    nbytes = op_bytes(op, dtype, rows, cols)
    n_sets = rotations(nbytes, capsule["device"]["l2_bytes"])
    sets = [make_inputs(torch, op, dtype, rows, cols, 1000 * s + 1) for s in range(n_sets)]
    refs = as_tuple(eager_fns(torch)[op](*[t.float() for t in sets[0]]))
    ok = True
    for impl in impls:
        row = new_row(op, dtype, shape, impl)
        row["bytes"] = nbytes
        if impl in unavailable:
            row["note"] = f"skipped: {unavailable[impl]}"
        else:
            try:
                ok &= measure(torch, args, impl, op, dtype, shape, sets, refs, row)
            except Skip as exc:
                row.update(us=None, err=None, note=f"skipped: {exc}")
            except Exception as exc:  # noqa: BLE001: a failing peer is reported, not fatal
                row.update(us=None, err=None, note=f"skipped: {short(exc)}")
        add_row(capsule, row)
        print_row(row)
    del sets, refs
    torch.cuda.empty_cache()
    return ok


def probe_peers(impls, capsule):
    """Why each peer cannot run here (absent: it can). Triton is probed
    whatever the peers, as the timer comes from it."""
    why = {}
    try:
        import triton
        capsule["meta"]["triton"] = triton.__version__
    except Exception as exc:  # noqa: BLE001: any import failure means "no Triton"
        for impl in ("triton", "torch_compile"):
            why[impl] = f"triton unavailable: {short(exc)}"
    if "cupy" in impls:
        try:
            import cupy
            capsule["meta"]["cupy"] = cupy.__version__
        except Exception as exc:  # noqa: BLE001
            why["cupy"] = f"cupy unavailable: {short(exc)}"
    if "torch_compile" in impls and "torch_compile" not in why:
        capsule["meta"]["torch_compile"] = "mode default, dynamic=False, fresh compile per case"
    if "triton" in impls and "triton" not in why:
        capsule["meta"]["triton_config"] = (
            f"{TRITON_BLOCK} elements per program, {TRITON_WARPS} warps; transpose "
            f"{TRITON_TILE}x{TRITON_TILE} tiles, {TRITON_TILE_WARPS} warps; row ops one "
            f"program per row, BLOCK next power of two of cols; mid_sum "
            f"{TRITON_MID_ROWS}x{TRITON_MID_COLS} tiles walking the reduced axis")
    return why


def gpu_run(args, capsule):
    try:
        torch = load_torch()
    except Exception as exc:  # noqa: BLE001
        print(f"peers: no PyTorch with CUDA here ({short(exc)}); nothing measured",
              file=sys.stderr)
        for shape in args.shape:
            for dtype in args.dtype:
                for op in args.ops:
                    for impl in args.impls:
                        row = new_row(op, dtype, shape, impl)
                        row["note"] = f"skipped: {short(exc)}"
                        add_row(capsule, row)
        return 1
    device_info(torch, capsule)
    d = capsule["device"]
    print(f"peers on {d['name']} ({d['arch']}, {d['sm_count']} SMs), torch {torch.__version__}",
          flush=True)
    unavailable = probe_peers(args.impls, capsule)
    if "triton" in unavailable:
        capsule["timing"] = capsule["timing"].replace(
            "triton.testing.do_bench", "event_bench (do_bench's method; Triton is missing)")
    copy_ceiling(torch, capsule, args)
    print_header()
    ok = True
    for shape in args.shape:
        for dtype in args.dtype:
            for op in args.ops:
                ok &= run_case(torch, args, capsule, op, dtype, shape, args.impls, unavailable)
    return 0 if ok else 1


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write the capsule here ('-': stdout)")
    p.add_argument("--ops", type=split_list, default=list(OPS),
                   help="comma list (default: all; names zmlx has but the peers lack are skipped)")
    p.add_argument("--dtype", type=split_list, default=["bf16", "f32"])
    p.add_argument("--shape", type=lambda t: [parse_shape(s) for s in split_list(t)],
                   default=[(16384, 4096)], help="ROWSxCOLS[,ROWSxCOLS...]")
    p.add_argument("--impls", type=split_list, default=list(IMPLS))
    p.add_argument("--warmup-ms", type=float, default=25.0, help="do_bench warm-up (ms)")
    p.add_argument("--rep-ms", type=float, default=100.0, help="do_bench repetitions (ms)")
    p.add_argument("--copy-mib", type=float, default=512.0, help="copy ceiling buffer (MiB)")
    p.add_argument("--no-check", action="store_true", help="skip the check against torch f32")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan and write its capsule; no torch, no GPU")
    p.add_argument("--l2-mib", type=float, default=50.0, help="L2 assumed by --dry-run")
    args = p.parse_args(argv)
    unknown = [o for o in args.ops if o not in OPS]
    if unknown:
        print(f"peers: no peer for {', '.join(unknown)}; skipped", file=sys.stderr)
        args.ops = [o for o in args.ops if o in OPS]
    if not args.ops:
        p.error(f"no op left to run; peers know {', '.join(OPS)}")
    for d in args.dtype:
        if d not in DTYPE_BYTES:
            p.error(f"dtype '{d}': use one of {', '.join(DTYPE_BYTES)}")
    for i in args.impls:
        if i not in IMPLS:
            p.error(f"impl '{i}': use one of {', '.join(IMPLS)}")
    return args


def main(argv):
    args = parse_args(argv[1:])
    capsule = new_capsule(argv)
    rc = dry_run(args, capsule) if args.dry_run else gpu_run(args, capsule)
    if args.json:
        write_capsule(capsule, args.json)
        if args.json != "-":
            print(f"\ncapsule: {args.json}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
