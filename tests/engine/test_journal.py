"""The journal keeps every attempt at a round; every reader counts a round once, by its last attempt."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, get_args, get_origin, is_typeddict

import pytest

from nanoflux import parse_spec
from nanoflux.base.paths import JOURNAL_NAME
from nanoflux.engine.journal import (
    Journal,
    RoundRecord,
    outcome,
    outcome_counts,
    read_journal,
    read_rounds,
    reference_refuted,
    reference_status,
    reference_verified,
)
from nanoflux.jobs.compile import compile_spec, run_counts
from nanoflux.jobs.curate import curate, run_spec
from nanoflux.jobs.optimize.data import load_cases
from nanoflux.jobs.report.page import load_view
from nanoflux.jobs.stats import run_stats
from nanoflux.testing import ScriptedEngine, scripted_roles
from tests.support.fakes import SCRIPTED_SPEC
from tests.support.records import DISTINCT, make_record, make_run, revised, with_revisions, with_solves

# The fields only a played round has, and those only a failed one has.
OK_FIELDS = {"question", "reference_answer", "solution_steps", "annotation", "defender_reasoning", "defender_answer",
             "judge", "models", "roles"}
FAILED_FIELDS = {"error", "error_kind", "failed_role", "failed_model", "failed_api_base"}
PAID = {"roles"}  # a failed round has the calls it paid for, if any


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


def strays(value: Mapping[str, Any], shape: Any, where: str = "record") -> list[str]:
    """Where `value` differs from the TypedDict `shape`, its typed parts included: keys it lacks or the shape
    does not name."""
    found = [f"{where} lacks {key}" for key in sorted(shape.__required_keys__ - value.keys())]
    found += [f"{where} has {key}, which its type does not name"
              for key in sorted(value.keys() - shape.__annotations__)]
    for key, hint in shape.__annotations__.items():
        hint = get_args(hint)[0] if get_origin(hint) is NotRequired else hint
        if key not in value:
            continue
        if is_typeddict(hint):
            found += strays(value[key], hint, f"{where}.{key}")
        elif get_origin(hint) in (dict, list) and is_typeddict(part := get_args(hint)[-1]):
            items = value[key].items() if isinstance(value[key], dict) else enumerate(value[key])
            found += [stray for name, item in items for stray in strays(item, part, f"{where}.{key}[{name}]")]
    return found


def test_played_and_hand_made_records_have_exactly_the_journal_records_shape(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    answer = engine.answer
    engine.answer = lambda role, prompt: {"nonsense": True} if len(engine.calls) == 2 else answer(role, prompt)
    result = compile_spec(parse_spec(SCRIPTED_SPEC), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          lms=scripted_roles(engine), progress=False)
    played = read_journal(result.run_dir / JOURNAL_NAME)
    made = [make_record(0), make_record(1, status="failed")]
    assert {record["status"] for record in played} == {"ok", "failed"}
    for record in played + made:
        assert strays(record, RoundRecord) == [], record
        fields, allowed = (OK_FIELDS, OK_FIELDS) if record["status"] == "ok" else (FAILED_FIELDS, FAILED_FIELDS | PAID)
        assert fields <= record.keys() and not (OK_FIELDS | FAILED_FIELDS) - allowed & record.keys(), record


@pytest.mark.parametrize(("verdict", "required", "verified", "refuted"), [
    ("match", True, True, False), ("match", False, True, False),
    ("undecidable", True, False, False), ("undecidable", False, True, False),
    ("mismatch", True, False, True), ("mismatch", False, False, True),
    ("error", True, False, True), ("error", False, False, True)])
def test_a_reference_is_verified_when_the_tools_confirmed_it_or_not_required_could_not_decide_it(
        verdict: str, required: bool, verified: bool, refuted: bool) -> None:
    judge = make_record(0, reference_check=verdict)["judge"]
    assert reference_verified(judge, required=required) is verified and reference_refuted(judge) is refuted


@pytest.mark.parametrize(("answers", "status", "verified_if_required", "verified_if_not"), [
    (["17", "17", "12"], "confirmed", True, True),
    (["17", "20", None], "unconfirmed", False, True),
    (["20", "20", "17"], "refuted", False, False)])
def test_with_solves_a_reference_is_verified_only_when_they_confirm_it(
        answers: list, status: str, verified_if_required: bool, verified_if_not: bool) -> None:
    judge = with_solves(make_record(0, reference_check="undecidable"), answers)["judge"]
    assert reference_status(judge) == status and reference_refuted(judge) is (status == "refuted")
    assert reference_verified(judge, required=True) is verified_if_required
    assert reference_verified(judge, required=False) is verified_if_not


def test_a_round_with_solves_round_trips_and_an_older_round_reads_by_its_steps(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL_NAME)
    journal.append(with_solves(make_record(0, reference_check="undecidable"), ["17", "17", "12"]))
    journal.append(make_record(1, reference_check="match"))  # as written before solves: no confirmation
    new, old = read_journal(tmp_path / JOURNAL_NAME)
    assert [s["agreement"] for s in new["solves"]] == ["match", "match", "mismatch"]
    assert reference_status(new["judge"]) == "confirmed" and strays(new, RoundRecord) == []
    assert "solves" not in old and reference_status(old["judge"]) == "confirmed"


def test_outcome_counts_a_round_by_its_last_revision() -> None:
    wrong, right = make_record(0), make_record(1, verdict="correct")
    assert outcome(right) == ("right", 0)
    assert outcome(wrong) == ("uncorrected", 0)
    revision = {"feedback": "f", "reasoning": "r", "answer": "17", "judge": {**wrong["judge"], "verdict": "correct"}}
    assert outcome({**wrong, "revisions": [{**revision, "judge": wrong["judge"]}, revision]}) == ("corrected", 2)
    assert outcome({**wrong, "revisions": [{**revision, "judge": wrong["judge"]}]}) == ("uncorrected", 1)


def test_outcome_counts_count_the_played_rounds_and_how_many_critiques_each_correction_took() -> None:
    def fixed(round_id: int, tries: int) -> dict:
        record = make_record(round_id)
        wrong = [revised(record, "16", right=False) for _ in range(tries - 1)]
        return with_revisions(record, *wrong, revised(record, "17", right=True))

    records = [make_record(0, verdict="correct"), fixed(1, 1), fixed(2, 2), fixed(3, 2), make_record(4),
               with_revisions(make_record(5), revised(make_record(5), "16", right=False)),
               make_record(6, status="failed")]
    assert outcome_counts(records) == {"right": 1, "corrected": 3, "uncorrected": 2,
                                       "corrected_after": {"1": 1, "2": 2}, "revisions": 6}
