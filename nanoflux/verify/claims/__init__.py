"""Readers that turn the claims solution steps are made of into something the tools recompute.

`chains` reads arithmetic wherever it stands in prose ("John drank 2 x 8 = 16 ounces of milk") with the
grammar of `expressions` over `tokens`, recomputed exactly in-process, and unit facts with pint (`facts`);
`phrases` rewrites words into arithmetic ("136 mod 9", "25% of 80", "C(5, 2)", "half of 40 is 20");
`quantities` recomputes unit conversions and doses with `units.py`; `sequences` recomputes genomics
claims with `genomics.py`; equations and the notation `chains` leaves alone (functions, factorials)
go to the sympy worker (see `reference.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass
class Claim:
    """One claim read from a step: `kind` says which reader read it.

    Arithmetic claims carry `parts` (each side; "arithmetic" ones are evaluated by sympy, "arithmetic
    (prose)" ones by `chains`, which sets `holds` itself); equations carry `equation`;
    in-process readers decide `holds` themselves and list the `values` the claim establishes.
    """

    step: int
    text: str
    kind: str
    parts: list[str] = field(default_factory=list)
    approximate: bool = False
    equation: str | None = None
    holds: bool | None = None
    values: list[Fraction | str] = field(default_factory=list)
    result: str = ""  # the value its last side states as written ("350 mg", "25%")
    operands: list[str] = field(default_factory=list)  # what it starts from, which the question must give
    why: str = "it could not be evaluated"  # when `holds` stays None
    computes: bool = True  # False for "42 = 42": a restatement establishes no value
