"""Nothing a model writes stalls, crashes or outgrows the caller (issue 23, part 1): every public check,
reader and tool returns a verdict (or a tool's error) within its time limit on any text.

The probes of the issue each have a test; a Hypothesis property test then feeds long adversarial runs
(digits, operators, spaces, braces, units, powers, LaTeX, number words) to all of them. Margins are for a
busy CI machine: "within the timeout plus 10 s", where the idle figure is a fraction of a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanoflux import parse_spec
from nanoflux.base.errors import NanofluxError
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.testing import ScriptedEngine, scripted_roles
from nanoflux.tools import get_tool
from nanoflux.tools.registry import time_limited
from nanoflux.verify import check_answer, check_reference, extract, genomics, numeric, qualifiers, tokens, units, words
from nanoflux.verify.answers import numeric_form
from nanoflux.verify.claims import chains, phrases, quantities, sequences
from nanoflux.verify.codeflow import trace
from nanoflux.verify.limits import MAX_GENES, TOOL_TIMEOUT_S
from tests.support.fakes import SCRIPTED_SPEC

TIMEOUT_S = 2.0  # the checks' own limit in these tests
MARGIN_S = 10.0  # what a loaded 2-core machine may add
VERDICTS = ("match", "mismatch", "undecidable", "error")
TOOL_ERRORS = (ValueError, NanofluxError, TimeoutError)  # how a tool tells the agent it cannot answer


def timed(call: Callable[[], object], limit_s: float = TIMEOUT_S + MARGIN_S) -> object:
    started = time.monotonic()
    result = call()
    assert time.monotonic() - started < limit_s, f"took {time.monotonic() - started:.1f} s"
    return result


def verdict_of(call: Callable[[], object]) -> str:
    check = timed(call)
    assert check.verdict in VERDICTS, check
    return check.verdict


# --- one test per class of probe in the issue


def test_a_power_chain_in_a_unit_reaches_no_big_number_in_the_caller():
    assert units.parse_unit("m^9^9^9") is None and units.parse_unit("m^9.9^9.9") is None
    assert units.parse_unit("(m^9)^99") is None  # m^891: a unit power past the cap
    assert str(units.parse_unit("kg*m^2/s^2")) == "kilogram * meter ** 2 / second ** 2"
    assert str(units.parse_unit("1/s")) == "1 / second"
    assert verdict_of(lambda: check_answer("5 m^9^9^9", "5 m", timeout_s=TIMEOUT_S)) == "undecidable"


def test_a_huge_value_the_worker_returns_at_once_is_not_expanded_in_the_caller():
    """exp(10^9) evaluates at once to 8.0e+434294481; Fraction() of that ran for hours in the caller."""
    assert numeric.exact_value("8.002981770660972533041909e+434294481") is None
    assert numeric.exact_value("1.5e+3") == 1500 and numeric.exact_value("-7/2") == Fraction(-7, 2)
    check = timed(lambda: check_reference("5", ["exp(10^9) = 5"], timeout_s=TIMEOUT_S))
    assert check.verdict == "undecidable"
    assert timed(lambda: check_reference("5", ["sqrt(10^(10^9)) = 5"], timeout_s=TIMEOUT_S)).verdict == "undecidable"


@pytest.mark.parametrize("text", [
    "1 " * 10_000,  # 17 s: numeric_form read every prefix again
    " ".join(["the cat sat on 17 mats and then"] * 500),  # 4,000 words of prose
    "1" + "+" * 40_000 + "1",  # 40,000 operators
    "\\boxed{" * 5_000,
])
def test_long_answers_are_read_in_linear_time(text):
    assert verdict_of(lambda: check_answer(text, "1", timeout_s=TIMEOUT_S)) == "undecidable"
    assert verdict_of(lambda: check_answer("1", text, timeout_s=TIMEOUT_S)) in ("undecidable", "mismatch")
    assert verdict_of(lambda: check_reference("1", [text[:19_000]], timeout_s=TIMEOUT_S)) == "undecidable"


@pytest.mark.parametrize("read, text", [
    (extract.last_boxed, "\\boxed{" * 30_000),  # scanned to the end from every start
    (numeric.is_percentage, "1" + " " * 30_000 + "x"),  # the percent pattern rescanned the spaces from each start
    (numeric_form, "1 " * 30_000),
    (phrases.rewrite, "1" * 30_000),  # "mod", "% of": a match tried from every digit of a run
    (tokens.tokenize, "twenty " * 3_000),  # number words: every run re-read from every start
])
def test_the_readers_that_were_quadratic_are_linear(read, text):
    timed(lambda: read(text), MARGIN_S)


@pytest.mark.parametrize("step", ["1" * 19_000, "$1" * 9_000, "1 mod " * 3_000, "1+" * 9_000 + "1 = 2",
                                  "+" * 19_000 + " = 2", "twenty " * 2_500])
def test_long_steps_and_questions_are_read_in_linear_time(step):
    assert verdict_of(lambda: check_reference("2", [step], question="Tom has 2 apples.", timeout_s=TIMEOUT_S))
    assert verdict_of(lambda: check_reference("2", ["1 + 1 = 2"], question=step, timeout_s=TIMEOUT_S))


@pytest.mark.parametrize("predicted", ["1" * 5_000, "5 m/0", "5 m^9.9^9.9^9.9", "1e400 mg", "1" * 5_000 + " million"])
def test_what_raised_is_a_verdict(predicted):
    for answer, reference in ((predicted, "5 m"), ("5 m", predicted), (predicted, "1")):
        assert verdict_of(lambda a=answer, r=reference: check_answer(a, r, timeout_s=TIMEOUT_S)) != "match"


def test_a_round_whose_attacker_writes_a_power_chain_is_judged_and_journaled(tmp_path):
    """End to end: the attacker's reference and steps hold `5 m^9^9^9`; the round is still judged and written."""
    engine = ScriptedEngine()
    answer = engine.answer

    def chain(role: str, prompt: str) -> dict:
        reply = answer(role, prompt)
        if role == "attacker":
            reply.update(reference_answer="5 m^9^9^9", solution_steps=["5 m^9^9^9 = 5 m^9^9^9"])
        return reply

    engine.answer = chain
    spec = SCRIPTED_SPEC.replace("rounds: 6", "rounds: 1") + "roles: {judge: {solves: 0}}\n"
    started = time.monotonic()
    result = compile_spec(parse_spec(spec), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          lms=scripted_roles(engine), progress=False)
    assert time.monotonic() - started < 60 + MARGIN_S
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert records and all(r["judge"]["reference_check"]["verdict"] != "match" for r in records)


