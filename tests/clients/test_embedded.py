"""The embedded SmolLM2 model through full rounds of the real pipeline: no network, no key."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from nanoflux.engine.compiler import build_role_lms
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import RunResult, compile_spec
from nanoflux.spec.model import Spec, parse_spec
from nanoflux.testing import ScriptedEngine, scripted_lm
from tests.support import ROOT


@pytest.mark.slow
def test_embedded_model_plays_full_rounds_into_a_run_directory(tmp_path: Path) -> None:
    result = compile_spec(ROOT / "specs" / "math.yaml", rounds=2, out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          progress=False)
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert [r["round_id"] for r in sorted(records, key=lambda r: r["round_id"])] == [0, 1]
    played = [r for r in records if r["status"] == "ok"]
    assert played, f"no round parsed: {[r.get('error') for r in records]}"
    for record in played:
        assert record["question"] and record["reference_answer"] and record["models"]["judge"] == "local/smollm2-135m"
        assert set(record["judge"]["scores"]) == {"correctness", "rigor", "completeness", "clarity"}
        assert record["judge"]["level"] in {"L1", "L2", "L3", "L4", "L5"}
        assert record["roles"]["attacker"]["output_tokens"] > 0
        # not a thinking model: no trace journaled, no thinking tokens counted
        assert "traces" not in record and all("trace" not in solve for solve in record["solves"])
        assert all("reasoning_tokens" not in usage for usage in record["roles"].values())
        # specs/math.yaml asks one solve in words of the embedded model: journaled, answered or not, and paid for
        assert len(record["solves"]) == 1 and record["models"]["solver"] == "local/smollm2-135m"
        assert record["roles"]["solver"]["output_tokens"] > 0 and record["judge"]["confirmation"]["rule"] == "solves"
    # alternation: round 1's attacker is round 0's defender (the same embedded model here, so check the wiring ran)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["counts"]["rounds_played"] == 2 and manifest["models"]["attacker"] == "local/smollm2-135m"
    assert (result.run_dir / "dataset" / "sft.jsonl").exists() and (result.run_dir / "program.json").exists()


def revising_math_spec() -> Spec:
    """specs/math.yaml with one revision and the exports that carry revisions and traces."""
    text = (ROOT / "specs" / "math.yaml").read_text()
    text = text.replace("solve_programs: false}", "solve_programs: false, revise: 1}")
    return parse_spec(text.replace("formats: [sft, dpo]", "reasoning: defender\n  formats: [sft, dpo, revision]"))


def check_revised_rounds(result: RunResult) -> list[dict]:
    """The run's rounds all played, each wrong first answer revised once and each right one not, no trace journaled
    (the embedded model returns none), and the revision file written; returns the rounds."""
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    for record in records:
        wrong = record["judge"]["verdict"] == "incorrect"
        assert len(record["revisions"]) == wrong, "one revision after a wrong first answer, none after a right one"
        for revision in record["revisions"]:
            assert revision["feedback"] and revision["judge"]["verdict"] in ("correct", "incorrect")
            assert "trace" not in revision
        assert "traces" not in record
        assert record["roles"]["defender"].get("calls", 1) == 1 + wrong
    assert result.manifest["counts"]["outcomes"]["revisions"] == sum(len(r["revisions"]) for r in records)
    assert (result.run_dir / "dataset" / "revision.jsonl").exists()
    return records


@pytest.mark.slow
def test_the_embedded_spec_with_revisions_plays_its_rounds_and_journals_no_trace(tmp_path: Path) -> None:
    result = compile_spec(revising_math_spec(), rounds=2, out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          progress=False)
    check_revised_rounds(result)


@pytest.mark.slow
def test_the_embedded_defender_revises_after_a_judge_that_finds_it_wrong(tmp_path: Path) -> None:
    # The embedded judge mostly finds the embedded defender right (its verdict stands where the tools cannot read
    # a 135M model's answers): a scripted judge that finds every answer wrong makes the embedded defender revise.
    spec = revising_math_spec()
    lms = replace(build_role_lms(spec), judge=scripted_lm(ScriptedEngine(), "scripted/judge"), solver=None)
    result = compile_spec(spec, lms=lms, rounds=2, out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          progress=False)
    records = check_revised_rounds(result)
    assert sum(len(r["revisions"]) for r in records) >= 1, "the embedded model answered again"
    assert all(r["models"]["defender"] == "local/smollm2-135m" for r in records)
