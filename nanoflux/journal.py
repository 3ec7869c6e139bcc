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

JOURNAL_NAME = "rounds.jsonl"


class Journal:
    """Append-only JSONL journal with torn-tail repair."""

    def __init__(self, path: Path):
        self.path = path
        self._repair_tail()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(read_journal(self.path))

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

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
    """All complete records of a journal (a torn last line is skipped)."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            if line.strip():
                records.append(json.loads(line))
    return records
