"""Units in prose, checked with pint: unit facts ("there are 12 inches in a foot") and conversions.

Models state the facts a conversion rests on ("Since 1 foot is equal to 12 inches", "60 minutes per
hour") and write units loosely inside arithmetic ("1.25 hours * 60 minutes = 75 minutes"). A fact is
confirmed when pint gives the same number (rounded to the places written, so "4 weeks in a month"
holds); one pint does not confirm is no fact ("3 hours in a day" counts hours), so it stays prose.
Inside arithmetic, magnitudes are compared first (`chains`); pint is asked only when they differ
("1 foot = 12 inches", "2.5 km = 2500 m"), so a loose unit never makes a right calculation wrong.
"""

from __future__ import annotations

import functools
from fractions import Fraction

from .. import units
from ..tokens import Token
from . import Claim
from .expressions import rounds_to

# Words pint reads as units that in prose are mostly something else ("a" is a year, "in" an inch).
_PINT_STOP = {"a", "an", "in", "s", "t", "at", "b", "c", "d", "k", "p", "y", "am", "pm", "are", "point", "points"}
_FACT_LINKS = {"in", "per", "is", "are", "equals", "has", "have", "contains", "make", "makes"}
_ONE = {"a", "an", "one", "each", "every"}


def facts(step: int, tokens: list[Token]) -> list[tuple[Claim, range]]:
    """Unit facts, confirmed with pint: "there are 12 inches in a foot", "1 foot is equal to 12 inches",
    "60 minutes per hour". A fact pint rounds differently ("4 weeks in a month") holds when it is pint's
    value rounded to the places written; another one is left unchecked, never called false."""
    out = []
    for k, tok in enumerate(tokens):
        if tok.kind != "num" or k + 2 >= len(tokens) or tokens[k + 1].kind != "word":
            continue
        unit_a = unit_of(("num", tok, tokens[k + 1].text))
        j = k + 2
        words_between = []
        while j < len(tokens) and (tokens[j].kind == "word" and tokens[j].text in _FACT_LINKS | _ONE | {"equal", "to"}
                                   or (words_between and tokens[j].kind == "num" and tokens[j].value == 1 and
                                       words_between[-1] in ("in", "per") and tokens[j + 1:j + 2] and
                                       tokens[j + 1].kind == "word")):
            words_between.append("one" if tokens[j].kind == "num" else tokens[j].text)  # "60 minutes in 1 hour"
            j += 1
        if unit_a is None or not words_between or j >= len(tokens):
            continue
        if tokens[j].kind == "num" and j + 1 < len(tokens) and tokens[j + 1].kind == "word" and \
                words_between[0] in ("is", "are", "equals", "has", "have", "contains", "make", "makes"):
            n, unit_n, one, unit_one, end = tokens[j].value, unit_of(("num", tokens[j], tokens[j + 1].text)), \
                tok.value, unit_a, j + 2  # "1 foot is equal to 12 inches", "1 hour has 60 minutes"
        elif tokens[j].kind == "word" and words_between[0] in ("in", "per") and \
                all(w in _ONE for w in words_between[1:]):
            n, unit_n, one, unit_one, end = tok.value, unit_a, Fraction(1), unit_of(("num", tok, tokens[j].text)), j + 1
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
        if not rounds_to(exact, n, places):
            continue  # "3 hours in a day" is a count, not a unit fact
        text = " ".join(t.raw or t.text for t in tokens[k:end])
        out.append((Claim(step, text, "unit fact", holds=True, values=[n, one], result=str(n)), range(k, end)))
    return out


def unit_of(node: tuple):
    """The pint unit of a number or bracket's unit text ("inches", "days/week"), or None."""
    text = node[2] if node[0] in ("num", "unit") else ""
    if not text or any(w in _PINT_STOP for w in text.replace("/", " ").split()):
        return None
    return units.parse_unit(text)


def quantity(node: tuple):
    """An expression as a pint quantity (its numbers with their units; plain numbers dimensionless)."""
    kind = node[0]
    if kind == "num":
        value = float(node[1].value / 100 if node[1].percent else node[1].value)
        unit = unit_of(node)
        return units.registry().Quantity(value, unit) if unit is not None else units.registry().Quantity(value)
    if kind == "unit":
        inner, unit = quantity(node[1]), unit_of(node)
        return inner * unit if unit is not None else inner
    if kind == "neg":
        return -quantity(node[1])
    a, b = quantity(node[1]), quantity(node[2])
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "^": lambda: a ** b.magnitude}[kind]()


