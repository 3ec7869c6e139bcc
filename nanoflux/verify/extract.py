"""Finding the final answer in what a model wrote, and the plain-string forms answers compare by.

Models wrap answers in prose ("The answer is 252."), `\\boxed{...}`, `$...$`, markdown and list
words ("76 and 25"); these helpers peel that off so the comparison sees only the answer.
"""

from __future__ import annotations

import re
import string
import unicodedata

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANCHOR = re.compile(r"(?i)\b(?:final\s+answer|answer)\s*(?:is|:|=|was)\s*:?\s*(?:\*\*)?")
_GSM8K = re.compile(r"####\s*(.+)$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?!\d)|;|\s(?:because|since|which|as)\s")
_WRAPPERS = [
    re.compile(r"^\$\$(.*)\$\$$", re.S), re.compile(r"^\$(.*)\$$", re.S), re.compile(r"^\\\((.*)\\\)$", re.S),
    re.compile(r"^\\\[(.*)\\\]$", re.S), re.compile(r"^\*\*(.*)\*\*$", re.S), re.compile(r"^`(.*)`$", re.S),
    re.compile(r"^\\(?:text|textbf|mathrm|mathbf|textrm)\{([^{}]*)\}$"), re.compile(r'^"(.*)"$', re.S),
]
_NOISE = re.compile(r"\\displaystyle|\\left(?=[(\[|.])|\\right(?=[)\]|.])|\\!|\\;|\\quad")
_CHOICE_WHOLE = re.compile(r"^\(?([A-J])\)?[.:]?$|^\(([a-j])\)$")
_CHOICE_ANY_CASE = re.compile(r"^\(?([A-Ja-j])\)?[.:]?$")
_CHOICE_LEAD = re.compile(r"^\(?([A-Ja-j])[).:]\s")
_CHOICE_PROSE = re.compile(r"(?i)\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-J])\)?(?![A-Za-z0-9])")
_OPTION_ITEM = re.compile(r"^\(?([A-J])\)?$|^\(([a-j])\)$")
_OPTION_JOINS = re.compile(r"\s*(?:[,;&/]\s*(?:(?:and|or)\b)?|\band\b|\bor\b)\s*")
_OPTION_LEAD = re.compile(r"(?i)^(?:both|either|options?|choices?)\s+")
_LIST_WORDS = re.compile(r"\s*(?:(?<!\\),|;|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b|&)\s*")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_NUMBER_IN_TEXT = re.compile(r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*%)?")


