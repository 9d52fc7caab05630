#!/usr/bin/env python3
"""The peers of the kernel catalog's perf mode: the catalog entries of
the issue's benchmark list, under the same names, on the same perf cases,
with the same byte counts, in PyTorch eager, torch.compile and Triton,
written as a capsule that `zmlx report` joins with the one of
`tests/test_catalog perf --json` (rows meet on op, dtype and shape).

    python3 bench/peers/catalog_peers.py --json catalog_peers.json \\
        [--zmlx zmlx_catalog.json] [--ops rmsnorm,cross_entropy] [--dtype bf16]
    python3 bench/peers/catalog_peers.py --list          # ops, cases, bytes
    python3 bench/peers/catalog_peers.py --dry-run --json F   # the plan; no torch
    python3 bench/peers/catalog_peers.py --zmlx-pattern  # test_catalog's -k for them
    python3 bench/peers/catalog_peers.py --summary ZMLX.json PEERS.json  # headline table

bench/run_catalog.sh runs both sides and the report in one command.

Ops (catalog names; a backward row is NAME_bwd, its gradients written):
rmsnorm, add_rmsnorm, layernorm, softmax, cumsum, dropout (p=0.1), rope
(half rotation), swiglu, cross_entropy (4096 x 151936, bf16 logits, i64
targets, the entry's ignore_index, label smoothing and z-loss), matmul and
linear (8192^3, TFLOP/s), adamw (1e8 parameters, in place). --zmlx takes
each op's case from the ZMLX capsule when it differs from the table's
(another perf case), and flags byte counts that differ.

Peers: torch_eager (the PyTorch call people use: F.rms_norm,
F.layer_norm, torch.softmax, F.cross_entropy, ...; a backward row is
autograd's backward of a graph built untimed), torch_compile (the same
math compiled, default mode, dynamic=False; backward rows compile the
backward formula), triton (plain kernels, catalog_triton.py; skipped with
the reason where none is written), torch_plain (F.cross_entropy with its
defaults: the issue's reference), torch_fused / torch_foreach
(torch.optim.AdamW; torch keeps the state in the param's dtype, so its
bytes are its own, said in the note). cross_entropy_bwd runs the forward
too, as ZMLX's row does, and reports the peak extra memory of
forward+backward (torch.cuda.max_memory_allocated over the call, inputs
excluded) in the note and in the capsule's meta.

Timing as peers.py: triton.testing.do_bench (median; L2 emptied before
each call), inputs rotating over sets totalling twice the L2, GB/s of
the minimal bytes, % of a torch copy_ ceiling measured in the same run.
Inputs are fresh random values (the seed is in the capsule's meta), in
the entries' ranges. Each peer's result is checked against a reference
written from the formula in f64 (f32 for cross_entropy), gradients by
f64 autograd of that reference (max |got - ref| / max |ref|, each result
held to its own dtype's bound: 1.6e-2 for bf16, 1e-5 for f32 results
such as the loss and lse, twice that for gradients): a peer off by more
is marked WRONG RESULTS and the exit status is 1. dropout is checked by its law: kept
values equal x / (1 - p), the rest 0, the kept share near 1 - p. A peer
that cannot be imported, compiled or run becomes a skipped row with the
reason; the capsule is rewritten after every op, so a run stopped midway
keeps what it measured.
"""
import argparse
import gc
import json
import math
import os
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import catalog_ops as C  # noqa: E402  (torch-free at import)
import peers as P  # noqa: E402  (its capsule and timing helpers; torch-free at import)

IMPLS = ("torch_eager", "torch_plain", "torch_compile", "torch_fused", "torch_foreach", "triton")
GENERAL_IMPLS = ("torch_eager", "torch_compile", "triton")  # a row on every op, run or skipped
TOLERANCE = {"f64": 1e-5, "f32": 1e-5, "f16": 2e-3, "bf16": 1.6e-2}
MAX_SETS = 8
NOTE_CHARS = 240
ISSUE_CE_TORCH_US = 1669.0
DEVICE = "cuda"  # a test may set "cpu" to run the torch parts without a GPU


