"""Triton peers of the catalog ops: plain kernels, f32 inside, one
program per row for the row ops (the whole row in one block), 1-D blocks
for the elementwise ones. Written where a simple kernel is natural; the
others are listed in WHY_NOT with the reason. The layernorm, softmax,
cumsum and swiglu forwards are peers.py's kernels (the same peers as
`zmlx bench`'s).

builders() -> {op: {"fwd"/"bwd": builder}, "why": {op: reason}}; a
builder takes a catalog_ops.Ctx and returns (run, note, variant).
Nothing imports triton until a builder runs.
"""
import functools

from catalog_ops import ADAM_EPS, BETA1, BETA2, Skip, adam_consts

ELEM_BLOCK, ELEM_WARPS = 4096, 8
MAX_ROW = 65536
CE_BLOCK, CE_WARPS = 4096, 8

WHY_NOT = {
    "add_rmsnorm_bwd": "not written (rmsnorm's backward plus dsum; the rmsnorm_bwd row "
                       "shows the kernel)",
    "layernorm_bwd": "not written (the rmsnorm_bwd row shows the two-stage weight gradient)",
    "cumsum_bwd": "not written (a reversed scan)",
    "matmul": "a Triton GEMM needs autotuning to be a fair peer; cuBLAS via torch is the "
              "reference",
}


