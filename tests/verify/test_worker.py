"""The sympy worker pool: a worker that hangs or dies is replaced, and the caller gets a verdict."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from nanoflux.verify import check_answer
from nanoflux.verify.worker import POOL, WorkerPool
from tests.support import ROOT
from tests.verify.attacks import requires_isolation


def _next_worker_pid() -> int:
    assert check_answer("x + 1", "1 + x").verdict == "match"  # leaves a started worker idle
    return POOL._idle[-1].pid  # the one the next request takes


def test_a_worker_that_stops_answering_is_killed_at_the_hard_limit():
    pid = _next_worker_pid()
    os.kill(pid, signal.SIGSTOP)  # deaf to its own alarm, like a long C-level computation
    started = time.monotonic()
    check = check_answer("x^2", "x*x", timeout_s=0.5)
    assert check.verdict == "undecidable" and "worker was stopped" in check.reason
    assert time.monotonic() - started < 3
    assert check_answer("x^2", "x*x").verdict == "match"


def test_a_worker_that_crashes_is_an_error_and_is_replaced():
    os.kill(_next_worker_pid(), signal.SIGKILL)
    check = check_answer("x^2", "x*x")
    assert check.verdict == "error" and "crashed" in check.reason
    assert check_answer("x^2", "x*x").verdict == "match"


def _wait_until_dead(*pids: int) -> None:
    """Until the killed worker (and bwrap around it) is a zombie or gone: its pipes are closed, so the
    next write must break."""
    deadline = time.monotonic() + 10
    for pid in pids:
        while _state(pid) not in ("Z", None):
            assert time.monotonic() < deadline
            time.sleep(0.01)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:  # reaped (by bwrap, whose child the isolated worker is)
        return None


def test_a_worker_dead_before_the_request_is_written_is_the_same_crash():
    pid = _next_worker_pid()
    os.kill(pid, signal.SIGKILL)
    _wait_until_dead(pid, POOL._idle[-1].proc.pid)
    check = check_answer("x^2", "x*x")  # the write hits a broken pipe
    assert check.verdict == "error" \
        and check.reason == "sympy worker crashed: sympy worker was killed by signal 9 (SIGKILL)"
    assert check_answer("x^2", "x*x").verdict == "match"


def test_a_worker_dying_after_the_request_is_written_is_the_same_crash():
    pid = _next_worker_pid()
    os.kill(pid, signal.SIGSTOP)  # alive, so the request goes into its pipe; then it dies before answering
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    check = check_answer("x^2", "x*x", timeout_s=5)
    assert check.verdict == "error" \
        and check.reason == "sympy worker crashed: sympy worker was killed by signal 9 (SIGKILL)"
    assert check_answer("x^2", "x*x").verdict == "match"


def test_prestart_starts_workers_in_the_background_up_to_the_count_and_requests_use_them():
    pool = WorkerPool(size=2)
    try:
        pool.prestart(5).join(timeout=30)
        started = {worker.pid for worker in pool._idle}
        assert len(started) == 2, "no more than the pool's size"
        pool.prestart(2).join(timeout=30)
        assert {worker.pid for worker in pool._idle} == started, "as many are alive already: none started"
        reply = pool.call("compare", {"pred": "x + 1", "ref": "1 + x", "rel_tol": 1e-9, "abs_tol": 0.0,
                                      "pred_places": None, "ref_places": None}, 30)
        assert reply["ok"] and {worker.pid for worker in pool._idle} == started
    finally:
        pool.close()


def test_warm_returns_once_the_workers_have_imported_sympy_and_requests_use_them():
    pool = WorkerPool(size=2)
    try:
        pool.warm(2)
        workers = list(pool._idle)
        assert len(workers) == 2 and all(worker.ready for worker in workers), "each said it is ready"
        assert all(_state(worker.pid) not in ("Z", None) for worker in workers)
        reply = pool.call("compare", {"pred": "x + 1", "ref": "1 + x", "rel_tol": 1e-9, "abs_tol": 0.0,
                                      "pred_places": None, "ref_places": None}, 30)
        assert reply["ok"] and {worker.pid for worker in pool._idle} == {worker.pid for worker in workers}
    finally:
        pool.close()


# A caller whose worker was started by a thread that has ended (the prestart's), as in a run, and has answered.
CALLER = """
import time
from nanoflux.verify import check_answer
from nanoflux.verify.worker import POOL
POOL.prestart(1).join()
assert check_answer("x + 1", "1 + x").verdict == "match"
print(POOL._idle[0].pid, POOL._idle[0].proc.pid, flush=True)
time.sleep(600)
"""


@requires_isolation
def test_an_isolated_worker_dies_with_a_caller_killed_mid_computation():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    caller = subprocess.Popen([sys.executable, "-c", CALLER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        worker, bwrap = (int(pid) for pid in caller.stdout.readline().split())
        os.kill(worker, signal.SIGSTOP)  # deaf, like a C-level computation: it never sees its input close
    finally:
        caller.kill()
        caller.wait()
        caller.stdout.close()
    try:
        _wait_until_dead(worker, bwrap)
    finally:
        for pid in (worker, bwrap):
            if _state(pid) not in ("Z", None):
                os.kill(pid, signal.SIGKILL)


# A caller where bubblewrap is not on PATH, which starts two workers and reports what a run's manifest records.
UNISOLATED = """
import json
from nanoflux.verify import check_answer
from nanoflux.verify.sandbox import Sandbox
from nanoflux.verify.worker import POOL
POOL.prestart(2).join()
assert len(POOL._idle) == 2 and check_answer("x + 1", "1 + x").verdict == "match"
print(json.dumps(Sandbox().record()))
"""


def test_an_unisolated_worker_warns_once_per_run_and_the_manifest_records_it(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(tmp_path)}  # no bwrap on it
    done = subprocess.run([sys.executable, "-c", UNISOLATED], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("WITHOUT isolation") == 1, done.stderr
    assert "bubblewrap ('bwrap') is not installed" in done.stderr
    assert json.loads(done.stdout)["sympy_worker_isolated"] is False
