#!/usr/bin/env python3
"""Build the tokenizer test corpus: deterministic, no network.

    python3 scripts/make_tok_corpus.py OUT [--size BYTES] [--no-sources]

Documents come from snippets written here (English prose, code, Chinese,
Japanese, Korean, emoji, numbers, whitespace runs, special tokens, invalid
and unusual Unicode), from this repository's own source files, and from
seeded random mixtures of those. --size is the target in bytes (default
1.2 MB). --no-sources leaves the repository's files out (for a committed
text that must not change when the sources do).

The output is binary-safe (some documents are not valid UTF-8 on purpose):

    zmlx-tok-corpus v1\\n
    then per document: "<name> <nbytes>\\n" <nbytes bytes> "\\n"

scripts/check_tokenizer_peer.py, scripts/gen_token_vectors.py and
tests/test_tokenizer.c read it.
"""
import argparse
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROSE = [
    "The committee met on a grey Tuesday morning to decide, at last, whether the old "
    "bridge over the river should be repaired or replaced. Nobody expected a quick answer. "
    "Mrs. O'Neill, who had chaired the meeting for eleven years, said she'd seen the plans "
    "before: \"They're the same drawings we rejected in 2009, with a new date on them.\"",
    "It's not that the engineers were wrong; it's that they'd been asked the wrong question. "
    "A bridge that carries 4,000 cars a day isn't the bridge the town built in 1923, when "
    "the heaviest thing crossing it was a milk cart. We've known this for decades, haven't we?",
    "In the end they voted 7-2 to replace it. The new span will be 148.5 metres long, cost "
    "an estimated $12.7 million (about EUR 11.6M), and -- if the weather holds -- open by "
    "the spring of 2027. I'll believe it when I see it, said one resident. You'll see it.",
    "Photosynthesis converts light energy into chemical energy: 6CO2 + 6H2O -> C6H12O6 + 6O2. "
    "Chlorophyll absorbs mostly blue (~450 nm) and red (~680 nm) light, which is why leaves "
    "look green. Roughly 1-2% of incoming sunlight ends up stored as biomass.",
    "DON'T PANIC. IT'S ONLY A TEST. WE'RE CHECKING THAT UPPER-CASE CONTRACTIONS (THEY'LL, "
    "YOU'D, I'M) SPLIT THE WAY THE REFERENCE SPLITS THEM. Mixed: It'S, wE'rE, tHeY'lL.",
    "Dear Dr. Smith,\n\nThank you for your letter of 3 March. Unfortunately, the results "
    "you asked about (samples #A-17 through #A-23) were lost in transit.\n\nBest regards,\n"
    "J. Doe\n",
]

CODE = [
    "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
    "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\n"
    "if __name__ == '__main__':\n    print([fib(i) for i in range(20)])\n",
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n\tfor (int i = 0; i < argc; i++)\n"
    "\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\treturn 0;\n}\n",
    "fn main() {\n    let v: Vec<u32> = (1..=10).map(|x| x * x).collect();\n"
    "    println!(\"{:?} sum={}\", v, v.iter().sum::<u32>());\n}\n",
    "SELECT u.id, u.name, COUNT(o.id) AS orders\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\n"
    "WHERE u.created_at >= '2024-01-01'\nGROUP BY u.id, u.name\nHAVING COUNT(o.id) > 3\n"
    "ORDER BY orders DESC;\n",
    "<!DOCTYPE html>\n<html lang=\"en\">\n  <head><meta charset=\"utf-8\"><title>Test &amp; "
    "check</title></head>\n  <body>\n    <p class=\"note\">Hello, <b>world</b>!</p>\n"
    "  </body>\n</html>\n",
    "{\n  \"name\": \"zmlx\",\n  \"version\": \"0.1.0\",\n  \"tags\": [\"gpu\", \"c11\"],\n"
    "  \"nested\": {\"a\": 1, \"b\": [true, false, null], \"c\": -3.5e-7}\n}\n",
    "const add = (a, b) => a + b;\nexport default async function main() {\n"
    "  const res = await fetch(`/api/v1/items?limit=${10}`);\n  return res.ok ? res.json() : null;\n}\n",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in \"$@\"; do\n  [[ -f $f ]] || continue\n"
    "  sha256sum \"$f\" | awk '{print $1}'\ndone\n",
    "    \t  mixed   indentation\t\t\tand trailing spaces    \n\n\n\n    \n",
]

