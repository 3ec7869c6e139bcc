"""How `check_reference` reads real model-written solutions: the GSM8K dev set of issue 22.

    python benchmarks/reference_dev.py [--path FILE] [--show N]

Reads `../shared/data/gsm8k_model_solutions_dev.jsonl` (4,589 solutions to GSM8K questions 400-1318
by GPT-3 models and people; see its README) and prints, per label (right / wrong_method / slip), how
many `check_reference` confirms (`match`), calls wrong (`mismatch`), leaves `undecidable` or raises
on, the top reasons right ones stay undecidable, and the median and max milliseconds a solution.
Questions 400-859 ("tune") and 860-1318 ("holdout") are printed apart, so tuning to one half shows
as a gap. `--show N` prints N right solutions per top reason (to look at real failures). The
goals (issue 22): right confirmed >= 85%, right called wrong <= 0.2%, slips confirmed 0, raises 0.
Not run by tests: the test of the whole set is tests/verify/test_dev_set.py.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

from nanoflux.verify import check_reference

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k_model_solutions_dev.jsonl"
LABELS = ("right", "wrong_method", "slip")
VERDICTS = ("match", "mismatch", "undecidable", "raised")
SPLITS = {"tune": range(400, 860), "holdout": range(860, 1319)}


def run(rows: list[dict]) -> list[dict]:
    """Each row with its verdict, reason and milliseconds added."""
    out = []
    for row in rows:
        start = time.perf_counter()
        try:
            check = check_reference(row["reference"], row["steps"], question=row["question"])
            verdict, reason = check.verdict, check.reason
        except Exception as exc:  # noqa: BLE001 - counted: the goal is that none raise
            verdict, reason = "raised", f"{type(exc).__name__}: {exc}"
        if verdict not in VERDICTS:
            verdict = "undecidable"
        out.append({**row, "verdict": verdict, "reason": reason, "ms": (time.perf_counter() - start) * 1000})
    return out


def _why(reason: str) -> str:
    """A reason with its step number, quoted claim and numbers taken out, so like reasons count together."""
    reason = re.sub(r"\(.*?\): ", ": ", reason, count=1)
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d[\d,.]*", "N", reason)[:90]


def table(results: list[dict], title: str, top: int = 6, show: int = 0) -> str:
    header = "| solutions | confirmed (`match`) | called wrong (`mismatch`) | `undecidable` | raised |"
    lines = [f"### {title}", "", header, "|---|---|---|---|---|"]
    for label in LABELS:
        rows = [r for r in results if r["label"] == label]
        counts = Counter(r["verdict"] for r in rows)
        n = len(rows) or 1
        cells = [f"{counts[v]} ({100 * counts[v] / n:.1f}%)" for v in VERDICTS]
        lines.append(f"| {label} ({len(rows)}) | " + " | ".join(cells) + " |")
    ms = [r["ms"] for r in results]
    lines += ["", f"ms a solution: median {statistics.median(ms):.1f}, max {max(ms):.0f}", "",
              "Why right solutions stay undecidable (top reasons):"]
    undecided = [r for r in results if r["label"] == "right" and r["verdict"] == "undecidable"]
    for why, count in Counter(_why(r["reason"]) for r in undecided).most_common(top):
        lines.append(f"- {count}: {why}")
        for r in [r for r in undecided if _why(r["reason"]) == why][:show]:
            lines.append(f"    q{r['q']} {r['who']}: {r['reason'][:200]}")
    wrong = [r for r in results if r["label"] == "right" and r["verdict"] in ("mismatch", "raised")]
    if wrong:
        lines.append("Right solutions called wrong or raising:")
        lines += [f"- q{r['q']} {r['who']}: {r['reason'][:200]}" for r in wrong[: max(show, 10)]]
    slips = [r for r in results if r["label"] == "slip" and r["verdict"] == "match"]
    lines += [f"- SLIP CONFIRMED q{r['q']} {r['who']}: {r['reason'][:200]}" for r in slips]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEV)
    parser.add_argument("--show", type=int, default=0, help="right solutions to print per top reason")
    parser.add_argument("--top", type=int, default=6, help="how many undecidable reasons to list")
    parser.add_argument("--dump", type=Path, help="write every result as JSONL here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.path.read_text().splitlines() if line.strip()]
    check_reference("12", ["1 + 1 = 2", "1 foot = 12 inches"])  # start sympy's worker and pint outside the timings
    results = run(rows)
    if args.dump:
        args.dump.write_text("".join(json.dumps(r) + "\n" for r in results))
    by_split = defaultdict(list)
    for r in results:
        by_split[next(name for name, qs in SPLITS.items() if r["q"] in qs)].append(r)
    for name in SPLITS:
        print(table(by_split[name], f"{name}: questions {SPLITS[name].start}-{SPLITS[name].stop - 1}",
                    args.top, args.show))
        print()
    print(table(results, "all", args.top, 0))


if __name__ == "__main__":
    main()
