"""Evaluation: held-out questions answered, checked with the judge's answer check, scored per topic."""

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.cli import main
from nanoflux.jobs.eval import HFCandidate, evaluate, read_heldout
from tests.support.trainkit import tiny_model, write_heldout

HELDOUT = [
    {"question": "What is 3 * 4 + 5?", "answer": "17", "topic": "arithmetic"},
    {"question": "What is 2 ** 5?", "answer": "32", "topic": "arithmetic"},
    {"question": "Simplify (x^2 - 1)/(x - 1).", "answer": "x + 1", "topic": "algebra", "solution": "Answer: x + 1"},
]


class KnownAnswers:
    """A model whose answers are fixed in advance, so its accuracy is known."""

    def __init__(self, name: str, answers: dict[str, str], loss: float = 1.0):
        self.name, self.answers, self.loss = name, answers, loss

    def answer(self, questions: list[str]) -> list[str]:
        return [self.answers[q] for q in questions]

    def nll(self, question: str, reference: str) -> float:
        return self.loss


@pytest.fixture
def heldout(tmp_path: Path) -> Path:
    return write_heldout(tmp_path / "heldout.jsonl", HELDOUT)


def test_accuracy_counts_answers_the_check_finds_equivalent(tmp_path: Path, heldout: Path) -> None:
    model = KnownAnswers("known", {HELDOUT[0]["question"]: "3*4 = 12, 12 + 5 = 17.\nAnswer: 17",
                                   HELDOUT[1]["question"]: "Answer: 10",
                                   HELDOUT[2]["question"]: "Answer: 1 + x"})
    score = evaluate(model, heldout, out=tmp_path / "eval").models[0]
    assert (score.correct, score.total) == (2, 3) and score.accuracy == pytest.approx(2 / 3)
    assert score.per_topic == {"algebra": 1.0, "arithmetic": 0.5} and score.heldout_loss == 1.0
    saved = [json.loads(line) for line in (tmp_path / "eval" / "answers.jsonl").read_text().splitlines()]
    assert [row["correct"] for row in saved] == [True, False, True] and saved[1]["prediction"] == "Answer: 10"


def test_base_and_tuned_models_are_compared_in_one_call(tmp_path: Path, heldout: Path) -> None:
    wrong = KnownAnswers("base", {row["question"]: "Answer: 0" for row in HELDOUT}, loss=2.0)
    right = KnownAnswers("tuned", {row["question"]: f"Answer: {row['answer']}" for row in HELDOUT}, loss=0.5)
    result = evaluate([wrong, right], heldout, out=tmp_path)
    assert [(m.name, m.accuracy, m.heldout_loss) for m in result.models] == [("base", 0.0, 2.0), ("tuned", 1.0, 0.5)]
    report = json.loads((tmp_path / "eval.json").read_text())
    assert [m["name"] for m in report["models"]] == ["base", "tuned"] and report["data"]["rows"] == 3


@pytest.mark.parametrize("content, message", [(None, "heldout.jsonl does not exist"), ("", "no questions"),
                                              ('{"question": "q"}\n', ":1: no `question`, or no `answer`"),
                                              ("not json\n", "not JSON")])
def test_a_bad_heldout_file_is_a_user_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "heldout.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NanofluxError, match=message):
        read_heldout(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny"))


def test_a_transformers_model_answers_greedily_and_scores_references(tiny: Path) -> None:
    model = HFCandidate(str(tiny), max_new_tokens=4, batch_size=2)
    questions = [row["question"] for row in HELDOUT]
    answers = model.answer(questions)
    assert len(answers) == 3 and answers == model.answer(questions), "greedy decoding repeats itself"
    loss = model.nll(HELDOUT[0]["question"], "Answer: 17")
    assert math.isfinite(loss) and loss > 5, "a random model finds the reference unlikely (vocab ~49k: ln ~10.8)"


def test_the_cli_prints_accuracy_per_model_and_exits_2_on_missing_data(tmp_path: Path, heldout: Path,
                                                                      tiny: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "--model", str(tiny), "--data", str(heldout), "--out",
                                       str(tmp_path / "e"), "--max-new-tokens", "2"])
    assert result.exit_code == 0, result.output
    assert f"{tiny}: accuracy 0.000 (0/3)" in result.output and (tmp_path / "e" / "answers.jsonl").is_file()
    missing = CliRunner().invoke(main, ["eval", "--model", str(tiny), "--data", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "none.jsonl does not exist" in missing.output
