"""The dataset files of a run: accepted rounds as TRL datasets plus their provenance, each written atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from nanoflux.base.io import write_jsonl
from nanoflux.base.paths import RunDir, dataset_path
from nanoflux.base.rundir import file_entry
from nanoflux.engine.export.trl import dpo_example, revision_example, rlvr_example, sft_example, stepwise_example
from nanoflux.engine.journal import RoundRecord, outcome
from nanoflux.spec.model import ReasoningSource


def export_dataset(out_dir: Path, accepted: list[RoundRecord], formats: Iterable[str],
                   refuted: Sequence[RoundRecord] = (), *, annotation: bool = False,
                   reasoning: ReasoningSource = "none") -> dict[str, Any]:
    """Write the accepted rounds as TRL datasets under `out_dir/dataset/`; returns the manifest's file entries.

    Each entry names a file with its rows, size and SHA-256 (`nanoflux.base.rundir.file_entry`): the
    manifest written after them vouches for exactly these bytes. `examples.jsonl` keeps each
    example's provenance (round id, topic, level, models, the attacker's annotation, the defender's
    outcome) in the same order as the sft and rlvr files, which stay free of columns TRL would not use;
    `annotation` (the spec's `output.include_annotation`) also opens the assistant's turn of sft and DPO
    `chosen` with it. `reasoning` (`output.reasoning`) puts a role's trace into the sft (and revision) rows;
    their entries then count the rows that carry one (`traces`). `stepwise` also takes the `refuted` rounds
    (`nanoflux.engine.journal.is_refuted`: never accepted) for its wrong steps, all in round order.
    `revision` holds only the rounds the defender corrected (`trl.revision_example`).
    """
    run = RunDir(out_dir)
    made: dict[str, list[dict[str, Any]]] = {}
    if "sft" in formats:
        made["sft"] = [sft_example(record, annotation=annotation, reasoning=reasoning) for record in accepted]
    if "dpo" in formats:
        made["dpo"] = _some(partial(dpo_example, annotation=annotation), accepted)
    if "rlvr" in formats:
        made["rlvr"] = [rlvr_example(record) for record in accepted]
    if "stepwise" in formats:
        made["stepwise"] = _some(stepwise_example, sorted([*accepted, *refuted], key=lambda record: record["round_id"]))
    if "revision" in formats:
        made["revision"] = _some(partial(revision_example, reasoning=reasoning), accepted)
    made["examples"] = [example_provenance(record) for record in accepted]
    entries = {}
    for name, rows in made.items():
        entries[name] = file_entry(out_dir, dataset_path(name), write_jsonl(run.dataset_file(name), rows))
        if reasoning != "none" and name in ("sft", "revision"):
            entries[name]["traces"] = sum(map(_has_trace, rows))
    return entries


def _some(example: Callable[[RoundRecord], dict[str, Any] | None], records: Iterable[RoundRecord]) -> list[dict]:
    """The rows `example` makes of `records`, leaving out the rounds it makes none of."""
    return [row for row in map(example, records) if row is not None]


def _has_trace(row: dict[str, Any]) -> bool:
    return any("reasoning_content" in message for message in row["messages"])


def example_provenance(record: RoundRecord) -> dict[str, Any]:
    """An example's row in the provenance file: the round, its models and program, how it was judged, and what
    became of the defender's answer (`outcome`, after `revisions` critiques)."""
    judge = record["judge"]
    became, critiques = outcome(record)
    return {"round_id": record["round_id"], "topic": record["topic"], "hops": record["hops"], "level": judge["level"],
            "overall": judge["overall"], "defender_verdict": judge["verdict"], "outcome": became,
            "revisions": critiques, "models": record["models"], "program_hash": record["program_hash"],
            "question": record["question"], "reference_answer": record["reference_answer"],
            "annotation": record.get("annotation") or ""}
