"""Levels L1..L5 come from the weighted score at the documented boundaries; complexity bands from counts."""

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.base.scoring import Band, Complexity, Span, complexity_of, level_for, level_name
from tests.support.records import make_record


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


@pytest.mark.parametrize(("text", "inside", "outside"), [
    ("2-4", [2, 3, 4], [1, 5]), ("3", [3], [2, 4]), ("3+", [3, 4, 20], [2]), (" 2 - 4 ", [2, 4], [5]), (3, [3], [4]),
])
def test_a_span_contains_exactly_the_counts_it_names(text: str, inside: list[int], outside: list[int]) -> None:
    span = Span.parse(text)
    assert all(span.contains(n) for n in inside)
    assert not any(span.contains(n) for n in outside)


@pytest.mark.parametrize("text", ["4-2", "two", "2-", "-3", "2.5", ""])
def test_malformed_spans_are_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(NanofluxError, match=r"hops range .* write N-M"):
        Span.parse(text, what="hops")


def test_complexity_measures_hops_solution_steps_and_words() -> None:
    record = make_record(0, hops=3, question="How many apples are left?", steps=["5 - 2 = 3", "3 apples"])
    assert complexity_of(record) == {"hops": 3, "steps": 2, "length": 5 + 5 + 2}


def test_a_complexity_band_keeps_a_round_only_when_every_named_range_holds() -> None:
    record = make_record(0, hops=3, steps=["a", "b", "c"])
    assert Complexity().contains(record)
    assert Complexity.parse(hops="2-4", steps="3").contains(record)
    assert not Complexity.parse(hops="4+").contains(record)
    assert not Complexity.parse(hops="3", steps="1-2").contains(record)
    assert Complexity.parse(hops="3", length="200+").to_dict() == {"hops": "3", "steps": None, "length": "200+"}
