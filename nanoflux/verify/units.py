"""Physical quantities with pint: answers with units, conversions and dose arithmetic.

Medical and physics questions hinge on units ("5 mg/kg" is "0.005 g/kg"; a 70 kg patient at
5 mg/kg gets 350 mg). Magnitudes are parsed by our number parser and only the unit text goes to
pint, with a whitelist that keeps pint's expression evaluator away from `10**10**10`-style input:
pint computes the numbers in unit text exactly, in the caller, so a number there is only an exponent
of one or two digits (no chain, "m^9^9^9") or the 1 of "1/s", and a unit's powers stay small.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from fractions import Fraction

import pint

from nanoflux.base.errors import NanofluxError

from .limits import MAX_UNIT_CHARS, MAX_UNIT_POWER
from .numeric import Number, parse_number

_UNIT_TEXT = re.compile(rf"^[A-Za-zµμ°Ω%/*·^()\s.\-0-9_]{{1,{MAX_UNIT_CHARS}}}$")
# An exponent pint may read: one or two digits (a decimal one: "m^0.5"), not raised again ("m^9^9").
_EXPONENT = re.compile(r"\^\s*(?:[-+]\s*)?\d{1,2}(?:\.\d{1,2})?(?![\d.])(?!\s*\^)")
_LONE_ONE = re.compile(r"(?<![\w.])1(?![\w.])")  # "1/s": the only number pint keeps in a unit
_QUANTITY = re.compile(r"^(.*?\d\.?)\s*((?:per\s+)?[A-Za-zµμ°Ω%][A-Za-zµμ°Ω%/*·^()\s.\-0-9_]*)$")
_LATEX_UNIT = re.compile(r"\\(?:text|mathrm|rm|operatorname)\s*\{([^{}]*)\}|\\[,;:!]|\\ |~")
# Single letters that are far more often variables than units ("2 a" is 2a, not two years).
_VARIABLE_LETTERS = set("abcdefijknpqrtuvwxyz")


@functools.cache
def registry() -> pint.UnitRegistry:
    """The one pint registry (building one takes ~0.5 s), with the clinical units pint lacks."""
    ureg = pint.UnitRegistry()
    ureg.define("drop = 0.05 * milliliter = gtt")
    ureg.define("international_unit = [international_unit] = IU")
    return ureg


def parse_unit(text: str) -> pint.Unit | None:
    """A pint unit for short unit text ("mg/kg", "mL/h", "m/s^2"), or None if it is not one."""
    text = text.strip().replace("·", "*").replace("per ", "/ ")
    if not _UNIT_TEXT.match(text) or "**" in text.replace("**-", "^"):
        return None
    rest = _LONE_ONE.sub("", _EXPONENT.sub("", text))
    if "^" in rest or re.search(r"\d", rest):  # a number pint would compute: 9^9^9, 9.9^99, (2^9)^9
        return None
    try:
        unit = registry().parse_units(text)
    except Exception:  # noqa: BLE001 - pint raises many types on odd text ("m/0", "feet / 1 yard)"): no unit
        return None
    powers = registry().Quantity(1, unit).unit_items()
    return unit if all(abs(power) <= MAX_UNIT_POWER for _, power in powers) else None


def plain_unit_text(text: str) -> str:
    """`text` with LaTeX unit wrappers and spacing commands removed: "5\\,\\text{jars}" -> "5 jars"."""
    return " ".join(_LATEX_UNIT.sub(lambda m: f" {m.group(1)} " if m.group(1) else " ", text).split()).rstrip(".")


def parse_quantity(text: str) -> tuple[str, pint.Unit] | None:
    """Split an answer like "5 mg/kg" or "2.5\\,\\text{mL}" into (number text, unit); None if no unit."""
    s = plain_unit_text(text)
    m = _QUANTITY.match(s)
    if not m or parse_number(m.group(1)) is None:
        return None
    unit_text = m.group(2).strip()
    # Plain numbers: percentages ("5 pct" is no picocarat), and 2 pi is 2π.
    if unit_text in _VARIABLE_LETTERS or unit_text.lower() in ("%", "percent", "per cent", "pct", "pct.", "pi"):
        return None
    unit = parse_unit(unit_text)
    if unit is not None and re.fullmatch(r"a[a-z]{1,2}", unit_text) and str(unit).startswith("atto"):
        return None  # "2ab" and "2ac" are products of variables, not 2 attobarn or 2 atto-speed-of-light
    return (m.group(1).strip(), unit) if unit is not None else None


def to_unit(value: Fraction, unit: pint.Unit, target: pint.Unit) -> Fraction | None:
    """`value` `unit` expressed in `target`, or None when the dimensions differ; a ValueError when the
    value is past what a float holds (10^400 mg, or its conversion)."""
    try:
        converted = float(registry().Quantity(float(value), unit).to(target).magnitude)
    except pint.errors.DimensionalityError:
        return None
    except (OverflowError, ZeroDivisionError) as exc:
        raise ValueError(f"the conversion overflows: {exc}") from None
    if not math.isfinite(converted):
        raise ValueError(f"the conversion overflows ({converted})")
    return Fraction(repr(converted))


def _quantity(text: str, what: str) -> pint.Quantity:
    parsed = parse_quantity(text)
    if parsed is None:
        raise NanofluxError(f"{what} {text!r} is not a number with a unit (e.g. '5 mg/kg')")
    number: Number = parse_number(parsed[0])
    if abs(number.value) > 10**300:
        raise NanofluxError(f"{what} {text!r} is too large to compute with")
    return registry().Quantity(float(number.value), parsed[1])


def _magnitude_in(compute: Callable[[], pint.Quantity], unit: str) -> float:
    """The magnitude in `unit` of what `compute` returns; a NanofluxError saying why when there is none
    (different dimensions, a division by zero, a float overflow)."""
    target = parse_unit(unit)
    if target is None:
        raise NanofluxError(f"unknown unit {unit!r}")
    try:
        quantity = compute()
        try:
            magnitude = float(quantity.to(target).magnitude)
        except pint.errors.DimensionalityError:
            raise NanofluxError(f"cannot express {quantity:~P} in {unit}: the dimensions differ") from None
    except (ZeroDivisionError, OverflowError) as exc:
        raise NanofluxError(f"no finite value in {unit}: {type(exc).__name__}: {exc}") from None
    if not math.isfinite(magnitude):
        raise NanofluxError(f"no finite value in {unit}: {magnitude}")
    return magnitude


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a value between units, e.g. convert_units(5, "mg/kg", "g/kg") -> 0.005."""
    source = parse_unit(from_unit)
    if source is None:
        raise NanofluxError(f"unknown unit {from_unit!r}")
    return _magnitude_in(lambda: registry().Quantity(value, source), to_unit)


