"""Reasoning-quality levels and bands: the one place a judge score becomes a level.

A weighted rubric score on the 1-5 scale maps to five levels:
L1 < 1.5, L2 1.5-2.49, L3 2.5-3.49, L4 3.5-4.49, L5 >= 4.5.
A band selects scores by level ("L4", "L3-L5") or by a score range ("3.5-4.49").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nanoflux.errors import NanofluxError

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
                raise NanofluxError(f"quality band {text!r} runs backwards; write the lower level first, e.g. L3-L5")
            high = SCORE_MAX if last == 5 else LEVEL_FLOORS[last + 1] - 0.01
            return cls(LEVEL_FLOORS[first], high, cleaned.upper())
        if match := _SCORE_RANGE.match(cleaned):
            low, high = float(match.group(1)), float(match.group(2))
            if not SCORE_MIN <= low <= high <= SCORE_MAX:
                raise NanofluxError(f"quality band {text!r} must be an increasing score range inside 1-5, e.g. 3.5-4.49")
            return cls(low, high, cleaned)
        raise NanofluxError(f"quality band {text!r} is not a band; write a level (L4), a level range (L3-L5) or a score range (3.5-4.49)")

    def contains(self, score: float) -> bool:
        # Scores are rounded to the rubric's two decimals so that 4.49 sits inside "L4".
        return self.low <= round(score, 2) <= self.high

    def levels(self) -> list[int]:
        """The levels this band touches, for coverage-aware selection and plots."""
        return [lvl for lvl in LEVEL_FLOORS if level_for(self.low) <= lvl <= level_for(self.high)]

    def __str__(self) -> str:
        return self.text
