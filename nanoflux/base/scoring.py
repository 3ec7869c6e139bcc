"""Reasoning-quality levels and bands: the one place a judge score becomes a level.

A weighted rubric score on the 1-5 scale maps to five levels:
L1 < 1.5, L2 1.5-2.49, L3 2.5-3.49, L4 3.5-4.49, L5 >= 4.5.
A band selects scores by level ("L4", "L3-L5") or by a score range ("3.5-4.49").
A complexity band selects rounds by hops, solution steps and length ("2-4", "3", "3+" each):
the best complexity differs by domain, so it is chosen alongside the quality band.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nanoflux.base.errors import NanofluxError, quoted

# Lower bound of each level's score range; a score belongs to the highest level whose bound it reaches.
LEVEL_FLOORS: dict[int, float] = {1: 1.0, 2: 1.5, 3: 2.5, 4: 3.5, 5: 4.5}
SCORE_MIN, SCORE_MAX = 1.0, 5.0


def level_for(score: float) -> int:
    """The level (1..5) of a weighted rubric score; scores outside 1..5 are clamped."""
    score = min(max(score, SCORE_MIN), SCORE_MAX)
    return max(level for level, floor in LEVEL_FLOORS.items() if score >= floor)


def level_name(score: float) -> str:
    """"L4" for 3.5 <= score < 4.5, and so on."""
    return f"L{level_for(score)}"


_LEVEL_RANGE = re.compile(r"^L([1-5])(?:\s*-\s*L([1-5]))?$", re.IGNORECASE)
_SCORE_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Band:
    """An inclusive band of rubric scores, written "L4", "L3-L5" or "3.5-4.49"."""

    low: float
    high: float
    text: str

    @classmethod
    def parse(cls, text: str) -> Band:
        """Parse a band; raises NanofluxError with the accepted forms when it is malformed."""
        cleaned = str(text).strip()
        if match := _LEVEL_RANGE.match(cleaned):
            first = int(match.group(1))
            last = int(match.group(2) or first)
            if last < first:
                raise NanofluxError(f"quality band {quoted(text)} runs backwards; write the lower level first, "
                                    "e.g. L3-L5")
            high = SCORE_MAX if last == 5 else LEVEL_FLOORS[last + 1] - 0.01
            return cls(LEVEL_FLOORS[first], high, cleaned.upper())
        if match := _SCORE_RANGE.match(cleaned):
            low, high = float(match.group(1)), float(match.group(2))
            if not SCORE_MIN <= low <= high <= SCORE_MAX:
                raise NanofluxError(f"quality band {quoted(text)} must be an increasing score range inside 1-5, "
                                    "e.g. 3.5-4.49")
            return cls(low, high, cleaned)
        raise NanofluxError(f"quality band {quoted(text)} is not a band; write a level (L4), a level range (L3-L5) "
                            "or a score range (3.5-4.49)")

    def contains(self, score: float) -> bool:
        # Scores are rounded to the rubric's two decimals so that 4.49 sits inside "L4".
        return self.low <= round(score, 2) <= self.high

    def levels(self) -> list[int]:
        """The levels this band touches, for coverage-aware selection and plots."""
        return [lvl for lvl in LEVEL_FLOORS if level_for(self.low) <= lvl <= level_for(self.high)]

    def __str__(self) -> str:
        return self.text


_SPAN = re.compile(r"^(\d+)\s*(?:(-)\s*(\d+)|(\+))?$")


@dataclass(frozen=True)
class Span:
    """An inclusive range of counts, written "2-4", "3" or "3+" (3 or more); ``high`` None = no upper bound."""

    low: int
    high: int | None
    text: str

    @classmethod
    def parse(cls, text: str | int, *, what: str = "hops") -> Span:
        """Parse a range; ``what`` names the option in the error, which lists the accepted forms."""
        cleaned = str(text).strip()
        match = _SPAN.match(cleaned)
        if not match or (match.group(2) and int(match.group(3)) < int(match.group(1))):
            raise NanofluxError(f"{what} range {quoted(text)} is not a range; write N-M with N <= M (2-4), N (3) "
                                "or N+ (3+)")
        low = int(match.group(1))
        high = None if match.group(4) else int(match.group(3) or low)
        return cls(low, high, cleaned.replace(" ", ""))

    def contains(self, value: int) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        return self.text


def complexity_of(record: Mapping[str, Any]) -> dict[str, int]:
    """A round's complexity measures: hops asked for, solution steps written, and length in words
    (question plus solution steps: what a trained model reads and writes)."""
    steps = record.get("solution_steps") or []
    return {"hops": int(record["hops"]), "steps": len(steps),
            "length": len(record.get("question", "").split()) + sum(len(step.split()) for step in steps)}


@dataclass(frozen=True)
class Complexity:
    """A complexity band: the ranges a round's hops, solution steps and length must fall in (None = any)."""

    hops: Span | None = None
    steps: Span | None = None
    length: Span | None = None

    @classmethod
    def parse(cls, *, hops: str | int | None = None, steps: str | int | None = None,
              length: str | int | None = None) -> Complexity:
        return cls(*(None if text is None else Span.parse(text, what=name)
                     for name, text in (("hops", hops), ("steps", steps), ("length", length))))

    def contains(self, record: Mapping[str, Any]) -> bool:
        measures = complexity_of(record)
        return all(span is None or span.contains(measures[name]) for name, span in self.spans().items())

    def spans(self) -> dict[str, Span | None]:
        return {"hops": self.hops, "steps": self.steps, "length": self.length}

    def to_dict(self) -> dict[str, str | None]:
        """The ranges as the user wrote them, for manifests."""
        return {name: None if span is None else str(span) for name, span in self.spans().items()}
