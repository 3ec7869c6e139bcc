"""The embedded SmolLM2 model through full rounds of the real pipeline: no network, no key."""

import json
from pathlib import Path

import pytest

from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
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
