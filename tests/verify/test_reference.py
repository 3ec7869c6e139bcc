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


# Found by attacking the data-flow check as a hostile model would: each printed the wrong reference
# and was confirmed ("match") before the fix.
@pytest.mark.parametrize("code, reference, why", [
    # digits of separate values side by side, or a value in another base: "22" from 2 and 2
    ("print(f'{2}{2}')", "22", "side by side"),
    ("a = 2\nprint(f'{a}.{a}')", "2.2", "side by side"),
    ("print(f'{2}0{2}')", "202", "side by side"),
    ("print(2, 2, sep='')", "22", "side by side"),
    ("print(2, end='')\nprint(2)", "22", "side by side"),
    ("print(str(2) + str(2))", "22", "side by side"),
    ("print(str(2) * 2)", "22", "side by side"),
    ("print(''.join(map(str, [2, 2])))", "22", "side by side"),
    ("print('%d%d' % (2, 2))", "22", "side by side"),
    ("print('{}{}'.format(2, 2))", "22", "side by side"),
    ("print(f'{2 * 2 * 2:o}')", "10", "another base"),
    ("print(format(2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2, 'o'))", "26", "another base"),
    # `from sympy import *` let any name the code does not define pass as sympy's
    ("from sympy import *\nprint(2 * len(globals()))", "1846", "calls globals"),
    ("from sympy import *\ntry:\n    1 / 0\nexcept Exception as e:\n    print(2 + 2 + len(e.args))", "5",
     "how many items a value holds"),
    # sympy's own printers write the last line where the check does not look
    ("import sympy\nprint(2 + 2)\nsympy.pprint(len('abcde'))", "5", "prints with pprint"),
    # bytes, and text used as a number, are character codes
    ("print(2 + 2 + b'\\x01'[0])", "5", "bytes"),
    ("print(2 + 2 + int.from_bytes(b'\\x01', 'big'))", "5", "bytes"),
    # True/False from methods, attributes and module functions
    ("print(2 + 2 + (2.0).is_integer())", "5", "True/False"),
    ("import sympy\nprint(2 + 2 + sympy.Integer(2).is_even)", "5", "True/False"),
    ("import math\nprint(2 + 2 + math.isfinite(2))", "5", "True/False"),
    ("import sympy\nprint(2 + 2 + sympy.isprime(2))", "5", "True/False"),
    ("import operator\nprint(2 + 2 + operator.lt(2, 3))", "5", "True/False"),
    # counts of names, items, arguments or binary digits
    ("import sympy\nprint(2 + len(sympy.symbols('a b c')))", "5", "how many names a text lists"),
    ("import sympy\nprint(2 + len(sympy.Symbol('abc').name))", "5", "the length of a text"),
    ("import operator\nprint(2 + 2 + operator.countOf([2], 2))", "5", "how many items a literal lists"),
    ("print(2 + 2 + (4).bit_length())", "7", "binary digits"),
    ("print(2 + sum(map(lambda c: 1, 'abc')))", "5", "the length of a text"),
    ("def f(**k):\n    return len(k)\nprint(2 + f(a=2, b=2, c=2))", "5", "how many arguments a call lists"),
    ("print(2 + len(dict(a=2, b=2, c=2)))", "5", "how many items a literal lists"),
])
def test_code_that_hides_where_its_number_comes_from_is_undecidable(code, reference, why):
    check = check_reference(reference, [f"```python\n{code}\n```"], question=TOM, sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "undecidable" and check.evidence["printed"] == reference and why in check.reason, \
        check.reason


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
    # labels, separators and formats that write only the value's own digits
    (TOM, "a, b = 2, 2\nprint('Answer:', a + b)", "4"),
    (TOM, "a, b = 2, 2\nprint('Tom has %d apples' % (a + b))", "4"),
    (TOM, "a, b = 2, 2\nprint('Tom has {} apples'.format(a + b))", "4"),
    (TOM, "a, b = 2, 2\nprint(f'${a + b:.2f}')", "4"),
    (TOM, "def total(*xs):\n    return sum(xs)\nprint(total(2, 2))", "4"),
    ("Solve 3x + 7 = 22.", "from sympy import *\nx = symbols('x')\nprint(solve(Eq(3*x + 7, 22), x)[0])", "5"),
])
def test_code_that_computes_from_the_questions_numbers_is_still_verified(question, code, reference):
    check = check_reference(reference, [f"```python\n{code}\n```"], question=question,
                            sandbox=Sandbox(mode="unsafe-local"))
    assert check.verdict == "match", check.reason


def test_without_a_question_the_reason_says_equations_were_taken_as_given():
    assert "taken as given: no question to trace them to" in check_reference("8", ["3x = 24", "x = 8"]).reason
    asked = check_reference("8", ["3x = 24", "x = 8"], question="Three boxes hold 24 eggs. How many in each box?")
    assert "set up from the question" in asked.reason
