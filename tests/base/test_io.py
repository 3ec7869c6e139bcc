"""The one reader of files a user points at (regular files only, capped) and the one JSONL reader: every object
with its line number, and one `path:line: what is wrong; fix` message."""

import json
import os
import re
from pathlib import Path

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_input, read_jsonl

FIX = "write one JSON object a line"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_objects_come_with_their_line_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.jsonl", '{"a": 1}\n\n   \n{"a": 2}\r\n{"a": 3}')
    assert list(read_jsonl(path, fix=FIX)) == [(1, {"a": 1}), (4, {"a": 2}), (5, {"a": 3})]


@pytest.mark.parametrize(("text", "problem"), [
    ('{"a": 1}\n{"a": \n', ":2: not JSON"),
    ('{"a": 1}\n[1, 2]\n', ":2: a JSON value but not an object"),
    ('"text"\n', ":1: a JSON value but not an object"),
    (b'{"a": "\xff"}\n', ":1: not JSON"),  # not UTF-8
])
def test_a_bad_line_is_one_message_naming_file_line_problem_and_fix(tmp_path: Path, text: str | bytes,
                                                                   problem: str) -> None:
    path = write(tmp_path / "rows.jsonl", text)
    with pytest.raises(NanofluxError) as error:
        list(read_jsonl(path, fix=FIX))
    message = str(error.value)
    assert message.startswith(f"{path}{problem}") and message.endswith(f"; {FIX}")


def test_rows_before_a_bad_line_are_yielded_first(tmp_path: Path) -> None:
    rows = read_jsonl(write(tmp_path / "rows.jsonl", '{"a": 1}\nnot json\n'), fix=FIX)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(NanofluxError, match=":2: not JSON"):
        next(rows)


def test_a_torn_last_line_is_dropped_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path / "journal.jsonl", json.dumps({"a": 1}) + '\n{"a": 2, "b"')
    assert list(read_jsonl(path, fix=FIX, torn_tail=True)) == [(1, {"a": 1})]
    with pytest.raises(NanofluxError, match=":2: not JSON"):
        list(read_jsonl(path, fix=FIX))


def test_a_whole_last_line_without_its_newline_is_read_unless_torn_tail(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.jsonl", '{"a": 1}\n{"a": 2}')
    assert [row for _, row in read_jsonl(path, fix=FIX)] == [{"a": 1}, {"a": 2}]
    assert [row for _, row in read_jsonl(path, fix=FIX, torn_tail=True)] == [{"a": 1}]


def test_an_empty_file_has_no_rows(tmp_path: Path) -> None:
    assert list(read_jsonl(write(tmp_path / "empty.jsonl", ""), fix=FIX)) == []
    assert list(read_jsonl(write(tmp_path / "blank.jsonl", "\n\n"), fix=FIX)) == []


def test_a_missing_or_unreadable_file_is_one_message_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match=f"^file {re.escape(str(tmp_path / 'none.jsonl'))} does not exist; {FIX}$"):
        list(read_jsonl(tmp_path / "none.jsonl", fix=FIX))
    with pytest.raises(NanofluxError, match=f"^file {re.escape(str(tmp_path))} is a directory, not a regular file; "
                                            f"{FIX}$"):
        list(read_jsonl(tmp_path, fix=FIX))


@pytest.mark.timeout(120)
def test_a_fifo_or_a_device_named_jsonl_is_one_message_at_once(tmp_path: Path) -> None:
    fifo, device = tmp_path / "fifo.jsonl", tmp_path / "zero.jsonl"
    os.mkfifo(fifo)  # no writer: a plain open() would wait forever
    device.symlink_to("/dev/zero")  # read whole, it never ends
    for path, kind in ((fifo, "a FIFO (named pipe)"), (device, "a device")):
        with pytest.raises(NanofluxError, match=f"^file {re.escape(str(path))} is {re.escape(kind)}, not a regular"):
            list(read_jsonl(path, fix=FIX))


def test_a_file_past_its_cap_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "big.jsonl", '{"a": 1}\n' * 1000)
    with pytest.raises(NanofluxError, match="is larger than 1,000 bytes, more than any thing is; fix it"):
        read_input(path, what="thing", fix="fix it", limit=1000)
    assert read_input(path, what="thing", fix="fix it", limit=9000) == path.read_bytes()
