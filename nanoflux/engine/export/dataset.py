"""The dataset files of a run: accepted rounds as TRL datasets plus their provenance, each written atomically."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from nanoflux.base.io import write_jsonl
from nanoflux.base.paths import RunDir, dataset_path
from nanoflux.base.rundir import file_entry
from nanoflux.engine.export.trl import dpo_example, rlvr_example, sft_example, stepwise_example
from nanoflux.engine.journal import RoundRecord


def export_dataset(out_dir: Path, accepted: list[RoundRecord], formats: Iterable[str],
                   refuted: Sequence[RoundRecord] = (), *, annotation: bool = False) -> dict[str, Any]:
    """Write the accepted rounds as TRL datasets under `out_dir/dataset/`; returns the manifest's file entries.

    Each entry names a file with its rows, size and SHA-256 (`nanoflux.base.rundir.file_entry`): the
    manifest written after them vouches for exactly these bytes. `examples.jsonl` keeps each
    example's provenance (round id, topic, level, models, the attacker's annotation) in the same
    order as the sft and rlvr files, which stay free of columns TRL would not use; `annotation` (the
    spec's `output.include_annotation`) also opens the assistant's turn of sft and DPO `chosen` with
    it. `stepwise` also takes the `refuted` rounds (`nanoflux.engine.journal.is_refuted`: never
    accepted) for its wrong steps, all in round order.
    """
    run = RunDir(out_dir)
    rows: dict[str, int] = {}
    if "sft" in formats:
        rows["sft"] = write_jsonl(run.sft, map(partial(sft_example, annotation=annotation), accepted))
    if "dpo" in formats:
        rows["dpo"] = write_jsonl(run.dpo, [p for p in map(partial(dpo_example, annotation=annotation), accepted)
                                              if p is not None])
    if "rlvr" in formats:
        rows["rlvr"] = write_jsonl(run.rlvr, map(rlvr_example, accepted))
    if "stepwise" in formats:
        rounds = sorted([*accepted, *refuted], key=lambda record: record["round_id"])
        rows["stepwise"] = write_jsonl(run.stepwise, [s for s in map(stepwise_example, rounds) if s is not None])
    rows["examples"] = write_jsonl(run.examples, map(example_provenance, accepted))
    return {name: file_entry(out_dir, dataset_path(name), count) for name, count in rows.items()}


def example_provenance(record: RoundRecord) -> dict[str, Any]:
    """An example's row in the provenance file: the round, its models and program, and how it was judged."""
    judge = record["judge"]
    return {"round_id": record["round_id"], "topic": record["topic"], "hops": record["hops"], "level": judge["level"],
            "overall": judge["overall"], "defender_verdict": judge["verdict"], "models": record["models"],
            "program_hash": record["program_hash"], "question": record["question"],
            "reference_answer": record["reference_answer"], "annotation": record.get("annotation") or ""}
