"""Unit conversions and doses stated in a step, recomputed with the units tool's own functions.

"2.5 km = 2500 m" is converted with pint; "5 mg/kg × 70 kg = 350 mg" with `weight_based_dose`,
"350 mg / 50 mg/mL = 7 mL" with `volume_for_dose`, as the judge's `units` tool computes them.
"""

from __future__ import annotations

import re
from fractions import Fraction

from nanoflux.base.errors import NanofluxError

from .. import units
from ..numeric import numbers_agree, parse_number
from . import Claim

_PRODUCT = re.compile(r"^(.+?)\s*(?:×|\*|x|times|\\times|\\cdot)\s*(.+)$")
_QUOTIENT = re.compile(r"^(.+?)\s*(?:/|÷|divided by|\\div)\s+(.+)$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LEAD = re.compile(r"^(?:[A-Za-z][A-Za-z ]{0,40}:\s*|[A-Za-z][A-Za-z ]{0,40}\s+(?=\d))")


def read(step: int, clause: str) -> Claim | None:
    """A unit claim "Q1 = Q2", "Q1 × Q2 = Q3" or "Q1 / Q2 = Q3" whose quantities all carry units; else None."""
    sides = [side.strip() for side in clause.split("=")]
    if len(sides) != 2:
        return None
    left, right = _LEAD.sub("", sides[0]).strip(), sides[1].rstrip(".").strip()
    stated = units.parse_quantity(right)
    if stated is None:
        return None
    unit_text = right[len(stated[0]):].strip()
    expected = parse_number(stated[0]).value
    try:
        if units.parse_quantity(left):
            number, unit = units.parse_quantity(left)
            computed = units.convert_units(float(parse_number(number).value), str(unit), str(stated[1]))
        elif (m := _PRODUCT.match(left)) and units.parse_quantity(m.group(1)) and units.parse_quantity(m.group(2)):
            computed = units.weight_based_dose(m.group(1), m.group(2), unit_text)
        elif (m := _QUOTIENT.match(left)) and units.parse_quantity(m.group(1)) and units.parse_quantity(m.group(2)):
            computed = units.volume_for_dose(m.group(1), m.group(2), unit_text)
        else:
            return None
    except NanofluxError:  # the dimensions differ: "5 mg/kg × 70 kg = 350 mL" does not hold
        return Claim(step, clause, "units", holds=False, result=right)
    places = parse_number(stated[0]).places
    value = Fraction(repr(computed))
    holds, _ = numbers_agree(value, None, expected, places, rel_tol=1e-9, abs_tol=0)
    return Claim(step, clause, "units", holds=holds, values=[expected], result=right,
                 operands=_NUMBER.findall(left))
