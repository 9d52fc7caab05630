#!/usr/bin/env python3
"""Write the token vectors that tests/test_tokenizer.c checks on CPU-only CI.

    python3 scripts/gen_token_vectors.py [--tokenizers DIR] [--text FILE] [--out DIR]

Needs Python `tokenizers` (Hugging Face) and the files that
scripts/fetch_tokenizers.sh puts in .data/tokenizers/<name>/. For every
document of tests/data/tokenizer/text.txt (made by
`scripts/make_tok_corpus.py tests/data/tokenizer/text.txt --size 80000 --no-sources`)
it writes to tests/data/tokenizer/<name>.ids:

    # comment lines (tokenizers version, text sha256)
    <doc> plain <n>: ids of encode(text, add_special_tokens=False)
    <doc> special <n>: ids of encode(text, add_special_tokens=True), written
                       where they differ from plain and for the first 8 documents
    <doc> decode <sha256>: of decode(plain ids, skip_special_tokens=False), UTF-8
    <doc> decode_skip <sha256>: the same with skip_special_tokens=True

Bytes that are not UTF-8 are decoded as Python does with errors="replace"
(the only way to hand bytes to `tokenizers`), which is what ZMLX does too.
"""
import argparse
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_tok_corpus  # noqa: E402

NAMES = ("qwen3", "llama2", "gpt4o")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizers", default=os.path.join(ROOT, ".data", "tokenizers"))
    ap.add_argument("--text", default=os.path.join(ROOT, "tests", "data", "tokenizer", "text.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "tokenizer"))
    a = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import tokenizers
    from tokenizers import Tokenizer

    os.makedirs(a.out, exist_ok=True)
    docs = make_tok_corpus.read(a.text)
    with open(a.text, "rb") as f:
        text_sha = hashlib.sha256(f.read()).hexdigest()
    for name in NAMES:
        path = os.path.join(a.tokenizers, name, "tokenizer.json")
        tok = Tokenizer.from_file(path)
        out = os.path.join(a.out, name + ".ids")
        with open(out, "w", encoding="ascii", newline="\n") as f:
            f.write("# zmlx token vectors v1: %s, Python tokenizers %s\n" % (name, tokenizers.__version__))
            f.write("# text.txt sha256 %s; made by scripts/gen_token_vectors.py\n" % text_sha)
            for k, (doc, data) in enumerate(docs):
                text = data.decode("utf-8", errors="replace")
                plain = tok.encode(text, add_special_tokens=False).ids
                special = tok.encode(text, add_special_tokens=True).ids
                f.write("%s plain %d: %s\n" % (doc, len(plain), " ".join(map(str, plain))))
                # Only where it differs (Llama-2's <s>), and for a few documents.
                if special != plain or k < 8:
                    f.write("%s special %d: %s\n" % (doc, len(special), " ".join(map(str, special))))
                for kind, skip in (("decode", False), ("decode_skip", True)):
                    s = tok.decode(plain, skip_special_tokens=skip)
                    f.write("%s %s %s\n" % (doc, kind, hashlib.sha256(s.encode("utf-8")).hexdigest()))
        print("wrote %s (%d documents)" % (out, len(docs)))


if __name__ == "__main__":
    main()
