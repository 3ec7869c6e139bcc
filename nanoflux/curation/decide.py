"""The acceptance decision for one journaled round: verified reference, in band, novel.

The runner applies it in journal order, so the decision never depends on which worker was faster.
"""

from __future__ import annotations

from typing import Any

from nanoflux.curation.novelty import NoveltyFilter
from nanoflux.curation.quality import Band

# Why a round was not kept, in the order the checks run.
REASONS = ("failed", "incorrect_reference", "unverified_reference", "out_of_band", "duplicate")


class Curator:
    """Decides acceptance and adds accepted questions to the novelty collection.

    Args:
        band: the quality band the judge's overall score must fall in.
        novelty: the run's novelty filter (its threshold decides duplicates).
        require_verified_reference: accept only references the tools confirmed; otherwise
            accept references the tools could not decide, never ones they refuted.
    """

    def __init__(self, band: Band, novelty: NoveltyFilter, *, require_verified_reference: bool = True):
        self.band = band
        self.novelty = novelty
        self.require_verified_reference = require_verified_reference

    def decide(self, record: dict[str, Any]) -> dict[str, Any]:
        """The curation entry for a round record: accepted, reason, and the novelty evidence."""
        if record["status"] != "ok":
            return {"accepted": False, "reason": "failed"}
        judge = record["judge"]
        seen = self.novelty.check(record["question"])
        entry: dict[str, Any] = {"similarity": seen.similarity, "nearest_id": seen.nearest_id}
        reference = judge["reference_check"]["verdict"]
        if reference in ("mismatch", "error"):
            reason = "incorrect_reference"
        elif reference != "match" and self.require_verified_reference:
            reason = "unverified_reference"
        elif not self.band.contains(judge["overall"]):
            reason = "out_of_band"
        elif not seen.novel:
            reason = "duplicate"
        else:
            self.novelty.add(str(record["round_id"]), record["question"], {"topic": record["topic"]})
            return {**entry, "accepted": True, "reason": "accepted"}
        return {**entry, "accepted": False, "reason": reason}
