"""Arithmetic chains inside prose, read by a small grammar over `tokens` and recomputed exactly.

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
with pint. Nothing here raises: the caller turns an unexpected exception into an unchecked step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from .. import units
from ..tokens import Token, tokenize
from . import Claim

MAX_TOKENS = 300
_MAX_POWER = 64
_JOINING = {"of", "than", "more", "less", "plus", "minus", "times", "by", "and", "from", "fewer", "over", "per",
            "at", "with", "into"}
_NOT_UNIT = {"x", "times", "plus", "minus", "divided", "multiplied", "and", "or", "of", "is", "are", "was", "were",
             "to", "for", "in", "on", "at", "each", "per", "so", "then", "that", "which", "the", "a", "an", "by",
             "from", "with", "than", "more", "less", "as", "if", "it", "he", "she", "they", "we", "i", "you",
             "be", "will", "would", "can", "has", "have", "had", "total", "left", "remaining", "gives", "makes",
             "equals", "not", "but", "because", "since", "this", "these", "there", "his", "her", "their", "into"}
# Words pint reads as units that in prose are mostly something else ("a" is a year, "in" an inch).
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12, "dozen": 12}
_NOUN_WORDS = 8  # how many tokens of words may stand between a number and the operator after it
# Words that end a noun phrase: a new clause starts ("so", "because", "is"), so the arithmetic has ended.
_BREAK = {"so", "then", "because", "since", "which", "that", "is", "are", "was", "were", "will", "would", "if",
          "but", "thus", "therefore", "hence", "equals", "gives", "makes", "has", "have", "had", "divided",
          "multiplied", "x", "times", "plus", "minus", "than", "more", "less", "fewer", "also", "when", "while"}
_PINT_STOP = {"a", "an", "in", "s", "t", "at", "b", "c", "d", "k", "p", "y", "am", "pm", "are", "point", "points"}
_GLUED = re.compile(r"(?<![A-Za-z$€£\d.])\d+(?:\.\d+)?([A-Za-z]+)(?![A-Za-z\d])")
# What may follow digits without a space and is no unknown: ordinals, times of day, unit symbols.
_SUFFIXES = {"st", "nd", "rd", "th", "am", "pm", "s", "m", "h", "k", "g", "l", "d", "kg", "lb", "lbs", "cm", "mm",
             "km", "ml", "oz", "ft", "mph", "hr", "hrs", "min", "mins", "sec", "yd", "yds", "mi", "gb", "mb",
             "sts", "nds", "rds", "ths"}
# Notation the sympy reader reads (functions, factorials, roots, powers as superscripts): not this grammar's.
_FUNCTIONS = re.compile(r"[A-Za-z]\(|[\d)]\s*!(?!=)|[√π²³∑∏]")
_OP_WORDS = {"times": "*", "plus": "+", "minus": "-"}
_OP_PAIRS = {("divided", "by"): "/", ("multiplied", "by"): "*"}


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


class _Parser:
    """Recursive descent over tokens: expr := term (+|- term)*; term := unary (*|/ unary)*;
    unary := - unary | power; power := primary (^ unary)?; primary := number [unit] | ( expr ) [unit]."""

    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.depth = 0

    def kind(self, i: int) -> str:
        return self.t[i].kind if i < len(self.t) else "end"

    def op_at(self, i: int) -> tuple[str, int] | None:
        """The operator at `i` (a sign or an operator word) and the index after it."""
        if i >= len(self.t):
            return None
        tok = self.t[i]
        if tok.kind == "op":
            return tok.text, i + 1
        if tok.kind == "word":
            if tok.text in _OP_WORDS and not (tok.text == "times" and self._per(i + 1)):  # "2 times/day"
                return _OP_WORDS[tok.text], i + 1
            if i + 1 < len(self.t) and (tok.text, self.t[i + 1].text) in _OP_PAIRS:
                return _OP_PAIRS[(tok.text, self.t[i + 1].text)], i + 2
        return None

    def _per(self, i: int) -> bool:
        return i < len(self.t) and (self.t[i].text in ("/", "per", "a", "each")) and self.kind(i + 1) == "word"

    def expr(self, i: int) -> tuple[tuple, int] | None:
        self.depth += 1
        try:
            if self.depth > 40 or (first := self.term(i)) is None:
                return None
            node, i = first
            while (op := self.op_at(i)) and op[0] in "+-" and (right := self.term(op[1])):
                node, i = (op[0], node, right[0]), right[1]
            return node, i
        finally:
            self.depth -= 1

    def term(self, i: int) -> tuple[tuple, int] | None:
        if (first := self.unary(i)) is None:
            return None
        node, i = first
        while True:
            op = self.op_at(i)
            if op and op[0] in "*/" and (right := self.unary(op[1])):
                node, i = (op[0], node, right[0]), right[1]
            elif self.kind(i) == "open" and (right := self.primary(i)):
                if self.t[i].tight or right[0][0] not in ("num", "unit"):
                    node, i = ("*", node, right[0]), right[1]  # "2(40 + 9)", "2(60)"
                else:
                    i = right[1]  # "70 (70%) - 60 (60%)": an aside that restates the number, no product
            else:
                return node, i

    def unary(self, i: int) -> tuple[tuple, int] | None:
        if self.depth > 40:
            return None
        self.depth += 1
        try:
            return self._unary(i)
        finally:
            self.depth -= 1

    def _unary(self, i: int) -> tuple[tuple, int] | None:
        if (op := self.op_at(i)) and op[0] == "-" and self.t[i].kind == "op" and (inner := self.unary(op[1])):
            return ("neg", inner[0]), inner[1]
        if (base := self.primary(i)) is None:
            return None
        node, i = base
        if (op := self.op_at(i)) and op[0] == "^" and (exponent := self.unary(op[1])):
            return ("^", node, exponent[0]), exponent[1]
        return node, i

    def primary(self, i: int) -> tuple[tuple, int] | None:
        if self.kind(i) == "num":
            unit, after = self.unit(i + 1)
            return ("num", self.t[i], unit), after
        if self.kind(i) == "open" and (inner := self.expr(i + 1)) and self.kind(inner[1]) == "close":
            unit, after = self.unit(inner[1] + 1)
            return (("unit", inner[0], unit) if unit else inner[0]), after
        return None

    def unit(self, i: int) -> tuple[str, int]:
        """The unit after a number ("inches/remora", "cubic feet", "/day") and where the expression goes on:
        past the words that follow it ("48 eggs in cases + 2", "4.00 each = 12.00") only when an operator,
        equals sign or closing bracket comes next, so prose after a result is never read as arithmetic."""
        j, parts, unit_done = i, [], False
        while j < len(self.t) and j - i < _NOUN_WORDS:
            tok, nxt = self.t[j], self.t[j + 1] if j + 1 < len(self.t) else None
            slash = (tok.kind == "op" and tok.text == "/") or (tok.kind == "word" and tok.text == "per")
            if slash and nxt is not None and nxt.kind == "word" and nxt.text not in _NOT_UNIT:
                if not unit_done:
                    parts += ["/", nxt.text]
                j += 2
            elif tok.kind == "word" and j == i and tok.text == "of":
                break  # "1/4 of the tank's capacity": a product with words, not a number and its noun
            elif tok.kind == "word" and tok.text == "times" and self._per(j + 1):
                parts.append(tok.text)
                j += 1
            elif tok.kind == "word" and tok.text not in _BREAK and tok.text not in _OP_WORDS and \
                    (tok.text, nxt.text if nxt else "") not in _OP_PAIRS:
                unit_done = unit_done or tok.text in _NOT_UNIT or len(parts) >= 3
                if not unit_done:
                    parts.append(tok.text)
                j += 1
            else:
                break
        text = " ".join(parts).replace(" / ", "/").lstrip("/ ")
        text = ("1/" + text) if parts[:1] == ["/"] else text
        if j > i and (self.op_at(j) or self.kind(j) in ("eq", "close")):
            return text, j
        return text, i


def read(step: int, clause: str) -> tuple[list[Claim], list[Token]] | None:
    """The chains and unit facts in a clause as claims, and the number tokens outside them; None when
    there are none, or when the clause has algebra ("2x + 3 = 11", "8B = 64": letters as unknowns, which
    the equation reader reads)."""
    tokens = tokenize(clause, MAX_TOKENS)
    if _FUNCTIONS.search(clause):
        return None
    if _algebra(clause, tokens):
        first = next((k for k, t in enumerate(tokens) if t.kind == "eq"), None)
        label = clause[:clause.find("=")] if "=" in clause else clause
        if first is None or len(label.split()) > 6 or not _algebra(label, tokens[:first]) or \
                _algebra(clause[len(label) + 1:], tokens[first + 1:]):
            return None
        tokens = tokens[first + 1:]  # "S = 150 miles / 3 hours = 50 mph", "2V = 2 * 11 = 22": a name, then arithmetic
    parser, claims, used, i = _Parser(tokens), [], set(), 0
    for fact, span in _facts(step, clause, tokens):
        claims.append(fact)
        used.update(span)
    while any(t.kind == "eq" for t in tokens) and i < len(tokens):
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


_FACT_LINKS = {"in", "per", "is", "are", "equals", "has", "have", "contains", "make", "makes"}
_ONE = {"a", "an", "one", "each", "every"}


def _facts(step: int, clause: str, tokens: list[Token]) -> list[tuple[Claim, range]]:
    """Unit facts, confirmed with pint: "there are 12 inches in a foot", "1 foot is equal to 12 inches",
    "60 minutes per hour". A fact pint rounds differently ("4 weeks in a month") holds when it is pint's
    value rounded to the places written; another one is left unchecked, never called false."""
    out = []
    for k, tok in enumerate(tokens):
        if tok.kind != "num" or k + 2 >= len(tokens) or tokens[k + 1].kind != "word":
            continue
        unit_a = _unit(("num", tok, tokens[k + 1].text))
        j = k + 2
        words_between = []
        while j < len(tokens) and tokens[j].kind == "word" and tokens[j].text in _FACT_LINKS | _ONE | {"equal", "to"}:
            words_between.append(tokens[j].text)
            j += 1
        if unit_a is None or not words_between or j >= len(tokens):
            continue
        if tokens[j].kind == "num" and j + 1 < len(tokens) and tokens[j + 1].kind == "word" and \
                words_between[0] in ("is", "are", "equals", "has", "have", "contains", "make", "makes"):
            n, unit_n, one, unit_one, end = tokens[j].value, _unit(("num", tokens[j], tokens[j + 1].text)), \
                tok.value, unit_a, j + 2  # "1 foot is equal to 12 inches", "1 hour has 60 minutes"
        elif tokens[j].kind == "word" and words_between[0] in ("in", "per") and \
                all(w in _ONE for w in words_between[1:]):
            n, unit_n, one, unit_one, end = tok.value, unit_a, Fraction(1), _unit(("num", tok, tokens[j].text)), j + 1
        else:
            continue
        if unit_n is None or unit_one is None or unit_n == unit_one:
            continue
        try:
            exact = Fraction(repr(float(units.registry().Quantity(float(one), unit_one).to(unit_n).magnitude)))
        except Exception:  # noqa: BLE001 - the dimensions differ ("60 miles per hour"): not a unit fact
            continue
        shown = tokens[j] if words_between[0] not in ("in", "per") else tok
        places = shown.places or 0
        if not (_rounds_to(exact, Token("num", "", n, places), n) or exact == n):
            continue  # "3 hours in a day" is a count, not a unit fact
        text = " ".join(t.raw or t.text for t in tokens[k:end])
        out.append((Claim(step, text, "unit fact", holds=True, values=[n, one], result=str(n)), range(k, end)))
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


def _chain(parser: _Parser, i: int) -> list[_Side] | None:
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
    side.literals = _literals(node)
    side.operators = node[0] not in ("num", "unit") or (node[0] == "unit" and node[1][0] != "num")
    try:
        side.value = _evaluate(node, inside=side.operators)
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        side.why = f"it could not be evaluated ({type(exc).__name__})"
    return side


def _inner_values(node: tuple) -> list[Fraction]:
    """The value of a side and of every bracketed or operator part inside it."""
    try:
        values = [_evaluate(node, inside=node[0] not in ("num", "unit"))]
    except (ZeroDivisionError, OverflowError, ValueError):
        values = []
    return values + [v for child in node[1:] if isinstance(child, tuple) and child[0] != "num"
                     for v in _inner_values(child)]


def _literals(node: tuple) -> list[Token]:
    if node[0] == "num":
        return [node[1]]
    return [t for child in node[1:] if isinstance(child, tuple) for t in _literals(child)]


def _evaluate(node: tuple, inside: bool) -> Fraction:
    """The exact value; a percentage inside an expression is p/100 ("5% × 1200"), a lone one p."""
    kind = node[0]
    if kind == "num":
        return node[1].value / 100 if node[1].percent and inside else node[1].value
    if kind == "unit":
        return _evaluate(node[1], inside)
    if kind == "neg":
        return -_evaluate(node[1], inside)
    a, b = _evaluate(node[1], inside), _evaluate(node[2], inside)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        return a / b
    if b.denominator != 1 or abs(b) > _MAX_POWER or abs(a) > 10**6:
        raise ValueError("a power too large or not whole")
    return a ** int(b)


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
        seen += _inner_values(side.node)
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
    for x in _readings(a):
        for y in _readings(b):
            if x == y or _rounds_to(x, b.lone, y) or _rounds_to(y, a.lone, x):
                return True, ""
    if b.operators and b.literals and _agrees(a.value, b.literals[0]) and _leads(b):
        return True, ""  # a running chain: "20 x 2 = 40 x 3 = 120"
    if any(t.clock for t in a.literals + b.literals) and (a.value - b.value) % 12 == 0:
        return True, ""  # "2:00 - 11:00 = 3 hours", "5 - 3 = 2:00 pm": the clock wrapped
    if (converted := _converts(a, b)) is not None:
        return converted, "" if converted else "pint says the units do not convert to that"
    if b.lone and b.lone.places is None and a.value.denominator != 1 and \
            b.value in (math.floor(a.value), math.ceil(a.value)):
        return None, f"it rounds {float(a.value):g} to the whole number {b.lone.raw}"
    if (a.operators or whole) and not continues:
        return False, "it does not hold"  # "0.25 = 20%" alone is a false conversion; "48 = 20% greater" is not
    if continues:
        return None, "no reader could read it"  # it may continue arithmetic written in words before it
    return None, "it equates two different numbers: a description, not a calculation"


def _readings(side: _Side) -> list[Fraction]:
    """The values a side may stand for: a lone percentage p or p/100, "2.4 billion" 2.4 or 2,400,000,000."""
    lone = side.lone
    if lone and lone.percent:
        return [side.value, side.value / 100]
    scale = _SCALES.get(side.node[2].split(" ")[0]) if lone and side.node[0] == "num" and side.node[2] else None
    return [side.value, side.value * scale] if scale else [side.value]


def _rounds_to(exact: Fraction, shown: Token | None, value: Fraction) -> bool:
    """Whether `shown` (a number written with decimal places) is `exact` rounded to those places."""
    if shown is None or shown.places is None or exact == value:
        return exact == value
    if shown.places >= 10 and float(exact) == float(value):
        return True  # a float printed whole: "50 / 3 = 16.666666666666668", "70 + 19.8 + 29.9 = 119.69999999999999"
    return abs(exact - value) <= Fraction(1, 2 * 10**shown.places)


def _agrees(value: Fraction, tok: Token) -> bool:
    return value == tok.value or _rounds_to(value, tok, tok.value) or (tok.percent and value == tok.value / 100)


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


def _converts(a: _Side, b: _Side) -> bool | None:
    """Whether pint says side `a`, with its units, is side `b` in b's unit; None when they carry no units."""
    if not (b.lone and (unit_b := _unit(b.node)) is not None):
        return None
    if a.lone and _unit(a.node) == unit_b:
        return None  # "10 feet = 400 feet" converts nothing
    try:
        q = _quantity(a.node)
        if q is None or q.dimensionless:
            return None
        magnitude = q.to(unit_b).magnitude
    except Exception:  # noqa: BLE001 - pint raises many types on odd units; no unit reading, no verdict
        return None
    exact = Fraction(repr(float(magnitude)))
    return _rounds_to(exact, b.lone, b.value) or abs(exact - b.value) <= abs(b.value) * Fraction(1, 10**9)


