"""A run directory has one writer at a time, and its readers never see a mix of two generations.

The writer (`compile`, or `optimize` writing into a directory) holds an exclusive advisory lock on
`RUN_DIR/.lock` for its whole run; the OS releases it when the process ends, however it ends. The
journal is appended and fsynced line by line; everything else is derived from it and rewritten at
the end of a run as one generation: the dataset files first (each atomically), then `manifest.json`,
which names every file of its generation with its size and SHA-256. The manifest is the commit
point: a reader takes a dataset file only when it matches the manifest, so a run killed between
the two writes is seen as unfinished, never as a mix. Readers (`curate`, `report`, `finetune`)
take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError, disk_error, out_of_space
from nanoflux.base.io import TEMP_SUFFIX, write_json
from nanoflux.base.paths import DATASET_DIR, RunDir

log = logging.getLogger(__name__)


@contextmanager
def exclusive(run_dir: Path) -> Iterator[Path]:
    """Hold `run_dir` as its only writer: create it, lock it (never waiting), and clean stale temporaries.

    A second writer gets a NanofluxError naming the holder's PID at once, before it has called an
    LM or touched the journal.
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(RunDir(run_dir).lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise NanofluxError(f"cannot write to output directory {run_dir} ({exc.strerror}); "
                            "pass --out with a directory you can write to") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise NanofluxError(
                f"{run_dir} is in use by another nanoflux process (PID {holder}); one run directory has one writer. "
                f"Wait for it to finish or stop it (kill {holder}), or pass --out with another directory; "
                "`nanoflux curate`, `stats` and `report` can read it meanwhile") from None
        pid = f"{os.getpid()}\n".encode()
        os.pwrite(fd, pid, 0)
        os.ftruncate(fd, len(pid))
        remove_temporaries(run_dir)
        try:
            yield run_dir
        except NanofluxError:
            raise
        except Exception as exc:  # chromadb, DSPy's cache and sqlite hide ENOSPC in errors of their own
            if not out_of_space(run_dir):
                raise
            raise disk_error(run_dir, OSError(errno.ENOSPC, f"{type(exc).__name__}: {exc}")) from exc
    finally:
        os.close(fd)  # releases the lock


def run_id(run_dir: Path) -> str:
    """The run's id, from `run.json`; a run without one (a new run, or one older than ids) gets one now.

    The id keys the run's LM calls in DSPy's cache (`nanoflux.engine.runner.rollout_id`): two runs of one
    spec sample apart, and every resume of one run finds what it asked before.
    """
    path = RunDir(run_dir).identity
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("run_id")
    except FileNotFoundError:
        found = None
    except (ValueError, AttributeError):
        raise NanofluxError(f"{path}: not the run's identity file; delete it (the run's cached LM calls are then "
                            "not replayed) or restore it from a backup") from None
    if not isinstance(found, str) or not found:
        found = secrets.token_hex(8)
        write_json(path, {"run_id": found})
    return found


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporaries an atomic write left when its process was killed; call it holding the lock."""
    stale = [path for folder in (run_dir, *[p for p in run_dir.iterdir() if p.is_dir()])
             for path in folder.glob(f".*{TEMP_SUFFIX}") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted write", path)
    return stale


def file_entry(out_dir: Path, relative: str, rows: int | None = None) -> dict[str, Any]:
    """How a manifest vouches for one file of its generation: path, rows (for a dataset file), size and SHA-256."""
    data = (out_dir / relative).read_bytes()
    counted = {} if rows is None else {"rows": rows}
    return {"path": relative, **counted, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def verified(path: Path) -> Path:
    """`path` if the manifest of its run (or curated) directory vouches for it; raises if it does not.

    Only files in a `dataset/` folder beside a manifest or journal are checked; any other file is
    the user's own data, taken as it is.
    """
    if path.parent.name != DATASET_DIR:
        return path
    run = RunDir(path.resolve().parent.parent)
    out_dir, manifest_path = run.root, run.manifest
    if not manifest_path.is_file():
        if run.journal.is_file():
            raise NanofluxError(f"{path} has no manifest vouching for it: the run in {out_dir} did not finish writing "
                                "its outputs; finish it with `nanoflux compile SPEC --out RUN_DIR --resume`")
        return path
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries = {out_dir / entry["path"]: entry for entry in manifest.get("dataset", {}).values()}
    if not entries or not all("sha256" in entry for entry in entries.values()):
        return path  # a manifest from before hashes: nothing to check against
    entry = entries.get(path.resolve())
    data = path.read_bytes()
    if entry is None or len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise NanofluxError(f"{path} is not the file {manifest_path} vouches for: a write of {out_dir} was "
                            "interrupted; finish it with `nanoflux compile SPEC --out RUN_DIR --resume` "
                            "(or curate again)")
    return path
