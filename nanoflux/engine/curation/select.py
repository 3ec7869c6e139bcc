"""Selection: which of a journal's rounds make a dataset once a person's review is applied.

One function for `nanoflux curate` and for a run's own export after a review, so that re-curating a run
with its own settings gives the run's rows: novelty is decided in round order, as the run decided it,
and the rounds a person kept enter the novelty collection first, so nothing picked repeats them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.decisions import ACCEPT, REJECT, UNKEEPABLE, keep_refusal
from nanoflux.engine.journal import RoundRecord, is_accepted


@dataclass
class Selection:
    """What a selection kept and why the rest were not kept.

    Attributes:
        rounds: the dataset's rounds in round order, each with its curation entry.
        reasons: why curation did not pick the others (`over_size` included; a person's review is in `review`).
        eligible: rounds that passed every check but novelty and size.
        review: the review's counts: `reviewed`, `rejected`, `kept`, `removed` (rejected rounds curation
            would have picked), `restored` (kept rounds it would have left out).
        changes: the review's effect by round: `removed` and `restored` (ids), `not_restored` (id -> the
            reason a kept round could not be kept, one of `UNKEEPABLE`) and `displaced` (id -> the kept
            round it repeats, and the similarity).
    """

    rounds: list[RoundRecord]
    reasons: Counter[str]
    eligible: int
    review: dict[str, int]
    changes: dict[str, Any] = field(default_factory=dict)


def select(records: list[RoundRecord], curator: Curator, review: dict[int, dict[str, Any]], *,
           size: int | None = None, order: Callable[[list[RoundRecord]], list[RoundRecord]] = list,
           contaminated: Collection[int] = ()) -> Selection:
    """Select from `records` (in round order) with `curator`, whose novelty collection must start empty.

    1. Kept rounds (a person's last decision `accept`) join first, and their questions enter the
       novelty collection first, unless a rule no person overrides drops them (`UNKEEPABLE`: failed,
       contaminated, or a refuted or, as required, unverified reference).
    2. Every other round is screened, then judged novel or a duplicate in round order, as the run did.
       A rejected round is judged like any other, so its rewordings are not picked in its place.
    3. Rejected rounds leave; of the rest, the first `size` in `order` are picked (None: all). Kept
       rounds come on top of `size`, as a person may keep an example against it.

    `contaminated`: ids to treat as copies of a benchmark whatever `curator` checks (the run's export
    reads them from its journal).
    """
    verdicts = {round_id: entry["decision"] for round_id, entry in review.items() if entry["decision"]}
    reasons: Counter[str] = Counter()

    def screen(record: RoundRecord) -> str | None:
        return "contaminated" if record["round_id"] in contaminated else curator.screen(record)

    kept: list[RoundRecord] = []
    not_restored: dict[int, str] = {}
    restored: list[int] = []
    for record in records:
        if verdicts.get(record["round_id"]) != ACCEPT:
            continue
        reason = screen(record)
        if reason in UNKEEPABLE:
            not_restored[record["round_id"]] = reason
            reasons[reason] += 1
            continue
        if reason or not record["curation"]["accepted"]:
            restored.append(record["round_id"])
        curator.novelty.add(str(record["round_id"]), record["question"], {"topic": record["topic"]})
        kept.append({**record, "curation": {**record["curation"], "accepted": True, "reason": "accepted"}})
    kept_ids = {record["round_id"] for record in kept} | set(not_restored)
    kept_names = {str(record["round_id"]) for record in kept}  # as the novelty collection names them

    eligible = sum(not screen(record) for record in kept)
    novel: list[RoundRecord] = []
    displaced: dict[int, dict[str, Any]] = {}
    for record in records:
        if record["round_id"] in kept_ids:
            continue
        if reason := screen(record):
            reasons[reason] += 1
            continue
        eligible += 1
        entry = curator.decide(record)
        if entry["accepted"]:
            novel.append({**record, "curation": entry})
            continue
        reasons[entry["reason"]] += 1
        if entry["reason"] == "duplicate" and (nearest := entry.get("nearest_id")) in kept_names:
            displaced[record["round_id"]] = {"kept": int(nearest), "similarity": entry["similarity"]}
    removed = [record["round_id"] for record in novel if verdicts.get(record["round_id"]) == REJECT]
    picks = order([record for record in novel if verdicts.get(record["round_id"]) != REJECT])
    if size is not None and len(picks) > size:
        reasons["over_size"] += len(picks) - size
        picks = picks[:size]
    rounds = sorted(kept + picks, key=lambda record: record["round_id"])
    changes = {"removed": removed, "restored": restored, "not_restored": not_restored, "displaced": displaced}
    return Selection(rounds, reasons, eligible, _counts(verdicts, changes), changes)


def restores(records: list[RoundRecord], review: dict[int, dict[str, Any]], *,
             require_verified_reference: bool) -> bool:
    """Whether the review keeps a round the journal's curation left out and may be kept: only then can it change
    novelty decisions (its rewordings become duplicates), and the run's export selects again (`select`)."""
    return any(review.get(record["round_id"], {}).get("decision") == ACCEPT and not is_accepted(record)
               and not keep_refusal(record, require_verified_reference=require_verified_reference)
               for record in records)


def journal_selection(records: list[RoundRecord], review: dict[int, dict[str, Any]], *,
                      require_verified_reference: bool) -> Selection:
    """The journal's own decisions with the review applied, for a review that `restores` nothing: the accepted
    rounds less the rejected ones (what `select` gives then, without recomputing a single similarity)."""
    verdicts = {round_id: entry["decision"] for round_id, entry in review.items() if entry["decision"]}
    accepted = [record for record in records if is_accepted(record)]
    not_restored = {record["round_id"]: reason for record in records if verdicts.get(record["round_id"]) == ACCEPT
                    and (reason := keep_refusal(record, require_verified_reference=require_verified_reference))}
    removed = [record["round_id"] for record in accepted if verdicts.get(record["round_id"]) == REJECT]
    changes = {"removed": removed, "restored": [], "not_restored": not_restored, "displaced": {}}
    return Selection([record for record in accepted if record["round_id"] not in removed],
                     Counter(record["curation"]["reason"] for record in records if not is_accepted(record)),
                     sum(record["curation"]["reason"] in ("accepted", "duplicate") for record in records),
                     _counts(verdicts, changes), changes)


def _counts(verdicts: dict[int, str], changes: dict[str, Any]) -> dict[str, int]:
    return {"reviewed": len(verdicts), "rejected": sum(d == REJECT for d in verdicts.values()),
            "kept": sum(d == ACCEPT for d in verdicts.values()), "removed": len(changes["removed"]),
            "restored": len(changes["restored"])}

