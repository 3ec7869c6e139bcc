"""Ablation: every curation setting in a grid is trained and scored alike, beside a baseline, in one table."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux.cli import main
from nanoflux.jobs.ablate import COLUMNS, ablate, grid
from tests.support.records import DISTINCT, TOPICS, make_record, make_run
from tests.support.trainkit import emitted_run, tiny_model, write_heldout

# Four rounds at L3 (3.0), four at L4 (4.0), none at L5: the L5 cell selects nothing.
SCORES = [3.0, 4.0] * 4


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ablate")
    records = [make_record(i, question=DISTINCT[i], topic=TOPICS[i % 3], overall=score)
               for i, score in enumerate(SCORES)]
    heldout = write_heldout(root / "heldout.jsonl", [{"question": "What is 3 * 4 + 5?", "answer": "17"}])
    return {"run": make_run(root / "run", records), "baseline": emitted_run(root / "full", rows=6),
            "heldout": heldout, "tiny": tiny_model(root / "tiny")}


def test_a_grid_is_every_combination_named_by_what_it_sets() -> None:
    cells = grid(bands=["L3", "L4"], sizes=[2, None])
    assert [c["name"] for c in cells] == ["band-L3_size-2", "band-L3", "band-L4_size-2", "band-L4"]
    assert grid() == [{"name": "spec-defaults", "band": None, "hops": None, "size": None, "novelty": None}]


def test_a_tiny_grid_writes_one_table_and_its_plots(tmp_path: Path, inputs: dict[str, Path]) -> None:
    result = ablate(inputs["run"], heldout=inputs["heldout"], baseline=inputs["baseline"], bands=["L3", "L4", "L5"],
                    base=str(inputs["tiny"]), epochs=1, batch_size=2, max_length=64, max_new_tokens=2,
                    out=tmp_path)
    rows = {row["name"]: row for row in result.table}
    assert list(rows) == ["base", "baseline", "band-L3", "band-L4", "band-L5"]
    assert rows["baseline"]["examples"] == 6 and rows["band-L3"]["examples"] == rows["band-L4"]["examples"] == 4
    assert rows["baseline"]["compute_vs_baseline"] == 1.0 and 0 < rows["band-L4"]["compute_vs_baseline"] < 1
    assert rows["band-L4"]["accuracy"] == 0.0 and rows["band-L4"]["heldout_loss"] > 0
    assert rows["band-L5"]["examples"] == 0 and rows["band-L5"]["accuracy"] is None, "an empty cell stays, untrained"
    with (tmp_path / "ablation.csv").open() as handle:
        assert tuple(csv.DictReader(handle).fieldnames) == COLUMNS
    assert json.loads((tmp_path / "ablation.json").read_text())["table"] == result.table
    assert (tmp_path / "accuracy.png").stat().st_size > 0 and (tmp_path / "loss_curves.png").stat().st_size > 0


def test_the_cli_exits_2_when_the_run_or_the_baseline_is_missing(tmp_path: Path, inputs: dict[str, Path]) -> None:
    common = ["--heldout", str(inputs["heldout"]), "--out", str(tmp_path)]
    runner = CliRunner()
    no_run = runner.invoke(main, ["ablate", str(tmp_path / "none"), "--baseline", str(inputs["baseline"]), *common])
    no_baseline = runner.invoke(main, ["ablate", str(inputs["run"]), "--baseline", str(tmp_path / "x"), *common])
    assert no_run.exit_code == 2 and "not a run directory" in no_run.output
    assert no_baseline.exit_code == 2 and "no sft dataset" in no_baseline.output
