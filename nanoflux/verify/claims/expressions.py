"""Arithmetic expressions in prose: a recursive-descent grammar over `tokens`, evaluated exactly.

The grammar is the one school arithmetic has (`expr := term (+|- term)*`, `term := unary (*|/ unary)*`,
`unary := - unary | primary (^ unary)?`, `primary := number [unit] | ( expr ) [unit]`), with what models
add around it: operator words ("times", "divided by"), a product written "2(60)", an aside "70 (70%)",
and a number's unit or noun phrase ("6 inches/remora", "48 eggs in cases") read through to the operator
after it. A parsed expression is a small tuple tree: ("num", token, unit text), ("unit", tree, unit
text), ("neg", tree) or (operator, left, right). Values are `Fraction`s, so "10/3" stays exact; depth,
powers and literal sizes are capped, so no input makes it slow or huge.
"""

from __future__ import annotations

from fractions import Fraction

from ..tokens import Token

MAX_DEPTH = 40
_MAX_POWER = 64
_NOUN_WORDS = 8  # how many tokens of words may stand between a number and the operator after it
# Words that are no part of a unit: what follows them is a noun phrase, not something pint reads.
_NOT_UNIT = {"x", "times", "plus", "minus", "divided", "multiplied", "and", "or", "of", "is", "are", "was", "were",
             "to", "for", "in", "on", "at", "each", "per", "so", "then", "that", "which", "the", "a", "an", "by",
             "from", "with", "than", "more", "less", "as", "if", "it", "he", "she", "they", "we", "i", "you",
             "be", "will", "would", "can", "has", "have", "had", "total", "left", "remaining", "gives", "makes",
             "equals", "not", "but", "because", "since", "this", "these", "there", "his", "her", "their", "into"}
# Words that end a noun phrase: a new clause starts ("so", "because", "is"), so the arithmetic has ended.
_BREAK = {"so", "then", "because", "since", "which", "that", "is", "are", "was", "were", "will", "would", "if",
          "but", "thus", "therefore", "hence", "equals", "gives", "makes", "has", "have", "had", "divided",
          "multiplied", "x", "times", "plus", "minus", "than", "more", "less", "fewer", "also", "when", "while"}
_OP_WORDS = {"times": "*", "plus": "+", "minus": "-"}
_OP_PAIRS = {("divided", "by"): "/", ("multiplied", "by"): "*"}


class Parser:
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
            if tok.text in _OP_WORDS and not self.times_is_a_noun(i):
                return _OP_WORDS[tok.text], i + 1
            if i + 1 < len(self.t) and (tok.text, self.t[i + 1].text) in _OP_PAIRS:
                return _OP_PAIRS[(tok.text, self.t[i + 1].text)], i + 2
        return None

    def times_is_a_noun(self, i: int) -> bool:
        """Whether "times" at `i` counts occasions ("2 times/day", "255 times / 5 minutes", "40 times * 10
        feet") rather than multiplying: a rate or an operator follows it."""
        if self.t[i].text != "times" or i + 1 >= len(self.t):
            return False
        after = self.t[i + 1]
        return after.kind in ("op", "eq") or (after.text in ("per", "a", "each") and self.kind(i + 2) == "word")

    def expr(self, i: int) -> tuple[tuple, int] | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH or (first := self.term(i)) is None:
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
            elif self.kind(i) == "num" and self.t[i].tight and (right := self.unary(i)):
                node, i = ("*", node, right[0]), right[1]  # "(1/4)24"
            elif self.kind(i) == "open" and (right := self.primary(i)):
                if self.t[i].tight or right[0][0] not in ("num", "unit"):
                    node, i = ("*", node, right[0]), right[1]  # "2(40 + 9)", "2(60)"
                else:
                    i = right[1]  # "70 (70%) - 60 (60%)": an aside that restates the number, no product
            else:
                return node, i

    def unary(self, i: int) -> tuple[tuple, int] | None:
        if self.depth > MAX_DEPTH:
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
            elif tok.kind == "word" and j == i and tok.text in ("of", "as"):
                break  # "1/4 of the tank's capacity", "1/4 as much as": a product with words, not a noun
            elif tok.kind == "word" and self.times_is_a_noun(j):
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


def evaluate(node: tuple, inside: bool, whole_percent: bool = False) -> Fraction:
    """The exact value; a percentage inside an expression is p/100 ("5% × 1200"), a lone one p. With
    `whole_percent`, "100%" inside is 100, as models write "18 / 100% = 0.18" for 18/100."""
    kind = node[0]
    if kind == "num":
        tok = node[1]
        return tok.value / 100 if tok.percent and inside and not (whole_percent and tok.value == 100) else tok.value
    if kind == "unit":
        return evaluate(node[1], inside, whole_percent)
    if kind == "neg":
        return -evaluate(node[1], inside, whole_percent)
    a, b = evaluate(node[1], inside, whole_percent), evaluate(node[2], inside, whole_percent)
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


def inner_values(node: tuple) -> list[Fraction]:
    """The value of a side and of every bracketed or operator part inside it."""
    try:
        values = [evaluate(node, inside=node[0] not in ("num", "unit"))]
    except (ZeroDivisionError, OverflowError, ValueError):
        values = []
    return values + [v for child in node[1:] if isinstance(child, tuple) and child[0] != "num"
                     for v in inner_values(child)]


def literals(node: tuple) -> list[Token]:
    """The number tokens in an expression, left to right."""
    if node[0] == "num":
        return [node[1]]
    return [t for child in node[1:] if isinstance(child, tuple) for t in literals(child)]


def rounds_to(exact: Fraction, value: Fraction, places: int | None, truncated: bool = False) -> bool:
    """Whether `value`, written with `places` decimal places (None: an integer, so exactly), is `exact`
    rounded to those places ("180 / 7 = 25.7"), or cut there when written "33.333..." (`truncated`)."""
    if places is None or exact == value:
        return exact == value
    unit = Fraction(10) ** -places
    if truncated:
        return 0 <= abs(exact) - abs(value) < unit
    if places >= 10 and float(exact) == float(value):
        return True  # a float printed whole: "50 / 3 = 16.666666666666668", "70 + 19.8 + 29.9 = 119.69999999999999"
    return abs(exact - value) <= unit / 2


def number_text(value: Fraction) -> str:
    """A value as a number `parse_number` reads back exactly ("3.5", "1/3")."""
    if value.denominator == 1:
        return str(value.numerator)
    decimal = value.numerator / value.denominator
    if Fraction(repr(decimal)) == value:
        return repr(decimal)
    return f"{value.numerator}/{value.denominator}"
