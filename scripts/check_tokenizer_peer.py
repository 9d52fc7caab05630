#!/usr/bin/env python3
"""ZMLX's tokenizer against Hugging Face `tokenizers`, id for id, and timed.

    python3 scripts/check_tokenizer_peer.py [--zmlx build/zmlx] [--bench build/bench_tokenizer]
        [--tokenizers .data/tokenizers] [--names qwen3,llama2,gpt4o] [--corpus FILE]
        [--repeat 5] [--no-time]

For each tokenizer (scripts/fetch_tokenizers.sh fetches them), over a corpus
of about 1.2 MB (scripts/make_tok_corpus.py; made in a temporary folder
unless --corpus names one):
  1. ids of every document, of every line and of 1000-byte chunks cut
     anywhere (mid-character too), with add_special_tokens=False, and of
     every document with add_special_tokens=True: `zmlx tokenize --batch`
     against Tokenizer.encode;
  2. decode of the reference ids (skip_special_tokens False and True), and
     the streaming decoder's concatenated output, against Tokenizer.decode;
  3. chat prompts (Qwen3 with its tokenizer_config.json template, Llama-3
     with its published template) against transformers' apply_chat_template
     (or jinja2 when transformers is missing), text and ids;
  4. encoding throughput on one thread: bench_tokenizer against
     Tokenizer.encode per document and per line, RAYON_NUM_THREADS=1 and
     TOKENIZERS_PARALLELISM=false, one warm-up pass and the median of
     --repeat timed passes each.
Bytes that are not UTF-8 are given to `tokenizers` as
bytes.decode("utf-8", errors="replace"), as ZMLX reads them.
Prints the first mismatch with its context, PASS or FAIL per check, and
exits 1 on any FAIL.
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# One thread for the peer, set before `tokenizers` is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_tok_corpus  # noqa: E402

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")

CHATS = [
    ([("system", "You are a helpful assistant."), ("user", "Hello! What is 2+2?")], True, True),
    ([("user", "Hi"), ("assistant", "<think>\nLet me think.\n</think>\n\nHello!"),
      ("user", "Again, in 中文 please 😀")], True, False),
    ([("user", "Q1"), ("assistant", "A1"), ("user", "Q2"),
      ("assistant", "<think>\nreasoning\n\n</think>\n\n\nA2")], False, True),
    ([("system", "  spaced system  \n"), ("user", "\tline one\nline two  ")], True, True),
    ([("user", "<tool_response>\nresult\n</tool_response>")], True, False),
]

failures = []


def report(ok, what, detail=""):
    print("%s  %s%s" % ("PASS" if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
    if not ok:
        failures.append(what)


def pieces_of(docs):
    """(label, bytes): documents, lines, and 1000-byte chunks cut anywhere."""
    out = [("doc:" + n, d) for n, d in docs]
    for n, d in docs:
        for i, line in enumerate(d.splitlines(keepends=True)):
            out.append(("line:%s:%d" % (n, i), line))
    blob = b"".join(d for _, d in docs)
    for i in range(0, len(blob), 1000):
        out.append(("chunk:%d" % i, blob[i:i + 1000]))
    return out


def write_batch(path, texts):
    with open(path, "wb") as f:
        for t in texts:
            f.write(b"%d\n" % len(t) + t + b"\n")


def read_text_records(data):
    out, p = [], 0
    while p < len(data):
        nl = data.index(b"\n", p)
        n = int(data[p:nl])
        out.append(data[nl + 1:nl + 1 + n])
        p = nl + 1 + n + 1
    return out


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                    r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def show_mismatch(tok, label, text, got, want):
    k = 0
    while k < min(len(got), len(want)) and got[k] == want[k]:
        k += 1
    lo = max(0, k - 4)
    toks = lambda ids: [tok.id_to_token(i) if i is not None and i >= 0 else None for i in ids]
    # Where in the text: the reference tokens' offsets.
    enc = tok.encode(text, add_special_tokens=False)
    off = enc.offsets[k][0] if k < len(enc.offsets) else len(text)
    print("    first mismatch in %s at id %d of %d (zmlx has %d)" % (label, k, len(want), len(got)))
    print("    text around it: %r" % text[max(0, off - 40):off + 40])
    print("    zmlx: %s %s" % (got[lo:k + 6], toks(got[lo:k + 6])))
    print("    ref:  %s %s" % (want[lo:k + 6], toks(want[lo:k + 6])))


def check_ids(name, zmlx, tokdir, tok, pieces, tmp):
    batch = os.path.join(tmp, "batch.txt")
    write_batch(batch, [p for _, p in pieces])
    t0 = time.time()
    out = run([zmlx, "tokenize", "--tokenizer", tokdir, "--batch", batch]).decode().split("\n")
    zt = time.time() - t0
    bad = 0
    for i, (label, data) in enumerate(pieces):
        text = data.decode("utf-8", errors="replace")
        want = tok.encode(text, add_special_tokens=False).ids
        got = [int(x) for x in out[i].split()]
        if got != want:
            if bad == 0:
                show_mismatch(tok, label, text, got, want)
            bad += 1
    n_tok = sum(len(o.split()) for o in out)
    report(bad == 0, "%s: ids of %d pieces (%d documents, lines, 1000-byte chunks), %d tokens"
           % (name, len(pieces), sum(1 for l, _ in pieces if l.startswith("doc:")), n_tok),
           "%d pieces differ" % bad)
    docs = [(l, d) for l, d in pieces if l.startswith("doc:")]
    write_batch(batch, [d for _, d in docs])
    out = run([zmlx, "tokenize", "--tokenizer", tokdir, "--batch", batch, "--add-special"]).decode().split("\n")
    bad = 0
    for i, (label, data) in enumerate(docs):
        text = data.decode("utf-8", errors="replace")
        want = tok.encode(text, add_special_tokens=True).ids
        got = [int(x) for x in out[i].split()]
        if got != want:
            if bad == 0:
                show_mismatch(tok, label + " (add_special_tokens)", text, got, want)
            bad += 1
    report(bad == 0, "%s: ids with add_special_tokens=True of %d documents" % (name, len(docs)),
           "%d documents differ" % bad)
    return zt


def check_decode(name, zmlx, tokdir, tok, docs, tmp):
    ids = [tok.encode(d.decode("utf-8", errors="replace"), add_special_tokens=True).ids
           for _, d in docs]
    path = os.path.join(tmp, "ids.txt")
    with open(path, "w") as f:
        for v in ids:
            f.write(" ".join(map(str, v)) + "\n")
    for flags, skip in (([], False), (["--skip-special"], True), (["--stream"], False),
                        (["--stream", "--skip-special"], True)):
        out = read_text_records(run([zmlx, "tokenize", "--tokenizer", tokdir, "--decode",
                                     "--batch", path] + flags))
        bad = 0
        for (label, _), v, got in zip(docs, ids, out):
            want = tok.decode(v, skip_special_tokens=skip).encode("utf-8")
            if got != want:
                if bad == 0:
                    k = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                             min(len(got), len(want)))
                    print("    first decode mismatch in %s at byte %d:\n      zmlx %r\n      ref  %r"
                          % (label, k, got[max(0, k - 40):k + 40], want[max(0, k - 40):k + 40]))
                bad += 1
        report(bad == 0, "%s: decode %s of %d documents" % (name, " ".join(flags) or "(plain)", len(docs)),
               "%d documents differ" % bad)


def render_reference(template, messages, gen, thinking, bos, tok):
    """transformers' apply_chat_template; jinja2 set up as transformers does
    when transformers is missing. None when neither is there."""
    msgs = [{"role": r, "content": c} for r, c in messages]
    extra = {} if thinking else {"enable_thinking": False}
    try:
        from transformers import PreTrainedTokenizerFast
        t = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos or None)
        t.chat_template = template
        return t.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen, **extra)
    except ImportError:
        pass
    try:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        return None
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = lambda m: (_ for _ in ()).throw(Exception(m))
    return env.from_string(template).render(messages=msgs, add_generation_prompt=gen,
                                            bos_token=bos, **extra)


def check_chat(zmlx, tokdirs, toks):
    qdir = tokdirs.get("qwen3")
    templates = []
    if qdir and os.path.exists(os.path.join(qdir, "tokenizer_config.json")):
        with open(os.path.join(qdir, "tokenizer_config.json")) as f:
            templates.append(("qwen3", json.load(f).get("chat_template"), ""))
    templates.append(("llama3", LLAMA3_TEMPLATE, "<|begin_of_text|>"))
    # transformers wants a tokenizer to hang the template on; any will do.
    anytok = next(iter(toks.values()), None)
    for fmt, template, bos in templates:
        if not template:
            continue
        bad = 0
        for messages, gen, thinking in CHATS:
            want = render_reference(template, messages, gen, thinking, bos, anytok)
            if want is None:
                report(False, "chat %s: neither transformers nor jinja2 is installed" % fmt)
                return
            args = [zmlx, "tokenize", "--chat", fmt, "--render"]
            if gen:
                args.append("--gen")
            if not thinking:
                args.append("--no-think")
            args += ["%s=%s" % (r, c) for r, c in messages]
            got = run(args).decode("utf-8")
            if got != want:
                if bad == 0:
                    print("    chat %s mismatch for %r:\n      zmlx %r\n      ref  %r" % (fmt, messages, got, want))
                bad += 1
            elif fmt == "qwen3" and "qwen3" in toks:
                ids = run([zmlx, "tokenize", "--tokenizer", qdir] + args[2:4] + args[5:]).decode().split()
                if [int(x) for x in ids] != toks["qwen3"].encode(want, add_special_tokens=False).ids:
                    if bad == 0:
                        print("    chat qwen3 ids differ for %r" % (messages,))
                    bad += 1
        report(bad == 0, "chat %s: %d conversations (text%s)" % (fmt, len(CHATS), " and ids" if fmt == "qwen3" else ""),
               "%d differ" % bad)


def time_peer(tok, texts, repeat):
    def one():
        t0 = time.perf_counter()
        n = 0
        for t in texts:
            n += len(tok.encode(t, add_special_tokens=False).ids)
        return time.perf_counter() - t0, n
    one()  # warm-up, as bench_tokenizer does
    runs = [one() for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), runs[0][1]


def check_speed(name, bench, tokdir, tok, corpus, docs, repeat):
    out = run([bench, "--tokenizer", tokdir, "--corpus", corpus, "--repeat", str(repeat),
               "--lines", "--json"]).decode().strip().split("\n")
    z = {r["mode"]: r for r in map(json.loads, out)}
    sets = {"documents": [d for _, d in docs],
            "lines": [l for _, d in docs for l in d.splitlines(keepends=True)]}
    for mode, parts in sets.items():
        nbytes = sum(len(p) for p in parts)
        texts = [p.decode("utf-8", errors="replace") for p in parts]
        med, ntok = time_peer(tok, texts, repeat)
        hf_mbs = nbytes / 1e6 / med
        zr = z[mode]
        ratio = zr["mb_per_s"] / hf_mbs
        print("    %-7s %-9s zmlx %7.2f MB/s %10.0f tok/s | tokenizers %7.2f MB/s %10.0f tok/s | x%.2f"
              % (name, mode, zr["mb_per_s"], zr["tokens_per_s"], hf_mbs, ntok / med, ratio))
        report(ratio >= 1.0, "%s: %s throughput at least that of tokenizers (x%.2f)" % (name, mode, ratio),
               "zmlx %.2f MB/s < tokenizers %.2f MB/s" % (zr["mb_per_s"], hf_mbs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zmlx", default=os.path.join(ROOT, "build", "zmlx"))
    ap.add_argument("--bench", default=None, help="bench_tokenizer (default: next to --zmlx)")
    ap.add_argument("--tokenizers", default=os.path.join(ROOT, ".data", "tokenizers"))
    ap.add_argument("--names", default="qwen3,llama2,gpt4o")
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-time", action="store_true")
    a = ap.parse_args()
    bench = a.bench or os.path.join(os.path.dirname(os.path.abspath(a.zmlx)), "bench_tokenizer")

    import tokenizers
    from tokenizers import Tokenizer
    print("tokenizers %s, Python %s" % (tokenizers.__version__, sys.version.split()[0]))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = a.corpus
        if not corpus:
            corpus = os.path.join(tmp, "corpus.txt")
            make_tok_corpus.write(corpus, make_tok_corpus.build(1_200_000, True))
        docs = make_tok_corpus.read(corpus)
        with open(corpus, "rb") as f:
            print("corpus %s: %d documents, %d bytes, sha256 %s" % (
                corpus, len(docs), sum(len(d) for _, d in docs), hashlib.sha256(f.read()).hexdigest()[:16]))
        pieces = pieces_of(docs)
        toks, dirs = {}, {}
        for name in a.names.split(","):
            tokdir = os.path.join(a.tokenizers, name)
            if not os.path.exists(os.path.join(tokdir, "tokenizer.json")):
                report(False, "%s: no %s/tokenizer.json (scripts/fetch_tokenizers.sh)" % (name, tokdir))
                continue
            tok = Tokenizer.from_file(os.path.join(tokdir, "tokenizer.json"))
            toks[name], dirs[name] = tok, tokdir
            check_ids(name, a.zmlx, tokdir, tok, pieces, tmp)
            check_decode(name, a.zmlx, tokdir, tok, [(l, d) for l, d in pieces if l.startswith("doc:")], tmp)
        check_chat(a.zmlx, dirs, toks)
        if not a.no_time:
            for name, tok in toks.items():
                check_speed(name, bench, dirs[name], tok, corpus, docs, a.repeat)
    print()
    if failures:
        print("FAIL (%d): %s" % (len(failures), "; ".join(failures)))
        sys.exit(1)
    print("PASS: all checks")


if __name__ == "__main__":
    main()
