#!/usr/bin/env python3
"""Writes include/biqa/nn/detail/unicode_tables.hpp: the character classes and case mapping that the
CLIP tokenizer's text clean-up and pre-tokenizer need, read off the very functions open_clip uses
(Python's str.lower/str.isspace, html.unescape, and the `regex` module's classes with IGNORECASE).

Usage: tools/reference/make_unicode_tables.py [OUT]   (run with the pinned `regex`, see requirements.txt)
"""
import html
import html.entities
import sys
import unicodedata
from pathlib import Path

import regex
from importlib.metadata import version

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "include/biqa/nn/detail/unicode_tables.hpp"
MAX = 0x110000


def chars():
    for c in range(MAX):
        if 0xD800 <= c <= 0xDFFF:
            continue  # lone surrogates never reach the tokenizer (invalid UTF-8 becomes U+FFFD)
        yield c


def ranges(pred):
    out, start, prev = [], None, None
    for c in chars():
        if pred(c):
            if start is None:
                start = c
            elif c != prev + 1:
                out.append((start, prev))
                start = c
            prev = c
    if start is not None:
        out.append((start, prev))
    return out


def fmt_ranges(name, rs, comment):
    body = ", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in rs)
    return f"// {comment}\ninline constexpr Range {name}[] = {{{body}}};\n"


def class_pred(pattern, flags=0):
    rx = regex.compile(pattern, flags)
    return lambda c: rx.fullmatch(chr(c)) is not None


def lower_table():
    """(first, last, delta, stride): c in [first, last] with (c - first) % stride == 0 maps to c + delta."""
    pairs = []
    for c in chars():
        low = chr(c).lower()
        if c == 0x3A3:
            continue  # capital sigma: context dependent, handled in code
        if len(low) != 1:
            assert c == 0x130 and low == "i\u0307", hex(c)
            continue  # the only multi-character lower-case mapping, handled in code
        if ord(low) != c:
            pairs.append((c, ord(low) - c))
    runs = []
    for c, d in pairs:
        if runs:
            first, last, delta, stride = runs[-1]
            if delta == d:
                if stride == 0 and c - last in (1, 2):
                    runs[-1] = [first, c, d, c - last]
                    continue
                if stride and c - last == stride:
                    runs[-1][1] = c
                    continue
        runs.append([c, c, d, 0])
    return [(a, b, d, s or 1) for a, b, d, s in runs]


def sigma_classes():
    """Case_Ignorable and Cased as CPython's final-sigma rule sees them, probed through str.lower."""
    ignorable, cased = [], []
    for c in chars():
        after_cased = ("A" + chr(c) + "\u03a3").lower()[-1] == "\u03c2"
        alone = (chr(c) + "\u03a3").lower()[-1] == "\u03c2"
        ignorable.append(after_cased and not alone)
        cased.append(alone)
    return ignorable, cased


def main():
    L = ranges(class_pred(r"[\p{L}]", regex.IGNORECASE))
    N = ranges(class_pred(r"[\p{N}]", regex.IGNORECASE))
    O = ranges(class_pred(r"[^\s\p{L}\p{N}]", regex.IGNORECASE))
    S = ranges(class_pred(r"\s"))
    P = ranges(lambda c: chr(c).isspace())
    lows = lower_table()
    ign, cas = sigma_classes()
    idx = {c: i for i, c in enumerate(chars())}
    IGN = ranges(lambda c: ign[idx[c]])
    CAS = ranges(lambda c: cas[idx[c]])
    # Characters that match each ASCII letter of the literal alternatives under IGNORECASE.
    fold = []
    for ch in sorted(set("startofendxsvmld_<>'")):
        rx = regex.compile(regex.escape(ch), regex.IGNORECASE)
        for c in chars():
            if c != ord(ch) and rx.fullmatch(chr(c)):
                fold.append((c, ord(ch)))
    fold.sort()

    # HTML: numeric character reference rules and a subset of named entities (HTML 4.01 names, in
    # both the ';' and legacy no-';' spellings that HTML5 defines, plus &apos;).
    inv_ref = sorted(html._invalid_charrefs.items())
    inv_cp = ranges(lambda c: c in html._invalid_codepoints)
    keep = set(html.entities.name2codepoint) | {"apos"}
    ents = sorted((k, v) for k, v in html.entities.html5.items() if k.rstrip(";") in keep)

    def cstr(s):
        return '"' + "".join(f"\\x{b:02x}" if (b < 0x20 or b >= 0x7F or b in b'"\\?') else chr(b)
                             for b in s.encode("utf-8")) + '"'

    text = [
        "#pragma once",
        f"// Unicode tables for the CLIP tokenizer: written by tools/reference/make_unicode_tables.py from",
        f"// the `regex` package {version('regex')} (letter/number/other/whitespace classes, Unicode 16.0) and",
        f"// Python {sys.version.split()[0]} (str.lower, str.isspace, html.unescape; Unicode {unicodedata.unidata_version}).",
        "// Do not edit by hand: rerun the script.",
        "",
        "#include <cstdint>",
        "",
        "namespace biqa::clip::detail {",
        "",
        "struct Range { std::uint32_t first, last; };",
        "struct LowerRun { std::uint32_t first, last; std::int32_t delta; std::uint32_t stride; };",
        "struct Fold { std::uint32_t from, to; };",
        "struct CharRef { std::uint32_t code; std::uint32_t replacement; };",
        "struct Entity { const char* name; const char* value; };",
        "",
        fmt_ranges("kLetter", L, r"[\p{L}] with IGNORECASE"),
        fmt_ranges("kNumber", N, r"[\p{N}] with IGNORECASE"),
        fmt_ranges("kOther", O, r"[^\s\p{L}\p{N}] with IGNORECASE"),
        fmt_ranges("kRegexSpace", S, r"\s (whitespace_clean)"),
        fmt_ranges("kPySpace", P, "str.isspace (str.strip)"),
        fmt_ranges("kCaseIgnorable", IGN, "Case_Ignorable as used by str.lower's final-sigma rule"),
        fmt_ranges("kCased", CAS, "Cased and not Case_Ignorable, as used by the final-sigma rule"),
        "// str.lower, one-to-one mappings: c in [first, last] with (c - first) % stride == 0 -> c + delta",
        "inline constexpr LowerRun kLower[] = {" + ", ".join(f"{{0x{a:X}, 0x{b:X}, {d}, {s}}}" for a, b, d, s in lows) + "};",
        "",
        "// Non-ASCII characters that IGNORECASE matching treats as equal to an ASCII character",
        "inline constexpr Fold kAsciiFold[] = {" + ", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in fold) + "};",
        "",
        "// html.unescape: numeric references replaced by a fixed code point",
        "inline constexpr CharRef kInvalidCharRef[] = {" + ", ".join(f"{{0x{a:X}, 0x{ord(b):X}}}" for a, b in inv_ref) + "};",
        "",
        fmt_ranges("kInvalidCodepoint", inv_cp, "html.unescape: numeric references that are dropped"),
        "// html.unescape: supported named entities (name including ';' where spelled with it), sorted",
        "inline constexpr Entity kEntities[] = {\n" + ",\n".join(f"    {{{cstr(k)}, {cstr(v)}}}" for k, v in ents) + "};",
        "",
        "}  // namespace biqa::clip::detail",
        "",
    ]
    OUT.write_text("\n".join(text))
    print(f"wrote {OUT}: L {len(L)}, N {len(N)}, O {len(O)}, lower {len(lows)}, entities {len(ents)}")


if __name__ == "__main__":
    main()