def load_ops():
    import catalog_triton
    return C.ops_table(catalog_triton.builders())


# ---- pure parts: cases from the zmlx capsule, the plan, rows -------------

def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def zmlx_rows(doc, dtype=None):
    """(op, dtype, shape) -> row for the zmlx rows of a capsule."""
    out = {}
    for r in (doc or {}).get("rows", []):
        if r.get("impl") == "zmlx" and (dtype is None or r.get("dtype") == dtype):
            out[(r.get("op"), r.get("dtype"), r.get("shape"))] = r
    return out


def align_cases(ops, doc, dtype):
    """op name -> (Case, note): the table's case, or the one the zmlx
    capsule ran when it differs and fits the op."""
    plan = {name: (C.Case(op.case), "") for name, op in ops.items()}
    if doc is None:
        return plan
    rows = zmlx_rows(doc, dtype)
    for name, op in ops.items():
        texts = [k[2] for k in rows if k[0] in (name, name + "_bwd")]
        if not texts:
            plan[name] = (plan[name][0], "zmlx has no row for this op")
            continue
        if texts[0] == op.case:
            continue
        try:
            case = C.Case(texts[0])
            C.check_case(op, case)
            plan[name] = (case, f"case from the zmlx capsule (the table has '{op.case}')")
        except ValueError as exc:
            plan[name] = (plan[name][0], f"zmlx ran '{texts[0]}', which this peer cannot read "
                                         f"({exc}); ran the table's case")
    return plan


def new_row(op, dtype, shape, impl):
    return {"op": op, "dtype": dtype, "shape": shape, "impl": impl,
            "us": None, "min_us": None, "p10_us": None, "p90_us": None,
            "bytes": None, "gbps": None, "pct_of_copy": None, "tflops": None,
            "err": None, "first_ms": None, "rotations": 0, "samples": 0, "note": ""}


def add_row(capsule, row):
    row["note"] = row["note"][:NOTE_CHARS]
    P.add_row(capsule, row)


def fmt(v, spec, width):
    return P.fmt(v, spec, width)


def print_header():
    print(f"{'op':<18} {'shape':<32} {'impl':<14}{'us':>10}{'GB/s':>9}{'%copy':>8}"
          f"{'err':>10}{'first ms':>10}", flush=True)


def print_row(row):
    print(f"{row['op']:<18} {row['shape']:<32} {row['impl']:<14}{fmt(row['us'], '.1f', 10)}"
          f"{fmt(row['gbps'], '.1f', 9)}{fmt(row['pct_of_copy'], '.1f', 8)}"
          f"{fmt(row['err'], '.1e', 10)}{fmt(row['first_ms'], '.0f', 10)}  {row['note']}",
          flush=True)


def directions(op, args):
    out = []
    if "fwd" in args.directions and op.fwd:
        out.append(False)
    if "bwd" in args.directions and op.bwd:
        out.append(True)
    return out


def planned_impls(op, grad, impls):
    """(impl, builder or None, why) for the rows of one op and direction."""
    have = op.bwd if grad else op.fwd
    rows = []
    for impl in impls:
        if impl in have:
            rows.append((impl, have[impl], ""))
        elif impl in GENERAL_IMPLS:
            why = (op.why_not.get(impl + "_bwd") if grad else None) or op.why_not.get(impl)
            rows.append((impl, None, why or "not written"))
    return rows


def row_name(op, grad):
    return op.name + ("_bwd" if grad else "")


def list_ops(ops, dtype):
    print(f"{'op':<18} {'case':<34} {'fwd bytes':>14} {'bwd bytes':>14}  peers")
    for op in ops.values():
        case = C.Case(op.case)
        bwd = C.op_bytes(op, case, dtype, True) if op.bwd else None
        peers = ", ".join(sorted(set(op.fwd) | set(op.bwd)))
        print(f"{op.name:<18} {op.case:<34} {C.op_bytes(op, case, dtype, False):>14} "
              f"{bwd if bwd is not None else '-':>14}  {peers}")
    return 0


