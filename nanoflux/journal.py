"""The run journal, rounds.jsonl: one JSON object per finished round, append-only.

Each record is written and fsynced as soon as its round finishes, so a killed run loses at most
the rounds still in flight. A line torn by a crash is dropped on the next open.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nanoflux.errors import NanofluxError, disk_error

JOURNAL_NAME = "rounds.jsonl"


class Journal:
    """Append-only JSONL journal with torn-tail repair."""

    def __init__(self, path: Path):
        self.path = path
        self._repair_tail()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(read_journal(self.path))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record and fsync it; a failed write (a full disk) is cut off, keeping every earlier line."""
        line = memoryview((json.dumps(record, ensure_ascii=False, default=str) + "\n").encode())
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                while line:
                    line = line[os.write(fd, line):]
                os.fsync(fd)
            except OSError as exc:
                os.ftruncate(fd, size)
                raise disk_error(self.path, exc) from None
        finally:
            os.close(fd)

    def _repair_tail(self) -> None:
        """Cut a last line without its newline (a write interrupted by a kill)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as handle:
                handle.truncate(keep)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """All complete records of a journal (a torn last line is skipped; a damaged one is a NanofluxError)."""
    if not path.exists():
        return []
    records = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                problem = None if isinstance(record, dict) else "a JSON value but not an object"
            except ValueError as exc:  # not JSON, or not UTF-8
                problem = f"not JSON: {exc}"
            if problem:
                raise NanofluxError(f"{path}:{number}: not a journal record ({problem}); the line was damaged outside "
                                    "NanoFlux: restore it from a backup, or delete that line (its round is then played "
                                    "again on --resume)")
            records.append(record)
    return records
