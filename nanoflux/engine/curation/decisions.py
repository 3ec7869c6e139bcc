"""A person's review of examples, as an overlay on curation: the dataset follows what they decided.

`nanoflux review` appends one line per decision to `RUN_DIR/review.jsonl` (`round_id`, `decision`,
`note`, `time`); nothing else writes it. Curation stays the journal's; the review is applied where
accepted rounds are chosen for export (`apply_review`, used by the run's export and by `curate`), so
a re-curation with another band keeps what a person kept and drops what they rejected.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanoflux.base.io import append_line, read_jsonl
from nanoflux.engine.journal import RoundRecord, reference_refuted, reference_verified

ACCEPT, REJECT, NOTE = "accept", "reject", "note"
DECISIONS = (ACCEPT, REJECT, NOTE)  # a note alone records text and changes no verdict


def append_decision(path: Path, round_id: int, decision: str, note: str = "") -> dict[str, Any]:
    """Append one decision as a JSON line and fsync it (as the journal appends); returns the line written."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    row = {"round_id": round_id, "decision": decision, "note": note, "time": datetime.now(UTC).isoformat()}
    append_line(path, row)
    return row


def read_review(path: Path) -> dict[int, dict[str, Any]]:
    """Each reviewed round's standing: its last accept or reject (`decision`, None if only notes) and its
    last note. A missing file is no review; a torn last line (a kill mid-write) is ignored."""
    if not path.exists():
        return {}
    review: dict[int, dict[str, Any]] = {}
    fix = "`nanoflux review` writes this file: remove the bad line or review again"
    for _, row in read_jsonl(path, fix=fix, torn_tail=True):
        entry = review.setdefault(int(row["round_id"]), {"decision": None, "note": ""})
        if row.get("decision") in (ACCEPT, REJECT):
            entry["decision"] = row["decision"]
        if row.get("note"):
            entry["note"] = row["note"]
    return review


def apply_review(chosen: list[RoundRecord], records: Iterable[RoundRecord], review: dict[int, dict[str, Any]], *,
                 require_verified_reference: bool,
                 contaminated: Collection[int] = ()) -> tuple[list[RoundRecord], dict[str, int]]:
    """The rounds to export once a person's review is applied, in round order, and the review's counts.

    A rejected round leaves `chosen`; a kept (accepted) one joins it unless its reference fails
    verification (refuted, or not verified under `require_verified_reference`) or it copies a benchmark
    (its id is in `contaminated`): a person keeps an example against the band, novelty or size, never
    against the tools or the decontamination. Counts: `reviewed` (rounds
    with a decision), `rejected`, `kept`, `removed` (rejected rounds taken out) and `restored` (kept
    rounds curation had dropped).
    """
    verdicts = {round_id: entry["decision"] for round_id, entry in review.items() if entry["decision"]}
    kept_ids = {round_id for round_id, decision in verdicts.items() if decision == ACCEPT}
    chosen_ids = {record["round_id"] for record in chosen}
    result = [record for record in chosen if verdicts.get(record["round_id"]) != REJECT]
    restored = [{**record, "curation": {**record["curation"], "accepted": True, "reason": "accepted"}}
                for record in records
                if record["round_id"] in kept_ids and record["round_id"] not in chosen_ids
                and record["round_id"] not in contaminated and _verified(record, require_verified_reference)]
    result = sorted(result + restored, key=lambda record: record["round_id"])
    counts = {"reviewed": len(verdicts), "rejected": len(verdicts) - len(kept_ids), "kept": len(kept_ids),
              "removed": len(chosen) - (len(result) - len(restored)), "restored": len(restored)}
    return result, counts


def _verified(record: RoundRecord, required: bool) -> bool:
    if record["status"] != "ok":
        return False
    judge = record["judge"]
    return not reference_refuted(judge) and reference_verified(judge, required=required)
