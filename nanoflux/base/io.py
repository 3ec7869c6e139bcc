"""Files in and out: atomic writes (a crash never leaves a half-written file) and the one JSONL reader."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError, disk_error

TEMP_SUFFIX = ".tmp"  # `write_atomic` names its temporaries `.<name>.<random>.tmp`; a killed write leaves one


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
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


def append_line(path: Path, row: dict[str, Any]) -> None:
    """Append `row` as one JSON line and fsync it. A failed write (a full disk) is cut off, keeping every
    earlier line whole: an append-only file is never left with half a line of ours."""
    line = memoryview((json.dumps(row, ensure_ascii=False, default=str) + "\n").encode())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            while line:
                line = line[os.write(fd, line):]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise disk_error(path, exc) from None
    finally:
        os.close(fd)


def read_jsonl(path: Path, *, fix: str, torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object of a JSONL file with its line number; blank lines are skipped.

    A line that is not a JSON object is a NanofluxError `path:line: what is wrong; fix` (`fix` says
    what the file should hold). With `torn_tail`, a last line without its newline (a write cut by a
    kill) is dropped rather than read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NanofluxError(f"{path}: no such file; {fix}") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise NanofluxError(f"{path}: cannot read it ({exc.strerror}); {fix}") from None
    lines = data.split(b"\n")
    last = lines.pop()  # after the final newline: empty, or a torn write
    if last.strip() and not torn_tail:
        lines.append(last)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem = None if isinstance(row, dict) else "a JSON value but not an object"
        except ValueError as exc:  # not JSON, or not UTF-8
            problem = f"not JSON ({exc})"
        if problem:
            raise NanofluxError(f"{path}:{number}: {problem}; {fix}")
        yield number, row


def read_rows(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict, str]]:
    """The JSON objects of a labelled JSONL file with their line numbers and "file:N" (for messages about
    them); a NanofluxError names the line and the fix for a bad one (not JSON, not an object, a key of
    `required` missing)."""
    fix = (f"write one JSON object a line with keys {', '.join(required)}" if required else
           "write one JSON object a line, as tests/data/judge_labelled.jsonl or reference_solutions.jsonl do")
    rows = []
    for number, row in read_jsonl(Path(path), fix=fix):
        if missing := [key for key in required if key not in row]:
            raise NanofluxError(f"{path}:{number}: missing key(s) {', '.join(missing)}; {fix}")
        rows.append((number, row, f"{path}:{number}"))
    if not rows:
        raise NanofluxError(f"{path}: holds no items; {fix}")
    return rows
