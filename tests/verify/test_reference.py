"""check_reference: a reference is accepted only when the solution steps recompute to it."""

import pytest

from nanoflux.verify import check_reference
from nanoflux.verify.sandbox import Sandbox
from tests.verify.attacks import requires_isolation

STEPS = ["x = 3*4 = 12", "Total: 12 + 5 = 17", "Answer: 17"]


def test_a_reference_that_the_steps_compute_matches():
    check = check_reference("17", STEPS)
    assert check.verdict == "match"
    assert [c["holds"] for c in check.evidence["claims"]] == [True, True]


def test_a_reference_that_differs_from_the_final_result_is_a_mismatch():
    check = check_reference("18", STEPS)
    assert check.verdict == "mismatch" and "17" in check.reason


def test_a_wrong_intermediate_step_is_a_mismatch_naming_the_step():
    check = check_reference("17", ["x = 3*4 = 13", "Total: 13 + 4 = 17"])
    assert check.verdict == "mismatch" and "step 1" in check.reason


@pytest.mark.parametrize("steps", [
    ["C(10, 5) = 252"],
    ["$\\binom{10}{5} = \\frac{10!}{5!\\,5!} = 252$"],
    ["1. Each box holds 2 × 3 = 6 eggs", "2. 6 * 42 = 252 eggs", "3. So the answer is 252."],
    ["Step 1: 1,000 + 200 + 52 = 1,252", "Step 2: 1252 - 1000 = 252"],
])
def test_equalities_in_latex_lists_and_prose_are_recomputed(steps):
    assert check_reference("252", steps).verdict == "match"


def test_steps_given_as_one_string_are_read_as_one_step():
    assert check_reference("17", "12 + 5 = 17").verdict == "match"


def test_a_rounded_decimal_result_is_accepted():
    assert check_reference("3.33", ["10/3 = 3.33"]).verdict == "match"


def test_an_approximation_sign_allows_rounding():
    assert check_reference("3.14", ["pi ≈ 3.14"]).verdict == "match"


def test_a_claim_no_reader_can_read_makes_the_reference_undecidable_naming_the_step():
    check = check_reference("12", ["The area of the 3 by 4 rectangle = 12"])
    assert check.verdict == "undecidable" and "step 1" in check.reason
    assert check.evidence["skipped"][0]["why"] == "no reader could read it"


def test_a_stated_answer_that_no_step_computes_is_undecidable():
    check = check_reference("252", ["Each box holds 2 × 3 = 6 eggs", "So the answer is 252."])
    assert check.verdict == "undecidable" and "252" in check.reason


def test_steps_without_anything_checkable_are_undecidable():
    check = check_reference("5", ["Think about it carefully.", "It is the number of fingers on a hand."])
    assert check.verdict == "undecidable"


def test_a_symbolic_answer_that_nothing_recomputes_is_undecidable():
    assert check_reference("\\frac{n(n+1)}{2}", ["Pair the terms.", "The answer is n(n+1)/2."]).verdict == "undecidable"


@requires_isolation
def test_a_python_block_in_the_steps_is_run_in_the_sandbox_and_its_last_line_compared():
    steps = ["Count with code:", "```python\nimport math\nprint('ways:')\nprint(math.comb(10, 5))\n```"]
    assert check_reference("252", steps).verdict == "match"
    check = check_reference("251", steps)
    assert check.verdict == "mismatch" and check.evidence["printed"] == "252"


@requires_isolation
def test_python_that_fails_makes_the_reference_undecidable():
    check = check_reference("1", ["```python\nraise ValueError('no answer')\n```"])
    assert check.verdict == "undecidable" and "ValueError: no answer" in check.reason


def test_python_is_undecidable_where_the_sandbox_cannot_start(tmp_path):
    steps = ["```python\nfrom math import comb\nprint(comb(10, 5))\n```"]
    check = check_reference("252", steps, sandbox=Sandbox(bwrap=str(tmp_path / "no-bwrap")))
    assert check.verdict == "undecidable" and "apt-get install bubblewrap" in check.reason
    assert check_reference("252", steps, sandbox=Sandbox(mode="unsafe-local")).verdict == "match"


