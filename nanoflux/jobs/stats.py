"""Run statistics from the journal: the one place counts, rates and distributions are computed.

The run manifest's counts, `nanoflux stats`, re-curation manifests and the report all take their
figures from here, so they never disagree.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import JOURNAL_NAME, RunDir
from nanoflux.base.scoring import complexity_of
from nanoflux.clients.pricing import Spend
from nanoflux.engine.journal import (
    RoundRecord,
    confirmed_and_defender_failed,
    corrected_after,
    is_accepted,
    outcome_counts,
    read_rounds,
    reference_status,
)

SIMILARITY_BINS = 10  # equal-width bins over 0-1
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
_LEVEL_ORDER = ("L1", "L2", "L3", "L4", "L5", "failed")


def journal_records(run_dir: str | Path) -> list[RoundRecord]:
    """A run's journaled rounds in round order, each by its last attempt; a missing directory or journal
    is a NanofluxError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NanofluxError(f"run directory {run_dir} does not exist; pass a directory made by `nanoflux compile`")
    journal = RunDir(run_dir).journal
    if not journal.is_file():
        raise NanofluxError(f"{run_dir} has no journal ({JOURNAL_NAME}); pass a directory made by `nanoflux compile`")
    return read_rounds(journal)


def record_counts(records: list[RoundRecord]) -> dict[str, Any]:
    """Rounds played, failed (and why: `failures` by error kind) and accepted, why the others were not
    kept, and the rates; played rounds by what became of their reference (`references`: confirmed,
    refuted, unconfirmed), and `confirmed_defender_failed`: the rounds whose reference was confirmed
    and whose defender still got it wrong, the best kind of example; and by what became of the defender's
    answer (`outcomes`: right at once, corrected after k critiques, never corrected)."""
    played = len(records)
    ok = [r for r in records if r["status"] == "ok"]
    accepted = sum(map(is_accepted, records))
    parse_failures = sum(r.get("error_kind") == "parse" for r in records)
    return {
        "rounds_played": played,
        "failed": sum(r["status"] != "ok" for r in records),
        "failures": dict(Counter(r.get("error_kind", "error") for r in records if r["status"] != "ok")),
        "accepted": accepted,
        "acceptance_rate": round(accepted / played, 4) if played else 0.0,
        "reasons": dict(Counter(r["curation"]["reason"] for r in records)),
        "parse_failures": parse_failures,
        "parse_failure_rate": round(parse_failures / played, 4) if played else 0.0,
        "references": dict(Counter(reference_status(r["judge"]) for r in ok)),
        "confirmed_defender_failed": sum(map(confirmed_and_defender_failed, ok)),
        "outcomes": outcome_counts(ok),
    }


def breakdown(records: Iterable[RoundRecord], key: Callable[[RoundRecord], str],
              order: Callable[[str], Any] = str) -> dict[str, dict[str, int]]:
    """Rounds and accepted rounds per value of ``key``, every round counted once."""
    rounds: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for record in records:
        rounds[key(record)] += 1
        accepted[key(record)] += is_accepted(record)
    return {value: {"rounds": rounds[value], "accepted": accepted[value]} for value in sorted(rounds, key=order)}


def by_level(record: RoundRecord) -> str:
    return record["judge"]["level"] if record["status"] == "ok" else "failed"


def by_verdict(record: RoundRecord) -> str:
    return record["judge"]["verdict"] if record["status"] == "ok" else "failed"


def level_order(level: str) -> int:
    return _LEVEL_ORDER.index(level) if level in _LEVEL_ORDER else len(_LEVEL_ORDER)


