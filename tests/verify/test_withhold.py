"""Withholding an answer from a text: every form of it masked, other numbers left, and what is missed detected."""

import pytest

from nanoflux.verify.withhold import MASK, reveals, withhold


@pytest.mark.parametrize("form", ["42", "42.0", "42.00", "42 apples", "$42", "forty-two", "forty two", "-42",
                                  "4.2e1", "\\frac{84}{2}", "84/2", "42.000"])
def test_every_form_of_a_number_answer_is_withheld(form: str) -> None:
    text = f"The defender wrote 41, but the answer is {form}, as step 3 shows."
    masked = withhold(text, "42")
    assert MASK in masked and not reveals(masked, "42"), masked
    assert "41" in masked and "step 3" in masked, "other numbers stay"


@pytest.mark.parametrize("answer", ["42 apples", "42", "42.0"])
def test_an_answer_with_a_noun_or_decimals_is_read_as_its_value(answer: str) -> None:
    assert withhold("It is 42.00, so 420 and 142 are wrong.", answer) == f"It is {MASK}, so 420 and 142 are wrong."


def test_a_rounded_value_and_the_other_reading_of_a_percent_sign_give_the_answer_away() -> None:
    assert withhold("about 3.14, not 3.2", "3.14159") == f"about {MASK}, not 3.2"
    assert withhold("a quarter is 25% (1/4), not 0.5", "0.25") == f"{MASK} is {MASK} ({MASK}), not 0.5"


def test_a_word_answer_is_withheld_as_written_and_in_its_other_number() -> None:
    text = "The organelle is the Mitochondrion, not the nucleus; mitochondria make ATP."
    assert withhold(text, "mitochondria") == f"The organelle is the {MASK}, not the nucleus; {MASK} make ATP."
    assert withhold("Paris, not Lyon; PARIS.", "Paris") == f"{MASK}, not Lyon; {MASK}."


def test_a_form_withhold_does_not_mask_is_still_detected() -> None:
    assert withhold("a dozen eggs", "12") == "a dozen eggs"
    assert reveals("a dozen eggs", "12") and not reveals("a dozen eggs", "13")


def test_an_empty_answer_withholds_nothing() -> None:
    assert withhold("42", "  ") == "42" and not reveals("42", "")


@pytest.mark.parametrize(("text", "answer"), [
    ("three quarters", "0.75"), ("three-quarters", "3/4"), ("one half", "0.5"), ("two thirds", "2/3"),
    ("1 200", "1200"), ("1\u202f200", "1200"), ("1\u00a0200", "1,200"), ("1'200", "1200"),
    ("1.2 \\times 10^3", "1200"), ("4.2 × 10^1", "42"), ("10^6", "1000000"), ("1.2 thousand", "1200"),
    ("1.2k", "1200"), ("1 million", "1000000"), ("3M", "3000000"),
])
def test_fraction_words_grouped_thousands_powers_of_ten_and_scale_words_are_withheld(text: str, answer: str) -> None:
    masked = withhold(f"The right total is {text}, check it.", answer)
    assert masked == f"The right total is {MASK}, check it.", masked
    assert not reveals(masked, answer)


def test_those_forms_of_another_value_stay() -> None:
    text = "the third step, 10^2 items, 3M users, 1.2 m, 1 200 km and two thirds"
    assert withhold(text, "5") == text
    assert withhold("it is 1 200", "200") == f"it is 1 {MASK}", "the grouped reading does not hide the answer's own"
