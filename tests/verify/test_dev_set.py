"""check_reference on every solution of the GSM8K dev set (issue 22): it never raises, no slip is confirmed,
and at least 85% of the right solutions are; each of its distinct lines alone gets a verdict too (slow).

The dev set (`../shared/data/gsm8k_model_solutions_dev.jsonl`: 4,589 solutions by GPT-3 models and people,
questions 400-1318 of GSM8K's test split, MIT licence) lives beside the repository, not in it; the test is
skipped where it is absent. `benchmarks/reference_dev.py` prints the full table.
"""

import json

import pytest

from nanoflux.verify import check_reference
from tests.support import ROOT

DEV = ROOT.parent / "shared" / "data" / "gsm8k_model_solutions_dev.jsonl"


@pytest.mark.skipif(not DEV.exists(), reason=f"the GSM8K dev set is not at {DEV} (see benchmarks/reference_dev.py)")
def test_every_dev_solution_gets_a_verdict_and_no_false_calculation_is_confirmed():
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    verdicts = {}
    for row in rows:
        verdicts[(row["q"], row["who"])] = check_reference(row["reference"], row["steps"], question=row["question"])
    assert len(verdicts) == len(rows) > 4000
    slips = [(key, check.reason) for row in rows if row["label"] == "slip"
             for key in [(row["q"], row["who"])] if (check := verdicts[key]).verdict == "match"]
    assert slips == []
    right = [verdicts[(row["q"], row["who"])].verdict for row in rows if row["label"] == "right"]
    assert right.count("match") / len(right) >= 0.85


@pytest.mark.slow
def test_every_line_of_the_dev_set_alone_gets_a_verdict():
    if not DEV.exists():
        pytest.skip(f"the GSM8K dev set is not at {DEV}")
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    lines = sorted({step for row in rows for step in row["steps"]})
    for line in lines:
        assert check_reference("1", [line]).verdict in ("match", "mismatch", "undecidable", "error")
