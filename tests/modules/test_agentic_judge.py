"""The agentic judge: a dspy.ReAct grader that calls the spec's tools, still overruled by the tools' own checks."""

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from nanoflux.base.errors import NanofluxError
from nanoflux.engine.compiler import build_judge
from nanoflux.modules import Judge
from nanoflux.spec.model import parse_spec
from nanoflux.tools import get_tool

QUESTION = "A shelf has 4 boxes of 3 jars and 5 loose jars. How many jars?"
STEPS = ["4 * 3 = 12", "12 + 5 = 17"]
WEIGHTS = {"correctness": 0.5, "clarity": 0.5}
CHECK_WITH_SYMPY = {"next_thought": "Recompute the total with sympy.", "next_tool_name": "expressions_equal",
                    "next_tool_args": {"first": "4*3 + 5", "second": "17"}}
FINISH = {"next_thought": "The total is confirmed.", "next_tool_name": "finish", "next_tool_args": {}}
GRADE = {"reasoning": "sympy agrees.", "scores": {"correctness": 5, "clarity": 4}, "verdict": "correct",
         "critique": "Right."}


def judge_agentically(answer: str) -> dspy.Prediction:
    lm = DummyLM([CHECK_WITH_SYMPY, FINISH, GRADE], adapter=dspy.JSONAdapter())
    judge = Judge(weights=WEIGHTS, answer_type="numeric", agent_tools=get_tool("sympy").functions)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        return judge(question=QUESTION, reference_answer="17", solution_steps=STEPS, reasoning="4*3+5", answer=answer)


def test_the_agentic_judge_calls_a_tool_and_records_its_result() -> None:
    result = judge_agentically("17")
    assert result.tool_calls == [{"tool": "expressions_equal", "args": {"first": "4*3 + 5", "second": "17"},
                                  "observation": {"equal": True,
                                                  "reason": result.tool_calls[0]["observation"]["reason"]}}]
    assert result.verdict == "correct" and result.scores == {"correctness": 5, "clarity": 4}


def test_tool_evidence_still_overrides_the_agentic_judge() -> None:
    result = judge_agentically("12")
    assert result.verdict == "incorrect" and result.verdict_source == "tools"
    assert result.scores["correctness"] == 2


def test_the_plain_judge_makes_no_tool_calls() -> None:
    assert isinstance(Judge(weights=WEIGHTS).grade, dspy.Predict)


def test_a_spec_turns_the_agentic_judge_on_with_its_tools() -> None:
    spec = parse_spec("name: a\ndescription: d\ntools: [sympy, units]\n"
                      "roles:\n  judge: {agentic: true, max_iters: 3}\n")
    grader = build_judge(spec).grade
    assert isinstance(grader, dspy.ReAct) and grader.max_iters == 3
    expected = {fn.__name__ for name in ("sympy", "units") for fn in get_tool(name).functions}
    assert set(grader.tools) == expected | {"finish"}


def test_a_default_spec_keeps_the_one_call_judge() -> None:
    assert isinstance(build_judge(parse_spec("name: a\ndescription: d\n")).grade, dspy.Predict)


def test_an_agentic_judge_without_tools_fails_validation() -> None:
    with pytest.raises(NanofluxError, match="needs at least one tool"):
        parse_spec("name: a\ndescription: d\ntools: []\nroles:\n  judge: {agentic: true}\n")


@pytest.mark.parametrize(("mode", "stdout"), [("isolated", ""), ("unsafe-local", "42\n")])
def test_the_python_tool_runs_in_the_specs_sandbox(mode: str, stdout: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap: isolated code is refused, unsafe-local runs it
    spec = parse_spec(f"name: a\ndescription: d\ntools: [python]\nsandbox: {mode}\n"
                      "roles:\n  judge: {agentic: true}\n")
    observation = build_judge(spec).grade.tools["execute_python"](code="print(6 * 7)")
    assert observation["stdout"] == stdout
    assert ("apt-get install bubblewrap" in (observation["error"] or "")) == (mode == "isolated")
