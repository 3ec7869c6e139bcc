"""Answers that state a bound, a range or an approximation instead of one value.

"at least 17", ">= 17", "17 or more", "3-5", "between 3 and 5", "about 17", "~17": each is a different
answer from the plain value 17, so the answer check never matches one against a plain value (it
matches only the same bound, range or approximation). A relation on a variable ("x \\ge 2") is not
read here: sympy compares it as a set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .words import parse_number_words

# Kinds of qualified answer, each with the phrases (as regex alternatives) that introduce it.
_PREFIXES = {
    "at least": r"at\s+least|no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|(?:a\s+)?minimum(?:\s+of)?"
                r"|>=|≥|⩾|\\geq?\b",
    "at most": r"at\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|(?:a\s+)?maximum(?:\s+of)?|<=|≤|⩽|\\leq?\b",
    "more than": r"more\s+than|greater\s+than|over|above|exceeding|in\s+excess\s+of|>|\\gt\b",
    "less than": r"less\s+than|fewer\s+than|under|below|<|\\lt\b",
    "about": r"about|approximately|approx\.?|around|roughly|nearly|almost|circa|ca\.|close\s+to"
             r"|~|∼|≈|\\approx\b|\\sim\b",
}
_SUFFIXES = {"at least": r"or\s+(?:more|greater|higher|above|over)|at\s+(?:the\s+)?least|minimum",
             "at most": r"or\s+(?:less|fewer|lower|below|under)|at\s+(?:the\s+)?most|maximum",
             "about": r"or\s+so|or\s+thereabouts|approximately|approx\.?|roughly|\(approx(?:\.|imately)?\)"}
BOUNDS = ("at least", "at most", "more than", "less than")

_NUMBER = r"[-+−]?\$?(?:\d[\d,]*(?:\.\d+)?|\.\d+)"
_GROUPS = "|".join(f"(?P<{kind.replace(' ', '_')}>{phrases})" for kind, phrases in _PREFIXES.items())
_PREFIX = re.compile(rf"^(?:{_GROUPS})\s*(?P<rest>.+)$", re.I | re.S)
_SUFFIX_GROUPS = "|".join(f"(?P<{kind.replace(' ', '_')}>{phrases})" for kind, phrases in _SUFFIXES.items())
_SUFFIX = re.compile(rf"^(?P<rest>.+?)\s+(?:{_SUFFIX_GROUPS})$", re.I | re.S)
_UNSIGNED = r"\$?(?:\d[\d,]*(?:\.\d+)?|\.\d+)"
# "between 3 and 5", "from 3 to 5", "3 to 5", "3–5" (any dash with any spacing), "3-5" or "3 - 5" (a
# hyphen only between unsigned numbers, low to high: "10-3" is a subtraction).
_RANGE = re.compile(rf"^(?:between\s+(?P<lo1>{_NUMBER})\s+and\s+(?P<hi1>{_NUMBER})"
                    rf"|(?:from\s+)?(?P<lo2>{_NUMBER})\s*(?:to|–|—|\.\.)\s*(?P<hi2>{_NUMBER})"
                    rf"|(?P<lo3>{_UNSIGNED})\s*-\s*(?P<hi3>{_UNSIGNED}))(?P<tail>(?:\s*%|\s+[^\d\s].*)?)$", re.I | re.S)
_ANYWHERE = re.compile(rf"(?<![A-Za-z])(?:{'|'.join(_PREFIXES.values())})\s*{_NUMBER}"
                       rf"|{_NUMBER}\s+(?:{'|'.join(_SUFFIXES.values())})\b|\bbetween\s+{_NUMBER}\s+and\s+{_NUMBER}"
                       rf"|{_NUMBER}\s+to\s+{_NUMBER}"
                       rf"|{_UNSIGNED}\s*(?:–|—)\s*{_UNSIGNED}|(?<![\w.^])\d+(?:\.\d+)?-\d+(?:\.\d+)?(?![\d.])",
                       re.I)


@dataclass(frozen=True)
class Qualified:
    """A bound ("at least", "at most", "more than", "less than"), a "range" or an "about" answer, with the
    text of its value(s) (a range has two; a trailing noun or unit stays with each: "3 days", "5 days")."""

    kind: str
    values: tuple[str, ...]
    text: str

    def describe(self) -> str:
        return {"range": "a range", "about": "an approximation"}.get(self.kind, "a bound")


def read_qualified(answer: str) -> Qualified | None:
    """The bound, range or approximation the whole answer states, or None for anything else.

        >>> read_qualified("at least 17 jars").kind, read_qualified("3-5 days").values
        ('at least', ('3 days', '5 days'))
    """
    s = " ".join(answer.split())
    if m := _RANGE.match(s):
        lo, hi = (next(m.group(f"{end}{i}") for i in (1, 2, 3) if m.group(f"{end}{i}")) for end in ("lo", "hi"))
        if m.group("lo3") and not _ascending(lo, hi):
            return None
        tail = m.group("tail")
        return Qualified("range", (lo + tail, hi + tail), s)
    for pattern in (_PREFIX, _SUFFIX):
        if (m := pattern.match(s)) and _starts_with_number(rest := m.group("rest").strip()):
            kind = next(name for name, text in m.groupdict().items() if text and name != "rest")
            return Qualified(kind.replace("_", " "), (rest,), s)
    return None


def find_qualified(prose: str) -> str | None:
    """The first bound, range or approximation written anywhere in a sentence ("There are at least 17")."""
    m = _ANYWHERE.search(prose)
    return m.group() if m else None


def outside(kind: str, bounds: tuple, value) -> bool:
    """Whether `value` is excluded by the bound or range (numbers already parsed)."""
    if kind == "range":
        return not bounds[0] <= value <= bounds[1]
    limit = bounds[0]
    return {"at least": value < limit, "at most": value > limit, "more than": value <= limit,
            "less than": value >= limit}[kind]


def _starts_with_number(text: str) -> bool:
    if re.match(_NUMBER, text):
        return True
    words = text.split()
    return any(parse_number_words(" ".join(words[:n])) is not None for n in range(len(words), 0, -1))


def _ascending(lo: str, hi: str) -> bool:
    try:
        return float(lo.replace(",", "").lstrip("$")) < float(hi.replace(",", "").lstrip("$"))
    except ValueError:
        return False
