"""Run statistics: every breakdown adds up to the journal, and the CLI prints and saves them."""

import json
import os
from pathlib import Path

import litellm
import pytest
from click.testing import CliRunner

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import JOURNAL_NAME
from nanoflux.cli import main
from nanoflux.engine.journal import Journal
from nanoflux.jobs.compile import run_counts
from nanoflux.jobs.stats import format_stats, role_cost, run_stats, save_stats
from tests.support.records import make_record

RECORDS = [
    make_record(0, topic="rates", hops=2, overall=4.0, similarity=None),
    make_record(1, topic="rates", hops=3, overall=4.6, verdict="correct", similarity=0.35),
    make_record(2, topic="ratios", hops=3, overall=2.0, accepted=False, reason="out_of_band", similarity=0.12),
    make_record(3, topic="ratios", hops=4, overall=3.9, accepted=False, reason="duplicate", similarity=0.93),
    make_record(4, topic="ratios", hops=2, accepted=False, reason="incorrect_reference",
                reference_check="mismatch", similarity=0.55),
    make_record(5, topic="rates", hops=4, status="failed"),
]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    journal = Journal(tmp_path / JOURNAL_NAME)
    for record in reversed(RECORDS):  # the journal is in finishing order, not round order
        journal.append(record)
    return tmp_path


def test_every_breakdown_adds_up_to_the_rounds_in_the_journal(run_dir: Path) -> None:
    stats = run_stats(run_dir)
    assert stats["rounds_played"] == len(RECORDS) == sum(stats["reasons"].values())
    for table in ("by_verdict", "by_level", "by_topic", "by_hops"):
        assert sum(row["rounds"] for row in stats[table].values()) == len(RECORDS), table
        assert sum(row["accepted"] for row in stats[table].values()) == stats["accepted"] == 2, table


def test_counts_say_why_rounds_were_not_kept(run_dir: Path) -> None:
    stats = run_stats(run_dir)
    assert stats["reasons"] == {"accepted": 2, "out_of_band": 1, "duplicate": 1, "incorrect_reference": 1,
                                "failed": 1}
    assert stats["failed"] == 1 and stats["acceptance_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert stats["parse_failures"] == 1


def test_references_are_counted_by_what_became_of_them_and_the_best_examples_apart(run_dir: Path) -> None:
    stats = run_stats(run_dir)  # rounds 0-3 steps-confirmed, round 4 refuted; rounds 0, 2, 3 the defender failed
    assert stats["references"] == {"confirmed": 4, "refuted": 1} and stats["confirmed_defender_failed"] == 3
    assert "references: confirmed 4, refuted 1, unconfirmed 0; confirmed and the defender failed: 3" in \
        format_stats(stats)


def test_breakdowns_are_keyed_by_verdict_level_topic_and_hops_in_natural_order(run_dir: Path) -> None:
    stats = run_stats(run_dir)
    assert stats["by_verdict"] == {"correct": {"rounds": 1, "accepted": 1}, "failed": {"rounds": 1, "accepted": 0},
                                   "incorrect": {"rounds": 4, "accepted": 1}}
    assert list(stats["by_level"]) == ["L2", "L4", "L5", "failed"]
    assert stats["by_topic"]["rates"] == {"rounds": 3, "accepted": 2}
    assert list(stats["by_hops"]) == ["2", "3", "4"]


def test_the_similarity_distribution_covers_every_round_with_a_neighbour(run_dir: Path) -> None:
    similarity = run_stats(run_dir)["similarity"]
    assert similarity["count"] == 4 == sum(b["count"] for b in similarity["bins"])
    assert [b["count"] for b in similarity["bins"]][9] == 1, "0.93 falls in the 0.9-1.0 bin"
    assert (similarity["min"], similarity["max"]) == (0.12, 0.93)
    assert similarity["quantiles"]["p50"] == pytest.approx((0.35 + 0.55) / 2)


def test_tokens_and_latency_are_summed_per_role_over_played_rounds(run_dir: Path) -> None:
    roles = run_stats(run_dir)["roles"]
    assert roles["judge"] == {"calls": 5, "input_tokens": 50, "output_tokens": 25, "seconds": 0.5,
                              "mean_seconds": 0.1}


def test_pricing_leaves_the_environment_and_litellm_as_they_were_and_prints_nothing(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP")  # set on import of nanoflux.clients; pricing sets nothing
    monkeypatch.setattr(litellm, "suppress_debug_info", False)
    records = [make_record(0), make_record(1)]
    records[0]["roles"]["judge"]["model"] = "openai/gpt-4o-mini"
    records[1]["roles"]["judge"]["model"] = "scripted/judge"  # no provider litellm knows
    environ, quiet, prices = dict(os.environ), litellm.suppress_debug_info, litellm.model_cost
    cost = role_cost(records)
    assert cost["per_role"]["judge"] is None and cost["unpriced"] == ["scripted/judge"]
    assert dict(os.environ) == environ and litellm.suppress_debug_info == quiet and litellm.model_cost is prices
    assert capfd.readouterr() == ("", ""), "no 'Provider List' banner"
    assert role_cost(records[:1])["per_role"]["judge"] > 0


def test_the_run_manifest_counts_are_the_statistics_counts(run_dir: Path) -> None:
    stats = run_stats(run_dir)
    counts = run_counts(RECORDS, rounds_requested=10)
    own = {"rounds_requested": 10, "attempts": len(RECORDS)}
    assert counts == {**own, **{key: stats[key] for key in counts if key not in own}}


def test_statistics_are_saved_beside_the_journal_unless_told_otherwise(run_dir: Path, tmp_path: Path) -> None:
    stats, path = save_stats(run_dir)
    assert path == run_dir / "stats.json" and json.loads(path.read_text()) == stats
    _, elsewhere = save_stats(run_dir, tmp_path / "out" / "s.json")
    assert json.loads(elsewhere.read_text())["accepted"] == 2


def test_the_table_shows_every_breakdown(run_dir: Path) -> None:
    text = format_stats(run_stats(run_dir))
    assert "6 rounds, 2 accepted (33.3%), 1 failed (parse 1)" in text
    for heading in ("verdict", "level", "topic", "hops", "similarity", "role"):
        assert heading in text
    assert "cost: $0 (embedded)\n" in text + "\n", "every round on the embedded model"


def test_a_directory_without_a_journal_has_no_statistics(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match="no journal"):
        run_stats(tmp_path)


def test_the_stats_command_prints_the_table_and_writes_json(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", str(run_dir), "--json", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert "2 accepted" in result.output and json.loads((tmp_path / "s.json").read_text())["rounds_played"] == 6


@pytest.mark.parametrize(("make", "expected"), [(False, "does not exist"), (True, "no journal")])
def test_the_stats_command_exits_2_without_a_run(tmp_path: Path, make: bool, expected: str) -> None:
    target = tmp_path / "run"
    if make:
        target.mkdir()
    result = CliRunner().invoke(main, ["stats", str(target)])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output
