"""Words and notations for arithmetic, rewritten into expressions the sympy worker evaluates.

Each rewrite is one reader: "136 mod 9" and "100 divided by 7 leaves remainder 2" become `Mod`,
"C(5, 2)", "5C2", "5 choose 2" and "\\binom{5}{2}" a binomial, "P(5, 2)" and "5P2" a permutation
count, "25% of 80", "3/4 of 20", "half of 40", "twice 7" products, "the sum/mean/product of 3, 4
and 5" the sum, mean or product, and "is"/"equals" between two pieces of arithmetic an equals sign.
"""

from __future__ import annotations

import re

_NUM = r"(?<![\d.])\d+(?:\.\d+)?"  # from a number's start only: a match tried at each digit of a run is quadratic
_OPERAND = rf"(?:{_NUM}|\([^()]*\))"
_FRACTION_WORDS = {"half": "1/2", "a half": "1/2", "one half": "1/2", "a third": "1/3", "one third": "1/3",
                   "two thirds": "2/3", "a quarter": "1/4", "one quarter": "1/4", "a fourth": "1/4",
                   "one fourth": "1/4", "three quarters": "3/4", "three fourths": "3/4", "a fifth": "1/5",
                   "one fifth": "1/5", "a tenth": "1/10", "one tenth": "1/10"}
_MULTIPLE_WORDS = {"twice": "2", "double": "2", "triple": "3", "thrice": "3", "two times": "2", "three times": "3",
                   "four times": "4", "five times": "5", "ten times": "10"}
_LIST = rf"({_NUM}(?:\s*,\s*{_NUM})*,?\s+and\s+{_NUM})"

REWRITES: list[tuple[str, re.Pattern, object]] = [
    ("binomial", re.compile(r"\\[dt]?binom\s*\{([^{}]+)\}\s*\{([^{}]+)\}"), r"C(\1, \2)"),
    ("binomial", re.compile(r"\{\s*(\d+)\s*\\choose\s*(\d+)\s*\}"), r"C(\1, \2)"),
    ("binomial", re.compile(r"(?<![\w.])(\d+)\s*(?:C|choose)\s*(\d+)(?![\w.])"), r"C(\1, \2)"),
    ("binomial", re.compile(r"(?<![A-Za-z])(?:nCr|nCk|binomial|comb)\s*\("), "C("),
    ("permutation", re.compile(r"(?<![\w.])(\d+)\s*P\s*(\d+)(?![\w.])"), r"perm(\1, \2)"),
    ("permutation", re.compile(r"(?<![A-Za-z])(?:P|nPr|nPk)\s*\((?=\s*\d)"), "perm("),
    ("mod", re.compile(rf"({_OPERAND})\s*≡\s*({_OPERAND})\s*\(\s*mod\s+({_NUM})\s*\)"), r"Mod(\1, \3) = Mod(\2, \3)"),
    ("mod", re.compile(rf"({_OPERAND})\s*(?:mod|modulo)\s*({_NUM})", re.I), r"Mod(\1, \2)"),
    ("remainder", re.compile(rf"({_NUM})\s*(?:divided by|÷|/)\s*({_NUM})\s*(?:leaves|gives|has|is)\s+(?:a\s+)?"
                             rf"remainder(?:\s+of)?\s*({_NUM})", re.I), r"Mod(\1, \2) = \3"),
    ("remainder", re.compile(rf"(?:the\s+)?remainder\s+(?:when|of|after)\s+({_NUM})\s+(?:is\s+)?divided\s+by\s+"
                             rf"({_NUM})\s*(?:is|=|:)\s*({_NUM})", re.I), r"Mod(\1, \2) = \3"),
    ("remainder", re.compile(rf"({_NUM})\s*(?:÷|/|divided by)\s*({_NUM})\s*(?:=|is)\s*({_NUM})\s*"
                             rf"(?:remainder|rem\.?|R|r)\s*({_NUM})"), r"floor(\1/\2) = \3; Mod(\1, \2) = \4"),
    ("percent of", re.compile(rf"({_NUM})\s*(?:%|\\%|percent)\s+of\s+({_OPERAND})", re.I), r"(\1/100*\2)"),
    ("fraction of", re.compile(rf"(?<![\d.])(\d+)\s*/\s*(\d+)\s+of\s+({_OPERAND})", re.I), r"(\1/\2*\3)"),
    ("fraction of", re.compile(rf"\b({'|'.join(_FRACTION_WORDS)})\s+of\s+({_OPERAND})", re.I),
     lambda m: f"({_FRACTION_WORDS[m.group(1).lower()]}*{m.group(2)})"),
    ("multiple", re.compile(rf"\b({'|'.join(_MULTIPLE_WORDS)})\s+({_OPERAND})(?![\d.])", re.I),
     lambda m: f"({_MULTIPLE_WORDS[m.group(1).lower()]}*{m.group(2)})"),
    ("sum", re.compile(rf"\b(?:the\s+)?(?:sum|total)\s+of\s+{_LIST}", re.I), lambda m: f"({'+'.join(_items(m))})"),
    ("product", re.compile(rf"\b(?:the\s+)?product\s+of\s+{_LIST}", re.I), lambda m: f"({'*'.join(_items(m))})"),
    ("mean", re.compile(rf"\b(?:the\s+)?(?:mean|average|arithmetic mean)\s+of\s+{_LIST}", re.I),
     lambda m: f"(({'+'.join(_items(m))})/{len(_items(m))})"),
    ("difference", re.compile(rf"\b(?:the\s+)?difference\s+(?:between|of)\s+({_NUM})\s+and\s+({_NUM})", re.I),
     r"(\1-\2)"),
    ("words as equals", re.compile(r"(?<=[\d)!])\s+(?:is|are|equals|gives|makes|is equal to)\s+(?=[-−]?\$?\d)", re.I),
     " = "),
]


def _items(m: re.Match) -> list[str]:
    return re.findall(_NUM, m.group(1))


def rewrite(text: str) -> tuple[str, list[str]]:
    """`text` with every phrase above rewritten into arithmetic, and the kinds that were rewritten."""
    kinds = []
    for kind, pattern, replacement in REWRITES:
        text, count = pattern.subn(replacement, text)
        if count and kind not in kinds:
            kinds.append(kind)
    return text, kinds
