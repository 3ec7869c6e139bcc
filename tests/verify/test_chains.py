"""The prose reader (issue 22): arithmetic wherever models write it is recomputed, and a false one is caught.

Each right case is recomputed to "match"; its false twin (one shown number changed) must never be a
match. The texts are the forms GSM8K's model-written solutions use.
"""

import pytest

from nanoflux.verify import check_reference
from nanoflux.verify.claims import chains

# (question, steps, reference): right solutions, each with arithmetic where models put it
AS_MODELS_WRITE = [
    ("Jen has 3 duck eggs and buys 4 more. How many does she use?", ["so 3 + 4 = 7 duck eggs are used"], "7"),
    ("She fills 4 trays of 5 glasses.", ["for 4*5= 20 glasses"], "20"),
    ("A glass is 8 ounces. John drinks 2 glasses.", ["John drank 2 x 8 = 16 ounces of milk."], "16"),
    ("Toby's book has 45 pages of 200 words.", ["Toby's book is 45 x 200 = 9000 words"], "9000"),
    ("Each of 20 kids gets 2 apples, 3 times.", ["20 x 2 = 40 x 3 = 120"], "120"),
    ("6 boxes of 7.", ["6 × 7 = 42"], "42"),
    ("6 boxes of 7.", ["6 times 7 = 42"], "42"),
    ("6 boxes of 7.", ["6 · 7 = 42"], "42"),
    ("Pens cost $1,250 a crate and she buys 3 crates.", ["3 * $1,250 = $3,750"], "3750"),
    ("A ticket is €12 and 4 friends go.", ["4 x €12 = €48"], "48"),
    ("A $1,200 laptop is 5% off.", ["$1,200 × 5% = $60", "$1,200 - $60 = $1,140"], "1140"),
    ("Oranges cost 0.25 each and she buys 14.", ["14 * 0.25 = 3.50"], "3.5"),
    ("He eats 3/4 of 20 cookies.", [r"$\frac{3}{4} \times 20 = 15$"], "15"),
    ("Twelve birds sit on a wire and 3 fly off.", ["twelve minus 3 = 9 birds"], "9"),
    ("180 miles in 7 hours: the speed, to one decimal?", ["180 / 7 = 25.7"], "25.7"),
    ("18 sweets among 3 boys.", ["The eldest boy received 18/3 = 6.0."], "6"),
    ("Movie C lasts 1.25 hours. How many minutes?", ["Movie C was 1.25 hours * 60 minutes = 75 minutes"], "75"),
    ("She works 6 days a week, 4 weeks a month.", ["6 days/week * 4 weeks/month = 24 days/month"], "24"),
    ("The room is 3 yards long. How many feet?", ["3 yards * (3 feet / 1 yard) = 9 feet."], "9"),
    ("2 remoras of 6 inches each.", ["(2 remoras * 6 inches/remora = 12 inches)"], "12"),
    ("A board is 3 feet long. How many inches?", ["There are 12 inches in a foot.", "3 * 12 = 36 inches"], "36"),
    ("A board is 3 feet long. How many inches?", ["Since 1 foot is equal to 12 inches", "3 * 12 = 36"], "36"),
    ("The shop opens at 1:00 and closes at 5:00.", ["5:00 - 1:00 = 4 hours"], "4"),
    ("Anthony shares 50 pencils among 3 friends.", ["50 / 3 = 16.666666666666668 pencils each"], "16.666666666666668"),
    ("3 billion jellyfish, 80% of them blue.", ["There are 3 * 0.8 = 2.4 billion blue jellyfish"], "2.4"),
    ("A test of 100 questions: 70% then 60% right.", ["70 (70%) - 60 (60%) = 10 questions"], "10"),
    ("Convert 2 hours to minutes.", ["Convert 2 hours to min: 2(60)=120 minutes"], "120"),
    ("4 of 12 sodas are shaken. What percent?", ["4 sodas / 12 sodas * 100% = 33.333...%"], "33.333"),
    ("The setting is 18 degrees off. As a decimal?", ["18 / 100% = 0.18"], "0.18"),
    ("Two friends share 4 slices and eat three quarters.", ["They ate ¾*4 = 3 slices of pizza"], "3"),
    ("A player eats a one-pound steak. How many ounces?", ["She ate 1*16 = 16 ounces of meat"], "16"),
    ("Movie C lasts 1.25 hours. How many minutes?", ["Movie C = 1.25 hours = 75 minutes"], "75"),
    ("The light blinks 255 times in 5 minutes.", ["the light blinks 255 times / 5 minutes = 51 times"], "51"),
    ("A 65-minute concert ends with a 15-minute encore.", ["65-minute concert - 15-minute encore = 50 minutes"], "50"),
    ("A herd has 180 heads and 304 humps; camels have two humps, dromedaries one. How many dromedaries?",
     ["Let x be the number of camels.", "in total there are 2x + 180 – x = 304 humps.", "x = 304 – 180", "x = 124",
      "So, there are 124 camels and 180 – 124 = 56 dromedaries."], "56"),
]


