"""Files in and out: atomic writes (a crash never leaves a half-written file), the one reader of files a user
points at (regular files only, size-capped), the one JSONL reader and the one YAML loader (aliases bounded)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from nanoflux.base.errors import QUOTE_CHARS, NanofluxError, disk_error

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a device",
          stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}
TEMP_SUFFIX = ".tmp"  # `write_atomic` names its temporaries `.<name>.<random>.tmp`; a killed write leaves one


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write to a temporary file beside `path` (text as UTF-8), then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; datasets and reports are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
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
    """Append `row` as one JSON line and fsync it (`append_lines`)."""
    append_lines(path, [row])


def append_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append `rows` as JSON lines with one write and one fsync (a group commit). A failed write (a full disk)
    is cut off, keeping every earlier line whole: an append-only file is never left with half a line of ours."""
    data = memoryview("".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows).encode())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise disk_error(path, exc) from None
    finally:
        os.close(fd)


def read_input(path: str | Path, *, what: str, fix: str, limit: int | None) -> bytes:
    """The bytes of a file a user points at; a NanofluxError `what path ...; fix` when it cannot be one.

    Regular files only: a FIFO would wait for a writer forever and a device (`/dev/zero`) never ends,
    whatever its name says. The check is on the opened descriptor (`fstat`), so a symlink swapped in
    between cannot slip past it, and O_NONBLOCK keeps the open itself from waiting on a FIFO. At most
    `limit` bytes are read (None: no cap, for the tool's own files that grow with a run).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NanofluxError(f"{what} {path} does not exist; {fix}") from None
    except OSError as exc:  # a directory on some systems, no permission, a symlink loop...
        raise NanofluxError(f"cannot read {what} {path} ({exc.strerror or exc}); {fix}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NanofluxError(f"{what} {path} is {_KINDS.get(stat.S_IFMT(mode), 'not a file')}, not a regular "
                                f"file; {fix}")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except OSError as exc:
        raise NanofluxError(f"cannot read {what} {path} ({exc.strerror or exc}); {fix}") from None
    finally:
        os.close(fd)
    if limit is not None and len(data) > limit:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"
        raise NanofluxError(f"{what} {path} is larger than {size}, more than any {what} is; {fix}")
    return data


def read_jsonl(path: Path, *, fix: str, torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object of a JSONL file (a regular file: `read_input`) with its line number; blank lines are skipped.

    A line that is not a JSON object is a NanofluxError `path:line: what is wrong; fix` (`fix` says
    what the file should hold). With `torn_tail`, a last line without its newline (a write cut by a
    kill) is dropped rather than read.
    """
    yield from jsonl_rows(read_input(path, what="file", fix=fix, limit=None), path, fix=fix, torn_tail=torn_tail)


def jsonl_rows(data: bytes, source: str | Path, *, fix: str,
               torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """`read_jsonl` of a file's bytes already read; `source` names the file in messages."""
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
            raise NanofluxError(f"{source}:{number}: {problem}; {fix}")
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


MAX_YAML_BYTES = 2 << 20  # a spec or recipe is a few KB; 2 MiB (~20,000 seed examples) parses in seconds
MAX_ALIAS_NODES = 10_000  # nodes aliases may add, expanded: a YAML bomb of 372 bytes would add 10**9
MAX_YAML_DEPTH = 64  # nesting; the composer recurses per level, so 100,000 `[` would be a RecursionError


class _YamlTooLarge(yaml.MarkedYAMLError):
    """A document that would expand (aliases) or nest past the caps: refused while it is composed."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that sizes every node as composed: the nodes it stands for, aliases expanded.

    An alias adds its anchor's expanded size to a running total, refused past MAX_ALIAS_NODES at that
    alias, so a billion laughs stops at its first few hundred bytes, before anything walks the shared
    structure (constructing, validating or printing it would). An alias inside its own anchor (a cycle)
    has no size yet and is refused too.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> its expanded size; nodes live until the loader does
        self._aliased = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and (anchored := self.anchors.get(event.anchor)) is not None:
            size = self._sizes.get(id(anchored))
            self._aliased += MAX_ALIAS_NODES + 1 if size is None else size
            if self._aliased > MAX_ALIAS_NODES:
                raise _YamlTooLarge(None, None, f"aliases expand past {MAX_ALIAS_NODES:,} nodes (a YAML bomb, or "
                                    "an alias inside its own anchor); write the values out instead", event.start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            raise _YamlTooLarge(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels; flatten it",
                                event.start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            children = (node.value if isinstance(node, yaml.SequenceNode) else
                        [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else [])
            self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in children)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with a value Python refuses (an int of 5,000 digits, month 13) a YAML error at its line."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"cannot read this value ({exc})",
                                                    node.start_mark) from None


def parse_yaml(text: str, source: str | Path) -> tuple[Any, yaml.Node | None]:
    """One YAML document's data and its node tree (for line numbers), aliases and nesting bounded.

    Malformed or oversized YAML is a NanofluxError naming `source` and the line, on one line whatever
    the input (PyYAML's problem text quotes tokens of the input: it is cut short).
    """
    try:
        loader = _BoundedLoader(text)  # it checks the text's characters first
        try:
            root = loader.get_single_node()
            return (loader.construct_document(root) if root is not None else None), root
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join((getattr(exc, "problem", None) or str(exc)).split())
        if isinstance(exc, _YamlTooLarge):
            raise NanofluxError(f"{source}: YAML too large{where}: {problem}") from None
        cut = problem if len(problem) <= QUOTE_CHARS else f"{problem[:QUOTE_CHARS]}..."
        raise NanofluxError(f"{source}: malformed YAML{where}: {cut}; check indentation and quoting there") from None


def read_yaml(path: str | Path, *, what: str, fix: str) -> tuple[Any, yaml.Node | None]:
    """`parse_yaml` of a YAML file a user points at (`read_input`: a regular UTF-8 file of MAX_YAML_BYTES at most)."""
    data = read_input(path, what=what, fix=fix, limit=MAX_YAML_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NanofluxError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); {fix}") from None
    return parse_yaml(text, path)
