"""English in answers: number words, count nouns and word forms, read without guessing."""

from fractions import Fraction

import pytest

from nanoflux.verify.words import english_words, is_count_noun, parse_number_words, same_words, word_forms

NUMBERS = {"zero": 0, "six": 6, "Nineteen": 19, "twenty-four": 24, "twenty four": 24, "one hundred and five": 105,
           "a hundred": 100, "fifteen hundred": 1500, "one thousand two hundred thirty-four": 1234,
           "three billion five million": 3_005_000_000, "2 million": 2_000_000, "1.5 billion": 1_500_000_000,
           "a dozen": 12, "two dozen": 24, "minus three": -3, "negative seven": -7, "first": 1, "twenty-first": 21,
           "ninetieth": 90, "twelfth": 12}
NOT_NUMBERS = ["", "five six", "twenty thirty", "thousand million", "hundred", "one and", "and", "the",
               "a third", "one third", "one hundredth", "seven samurai", "2", "2 apples", "six x"]


@pytest.mark.parametrize("text, value", NUMBERS.items())
def test_number_words_name_their_number(text, value):
    assert parse_number_words(text) == Fraction(value)


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_other_phrases_are_not_numbers(text):
    assert parse_number_words(text) is None


def test_a_count_noun_is_a_word_that_is_no_unit_number_or_math():
    def is_unit(word):
        return word in {"kg", "feet"}

    assert all(is_count_noun(t, is_unit) for t in ["jars", "glass jars", "ways", "people"])
    assert not any(is_count_noun(t, is_unit) for t in ["kg", "feet", "squared", "percent", "pi", "ab", "x",
                                                        "more than 5", "jars of jam please now", "hundred"])


def test_english_words_leave_latex_commands_and_math_names_out():
    assert english_words("\\sqrt{2} + sin(x) + twenty") == ["twenty"]
    assert english_words("2^{\\lfloor n/2 \\rfloor}") == []
    assert english_words("No") == ["No"] and english_words("2ab + xy") == []


def test_plurals_and_latin_endings_name_the_same_word():
    assert "mitochondrion" in word_forms("mitochondria") and "nucleus" in word_forms("nuclei")
    assert same_words(["autosomal", "genes"], ["autosomal", "gene"])
    assert same_words(["children"], ["child"]) and same_words(["indices"], ["index"])
    assert not same_words(["autosomal", "dominant"], ["autosomal", "recessive"])
    assert not same_words(["paris"], ["pari"])
