"""A person's review of examples, as an overlay on curation: the dataset follows what they decided.

`nanoflux review` appends one line per decision to `RUN_DIR/review.jsonl` (`round_id`, `decision`,
`note`, `time`); nothing else writes it. Curation stays the journal's; the review is applied where
rounds are chosen for export (`nanoflux.engine.curation.select`, used by the run's export and by
`curate`), so a re-curation with another band keeps what a person kept and drops what they rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanoflux.base.io import append_line, read_jsonl
from nanoflux.engine.journal import RoundRecord, reference_refuted, reference_verified

ACCEPT, REJECT, NOTE = "accept", "reject", "note"
DECISIONS = (ACCEPT, REJECT, NOTE)  # a note alone records text and changes no verdict
# Why a kept round still cannot be kept (curation's reasons no review overrides), and what to tell the person.
UNKEEPABLE = {
    "failed": "the round failed: it has no example",
    "contaminated": "it copies or paraphrases a benchmark question",
    "incorrect_reference": "the tools refuted its reference answer",
    "unverified_reference": "its reference answer is not confirmed, and the spec requires a confirmed one "
                            "(curation.require_verified_reference)",
}


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


def keep_refusal(record: RoundRecord, *, require_verified_reference: bool) -> str | None:
    """Why no person can keep `record` (one of `UNKEEPABLE`), or None: a person keeps an example against the
    band, complexity, novelty or size, never against the tools or the decontamination."""
    if record["status"] != "ok":
        return "failed"
    curation = record["curation"]
    if curation.get("reason") == "contaminated" or curation.get("contamination"):
        return "contaminated"
    if reference_refuted(record["judge"]):
        return "incorrect_reference"
    if not reference_verified(record["judge"], required=require_verified_reference):
        return "unverified_reference"
    return None
