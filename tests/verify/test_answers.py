"""answers_match / check_answer: each answer form, matching and not, and every way to fail safely."""

import json
import threading
import time

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.verify import ANSWER_TYPES, AnswerCheck, answers_match, check_answer

EQUIVALENT = {
    "integers": [("252", "252"), ("1,234,567", "1234567"), ("1\\,000\\,000", "1000000"), ("-7", "−7")],
    "decimals": [("0.50", "0.5"), ("2.0", "2"), (".25", "0.25")],
    "fractions": [("3/4", "0.75"), ("\\frac{3}{4}", "3/4"), ("\\dfrac34", "0.75"), ("2\\frac{1}{2}", "5/2")],
    "rounded decimals": [("0.333", "1/3"), ("3.1416", "\\pi"), ("1.414", "\\sqrt{2}")],
    "percentages": [("45%", "45\\%"), ("45 percent", "45%"), ("12.5\\%", "12.50%"),
                    ("\\frac{\\pi}{4}\\%", "0.25\\pi\\%")],
    "scientific notation": [("1.2e-3", "0.0012"), ("1.2 \\times 10^{-3}", "0.0012"), ("3E5", "300,000"),
                            ("10^6", "1,000,000")],
    "latex": [("\\frac{a^3+2b}{3a}", "(2*b + a**3)/(3*a)"), ("\\sqrt{2}/2", "1/sqrt(2)"),
              ("\\binom{10}{5}", "252"), ("2^{\\lfloor n/2 \\rfloor}", "2^floor(n/2)"), ("2\\sqrt{3}", "\\sqrt{12}")],
    "plain expressions": [("(a^3+2b)/(3a)", "(2*b + a**3)/(3*a)"), ("(x+1)^2", "x^2 + 2x + 1"),
                          ("n(n+1)/2", "(n^2+n)/2"), ("sin(x)^2 + cos(x)^2", "1")],
    "combinatorics": [("C(10, 5)", "\\binom{10}{5}"), ("binom(10,5)", "252"), ("10!/(5!*5!)", "252")],
    "prose": [("The answer is 252.", "252"), ("So the final answer is $\\frac{1}{2}$.", "0.5"),
              ("I count 252 ways in total", "252"), ("#### 42", "42")],
    "boxed": [("\\boxed{252}", "252"), ("Thus $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "sqrt(3)/2")],
    "sets and lists": [("76 and 25", "{25, 76}"), ("\\{25, 76\\}", "25, 76"), ("x = 1 or x = 2", "\\{1, 2\\}"),
                       ("(1, 2)", "(1,2)")],
    "assignments": [("x = 5", "5"), ("y = 2x + 1", "2x+1")],
    "intervals": [("[2, \\infty)", "x \\ge 2")],
    "choices": [("(B)", "B"), ("B) 42", "B"), ("Answer: b", "B"), ("The answer is (C).", "C"), ("\\boxed{D}", "D")],
    "several options": [("B and C", "(B) and (C)"), ("C, B", "(B) and (C)"), ("A, C", "both A and C"),
                        ("A or C", "(A) or (C)"), ("either (A) or (C)", "A or C")],
    "the same bound, range or approximation": [("at least 17", "at least 17"), (">= 17", "at least 17"),
                                               ("seventeen or more", "at least 17"), ("\\le 5", "at most 5"),
                                               ("3-5", "between 3 and 5"), ("3 to 5 days", "3–5 days"),
                                               ("5-10%", "5 to 10 %"), ("approximately 17", "about 17"),
                                               ("~0.5", "≈ 1/2")],
    "units": [("5 mg/kg", "0.005 g/kg"), ("2.5 \\text{ mL}", "2500 uL"), ("1 h", "60 min"), ("350", "350 mg")],
    "text": [("The Mitochondria.", "mitochondria"), ("autosomal  recessive", "Autosomal recessive"),
             ("Paris", "paris"), ("The Seven Samurai", "Seven Samurai")],
    "number words": [("six", "6"), ("6", "six"), ("twenty-four", "24"), ("one hundred and five", "105"),
                     ("a hundred", "100"), ("Two thousand and twenty-four", "2024"), ("2 million", "2,000,000"),
                     ("minus three", "-3"), ("twenty-first", "21"), ("Six", "six"), ("two and five", "{2, 5}")],
    "count nouns": [("17 jars", "17"), ("17", "17 jars"), ("252 ways", "252"), ("12 people", "12"),
                    ("17\\text{ jars}", "17"), ("seventeen glass jars", "17"), ("17 jars", "17 boxes")],
    "units after number words": [("five milligrams", "0.005 g"), ("3 feet", "36 inches"), ("2 pi", "6.283")],
    "text in other words": [("The capital is Paris.", "Paris"), ("mitochondria", "the mitochondrion"),
                            ("nuclei", "nucleus"), ("Bacteria", "bacterium"), ("It is inherited as autosomal "
                                                                              "recessive.", "autosomal recessive")],
    "symbols, not words": [("a*b", "ab"), ("2ab", "2*a*b"), ("3ac", "3*a*c"), ("abc", "a*b*c")],
}
DIFFERENT = {
    "integers": [("253", "252"), ("1,234,568", "1234567"), ("10^100 + 1", "10^100"), ("2^{20000}", "2^{20000} - 1")],
    "decimals": [("0.51", "0.5"), ("251.9", "252")],
    "fractions": [("3/5", "0.75"), ("\\frac{4}{3}", "3/4")],
    "rounded decimals": [("0.3", "1/3"), ("3.1", "\\pi")],
    "percentages": [("46%", "0.45"), ("45%", "4.5"), ("0.5%", "50")],
    "scientific notation": [("1.2e-4", "0.0012")],
    "latex": [("\\frac{a^3+2b}{3b}", "(2*b + a**3)/(3*a)"), ("\\binom{10}{4}", "252"), ("\\sqrt{3}", "\\sqrt{2}")],
    "plain expressions": [("(x-1)^2", "x^2 + 2x + 1"), ("x + y", "x + z")],
    "combinatorics": [("C(10, 4)", "252")],
    "prose": [("The answer is 251.", "252")],
    "sets and lists": [("25 and 77", "{25, 76}"), ("25", "{25, 76}"), ("(2, 1)", "(1, 2)"), ("1, 2, 3", "{1, 2}")],
    "intervals": [("(2, \\infty)", "x \\ge 2")],
    "choices": [("(C)", "B"), ("Answer: a", "B"), ("(A) and (C)", "B")],
    "several options": [("D", "(B) and (C)"), ("B and D", "B, C"), ("A", "either B or C")],
    "bounds and ranges against a value outside them": [("at least 18", "17"), ("more than 17", "17"),
                                                        ("fewer than 17", "17"), ("3-5", "7"), ("3-5", "-2"),
                                                        ("16", "at least 17"),
                                                        ("There are 3 to 5 of them", "7")],
    "different bounds": [("at least 18", "at least 17"), ("3-6", "3-5"), ("5-10%", "5-15%")],
    "units": [("5 mg/kg", "0.05 g/kg"), ("5 kg", "5 m")],
    "number words": [("five", "6"), ("twenty-three", "24"), ("one hundred and four", "105"), ("seven", "six"),
                     ("two", "\\sqrt{2}")],
    "count nouns": [("12 jars", "17"), ("17", "16 apples"), ("sixteen apples", "17")],
    "symbols, not words": [("a*b", "a*c"), ("2ab", "3ab")],
}
# Not comparable with confidence: the tools leave these to the LM judge instead of overruling it.
UNDECIDABLE = {
    "text": [("nucleus", "mitochondria"), ("autosomal dominant", "autosomal recessive"), ("Lyon", "Paris"),
             ("The capital is not Paris.", "Paris"), ("The capital isn't Paris", "Paris"),
             ("It is either Paris or Lyon", "Paris"), ("Lyon, Paris", "Paris"),
             ("Paris", "The capital is Paris"), ("The capital of France, a country in western Europe with many "
                                                 "old cities, is Paris", "Paris")],
    "a percentage against a plain number": [("0.5%", "0.5"), ("50%", "0.5"), ("0.5", "50%"), ("1/2", "50%"),
                                            ("45\\%", "45"), ("12.5%", "1/8"), ("2^{-1}", "50\\%")],
    "a bound, range or approximation against one value": [
        ("at least 17", "17"), ("at most 17", "17"), (">= 17", "17"), ("≥ 17", "17"), ("17 or more", "17"),
        ("more than 16", "17"), ("fewer than 18", "17"), ("about 17", "17"), ("approximately 17", "17"),
        ("~17", "17"), ("≈ 17", "17"), ("3-5", "4"), ("3 to 5", "4"), ("between 3 and 5", "4"),
        ("17", "at least 17"), ("17", "about 17"), ("There are at least 17 ways.", "17"),
        ("I count about 252 ways in total", "252"), ("There are 3 to 5 of them", "5"), ("5–10%", "-5%"),
        ("10-20 mg/kg", "15 mg/kg")],
    "different kinds of bound": [("more than 16", "at least 17"), ("about 20", "about 17"), ("3-5", "at most 5")],
    "some of several options": [("B", "(B) and (C)"), ("(B)", "B, C"), ("A", "(A) or (C)"),
                                ("C", "either A or C"),
                                ("A and C", "(A) or (C)"), ("(B) and (C)", "B"), ("A or C", "C")],
    "words read as variables": [("two thirds", "2/3"), ("lots of ways", "252"), ("six", "x^2 + twelve"),
                                ("no", "No."), ("3 squared", "9")],
}


def _cases(table):
    return [pytest.param(p, r, id=f"{form}: {p} vs {r}") for form, pairs in table.items() for p, r in pairs]


@pytest.mark.parametrize("predicted, reference", _cases(EQUIVALENT))
def test_equivalent_answers_match(predicted, reference):
    check = check_answer(predicted, reference)
    assert check.verdict == "match", check
    assert answers_match(predicted, reference)


@pytest.mark.parametrize("predicted, reference", _cases(DIFFERENT))
def test_different_answers_do_not_match(predicted, reference):
    check = check_answer(predicted, reference)
    assert check.verdict == "mismatch", check
    assert not answers_match(predicted, reference)


@pytest.mark.parametrize("predicted, reference", _cases(UNDECIDABLE))
def test_answers_the_tools_cannot_compare_are_undecidable_never_a_mismatch(predicted, reference):
    check = check_answer(predicted, reference)
    assert check.verdict == "undecidable" and check.reason, check
    assert not answers_match(predicted, reference)


def test_option_letters_stay_decisive():
    assert check_answer("C", "B").verdict == "mismatch"
    assert check_answer("The answer is (C).", "C", answer_type="choice").verdict == "match"


def test_a_dropped_count_noun_is_named_in_the_reason_and_evidence():
    check = check_answer("17 jars", "17")
    assert check.verdict == "match" and "'jars' ignored" in check.reason
    assert check.evidence["read_as_numbers"]["predicted"] == {"text": "17 jars", "as": "17",
                                                              "read": "number with a count noun",
                                                              "ignored_noun": "jars"}
    assert check_answer("12 jars", "17").verdict == "mismatch"


def test_number_words_are_read_as_numbers_not_as_products_of_letters():
    check = check_answer("twenty-four", "25")
    assert check.verdict == "mismatch" and check.evidence["method"] == "exact numbers"
    assert check.evidence["read_as_numbers"]["predicted"]["as"] == "24"


def test_the_answer_type_is_inferred_from_the_reference():
    assert check_answer("B", "(B)").evidence["answer_type"] == "choice"
    assert check_answer("Paris", "paris").evidence["answer_type"] == "text"
    assert check_answer("25, 76", "{25, 76}").evidence["answer_type"] == "set"
    assert check_answer("5 mg", "0.005 g").evidence["answer_type"] == "units"
    assert check_answer("7", "7.0").evidence["answer_type"] == "numeric"
    assert check_answer("x+1", "1+x").evidence["answer_type"] == "expression"


def test_an_explicit_answer_type_overrides_inference():
    assert check_answer("the answer", "The Answer!", answer_type="text").verdict == "match"
    assert check_answer("sqrt(16)", "4", answer_type="numeric").verdict == "match"
    assert check_answer("350 mg", "0.35 g", answer_type="numeric").verdict == "match"
    assert check_answer("{76, 25}", "25, 76", answer_type="numeric").verdict == "match"


def test_tolerances_widen_numeric_equality():
    assert not answers_match("9.81", "9.8")
    assert answers_match("9.81", "9.8", rel_tol=0.01)
    assert answers_match("100.4", "100", abs_tol=0.5)


def test_the_evidence_says_how_the_verdict_was_reached_and_serialises_to_json():
    check = check_answer("\\frac{a^3+2b}{3a}", "(2*b + a**3)/(3*a)")
    assert check.evidence["method"]
    assert check.evidence["predicted_parsed"] and check.evidence["reference_parsed"]
    assert json.loads(json.dumps(check.to_dict()))["verdict"] == "match"
    assert isinstance(check, AnswerCheck) and bool(check)


def test_a_disproof_names_the_point_where_expressions_differ():
    check = check_answer("x^2 + 1", "(x-1)(x+1)")
    assert check.verdict == "mismatch" and "x=" in check.reason


@pytest.mark.parametrize("predicted, why", [("", "empty"), ("   ", "empty"), ("$$", "empty")])
def test_empty_answers_are_undecidable(predicted, why):
    check = check_answer(predicted, "5")
    assert check.verdict == "undecidable" and why in check.reason


def test_a_megabyte_answer_is_refused_quickly():
    started = time.monotonic()
    check = check_answer("1" * 1_000_001, "1")
    assert check.verdict == "undecidable" and "too long" in check.reason
    assert time.monotonic() - started < 0.5


def test_a_long_expression_is_refused_before_sympy_sees_it():
    check = check_answer("(" * 3000 + "x" + ")" * 3000, "x")
    assert check.verdict == "undecidable" and "too long" in check.reason


def test_unbalanced_latex_is_undecidable_with_the_reason():
    check = check_answer("\\frac{1}{", "x")
    assert check.verdict == "undecidable" and "unbalanced" in check.reason


def test_a_non_text_answer_is_an_error_not_a_crash():
    check = check_answer(None, "5")
    assert check.verdict == "error" and "NoneType" in check.reason


def test_an_answer_that_is_not_math_against_a_math_reference_is_undecidable():
    assert check_answer("no idea ¯\\_(ツ)_/¯", "x^2").verdict == "undecidable"


@pytest.mark.parametrize("template", ["__import__('pathlib').Path({path!r}).touch()",
                                      "().__class__.__base__.__subclasses__() or open({path!r}, 'w')",
                                      "(lambda: open({path!r}, 'w'))()"])
def test_code_in_an_answer_is_never_evaluated(template, tmp_path):
    target = tmp_path / "pwned"
    check = check_answer(template.format(path=str(target)), "x")
    assert check.verdict in ("undecidable", "mismatch")
    assert not target.exists()


def test_a_pathological_power_tower_stops_at_the_time_limit():
    started = time.monotonic()
    check = check_answer("9**9**9**9", "1", timeout_s=1)
    assert check.verdict == "undecidable" and "1.0 s" in check.reason
    assert time.monotonic() - started < 3.5
    assert check_answer("2+2", "4").verdict == "match"  # the worker is usable again


def test_concurrent_checks_from_threads_get_their_own_answers():
    pairs = [(f"{i}/2", f"\\frac{{{i}}}{{2}}", True) for i in range(8)]
    pairs += [(f"x+{i}", f"x+{i + 1}", False) for i in range(8)]
    results = {}

    def work(i, p, r):
        results[i] = answers_match(p, r)

    threads = [threading.Thread(target=work, args=(i, p, r)) for i, (p, r, _) in enumerate(pairs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(pairs))] == [expected for _, _, expected in pairs]


def test_an_unknown_answer_type_is_a_user_error_naming_the_known_types():
    with pytest.raises(NanofluxError, match="numeric"):
        check_answer("1", "1", answer_type="number")
    assert {"numeric", "expression", "choice", "text"} <= set(ANSWER_TYPES)
