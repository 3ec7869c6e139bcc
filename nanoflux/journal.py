"""The run journal, rounds.jsonl: one JSON object per finished attempt at a round, append-only.

Each record is written and fsynced as soon as its round finishes, so a killed run loses at most
the rounds still in flight. A line torn by a crash is dropped on the next open. A round played
again (its LM call failed, or `--retry-failed`) gets a new line with the next `attempt` number;
earlier attempts stay as the audit trail, and every reader counts a round by its last attempt
(`last_attempts`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nanoflux.errors import disk_error
from nanoflux.io import read_jsonl

DAMAGED = ("a journal line is one JSON record, and this one was damaged outside NanoFlux: restore it from a backup, "
           "or delete that line (its round is then played again on --resume)")


class Journal:
    """Append-only JSONL journal with torn-tail repair; numbers each round's attempts from 1."""

    def __init__(self, path: Path):
        self.path = path
        self._repair_tail()
        self._attempts = Counter(record["round_id"] for record in read_journal(path))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every attempt, in the order written."""
        return iter(read_journal(self.path))

    def rounds(self) -> list[dict[str, Any]]:
        """Each round once, by its last attempt, in round order."""
        return last_attempts(self)

    def append(self, record: dict[str, Any]) -> None:
        """Write one attempt at a round and fsync it; sets its `attempt` (1 for a round's first line,
        then 2, ...). A failed write (a full disk) is cut off, keeping every earlier line."""
        record["attempt"] = self._attempts[record["round_id"]] + 1
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
        self._attempts[record["round_id"]] += 1

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
    """All complete records of a journal, none if there is none yet (a torn last line is skipped; a damaged one
    is a NanofluxError naming its line)."""
    if not path.exists():
        return []
    return [record for _, record in read_jsonl(path, fix=DAMAGED, torn_tail=True)]


def last_attempts(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each round once, by its last attempt (the last line written for it), in round order.

    The one rule every reader of a journal follows: counts, datasets, stats, the report, novelty
    replay and training sets describe a round by what its last attempt made.
    """
    last: dict[int, dict[str, Any]] = {}
    for record in records:
        last[record["round_id"]] = record
    return [last[round_id] for round_id in sorted(last)]


def read_rounds(path: Path) -> list[dict[str, Any]]:
    """A journal's rounds, each once by its last attempt, in round order (see `last_attempts`)."""
    return last_attempts(read_journal(path))
