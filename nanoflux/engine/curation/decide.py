"""The acceptance decision for one journaled round: clean of benchmarks, confirmed reference, in band, novel.

The runner applies it in journal order, so the decision never depends on which worker was faster.
"""

from __future__ import annotations

from nanoflux.base.scoring import Band, Complexity
from nanoflux.engine.curation.decontaminate import Decontaminator
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.journal import Curation, PlayedRound, reference_refuted, reference_verified

# Why a round was not kept, in the order the checks run.
REASONS = ("failed", "contaminated", "incorrect_reference", "unverified_reference", "out_of_band", "duplicate")


class Curator:
    """Decides acceptance and adds accepted questions to the novelty collection.

    Args:
        band: the quality band the judge's overall score must fall in.
        novelty: the run's novelty filter (its threshold decides duplicates).
        require_verified_reference: as the spec's (`nanoflux.engine.journal.reference_verified`).
        complexity: the complexity band (hops, solution steps, length); outside it is `out_of_band`.
        decontaminator: the benchmarks no question may copy or paraphrase (`contaminated`); None checks none.
            Checked first after `failed`, whatever the round's scores, so every played question is counted
            against them and a contaminated one never enters the novelty collection.
    """

    def __init__(self, band: Band, novelty: NoveltyFilter, *, require_verified_reference: bool = True,
                 complexity: Complexity = Complexity(), decontaminator: Decontaminator | None = None):
        self.band = band
        self.novelty = novelty
        self.require_verified_reference = require_verified_reference
        self.complexity = complexity
        self.decontaminator = decontaminator

    def screen(self, record: PlayedRound) -> str | None:
        """Why a round cannot be kept whatever was accepted before it, or None: every check but novelty.

        Re-curation screens the whole journal first, then orders the eligible rounds for coverage.
        """
        if record["status"] != "ok":
            return "failed"
        if self.decontaminator is not None and self.decontaminator.check(record["question"]):
            return "contaminated"
        judge = record["judge"]
        if reference_refuted(judge):
            return "incorrect_reference"
        if not reference_verified(judge, required=self.require_verified_reference):
            return "unverified_reference"
        if not (self.band.contains(judge["overall"]) and self.complexity.contains(record)):
            return "out_of_band"
        return None

    def decide(self, record: PlayedRound) -> Curation:
        """The curation entry for a round record: accepted, reason, and the novelty and contamination evidence."""
        reason = self.screen(record)
        if reason == "failed":
            return {"accepted": False, "reason": "failed"}
        seen = self.novelty.check(record["question"])
        if reason is None and not seen.novel:
            reason = "duplicate"
        if reason is None:
            self.novelty.add(str(record["round_id"]), record["question"], {"topic": record["topic"]})
        entry: Curation = {"similarity": seen.similarity, "nearest_id": seen.nearest_id, "accepted": reason is None,
                           "reason": reason or "accepted"}
        if self.decontaminator is not None:
            entry["contamination"] = self.decontaminator.check(record["question"])
        return entry
