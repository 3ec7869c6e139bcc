"""judge-eval: the judge's agreement with labelled answers, as figures a user can check by hand."""

import json
from pathlib import Path

import dspy
import pytest
from click.testing import CliRunner
from dspy.utils.dummies import DummyLM

from nanoflux.cli import main
from nanoflux.engine import compiler
from nanoflux.jobs.judge_eval import LabelledItem, evaluate_judge, load_labelled
from nanoflux.modules import Judge
from tests.support import DATA

SHIPPED = DATA / "judge_labelled.jsonl"
WEIGHTS = {"correctness": 0.5, "clarity": 0.5}
SAYS_CORRECT = {"scores": {"correctness": 4, "clarity": 4}, "verdict": "correct", "critique": "Looks right."}


def item(answer: str, reference: str, label: str) -> LabelledItem:
    return LabelledItem(question="How many?", reference=reference, answer=answer, label=label, answer_type="numeric")


# The tools decide the first four (17 = 17, 12 != 17, 0.25 = 1/4, 30240 != 252 although labelled correct);
# an empty answer leaves the verdict to the LM, which always says "correct".
ITEMS = [item("17", "17", "correct"), item("12", "17", "incorrect"), item("0.25", "1/4", "correct"),
         item("30240", "252", "correct"), item("", "8", "incorrect"), item("", "9", "correct")]


def evaluate(items: list[LabelledItem], *answers: dict):
    lm = DummyLM(list(answers), adapter=dspy.JSONAdapter())
    return evaluate_judge(items, Judge(weights=WEIGHTS, answer_type="numeric"), lm=lm, tools=["sympy"])


def test_the_report_counts_verdicts_against_labels_as_computed_by_hand() -> None:
    report = evaluate(ITEMS, *[SAYS_CORRECT] * len(ITEMS))
    assert report.confusion == {"correct": {"correct": 3, "incorrect": 1, "error": 0},
                                "incorrect": {"correct": 1, "incorrect": 1, "error": 0}}
    assert (report.total, report.accuracy, report.precision, report.recall) == (6, 4 / 6, 3 / 4, 3 / 4)
    assert report.f1 == pytest.approx(0.75)
    assert report.sources == {"tools": {"items": 4, "agreed": 3}, "judge": {"items": 2, "agreed": 1}}
    assert [row["verdict"] for row in report.results] == ["correct", "incorrect", "correct", "incorrect",
                                                           "correct", "correct"]


def test_an_item_the_judge_fails_on_is_an_error_verdict_and_the_evaluation_goes_on() -> None:
    unscored = {"scores": {"correctness": 4}, "verdict": "correct", "critique": "No clarity score."}
    report = evaluate(ITEMS[:2], unscored, SAYS_CORRECT)
    assert report.confusion["correct"] == {"correct": 0, "incorrect": 0, "error": 1}
    assert report.confusion["incorrect"]["incorrect"] == 1
    assert report.recall == 0.0 and report.accuracy == 0.5
    assert "clarity" in report.results[0]["error"]


def test_the_report_renders_a_confusion_table_and_serialises_its_figures() -> None:
    report = evaluate(ITEMS, *[SAYS_CORRECT] * len(ITEMS))
    text = report.render()
    assert "labelled correct" in text and "judged incorrect" in text and "accuracy 0.667" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["items"] == 6 and data["precision"] == 0.75 and len(data["results"]) == 6


def test_the_shipped_labelled_set_mixes_answer_forms_and_both_labels() -> None:
    items = load_labelled(SHIPPED)
    assert 40 <= len(items) <= 60
    assert {i.label for i in items} == {"correct", "incorrect"}
    assert {"numeric", "expression", "units", "choice", "text", "auto"} <= {i.answer_type for i in items}
    assert any("\\" in i.answer + i.reference for i in items)  # LaTeX


# --- the command ------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(main, ["judge-eval", *args])


def test_judge_eval_prints_the_table_and_writes_the_json_report(tmp_path: Path, monkeypatch) -> None:
    rows = [{"question": "How many?", "reference": "17", "answer": "17", "label": "correct"},
            {"question": "How many?", "reference": "17", "answer": "12", "label": "incorrect"}]
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(row) + "\n" for row in rows))
    grades = DummyLM([{**SAYS_CORRECT, "scores": {"correctness": 4, "rigor": 4, "completeness": 4, "clarity": 4}}] * 2,
                     adapter=dspy.JSONAdapter())
    monkeypatch.setattr(compiler, "role_lm", lambda settings, cache=True: grades)
    result = invoke(str(labelled), "--out", str(tmp_path / "report.json"))
    assert result.exit_code == 0, result.output
    assert "accuracy 1.000" in result.output
    assert json.loads((tmp_path / "report.json").read_text())["confusion"]["incorrect"]["incorrect"] == 1


@pytest.mark.parametrize(("content", "expected"), [
    (None, "labelled.jsonl does not exist"),
    ("", "holds no items"),
    ('{"question": "q", "reference": "1", "answer": "1", "label": "correct"}\n{oops\n', "labelled.jsonl:2: not JSON"),
    ('{"question": "q", "reference": "1", "label": "correct"}\n', "labelled.jsonl:1: missing key(s) answer"),
    ('{"question": "q", "reference": "1", "answer": "1", "label": "maybe"}\n', "`correct` or `incorrect`"),
    ('{"question": "q", "reference": "1", "answer": "1", "label": "correct", "answer_type": "prose"}\n', "prose"),
])
def test_bad_labelled_files_exit_2_with_a_message_and_no_traceback(tmp_path: Path, content: str | None,
                                                                   expected: str) -> None:
    path = tmp_path / "labelled.jsonl"
    if content is not None:
        path.write_text(content)
    result = invoke(str(path))
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_judge_eval_runs_the_embedded_model_on_five_items(tmp_path: Path) -> None:
    labelled = tmp_path / "five.jsonl"
    lines = SHIPPED.read_text().splitlines()
    labelled.write_text("\n".join(lines[i] for i in (0, 1, 16, 31, 38)) + "\n")
    spec = tmp_path / "spec.yaml"  # a short judge budget keeps five real calls quick on a CPU
    spec.write_text("name: calibration\ndescription: Short answers.\nroles:\n  judge: {max_tokens: 128}\n")
    result = invoke(str(labelled), "--spec", str(spec), "--model", "local/smollm2-135m",
                    "--out", str(tmp_path / "report.json"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["items"] == 5 and report["model"] == "local/smollm2-135m"
    assert report["sources"]["tools"]["items"] >= 4  # the tools decide the numeric, LaTeX and units items
