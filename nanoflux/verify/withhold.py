"""Keeping an answer out of a text: the reference answer out of the critique a defender revises by.

The judge saw the reference, and its critique may quote it in any form: as written ("42 apples"), as
an equal number ("42.0", "42.00", "$42", "forty-two", "4.2e1", "4.2 × 10^1", "1 200", "1.2k",
"three quarters"), rounded ("3.14" for 3.14159), as a
percentage of the other reading ("25%" for 0.25), or, for a word answer, in another number ("the
mitochondrion" for "mitochondria"); a number's sign counts for nothing ("-42" gives 42 away).
`withhold` masks each form it finds, reading numbers as the answer checks do (`numeric`, `words`);
`reveals` then reads the masked text again with the solution tokenizer (`tokens`), so a caller can
drop what still gives the answer away rather than trust one reader.
Linear scans only, on text the caller caps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

from .numeric import Number, compare_numbers, parse_number
from .tokens import tokenize
from .words import _CARDINALS, _SCALES, parse_number_words, same_words

MASK = "[withheld]"
_REL_TOL = 1e-9
_MAX_PHRASE_WORDS = 6  # a word answer longer than this is masked as written only
_NUMBER = re.compile(r"""
    \\[dt]?frac\s*\{\s*\d{1,18}\s*\}\s*\{\s*\d{1,18}\s*\}
  | (?<![\d.,])(?:[$€£]\s?)?[-+−]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][-+]?\d{1,4}(?!\d))?
    (?:\s*/\s*\d+)?(?:\s?(?:%|percent\b|per\s?cent\b))?
  | (?<![\w.])\.\d+
""", re.X)
# Forms `_NUMBER` does not read whole: thousands grouped by spaces or apostrophes ("1 200", "1'200"), powers of
# ten ("1.2 × 10^3", "10^6"), scale words ("1.2 thousand", "3M") and fraction words ("three quarters", "a half").
_SEPARATORS = " \u00a0\u202f\u2009'’"
_DENOMINATORS = {"half": 2, "halve": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
                 "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_SCALE = {**_SCALES, "k": 10**3, "M": 10**6, "bn": 10**9}  # the words' scales and their abbreviations
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_NUMBER_WORD = "|".join(sorted(_CARDINALS, key=len, reverse=True))
_NUMBER_WORDS = re.compile(rf"(?i)\b(?:minus\s+|negative\s+)?(?:{_NUMBER_WORD})"
                           rf"(?:(?:\s+|-)(?:and\s+)?(?:{_NUMBER_WORD}))*(?:th|ieth)?\b")
_OTHER_FORMS = re.compile(rf"""
    (?P<grouped>(?<![\d.,])\d{{1,3}}(?:[{_SEPARATORS}]\d{{3}})+(?!\d)(?:\.\d+)?)
  | (?P<power>(?<![\d.])(?:\d+(?:\.\d+)?\s*(?:\\times|\\cdot|×|x|\*)\s*)?
        10\s*(?:\^|\*\*)\s*\{{?\s*[-+−]?\d{{1,4}}\s*\}}?)
  | (?P<scaled>(?<![\d.,])(?P<count>\d+(?:\.\d+)?)\s*(?P<scale>thousand|million|billion|trillion|(?-i:k|M|bn))\b)
  | (?P<fraction>\b(?:(?P<numerator>an?|{_NUMBER_WORD})[\s-]+)?
        (?P<denominator>{"|".join(_DENOMINATORS)})(?:s|es)?\b)