CHINESE = [
    "自然语言处理是人工智能的一个重要分支，它研究如何让计算机理解和生成人类语言。",
    "今天天气很好，我们一起去公园散步吧。公园里有很多花，红的、黄的、紫的，非常漂亮！",
    "北京是中华人民共和国的首都，也是全国的政治、文化中心。人口约两千一百万。",
    "这个模型的参数量为七十亿（7B），训练数据超过两万亿个词元。",
    "《红楼梦》是中国古典四大名著之一，作者曹雪芹。“满纸荒唐言，一把辛酸泪。”",
]

JAPANESE = [
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    "東京タワーは、東京都港区芝公園にある総合電波塔です。高さは３３３メートルです。",
    "カタカナとひらがなと漢字を混ぜて書きます。コンピューターでテキストを処理する。",
    "ｈａｌｆ－ｗｉｄｔｈ ｶﾀｶﾅ と全角英数字ＡＢＣ１２３を含む文。",
    "がぎぐげご、ぱぴぷぺぽ。ヴァイオリン。",
]

KOREAN = [
    "안녕하세요. 만나서 반갑습니다. 오늘 날씨가 정말 좋네요!",
    "대한민국의 수도는 서울특별시이며, 인구는 약 천만 명입니다.",
    "한글은 세종대왕이 1443년에 창제한 문자입니다. 자음 14개와 모음 10개.",
]

OTHER_SCRIPTS = [
    "Привет, мир! Это тестовая строка на русском языке. Ёжик в тумане.",
    "Γειά σου Κόσμε! Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "مرحبا بالعالم! هذا نص تجريبي باللغة العربية. ١٢٣٤٥",
    "שלום עולם! זהו טקסט בדיקה בעברית.",
    "नमस्ते दुनिया! यह हिंदी में एक परीक्षण वाक्य है। क्षत्रिय",
    "สวัสดีชาวโลก นี่คือข้อความทดสอบภาษาไทย",
    "Tiếng Việt có dấu: Xin chào thế giới, đây là một câu thử nghiệm.",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
]

EMOJI = [
    "I love it 😍😍😍! Great job 👍🏽👍🏿. Family: 👨‍👩‍👧‍👦 Flags: 🇫🇷🇯🇵🇺🇸 Keycap: 1️⃣ #️⃣",
    "🔥🚀✨ launch day ✨🚀🔥 ... ☕️ + 🍰 = 😊; ❤️‍🔥 🧑🏻‍💻 🏳️‍🌈 🫠🫶",
    "emoji without spaces:😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚",
]

NUMBERS = [
    "0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890",
    "3.14159265358979 2.718281828 -0.0001 1e10 6.022e23 1.602E-19 0x1F 0b1010 0o755",
    "Call +1 (555) 123-4567 or +44 20 7946 0958. Order #00042, invoice 2024-03-15T10:30:00Z.",
    "1,234,567.89 | 1.234.567,89 | 12 345 678 | ₹1,23,456 | ¥10000 | €99.99 | £5",
    "٠١٢٣٤٥٦٧٨٩ ０１２３４５６７８９ ①②③ Ⅻ ½ ¾ ²³ 𝟘𝟙𝟚",
    "".join(str(i) for i in range(200)),
]

SPECIAL = [
    "before<|endoftext|>after",
    "<|im_start|>user\nHello there!<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n",
    "a <s> b </s> c <unk> d",
    "<think>\nLet me think about this.\n</think>\n\nThe answer is 42.",
    "<|endoftext|><|endoftext|>  <|endoftext|>\n<|endofprompt|>",
    "not special: <|endoftext <|im_start| <|im_end|x <s <|unknown|> </ s>",
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
    "   <|endoftext|>   leading and trailing spaces around a special token   ",
]