@pytest.mark.parametrize("question, steps, reference", [
    ("What is 17 * 23?", ["```python\nprint(392)\n```"], "392"),  # prints the reference it writes
    ("", ["```python\nanswer = '392'\nprint(answer)\n```"], "392"),
    ("What is 17 * 23?", ["```python\nprint(17 * 25)\n```"], "425"),  # 25: not the question's number
])
def test_code_that_prints_a_value_it_does_not_compute_from_the_question_is_undecidable(question, steps, reference):
    check = check_reference(reference, steps, question=question, sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "undecidable" and check.evidence["printed"] == reference


def test_a_false_claim_next_to_code_is_a_mismatch_though_the_code_prints_the_reference():
    steps = ["17 * 23 = 400", "```python\nprint(16 * 25)\n```"]
    check = check_reference("400", steps, sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "mismatch" and "step 1" in check.reason


def test_code_computing_from_the_questions_numbers_is_verified():
    steps = ["We multiply with code.", "```python\nprint(17 * 23)\n```"]
    assert check_reference("391", steps, question="What is 17 * 23?", sandbox=Sandbox(mode="unsafe-local")).verdict \
        == "match"


TOM = "Tom has 2 apples and buys 2 more. How many apples does he have?"


@pytest.mark.parametrize("code, why", [
    ("print(len('abcde'))", "the length of a text"),
    ("word = 'apple'\nprint(len(word))", "the length of a text"),
    ("print(ord('e') - ord('a') + 1)", "a character code"),
    ("print(sum([True, True, True, True, True]))", "True/False used as a number"),
    ("print(True + True + True + True + True)", "True/False used as a number"),
    ("print(sum(a > 1 for a in [2, 2, 2, 2, 2]))", "True/False used as a number"),
    ("print(int('3') + 2)", "text (a string read as a number)"),
    ("print('apple'.count('p') + 2 + 1)", "a position or count in a text"),
    ("print(len([2, 2, 2, 2, 2]))", "how many items a literal lists"),
    ("n = 0\nfor fruit in ['a', 'b', 'c', 'd', 'e']:\n    n += 1\nprint(n)", "how many items a literal lists"),
    ("n = 0\nfor ch in 'abcde':\n    n += 1\nprint(n)", "the length of a text"),
    ("apples = [2]\nbasket = apples\nbasket.append(len('abcde'))\nprint(apples[-1])", "the length of a text"),
    ("count = lambda s: len(s)\nprint(count('abcde'))", "the length of a text"),
    ("print(f\"{len('abcde')}\")", "the length of a text"),
    ("print(4 + 1)", "computed from no number the question gives"),
    ("import os\nprint(len(os.sep) + 4)", "imports os"),
    ("print(eval('2 + 3'))", "calls eval"),
    ("t = 2\ndef f():\n    global t\n    t = len('abcde')\nf()\nprint(t)", "global"),
])
def test_code_that_prints_a_number_not_computed_from_the_questions_numbers_is_undecidable(code, why):
    check = check_reference("5", [f"```python\n{code}\n```"], question=TOM, sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "undecidable" and check.evidence["printed"] == "5" and why in check.reason, check.reason


@pytest.mark.parametrize("question, code, reference", [
    (TOM, "apples = 2\nbought = 2\nprint(f'Tom has {apples + bought} apples')", "4"),
    ("Pens cost $3, $5 and $7. What do all three cost?", "total = 0\nfor p in [3, 5, 7]:\n    total += p\nprint(total)",
     "15"),
    ("He buys 12 items at $5; over 10 items each costs $2 less. What does he pay?",
     "items, price = 12, 5\nif items > 10:\n    price -= 2\nprint(items * price)", "36"),
    ("How many numbers below 50 are multiples of 6?",
     "count = 0\nfor i in range(1, 50):\n    if i % 6 == 0:\n        count += 1\nprint(count)", "8"),
    ("Solve 3x + 7 = 22.",
     "from sympy import symbols, solve, Eq\nx = symbols('x')\nprint(solve(Eq(3*x + 7, 22), x)[0])", "5"),
    ("Apples cost 2 dollars and pears 3. What do 4 apples and a pear cost?",
     "prices = {'apple': 2, 'pear': 3}\ndef cost(n, item):\n    return n * prices[item]\n\n"
     "if __name__ == '__main__':\n    print(cost(4, 'apple') + cost(1, 'pear'))", "11"),
    ("The scores are 80, 85 and 96. What is the mean?", "import statistics\nprint(statistics.mean([80, 85, 96]))",
     "87"),
])
def test_code_that_computes_from_the_questions_numbers_is_still_verified(question, code, reference):
    check = check_reference(reference, [f"```python\n{code}\n```"], question=question,
                            sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "match", check.reason


def test_without_a_question_the_reason_says_equations_were_taken_as_given():
    assert "taken as given: no question to trace them to" in check_reference("8", ["3x = 24", "x = 8"]).reason
    asked = check_reference("8", ["3x = 24", "x = 8"], question="Three boxes hold 24 eggs. How many in each box?")
    assert "set up from the question" in asked.reason
