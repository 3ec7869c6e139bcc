"""The role modules with DSPy's DummyLM: each returns its fields; the judge trusts tools over its LM."""

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from nanoflux.modules import Attacker, Defender, Judge, RoleLMs, Round

ATTACK = {"question": "A shelf has 4 boxes of 3 jars and 5 loose jars. How many jars?", "reference_answer": "17",
          "solution_steps": ["4 * 3 = 12", "12 + 5 = 17"], "annotation": "Multiply before adding."}
WEIGHTS = {"correctness": 0.5, "clarity": 0.5}


def dummy(*answers: dict) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def grade(verdict: str = "correct", correctness: int = 5, clarity: int = 4) -> dict:
    return {"scores": {"correctness": correctness, "clarity": clarity}, "verdict": verdict, "critique": "Fine."}


def test_attacker_writes_question_reference_steps_and_annotation() -> None:
    with dspy.context(lm=dummy(ATTACK), adapter=dspy.JSONAdapter()):
        out = Attacker()(topic="arithmetic", hops=2, answer_type="numeric", avoid=["an old question"])
    assert out.question.startswith("A shelf") and out.reference_answer == "17"
    assert out.solution_steps == ATTACK["solution_steps"] and "Multiply" in out.annotation


def test_defender_answers_with_reasoning() -> None:
    with dspy.context(lm=dummy({"reasoning": "4*3+5", "answer": "17"}), adapter=dspy.JSONAdapter()):
        out = Defender()(question=ATTACK["question"])
    assert (out.reasoning, out.answer) == ("4*3+5", "17")


def judge_once(answer: str, lm_grade: dict) -> dspy.Prediction:
    with dspy.context(lm=dummy(lm_grade), adapter=dspy.JSONAdapter()):
        return Judge(weights=WEIGHTS, answer_type="numeric")(
            question=ATTACK["question"], reference_answer="17", solution_steps=ATTACK["solution_steps"],
            reasoning="...", answer=answer)


def test_judge_weights_scores_into_an_overall_score_and_level() -> None:
    result = judge_once("17", grade(correctness=5, clarity=4))
    assert result.overall == 4.5 and result.level == "L5"
    assert result.verdict == "correct" and result.verdict_source == "tools"
    assert result.reference_check["verdict"] == "match"


def test_tool_evidence_overrides_a_wrong_lm_verdict() -> None:
    result = judge_once("12", grade(verdict="correct", correctness=5, clarity=4))
    assert result.verdict == "incorrect" and result.verdict_source == "tools"
    assert result.scores["correctness"] == 2  # capped: the tools proved the answer wrong
    assert result.answer_check["verdict"] == "mismatch"


def test_judge_rejects_scores_missing_a_rubric_dimension() -> None:
    with pytest.raises(ValueError, match="clarity"):
        judge_once("17", {"scores": {"correctness": 5}, "verdict": "correct", "critique": "ok"})


def test_judge_clamps_out_of_range_scores() -> None:
    assert judge_once("17", grade(correctness=9, clarity=0)).scores == {"correctness": 5, "clarity": 1}


def round_lms(alternate: bool) -> RoleLMs:
    first, second = dummy(ATTACK, {"reasoning": "r", "answer": "12"}), dummy({"reasoning": "r", "answer": "17"}, ATTACK)
    first.model, second.model = "model/one", "model/two"
    return RoleLMs(attacker=first, defender=second, judge=dummy(grade(), grade()), alternate=alternate)


def test_round_plays_attacker_defender_judge_on_their_own_lms() -> None:
    program = Round(Attacker(), Defender(), Judge(weights=WEIGHTS, answer_type="numeric"), lms=round_lms(False))
    out = program(topic="arithmetic", hops=2, answer_type="numeric", round_index=0)
    assert out.models == {"attacker": "model/one", "defender": "model/two", "judge": "dummy"}
    assert out.defender_answer == "17" and out.judge["verdict"] == "correct"
    assert set(out.roles) == {"attacker", "defender", "judge"}


def test_alternation_swaps_attacker_and_defender_on_odd_rounds() -> None:
    lms = round_lms(True)
    assert lms.for_round(0)["attacker"] is lms.attacker
    assert lms.for_round(1)["attacker"] is lms.defender and lms.for_round(1)["defender"] is lms.attacker
    assert lms.for_round(1)["judge"] is lms.judge
    assert RoleLMs(lms.attacker, lms.defender, lms.judge, alternate=False).for_round(1)["attacker"] is lms.attacker


def test_an_empty_question_fails_the_round() -> None:
    lms = RoleLMs(attacker=dummy({**ATTACK, "question": " "}), defender=dummy(), judge=dummy())
    program = Round(Attacker(), Defender(), Judge(weights=WEIGHTS), lms=lms)
    with pytest.raises(ValueError, match="question"):
        program(topic="t", hops=2, answer_type="numeric")
