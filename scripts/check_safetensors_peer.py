#!/usr/bin/env python3
"""Safetensors against the Python `safetensors` package, both directions.

    python3 scripts/check_safetensors_peer.py [ST_ROUNDTRIP]   (default build/st_roundtrip)

1. Python writes a sharded checkpoint (two shards + model.safetensors.index.json,
   metadata {"format": "pt"}) of random tensors in mixed dtypes: bf16, f16, f32,
   f64, i8, i16, i32, i64, u8, u32, bool, f8_e4m3, f8_e5m2, plus u16 and u64
   (which ZMLX reads as raw bytes only), odd shapes, a scalar and an empty one.
2. bench/st_roundtrip reads it with ZMLX (CPU zero-copy view, and cuda:0 when
   present), dumps the bytes it loaded, and writes everything back with ZMLX's
   writer into one file.
3. Here: every tensor ZMLX loaded must equal the original bytes (read), every
   tensor of ZMLX's file must load in `safetensors` with identical bytes (write),
   and ZMLX's file must be byte-identical to what `safetensors.torch.save_file`
   writes for the same dict and metadata (layout).

Prints PASS/FAIL per tensor and per check; exits 1 on any FAIL.
Needs torch and safetensors; no network.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file


def random_tensors(gen):
    def r(shape, dtype):
        if dtype == torch.bool:
            return torch.randint(0, 2, shape, generator=gen).bool()
        if dtype.is_floating_point:
            return (torch.randn(shape, generator=gen) * 3).to(dtype)
        info = torch.iinfo(dtype)
        lo, hi = max(info.min, -(2**62)), min(info.max, 2**62)
        return torch.randint(lo, hi, shape, generator=gen, dtype=torch.int64).to(dtype)

    specs = [
        ("model.embed_tokens.weight", (37, 16), torch.bfloat16),
        ("model.layers.0.self_attn.q_proj.weight", (16, 16), torch.float16),
        ("model.layers.0.input_layernorm.weight", (16,), torch.float32),
        ("model.layers.0.mlp.scale_f64", (3, 5), torch.float64),
        ("model.layers.0.mlp.w_fp8", (8, 9), torch.float8_e4m3fn),
        ("model.layers.0.mlp.w_fp8_e5m2", (7,), torch.float8_e5m2),
        ("model.layers.1.ids", (11,), torch.int64),
        ("model.layers.1.i32", (2, 3, 4), torch.int32),
        ("model.layers.1.i16", (5,), torch.int16),
        ("model.layers.1.i8", (13,), torch.int8),
        ("model.layers.1.u8", (6, 1), torch.uint8),
        ("model.layers.1.mask", (4, 4), torch.bool),
        ("model.layers.1.packed", (3, 8), torch.uint32),
        ("model.layers.1.u16", (9,), torch.uint16),
        ("model.layers.1.u64", (2,), torch.uint64),
        ("scalar", (), torch.float32),
        ("empty", (0, 4), torch.float16),
        ("lm_head.weight", (37, 16), torch.bfloat16),
    ]
    return {name: r(shape, dt) for name, shape, dt in specs}


def raw(t):
    # reshape first: a 0-d tensor cannot be viewed as another element size
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "st_roundtrip")
    gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
    tensors = random_tensors(gen)
    names = sorted(tensors, key=lambda s: s.encode())
    failed = 0

    def report(ok, what):
        nonlocal failed
        print(("PASS  " if ok else "FAIL  ") + what)
        failed |= not ok

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "ckpt")
        out = os.path.join(tmp, "out")
        os.makedirs(ckpt)
        os.makedirs(out)
        shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
        weight_map = {}
        for shard, members in shards.items():
            save_file({n: tensors[n] for n in members}, os.path.join(ckpt, shard), metadata={"format": "pt"})
            weight_map.update({n: shard for n in members})
        total = sum(len(raw(t)) for t in tensors.values())
        with open(os.path.join(ckpt, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

        proc = subprocess.run([tool, ckpt, out], capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        report(proc.returncode == 0, f"st_roundtrip exit status {proc.returncode}")

        # read: what ZMLX loaded equals the original bytes
        manifest = []
        mpath = os.path.join(out, "manifest.tsv")
        if os.path.exists(mpath):
            with open(mpath) as f:
                manifest = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        report(len(manifest) == len(names), f"ZMLX lists {len(manifest)} tensors, Python wrote {len(names)}")
        for row, name in zip(manifest, names):
            i, dtype, shape, nbytes, how = row
            with open(os.path.join(out, f"{i}.bin"), "rb") as f:
                got = f.read()
            want_shape = ",".join(str(d) for d in tensors[name].shape)
            ok = got == raw(tensors[name]) and shape == want_shape
            report(ok, f"read   {name} {dtype} ({shape}) {nbytes} bytes via {how}")

        # write: ZMLX's file loads in safetensors with identical bytes
        zpath = os.path.join(out, "zmlx.safetensors")
        try:
            back = load_file(zpath)
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            back = {}
            report(False, f"safetensors could not load ZMLX's file: {e}")
        for name in names:
            ok = name in back and back[name].dtype == tensors[name].dtype and \
                tuple(back[name].shape) == tuple(tensors[name].shape) and raw(back[name]) == raw(tensors[name])
            report(ok, f"write  {name} {tensors[name].dtype}")

        # layout: byte-identical to Python's writer for the same dict and metadata
        ppath = os.path.join(tmp, "python.safetensors")
        save_file(tensors, ppath, metadata={"format": "pt"})
        with open(ppath, "rb") as a, open(zpath, "rb") if os.path.exists(zpath) else open(os.devnull, "rb") as b:
            pa, zb = a.read(), b.read()
        report(pa == zb, f"layout ZMLX's file is byte-identical to safetensors.torch.save_file ({len(zb)} vs {len(pa)} bytes)")

    import safetensors
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}")
    print("ALL PASS" if not failed else "SOME FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
