"""Plain numbers as people and models write them, compared without sympy.

Most answers are numbers, so this fast path decides them in-process; only when a side is not a
plain number does the comparison go to the sympy worker (which reuses `numbers_agree`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .limits import MAX_EXPONENT, MAX_NUMBER_DIGITS

# Relative error a rounded decimal may have against an exact value: 3.14 stands for pi, 0.3 does not
# stand for 1/3. Three significant figures is the least a reference or a model rounds to in practice.
ROUNDING_REL_TOL = 1e-3


@dataclass(frozen=True)
class Number:
    """An exactly parsed number: `value`, the decimal places written (None when not written as a
    decimal, e.g. an integer or a fraction), and whether it carried a percent sign."""

    value: Fraction
    places: int | None = None
    percent: bool = False


_SIGN = r"[-+−]?"
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DEC = rf"(?:{_INT}(?:\.\d*)?|\.\d+)"
_EXP = r"(?:[eE]([-+]?\d{1,4})|\s*(?:\\times|\\cdot|×|x|\*)\s*10\s*(?:\^|\*\*)\s*\{?\s*([-+−]?\d{1,4})\s*\}?)"
_DECIMAL_RE = re.compile(rf"({_SIGN})({_DEC})({_EXP})?")
_FRACTION_RE = re.compile(
    rf"({_SIGN})\s*(?:\\[dt]?frac\s*\{{\s*(\d+)\s*\}}\s*\{{\s*(\d+)\s*\}}|\\[dt]?frac(\d)(\d)|(\d+)\s*/\s*(\d+))"
)
_MIXED_RE = re.compile(r"([-+−]?)(\d+)\s*(?:\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|\s(\d+)\s*/\s*(\d+))")
# Searched in text already stripped at the end: no leading \s*, which would rescan a run of spaces from each start.
_PERCENT_RE = re.compile(r"(?:\\?%|\\text\{\s*percent\s*\}|percent|per\s+cent|pct\.?)$", re.I)
_EXACT_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+]?\d{1,6}))?|[-+]?\d+/\d+")
_WRAPPERS_RE = re.compile(r"^\\\$|^\$|\\,|\{,\}|\\!|\\ |\s(?=\d{3}\b)")


def parse_number(text: str) -> Number | None:
    """Parse one plain number (integer, thousands separators, decimal, scientific, fraction, mixed
    number, percentage, with optional LaTeX spellings); None if `text` is anything else."""
    if len(text) > 2 * MAX_NUMBER_DIGITS or sum(ch.isdigit() for ch in text) > MAX_NUMBER_DIGITS:
        return None
    s, percent = _split_percent(text)
    s = _WRAPPERS_RE.sub("", s).strip()
    if m := _FRACTION_RE.fullmatch(s):
        num, den = (int(g) for g in m.groups()[1:] if g is not None)
        if den == 0:
            return None
        return Number(_signed(m.group(1), Fraction(num, den)), None, percent)
    if m := _MIXED_RE.fullmatch(s):
        whole, num, den = (int(g) for g in m.groups()[1:] if g is not None)
        if den == 0 or num >= den:
            return None
        return Number(_signed(m.group(1), whole + Fraction(num, den)), None, percent)
    if m := _DECIMAL_RE.fullmatch(s):
        sign, digits, exponent_part = m.group(1), m.group(2).replace(",", ""), m.group(3)
        places = len(digits.partition(".")[2]) if "." in digits else None
        value = Fraction(digits.rstrip(".") or "0")
        if exponent_part:
            exp = int((m.group(4) or m.group(5)).replace("−", "-"))
            if abs(exp) > MAX_EXPONENT:
                return None
            value *= Fraction(10) ** exp
            places = None if places is None else max(places - exp, 0)
        return Number(_signed(sign, value), places, percent)
    return None


def _signed(sign: str, value: Fraction) -> Fraction:
    return -value if sign in ("-", "−") else value


def numbers_agree(a: Fraction, a_places: int | None, b: Fraction, b_places: int | None,
                  *, rel_tol: float, abs_tol: float) -> tuple[bool, str]:
    """Whether two values are the same answer, and how that was decided.

    Equal values match; so do values within the caller's tolerances. A rounded decimal matches a
    value it is the rounding of (to its own number of places) when it keeps about three significant
    figures: `0.333` and `1/3`, `3.1416` and `3.14159`, but not `0.3` and `1/3`.
    """
    if a == b:
        return True, "equal"
    diff, scale = abs(a - b), max(abs(a), abs(b))
    if diff <= max(Fraction(rel_tol) * scale, Fraction(abs_tol)):
        return True, f"within tolerance (rel_tol={rel_tol}, abs_tol={abs_tol})"
    rounded = [p for p in (a_places, b_places) if p is not None]
    if rounded:
        places = min(rounded)
        half_unit = Fraction(1, 2 * 10**places) if places >= 0 else Fraction(10 ** -places, 2)
        if diff <= half_unit and diff <= Fraction(ROUNDING_REL_TOL) * scale:
            return True, f"equal when rounded to {places} decimal places"
    return False, "different values"


def compare_numbers(pred: Number, ref: Number, *, rel_tol: float, abs_tol: float) -> tuple[bool | None, str]:
    """Compare parsed numbers: (True, how) when equal, (False, how) when different, (None, why) when undecidable.

    A percentage equals only a percentage. Against a plain number it is undecidable when one reading
    of the percent sign agrees (45% vs 45 or vs 0.45: the factor of 100 is the question's to settle)
    and different when neither does (45% vs 4.5).
    """
    if pred.percent == ref.percent:
        return numbers_agree(pred.value, pred.places, ref.value, ref.places, rel_tol=rel_tol, abs_tol=abs_tol)
    pct, other = (pred, ref) if pred.percent else (ref, pred)
    scaled_places = None if pct.places is None else pct.places + 2
    for value, places in ((pct.value, pct.places), (pct.value / 100, scaled_places)):
        if numbers_agree(value, places, other.value, other.places, rel_tol=rel_tol, abs_tol=abs_tol)[0]:
            reading = "p" if value == pct.value else "p/100"
            return None, (f"a percentage against a plain number: they agree only if the percent sign is read as "
                          f"{reading}, which only the question settles")
    return False, "different values, whether or not the percent sign scales by 100"


def is_percentage(text: str) -> bool:
    """Whether an answer ends in a percent sign or the word "percent" ("45%", "45\\%", "\\frac{\\pi}{4}\\%")."""
    return _split_percent(text)[1]


def strip_percent(text: str) -> str:
    """`text` without its trailing percent sign or word."""
    body, percent = _split_percent(text)
    return body if percent else text


def _split_percent(text: str) -> tuple[str, bool]:
    """`text` stripped (and of a final period), without a trailing percent sign or word, and whether it had one."""
    s = text.strip().rstrip(".").strip()
    m = _PERCENT_RE.search(s)
    body = s[:m.start()].rstrip() if m else s
    return (body.strip(), True) if m and "\n" not in body else (s, False)  # one line, as "^(.*?)%$" read it


def exact_value(text: str) -> Fraction | None:
    """`Fraction(text)` for a decimal, scientific or a/b number within the digit and exponent caps, else None:
    the sympy worker may print "1.0e+1000000000", which `Fraction` would expand in the caller for hours."""
    s = text.strip()
    m = _EXACT_RE.fullmatch(s)
    if not m or sum(ch.isdigit() for ch in s) > MAX_NUMBER_DIGITS or abs(int(m.group(1) or 0)) > MAX_EXPONENT:
        return None
    try:
        return Fraction(s)
    except ZeroDivisionError:
        return None

