"""How far to trust "verified": `check_reference` on whole solutions labelled right or wrong.

A solutions file holds one JSON object a line: `question`, `solution_steps` (a list of strings),
`reference`, `label` (`right`: the reference is what the question asks; `wrong`: one step is
false and the reference follows it) and optionally `kind` and `answer_type`. The figures that matter
are how many wrong references are confirmed ("match": the goal is none) and how many right ones
are (the goal is at least 90%); the rest end "undecidable" (or "mismatch", for a right one).
`nanoflux judge-eval` runs this when the file's lines carry `solution_steps`; no LM is involved.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_rows
from nanoflux.verify import ANSWER_TYPES, check_reference

SOLUTION_KEYS = ("question", "solution_steps", "reference", "label")
SOLUTION_LABELS = ("right", "wrong")
VERDICTS = ("match", "mismatch", "undecidable", "error")


@dataclass(frozen=True)
class ReferenceEvalReport:
    """`counts[label][verdict]` over the solutions; `results` holds one row per solution."""

    counts: dict[str, dict[str, int]]
    by_kind: dict[str, dict[str, int]]
    results: list[dict[str, Any]] = field(repr=False)
    seconds: float = 0.0

    @property
    def wrong_confirmed(self) -> int:
        return self.counts["wrong"]["match"]

    @property
    def right_confirmed_share(self) -> float:
        right = sum(self.counts["right"].values())
        return self.counts["right"]["match"] / right if right else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"items": sum(sum(row.values()) for row in self.counts.values()),
                "wrong_confirmed": self.wrong_confirmed, "right_confirmed_share": round(self.right_confirmed_share, 4),
                **asdict(self)}

    def render(self) -> str:
        """The report as a user reads it in a terminal."""
        c = self.counts
        rows = [f"reference check: {sum(sum(r.values()) for r in c.values())} labelled solutions "
                f"({self.seconds:.1f} s)", f"{'':16}" + "".join(f"{v:>13}" for v in VERDICTS)]
        rows += [f"{label + ' ones':16}" + "".join(f"{c[label][v]:>13}" for v in VERDICTS) for label in SOLUTION_LABELS]
        right = sum(c["right"].values())
        rows.append(f"wrong references confirmed: {self.wrong_confirmed} of {sum(c['wrong'].values())} (goal 0); "
                    f"right ones confirmed: {c['right']['match']} of {right} ({100 * self.right_confirmed_share:.1f}%, "
                    f"goal >= 90%); undecidable: {c['right']['undecidable'] + c['wrong']['undecidable']}")
        return "\n".join(rows)


def load_solutions(path: str | Path) -> list[dict[str, Any]]:
    """Read a labelled solutions file; a NanofluxError names the line and the fix for any bad one."""
    rows = []
    for number, row, where in read_rows(path, SOLUTION_KEYS):
        if str(row["label"]).strip().lower() not in SOLUTION_LABELS:
            raise NanofluxError(f"{where}: label {row['label']!r} is not a label; write `right` or `wrong`")
        steps = row["solution_steps"]
        if not isinstance(steps, list) or not all(isinstance(step, str) for step in steps):
            raise NanofluxError(f"{where}: solution_steps is not a list of strings; write one string per step")
        if row.get("answer_type", "auto") not in ANSWER_TYPES:
            raise NanofluxError(f"{where}: unknown answer_type {row['answer_type']!r}; "
                                f"use one of {', '.join(ANSWER_TYPES)}")
        rows.append({**row, "label": str(row["label"]).strip().lower(), "line": number})
    return rows


def evaluate_references(rows: list[dict[str, Any]]) -> ReferenceEvalReport:
    """Run `check_reference` on each labelled solution and count its verdicts by label and kind."""
    started = time.perf_counter()
    counts = {label: dict.fromkeys(VERDICTS, 0) for label in SOLUTION_LABELS}
    by_kind: dict[str, Counter[str]] = {}
    results = []
    for row in rows:
        check = check_reference(str(row["reference"]), row["solution_steps"], question=str(row["question"]),
                                answer_type=row.get("answer_type", "auto"))
        counts[row["label"]][check.verdict] += 1
        kind = str(row.get("kind", "unlabelled"))
        by_kind.setdefault(kind, Counter()).update({f"{row['label']} {check.verdict}": 1})
        results.append({"line": row["line"], "kind": kind, "label": row["label"], "verdict": check.verdict,
                        "reason": check.reason})
    return ReferenceEvalReport(counts=counts, by_kind={k: dict(v) for k, v in by_kind.items()}, results=results,
                               seconds=round(time.perf_counter() - started, 2))


def is_solutions_file(path: str | Path) -> bool:
    """Whether a labelled file holds whole solutions (its first object has `solution_steps`)."""
    return "solution_steps" in read_rows(path, ())[0][1]
