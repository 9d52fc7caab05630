#!/usr/bin/env python3
"""Write tests/data/rope/hf_inv_freq.txt: inverse frequencies and attention
scaling as Hugging Face transformers computes them, for the rope configs of
Llama 3.1, Qwen3 (default and YaRN), GPT-OSS, linear and dynamic scaling.
tests/test_catalog_rope.c compares zmlx_rope_inv_freq with these.

Run where transformers and torch are installed (no network needed):
    python3 scripts/gen_rope_vectors.py [OUT]

Every line: name type theta factor original low high beta_fast beta_slow
truncate attention_factor(-1: none) mscale mscale_all_dim rotary_dim
max_position_embeddings seq_len | attention_scaling n inv_freq[0..n-1].
YaRN configs set max_position_embeddings = factor * original, where the
4.x and 5.x readings of the config agree."""
import os
import sys

import torch
import transformers
from transformers import GptOssConfig, LlamaConfig, Qwen3Config
from transformers.models.gpt_oss.modeling_gpt_oss import GptOssRotaryEmbedding
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.qwen3.modeling_qwen3 import Qwen3RotaryEmbedding

V5 = int(transformers.__version__.split(".")[0]) >= 5

# name, config class, embedding class, sizes, theta, scaling (or None), seq_len
CASES = [
    ("llama_default", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, max_position_embeddings=2048), 10000.0, None, 0),
    ("llama_linear", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, max_position_embeddings=4096), 10000.0,
     dict(rope_type="linear", factor=2.0), 0),
    ("llama_dynamic", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, max_position_embeddings=2048), 10000.0,
     dict(rope_type="dynamic", factor=2.0), 5000),
    ("llama_dynamic_short", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=2048, num_attention_heads=32, max_position_embeddings=2048), 10000.0,
     dict(rope_type="dynamic", factor=4.0), 1000),
    ("llama31", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, max_position_embeddings=131072), 500000.0,
     dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
          original_max_position_embeddings=8192), 0),
    ("llama32", LlamaConfig, LlamaRotaryEmbedding,
     dict(hidden_size=2048, num_attention_heads=32, max_position_embeddings=131072), 500000.0,
     dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
          original_max_position_embeddings=8192), 0),
    ("qwen3_default", Qwen3Config, Qwen3RotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, head_dim=128, max_position_embeddings=40960),
     1000000.0, None, 0),
    ("qwen3_yarn", Qwen3Config, Qwen3RotaryEmbedding,
     dict(hidden_size=4096, num_attention_heads=32, head_dim=128, max_position_embeddings=131072),
     1000000.0, dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=32768), 0),
    ("yarn_mscale", Qwen3Config, Qwen3RotaryEmbedding,
     dict(hidden_size=2048, num_attention_heads=16, head_dim=64, max_position_embeddings=163840),
     10000.0, dict(rope_type="yarn", factor=40.0, original_max_position_embeddings=4096,
                   mscale=1.0, mscale_all_dim=0.707, beta_fast=32.0, beta_slow=1.0), 0),
    ("gpt_oss", GptOssConfig, GptOssRotaryEmbedding,
     dict(hidden_size=2880, num_attention_heads=64, head_dim=64, max_position_embeddings=131072),
     150000.0, dict(rope_type="yarn", factor=32.0, beta_fast=32.0, beta_slow=1.0, truncate=False,
                    original_max_position_embeddings=4096), 0),
]

TYPES = {"default": 0, "linear": 1, "dynamic": 2, "yarn": 3, "llama3": 4}


def make(cls, sizes, theta, scaling):
    if V5:
        rp = dict(rope_type="default", rope_theta=theta)
        rp.update(scaling or {})
        return cls(rope_parameters=rp, **sizes)
    return cls(rope_theta=theta, rope_scaling=dict(scaling) if scaling else None, **sizes)


def frequencies(cfg, emb_cls, seq_len):
    emb = emb_cls(config=cfg)
    if not seq_len:
        return emb.inv_freq, float(emb.attention_scaling)
    fn = getattr(emb, "rope_init_fn", None)
    if fn is None:
        from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
        fn = ROPE_INIT_FUNCTIONS["dynamic"]
    inv, scale = fn(cfg, torch.device("cpu"), seq_len=seq_len)
    return inv, float(scale)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "rope",
                                                             "hf_inv_freq.txt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    lines = ["# inv_freq from transformers %s (torch %s); made by scripts/gen_rope_vectors.py"
             % (transformers.__version__, torch.__version__)]
    for name, cls, emb_cls, sizes, theta, scaling, seq_len in CASES:
        cfg = make(cls, sizes, theta, scaling)
        inv, scale = frequencies(cfg, emb_cls, seq_len)
        inv = inv.detach().double().cpu().tolist()
        head_dim = sizes.get("head_dim") or sizes["hidden_size"] // sizes["num_attention_heads"]
        s = scaling or {}
        af = s.get("attention_factor")
        fields = [name, TYPES[s.get("rope_type", "default")], theta, s.get("factor", 1.0),
                  s.get("original_max_position_embeddings", 0), s.get("low_freq_factor", 1.0),
                  s.get("high_freq_factor", 4.0), s.get("beta_fast", 32.0), s.get("beta_slow", 1.0),
                  int(s.get("truncate", True)), -1.0 if af is None else af, s.get("mscale", 0.0),
                  s.get("mscale_all_dim", 0.0), head_dim, sizes["max_position_embeddings"],
                  seq_len, "|", repr(scale), len(inv)] + [repr(v) for v in inv]
        lines.append(" ".join(str(f) for f in fields))
        print("%-20s %3d frequencies, attention scaling %.6f" % (name, len(inv), scale))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