# Unicode edge cases, as code points (valid) and raw bytes (invalid UTF-8).
EDGE_TEXT = [
    "e\u0301 a\u0300 o\u0308 n\u0303 (decomposed, NFC composes) vs é à ö ñ",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab (conjoining jamo) \u304b\u3099 \u30cf\u309a",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349a\u0310\u0302l\u0335go",
    "\ufeffBOM at start, \u200bzero\u200bwidth\u200bspaces, \u200d joiner \u200c non-joiner",
    "no-break\u00a0space, narrow\u202fnbsp, ideographic\u3000space, en\u2002em\u2003thin\u2009",
    "line\u2028separator, paragraph\u2029separator, next\u0085line, \x0bvtab\x0cformfeed",
    "controls: \x01\x02\x07\x1b[31mred\x1b[0m\x7f \x1c\x1d\x1e\x1f",
    "\u2126 ohm sign \u212b angstrom \u2000 en quad \uf900 compat ideograph \u0958 nukta",
    "math: \U0001d54f\U0001d560\U0001d55a \U0001d400\U0001d401 private: \ue000\uf8ff "
    "nonchars: \ufdd0\ufffe\uffff replacement: \ufffd",
    "long s: \u017f \u017f\u017f It'\u017f DON'\u0054 it\u2019s \u212a kelvin 'K 'S",
    "fullwidth: \uff21\uff22\uff23\uff41\uff42\uff43 superscripts: x\u00b2 x\u2075 ligature: \ufb01 \ufb02",
    "NUL byte:\x00:in the middle, and at the end\x00",
]

EDGE_BYTES = [
    b"lone continuation \x80\x81\xbf bytes",
    b"truncated \xe4\xbd (2 of 3) \xf0\x9f\x98 (3 of 4) \xc3 (1 of 2) end",
    b"overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf and surrogate \xed\xa0\x80\xed\xbf\xbf",
    b"out of range \xf4\x90\x80\x80 \xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff",
    b"mixed valid \xe4\xbd\xa0\xe5\xa5\xbd invalid \xe4\xbd \xe5\xa5\xbd\xa5",
    b"\xff\xfe\x00h\x00i\x00 (UTF-16 BOM)",
]


def whitespace_docs(rng):
    docs = [
        " " * 1, " " * 2, " " * 3, " " * 17, "\t" * 9, "\n" * 12, "\r\n" * 10,
        "a" + " " * 5000 + "b",
        "x" + "\n" * 3000 + "y",
        "mix:" + " \t\n\r\u00a0\u3000" * 200 + ":end",
        "  trailing newlines then spaces\n\n\n     ",
        "word" + "\t \t " * 300,
    ]
    for _ in range(20):
        docs.append("".join(rng.choice([" ", "  ", "\t", "\n", "\r\n", "x", "yy", ".", "\u3000"])
                            for _ in range(rng.randrange(5, 200))))
    return docs


WORDS = ("the of and to in is was that for on with as by at from it this be are an or "
         "model token text data value number system process result function return error "
         "memory kernel device stream array shape float integer string buffer cache merge "
         "quickly slowly never always perhaps however therefore meanwhile approximately").split()


def sentences(rng, n):
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(4, 18))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randrange(10 ** rng.randrange(1, 9))))
        s = " ".join(words)
        s = s[0].upper() + s[1:] + rng.choice([".", "!", "?", ";", ",", ":"])
        out.append(s)
    return " ".join(out)


def random_cjk(rng, n):
    ranges = [(0x4E00, 0x9FFF), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xD7A3)]
    s = []
    for _ in range(n):
        a, b = rng.choice(ranges)
        s.append(chr(rng.randrange(a, b + 1)))
        if rng.random() < 0.1:
            s.append(rng.choice("，。、！？ \n"))
    return "".join(s)


def random_unicode(rng, n):
    """Characters from all over the code space (valid scalar values only)."""
    s = []
    while len(s) < n:
        cp = rng.choice([rng.randrange(0x20, 0x80), rng.randrange(0x80, 0x800),
                         rng.randrange(0x800, 0x10000), rng.randrange(0x10000, 0x110000)])
        if 0xD800 <= cp <= 0xDFFF:
            continue
        s.append(chr(cp))
    return "".join(s)