@pytest.mark.parametrize("question, steps, reference", AS_MODELS_WRITE, ids=[r[1][-1][:40] for r in AS_MODELS_WRITE])
def test_arithmetic_as_models_write_it_is_recomputed(question, steps, reference):
    check = check_reference(reference, steps, question=question)
    assert check.verdict == "match", check.reason


FALSE = [  # a false visible calculation, in the same forms
    ("Jen has 3 duck eggs and buys 4 more.", ["so 3 + 4 = 8 duck eggs are used"], "8"),
    ("She fills 4 trays of 5 glasses.", ["for 4*5= 25 glasses"], "25"),
    ("Toby's book has 45 pages of 200 words.", ["Toby's book is 45 x 200 = 8000 words"], "8000"),
    ("Each of 20 kids gets 2 apples, 3 times.", ["20 x 2 = 40 x 3 = 150"], "150"),
    ("A $1,200 laptop is 5% off.", ["$1,200 × 5% = $50"], "50"),
    ("180 miles in 7 hours.", ["180 / 7 = 25.8"], "25.8"),
    ("Movie C lasts 1.25 hours.", ["Movie C was 1.25 hours * 60 minutes = 80 minutes"], "80"),
    ("The room is 3 yards long.", ["3 yards * (3 feet / 1 yard) = 6 feet."], "6"),
    ("A road is 2.5 km long.", ["2.5 km = 250 m"], "250"),
    ("He got 30% of 100 beans red.", ["(1-.30)=20 red jelly beans"], "20"),
    ("The shop opens at 1:00 and closes at 5:00.", ["5:00 - 1:00 = 3 hours"], "3"),
    ("4 of 12 sodas are shaken. What percent?", ["4 sodas / 12 sodas * 100% = 33.334...%"], "33.334"),
    ("Two friends share 4 slices and eat three quarters.", ["They ate ¾*4 = 2 slices of pizza"], "2"),
    ("1 of 3 pupils passed. What percent?", ["1/3 = 30.0%"], "30"),  # 33.3%: a percentage has 2 more places
    ("The shop opens at 1:00 and closes at 5:00.", ["5:00 - 1:00 = 16 hours"], "16"),  # no clock wraps to 16
]


@pytest.mark.parametrize("question, steps, reference", FALSE, ids=[r[1][-1][:40] for r in FALSE])
def test_a_false_calculation_in_prose_is_a_mismatch(question, steps, reference):
    check = check_reference(reference, steps, question=question)
    assert check.verdict == "mismatch" and "step 1" in check.reason, check.reason


def test_a_result_rounded_to_a_whole_number_is_never_confirmed():
    check = check_reference("25", ["180 / 7 = 25"], question="180 miles in 7 hours.")
    assert check.verdict == "undecidable" and "whole number" in check.reason


def test_the_number_a_step_computes_is_not_a_number_it_uses():
    check = check_reference("80", ["Total regular price for the blouses is 20 x 4 = 80."], question="4 blouses at $20.")
    assert check.verdict == "match" and "uses 80" not in check.reason


