"""The labelled set of whole solutions: the reference check confirms no wrong reference and >= 90% of right ones."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.reference_solutions import HANDWRITTEN, KINDS, make_solutions
from nanoflux.cli import main
from nanoflux.jobs.reference_eval import evaluate_references, load_solutions
from tests.support import DATA

SHIPPED = DATA / "reference_solutions.jsonl"


def test_the_shipped_set_is_what_the_generator_writes_and_covers_every_kind_both_ways():
    rows = [json.loads(line) for line in SHIPPED.read_text().splitlines()]
    assert rows == make_solutions()
    assert len(rows) >= 100
    kinds = [*KINDS, *(row[0] for row in HANDWRITTEN)]
    assert {(row["kind"], row["label"]) for row in rows} == {(k, label) for k in kinds for label in ("right", "wrong")}


def test_no_wrong_reference_is_confirmed_and_at_least_90_percent_of_right_ones_are():
    report = evaluate_references(load_solutions(SHIPPED))
    assert report.wrong_confirmed == 0, [r for r in report.results if r["label"] == "wrong" and r["verdict"] == "match"]
    assert report.right_confirmed_share >= 0.9, [r for r in report.results if r["label"] == "right"
                                                  and r["verdict"] != "match"]


def test_judge_eval_on_a_solutions_file_prints_the_figures_and_writes_them(tmp_path: Path):
    rows = [{"question": "What is 4 * 3 + 5?", "solution_steps": ["4 * 3 = 12", "12 + 5 = 17"], "reference": "17",
             "label": "right"},
            {"question": "What is 4 * 3 + 5?", "solution_steps": ["4 * 3 = 13", "13 + 5 = 18"], "reference": "18",
             "label": "wrong"}]
    path = tmp_path / "solutions.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(main, ["judge-eval", str(path), "--out", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert "wrong references confirmed: 0 of 1" in result.output and "right ones confirmed: 1 of 1" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["counts"]["wrong"]["mismatch"] == 1 and report["wrong_confirmed"] == 0


@pytest.mark.parametrize(("row", "expected"), [
    ({"question": "q", "solution_steps": ["1 + 1 = 2"], "reference": "2", "label": "correct"}, "`right` or `wrong`"),
    ({"question": "q", "solution_steps": "1 + 1 = 2", "reference": "2", "label": "right"}, "list of strings"),
])
def test_a_bad_solutions_file_exits_2_naming_the_line(tmp_path: Path, row: dict, expected: str):
    path = tmp_path / "solutions.jsonl"
    path.write_text(json.dumps(row) + "\n")
    result = CliRunner().invoke(main, ["judge-eval", str(path)])
    assert result.exit_code == 2 and expected in result.output and f"{path}:1:" in result.output