def zmlx_pattern(ops):
    """test_catalog's -k list matching exactly these entries: a bracket
    makes each term a glob (fnmatch, whole name) rather than a substring,
    so "rmsnorm" does not also pick rmsnorm_dropout."""
    return ",".join(f"[{n[0]}]{n[1:]}" for n in ops)


def dry_run(args, capsule, ops, plan):
    capsule["device"]["name"] = "dry run (no device)"
    capsule["meta"]["dry_run"] = "no torch, no GPU: the plan and its byte counts"
    print_header()
    for name in args.ops:
        op = ops[name]
        case, why = plan[name]
        for grad in directions(op, args):
            nbytes = C.op_bytes(op, case, args.dtype, grad)
            for impl, build, skip in planned_impls(op, grad, args.impls):
                row = new_row(row_name(op, grad), args.dtype, case.text, impl)
                row["bytes"] = nbytes
                row["note"] = (f"skipped: {skip}" if skip else f"dry run: {nbytes} bytes") + (
                    f"; {why}" if why else "")
                add_row(capsule, row)
                print_row(row)
    return 0


# ---- the GPU run ------------------------------------------------------------

def torch_dtypes(torch):
    return {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
            "f64": torch.float64, "i32": torch.int32, "i64": torch.int64, "bool": torch.bool}


def make_tensor(torch, arg, case, dtype, gen):
    shape = case.shape(arg.spec)
    kind = arg.dtype(dtype)
    td = torch_dtypes(torch)[kind]
    if arg.range:
        return torch.randint(0, case.sizes[arg.range], shape, generator=gen, device=DEVICE,
                             dtype=torch.int64).to(td)
    if kind == "bool":
        return torch.randint(0, 2, shape, generator=gen, device=DEVICE).bool()
    x = torch.rand(shape, generator=gen, device=DEVICE,
                   dtype=torch.float64 if kind == "f64" else torch.float32)
    return x.mul_(arg.hi - arg.lo).add_(arg.lo).to(td)


def make_douts(torch, op, case, dtype, gen):
    return [make_tensor(torch, C.Arg(a.name, a.spec, a.kind, lo=-1.0, hi=1.0), case, dtype, gen)
            for a in op.outs]


def compute_ref(torch, op, ctx, variant, grad):
    rd = torch.float64 if op.ref_dtype == "f64" else torch.float32

    def conv(x):
        return x.to(rd, copy=True) if x.is_floating_point() else x
    args = [conv(x) for x in ctx.sets[0]]
    if not grad:
        with torch.no_grad():
            return C.as_tuple(op.ref(torch, ctx.P, variant, *args))
    gi = op.grad_inputs()
    for k in gi:
        args[k].requires_grad_(True)
    outs = C.as_tuple(op.ref(torch, ctx.P, variant, *args))
    ds = [d.to(rd) for d in op.douts_of(torch, variant, ctx.douts[0])]
    grads = torch.autograd.grad(outs, [args[k] for k in gi], ds)
    return tuple(g.detach() for g in grads)


def chunks(n, step=1 << 26):
    return range(0, max(n, 1), step) if n else range(0)


def rel_err(torch, got, ref):
    """max |got - ref| / max |ref|, in slices to bound the temporaries."""
    if tuple(got.shape) != tuple(ref.shape):
        return math.inf
    g, r = got.detach().reshape(-1), ref.reshape(-1)
    num = den = 0.0
    for s in chunks(g.numel()):
        gg, rr = g[s:s + (1 << 26)].to(r.dtype), r[s:s + (1 << 26)]
        if not bool(torch.isfinite(gg).all()):
            return math.inf
        num = max(num, float((gg - rr).abs().max()))
        den = max(den, float(rr.abs().max()))
    return num / den if den > 0 else num


