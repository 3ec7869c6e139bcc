"""A run killed from outside (kill -9) once its journal holds some rounds: what crash-safety tests start from."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from nanoflux.engine.journal import read_journal


def kill_once_journaled(script: str, journal: Path, rounds: int, *, within: float,
                        stderr: IO[str] | None = None) -> None:
    """Run `script` in a fresh Python and SIGKILL it as soon as `journal` holds `rounds` rounds (or after
    `within` seconds, which the caller's assertions then catch)."""
    child = subprocess.Popen([sys.executable, "-c", script], stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + within
    while time.time() < deadline and len(read_journal(journal)) < rounds:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
