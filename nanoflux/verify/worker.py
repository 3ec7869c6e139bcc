"""A pool of long-lived sympy worker processes that are killed, not waited for, when they run long.

sympy cannot be interrupted from another thread and a big-integer power ignores signals, so the
only hard time limit is a process boundary. Workers stay alive between requests (starting one costs
about a second of imports); a worker that overruns is killed and a fresh one starts at once in the
background. Thread-safe: the runner's threads share the pool.

sympy's parser ends in `eval` (of whitelisted tokens, see `symbolic.py`), so where bubblewrap
works each worker runs isolated like the sandbox's runs (`isolation.py`), seeing only Python and the
package's own source; elsewhere it runs as a plain child process, which `_start` warns about once
per process and the manifest records (`Sandbox.record`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from . import isolation

logger = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 60.0
KILL_GRACE_S = 1.0  # how long past its soft limit a worker may take to report before it is killed

# The worker imports nanoflux.verify.symbolic and nothing else of the package (both package
# `__init__`s import lazily); -I keeps the caller's environment and paths out, so the root is added here.
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from nanoflux.verify.symbolic import serve; serve()"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
T = TypeVar("T")


class WorkerTimeout(Exception):
    """The worker did not answer within the hard limit and was killed."""


class WorkerDied(Exception):
    """The worker process exited (crashed, or was killed by a resource limit) mid-request."""


class _Spawner:
    """Starts every worker from one thread that lives as long as this process.

    The kernel sends bwrap's `--die-with-parent` signal when the *thread* that started it ends, and
    the threads that ask for workers (the runner's, the prestart) end long before their workers
    should. Started from here, the isolated workers die with the process, even one killed with
    SIGKILL in the middle of a computation that would never read the end of its input.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue = queue.SimpleQueue()

    def call(self, start: Callable[[], T]) -> T:
        """`start()`'s result (or exception), run on the spawner thread."""
        done: Future = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # first use, or in a forked child
                self._requests = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, args=(self._requests,), name="sympy-spawner",
                                                daemon=True)
                self._thread.start()
            self._requests.put((start, done))
        return done.result()

    @staticmethod
    def _serve(requests: queue.SimpleQueue) -> None:
        while True:
            start, done = requests.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # noqa: BLE001 - the caller raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def isolation_found() -> isolation.Isolation:
    """Whether the workers run isolated here (bubblewrap on PATH starts), and if not, why."""
    return isolation.probe()


_warned = threading.Event()


def _start() -> tuple[subprocess.Popen, int | None]:
    """A worker process (isolated where bubblewrap works) and the host PID of bwrap's child, if any."""
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    found = isolation_found()
    if found.available:
        return isolation.spawn(found.path, _BOOT, [_PACKAGE_ROOT], disk_mb=8, one_shot=False,
                               ro_binds=[os.path.join(_PACKAGE_ROOT, "nanoflux")], **pipes)
    if not _warned.is_set():  # once per process: every worker start would repeat it
        _warned.set()
        logger.warning("the sympy worker runs WITHOUT isolation (%s): model-written expressions are parsed in a "
                       "plain child process, as this user; install bubblewrap and allow user namespaces to isolate "
                       "it (the run's manifest records this as sandbox.sympy_worker_isolated: false)", found.detail)
    return subprocess.Popen([sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT], start_new_session=True, **pipes), None


