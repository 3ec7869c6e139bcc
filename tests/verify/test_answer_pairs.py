"""The stored answer pairs (benchmarks/judge_tools.py makes them): every rewrite accepted, every wrong pair rejected,
and every loose pair (a percentage, bound, range or approximation against a value; some of several options) given
its pinned verdict: never a match, and undecidable where the answer might still be right."""

import json

from tests.support import DATA

PAIRS = [json.loads(line)
         for line in (DATA / "answer_pairs.jsonl").read_text().splitlines()]


def test_every_equivalent_rewrite_matches_and_every_wrong_pair_does_not():
    from nanoflux.verify import answers_match

    wrong = [(p["form"], p["predicted"], p["reference"]) for p in PAIRS
             if answers_match(p["predicted"], p["reference"]) != p["equivalent"]]
    assert wrong == []
    assert sum(p["equivalent"] for p in PAIRS) > 250 and sum(not p["equivalent"] for p in PAIRS) > 100


def test_loose_pairs_get_their_pinned_verdict():
    from nanoflux.verify import check_answer

    pinned = [p for p in PAIRS if "verdict" in p]
    off = [(p["predicted"], p["reference"], p["verdict"], check.verdict, check.reason) for p in pinned
           if (check := check_answer(p["predicted"], p["reference"])).verdict != p["verdict"]]
    assert off == []
    forms = {p["form"] for p in pinned}
    assert {"percent vs plain number", "bound", "approximation", "range", "several options"} <= forms
    assert sum(p["verdict"] == "undecidable" for p in pinned) > 40
