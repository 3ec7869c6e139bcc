"""The sympy worker pool: a worker that hangs or dies is replaced, and the caller gets a verdict."""

import os
import signal
import time

from nanoflux.tools import check_answer
from nanoflux.tools.worker import POOL


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
