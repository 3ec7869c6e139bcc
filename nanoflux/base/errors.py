"""The one error type a user can cause, and a full disk said as one: the CLI prints it without a traceback, exits 2."""

import errno
import os
import reprlib
from pathlib import Path

LOW_SPACE_BYTES = 1 << 20  # free space below which a failed write is taken for a full disk


class NanofluxError(Exception):
    """A problem the user can fix (bad spec, unknown model or tool, unwritable path...).

    The message says what is wrong and how to fix it.
    """


def disk_error(path: Path, exc: OSError) -> NanofluxError | OSError:
    """A full disk as one message (which file, what to do); any other OSError as it was."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return exc
    return NanofluxError(f"cannot write {path}: no space left on its device; free some space and run the command "
                         "again (`nanoflux compile ... --resume` keeps every round already in the journal)")


def out_of_space(path: Path) -> bool:
    """Whether the filesystem holding `path` is (nearly) full: a failed write there was for want of space.

    For libraries that hide ENOSPC in errors of their own (sqlite's "disk I/O error", chromadb's)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < LOW_SPACE_BYTES


QUOTE_CHARS = 120  # the most of a user's value an error message repeats
MAX_PROBLEMS = 20  # problems a message lists: a file with 100,000 wrong keys is still a short message


class _Short(reprlib.Repr):
    """A few items, two levels, 60 characters a string or number."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 2, 4, 4, 3, 4
        self.maxstring = self.maxother = self.maxlong = 60

    def repr_int(self, x: int, level: int) -> str:
        """An int past Python's 4,300-digit limit has no repr (ValueError): its size instead."""
        return super().repr_int(x, level) if x.bit_length() < 14_000 else f"<an int of {x.bit_length():,} bits>"


_SHORT = _Short()


def quoted(value: object) -> str:
    """`repr(value)` cut short (a few items, two levels, at most QUOTE_CHARS characters), so a message never echoes
    a huge input, nor walks one: the repr of a shared structure (YAML aliases) could be gigabytes."""
    text = _SHORT.repr(value)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."