@functools.lru_cache(maxsize=None)
def kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def rmsnorm_fwd(x_ptr, r_ptr, w_ptr, y_ptr, s_ptr, D, eps, HAS_RES: tl.constexpr,
                    BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < D
        h = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0).to(tl.float32)
        if HAS_RES:
            h += tl.load(r_ptr + row * D + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(s_ptr + row * D + offs, h.to(s_ptr.dtype.element_ty), mask=mask)
        rstd = 1.0 / tl.sqrt(tl.sum(h * h, axis=0) / D + eps)
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * D + offs, (h * rstd * w).to(y_ptr.dtype.element_ty), mask=mask)

    # Persistent programs walk the rows; each keeps its share of dweight
    # in registers and writes one partial row, summed afterwards.
    @triton.jit
    def rmsnorm_bwd(x_ptr, w_ptr, dy_ptr, dx_ptr, part_ptr, rows, D, eps, NPROG,
                    BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        offs = tl.arange(0, BLOCK)
        mask = offs < D
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        dw = tl.zeros((BLOCK,), dtype=tl.float32)
        for row in range(pid, rows, NPROG):
            base = row.to(tl.int64) * D
            x = tl.load(x_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
            dy = tl.load(dy_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
            rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / D + eps)
            xhat = x * rstd
            g = dy * w
            c = tl.sum(g * xhat, axis=0) / D
            tl.store(dx_ptr + base + offs, (rstd * (g - xhat * c)).to(dx_ptr.dtype.element_ty),
                     mask=mask)
            dw += dy * xhat
        tl.store(part_ptr + pid.to(tl.int64) * D + offs, dw, mask=mask)

    @triton.jit
    def softmax_bwd(x_ptr, dy_ptr, dx_ptr, D, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < D
        x = tl.load(x_ptr + row * D + offs, mask=mask, other=-float("inf")).to(tl.float32)
        dy = tl.load(dy_ptr + row * D + offs, mask=mask, other=0.0).to(tl.float32)
        e = tl.exp(x - tl.max(x, axis=0))
        y = e / tl.sum(e, axis=0)
        dx = y * (dy - tl.sum(dy * y, axis=0))
        tl.store(dx_ptr + row * D + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def swiglu_bwd(g_ptr, u_ptr, dy_ptr, dg_ptr, du_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        g = tl.load(g_ptr + offs, mask=mask).to(tl.float32)
        u = tl.load(u_ptr + offs, mask=mask).to(tl.float32)
        dy = tl.load(dy_ptr + offs, mask=mask).to(tl.float32)
        s = tl.sigmoid(g)
        tl.store(dg_ptr + offs, (dy * u * s * (1.0 + g * (1.0 - s))).to(dg_ptr.dtype.element_ty),
                 mask=mask)
        tl.store(du_ptr + offs, (dy * g * s).to(du_ptr.dtype.element_ty), mask=mask)

    # Philox from (seed, element index); the backward regenerates it.
    @triton.jit
    def dropout(x_ptr, y_ptr, n, p, seed, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask).to(tl.float32)
        keep = tl.rand(seed, offs) >= p
        y = tl.where(keep, x / (1.0 - p), 0.0)
        tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)

    # One program per token and block of heads; sign -1 is the inverse
    # rotation (the backward).
    @triton.jit
    def rope(x_ptr, pos_ptr, inv_ptr, y_ptr, H, scale, sign, HALF: tl.constexpr,
             BLOCK_H: tl.constexpr):
        tok = tl.program_id(0).to(tl.int64)
        hs = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
        i = tl.arange(0, HALF)
        ang = tl.load(pos_ptr + tok).to(tl.float32) * tl.load(inv_ptr + i).to(tl.float32)
        c = tl.cos(ang)[None, :] * scale
        s = tl.sin(ang)[None, :] * (scale * sign)
        m = (hs < H)[:, None]
        off = tok * H * (2 * HALF) + hs[:, None].to(tl.int64) * (2 * HALF) + i[None, :]
        x1 = tl.load(x_ptr + off, mask=m, other=0.0).to(tl.float32)
        x2 = tl.load(x_ptr + off + HALF, mask=m, other=0.0).to(tl.float32)
        tl.store(y_ptr + off, (x1 * c - x2 * s).to(y_ptr.dtype.element_ty), mask=m)
        tl.store(y_ptr + off + HALF, (x2 * c + x1 * s).to(y_ptr.dtype.element_ty), mask=m)

    # One program per row, streaming the vocabulary: per-lane running max
    # and sum, combined at the end.
    @triton.jit
    def ce_fwd(x_ptr, t_ptr, loss_ptr, lse_ptr, V, ignore, eps, z, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        base = x_ptr + row * V
        m = tl.full((BLOCK,), -float("inf"), tl.float32)
        s = tl.zeros((BLOCK,), dtype=tl.float32)
        sx = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, V, BLOCK):
            offs = start + tl.arange(0, BLOCK)
            ok = offs < V
            x = tl.load(base + offs, mask=ok, other=-float("inf")).to(tl.float32)
            m_new = tl.maximum(m, x)
            m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
            s = s * tl.exp(m - m_safe) + tl.exp(x - m_safe)
            sx += tl.where(ok, x, 0.0)
            m = m_new
        mx = tl.max(m, axis=0)
        lse = mx + tl.log(tl.sum(s * tl.exp(m - mx), axis=0))
        t = tl.load(t_ptr + row)
        xt = tl.load(base + t).to(tl.float32)
        loss = lse - (1.0 - eps) * xt - eps / V * tl.sum(sx, axis=0) + z * lse * lse
        tl.store(loss_ptr + row, tl.where(t == ignore, 0.0, loss))
        tl.store(lse_ptr + row, lse)

    @triton.jit
    def ce_bwd(x_ptr, t_ptr, lse_ptr, dl_ptr, dlse_ptr, dx_ptr, V, ignore, eps, z,
               BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        t = tl.load(t_ptr + row)
        lse = tl.load(lse_ptr + row)
        dl = tl.where(t == ignore, 0.0, tl.load(dl_ptr + row))
        a = dl * (1.0 + 2.0 * z * lse) + tl.load(dlse_ptr + row)
        smooth = dl * eps / V
        hit = dl * (1.0 - eps)
        for start in range(0, V, BLOCK):
            offs = start + tl.arange(0, BLOCK)
            ok = offs < V
            x = tl.load(x_ptr + row * V + offs, mask=ok, other=0.0).to(tl.float32)
            dx = a * tl.exp(x - lse) - smooth - tl.where(offs == t, hit, 0.0)
            tl.store(dx_ptr + row * V + offs, dx.to(dx_ptr.dtype.element_ty), mask=ok)

    @triton.jit
    def adamw(p_ptr, g_ptr, m_ptr, v_ptr, n, lr, wd, b1, b2, eps, bc1, bc2s,
              BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        p = tl.load(p_ptr + offs, mask=mask).to(tl.float32)
        g = tl.load(g_ptr + offs, mask=mask).to(tl.float32)
        m = tl.load(m_ptr + offs, mask=mask).to(tl.float32)
        v = tl.load(v_ptr + offs, mask=mask).to(tl.float32)
        m = m + (1.0 - b1) * (g - m)
        v = b2 * v + (1.0 - b2) * g * g
        p = p * (1.0 - lr * wd) - (lr / bc1) * m / (tl.sqrt(v) / bc2s + eps)
        tl.store(p_ptr + offs, p.to(p_ptr.dtype.element_ty), mask=mask)
        tl.store(m_ptr + offs, m.to(m_ptr.dtype.element_ty), mask=mask)
        tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)

    return triton, {k: v for k, v in locals().items() if k not in ("triton", "tl")}


def _peers_kernels():
    """peers.py's kernels (layernorm, softmax, cumsum, swiglu)."""
    import peers
    return peers.triton_kernels()[1]


def _row_block(triton, D):
    block = triton.next_power_of_2(D)
    if block > MAX_ROW:
        raise Skip(f"not written for rows over {MAX_ROW} (one block per row)")
    return block, 4 if block < 2048 else 8 if block < 8192 else 16


def _rows(x):
    D = x.shape[-1]
    return x.numel() // D if D else 0, D


def rmsnorm_fwd(with_res):
    def build(ctx):
        t, P = ctx.torch, ctx.P
        triton, k = kernels()
        rows, D = _rows(ctx.sets[0][0])
        block, warps = _row_block(triton, D)

        def run(i):
            s = ctx.sets[i]
            x, r, w = (s[0], s[1], s[2]) if with_res else (s[0], s[0], s[1])
            y = t.empty_like(x)
            h = t.empty_like(x) if with_res else y
            k["rmsnorm_fwd"][(rows,)](x, r, w, y, h, D, P["eps"], HAS_RES=with_res, BLOCK=block,
                                      num_warps=warps)
            return (y, h) if with_res else (y,)
        return run, f"one program per row, BLOCK {block}, {warps} warps", "full"
    return build


def rmsnorm_bwd(ctx):
    t, P = ctx.torch, ctx.P
    triton, k = kernels()
    rows, D = _rows(ctx.sets[0][0])
    block, warps = _row_block(triton, D)
    nprog = max(1, min(rows, 2 * ctx.sm_count))

    def run(i):
        x, w = ctx.sets[i]
        dy = ctx.douts[i][0]
        dx = t.empty_like(x)
        part = t.empty((nprog, D), dtype=t.float32, device=x.device)
        k["rmsnorm_bwd"][(nprog,)](x, w, dy, dx, part, rows, D, P["eps"], nprog, BLOCK=block,
                                   num_warps=warps)
        return dx, part.sum(0).to(w.dtype)
    return run, (f"{nprog} persistent programs over the rows, BLOCK {block}, {warps} warps; "
                 f"dweight from per-program partial rows summed by torch"), "full"


def row_fwd(name, extra=()):
    """peers.py's row kernels: (x[, w, b]) -> y, one program per row."""
    def build(ctx):
        t, P = ctx.torch, ctx.P
        triton, _ = kernels()
        k = _peers_kernels()
        rows, D = _rows(ctx.sets[0][0])
        block, warps = _row_block(triton, D)

        def run(i):
            s = ctx.sets[i]
            y = t.empty_like(s[0])
            if name == "layernorm":
                k[name][(rows,)](s[0], s[1], s[2], y, D, P["eps"], BLOCK=block, num_warps=warps)
            else:
                k[name][(rows,)](s[0], y, D, BLOCK=block, num_warps=warps)
            return (y,)
        return run, f"peers.py's kernel: one program per row, BLOCK {block}, {warps} warps", "full"
    return build


def softmax_bwd(ctx):
    t = ctx.torch
    triton, k = kernels()
    rows, D = _rows(ctx.sets[0][0])
    block, warps = _row_block(triton, D)

    def run(i):
        x, dy = ctx.sets[i][0], ctx.douts[i][0]
        dx = t.empty_like(x)
        k["softmax_bwd"][(rows,)](x, dy, dx, D, BLOCK=block, num_warps=warps)
        return (dx,)
    return run, f"y recomputed from x; one program per row, BLOCK {block}, {warps} warps", "full"


def swiglu(direction):
    def build(ctx):
        t = ctx.torch
        triton, k = kernels()
        n = ctx.sets[0][0].numel()
        grid = (triton.cdiv(n, ELEM_BLOCK),)

        def run(i):
            g, u = ctx.sets[i]
            if direction == "fwd":
                o = t.empty_like(g)
                _peers_kernels()["swiglu"][grid](g, u, o, n, BLOCK=ELEM_BLOCK,
                                                 num_warps=ELEM_WARPS)
                return (o,)
            dg, du = t.empty_like(g), t.empty_like(u)
            k["swiglu_bwd"][grid](g, u, ctx.douts[i][0], dg, du, n, BLOCK=ELEM_BLOCK,
                                  num_warps=ELEM_WARPS)
            return dg, du
        return run, f"{ELEM_BLOCK} elements per program, {ELEM_WARPS} warps", "full"
    return build


def dropout(direction):
    def build(ctx):
        t, P = ctx.torch, ctx.P
        triton, k = kernels()
        n = ctx.sets[0][0].numel()
        if n >= 2 ** 31:
            raise Skip("written for fewer than 2^31 elements (int32 Philox offsets)")
        grid = (triton.cdiv(n, ELEM_BLOCK),)
        seed = int(P["seed"])

        def run(i):
            src = ctx.sets[i][0] if direction == "fwd" else ctx.douts[i][0]
            y = t.empty_like(src)
            k["dropout"][grid](src, y, n, P["p"], seed, BLOCK=ELEM_BLOCK, num_warps=ELEM_WARPS)
            return (y,)
        return run, ("tl.rand(seed, index): the mask is never stored; the backward "
                     "regenerates it"), "full"
    return build


def rope(direction):
    def build(ctx):
        t, P = ctx.torch, ctx.P
        triton, k = kernels()
        x, inv, pos = ctx.sets[0]
        H, D = x.shape[-2], x.shape[-1]
        half = inv.numel()
        if 2 * half != D or half & (half - 1):
            raise Skip("written for full rotary (R = D) with R/2 a power of two")
        T = pos.numel()
        bh = min(triton.next_power_of_2(H), 32)
        grid = (T, triton.cdiv(H, bh))
        sign = 1.0 if direction == "fwd" else -1.0

        def run(i):
            xs, inv_i, pos_i = ctx.sets[i]
            src = xs if direction == "fwd" else ctx.douts[i][0]
            y = t.empty_like(src)
            k["rope"][grid](src, pos_i, inv_i, y, H, P.get("scale", 1.0), sign, HALF=half,
                            BLOCK_H=bh, num_warps=4)
            return (y,)
        return run, (f"one program per token and {bh} heads, angles in f32"
                     + ("; the inverse rotation of dy" if direction == "bwd" else "")), "full"
    return build


def cross_entropy(direction):
    def build(ctx):
        t, P = ctx.torch, ctx.P
        _, k = kernels()
        rows, V = _rows(ctx.sets[0][0])
        ii, eps, z = int(P["ignore_index"]), P["label_smoothing"], P["z_loss"]

        def forward(x, tg):
            loss = t.empty(x.shape[:-1], dtype=t.float32, device=x.device)
            lse = t.empty_like(loss)
            k["ce_fwd"][(rows,)](x, tg, loss, lse, V, ii, eps, z, BLOCK=CE_BLOCK,
                                 num_warps=CE_WARPS)
            return loss, lse

        def run(i):
            x, tg = ctx.sets[i]
            loss, lse = forward(x, tg)
            if direction == "fwd":
                return loss, lse
            dl, dlse = ctx.douts[i]
            dx = t.empty_like(x)
            k["ce_bwd"][(rows,)](x, tg, lse, dl, dlse, dx, V, ii, eps, z, BLOCK=CE_BLOCK,
                                 num_warps=CE_WARPS)
            return (dx,)
        note = f"one program per row streaming V in blocks of {CE_BLOCK}, {CE_WARPS} warps"
        return run, note + ("; forward then backward kernel" if direction == "bwd" else ""), \
            "full"
    return build


def adamw(ctx):
    P = ctx.P
    triton, k = kernels()
    if int(P.get("steps", 1)) != 1:
        raise Skip("written for steps=1")
    work = [[x.clone() for x in s] for s in ctx.sets]
    n = work[0][0].numel()
    block = 1024
    grid = (triton.cdiv(n, block),)
    lr, wd, bc1, bc2s = adam_consts(P)

    def run(i):
        p, g, m, v = work[i]
        k["adamw"][grid](p, g, m, v, n, lr, wd, BETA1, BETA2, ADAM_EPS, bc1, bc2s, BLOCK=block,
                         num_warps=4)
        return p, m, v
    return run, f"the entry's step in place, {block} elements per program, 4 warps", "full"


def builders():
    return {
        "rmsnorm": {"fwd": rmsnorm_fwd(False), "bwd": rmsnorm_bwd},
        "add_rmsnorm": {"fwd": rmsnorm_fwd(True)},
        "layernorm": {"fwd": row_fwd("layernorm")},
        "softmax": {"fwd": row_fwd("softmax"), "bwd": softmax_bwd},
        "cumsum": {"fwd": row_fwd("cumsum")},
        "swiglu": {"fwd": swiglu("fwd"), "bwd": swiglu("bwd")},
        "dropout": {"fwd": dropout("fwd"), "bwd": dropout("bwd")},
        "rope": {"fwd": rope("fwd"), "bwd": rope("bwd")},
        "cross_entropy": {"fwd": cross_entropy("fwd"), "bwd": cross_entropy("bwd")},
        "adamw": {"fwd": adamw},
        "why": WHY_NOT,
    }
