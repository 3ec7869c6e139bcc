"""Levels L1..L5 come from the weighted score at the documented boundaries."""

import pytest

from nanoflux.curation.quality import Band, level_for, level_name
from nanoflux.errors import NanofluxError


@pytest.mark.parametrize(("score", "level"), [
    (1.0, 1), (1.49, 1), (1.5, 2), (2.49, 2), (2.5, 3), (3.49, 3), (3.5, 4), (4.49, 4), (4.5, 5), (5.0, 5),
    (0.2, 1), (7.0, 5),
])
def test_level_boundaries(score: float, level: int) -> None:
    assert level_for(score) == level
    assert level_name(score) == f"L{level}"


def test_a_level_range_band_lists_its_levels() -> None:
    assert Band.parse("L3-L5").levels() == [3, 4, 5]
    assert Band.parse("3.5-4.49").levels() == [4]


@pytest.mark.parametrize("text", ["L5-L3", "6-7", "L0", "best", "4.5-3.5"])
def test_malformed_bands_are_rejected(text: str) -> None:
    with pytest.raises(NanofluxError):
        Band.parse(text)