def converts(a: tuple, b: tuple, shown: Token) -> bool | None:
    """Whether pint says expression `a`, with its units, is the number `b` (`shown`) in b's unit; None when
    they carry no units to convert ("10 feet = 400 feet" converts nothing)."""
    if (unit_b := unit_of(b)) is None or (a[0] == "num" and unit_of(a) == unit_b):
        return None
    try:
        q = quantity(a)
        if q.dimensionless:
            return None
        exact = Fraction(repr(float(q.to(unit_b).magnitude)))
    except Exception:  # noqa: BLE001 - pint raises many types on odd units; no unit reading, no verdict
        return None
    return rounds_to(exact, shown.value, shown.places, shown.truncated) or \
        abs(exact - shown.value) <= abs(shown.value) * Fraction(1, 10**9)


# The everyday units a question's units convert to: "a one-pound steak" lets a step use 16 (ounces).
_COMMON_UNITS = ("second", "minute", "hour", "day", "week", "month", "year", "inch", "foot", "yard", "mile",
                 "ounce", "pound", "cup", "pint", "quart", "gallon", "centimeter", "meter", "kilometer", "gram",
                 "kilogram", "milliliter", "liter")
# Coins and money, which pint does not know: the cents (and dollars) a word stands for.
_MONEY = {"quarter": (25, Fraction(1, 4)), "dime": (10, Fraction(1, 10)), "nickel": (5, Fraction(1, 20)),
          "penny": (1, Fraction(1, 100)), "pennies": (1, Fraction(1, 100)), "cent": (100, Fraction(1, 100)),
          "dollar": (100, Fraction(1, 100))}


def unit_factors(tokens: list[Token]) -> set[Fraction]:
    """The conversion factors between the units a question names and the everyday units of the same kind,
    as pint gives them (whole, or within 1% of whole: 52 weeks a year, 365 days): unit facts a step may use
    without stating them ("1 * 16 = 16 ounces" for a one-pound steak, "4 * 3600 = 14400" for four hours)."""
    factors: set[Fraction] = set()
    named = set()
    for k, tok in enumerate(tokens):  # a unit follows a number or "a"/"per" ("a one-pound steak", "per hour")
        if tok.kind == "word" and any(t.kind == "num" or t.text in _ONE | {"per"} for t in tokens[max(k - 2, 0):k]):
            word = tok.text.split("-")[-1]
            named.add(word[:-1] if word.endswith("s") and word[:-1] in _MONEY else word)
    named -= _PINT_STOP
    for word in named:
        factors.update(Fraction(v) for v in _MONEY[word]) if word in _MONEY else factors.update(_factors(word))
    return factors


@functools.lru_cache(maxsize=4096)
def _factors(word: str) -> frozenset[Fraction]:
    unit = units.parse_unit(word) if word.isalpha() and 2 < len(word) <= 20 else None
    if unit is None:
        return frozenset()
    found = set()
    for common in _COMMON_UNITS:
        try:
            both_ways = [units.registry().Quantity(1, unit).to(common).magnitude,
                         units.registry().Quantity(1, common).to(unit).magnitude]
        except Exception:  # noqa: BLE001 - another dimension: no factor
            continue
        found.update(Fraction(round(f)) for f in both_ways if f >= 1 and abs(f - round(f)) <= 0.01 * f)
    return frozenset(found)


def mixed_sum(node: tuple) -> bool:
    """Whether an expression adds or subtracts numbers in different units of one kind ("10 feet + 12 inches"),
    where agreeing magnitudes prove nothing."""
    if node[0] in ("+", "-"):
        units_here = [unit_of(side) for side in node[1:] if side[0] in ("num", "unit")]
        if len(units_here) == 2 and None not in units_here and units_here[0] != units_here[1]:
            try:
                return units.registry().Quantity(1, units_here[0]).is_compatible_with(units_here[1])
            except Exception:  # noqa: BLE001 - pint on odd units: no verdict, no mix
                return False
    return any(mixed_sum(child) for child in node[1:] if isinstance(child, tuple) and child[0] != "num")
