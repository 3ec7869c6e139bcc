"""The stored answer pairs (benchmarks/judge_tools.py makes them): every rewrite accepted, every wrong pair rejected."""

import json
from pathlib import Path

PAIRS = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "answer_pairs.jsonl").read_text().splitlines()]


def test_every_equivalent_rewrite_matches_and_every_wrong_pair_does_not():
    from nanoflux.tools import answers_match

    wrong = [(p["form"], p["predicted"], p["reference"]) for p in PAIRS
             if answers_match(p["predicted"], p["reference"]) != p["equivalent"]]
    assert wrong == []
    assert sum(p["equivalent"] for p in PAIRS) > 250 and sum(not p["equivalent"] for p in PAIRS) > 100
