#!/usr/bin/env python3
"""Writes tests/data/nn/clip_tokens.json: token ids from open_clip's tokenizer (open_clip_torch, pinned in
requirements.txt) for strings that exercise clean-up, pre-tokenizing and truncation.

Each entry: {"text", "ids" (open_clip.tokenize, 77 ints), "decoded" (decode of the ids without start/end
tokens), "ftfy_changes_text"}. open_clip runs ftfy.fix_text first, which biqa does not reproduce; strings
whose ids depend on ftfy are left out (a string that ftfy rewrites but whose ids do not change is kept).

Usage: tools/reference/make_tokenizer_fixtures.py [OUT]
"""
import importlib.util
import json
import sys
from pathlib import Path

import ftfy

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/data/nn/clip_tokens.json"


def load_open_clip_tokenizer():
    # Load open_clip/tokenizer.py alone: the package __init__ pulls in training-only dependencies.
    spec = importlib.util.find_spec("open_clip")
    path = Path(spec.submodule_search_locations[0]) / "tokenizer.py"
    mod_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


DA_CLIP_PROMPTS = ["motion-blurry", "hazy", "jpeg-compressed", "low-light", "noisy", "raindrop", "rainy",
                   "shadowed", "snowy", "uncompleted"]

TEXTS = [
    "",
    "   ",
    "a photo of a cat",
    "A Photo Of A CAT",
    "Hello, World!!!",
    "wait... what?!?!",
    "--==[[ ]]==--",
    "don't", "it'LL", "we're here, they've gone, I'm sure, she'd go, it's fine",
    "''s 'x ''' 'S",
    "1234", "3.14", "v2.0-beta_3", "100% / 5 = 20",
    "\U0001F600 smile \U0001F44D\U0001F3FD",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u4e2d\u6587 mixed with English",
    "\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391",
    "\u041f\u0420\u0418\u0412\u0415\u0422 \u041c\u0418\u0420",
    "\u0130stanbul STRASSE \u00c5NGSTR\u00d6M",
    "tab\tseparated\nnew line   many    spaces",
    "  leading and trailing  \n",
    "&amp;", "&#39;", "&lt;b&gt;bold&lt;/b&gt;", "fish &amp;amp; chips", "&#x41;&#66;&copy;&nbsp;x",
    "&unknown; &amp &#; &#xZZ",
    "<start_of_text>", "<end_of_text>", "text <end_of_text> more", "<START_OF_TEXT>",
    "<|startoftext|>hello<|endoftext|>",
    "\u00bd \u00b2 \u2163 \u0663\u0664",
    "x\u0301 q\u0308 combining",
    "\u03a3 \u03a3\u0391 \u0391\u03a3. \u0391\u03a3\u0391",
    "'\u017ft \u017fs",
    "\u01c5 \u01c4",
    "non\u00a0breaking",
    "ideographic\u3000em\u2003space",
    "Ελληνικά και русский язык",
    " ".join(["word"] * 100),
    "the quick brown fox jumps over the lazy dog " * 12,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
] + DA_CLIP_PROMPTS + [
    "a photo with motion blur",
    "a hazy photo",
    "jpeg compression artifacts",
    "The image is sharp, with vivid colors and natural lighting.",
    "The image has low contrast and visible noise in dark regions.",
    "This image suffers from over-exposure; highlights are clipped.",
    "Good photo.", "Bad photo.",
]


def main():
    tok = load_open_clip_tokenizer()
    st = tok._tokenizer
    original_fix = tok.ftfy.fix_text
    out = []
    for text in TEXTS:
        ids = tok.tokenize([text])[0].tolist()
        changes = ftfy.fix_text(text) != text
        if changes:
            tok.ftfy.fix_text = lambda s, **kw: s
            try:
                without = tok.tokenize([text])[0].tolist()
            finally:
                tok.ftfy.fix_text = original_fix
            if without != ids:
                print(f"skipped (ftfy changes the ids): {text!r}")
                continue
        body = [i for i in ids if i not in (0, st.sot_token_id, st.eot_token_id)]
        out.append({"text": text, "ids": ids, "decoded": st.decode(body), "ftfy_changes_text": changes})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, ensure_ascii=True, indent=1) + "\n")
    print(f"wrote {OUT}: {len(out)} strings")


if __name__ == "__main__":
    main()