def last_boxed(text: str) -> str | None:
    """Contents of the last `\\boxed{...}` (balanced braces), or None. One pass pairs every brace, so
    thousands of unclosed `\\boxed{` cost no more than one."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    closing, opened = {}, []
    for i in range(starts[0] - 1, len(text)):
        if text[i] == "{":
            opened.append(i + 1)
        elif text[i] == "}" and opened:
            closing[opened.pop()] = i
    return next((text[start:closing[start]] for start in reversed(starts) if start in closing), None)


def final_answer(text: str) -> tuple[str, str]:
    """The answer inside `text` and how it was found ("boxed", "after 'answer'", "####", "whole text")."""
    if (boxed := last_boxed(text)) is not None:
        return clean(boxed), "boxed"
    anchors = list(_ANCHOR.finditer(text))
    if anchors:
        rest = text[anchors[-1].end():].strip().split("\n", 1)[0]
        if rest.startswith("$") and (end := rest.find("$", 1)) > 0:
            rest = rest[: end + 1]
        elif m := _SENTENCE_END.search(rest):
            rest = rest[: m.start()]
        if rest.strip():
            return clean(rest), "after 'answer'"
    if m := _GSM8K.search(text):
        return clean(m.group(1)), "####"
    return clean(text), "whole text"


def clean(s: str) -> str:
    """Strip math delimiters, markdown, `\\text{}` wrappers and trailing punctuation, repeatedly."""
    previous = None
    s = _NOISE.sub("", s)
    while s != previous:
        previous = s
        s = s.strip().rstrip(".,;:").strip().strip("*").strip()
        for pattern in _WRAPPERS:
            if m := pattern.match(s):
                s = m.group(1)
    return s


def choice_letter(s: str) -> str | None:
    """The option letter in "(B)", "B) 42", "Answer: b", "The answer is (C).", uppercased; else None."""
    s = clean(s)
    for pattern in (_CHOICE_ANY_CASE, _CHOICE_LEAD):
        if m := pattern.match(s):
            return next(g for g in m.groups() if g).upper()
    hits = _CHOICE_PROSE.findall(s)
    return hits[-1].upper() if hits else None


def is_choice(s: str) -> bool:
    """Whether a reference answer is an option letter (uppercase "B", "(B)"; lowercase only as "(b)")."""
    return bool(_CHOICE_WHOLE.match(clean(s)) or _CHOICE_LEAD.match(clean(s)))


def option_letters(s: str) -> tuple[list[str], str] | None:
    """The letters of an answer naming several options and how it joins them ("and", "or", or "and/or"
    when it uses both), or None: "(B) and (C)" -> (["B", "C"], "and"); "either A or C" -> "or".

        >>> option_letters("both A and C"), option_letters("(B)")
        ((['A', 'C'], 'and'), None)
    """
    s = clean(s)
    lead = _OPTION_LEAD.match(s)
    s = s[lead.end():] if lead else s
    items = _OPTION_JOINS.split(s)
    letters = [m.group(1) or m.group(2).upper() for m in (_OPTION_ITEM.match(item) for item in items) if m]
    if len(items) < 2 or len(letters) != len(items):
        return None
    either = " or" if lead and lead.group().lower().startswith("either") else ""
    joins = " ".join(_OPTION_JOINS.findall(s)).lower() + either
    ors, ands = bool(re.search(r"\bor\b|/", joins)), bool(re.search(r"\band\b|&", joins))
    joined = "and/or" if ors and ands else "or" if ors else "and"
    return letters, joined


def choice_text(s: str) -> str | None:
    """The option's own text in "B) 42" ("42"), or None."""
    s = clean(s)
    m = _CHOICE_LEAD.match(s)
    return (s[m.end():].strip() or None) if m else None


def split_items(s: str) -> tuple[list[str], str] | None:
    """Items of a set or list answer and its kind ("set", "tuple" or "list"), or None for one answer.

    Braces mean a set (order ignored); parentheses or brackets around several items mean a tuple;
    bare lists ("76 and 25", "x = 1 or x = 2", "25, 76") are compared as sets.
    """
    s = clean(s)
    kind, escaped_braces = "list", s.startswith("\\{")
    for left, right, bracket_kind in (("\\{", "\\}", "set"), ("{", "}", "set"), ("(", ")", "tuple"),
                                      ("[", "]", "tuple")):
        if s.startswith(left) and s.endswith(right) and _encloses(s, len(left), len(s) - len(right)):
            s, kind = s[len(left): len(s) - len(right)], bracket_kind
            break
    items = [item for item in (clean(part) for part in _split_top_level(s)) if item]
    if len(items) < 2 and not escaped_braces:  # "{10 \\choose 5}" is LaTeX grouping, "\\{5\\}" a set
        return None
    return items, kind


def _encloses(s: str, start: int, end: int) -> bool:
    """Whether the bracket before `start` matches the one at `end` (so "(1)+(2)" is not enclosed)."""
    depth = 0
    for ch in s[start:end]:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _split_top_level(s: str) -> list[str]:
    parts, depth, last = [], 0, 0
    for m in re.finditer(r"[()\[\]{}]|" + _LIST_WORDS.pattern, s):
        token = m.group()
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        elif depth == 0 and not _is_thousands_comma(s, m):
            parts.append(s[last: m.start()])
            last = m.end()
    parts.append(s[last:])
    return parts


def _is_thousands_comma(s: str, m: re.Match) -> bool:
    return m.group() == "," and m.start() > 0 and s[m.start() - 1].isdigit() and bool(
        re.match(r"\d{3}(?!\d)", s[m.end():])
    )


def normalize_text(s: str) -> str:
    """Case, accents, punctuation, articles and whitespace removed: "The Mitochondria." -> "mitochondria"."""
    s = unicodedata.normalize("NFKD", clean(s)).encode("ascii", "ignore").decode().lower()
    s = s.translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return " ".join(_ARTICLES.sub(" ", s).split())


def last_number(s: str) -> str | None:
    """The last number written in a piece of prose ("I get 1,234 apples" -> "1,234"), or None."""
    hits = _NUMBER_IN_TEXT.findall(s)
    return hits[-1] if hits else None
