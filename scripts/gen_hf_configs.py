#!/usr/bin/env python3
"""Write the config.json that transformers writes for each family ZMLX runs,
from its default config classes, into tests/data/configs/<family>.json.

    python3 scripts/gen_hf_configs.py [OUT_DIR]

Each file is exactly what `save_pretrained` would write for a model built
from the default config (`to_json_file`, i.e. only the fields that differ
from PreTrainedConfig's defaults, sorted, indent 2). The files in the
repository were first written by hand from transformers' defaults; rerun
this where transformers is installed and diff: tests/test_config.c pins
every field of every family, so a difference shows up as a failing test
(or as a hand-written value to correct).

`transformers_version` is dropped so that regenerating with another
version only shows real differences. Families the installed transformers
lacks are reported and skipped.
"""
import json
import os
import sys

FAMILIES = [
    ("llama", "LlamaConfig"),
    ("qwen2", "Qwen2Config"),
    ("qwen3", "Qwen3Config"),
    ("qwen3_moe", "Qwen3MoeConfig"),
    ("mixtral", "MixtralConfig"),
    ("gpt_oss", "GptOssConfig"),
    ("lfm2", "Lfm2Config"),
    ("lfm2_moe", "Lfm2MoeConfig"),
]


def main():
    import transformers

    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "configs")
    os.makedirs(out_dir, exist_ok=True)
    print(f"transformers {transformers.__version__}")
    missing = []
    for family, cls_name in FAMILIES:
        cls = getattr(transformers, cls_name, None)
        if cls is None:
            missing.append(cls_name)
            print(f"  {family}: transformers has no {cls_name}; skipped")
            continue
        path = os.path.join(out_dir, f"{family}.json")
        cls().to_json_file(path)
        with open(path) as f:
            data = json.load(f)
        data.pop("transformers_version", None)
        with open(path, "w") as f:
            f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"  {family}: {path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