def weight_based_dose(dose_per_weight: str, body_weight: str, unit: str = "mg") -> float:
    """Total dose for a weight-based prescription, e.g. ("5 mg/kg", "70 kg") -> 350.0 mg."""
    return _magnitude_in(lambda: _quantity(dose_per_weight, "dose") * _quantity(body_weight, "body weight"), unit)


def infusion_rate(dose_rate: str, concentration: str, body_weight: str = "", unit: str = "mL/h") -> float:
    """Pump rate delivering a dose rate from a solution, e.g. ("5 ug/kg/min", "1600 ug/mL", "80 kg") -> 15 mL/h.

    Leave `body_weight` empty for dose rates that are not per kilogram ("2 mg/min").
    """
    def rate() -> pint.Quantity:
        per_weight = _quantity(dose_rate, "dose rate")
        dose = per_weight * _quantity(body_weight, "body weight") if body_weight else per_weight
        return dose / _quantity(concentration, "concentration")

    return _magnitude_in(rate, unit)


def volume_for_dose(dose: str, concentration: str, unit: str = "mL") -> float:
    """Volume of a solution that holds a dose, e.g. ("350 mg", "50 mg/mL") -> 7.0 mL."""
    return _magnitude_in(lambda: _quantity(dose, "dose") / _quantity(concentration, "concentration"), unit)