def _unit(node: tuple):
    text = node[2] if node[0] in ("num", "unit") else ""
    if not text or any(w in _PINT_STOP for w in text.replace("/", " ").split()):
        return None
    return units.parse_unit(text)


def _quantity(node: tuple):
    kind = node[0]
    if kind in ("num", "unit"):
        value = (node[1].value / 100 if node[1].percent else node[1].value) if kind == "num" else None
        base = float(value) if value is not None else _quantity(node[1])
        unit = _unit(node)
        if base is None:
            return None
        return units.registry().Quantity(base, unit) if unit is not None else units.registry().Quantity(base)
    if kind == "neg":
        return -_quantity(node[1])
    a, b = _quantity(node[1]), _quantity(node[2])
    if a is None or b is None:
        return None
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "^": lambda: a ** b.magnitude}[kind]()


def _show(tokens: list[Token], side: _Side) -> str:
    return " ".join(t.text if t.kind == "op" else t.raw or t.text for t in tokens[side.start:side.end])


def _text(tok: Token) -> str:
    return number_text(tok.value)


def number_text(value: Fraction) -> str:
    """A value as a number `parse_number` reads back exactly ("3.5", "1/3")."""
    if value.denominator == 1:
        return str(value.numerator)
    decimal = value.numerator / value.denominator
    if Fraction(repr(decimal)) == value:
        return repr(decimal)
    return f"{value.numerator}/{value.denominator}"
