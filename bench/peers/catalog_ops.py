"""The catalog ops that catalog_peers.py times, described as the ZMLX
registry describes them (src/catalog/*_entries.c): the same names, the
same perf cases, the same inputs and outputs, hence the same byte counts
(tests/catalog_perf.h: every input read once, every output written once;
a backward also writes each ZCAT_GRAD input's gradient and reads the
output gradients). Each op has its PyTorch peers (eager, torch.compile of
the same math), an f64 (or f32) reference written from the textbook
formula, and the Triton peers come from catalog_triton.py.

Nothing here imports torch at module level: `--help`, `--list` and
`--dry-run` work without it. A peer builder takes a Ctx and returns
(run, note, variant): run(i) gives the outputs (or gradients) for input
set i; variant names the reference the outputs are checked against
("full" is the ZMLX entry's own definition).
"""
import math
import re

DTYPE_BYTES = {"bf16": 2, "f16": 2, "f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


class Skip(Exception):
    """A peer that cannot run here, with the reason."""


class Arg:
    """An input or output, as a zcat_arg: kind "float" takes the run's
    dtype; "f32"/"f64"/"i32"/"i64"/"bool" are fixed (ZCAT_FIXED,
    ZCAT_INDEX); an index draws integers in [0, sizes[range])."""

    def __init__(self, name, spec, kind="float", grad=False, lo=-3.0, hi=3.0, range=None):
        self.name, self.spec, self.kind, self.grad = name, spec, kind, grad
        self.lo, self.hi, self.range = lo, hi, range

    def dtype(self, run_dtype):
        return run_dtype if self.kind == "float" else self.kind


class Op:
    """One catalog entry. fwd/bwd: impl -> builder; why_not: impl ->
    reason the peer is absent (printed as a skipped row)."""

    def __init__(self, name, case, ins, outs, params=None, fwd=None, bwd=None, ref=None,
                 why_not=None, ref_dtype="f64", check="close",
                 peak_memory=False, flops=None, douts_of=None, tol=None):
        self.name, self.case, self.ins, self.outs = name, case, ins, outs
        self.params = dict(params or {})
        self.fwd, self.bwd = dict(fwd or {}), dict(bwd or {})
        self.ref, self.why_not = ref, dict(why_not or {})
        self.ref_dtype, self.check = ref_dtype, check
        self.peak_memory = peak_memory  # the backward row also reports peak extra memory
        self.flops = flops
        self.tol = dict(tol or {})  # dtype -> bound, where the peers' own math is looser
        self.douts_of = douts_of or (lambda t, variant, douts: douts)

    def grad_inputs(self):
        return [i for i, a in enumerate(self.ins) if a.grad]


# ---- cases and byte counts (pure Python, as src/catalog/case.c) ---------

class Case:
    """A case string: leading dims ("16384", "3x5", "-" or none), sizes
    ("D=4096": one capital letter) and parameters ("p=0.1")."""

    def __init__(self, text):
        self.text = text
        self.lead, self.sizes, self.params = (), {}, {}
        for tok in text.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                if re.fullmatch(r"[A-Z]", k):
                    if not v.isdigit():
                        raise ValueError(f"case '{text}': size {tok} is not an integer")
                    self.sizes[k] = int(v)
                elif re.fullmatch(r"[a-z_][a-z_0-9]*", k):
                    self.params[k] = float(v)
                else:
                    raise ValueError(f"case '{text}': cannot read '{tok}'")
            elif tok == "-":
                self.lead = ()
            elif re.fullmatch(r"\d+(x\d+)*", tok):
                self.lead = tuple(int(d) for d in tok.split("x"))
            else:
                raise ValueError(f"case '{text}': cannot read '{tok}'")

    def shape(self, spec):
        """A shape spec ("...,D", "R/2", "2D", "N,K", "") in this case."""
        out = []
        for term in (t.strip() for t in spec.split(",") if t.strip()):
            if term == "...":
                out.extend(self.lead)
                continue
            if term.isdigit():
                out.append(int(term))
                continue
            m = re.fullmatch(r"(\d*)([A-Z])(?:/(\d+))?", term)
            if not m:
                raise ValueError(f"shape spec '{spec}': cannot read '{term}'")
            k, letter, div = int(m.group(1) or 1), m.group(2), int(m.group(3) or 1)
            if letter not in self.sizes:
                raise ValueError(f"case '{self.text}' sets no {letter} (spec '{spec}')")
            if (k * self.sizes[letter]) % div:
                raise ValueError(f"case '{self.text}': {term} is not an integer")
            out.append(k * self.sizes[letter] // div)
        return tuple(out)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def op_bytes(op, case, dtype, grad):
    """tests/catalog_perf.h's hc_bytes: inputs read (and their gradients
    written when grad), outputs written (or, for a backward, their
    gradients read)."""
    b = 0
    for a in op.ins:
        n = numel(case.shape(a.spec)) * DTYPE_BYTES[a.dtype(dtype)]
        b += n + (n if grad and a.grad else 0)
    for a in op.outs:
        b += numel(case.shape(a.spec)) * DTYPE_BYTES[a.dtype(dtype)]
    return b


def check_case(op, case):
    """Every shape of op exists in case (raises ValueError otherwise)."""
    for a in op.ins + op.outs:
        case.shape(a.spec)
        if a.range and a.range not in case.sizes:
            raise ValueError(f"case '{case.text}' sets no {a.range} (range of {a.name})")


def params_of(op, case):
    p = dict(op.params)
    p.update(case.params)
    p.update(case.sizes)
    return p


# ---- the context a builder gets ---------------------------------------------

class Ctx:
    def __init__(self, torch, op, case, dtype, sets, douts, grad, sm_count):
        self.torch, self.op, self.case, self.dtype = torch, op, case, dtype
        self.sets, self.douts, self.grad = sets, douts, grad
        self.P = params_of(op, case)
        self.sm_count = sm_count


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def eager(fn, note=""):
    """A forward: fn(t, P, *inputs) called as it is."""
    def build(ctx):
        t, P = ctx.torch, ctx.P
        return (lambda i: as_tuple(fn(t, P, *ctx.sets[i]))), note, "full"
    return build


def compiled(fn, note="", variant="full", with_douts=False):
    """torch.compile of fn(t, P, *inputs[, *douts]): default mode,
    dynamic=False, a fresh compile (its first call is first_ms)."""
    def build(ctx):
        t, P = ctx.torch, ctx.P
        t._dynamo.reset()
        cf = t.compile(lambda *a: fn(t, P, *a), dynamic=False)
        if with_douts:
            return (lambda i: as_tuple(cf(*ctx.sets[i], *ctx.douts[i]))), note, variant
        return (lambda i: as_tuple(cf(*ctx.sets[i]))), note, variant
    return build


def autograd(fn, note="", variant="full", dout_fn=None):
    """A backward through PyTorch's autograd of fn(t, P, *inputs): the
    graph is built once per input set (untimed) and run(i) is the backward
    alone (retain_graph), as ZMLX's backward rows time the backward alone."""
    def build(ctx):
        t, P, op = ctx.torch, ctx.P, ctx.op
        gi = op.grad_inputs()
        graphs = []
        for s, d in zip(ctx.sets, ctx.douts):
            ins = [x.detach().requires_grad_(True) if k in gi else x for k, x in enumerate(s)]
            outs = as_tuple(fn(t, P, *ins))
            ds = dout_fn(t, d) if dout_fn else d
            graphs.append((outs, [ins[k] for k in gi], [g.to(o.dtype) for o, g in zip(outs, ds)]))

        def run(i):
            outs, leaves, ds = graphs[i]
            return tuple(t.autograd.grad(outs, leaves, ds, retain_graph=True))
        return run, note or "autograd backward of the eager forward (graph built untimed)", variant
    return build


def autograd_with_forward(fn, note, variant, dout_fn=None):
    """A backward row that, like ZMLX's, runs the forward too."""
    def build(ctx):
        t, P, op = ctx.torch, ctx.P, ctx.op
        gi = op.grad_inputs()

        def run(i):
            ins = [x.detach().requires_grad_(True) if k in gi else x
                   for k, x in enumerate(ctx.sets[i])]
            outs = as_tuple(fn(t, P, *ins))
            ds = dout_fn(t, ctx.douts[i]) if dout_fn else ctx.douts[i]
            ds = [g.to(o.dtype) for o, g in zip(outs, ds)]
            return tuple(t.autograd.grad(outs, [ins[k] for k in gi], ds))
        return run, note, variant
    return build


# ---- norms ------------------------------------------------------------------

def _rms_f32(t, eps, h, w):
    return h * t.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * w.float()


def rms_eager(t, P, x, w):
    F = t.nn.functional
    if not hasattr(F, "rms_norm"):
        raise Skip("this torch has no F.rms_norm (torch >= 2.4)")
    return F.rms_norm(x, (x.shape[-1],), w, P["eps"])


def rms_compiled(t, P, x, w):
    return _rms_f32(t, P["eps"], x.float(), w).to(x.dtype)


def rms_ref(t, P, variant, x, w):
    return (x / t.sqrt(x.pow(2).mean(-1, keepdim=True) + P["eps"]) * w,)


def _rms_grads(t, eps, h, w, dy):
    """dx and dw of y = h * rsqrt(mean(h^2) + eps) * w, h in f32."""
    r = t.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    xhat = h * r
    g = dy.float() * w.float()
    dx = r * (g - xhat * (g * xhat).mean(-1, keepdim=True))
    dw = (dy.float() * xhat).reshape(-1, h.shape[-1]).sum(0)
    return dx, dw


def rms_bwd_compiled(t, P, x, w, dy):
    dx, dw = _rms_grads(t, P["eps"], x.float(), w, dy)
    return dx.to(x.dtype), dw.to(w.dtype)


def addrms_eager(t, P, x, r, w):
    h = x + r
    return rms_eager(t, P, h, w), h


def addrms_compiled(t, P, x, r, w):
    h = x.float() + r.float()
    return _rms_f32(t, P["eps"], h, w).to(x.dtype), h.to(x.dtype)


def addrms_ref(t, P, variant, x, r, w):
    h = x + r
    return rms_ref(t, P, variant, h, w)[0], h


def addrms_bwd_compiled(t, P, x, r, w, dy, dsum):
    dh, dw = _rms_grads(t, P["eps"], x.float() + r.float(), w, dy)
    dh = (dh + dsum.float()).to(x.dtype)
    return dh, dh, dw.to(w.dtype)


def ln_eager(t, P, x, w, b):
    return t.nn.functional.layer_norm(x, (x.shape[-1],), w, b, P["eps"])


def ln_ref(t, P, variant, x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return ((x - mu) / t.sqrt(var + P["eps"]) * w + b,)


def ln_bwd_compiled(t, P, x, w, b, dy):
    D = x.shape[-1]
    xf = x.float()
    d = xf - xf.mean(-1, keepdim=True)
    rstd = t.rsqrt(d.pow(2).mean(-1, keepdim=True) + P["eps"])
    xhat = d * rstd
    g = dy.float() * w.float()
    dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
    dyf = dy.float().reshape(-1, D)
    dw = (dyf * xhat.reshape(-1, D)).sum(0)
    return dx.to(x.dtype), dw.to(w.dtype), dyf.sum(0).to(b.dtype)


# ---- softmax, scan, dropout -------------------------------------------------

def softmax_eager(t, P, x):
    return t.softmax(x, -1)


def softmax_ref(t, P, variant, x):
    e = t.exp(x - x.amax(-1, keepdim=True))
    return (e / e.sum(-1, keepdim=True),)


def softmax_bwd_compiled(t, P, x, dy):
    y = t.softmax(x.float(), -1)
    g = dy.float()
    return (y * (g - (g * y).sum(-1, keepdim=True))).to(x.dtype)


def cumsum_eager(t, P, x):
    return t.cumsum(x, -1)


def cumsum_ref(t, P, variant, x):
    return (t.cumsum(x, -1),)


def cumsum_bwd_compiled(t, P, x, dy):
    return t.cumsum(dy.float().flip(-1), -1).flip(-1).to(x.dtype)


def dropout_eager(t, P, x):
    return t.nn.functional.dropout(x, P["p"], training=True)


def dropout_bwd_compiled(ctx):
    """The mask a forward saved (1 byte an element, as torch keeps it)
    times dy, compiled: what a compiled training step runs."""
    t, P = ctx.torch, ctx.P
    scale = 1.0 / (1.0 - P["p"]) if P["p"] < 1 else 0.0
    masks = [t.rand(s[0].shape, device=s[0].device) >= P["p"] for s in ctx.sets]
    t._dynamo.reset()
    cf = t.compile(lambda dy, m: dy * m * scale, dynamic=False)
    return ((lambda i: (cf(ctx.douts[i][0], masks[i]),)),
            "dy * saved bool mask * 1/(1-p), compiled (mask from the forward, 1 byte each)",
            "full")


# ---- rope -------------------------------------------------------------------

def _rope_split(x, pos, inv):
    T, R = pos.numel(), 2 * inv.numel()
    H, D = x.shape[-2], x.shape[-1]
    xx = x.reshape(T, H, D)
    return xx[..., :R], xx[..., R:], R


def _rope_apply(t, xr, xp, c, s, scale, sign):
    """(x1, x2) -> (x1 c - x2 s, x2 c + x1 s), s times sign; c, s: (T, R/2)."""
    h = xr.shape[-1] // 2
    x1, x2 = xr[..., :h], xr[..., h:]
    c, s = c[:, None, :], s[:, None, :] * sign
    y = t.cat((x1 * c - x2 * s, x2 * c + x1 * s), -1)
    if scale != 1:
        y = y * scale
    return t.cat((y, xp.to(y.dtype)), -1) if xp.shape[-1] else y


def rope_eager(t, P, x, inv, pos):
    """As transformers' apply_rotary_pos_emb: cos/sin of f32 angles cast
    to x's dtype, rotate_half, products in x's dtype."""
    xr, xp, R = _rope_split(x, pos, inv)
    freqs = pos.reshape(-1, 1).float() * inv.float().reshape(1, -1)
    emb = t.cat((freqs, freqs), -1)
    cos, sin = emb.cos().to(x.dtype)[:, None, :], emb.sin().to(x.dtype)[:, None, :]
    x1, x2 = xr[..., :R // 2], xr[..., R // 2:]
    y = xr * cos + t.cat((-x2, x1), -1) * sin
    if P.get("scale", 1) != 1:
        y = y * P["scale"]
    if xp.shape[-1]:
        y = t.cat((y, xp), -1)
    return y.reshape(x.shape)


def rope_compiled(t, P, x, inv, pos):
    xr, xp, _ = _rope_split(x, pos, inv)
    ang = pos.reshape(-1, 1).float() * inv.float().reshape(1, -1)
    y = _rope_apply(t, xr.float(), xp, ang.cos(), ang.sin(), P.get("scale", 1), 1.0)
    return y.to(x.dtype).reshape(x.shape)


def rope_bwd_compiled(t, P, x, inv, pos, dy):
    """The inverse rotation of dy."""
    dr, dp, _ = _rope_split(dy, pos, inv)
    ang = pos.reshape(-1, 1).float() * inv.float().reshape(1, -1)
    dx = _rope_apply(t, dr.float(), dp, ang.cos(), ang.sin(), P.get("scale", 1), -1.0)
    return dx.to(x.dtype).reshape(x.shape)


def rope_ref(t, P, variant, x, inv, pos):
    """Written out apart from the peers: pair i of each head turns by
    position * inv_freq[i]; the rest of the head passes."""
    T, half = pos.numel(), inv.numel()
    xx = x.reshape(T, x.shape[-2], x.shape[-1])
    ang = (pos.reshape(T, 1).to(inv.dtype) * inv.reshape(1, half))[:, None, :]
    c, s, k = t.cos(ang), t.sin(ang), P.get("scale", 1)
    a, b = xx[..., :half], xx[..., half:2 * half]
    y = t.cat((k * (a * c - b * s), k * (b * c + a * s), xx[..., 2 * half:]), -1)
    return (y.reshape(x.shape),)


# ---- glu --------------------------------------------------------------------

def swiglu_eager(t, P, g, u):
    return t.nn.functional.silu(g) * u


def swiglu_compiled(t, P, g, u):
    return (t.nn.functional.silu(g.float()) * u.float()).to(g.dtype)


def swiglu_ref(t, P, variant, g, u):
    return (g / (1 + t.exp(-g)) * u,)


def swiglu_bwd_compiled(t, P, g, u, dy):
    gf, uf, d = g.float(), u.float(), dy.float()
    s = t.sigmoid(gf)
    return (d * uf * s * (1 + gf * (1 - s))).to(g.dtype), (d * gf * s).to(u.dtype)


# ---- cross-entropy ------------------------------------------------------------

def ce_full(t, P, x, tg):
    """The ZMLX entry's definition: per-row loss with label smoothing and
    z-loss, ignore_index rows 0; and each row's lse (f32)."""
    xf = x.float()
    eps, z, V = P["label_smoothing"], P["z_loss"], x.shape[-1]
    lse = t.logsumexp(xf, -1)
    xt = xf.gather(-1, tg.unsqueeze(-1)).squeeze(-1)
    loss = lse - (1 - eps) * xt - (eps / V) * xf.sum(-1) + z * lse * lse
    return t.where(tg == int(P["ignore_index"]), t.zeros_like(loss), loss), lse


def ce_eager(t, P, x, tg):
    """torch's F.cross_entropy with the entry's ignore_index and smoothing
    (it has no z-loss and gives no lse)."""
    return t.nn.functional.cross_entropy(x, tg, reduction="none",
                                         ignore_index=int(P["ignore_index"]),
                                         label_smoothing=P["label_smoothing"])


def ce_plain(t, P, x, tg):
    return t.nn.functional.cross_entropy(x, tg)


def ce_ref(t, P, variant, x, tg):
    """Written apart from ce_full, in the textbook form: log-softmax from
    a max-shifted sum, loss = (1 - eps) nll + eps mean(-log p) + z lse^2."""
    if variant == "plain":
        P = dict(P, label_smoothing=0.0, z_loss=0.0, ignore_index=-100)
    elif variant == "torch":
        P = dict(P, z_loss=0.0)
    eps, z = P["label_smoothing"], P["z_loss"]
    m = x.amax(-1, keepdim=True)
    lse = (m + t.log(t.exp(x - m).sum(-1, keepdim=True))).squeeze(-1)
    logp = x - lse.unsqueeze(-1)
    nll = -logp.gather(-1, tg.unsqueeze(-1)).squeeze(-1)
    loss = (1 - eps) * nll - eps * logp.mean(-1) + z * lse * lse
    loss = loss * (tg != int(P["ignore_index"])).to(loss.dtype)
    if variant == "plain":
        return (loss.mean(),)
    return (loss,) if variant == "torch" else (loss, lse)


def ce_douts(t, variant, douts):
    """Output gradients per variant: full (dloss, dlse), torch (dloss),
    plain (1 for the mean)."""
    if variant == "plain":
        return (t.ones((), dtype=douts[0].dtype, device=douts[0].device),)
    return douts[:1] if variant == "torch" else douts


def ce_bwd_compiled(t, P, x, tg, dloss, dlse):
    """Forward (lse) and backward in one compiled function, as ZMLX's
    cross_entropy_bwd row runs both."""
    xf = x.float()
    eps, z, V = P["label_smoothing"], P["z_loss"], x.shape[-1]
    lse = t.logsumexp(xf, -1, keepdim=True)
    p = t.exp(xf - lse)
    dl = t.where(tg == int(P["ignore_index"]), t.zeros_like(dloss), dloss).unsqueeze(-1)
    hit = t.arange(V, device=x.device) == tg.unsqueeze(-1)
    dx = (dl * (1 + 2 * z * lse) + dlse.unsqueeze(-1)) * p - dl * (eps / V)
    return (dx - t.where(hit, dl * (1 - eps), t.zeros_like(dl))).to(x.dtype)


# ---- matmul, linear -------------------------------------------------------------

def matmul_eager(t, P, a, b):
    return t.matmul(a, b)


def matmul_ref(t, P, variant, a, b):
    return (t.matmul(a, b),)


def linear_eager(t, P, x, w, bias):
    return t.nn.functional.linear(x, w, bias)


def linear_ref(t, P, variant, x, w, bias):
    return (t.matmul(x, w.t()) + bias,)


# ---- adamw (in place) -----------------------------------------------------------

BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def adam_consts(P):
    step = P["step"]
    return P["lr"], P["weight_decay"], 1 - BETA1 ** step, math.sqrt(1 - BETA2 ** step)


def adamw_ref(t, P, variant, p, g, m, v):
    """torch.optim.AdamW's step, `steps` times, in f64. variant
    "state_<dtype>": m and v start rounded to the param's dtype, where
    torch keeps its state."""
    if variant.startswith("state_"):
        dt = {"bf16": t.bfloat16, "f16": t.float16, "f32": t.float32}[variant[6:]]
        m, v = m.to(dt).to(p.dtype), v.to(dt).to(p.dtype)
    p, m, v = p.clone(), m.clone(), v.clone()
    for s in range(int(P.get("steps", 1))):
        lr, wd, bc1, bc2s = adam_consts(dict(P, step=P["step"] + s))
        m += (1 - BETA1) * (g - m)
        v.mul_(BETA2).add_((1 - BETA2) * g * g)
        p = p * (1 - lr * wd) - lr / bc1 * m / (v.sqrt() / bc2s + ADAM_EPS)
    return p, m, v


def _adamw_inplace(t, P, p, g, m, v):
    lr, wd, bc1, bc2s = adam_consts(P)
    gf = g.float()
    m.lerp_(gf, 1 - BETA1)
    v.mul_(BETA2).addcmul_(gf, gf, value=1 - BETA2)
    p.copy_((p.float() * (1 - lr * wd) - (lr / bc1) * m / (v.sqrt() / bc2s + ADAM_EPS))
            .to(p.dtype))


def _fresh_copies(ctx):
    return [[x.clone() for x in s] for s in ctx.sets]


def adamw_compiled(ctx):
    """The entry's exact step (bf16 p and g, f32 m and v), in place,
    compiled; the same step number every call, as ZMLX's perf runs."""
    t, P = ctx.torch, ctx.P
    if int(P.get("steps", 1)) != 1:
        raise Skip("written for steps=1")
    work = _fresh_copies(ctx)
    t._dynamo.reset()
    cf = t.compile(lambda p, g, m, v: _adamw_inplace(t, P, p, g, m, v), dynamic=False)

    def run(i):
        p, g, m, v = work[i]
        cf(p, g, m, v)
        return p, m, v
    return run, f"the entry's step in place: {ctx.dtype} p, g; f32 m, v; compiled", "full"


def adamw_torch(fused):
    """torch.optim.AdamW on the param (its dtype), state seeded from m and
    v; torch keeps state in the param's dtype, so its traffic differs."""
    def build(ctx):
        t, P = ctx.torch, ctx.P
        if int(P.get("steps", 1)) != 1:
            raise Skip("written for steps=1")
        work = []
        for p, g, m, v in ctx.sets:
            param = t.nn.Parameter(p.clone())
            param.grad = g.clone()
            kw = {"fused": True} if fused else {"foreach": True}
            opt = t.optim.AdamW([param], lr=P["lr"], betas=(BETA1, BETA2), eps=ADAM_EPS,
                                weight_decay=P["weight_decay"], **kw)
            step_dev = p.device if fused else "cpu"
            opt.state[param] = {
                "step": t.tensor(float(P["step"] - 1), dtype=t.float32, device=step_dev),
                "exp_avg": m.to(p.dtype).clone(), "exp_avg_sq": v.to(p.dtype).clone()}
            work.append((opt, param))

        def run(i):
            opt, param = work[i]
            opt.step()
            st = opt.state[param]
            return param.data, st["exp_avg"], st["exp_avg_sq"]
        es = DTYPE_BYTES[ctx.dtype]
        n = numel(ctx.case.shape("..."))
        nbytes = n * es * 7  # p, g, m, v read; p, m, v written; all in the param's dtype
        return run, (f"torch.optim.AdamW({'fused' if fused else 'foreach'}=True); state in "
                     f"{ctx.dtype} as torch keeps it: {nbytes / 1e9:.2f} GB a step, counted "
                     f"so"), f"state_{ctx.dtype}", nbytes
    return build


# ---- the table ----------------------------------------------------------------

def ops_table(triton_peers):
    """name -> Op. triton_peers: catalog_triton.builders() (a dict op ->
    {"fwd"/"bwd": builder}, and "why" reasons), imported lazily."""
    T = triton_peers
    X = Arg("x", "...,D", grad=True)
    W = Arg("weight", "D", grad=True, lo=0.25, hi=2.0)
    Bi = Arg("bias", "D", grad=True, lo=-1.0, hi=1.0)
    OUT = Arg("out", "...,D")
    sm_x = Arg("x", "...,D", grad=True, lo=-6.0, hi=6.0)

    def tri(name, d):
        return {"triton": T[name][d]} if name in T and d in T[name] else {}

    def why(name):
        """Reasons a Triton peer is absent: "triton" (forward) and
        "triton_bwd" keys, as the driver looks them up."""
        w = T["why"]
        out = {"triton": w[name]} if name in w else {}
        if name + "_bwd" in w:
            out["triton_bwd"] = w[name + "_bwd"]
        return out

    ops = [
        Op("rmsnorm", "16384 D=4096", [X, W], [OUT], {"eps": 1e-6},
           fwd={"torch_eager": eager(rms_eager, "F.rms_norm"),
                "torch_compile": compiled(rms_compiled), **tri("rmsnorm", "fwd")},
           bwd={"torch_eager": autograd(rms_eager), "torch_compile": compiled(
                rms_bwd_compiled, "the backward formula (dx and dweight), compiled",
                with_douts=True), **tri("rmsnorm", "bwd")},
           ref=rms_ref, why_not=why("rmsnorm")),
        Op("add_rmsnorm", "16384 D=4096", [X, Arg("residual", "...,D", grad=True), W],
           [OUT, Arg("sum", "...,D")], {"eps": 1e-6},
           fwd={"torch_eager": eager(addrms_eager, "x + residual, then F.rms_norm"),
                "torch_compile": compiled(addrms_compiled), **tri("add_rmsnorm", "fwd")},
           bwd={"torch_eager": autograd(addrms_eager), "torch_compile": compiled(
                addrms_bwd_compiled, "the backward formula, compiled", with_douts=True)},
           ref=addrms_ref, why_not=why("add_rmsnorm")),
        Op("layernorm", "16384 D=4096", [X, W, Bi], [OUT], {"eps": 1e-5},
           fwd={"torch_eager": eager(ln_eager, "F.layer_norm"),
                "torch_compile": compiled(ln_eager), **tri("layernorm", "fwd")},
           bwd={"torch_eager": autograd(ln_eager), "torch_compile": compiled(
                ln_bwd_compiled, "the backward formula, compiled", with_douts=True)},
           ref=ln_ref, why_not=why("layernorm")),
        Op("softmax", "16384 D=4096", [sm_x], [Arg("y", "...,D")],
           fwd={"torch_eager": eager(softmax_eager, "torch.softmax"),
                "torch_compile": compiled(softmax_eager), **tri("softmax", "fwd")},
           bwd={"torch_eager": autograd(softmax_eager), "torch_compile": compiled(
                softmax_bwd_compiled, "y recomputed from x, then y * (dy - sum(dy * y))",
                with_douts=True), **tri("softmax", "bwd")},
           ref=softmax_ref, why_not=why("softmax")),
        Op("cumsum", "16384 D=4096", [X], [Arg("y", "...,D")],
           fwd={"torch_eager": eager(cumsum_eager, "torch.cumsum"),
                "torch_compile": compiled(cumsum_eager), **tri("cumsum", "fwd")},
           bwd={"torch_eager": autograd(cumsum_eager), "torch_compile": compiled(
                cumsum_bwd_compiled, "a reversed cumsum of dy, compiled", with_douts=True)},
           ref=cumsum_ref, why_not=why("cumsum")),
        Op("dropout", "16384x4096", [Arg("x", "...", grad=True)], [Arg("y", "...")],
           {"p": 0.1, "seed": 1234, "offset": 0},
           fwd={"torch_eager": eager(dropout_eager, "F.dropout (its kernel also writes the "
                                                    "mask: 1 byte an element)"),
                "torch_compile": compiled(dropout_eager), **tri("dropout", "fwd")},
           bwd={"torch_eager": autograd(dropout_eager, "autograd: dy * the saved mask"),
                "torch_compile": dropout_bwd_compiled, **tri("dropout", "bwd")},
           why_not=why("dropout"), check="dropout"),
        Op("rope", "16384 H=32 D=128 R=128 P=16384",
           [Arg("x", "...,H,D", grad=True), Arg("inv_freq", "R/2", "f64", lo=1e-4, hi=1.0),
            Arg("positions", "...", "i32", range="P")], [Arg("y", "...,H,D")], {"scale": 1.0},
           fwd={"torch_eager": eager(rope_eager, "transformers' apply_rotary_pos_emb "
                                                 "(half rotation), cos/sin from positions"),
                "torch_compile": compiled(rope_compiled), **tri("rope", "fwd")},
           bwd={"torch_eager": autograd(rope_eager), "torch_compile": compiled(
                rope_bwd_compiled, "the inverse rotation of dy, compiled", with_douts=True),
                **tri("rope", "bwd")},
           ref=rope_ref, why_not=why("rope"),
           # The peers form angles in f32 as transformers does: position x
           # inv_freq near 16384 keeps ~1e-3 rad, above f32's bound.
           tol={"f32": 3e-3, "f16": 4e-3}),
        Op("swiglu", "8192 D=4096", [Arg("gate", "...,D", grad=True, lo=-6.0, hi=6.0),
                                     Arg("up", "...,D", grad=True)], [OUT],
           fwd={"torch_eager": eager(swiglu_eager, "F.silu(gate) * up"),
                "torch_compile": compiled(swiglu_compiled), **tri("swiglu", "fwd")},
           bwd={"torch_eager": autograd(swiglu_eager), "torch_compile": compiled(
                swiglu_bwd_compiled, "the backward formula, compiled", with_douts=True),
                **tri("swiglu", "bwd")},
           ref=swiglu_ref, why_not=why("swiglu")),
        Op("cross_entropy", "4096 V=151936",
           [Arg("logits", "...,V", grad=True, lo=-8.0, hi=8.0),
            Arg("targets", "...", "i64", range="V")],
           [Arg("loss", "...", "f32"), Arg("lse", "...", "f32")],
           {"ignore_index": 1, "label_smoothing": 0.1, "z_loss": 1e-3},
           fwd={"torch_eager": eager_variant(ce_eager, "torch", CE_EAGER_NOTE),
                "torch_plain": eager_variant(ce_plain, "plain", CE_PLAIN_NOTE),
                "torch_compile": compiled(ce_full, "the entry's formula (smoothing, z-loss, "
                                                   "lse), compiled"),
                **tri("cross_entropy", "fwd")},
           bwd={"torch_eager": autograd_with_forward(
                    ce_eager, "forward and autograd backward (as zmlx's row: forward too); "
                    + CE_EAGER_NOTE, "torch", lambda t, d: d[:1]),
                "torch_plain": autograd_with_forward(
                    ce_plain, "forward and autograd backward; " + CE_PLAIN_NOTE, "plain",
                    lambda t, d: (t.ones((), dtype=d[0].dtype, device=d[0].device),)),
                "torch_compile": compiled(ce_bwd_compiled, "lse and the backward formula "
                                          "in one compiled function (forward too, as zmlx's "
                                          "row)", with_douts=True),
                **tri("cross_entropy", "bwd")},
           ref=ce_ref, why_not=why("cross_entropy"), ref_dtype="f32",
           peak_memory=True, douts_of=ce_douts),
        Op("matmul", "M=8192 K=8192 N=8192",
           [Arg("a", "M,K", grad=True), Arg("b", "K,N", grad=True)], [Arg("c", "M,N")],
           fwd={"torch_eager": eager(matmul_eager, "torch.matmul (cuBLAS)")},
           bwd={"torch_eager": autograd(matmul_eager, "autograd: dc b^T and a^T dc, two GEMMs")},
           ref=matmul_ref, flops=lambda c, grad: (2 if grad else 1) * 2 * c.sizes["M"]
           * c.sizes["N"] * c.sizes["K"],
           why_not={"torch_compile": "inductor calls the same cuBLAS GEMM in default mode",
                    **why("matmul")}),
        Op("linear", "4096 K=4096 N=4096",
           [Arg("x", "...,K", grad=True), Arg("w", "N,K", grad=True),
            Arg("bias", "N", grad=True)], [Arg("y", "...,N")],
           fwd={"torch_eager": eager(linear_eager, "F.linear (cuBLAS)")},
           bwd={"torch_eager": autograd(linear_eager, "autograd: two GEMMs and the bias sum")},
           ref=linear_ref, flops=lambda c, grad: (2 if grad else 1) * 2 * numel(c.lead)
           * c.sizes["N"] * c.sizes["K"],
           why_not={"torch_compile": "inductor calls the same cuBLAS GEMM in default mode",
                    **why("matmul")}),
        Op("adamw", "100000000 steps=1",
           [Arg("p", "..."), Arg("g", "..."), Arg("m", "...", "f32", lo=-1.0, hi=1.0),
            Arg("v", "...", "f32", lo=0.0, hi=0.5)],
           [Arg("p", "..."), Arg("m", "...", "f32"), Arg("v", "...", "f32")],
           {"lr": 0.01, "weight_decay": 0.1, "step": 1, "steps": 3},
           fwd={"torch_fused": adamw_torch(True), "torch_foreach": adamw_torch(False),
                "torch_compile": adamw_compiled, **tri("adamw", "fwd")},
           ref=adamw_ref, why_not={"torch_eager": "torch.optim.AdamW is the eager peer: "
                                                  "the torch_fused and torch_foreach rows",
                                   **why("adamw")}),
    ]
    return {op.name: op for op in ops}


CE_EAGER_NOTE = ("F.cross_entropy(reduction='none', ignore_index, label_smoothing): "
                 "no z-loss term, no lse output (torch has neither)")
CE_PLAIN_NOTE = ("F.cross_entropy(logits, targets) with its defaults (mean, no smoothing): "
                 "the issue's 1669 us reference")


def eager_variant(fn, variant, note):
    def build(ctx):
        t, P = ctx.torch, ctx.P
        return (lambda i: as_tuple(fn(t, P, *ctx.sets[i]))), note, variant
    return build