def dropout_err(torch, y, x, p):
    """Kept values must be x / (1 - p) to rounding, the others 0, and the
    kept share near 1 - p (0.01 is 100 standard deviations at 16384x4096)."""
    if tuple(y.shape) != tuple(x.shape):
        return math.inf, "wrong shape"
    scale = 1.0 / (1.0 - p) if p < 1 else 0.0
    yf, xf = y.detach().reshape(-1), x.reshape(-1)
    kept, num, den = 0, 0.0, 0.0
    for s in chunks(yf.numel()):
        yy, xx = yf[s:s + (1 << 26)].float(), xf[s:s + (1 << 26)].float() * scale
        k = yy != 0
        kept += int(k.sum())
        num = max(num, float(((yy - xx).abs() * k).max()))
        den = max(den, float(xx.abs().max()))
    share = kept / max(yf.numel(), 1)
    if abs(share - (1.0 - p)) > 0.01:
        return math.inf, f"kept share {share:.4f}, not {1 - p:.4f}"
    return (num / den if den > 0 else num), f"kept share {share:.4f}"


def dtype_name(torch, dt):
    return {torch.bfloat16: "bf16", torch.float16: "f16", torch.float32: "f32",
            torch.float64: "f64"}.get(dt)


def bound(torch, op, args, dt, grad):
    """The error allowed a result of dtype dt: its dtype's bound (f32
    results, such as the loss and lse, get f32's even in a bf16 run),
    twice that for gradients, or the op's own where its peers' math is
    looser."""
    name = dtype_name(torch, dt) or args.dtype
    return op.tol.get(name, TOLERANCE.get(name, TOLERANCE[args.dtype])) * (2 if grad else 1)


def check(torch, op, ctx, args, outs, variant, refs, grad):
    """(error, allowed, words): the worst output, as a fraction of what
    its dtype allows."""
    if op.check == "dropout":
        src = ctx.douts[0][0] if grad else ctx.sets[0][0]
        err, why = dropout_err(torch, outs[0], src, ctx.P["p"])
        return err, bound(torch, op, args, outs[0].dtype, grad), why
    if variant not in refs:
        refs[variant] = compute_ref(torch, op, ctx, variant, grad)
    ref = refs[variant]
    if len(outs) != len(ref):
        return math.inf, 0.0, f"{len(outs)} results, the reference has {len(ref)}"
    worst = (0.0, bound(torch, op, args, outs[0].dtype, grad) if outs else 1.0)
    for o, r in zip(outs, ref):
        e, b = rel_err(torch, o, r), bound(torch, op, args, o.dtype, grad)
        if not e / b <= worst[0] / worst[1]:
            worst = (e, b)
    return worst[0], worst[1], ""