class _Worker:
    def __init__(self) -> None:
        self.proc, pid = _SPAWNER.call(_start)
        self.pid = pid or self.proc.pid  # the Python process itself (inside bwrap: its PID 1)
        self.ready = False

    def wait_ready(self) -> None:
        """Wait until the worker has imported sympy and said so (once)."""
        if not self.ready:
            self._read_line(STARTUP_TIMEOUT_S)
            self.ready = True

    def request(self, payload: dict, timeout_s: float) -> dict:
        self.wait_ready()
        try:
            self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:  # the pipe broke: the worker is dead, or dying (wait for it, as the reader does)
            raise self._died() from None
        return json.loads(self._read_line(timeout_s))

    def _died(self) -> WorkerDied:
        """The one crash report, whichever side (write or read) noticed first."""
        try:
            status = self.proc.wait(KILL_GRACE_S)
        except subprocess.TimeoutExpired:  # closed its pipes but lingers: it is no use any more
            self.kill()
            status = self.proc.returncode
        return WorkerDied(f"sympy worker {_exit_reason(status, isolated=self.pid != self.proc.pid)}")

    def _read_line(self, timeout_s: float) -> bytes:
        fd, buf = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + timeout_s
        while not buf.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not isolation.readable(fd, remaining):
                raise WorkerTimeout(f"no answer within {timeout_s:.1f} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._died()
            buf += chunk
        return buf

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:  # stdin still holds the request the dead worker never read: flushing it breaks the pipe
                pass


def _exit_reason(status: int, *, isolated: bool) -> str:
    """The worker's end in the same words whether bwrap stood between (it exits 128 + N for signal N) or not."""
    signal_number = -status if status < 0 else status - 128 if isolated and status > 128 else None
    if signal_number is None:
        return f"exited with status {status}"
    try:
        name = signal.Signals(signal_number).name
    except ValueError:
        name = "unknown signal"
    return f"was killed by signal {signal_number} ({name})"


class WorkerPool:
    """At most `size` workers, each serving one request at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._alive = 0  # workers started and not killed: idle, serving or being started
        atexit.register(self.close)

    def prestart(self, count: int) -> threading.Thread:
        """Start workers in a background thread until `count` (at most `size`) are alive.

        A run calls it as it starts, so its first concurrent rounds find workers importing sympy or
        ready instead of each starting one (0.3-0.65 s). Returns the thread (nothing to wait for).
        """
        with self._lock:
            missing = max(0, min(count, self.size) - self._alive)
            self._alive += missing

        def start() -> None:
            for _ in range(missing):
                try:
                    worker = _Worker()
                except OSError as exc:  # the first request will start one, and say why it cannot
                    logger.info("could not start a sympy worker ahead of the run: %s", exc)
                    with self._lock:
                        self._alive -= 1
                    continue
                with self._lock:
                    self._idle.append(worker)

        thread = threading.Thread(target=start, name="sympy-prestart", daemon=True)
        thread.start()
        return thread

    def warm(self, count: int) -> None:
        """`prestart(count)`, then wait until those workers have imported sympy.

        For a process that plays rounds only after it is ready (a Ray actor): its first rounds then
        find their workers warm, instead of each paying the imports while other rounds play (8 actors
        importing at once on 2 cores made every actor's first round 2-3 s slower). A worker that does
        not start is left for the first request, which starts another and says why.
        """
        self.prestart(count).join()
        with self._lock:
            starting = [worker for worker in self._idle if not worker.ready]
            self._idle = [worker for worker in self._idle if worker.ready]  # no request reads them meanwhile
        for worker in starting:
            try:
                worker.wait_ready()
            except (WorkerTimeout, WorkerDied) as exc:
                logger.info("a sympy worker did not start ahead of the run: %s", exc)
                worker.kill()
                with self._lock:
                    self._alive -= 1
                continue
            with self._lock:
                self._idle.append(worker)

    def call(self, op: str, args: dict, timeout_s: float) -> dict:
        """Run `symbolic.OPERATIONS[op](**args)`; its reply, or WorkerTimeout / WorkerDied."""
        with self._slots:
            with self._lock:
                if not self._idle:
                    self._alive += 1
                worker = self._idle.pop() if self._idle else _Worker()
            try:
                reply = worker.request({"op": op, "args": args, "soft_timeout_s": timeout_s}, timeout_s + KILL_GRACE_S)
            except (WorkerTimeout, WorkerDied):
                worker.kill()
                with self._lock:
                    self._idle.append(_Worker())  # its imports overlap with whatever the caller does next
                raise
            with self._lock:
                self._idle.append(worker)
            return reply

    def close(self) -> None:
        with self._lock:
            for worker in self._idle:
                worker.kill()
            self._alive -= len(self._idle)
            self._idle.clear()


POOL = WorkerPool(size=max(1, min(4, os.cpu_count() or 1)))


def call_sympy(op: str, args: dict, timeout_s: float) -> dict:
    """Run one sympy operation in the shared pool (see `WorkerPool.call`)."""
    return POOL.call(op, args, timeout_s)