@pytest.mark.parametrize("steps", [
    ["He has 17 apples", "17 * 4 = 68"],  # 17: neither the question nor a step gives it
    ["There are 13 inches in a foot", "13 * 4 = 52"],  # a false unit fact confirms nothing
])
def test_a_number_stated_in_prose_must_come_from_the_question_a_step_or_a_unit_fact(steps):
    check = check_reference(steps[-1].split("= ")[-1], steps, question="A box holds 4 rows of apples.")
    assert check.verdict == "undecidable", check.reason


def test_a_sum_of_mixed_units_is_checked_by_pint_not_by_its_magnitudes():
    question = "A shark is 10 feet long and a remora 12 inches."
    assert check_reference("132", ["10 feet + 12 inches = 132 inches"], question=question).verdict == "match"
    assert check_reference("22", ["10 feet + 12 inches = 22 inches"], question=question).verdict == "undecidable"


def test_words_before_a_false_looking_chain_leave_it_unchecked_not_wrong():
    check = check_reference("17", ["5 more than 3 x 4 = 17"], question="5 more than 3 fours.")
    assert check.verdict == "undecidable"


def test_a_unit_fact_after_the_last_computation_is_not_taken_for_its_result():
    steps = ["3 * 12 = 36 inches", "since there are 12 inches in a foot"]
    assert check_reference("36", steps, question="A board is 3 feet long. How many inches?").verdict == "match"


def test_a_unit_fact_is_confirmed_with_pint():
    claims, _ = chains.read(0, "there are 12 inches in a foot")
    assert [(c.kind, c.holds, c.values[0]) for c in claims] == [("unit fact", True, 12)]
    assert chains.read(0, "He works 3 hours in a day") is None  # a count, not a unit fact


@pytest.mark.parametrize("text", [
    "3 yards * (3 feet / 1 yard) = 9 feet.", "(1-.30)=20 red jelly beans", "((((((((", "= = = 5 = =", "1/0 = 3",
    "9^9^9^9 = 1", "2 ** 99999 = 4", "$$$ € £ 5:99 = 12:00 pm", "1,2,3,,,4 = 10", "x" * 5000 + " 3 + 4 = 7",
    "5 " * 3000 + "= 5", "\\frac{1}{0} = 2", "— – − = 3", "½ + ¼ = ¾", "1e999999 = 1", "3 + 4 = 7" * 400,
])
def test_check_reference_never_raises_and_answers_quickly_on_odd_text(text):
    check = check_reference("7", [text], question="3 and 4", timeout_s=5)
    assert check.verdict in ("match", "mismatch", "undecidable", "error")


def test_a_fuzzer_s_strings_never_make_it_raise():
    import random
    import time

    pieces = ["3", "4.5", "$1,200", "€7", "25%", ".30", "1/2", "¾", "5:00", "pm", "=", "+", "-", "x", "×", "*", "/",
              "^", "(", ")", "[", "\\frac{1}{2}", "\\times", "twelve", "dozen", "feet", "inches/remora", "per", "of",
              "is", "so", "2x", "S", "...", "%", "!", ",", ".", ":", "in", "a", "foot", "hours", "minutes", "100%"]
    rng = random.Random(22)
    start = time.monotonic()
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        glued = text.replace(" ", "") if rng.random() < 0.2 else text
        assert check_reference("3", [glued], question="3 and 4.5", timeout_s=5).verdict in (
            "match", "mismatch", "undecidable", "error"), glued
    assert time.monotonic() - start < 60


def test_an_exception_anywhere_in_the_check_is_an_undecidable_verdict(monkeypatch):
    from nanoflux.verify import reference

    def boom(question):
        raise RuntimeError("a bug")

    monkeypatch.setattr(reference, "_given", boom)
    check = check_reference("7", ["3 + 4 = 7"], question="3 and 4")
    assert check.verdict == "undecidable" and "RuntimeError: a bug" in check.reason


def test_a_reader_s_exception_leaves_only_its_step_unchecked(monkeypatch):
    def boom(step, clause):
        raise RuntimeError("a reader bug")

    monkeypatch.setattr(chains, "read", boom)
    check = check_reference("7", ["3 + 4 = 7"], question="3 and 4")
    assert check.verdict == "undecidable" and "a reader failed on it (RuntimeError: a reader bug)" in check.reason
