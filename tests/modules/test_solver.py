"""The solver: it sees only the question, each solve is its own sample, and a program solve runs in the sandbox."""

from pathlib import Path

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from nanoflux.modules import Attacker, Defender, Judge, RoleLMs, Round, Solver
from nanoflux.modules.round import solve_rollout_id
from nanoflux.testing import ScriptedEngine
from tests.modules.test_modules import ATTACK, WEIGHTS, dummy, grade
from tests.verify.attacks import requires_isolation

DEFENSE = {"reasoning": "DEFENDER-REASONING: 4 + 3 + 5", "answer": "12"}


def words(answer: str) -> dict:
    return {"solution": "4 boxes of 3 is 12, plus 5.", "answer": answer}


def solver_round(*solves: dict, agree: int = 2) -> tuple[Round, DummyLM]:
    """A round whose solver (a DummyLM that does not sample: its solves sample at the solver's temperature) answers
    `solves` in turn."""
    solver = dummy(*solves)
    solver.model = "model/solver"
    lms = RoleLMs(attacker=dummy(ATTACK), defender=dummy(DEFENSE), judge=dummy(grade()), solver=solver)
    judge = Judge(weights=WEIGHTS, answer_type="numeric", agree=agree)
    return Round(Attacker(), Defender(), judge, lms=lms, solver=Solver(), solves=len(solves)), solver


def test_a_round_confirms_its_reference_when_two_of_three_solves_match_it() -> None:
    program, _ = solver_round(words("17"), words("17"), words("20"))
    out = program(topic="arithmetic", hops=2, answer_type="numeric")
    assert out.judge["confirmation"]["status"] == "confirmed" and out.judge["confirmation"]["agreeing"] == 2
    assert [(s["answer"], s["agreement"], s["model"]) for s in out.solves] == [
        ("17", "match", "model/solver"), ("17", "match", "model/solver"), ("20", "mismatch", "model/solver")]
    assert out.models["solver"] == "model/solver"
    assert out.roles["solver"]["calls"] == 3 and set(out.roles) == {"attacker", "defender", "solver", "judge"}


def test_the_solver_never_sees_the_reference_the_steps_or_the_defenders_answer() -> None:
    prompts: list[str] = []
    engine = ScriptedEngine(solver=lambda role, prompt: prompts.append(prompt) or words("17"))
    lm = dspy.LM("scripted/solver", engine=engine, cache=False, num_retries=0, temperature=0.7)
    lms = RoleLMs(attacker=dummy(ATTACK), defender=dummy(DEFENSE), judge=dummy(grade()), solver=lm)
    Round(Attacker(), Defender(), Judge(weights=WEIGHTS), lms=lms, solves=3)(topic="t", hops=2, answer_type="numeric")
    assert len(prompts) == 3 and all(ATTACK["question"] in prompt for prompt in prompts)
    for hidden in ("17", "12 + 5", "Multiply before adding", "DEFENDER-REASONING", "reference"):
        assert not any(hidden in prompt for prompt in prompts), hidden


def test_solves_agreeing_on_another_answer_refute_the_reference_and_the_judge_is_told() -> None:
    program, _ = solver_round(words("20"), words("20"), words("17"))
    judge_lm = program.lms.judge
    out = program(topic="arithmetic", hops=2, answer_type="numeric")
    assert out.judge["confirmation"]["status"] == "refuted" and out.judge["confirmation"]["other"] == "20"
    evidence = " ".join(str(m.get("content")) for m in judge_lm.history[-1]["messages"])
    assert "Independent solves, never shown the reference: '20', '20', '17'" in evidence and "refuted" in evidence


def test_a_solve_that_does_not_parse_has_no_answer_and_the_round_goes_on() -> None:
    program, _ = solver_round(words("17"), {"nonsense": True}, words("17"))
    out = program(topic="arithmetic", hops=2, answer_type="numeric")
    assert out.solves[1]["answer"] is None and out.solves[1]["error"]
    assert out.judge["confirmation"]["status"] == "confirmed"


