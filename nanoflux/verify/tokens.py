"""Solution text as tokens: numbers (with currency, percent, clock times, number words), operators, words.

Models write arithmetic inside prose ("John drank 2 x 8 = 16 ounces of milk", "$1,200 × 5% = $60",
"5:00 - 1:00 = 4 hours", "\\frac{3}{4} \\times 20 = 15"). One linear scan turns a clause into
tokens, so the grammar in `claims/expressions.py` reads structure (number, operator, number, equals)
instead of a regular expression per phrase: a phrase table grows without end and misreads what it
half-matches. Numbers are read exactly (`Fraction`), with the decimal places written (a shown result
holds when it is the exact value rounded to those places). Nothing here raises or backtracks; the
input is capped by the caller.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from . import words
from .limits import MAX_LITERAL_DIGITS, MAX_NUMBER_WORDS

_LATEX = [(re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"((\1)/(\2))"),
          (re.compile(r"\\text(?:bf|rm)?\s*\{([^{}]*)\}|\\mathrm\s*\{([^{}]*)\}"), r" \1\2 "),
          (re.compile(r"\\times|\\cdot"), " × "), (re.compile(r"\\div"), " ÷ "), (re.compile(r"\\approx"), " ≈ "),
          (re.compile(r"\\left|\\right|\\[,;!: ]|\{,\}"), lambda m: "," if m.group() == "{,}" else " "),
          (re.compile(r"\\%"), "%"), (re.compile(r"\\\$"), "$")]
_SCAN = re.compile(r"""
    (?P<time>(?<![\d.:])(?:[01]?\d|2[0-4]):[0-5]\d(?![\d:])(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?)
  | (?:(?P<cur>[$€£])\s?)?(?P<num>(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<![\d.])\.\d+)
    (?P<dots>(?<=\d)(?:\.\.\.|…))?(?P<pct>\s?(?:%|percent\b|per\s?cent\b))?
  | (?P<vulgar>[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞])
  | (?P<op>\*\*|[-+−–*×·÷/^]|(?<![A-Za-z])[xX](?=\s*[\d$€£(.]))
  | (?P<eq>==?|≈)
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<word>[A-Za-z]+(?:['’-][A-Za-z]+)*)
  | (?P<other>[^\s\w])
""", re.X)
_OP_SIGN = {"−": "-", "–": "-", "×": "*", "x": "*", "X": "*", "·": "*", "÷": "/", "**": "^"}


@dataclass
class Token:
    """One token: `kind` is "num", "op", "eq", "open", "close", "word" or "other".

    A number has its exact `value`, the decimal `places` written (None for an integer), and whether it
    was a `percent` (value as written: 25 for "25%"), money (`currency`) or a clock time (in hours).
    An operator's `text` is its plain sign (+ - * / ^); a word's its lowercase form.
    """

    kind: str
    text: str
    value: Fraction | None = None
    places: int | None = None
    percent: bool = False
    currency: bool = False
    clock: bool = False
    raw: str = ""
    truncated: bool = False  # "33.333...": cut, not rounded, after the places written
    tight: bool = False  # written against its neighbour: "-48" is negative ("Yams - 6" a dash), "2(60)" and
    # "(1/4)24" are products


def plain(text: str) -> str:
    """LaTeX arithmetic as plain text: "\\frac{3}{4} \\times 20" -> "((3)/(4)) × 20"."""
    if "\\" not in text and "{," not in text:
        return text
    for pattern, replacement in _LATEX:
        text = pattern.sub(replacement, text)
    return text


def tokenize(text: str, limit: int = 2000) -> list[Token]:
    """The first `limit` tokens of `text` (after `plain`); number words ("twenty-four", "a dozen") become numbers."""
    out: list[Token] = []
    source = plain(text)
    for m in _SCAN.finditer(source):
        if len(out) >= limit:
            break
        kind = m.lastgroup if m.lastgroup in ("op", "eq", "open", "close", "word", "other") else None
        if m.group("time"):
            out.append(_clock(m))
        elif m.group("num"):
            digits = m.group("num").replace(",", "")
            if len(digits.replace(".", "")) > MAX_LITERAL_DIGITS:
                out.append(Token("other", m.group(), raw=m.group()))
                continue
            places = len(digits.partition(".")[2]) if "." in digits else None
            out.append(Token("num", digits, Fraction(digits), places, percent=bool(m.group("pct")),
                             currency=bool(m.group("cur")), raw=m.group().strip(), truncated=bool(m.group("dots")),
                             tight=m.start() > 0 and source[m.start() - 1] == ")"))
        elif m.group("vulgar"):  # "¾"
            value = Fraction(unicodedata.numeric(m.group())).limit_denominator(10)
            out.append(Token("num", str(value), value, raw=m.group()))
        elif kind == "op" and m.group() == "-" and source[m.start() - 1:m.start()].isdigit() and \
                source[m.end():m.end() + 1].isalpha():
            continue  # "a 65-minute concert": a hyphen, no minus
        elif kind == "op":
            out.append(Token("op", _OP_SIGN.get(m.group(), m.group()), raw=m.group(),
                             tight=source[m.end():m.end() + 1].isdigit()))
        elif kind == "word":
            out.append(Token("word", m.group().lower(), raw=m.group()))
        elif kind:
            out.append(Token(kind, m.group(), raw=m.group(),
                             tight=kind == "open" and m.start() > 0 and source[m.start() - 1] in "0123456789)"))
    return _number_words(out)


def _clock(m: re.Match) -> Token:
    hours, minutes = (int(p) for p in m.group("time").split()[0][:5].rstrip("apAP.").split(":"))
    if (ampm := m.group("ampm")) and ampm.lower() == "p" and hours < 12:
        hours += 12
    value = hours + Fraction(minutes, 60)
    return Token("num", m.group(), value, clock=True, raw=m.group())


_NUMBER_WORDS = set(words._CARDINALS) - {"hundred", "thousand", "million", "billion", "trillion", "dozen"}
_SCALE_WORDS = {"hundred", "thousand", "million", "billion", "trillion", "dozen"}


def _number_words(tokens: list[Token]) -> list[Token]:
    """Runs of number words ("twenty-four", "three hundred", "a dozen", "2 dozen") as one number token."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        parts = tok.text.split("-") if tok.kind == "word" else []
        starts = tok.kind == "word" and parts[0] in _NUMBER_WORDS and all(p in words._CARDINALS for p in parts)
        a_scale = tok.kind == "word" and tok.text in ("a", "an") and i + 1 < len(tokens) and \
            tokens[i + 1].text in _SCALE_WORDS
        if not (starts or a_scale):  # "2.4 billion" stays 2.4 and a word: models compute in the scale's units
            out.append(tok)
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and j - i < MAX_NUMBER_WORDS and tokens[j].kind == "word" and all(
                p in words._CARDINALS or p == "and" for p in tokens[j].text.split("-")):
            j += 1
        while j > i + 1:  # the longest run that reads as one number
            phrase = " ".join(t.text for t in tokens[i:j])
            if (value := words.parse_number_words(phrase)) is not None:
                break
            j -= 1
        else:
            value = words.parse_number_words(tok.text) if tok.kind == "word" else None
        if value is None:
            out.append(tok)
            i += 1
            continue
        raw = " ".join(t.raw for t in tokens[i:j])
        out.append(Token("num", str(value), value, currency=tok.currency, raw=raw))
        i = j
    return out
