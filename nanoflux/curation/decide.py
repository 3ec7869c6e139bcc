"""The acceptance decision for one journaled round: verified reference, in band, novel.

The runner applies it in journal order, so the decision never depends on which worker was faster.
"""

from __future__ import annotations

from typing import Any

from nanoflux.curation.novelty import NoveltyFilter
from nanoflux.scoring import Band, Complexity

# Why a round was not kept, in the order the checks run.
REASONS = ("failed", "incorrect_reference", "unverified_reference", "out_of_band", "duplicate")


class Curator:
    """Decides acceptance and adds accepted questions to the novelty collection.

    Args:
        band: the quality band the judge's overall score must fall in.
        novelty: the run's novelty filter (its threshold decides duplicates).
        require_verified_reference: accept only references the tools confirmed; otherwise
            accept references the tools could not decide, never ones they refuted.
        complexity: the complexity band (hops, solution steps, length); outside it is `out_of_band`.
    """

    def __init__(self, band: Band, novelty: NoveltyFilter, *, require_verified_reference: bool = True,
                 complexity: Complexity = Complexity()):
        self.band = band
        self.novelty = novelty
        self.require_verified_reference = require_verified_reference
        self.complexity = complexity

    def screen(self, record: dict[str, Any]) -> str | None:
        """Why a round cannot be kept whatever was accepted before it, or None: every check but novelty.

        Re-curation screens the whole journal first, then orders the eligible rounds for coverage.
        """
        if record["status"] != "ok":
            return "failed"
        reference = record["judge"]["reference_check"]["verdict"]
        if reference in ("mismatch", "error"):
            return "incorrect_reference"
        if reference != "match" and self.require_verified_reference:
            return "unverified_reference"
        if not (self.band.contains(record["judge"]["overall"]) and self.complexity.contains(record)):
            return "out_of_band"
        return None

    def decide(self, record: dict[str, Any]) -> dict[str, Any]:
        """The curation entry for a round record: accepted, reason, and the novelty evidence."""
        reason = self.screen(record)
        if reason == "failed":
            return {"accepted": False, "reason": "failed"}
        seen = self.novelty.check(record["question"])
        entry: dict[str, Any] = {"similarity": seen.similarity, "nearest_id": seen.nearest_id}
        if reason is None and not seen.novel:
            reason = "duplicate"
        if reason is None:
            self.novelty.add(str(record["round_id"]), record["question"], {"topic": record["topic"]})
            return {**entry, "accepted": True, "reason": "accepted"}
        return {**entry, "accepted": False, "reason": reason}
