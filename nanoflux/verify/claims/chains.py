"""Arithmetic chains inside prose, read by the grammar of `expressions` and recomputed exactly.

"so 3 + 4 = 7 duck eggs are used", "Toby's book is 45 x 200 = 9000 words", "20 x 2 = 40 x 3 = 120",
"$1,200 × 5% = $60", "6 days/week * 4 weeks/month = 24 days/month": wherever it stands in the sentence,
a chain is expression = expression (= ...), an expression being numbers (with their units, currency,
percent and clock times) joined by operators and brackets. Each is evaluated in-process with
`Fraction` (no sympy: fast, and nothing unbounded: literals are capped, powers small), and adjacent
sides compared:

- equal, or the exact value rounded to the places the shown side writes ("180 / 7 = 25.7" holds);
- a percentage side read either way ("100 - 60 = 40%", "0.25 = 25%");
- a running chain, where the next side starts from the value so far ("20 x 2 = 40 x 3 = 120");
- a conversion, when magnitudes differ but pint agrees ("1 foot = 12 inches", "2.5 km = 2500 m");
- a quotient shown as a whole number ("180 / 7 = 25") does not hold, but is no proof of a false
  calculation either (the question may ask to round): the claim is left unchecked.

A pair that differs is a false calculation only when its left side computes (has an operator) and
does not continue words before it ("5 more than 3 x 4 = 17"); "48 = 20% greater" equates a number
with a description, and stays unchecked. Unit facts ("there are 12 inches in a foot") are confirmed
with pint (`facts`). Nothing here should raise; the caller turns an exception into an unchecked step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from ..tokens import Token, tokenize
from . import Claim
from .expressions import Parser, evaluate, inner_values, literals, number_text, rounds_to
from .facts import converts, facts, mixed_sum

MAX_TOKENS = 300
_JOINING = {"of", "than", "more", "less", "plus", "minus", "times", "by", "and", "from", "fewer", "over", "per",
            "at", "with", "into"}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12, "dozen": 12}
_GLUED = re.compile(r"(?<![A-Za-z$€£\d.])\d+(?:\.\d+)?([A-Za-z]+)(?![A-Za-z\d])")
# What may follow digits without a space and is no unknown: ordinals, times of day, unit symbols.
_SUFFIXES = {"st", "nd", "rd", "th", "am", "pm", "s", "m", "h", "k", "g", "l", "d", "kg", "lb", "lbs", "cm", "mm",
             "km", "ml", "oz", "ft", "mph", "hr", "hrs", "min", "mins", "sec", "yd", "yds", "mi", "gb", "mb",
             "sts", "nds", "rds", "ths"}
# Notation the sympy reader reads (functions, factorials, roots, powers as superscripts): not this grammar's.
_FUNCTIONS = re.compile(r"[A-Za-z]\(|[\d)]\s*!(?!=)|[√π²³∑∏]")


@dataclass
class _Side:
    node: tuple
    start: int
    end: int
    value: Fraction | None = None
    why: str = ""
    operators: bool = False
    literals: list[Token] = field(default_factory=list)

    @property
    def lone(self) -> Token | None:
        """The number, when the side is one number."""
        return self.literals[0] if not self.operators and len(self.literals) == 1 else None


def read(step: int, clause: str) -> tuple[list[Claim], list[Token]] | None:
    """The chains and unit facts in a clause as claims, and the number tokens outside them; None when
    there are none, or when the clause has algebra ("2x + 3 = 11", "8B = 64": letters as unknowns, which
    the equation reader reads)."""
    if _FUNCTIONS.search(clause):
        return None
    tokens = tokenize(clause, MAX_TOKENS)
    if _algebra(clause, tokens):
        first = next((k for k, t in enumerate(tokens) if t.kind == "eq"), None)
        label = clause[:clause.find("=")] if "=" in clause else clause
        if first is None or len(label.split()) > 6 or not _algebra(label, tokens[:first + 1]) or \
                _algebra(clause[len(label) + 1:], tokens[first + 1:]):
            return None
        tokens = tokens[first + 1:]  # "S = 150 miles / 3 hours = 50 mph", "2V = 2 * 11 = 22": a name, then arithmetic
    parser, claims, used, i = Parser(tokens), [], set(), 0
    for fact, span in facts(step, tokens):
        claims.append(fact)
        used.update(span)
    has_equals = any(t.kind == "eq" for t in tokens)
    while has_equals and i < len(tokens):
        starts = tokens[i].kind in ("num", "open") or (tokens[i].kind == "op" and tokens[i].text == "-" and (
            i == 0 or tokens[i - 1].kind in ("open", "eq") or (tokens[i].tight and tokens[i - 1].kind == "word")))
        chain = _chain(parser, i) if starts else None  # "Yams - 6 yams x 1.5": a dash, not a minus sign
        if chain is None:
            i += 1
            continue
        if _label_number(chain, tokens):
            chain = chain[1:]  # the label's number stays prose, which the question must give
        claims.append(_claim(step, clause, tokens, chain))
        used.update(range(chain[0].start, chain[-1].end))
        i = chain[-1].end
    if not claims:
        return None
    return claims, prose_numbers(tokens, used)


def prose_numbers(tokens: list[Token], used: set[int]) -> list[Token]:
    """The numbers outside the chains, a fraction ("5/4 times as much") as one number: its value is what
    the question must give, not its numerator and denominator."""
    out, k = [], 0
    while k < len(tokens):
        tok = tokens[k]
        if tok.kind == "num" and k not in used:
            if k + 2 < len(tokens) and tokens[k + 1].text == "/" and tokens[k + 2].kind == "num" and \
                    not {k + 1, k + 2} & used and tokens[k + 2].value:
                out.append(Token("num", "", tok.value / tokens[k + 2].value, raw=f"{tok.raw}/{tokens[k + 2].raw}"))
                k += 3
                continue
            out.append(tok)
        k += 1
    return out


def _algebra(clause: str, tokens: list[Token]) -> bool:
    """Whether a letter stands for an unknown next to the arithmetic: glued to a digit ("2x", "8B") or
    alone beside an operator or equals sign ("x = 124", "y + 3")."""
    for k, tok in enumerate(tokens):
        if tok.kind != "word" or len(tok.text) != 1 or tok.text in ("a", "i"):
            continue
        near = [tokens[j].kind for j in (k - 1, k + 1) if 0 <= j < len(tokens)]
        if "eq" in near or "op" in near:
            return True
    return any(m.group(1).lower() not in _SUFFIXES for m in _GLUED.finditer(clause))


def _chain(parser: Parser, i: int) -> list[_Side] | None:
    sides = []
    while True:
        parsed = parser.expr(i)
        if parsed is None:
            break
        node, end = parsed
        sides.append(_side(node, i, end, parser.t))
        if parser.kind(end) != "eq":
            break
        i = end + 1
    return sides if len(sides) > 1 else None


def _side(node: tuple, start: int, end: int, tokens: list[Token]) -> _Side:
    side = _Side(node, start, end)
    side.literals = literals(node)
    side.operators = node[0] not in ("num", "unit") or (node[0] == "unit" and node[1][0] != "num")
    try:
        side.value = evaluate(node, inside=side.operators)
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        side.why = f"it could not be evaluated ({type(exc).__name__})"
    return side


def _label_number(sides: list[_Side], tokens: list[Token]) -> bool:
    """Whether a chain's first side is a number inside a label, not a value: "after he ate 24 = 60 - 24 = 36",
    "One dose = 14 + 42 = 56 mL" (a lone number after words, differing from the arithmetic that follows)."""
    first, second = sides[0], sides[1]
    return len(sides) > 2 and first.lone is not None and second.operators and first.start > 0 and \
        tokens[first.start - 1].kind == "word" and first.value != second.value


def _claim(step: int, clause: str, tokens: list[Token], sides: list[_Side]) -> Claim:
    holds, why = True, ""
    continues = _continues(sides[0], tokens)
    whole = sides[0].start == 0 and all(t.kind == "other" for t in tokens[sides[-1].end:])
    for k, (a, b) in enumerate(zip(sides, sides[1:], strict=False)):
        verdict, reason = _pair(a, b, continues, whole)
        if verdict is False and any(c.value is not None and c.value == a.value for c in sides[k + 2:]):
            verdict, reason = None, "a side in the middle of the chain disagrees with the sides around it"
        if verdict is None:
            continues = True  # past an unchecked link, what the chain computes from is unknown
        if verdict is False:
            holds, why = False, reason
            break
        if verdict is None and holds:
            holds, why = None, reason
    values: list[Fraction | str] = []
    for side in sides:
        if side.value is not None:
            values.append(side.value)
            if (lone := side.lone) and lone.percent:
                values.append(lone.value / 100)
    operands, seen = [], []  # what the chain starts from: not what an earlier side computed ("(30 - 12)/2 = 18/2")
    for side in sides:
        if side.operators:
            operands += [_text(t) for t in side.literals if not any(_agrees(v, t) for v in seen)]
        seen += inner_values(side.node)
    last = sides[-1]
    result = _text(last.lone) + ("%" if last.lone.percent else "") if last.lone else (
        number_text(last.value) if last.value is not None else "")
    computes = any(s.operators for s in sides) or any(s.value != sides[0].value for s in sides if s.value is not None)
    return Claim(step, clause, "arithmetic (prose)", holds=holds, values=values, result=result, operands=operands,
                 parts=[_show(tokens, s) for s in sides], why=why or "it could not be evaluated",
                 approximate=any(tokens[s.end].text == "≈" for s in sides[:-1] if s.end < len(tokens)),
                 computes=computes)


def _pair(a: _Side, b: _Side, continues: bool, whole: bool) -> tuple[bool | None, str]:
    """Whether two adjacent sides agree: True, False (a false calculation) or None (unchecked, with why)."""
    if a.value is None or b.value is None:
        return None, a.why or b.why
    for x, x_places in _readings(a):
        for y, y_places in _readings(b):
            if rounds_to(x, y, y_places, b.lone is not None and b.lone.truncated) or rounds_to(y, x, x_places):
                if b.lone and mixed_sum(a.node) and converts(a.node, b.node, b.lone) is False:
                    return None, "its numbers add up, but its units do not (pint converts them to another value)"
                return True, ""
    if b.operators and b.literals and _agrees(a.value, b.literals[0]) and _leads(b):
        return True, ""  # a running chain: "20 x 2 = 40 x 3 = 120"
    if any(t.clock for t in a.literals) and 0 <= b.value < 12 and a.value % 12 == b.value or \
            b.lone and b.lone.clock and a.value % 12 == b.value % 12:
        return True, ""  # "2:00 - 11:00 = 3 hours", "5 - 3 = 2:00 pm": the clock wrapped
    if b.lone and (converted := converts(a.node, b.node, b.lone)) is not None:
        return converted, "" if converted else "pint says the units do not convert to that"
    if b.lone and b.lone.places is None and a.value.denominator != 1 and \
            b.value in (math.floor(a.value), math.ceil(a.value)):
        return None, f"it rounds {float(a.value):g} to the whole number {b.lone.raw}"
    if (a.operators or whole) and not continues:
        return False, "it does not hold"  # "0.25 = 20%" alone is a false conversion; "48 = 20% greater" is not
    if continues:
        return None, "no reader could read it"  # it may continue arithmetic written in words before it
    return None, "it equates two different numbers: a description, not a calculation"


def _readings(side: _Side) -> list[tuple[Fraction, int | None]]:
    """The values a side may stand for, each with the decimal places it is written to (None: exact): a lone
    percentage p or p/100, "2.4 billion" 2.4 or 2,400,000,000, "18 / 100%" 18 or 0.18."""
    lone = side.lone
    places = lone.places if lone else None
    if lone and lone.percent:
        return [(side.value, places), (side.value / 100, None if places is None else places + 2)]
    if side.operators and any(t.percent and t.value == 100 for t in side.literals):
        try:  # "x 100%" and "/ 100%" are written for x 1 and for / 100 alike
            return [(side.value, None), (evaluate(side.node, inside=True, whole_percent=True), None)]
        except (ZeroDivisionError, OverflowError, ValueError):
            return [(side.value, None)]
    scale = _SCALES.get(side.node[2].split(" ")[0]) if lone and side.node[0] == "num" and side.node[2] else None
    if scale:
        shifted = None if places is None else places - len(str(scale)) + 1
        return [(side.value, places), (side.value * scale, shifted)]
    return [(side.value, places)]


def _agrees(value: Fraction, tok: Token) -> bool:
    """Whether a number as written is `value` (rounded to its places; a percentage either way)."""
    return rounds_to(value, tok.value, tok.places, tok.truncated) or (tok.percent and value == tok.value / 100)


def _leads(side: _Side) -> bool:
    """Whether a side's first number starts it (so "40 x 3" carries on from 40)."""
    node = side.node
    while node[0] in ("+", "-", "*", "/", "^"):
        node = node[1]
    return node[0] == "num"


def _continues(side: _Side, tokens: list[Token]) -> bool:
    """Whether a chain may be the tail of arithmetic written before it ("5 more than 3 x 4 = 17",
    "24 eggs in 1 tray x 2 trays = 48", "3/4 of a skein * 364 yards = ..."): a number or operator
    among the few tokens before it, or a joining word right before it."""
    before = tokens[max(side.start - 4, 0): side.start]
    return bool(before) and (before[-1].kind == "word" and before[-1].text in _JOINING or
                             any(t.kind in ("num", "op") for t in before))


def _show(tokens: list[Token], side: _Side) -> str:
    return " ".join(t.text if t.kind == "op" else t.raw or t.text for t in tokens[side.start:side.end])


def _text(tok: Token) -> str:
    return number_text(tok.value)