def random_bytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def source_docs(limit):
    """This repository's own files, in a fixed order."""
    exts = (".c", ".h", ".py", ".sh", ".md", ".txt", ".cmake", ".in")
    paths = []
    for top in ("src", "include", "tools", "tests", "scripts", "docs", "bench", "examples", "cmake"):
        base = os.path.join(ROOT, top)
        for d, dirs, files in os.walk(base):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(exts) and os.sep + "data" + os.sep not in d + os.sep:
                    paths.append(os.path.join(d, f))
    docs, total = [], 0
    for p in paths:
        if total >= limit:
            break
        with open(p, "rb") as f:
            data = f.read()[:40000]
        docs.append(("src:" + os.path.relpath(p, ROOT).replace(" ", "_"), data))
        total += len(data)
    return docs


def build(size, with_sources, seed=20260101):
    rng = random.Random(seed)
    docs = []

    def add(name, text):
        docs.append((name, text.encode("utf-8") if isinstance(text, str) else text))

    groups = [("prose", PROSE), ("code", CODE), ("zh", CHINESE), ("ja", JAPANESE), ("ko", KOREAN),
              ("script", OTHER_SCRIPTS), ("emoji", EMOJI), ("num", NUMBERS),
              ("special", SPECIAL), ("edge", EDGE_TEXT)]
    for g, items in groups:
        for i, t in enumerate(items):
            add("%s%d" % (g, i), t)
    for i, b in enumerate(EDGE_BYTES):
        add("badutf8_%d" % i, b)
    for i, t in enumerate(whitespace_docs(rng)):
        add("ws%d" % i, t)
    add("longword", "a" * 10000 + " " + "ab" * 3000 + " " + "\u4e00" * 3000)
    add("empty", "")

    # Mixtures until the size is reached (a share left for the sources).
    everything = [t for _, items in groups for t in items]
    target_mix = size * (0.55 if with_sources else 1.0)
    k = 0

    def total():
        return sum(len(d) for _, d in docs)

    while total() < target_mix:
        kind = k % 6
        if kind == 0:
            parts = [rng.choice(everything) for _ in range(rng.randrange(3, 12))]
            seps = ["", " ", "\n", "\n\n", "  ", "\t"]
            t = "".join(p + rng.choice(seps) for p in parts)
        elif kind == 1:
            t = sentences(rng, rng.randrange(20, 80))
        elif kind == 2:
            t = random_cjk(rng, rng.randrange(200, 1500))
        elif kind == 3:
            t = random_unicode(rng, rng.randrange(50, 400))
        elif kind == 4:
            t = sentences(rng, 10) + rng.choice(SPECIAL) + random_cjk(rng, 100) + \
                rng.choice(EMOJI) + rng.choice(NUMBERS) + " " * rng.randrange(1, 40) + "\n"
        else:
            b = bytearray(sentences(rng, 5).encode())
            b += random_bytes(rng, rng.randrange(5, 60))
            b += rng.choice(CHINESE).encode()
            add("mixbytes%d" % k, bytes(b))
            k += 1
            continue
        add("mix%d" % k, t)
        k += 1
    if with_sources:
        for name, data in source_docs(max(0, size - total())):
            docs.append((name, data))
    return docs


def write(path, docs):
    with open(path, "wb") as f:
        f.write(b"zmlx-tok-corpus v1\n")
        for name, data in docs:
            f.write(b"%s %d\n" % (name.encode(), len(data)))
            f.write(data)
            f.write(b"\n")


def read(path):
    """The corpus as [(name, bytes)]; used by the other scripts."""
    with open(path, "rb") as f:
        data = f.read()
    head = b"zmlx-tok-corpus v1\n"
    if not data.startswith(head):
        raise ValueError("%s: not a zmlx token corpus" % path)
    p, docs = len(head), []
    while p < len(data):
        nl = data.index(b"\n", p)
        name, n = data[p:nl].rsplit(b" ", 1)
        n = int(n)
        docs.append((name.decode(), data[nl + 1:nl + 1 + n]))
        p = nl + 1 + n + 1
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=1_200_000)
    ap.add_argument("--no-sources", action="store_true")
    a = ap.parse_args()
    docs = build(a.size, not a.no_sources)
    write(a.out, docs)
    print("%s: %d documents, %d bytes" % (a.out, len(docs), sum(len(d) for _, d in docs)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