def test_the_code_check_follows_code_within_its_time_limit():
    """The data-flow check of a solution's python runs in the caller: 2 KB of functions that each call the
    one before four times, the first summing 500 literals, took 25 s (each step unions the literal sets)."""
    fan = "def f0(x):\n    return x + " + " + ".join(str(k) for k in range(500)) + "\n" + "".join(
        f"def f{i}(x):\n    return " + " + ".join([f"f{i - 1}(x)"] * 4) + "\n" for i in range(1, 8)) + "print(f7(2))"
    assert timed(lambda: trace(fan, timeout_s=TIMEOUT_S)).unsure
    step = f"```python\n{fan}\n```"
    assert verdict_of(lambda: check_reference("5", [step], question="Tom has 2 apples.", timeout_s=TIMEOUT_S)) \
        == "undecidable"


def test_the_code_check_reads_each_literal_in_constant_time():
    """3,000 assignments took 24 s: `ast.get_source_segment` split the whole code again for every literal."""
    code = "\n".join(f"x{i} = {i}" for i in range(3_000)) + "\nprint(x1)"
    assert timed(lambda: trace(code, timeout_s=60), MARGIN_S).literals[:2] == ["0", "1"]


def test_punnett_ratios_refuses_more_genes_than_the_cap_saying_so():
    started = time.monotonic()
    with pytest.raises(ValueError, match=f"more than {MAX_GENES} gene pairs"):
        genomics.punnett_ratios("Aa" * 11, "Aa" * 11)
    assert time.monotonic() - started < 1 + MARGIN_S
    assert genomics.punnett_ratios("AaBbCc", "AaBbCc")["phenotype_ratio"] == "27:9:9:9:3:3:3:1"