def peak_extra(torch, run):
    """Bytes allocated beyond what was live before one call, at the peak."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = run(0)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out
    return peak


def measure(torch, args, capsule, ctx, build, row, refs):
    op, grad = ctx.op, ctx.grad
    t0 = time.perf_counter()
    built = build(ctx)
    run, note, variant = built[:3]
    if len(built) > 3:
        row["bytes"] = built[3]
    first = run(0)
    torch.cuda.synchronize()
    row["first_ms"] = (time.perf_counter() - t0) * 1e3
    row["note"] = note
    ok = True
    if not args.no_check:
        err, tol, why = check(torch, op, ctx, args, first, variant, refs, grad)
        row["err"] = err
        if why:
            row["note"] = f"{why}; {row['note']}"
        if not err <= tol:
            row["note"] = f"WRONG RESULTS: error {err:.3g} exceeds {tol:.3g}; {row['note']}"
            ok = False
    del first
    if op.peak_memory and grad:
        peak = peak_extra(torch, run)
        row["note"] = f"peak extra memory fwd+bwd {peak / 2**30:.3f} GiB; {row['note']}"
        capsule["meta"][f"{row['op']} peak {row['impl']}"] = (
            f"{peak / 2**30:.3f} GiB ({peak} bytes) beyond the inputs, forward+backward")
    state = {"i": 0}

    def call():
        state["i"] += 1
        return run(state["i"] % len(ctx.sets))
    med, p10, p90, lo, n = P.time_fn(torch, call, args)
    row.update(us=med, p10_us=p10, p90_us=p90, min_us=lo, samples=n, rotations=len(ctx.sets))
    if op.flops and med:
        row["tflops"] = op.flops(ctx.case, grad) / (med * 1e6)
        row["note"] = f"{row['tflops']:.1f} TFLOP/s; {row['note']}"
    return ok


def run_op(torch, args, capsule, op, case, grad, unavailable, zrows, sm_count, t_start):
    name = row_name(op, grad)
    nbytes = C.op_bytes(op, case, args.dtype, grad)
    plan = planned_impls(op, grad, args.impls)
    zr = zrows.get((name, args.dtype, case.text))
    extra = ""
    if zr and zr.get("bytes") and abs(zr["bytes"] - nbytes) > 1e-6 * nbytes:
        extra = f"bytes differ: zmlx counts {zr['bytes']:.0f}, these peers {nbytes}"
    n_sets = P.rotations(C.op_bytes(op, case, args.dtype, False),
                         capsule["device"]["l2_bytes"], MAX_SETS)
    sets = douts = None
    setup_error = ""
    ok = True
    try:
        gen = torch.Generator(device=DEVICE)
        gen.manual_seed(args.seed ^ zlib.crc32(name.encode()))
        sets = [[make_tensor(torch, a, case, args.dtype, gen) for a in op.ins]
                for _ in range(n_sets)]
        douts = [make_douts(torch, op, case, args.dtype, gen) for _ in range(n_sets)] \
            if grad else [[] for _ in range(n_sets)]
    except Exception as exc:  # noqa: BLE001: e.g. out of memory; reported, not fatal
        sets, setup_error = None, f"inputs: {P.short(exc)}"
    ctx = C.Ctx(torch, op, case, args.dtype, sets, douts, grad, sm_count) if sets else None
    refs = {}
    for impl, build, skip in plan:
        row = new_row(name, args.dtype, case.text, impl)
        row["bytes"] = nbytes
        if skip:
            row["note"] = f"skipped: {skip}"
        elif ctx is None:
            row["note"] = f"skipped: {setup_error}"
        elif impl in unavailable:
            row["note"] = f"skipped: {unavailable[impl]}"
        elif args.budget_s and time.perf_counter() - t_start > args.budget_s:
            row["note"] = f"skipped: past the time budget ({args.budget_s:g} s)"
        else:
            try:
                ok &= measure(torch, args, capsule, ctx, build, row, refs)
            except C.Skip as exc:
                row.update(us=None, err=None, note=f"skipped: {exc}")
            except Exception as exc:  # noqa: BLE001: a failing peer is reported, not fatal
                row.update(us=None, err=None, note=f"skipped: {P.short(exc)}")
            try:
                torch.cuda.synchronize()
            except Exception as exc:  # noqa: BLE001: a device error stays; later rows say so
                row["note"] += f"; then {P.short(exc)}"
        if extra:
            row["note"] = f"{row['note']}; {extra}" if row["note"] else extra
        add_row(capsule, row)
        print_row(row)
    del sets, douts, refs, ctx
    gc.collect()
    try:
        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001: a device error was reported on its row
        pass
    return ok


def probe(capsule):
    why = {}
    try:
        import triton
        capsule["meta"]["triton"] = triton.__version__
    except Exception as exc:  # noqa: BLE001: any import failure means "no Triton"
        for impl in ("triton", "torch_compile"):
            why[impl] = f"triton unavailable: {P.short(exc)}"
    return why


def gpu_run(args, capsule, ops, plan, zdoc):
    try:
        torch = P.load_torch()
    except Exception as exc:  # noqa: BLE001
        print(f"catalog_peers: no PyTorch with CUDA here ({P.short(exc)}); nothing measured",
              file=sys.stderr)
        capsule["meta"]["error"] = f"no PyTorch with CUDA: {P.short(exc)}"
        return 1
    P.device_info(torch, capsule)
    d = capsule["device"]
    print(f"catalog peers on {d['name']} ({d['arch']}, {d['sm_count']} SMs), "
          f"torch {torch.__version__}, seed {args.seed:#x}", flush=True)
    unavailable = probe(capsule)
    if "triton" in unavailable:
        capsule["timing"] = capsule["timing"].replace(
            "triton.testing.do_bench", "event_bench (do_bench's method; Triton is missing)")
    P.copy_ceiling(torch, capsule, args)
    write(args, capsule)
    print_header()
    zrows = zmlx_rows(zdoc, args.dtype)
    t_start = time.perf_counter()
    ok = True
    for name in args.ops:
        case = plan[name][0]
        for grad in directions(ops[name], args):
            ok &= run_op(torch, args, capsule, ops[name], case, grad, unavailable, zrows,
                         d["sm_count"], t_start)
        write(args, capsule)
    return 0 if ok else 1


def write(args, capsule):
    if args.json:
        P.write_capsule(capsule, args.json)


# ---- the headline table: both capsules, pure JSON ------------------------

def summary(zpath, ppath, out=sys.stdout):
    """Markdown: for each peer row key, zmlx's time and each peer's, the
    issue's figures (TFLOP/s, cross-entropy time and memory, backward %
    of copy, AdamW GB/s)."""
    try:
        pdoc = read_json(ppath)
    except (OSError, ValueError) as exc:
        print(f"catalog_peers: cannot read {ppath}: {exc}", file=sys.stderr)
        return 1
    try:
        zdoc = read_json(zpath)
    except (OSError, ValueError) as exc:
        print(f"catalog_peers: cannot read {zpath} ({exc}); peers alone", file=sys.stderr)
        zdoc = None
    zr = zmlx_rows(zdoc)
    keys, by_key, impls = [], {}, []
    for r in pdoc.get("rows", []):
        k = (r["op"], r["dtype"], r["shape"])
        if k not in by_key:
            keys.append(k)
            by_key[k] = {}
        by_key[k][r["impl"]] = r
        if r["impl"] not in impls and r.get("us") is not None:
            impls.append(r["impl"])
    w = out.write
    w("### The catalog against its peers\n\n")
    w("µs: median per call; `×impl` = impl µs ÷ zmlx µs (above 1: zmlx is faster). "
      "A peer marked (wrong) failed its check; (own bytes): it moves other bytes.\n\n")
    w("| op | dtype | shape | zmlx µs | zmlx % of copy |"
      + "".join(f" {i} µs | ×{i} |" for i in impls) + "\n")
    w("|---|---|---|---:|---:|" + "---:|---:|" * len(impls) + "\n")
    for k in keys:
        z = zr.get(k)
        zus = z.get("us") if z else None
        cells = [k[0], k[1], k[2], num(zus, "%.1f"), num(z.get("pct_of_copy") if z else None,
                                                         "%.1f")]
        for i in impls:
            r = by_key[k].get(i)
            us = r.get("us") if r else None
            tag = ""
            if r and r.get("note", "").startswith("WRONG"):
                tag = " (wrong)"
            elif r and z and r.get("bytes") and z.get("bytes") and \
                    abs(r["bytes"] - z["bytes"]) > 1e-6 * z["bytes"]:
                tag = " (own bytes)"
            cells.append(num(us, "%.1f") + (tag if us is not None else ""))
            cells.append(num(us / zus if us and zus else None, "%.2f×"))
        w("| " + " | ".join(cells) + " |\n")
    w("\n")
    headline(w, zdoc, pdoc, zr, by_key, keys)
    return 0


def num(v, spec):
    return spec % v if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def headline(w, zdoc, pdoc, zr, by_key, keys):
    lines = []
    for k in keys:
        op, rows, z = k[0], by_key[k], zr.get(k)
        zus = z.get("us") if z else None
        measured = {i: r for i, r in rows.items() if r.get("us") is not None}
        base = op[:-4] if op.endswith("_bwd") else op
        if base in ("matmul", "linear"):
            try:
                case = C.Case(k[2])
                flops = (2 if base != op else 1) * 2 * case.sizes["N"] * case.sizes["K"] * (
                    case.sizes["M"] if base == "matmul" else C.numel(case.lead))
            except (ValueError, KeyError):
                flops = None
            zt = flops / (zus * 1e6) if flops and zus else None
            peers = ", ".join(f"{i} {num(r.get('tflops'), '%.1f')}" for i, r in measured.items())
            lines.append(f"- {op} {k[1]} {k[2]}: zmlx {num(zt, '%.1f')} TFLOP/s; {peers} "
                         f"TFLOP/s" + ("" if z else " (no zmlx row)"))
        elif op == "cross_entropy":
            peers = ", ".join(f"{i} {num(r['us'], '%.0f')} µs" for i, r in measured.items())
            lines.append(f"- cross_entropy forward {k[2]}: zmlx {num(zus, '%.0f')} µs; {peers}; "
                         f"the issue's torch F.cross_entropy: {ISSUE_CE_TORCH_US:.0f} µs")
        elif op == "cross_entropy_bwd":
            mem = [f"{m.group(2)} {v.split(' (')[0]}" for key, v in pdoc.get("meta", {}).items()
                   for m in [_peak_key(key)] if m and m.group(1) == op]
            zmem = [f"{key}: {v}" for key, v in (zdoc or {}).get("meta", {}).items()
                    if "peak" in key.lower()]
            zmem += [r["note"] for r in (zdoc or {}).get("rows", [])
                     if r.get("op", "").startswith("cross_entropy") and "peak" in
                     r.get("note", "").lower()]
            lines.append("- cross_entropy peak extra memory, forward+backward: "
                         + (", ".join(mem) or "not measured") + "; zmlx: "
                         + ("; ".join(zmem) if zmem else "not reported by its capsule"))
        if op.endswith("_bwd"):
            peers = ", ".join(f"{i} {num(r.get('pct_of_copy'), '%.0f')}%"
                              for i, r in measured.items())
            # A backward that needs its forward's result (cross-entropy's
            # lse) runs it in this row; ZMLX also times the backward alone.
            alone = zr.get((op + "_alone",) + tuple(k[1:]))
            extra = (f"; zmlx backward alone (forward's result kept) "
                     f"{num(alone.get('us'), '%.1f')} µs, "
                     f"{num(alone.get('pct_of_copy'), '%.1f')}% of copy") if alone else ""
            lines.append(f"- {op} {k[2]}: zmlx {num(z.get('pct_of_copy') if z else None, '%.0f')}"
                         f"% of copy; {peers}{extra}")
        if op == "adamw":
            peers = ", ".join(f"{i} {num(r.get('gbps'), '%.0f')}" for i, r in measured.items())
            lines.append(f"- adamw {k[2]}: zmlx {num(z.get('gbps') if z else None, '%.0f')} "
                         f"GB/s of its step's traffic; {peers} GB/s (each of its own)")
    if lines:
        w("Headline figures:\n\n" + "\n".join(lines) + "\n\n")


def _peak_key(key):
    import re
    return re.fullmatch(r"(\S+) peak (\S+)", key)


# ---- the command line ---------------------------------------------------------

def split_list(text):
    return [t for t in text.split(",") if t]


def parse_args(argv, ops):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write the capsule here ('-': stdout)")
    p.add_argument("--ops", type=split_list, default=list(ops),
                   help=f"comma list (default all: {','.join(ops)})")
    p.add_argument("--dtype", default="bf16", choices=("bf16", "f16", "f32"))
    p.add_argument("--impls", type=split_list, default=list(IMPLS))
    p.add_argument("--directions", type=split_list, default=["fwd", "bwd"],
                   help="fwd,bwd (default both)")
    p.add_argument("--zmlx", metavar="CAPSULE",
                   help="zmlx's catalog capsule: take each op's case from it, flag bytes "
                        "that differ")
    p.add_argument("--seed", type=lambda s: int(s, 0), default=None,
                   help="input seed (default: fresh from the clock)")
    p.add_argument("--budget-s", type=float, default=0.0,
                   help="skip the peers left after this many seconds (0: no limit)")
    p.add_argument("--warmup-ms", type=float, default=25.0, help="do_bench warm-up (ms)")
    p.add_argument("--rep-ms", type=float, default=100.0, help="do_bench repetitions (ms)")
    p.add_argument("--copy-mib", type=float, default=512.0, help="copy ceiling buffer (MiB)")
    p.add_argument("--no-check", action="store_true", help="skip the checks")
    p.add_argument("--dry-run", action="store_true",
                   help="the plan and its capsule, byte counts included; no torch, no GPU")
    p.add_argument("--list", action="store_true", help="the ops, cases and bytes; no torch")
    p.add_argument("--zmlx-pattern", action="store_true",
                   help="print test_catalog's -k pattern for the selected ops")
    p.add_argument("--summary", nargs=2, metavar=("ZMLX_JSON", "PEERS_JSON"),
                   help="print the headline Markdown of two capsules; no torch")
    args = p.parse_args(argv)
    unknown = [o for o in args.ops if o not in ops]
    if unknown:
        print(f"catalog_peers: no peer for {', '.join(unknown)}; skipped", file=sys.stderr)
        args.ops = [o for o in args.ops if o in ops]
    if not args.ops:
        p.error(f"no op left to run; the peers know {', '.join(ops)}")
    for i in args.impls:
        if i not in IMPLS:
            p.error(f"impl '{i}': use some of {', '.join(IMPLS)}")
    for d in args.directions:
        if d not in ("fwd", "bwd"):
            p.error(f"direction '{d}': use fwd, bwd")
    if args.seed is None:
        args.seed = time.time_ns() & 0xFFFFFFFFFFFF
    return args


def main(argv):
    ops = load_ops()
    args = parse_args(argv[1:], ops)
    if args.summary:
        return summary(*args.summary)
    if args.list:
        return list_ops({n: ops[n] for n in args.ops}, args.dtype)
    if args.zmlx_pattern:
        print(zmlx_pattern(args.ops))
        return 0
    zdoc = None
    if args.zmlx:
        try:
            zdoc = read_json(args.zmlx)
        except (OSError, ValueError) as exc:
            print(f"catalog_peers: cannot read {args.zmlx} ({exc}); using the table's cases",
                  file=sys.stderr)
    plan = align_cases(ops, zdoc, args.dtype)
    capsule = P.new_capsule(argv)
    capsule["tool"] = "catalog peers"
    capsule["timing"] = ("triton.testing.do_bench: median of its samples, L2 emptied before "
                         "every call (256 MB write); inputs rotate over sets totalling at least "
                         "twice the L2; backward rows time autograd's backward alone (graph "
                         "built untimed) unless the note says otherwise")
    capsule["meta"]["seed"] = f"{args.seed:#x}"
    capsule["meta"]["torch_compile"] = "mode default, dynamic=False, fresh compile per row"
    for name in args.ops:
        if plan[name][1]:
            capsule["meta"][f"case {name}"] = plan[name][1][:200]
    rc = dry_run(args, capsule, ops, plan) if args.dry_run else gpu_run(args, capsule, ops,
                                                                         plan, zdoc)
    write(args, capsule)
    if args.json and args.json != "-":
        print(f"\ncapsule: {args.json}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
