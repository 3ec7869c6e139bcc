"""Atomic dataset writers: a crash never leaves a half-written dataset or manifest."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanoflux.export.trl import dpo_example, sft_example
from nanoflux.errors import disk_error
from nanoflux.rundir import DATASET_DIR, file_entry


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; datasets and reports are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise disk_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    write_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def export_dataset(out_dir: Path, accepted: list[dict[str, Any]], formats: Iterable[str]) -> dict[str, Any]:
    """Write the accepted rounds as TRL datasets under `out_dir/dataset/`; returns the manifest's file entries.

    Each entry names a file with its rows, size and SHA-256 (`nanoflux.rundir.file_entry`): the
    manifest written after them vouches for exactly these bytes. `examples.jsonl` keeps each
    example's provenance (round id, topic, level, models) in the same order as the training files,
    which stay free of extra columns so TRL takes them as they are.
    """
    directory = out_dir / DATASET_DIR
    rows: dict[str, int] = {}
    if "sft" in formats:
        rows["sft"] = write_jsonl(directory / "sft.jsonl", map(sft_example, accepted))
    if "dpo" in formats:
        rows["dpo"] = write_jsonl(directory / "dpo.jsonl", [p for p in map(dpo_example, accepted) if p is not None])
    provenance = ({"round_id": r["round_id"], "topic": r["topic"], "hops": r["hops"], "level": r["judge"]["level"],
                   "overall": r["judge"]["overall"], "defender_verdict": r["judge"]["verdict"], "models": r["models"],
                   "program_hash": r["program_hash"], "question": r["question"], "reference_answer": r["reference_answer"]}
                  for r in accepted)
    rows["examples"] = write_jsonl(directory / "examples.jsonl", provenance)
    return {name: file_entry(out_dir, f"{DATASET_DIR}/{name}.jsonl", count) for name, count in rows.items()}
