"""The share of references the tools verify in a run, per kind of claim in the solution steps.

Compiles specs/math.yaml with a scripted attacker whose solutions (benchmarks/data/claim_kinds.jsonl)
use each claim kind: arithmetic chains, mod and remainders, C(n, k) / P(n, k) / n!, percentages and
fractions of, percentages as results, equations and systems, means and sums in words, unit conversions,
weight-based doses, genomics, code and stated answers; some carry one planted error each. Prints, per
kind and overall, the share of rounds whose reference the judge's reference check confirmed (`match`),
refuted (`mismatch`) and left undecidable, for the right solutions and the planted errors apart, and
how many wrong references were confirmed (the goal is 0). Run it before and after a change to the
reference check: the figures are that change's effect on a run.

Run: .venv/bin/python benchmarks/verified_share.py [--rounds N]  (default: every solution once)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from nanoflux.engine.journal import read_journal  # noqa: E402
from nanoflux.jobs.compile import compile_spec  # noqa: E402
from nanoflux.testing import ScriptedEngine, scripted_roles  # noqa: E402

SOLUTIONS_PATH = ROOT / "benchmarks" / "data" / "claim_kinds.jsonl"
SPEC_PATH = ROOT / "specs" / "math.yaml"
VERDICTS = ("match", "mismatch", "undecidable", "error")
SCORES = {"correctness": 4, "rigor": 4, "completeness": 4, "clarity": 4}


def load_solutions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SOLUTIONS_PATH.read_text().splitlines() if line.strip()]


def scripted_answers(solutions: list[dict[str, Any]]):
    """The attacker plays the solutions in order (cycling); the defender states the reference; the judge
    scores 4 everywhere. Only the tools' reference check decides what this benchmark measures."""
    order = itertools.cycle(solutions)
    last: dict[str, str] = {}

    def answer(role: str, prompt: str) -> dict[str, Any]:
        if role == "attacker":
            row = next(order)
            last["reference"] = row["reference_answer"]
            return {key: row[key] for key in ("question", "reference_answer", "solution_steps")} | {
                "annotation": f"Claim kind: {row['kind']}."}
        if role == "defender":
            return {"reasoning": "I follow the steps.", "answer": last.get("reference", "0")}
        return {"scores": SCORES, "verdict": "correct", "critique": "Sound."}

    return answer


def run(rounds: int, work: Path) -> list[dict[str, Any]]:
    """Play `rounds` rounds of specs/math.yaml on one thread; the journal's records."""
    engine = ScriptedEngine(scripted_answers(load_solutions()))
    result = compile_spec(SPEC_PATH, rounds=rounds, threads=1, out=work / "run", cache_dir=work / "cache",
                          lms=scripted_roles(engine), progress=False)
    return read_journal(result.run_dir / "rounds.jsonl")


def tally(records: list[dict[str, Any]], solutions: list[dict[str, Any]]) -> dict[tuple[str, bool], Counter]:
    """(claim kind, planted error) -> Counter of reference-check verdicts, matched to the solution by question."""
    by_question = {row["question"]: row for row in solutions}
    counts: dict[tuple[str, bool], Counter] = defaultdict(Counter)
    for record in records:
        if record["status"] != "ok":
            counts[("(round failed)", False)]["error"] += 1
            continue
        row = by_question[record["question"]]
        counts[(row["kind"], row["planted_error"])][record["judge"]["reference_check"]["verdict"]] += 1
    return counts


def shares(counter: Counter) -> str:
    total = sum(counter.values())
    if not total:
        return f"{'-':>25}  "
    return " ".join(f"{100 * counter[v] / total:5.0f}%" for v in VERDICTS[:3]) + f" {total:>4}  "


def report(counts: dict[tuple[str, bool], Counter], seconds: float) -> None:
    kinds = sorted({kind for kind, _ in counts}, key=lambda k: (k.startswith("("), k))
    head = f"{'match':>6} {'refut':>6} {'undec':>6} {'n':>4}  "
    print(f"{'':26}{'right solutions':^29}| {'one planted error':^29}")
    print(f"{'claim kind':26}{head}| {head}")
    totals = {False: Counter(), True: Counter()}
    for kind in kinds:
        right, wrong = counts.get((kind, False), Counter()), counts.get((kind, True), Counter())
        totals[False].update(right)
        totals[True].update(wrong)
        print(f"{kind:26}{shares(right)}| {shares(wrong)}")
    print(f"{'overall':26}{shares(totals[False])}| {shares(totals[True])}")
    everything = totals[False] + totals[True]
    rounds = sum(everything.values())
    print(f"references verified (match): {everything['match']}/{rounds} rounds "
          f"({100 * everything['match'] / max(rounds, 1):.0f}%); right references verified: "
          f"{totals[False]['match']}/{sum(totals[False].values())}; "
          f"wrong references confirmed: {totals[True]['match']}/{sum(totals[True].values())} (goal 0); "
          f"errors: {everything['error']}; {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="rounds to play (default: every solution once)")
    args = parser.parse_args()
    solutions = load_solutions()
    rounds = args.rounds or len(solutions)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        records = run(rounds, Path(tmp))
        seconds = time.perf_counter() - start
    print(f"specs/math.yaml, {rounds} rounds, scripted attacker ({SOLUTIONS_PATH.relative_to(ROOT)}): "
          "share of rounds per reference-check verdict")
    report(tally(records, solutions), seconds)


if __name__ == "__main__":
    main()
