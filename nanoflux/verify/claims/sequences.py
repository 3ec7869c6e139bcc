"""Genomics claims stated in a step, recomputed with the genomics tool's own functions.

"The reverse complement of ATGC is GCAT", "the GC content of ATGCGC is 66.7%" and Hardy-Weinberg
frequencies ("p = 0.6, so 2pq = 0.48", "q^2 = 0.16") are recomputed as the judge's tool does.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .. import genomics
from ..numeric import numbers_agree, parse_number
from . import Claim

_SEQ = r"(?:5'-?\s*)?([ACGTUacgtu]{2,})(?:\s*-?3')?"
_REVCOMP = re.compile(rf"reverse[- ]complement\s+(?:of\s+)?{_SEQ}\s*(?:is|=|:|->|→)\s*{_SEQ}", re.I)
_GC = re.compile(rf"GC[- ]content\s+(?:of\s+)?{_SEQ}\s*(?:is|=|:)\s*(\d+(?:\.\d+)?\s*%?)", re.I)
_HW_P = re.compile(r"(?<![A-Za-z])p\s*=\s*(0?\.\d+|[01])(?![\d.])")
_HW_CLAIM = re.compile(
    r"(?<![A-Za-z])(2\s*pq|p\s*(?:\^\s*2|²)|q\s*(?:\^\s*2|²)|q)\s*=\s*(?:[^=]*=\s*)?(0?\.\d+|[01])\s*$")
_HW_KEYS = {"2pq": "Aa", "p^2": "AA", "p²": "AA", "q^2": "aa", "q²": "aa", "q": "q"}


def read(step: int, clause: str, allele_p: Fraction | None) -> Claim | None:
    """A reverse-complement, GC-content or Hardy-Weinberg claim (given p stated earlier), else None."""
    if m := _REVCOMP.search(clause):
        computed = genomics.reverse_complement(m.group(1))
        return Claim(step, clause, "genomics", holds=computed == m.group(2).upper(), values=[m.group(2).upper()],
                     result=m.group(2).upper(), operands=[m.group(1).upper()])
    if m := _GC.search(clause):
        stated = parse_number(m.group(2))
        value = stated.value / 100 if stated.percent or stated.value > 1 else stated.value
        places = None if stated.places is None else stated.places + (2 if stated.percent or stated.value > 1 else 0)
        holds, _ = numbers_agree(Fraction(repr(genomics.gc_content(m.group(1)))), None, value, places,
                                 rel_tol=1e-9, abs_tol=0)
        return Claim(step, clause, "genomics", holds=holds, values=[value if stated.percent else stated.value],
                     result=m.group(2),
                     operands=[m.group(1).upper()])
    if allele_p is not None and (m := _HW_CLAIM.search(clause)):
        key = _HW_KEYS["".join(m.group(1).split())]
        stated = parse_number(m.group(2))
        computed = Fraction(repr(genomics.hardy_weinberg(float(allele_p))[key]))
        holds, _ = numbers_agree(computed, None, stated.value, stated.places, rel_tol=1e-9, abs_tol=0)
        return Claim(step, clause, "hardy-weinberg", holds=holds, values=[stated.value], result=m.group(2))
    return None


def allele_frequency(clause: str) -> Fraction | None:
    """The allele frequency p a clause states ("p = 0.6"), or None."""
    m = _HW_P.search(clause)
    return parse_number(m.group(1)).value if m else None