def test_a_solve_as_a_program_runs_in_the_sandbox_and_its_printed_line_is_the_answer() -> None:
    code = "```python\nboxes, jars, loose = 4, 3, 5\nprint('total:')\nprint(boxes * jars + loose)\n```"
    with dspy.context(lm=dummy({"solution": "multiply, then add", "program": code}), adapter=dspy.JSONAdapter()):
        out = Solver(program=True)(question=ATTACK["question"])
    assert out.answer == "17" and out.output == "total:\n17\n" and out.error is None
    assert out.program.startswith("boxes, jars, loose = 4, 3, 5")  # the fence is not part of the code


def test_a_program_that_fails_gives_no_answer_and_says_why() -> None:
    with dspy.context(lm=dummy({"solution": "s", "program": "print(1)\nraise ValueError('no')"}),
                      adapter=dspy.JSONAdapter()):
        out = Solver(program=True)(question=ATTACK["question"])
    assert out.answer is None and "ValueError" in out.error and out.output == "1\n"
    with dspy.context(lm=dummy({"solution": "s", "program": "x = 17"}), adapter=dspy.JSONAdapter()):
        assert Solver(program=True)(question=ATTACK["question"]).error == "the program printed nothing"


def test_each_solve_is_its_own_sample_and_a_replayed_attempt_is_answered_from_the_cache() -> None:
    keys = {solve_rollout_id(rollout, index) for rollout in (None, 1, 2) for index in range(3)}
    assert len(keys) == 9 and solve_rollout_id(1, 0) == solve_rollout_id(1, 0)
    engine = ScriptedEngine()
    sampled = dspy.LM("scripted/solver", engine=engine, cache=True, num_retries=0, temperature=0.7)
    plain = dspy.LM("scripted/x", engine=engine, cache=True, num_retries=0)
    program = Round(Attacker(), Defender(), Judge(weights=WEIGHTS), solves=3,
                    lms=RoleLMs(attacker=plain, defender=plain, judge=dummy(grade(), grade(), grade()), solver=sampled))
    # The same prompt three times: three requests, because each solve carries its own rollout key.
    program(topic="arithmetic", hops=2, answer_type="numeric", rollout_id=7)
    assert engine.calls.count("solver") == 3
    program(topic="arithmetic", hops=2, answer_type="numeric", rollout_id=7)  # a resumed attempt: no new request
    assert engine.calls.count("solver") == 3
    program(topic="arithmetic", hops=2, answer_type="numeric", rollout_id=8)  # another attempt samples afresh
    assert engine.calls.count("solver") == 6


def test_a_program_saved_before_the_solver_role_still_loads() -> None:
    program, _ = solver_round(words("17"))
    state = {name: value for name, value in program.dump_state().items() if not name.startswith("solver.")}
    program.load_state(state)


def test_a_solver_lm_that_does_not_sample_samples_at_the_solvers_temperature_for_its_solves() -> None:
    engine = ScriptedEngine()
    greedy = dspy.LM("scripted/judge", engine=engine, cache=True, num_retries=0, temperature=0.0)
    program = Round(Attacker(), Defender(), Judge(weights=WEIGHTS), solves=3,
                    lms=RoleLMs(attacker=greedy, defender=greedy, judge=dummy(grade()), solver=greedy))
    program(topic="arithmetic", hops=2, answer_type="numeric", rollout_id=7)
    assert engine.calls.count("solver") == 3, "three samples, not one answer served thrice from the cache"


@requires_isolation
def test_without_a_sandbox_that_runs_code_the_solver_answers_in_words_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from nanoflux import parse_spec
    from nanoflux.engine.compiler import build_solver

    spec = parse_spec("name: m\ndescription: arithmetic\ntools: [sympy, python]\n")
    assert build_solver(spec).program  # bubblewrap here: programs (the default)
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    with caplog.at_level("WARNING", logger="nanoflux.engine.compiler"):
        solver = build_solver(spec)
    assert not solver.program and "bubblewrap" in caplog.text and "in words" in caplog.text