def similarity_distribution(records: list[RoundRecord]) -> dict[str, Any]:
    """How close each played question came to an already accepted one: histogram and quantiles.

    Mass near the threshold means the attacker keeps circling the same questions.
    """
    values = np.array([r["curation"]["similarity"] for r in records
                       if r["curation"].get("similarity") is not None], dtype=float)
    edges = np.linspace(0.0, 1.0, SIMILARITY_BINS + 1)
    counts = np.histogram(np.clip(values, 0.0, 1.0), bins=edges)[0] if values.size else np.zeros(SIMILARITY_BINS, int)
    return {
        "count": int(values.size),
        "bins": [{"low": round(float(lo), 2), "high": round(float(hi), 2), "count": int(n)}
                 for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)],
        "quantiles": {f"p{round(q * 100)}": round(float(np.quantile(values, q)), 4) for q in QUANTILES}
        if values.size else {},
        "min": round(float(values.min()), 4) if values.size else None,
        "max": round(float(values.max()), 4) if values.size else None,
    }


def role_usage(records: list[RoundRecord], roles: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Calls, tokens and latency per role (``roles`` are listed even when no round reached them)."""
    totals: dict[str, Counter[str]] = {role: Counter() for role in roles}
    seconds: dict[str, float] = dict.fromkeys(totals, 0.0)
    for record in records:
        for role, trace in (record.get("roles") or {}).items():
            totals.setdefault(role, Counter()).update(
                {"calls": trace.get("calls", 1), "input_tokens": trace["input_tokens"],
                 "output_tokens": trace["output_tokens"]})
            seconds[role] = seconds.get(role, 0.0) + trace["seconds"]
    return {role: {"calls": counts["calls"], "input_tokens": counts["input_tokens"],
                   "output_tokens": counts["output_tokens"], "seconds": round(seconds[role], 3),
                   "mean_seconds": round(seconds[role] / counts["calls"], 3) if counts["calls"] else 0.0}
            for role, counts in totals.items()}


def acceptance_curve(records: list[RoundRecord], points: int = 100) -> list[dict[str, Any]]:
    """Accepted rounds and the acceptance rate so far, at most ``points`` times over the run (in round order).

    A rate that falls as the run goes on means the attacker is running out of new questions.
    """
    step = max(1, math.ceil(len(records) / points))
    curve, accepted = [], 0
    for played, record in enumerate(records, 1):
        accepted += is_accepted(record)
        if played % step == 0 or played == len(records):
            curve.append({"rounds": played, "accepted": accepted, "rate": round(accepted / played, 4)})
    return curve


def score_distribution(records: list[RoundRecord]) -> dict[str, dict[str, int]]:
    """How many judged rounds got each score 1-5 on each rubric dimension."""
    counts: dict[str, Counter[int]] = {}
    for record in records:
        if record["status"] == "ok":
            for name, score in record["judge"]["scores"].items():
                counts.setdefault(name, Counter())[min(5, max(1, round(score)))] += 1
    return {name: {str(score): scores[score] for score in range(1, 6)} for name, scores in counts.items()}


def level_profile(records: list[RoundRecord]) -> dict[str, dict[str, Any]]:
    """Per level reached: hops and solution steps (counts and means), and how often the defender was right.

    The defender's success rate per level is the difficulty the attacker reached at that quality.
    """
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["status"] != "ok":
            continue
        row = rows.setdefault(by_level(record), {"rounds": 0, "defender_correct": 0, "hops": Counter(),
                                                 "steps": Counter()})
        size = complexity_of(record)
        row["rounds"] += 1
        row["defender_correct"] += by_verdict(record) == "correct"
        row["hops"][size["hops"]] += 1
        row["steps"][size["steps"]] += 1
    return {level: {"rounds": row["rounds"], "defender_correct": row["defender_correct"],
                    "defender_correct_rate": round(row["defender_correct"] / row["rounds"], 4),
                    **{name: {str(value): n for value, n in sorted(row[name].items())} for name in ("hops", "steps")},
                    **{f"mean_{name}": round(sum(v * n for v, n in row[name].items()) / row["rounds"], 2)
                       for name in ("hops", "steps")}}
            for level, row in sorted(rows.items(), key=lambda item: level_order(item[0]))}


def wall_seconds(records: list[RoundRecord]) -> float | None:
    """From the first round's start to the last round's end; None when the rounds carry no timestamps."""
    spans = [(start, start + record["seconds"]) for record in records if "started_at" in record and "seconds" in record
             for start in (datetime.fromisoformat(record["started_at"]).timestamp(),)]
    return round(max(end for _, end in spans) - min(start for start, _ in spans), 3) if spans else None


def role_cost(records: list[RoundRecord]) -> dict[str, Any]:
    """Money spent per role in USD (`nanoflux.clients.pricing`): litellm's prices, embedded (``local/``) models 0.

    A role that used a model litellm has no price for has cost None (unknown, not free), the model is
    listed under ``unpriced``, and ``total`` sums the priced tokens only; ``label`` (and ``labels`` per role)
    is what a person reads (`Spend.label`): `unknown price`, never a dollar figure for what has no price.
    """
    spend = Spend.of(records)
    per_role = {role: spend.usd(role) for role in spend.roles()}
    return {"per_role": {role: None if usd is None else round(usd, 6) for role, usd in per_role.items()},
            "total": round(spend.priced_usd(), 6), "unpriced": spend.unpriced(), "label": spend.label(),
            "labels": {role: spend.label(role) for role in spend.roles()}}


def run_stats(run_dir: str | Path, records: list[RoundRecord] | None = None) -> dict[str, Any]:
    """Everything countable about a run's journal, as plain JSON-ready data.

    Every breakdown (verdict, level, topic, hops) counts each journaled round once, failed rounds
    under "failed" where they have no value, so each adds up to ``rounds_played``. ``records``
    replaces the journal's rounds (a re-curation counts its own decisions over the same rounds).
    """
    records = journal_records(run_dir) if records is None else records
    return {
        "run_dir": str(run_dir),
        **record_counts(records),
        "by_verdict": breakdown(records, by_verdict),
        "by_level": breakdown(records, by_level, level_order),
        "by_topic": breakdown(records, lambda r: r["topic"]),
        "by_hops": breakdown(records, lambda r: str(r["hops"]), int),
        "similarity": similarity_distribution(records),
        "roles": role_usage(records),
        "acceptance_curve": acceptance_curve(records),
        "scores": score_distribution(records),
        "by_level_profile": level_profile(records),
        "wall_seconds": wall_seconds(records),
        "cost": role_cost(records),
        "review": review_effect(run_dir),
    }


def review_effect(run_dir: str | Path) -> dict[str, Any] | None:
    """What a person's review changed in the run's dataset at its last export (the manifest's `counts.review`
    and `review`), or None when no review was applied."""
    path = RunDir(Path(run_dir)).manifest
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    counts = manifest.get("counts", {}).get("review")
    return {"counts": counts, "changes": manifest.get("review") or {}} if counts else None


def review_lines(counts: dict[str, int], changes: dict[str, Any]) -> list[str]:
    """A review's effect in words, one line each: what it removed and restored, and why a kept round was not."""
    from nanoflux.engine.curation.decisions import UNKEEPABLE

    lines = [f"review: {counts['reviewed']} examples reviewed ({counts['kept']} kept, {counts['rejected']} "
             f"rejected): removed {counts['removed']}, restored {counts['restored']}"]
    if changes.get("removed"):
        lines.append(f"  removed (rejected by a person): {_ids(changes['removed'])}")
    if changes.get("restored"):
        lines.append(f"  restored (kept by a person though curation left it out): {_ids(changes['restored'])}")
    for round_id, reason in (changes.get("not_restored") or {}).items():
        lines.append(f"  #{round_id} kept but not restored: {UNKEEPABLE.get(reason, reason)}")
    for round_id, seen in (changes.get("displaced") or {}).items():
        lines.append(f"  #{round_id} left out: it repeats #{seen['kept']}, which a person kept "
                     f"(similarity {seen['similarity']:.2f})")
    return lines


def format_stats(stats: dict[str, Any]) -> str:
    """The statistics as a plain-text report for the terminal."""
    failures = ", ".join(f"{kind} {n}" for kind, n in sorted(stats["failures"].items()))
    lines = [f"{stats['run_dir']}: {stats['rounds_played']} rounds, {stats['accepted']} accepted "
             f"({stats['acceptance_rate']:.1%}), {stats['failed']} failed" + (f" ({failures})" if failures else ""),
             "kept or not: " + ", ".join(f"{reason} {n}" for reason, n in sorted(stats["reasons"].items())),
             "references: " + ", ".join(f"{status} {stats['references'].get(status, 0)}"
                                        for status in ("confirmed", "refuted", "unconfirmed"))
             + f"; confirmed and the defender failed: {stats['confirmed_defender_failed']}"]
    if stats["outcomes"]["revisions"]:
        lines.append(f"defender: {outcomes_line(stats['outcomes'])}")
    for title, table in (("verdict", "by_verdict"), ("level", "by_level"), ("topic", "by_topic"), ("hops", "by_hops")):
        width = max([len(title), *map(len, stats[table])])
        lines += ["", f"{title:<{width}}  rounds  accepted"]
        lines += [f"{value:<{width}}  {row['rounds']:>6}  {row['accepted']:>8}" for value, row in stats[table].items()]
    similarity = stats["similarity"]
    lines += ["", f"similarity to the nearest accepted question ({similarity['count']} questions)"]
    if similarity["count"]:
        lines.append("  " + "  ".join(f"{name} {value:.2f}" for name, value in similarity["quantiles"].items()))
        peak = max(b["count"] for b in similarity["bins"])
        lines += [f"  {b['low']:.1f}-{b['high']:.1f}  {'#' * round(30 * b['count'] / peak):<30} {b['count']}"
                  for b in similarity["bins"]]
    lines += ["", "role      calls  input tokens  output tokens  seconds  s/call"]
    lines += [f"{role:<8}  {row['calls']:>5}  {row['input_tokens']:>12}  {row['output_tokens']:>13}  "
              f"{row['seconds']:>7.1f}  {row['mean_seconds']:>6.2f}" for role, row in stats["roles"].items()]
    cost = stats["cost"]
    lines.append(f"cost: {cost_summary(cost)}")
    if stats.get("review"):
        lines += ["", *review_lines(stats["review"]["counts"], stats["review"]["changes"])]
    return "\n".join(lines)


def outcomes_line(outcomes: dict[str, Any]) -> str:
    """The played rounds by what became of the defender's answer (`outcome_counts`), in one line: "3 right at once,
    2 corrected (1 after 1 critique, 1 after 2 critiques), 1 never corrected; 4 revisions"."""
    after = corrected_after(outcomes)
    return (f"{outcomes['right']} right at once, {outcomes['corrected']} corrected" + (f" ({after})" if after else "")
            + f", {outcomes['uncorrected']} never corrected; {outcomes['revisions']} revisions")


def cost_summary(cost: dict[str, Any]) -> str:
    """A run's cost in one line (`role_cost`): unknown prices named as such, never counted as $0."""
    return cost["label"] + (f" (no price known for {', '.join(cost['unpriced'])})" if cost["unpriced"] else "")


def _ids(round_ids: list[int]) -> str:
    return ", ".join(f"#{round_id}" for round_id in round_ids)


def save_stats(run_dir: str | Path, path: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Compute a run's statistics and write them as JSON (default ``RUN_DIR/stats.json``, atomically)."""
    from nanoflux.base.io import write_json

    stats = run_stats(run_dir)
    target = Path(path) if path else RunDir(Path(run_dir)).stats
    write_json(target, stats)
    return stats, target