""", re.X | re.I)


@dataclass(frozen=True)
class _Secret:
    literal: re.Pattern[str]
    number: Number | None  # the answer's value, when it has one
    words: list[str]  # a word answer's words, lowercase (empty for a number)


def withhold(text: str, secret: str, mask: str = MASK) -> str:
    """`text` with every form of `secret` it writes replaced by `mask`: the literal string (any case), numbers of
    the same value (or the same when rounded, or under either reading of a percent sign), number words, and
    for a word answer the same words up to plural forms. Another number is left alone; a form missed here is
    what `reveals` is for."""
    answer = _secret(secret)
    if answer is None:
        return text
    if (number := answer.number) is not None:
        text = _OTHER_FORMS.sub(lambda m: mask if _same(_read_form(m), number) else m.group(), text)
        text = _NUMBER.sub(lambda m: mask if _same(_read(m.group()), number) else m.group(), text)
        text = _NUMBER_WORDS.sub(lambda m: mask if _same(_words_value(m.group()), number) else m.group(), text)
    elif answer.words:
        text = _mask_words(text, answer.words, mask)
    return answer.literal.sub(mask, text)


def reveals(text: str, secret: str) -> bool:
    """Whether `text` still writes `secret` in a form `withhold` masks, or as a number the solution tokenizer reads
    (LaTeX, clock times, mixed forms) equal to it."""
    answer = _secret(secret)
    if answer is None:
        return False
    if answer.literal.search(text) or withhold(text, secret) != text:
        return True
    if answer.number is None:
        return False
    return any(token.kind == "num" and token.value is not None
               and _same(Number(token.value, token.places, token.percent), answer.number)
               for token in tokenize(text, limit=len(text) + 1))


def _secret(secret: str) -> _Secret | None:
    secret = secret.strip()
    if not secret:
        return None
    literal = re.compile(rf"(?i)(?<![\w.]){re.escape(secret)}(?![\w])(?![.,]\d)")
    number = parse_number(secret.lstrip("$€£ "))
    if number is None:  # "42 apples", "5 kg", "forty-two": the one number it writes
        numbers = [token for token in tokenize(secret) if token.kind == "num" and token.value is not None]
        if len(numbers) == 1:
            number = Number(numbers[0].value, numbers[0].places, numbers[0].percent)
    words = [] if number is not None else [w.lower() for w in _WORD.findall(secret)]
    return _Secret(literal, number, words if len(words) <= _MAX_PHRASE_WORDS else [])


def _read(text: str) -> Number | None:
    return parse_number(re.sub(r"^[$€£]\s?", "", text.strip()))


def _read_form(match: re.Match[str]) -> Number | None:
    """The value of an `_OTHER_FORMS` match."""
    if (grouped := match.group("grouped")) is not None:
        return parse_number(re.sub(f"[{_SEPARATORS}]", "", grouped))
    if (power := match.group("power")) is not None:
        return parse_number(power if not power.startswith("10") else f"1 × {power}")
    if (scale := match.group("scale")) is not None:
        count = parse_number(match.group("count"))
        return None if count is None else Number(count.value * (_SCALE.get(scale) or _SCALE[scale.lower()]))
    numerator = (match.group("numerator") or "a").lower()
    count = 1 if numerator in ("a", "an") else _CARDINALS[numerator]
    return Number(Fraction(count, _DENOMINATORS[match.group("denominator").lower()]))


def _words_value(text: str) -> Number | None:
    value = parse_number_words(text)
    return None if value is None else Number(value)


def _same(number: Number | None, answer: Number) -> bool:
    """Equal up to sign, equal when rounded, or equal under one reading of a percent sign: any of them gives the
    answer away."""
    if number is None:
        return False
    agree, _ = compare_numbers(replace(number, value=abs(number.value)), replace(answer, value=abs(answer.value)),
                               rel_tol=_REL_TOL, abs_tol=0.0)
    return agree is not False


def _mask_words(text: str, words: list[str], mask: str) -> str:
    """`text` with each run of words that are `words` up to plural forms masked."""
    found = list(_WORD.finditer(text))
    spans, index = [], 0
    while index + len(words) <= len(found):
        window = found[index:index + len(words)]
        if same_words([m.group().lower() for m in window], words):
            spans.append((window[0].start(), window[-1].end()))
            index += len(words)
        else:
            index += 1
    for start, end in reversed(spans):
        text = text[:start] + mask + text[end:]
    return text
