"""The journal keeps every attempt at a round; every reader counts a round once, by its last attempt."""

import json
from pathlib import Path

import pytest

from nanoflux.curate import curate, run_spec
from nanoflux.journal import Journal, read_journal, read_rounds
from nanoflux.layout import JOURNAL_NAME
from nanoflux.optimize.data import load_cases
from nanoflux.pipeline import run_counts
from nanoflux.report import load_view
from nanoflux.stats import run_stats
from tests.records import DISTINCT, make_record, make_run


def lm_failure(round_id: int) -> dict:
    return {**make_record(round_id, status="failed"), "error": "LMServerError: injected", "error_kind": "lm"}


@pytest.fixture
def replayed(tmp_path: Path) -> Path:
    """Round 0 failed (server down), then was played again; round 1 was played twice (--retry-failed)."""
    return make_run(tmp_path / "run", [lm_failure(0), make_record(1, question=DISTINCT[1]),
                                       make_record(0, question=DISTINCT[0]),
                                       make_record(1, question=DISTINCT[2], overall=2.0, accepted=False,
                                                   reason="out_of_band")])


def test_attempts_are_numbered_per_round_and_go_on_after_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL_NAME)
    journal.append(lm_failure(0))
    journal.append(make_record(1))
    Journal(tmp_path / JOURNAL_NAME).append(make_record(0))
    assert [(r["round_id"], r["attempt"]) for r in read_journal(tmp_path / JOURNAL_NAME)] == [(0, 1), (1, 1), (0, 2)]
    assert [(r["round_id"], r["status"]) for r in Journal(tmp_path / JOURNAL_NAME).rounds()] == [(0, "ok"), (1, "ok")]


def test_a_journal_written_before_attempts_were_numbered_counts_each_line_as_one(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_text(json.dumps(lm_failure(3)) + "\n")
    Journal(path).append(make_record(3))
    assert [r.get("attempt") for r in read_journal(path)] == [None, 2]


def test_stats_report_manifest_and_training_sets_count_each_round_by_its_last_attempt(replayed: Path) -> None:
    assert [(r["round_id"], r["question"]) for r in read_rounds(replayed / JOURNAL_NAME)] == [
        (0, DISTINCT[0]), (1, DISTINCT[2])]
    stats = run_stats(replayed)
    assert (stats["rounds_played"], stats["failed"], stats["accepted"]) == (2, 0, 1)
    assert stats["reasons"] == {"accepted": 1, "out_of_band": 1} and stats["failures"] == {}
    counts = run_counts(read_journal(replayed / JOURNAL_NAME), rounds_requested=2)
    assert (counts["rounds_played"], counts["attempts"]) == (2, 4)
    assert [r["question"] for r in load_view(replayed).records] == [DISTINCT[0], DISTINCT[2]]
    cases = load_cases(run_spec(replayed), replayed)
    assert [case.question for case in cases] == [DISTINCT[0], DISTINCT[2]]


@pytest.mark.slow
def test_re_curation_counts_each_round_by_its_last_attempt(replayed: Path) -> None:
    result = curate(replayed, band="L1-L5")
    assert result.manifest["counts"]["rounds"] == 2 and result.manifest["counts"]["reasons"] == {}
    rows = (result.out_dir / "dataset" / "examples.jsonl").read_text().splitlines()
    assert [json.loads(row)["question"] for row in rows] == [DISTINCT[0], DISTINCT[2]]