def test_a_tool_call_past_its_time_limit_ends_with_an_error_the_agent_reads():
    sequence = "ATG" + "GCA" * 300_000  # find_orfs takes about a second on it
    limited = time_limited(genomics.find_orfs, timeout_s=0.01)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="find_orfs did not finish within 0.01 s"):
        limited(sequence)
    assert time.monotonic() - started < 1 + MARGIN_S
    assert limited.__name__ == "find_orfs" and limited.__doc__ == genomics.find_orfs.__doc__


@pytest.mark.parametrize("name", ["genomics", "sympy", "units", "python"])
def test_every_tool_the_agent_gets_is_time_limited(name):
    for function in get_tool(name).functions:
        assert function.__wrapped__ is not function, function.__name__  # the registry's time limit wraps it


# --- the property: any text, every public check, reader and tool

_ATOMS = ["1", "9", "1 ", "1,", "1.", "+", "-", "*", "/", "^", "**", "=", " ", "\n", "(", ")", "{", "}", "[", "\\",
          "%", "$", "x", "m", "mg/kg", "m^9", "^9", "10^", "\\frac{1}{", "\\boxed{", "\\sqrt{", "\\times", "e5",
          "twenty", "hundred", "and", "at least", "between", "to", "answer is", "mod", "of", "C(", "sqrt(", "!",
          "ATGC", "Aa", "p = 0.5", "2pq", "```python\n", "print(", "len('", "≈", "½", "1:00", "per", "times"]
_RUNS = st.builds(lambda atoms, n: "".join(atoms) * n, st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=4),
                  st.integers(1, 6_000))
TEXTS = st.one_of(st.text(max_size=300), _RUNS,
                  st.builds(lambda a, b, c: a + b + c, st.text(max_size=50), _RUNS, st.text(max_size=50)))
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(TEXTS)
def test_the_answer_check_returns_a_verdict_on_any_text(text):
    for predicted, reference in ((text, "17"), ("17", text), (text, text[: len(text) // 2] or "x")):
        verdict_of(lambda p=predicted, r=reference: check_answer(p, r, timeout_s=TIMEOUT_S))


@PROPERTY
@given(TEXTS)
def test_the_reference_check_returns_a_verdict_on_any_text(text):
    verdict_of(lambda: check_reference("17", [text], question="Tom has 2 apples and buys 15 more.",
                                       timeout_s=TIMEOUT_S))
    verdict_of(lambda: check_reference(text, ["2 + 15 = 17"], question=text, timeout_s=TIMEOUT_S))


READERS: list[Callable[[str], object]] = [
    extract.final_answer, extract.last_boxed, extract.split_items, extract.option_letters, extract.choice_letter,
    extract.normalize_text, extract.last_number, numeric.parse_number, numeric.is_percentage, numeric.exact_value,
    numeric_form, qualifiers.read_qualified, qualifiers.find_qualified, units.parse_unit, units.parse_quantity,
    words.parse_number_words, words.english_words, tokens.tokenize, phrases.rewrite, trace,
    lambda s: chains.read(0, s), lambda s: quantities.read(0, s), lambda s: sequences.read(0, s, Fraction(1, 2)),
]


@PROPERTY
@given(TEXTS)
def test_every_reader_returns_on_any_text(text):
    for read in READERS:
        timed(lambda r=read: r(text), MARGIN_S)


def _tool_calls(text: str) -> list[Callable[[], object]]:
    tools = {f.__name__: f for name in ("genomics", "units", "sympy") for f in get_tool(name).functions}
    return [lambda f=tools[name]: f(text) for name in ("reverse_complement", "translate", "gc_content", "find_orfs",
                                                       "simplify_expression", "solve_equation")] + [
        lambda: tools["punnett_ratios"](text, text), lambda: tools["hardy_weinberg"](len(text) / 1000),
        lambda: tools["convert_units"](1.5, text, "mg"), lambda: tools["weight_based_dose"](text, "70 kg", text),
        lambda: tools["infusion_rate"](text, "1 mg/mL", text), lambda: tools["volume_for_dose"](text, text),
        lambda: tools["expressions_equal"](text, "x")]


@settings(PROPERTY, max_examples=10)
@given(TEXTS)
def test_every_tool_returns_or_says_why_on_any_text(text):
    for call in _tool_calls(text):
        try:
            timed(call, TOOL_TIMEOUT_S + MARGIN_S)
        except TOOL_ERRORS:
            pass
