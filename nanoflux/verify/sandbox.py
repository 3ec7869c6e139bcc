"""Run untrusted Python (attacker solutions, judge checks) behind an operating-system boundary.

By default (`Sandbox(mode="isolated")`) every run is a fresh `python -I` under bubblewrap (see
`isolation.py`): its own namespaces, uid 65534 (not root on the host either, so at most
`isolation.MAX_TASKS` threads), a read-only view of only the Python installation, a size-capped
tmpfs as the only writable place, no network, no view of the caller's processes or environment,
and a seccomp filter against new processes. Nothing survives between runs, so one
hostile snippet cannot falsify a later check. Where bubblewrap cannot start, code is refused
(`ExecutionResult.error` says why and how to fix it) unless the spec opts into `unsafe-local`: a
plain child process with the same limits and no boundary.

Inside either, the child applies CPU/memory/file-size/process/descriptor limits to itself before
it reads the code (a `preexec_fn` is unsafe in the threaded runner), and a Python audit hook
refuses processes, sockets and outside files with readable messages: an extra layer that catches
honest mistakes, not the boundary (PEP 578: audit hooks are not a sandbox). A wall-clock timeout
kills the whole run and output is capped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from . import isolation, worker
from .isolation import DEFAULT_DISK_MB, Isolation

MAX_OUTPUT_BYTES = 1 << 20
MAX_CODE_BYTES = 1 << 20
SandboxMode = Literal["isolated", "unsafe-local"]
_BOOTSTRAP = (Path(__file__).with_name("_sandbox_child.py")).read_text()
_SIGNALS = {signal.SIGXCPU: "CPU time limit exceeded", signal.SIGKILL: "killed",
            signal.SIGSEGV: "crashed (segmentation fault)"}


@dataclass(frozen=True)
class ExecutionResult:
    """What a sandboxed run produced.

    `return_value` is the repr of the code's final expression (as in a REPL), or None; `error` says
    why the run failed (exception, limit, timeout, refusal) and is None on success; `exit_code` is
    the process status (negative: killed by that signal; None: never started).
    """

    stdout: str
    stderr: str
    return_value: str | None
    error: str | None
    timed_out: bool
    exit_code: int | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sandbox:
    """How model-written code runs; the spec's `sandbox` field picks the mode.

    Attributes:
        mode (str, default "isolated"): `isolated` runs each piece of code under bubblewrap and
            refuses to run it where bubblewrap cannot start; `unsafe-local` runs it as a limited
            child process of this user, with no boundary (an explicit opt-in).
        bwrap (str, default "bwrap"): the bubblewrap executable, a name on PATH or a path.
        disk_mb (int, default 64): size of the tmpfs that is the code's working directory and its
            only writable place.
    """

    mode: SandboxMode = "isolated"
    bwrap: str = "bwrap"
    disk_mb: int = DEFAULT_DISK_MB

    def isolation(self) -> Isolation:
        """Whether bubblewrap starts here (probed once per executable, then cached)."""
        return isolation.probe(self.bwrap)

    def refusal(self) -> str | None:
        """Why code will not run in this sandbox (isolated mode without isolation), or None."""
        if self.mode != "isolated":
            return None
        found = self.isolation()
        return None if found.available else isolation.refusal(found.detail)

    def record(self) -> dict:
        """What a run's manifest says about the sandbox it used, and whether the sympy workers were isolated."""
        found = self.isolation()
        return {"mode": self.mode, "isolation_available": found.available, "isolation": found.detail,
                "disk_mb": self.disk_mb, "sympy_worker_isolated": worker.isolation_found().available}


def run_python(code: str, *, timeout_s: float = 5, memory_mb: int = 512, max_output_bytes: int = MAX_OUTPUT_BYTES,
               sandbox: Sandbox = Sandbox()) -> ExecutionResult:
    """Run `code` in `sandbox` and report its output, final value and any failure.

    Never raises for anything the code does; sympy, math, fractions, statistics, itertools and
    Bio are importable inside. Where the sandbox refuses (see `Sandbox.refusal`), the result's
    error says why and nothing runs.

        >>> run_python("import math\\nmath.comb(10, 5)").return_value
        '252'
    """
    started = time.monotonic()
    data = code.encode("utf-8", "replace")
    if len(data) > MAX_CODE_BYTES:
        return ExecutionResult("", "", None, f"code too long ({len(data)} bytes > {MAX_CODE_BYTES})", False, None, 0.0)
    if refused := sandbox.refusal():
        return ExecutionResult("", "", None, refused, False, None, 0.0)
    with tempfile.TemporaryDirectory(prefix="nanoflux-sandbox-", ignore_cleanup_errors=True) as root:
        paths = {name: os.path.join(root, name) for name in ("code", "stdout", "stderr", "result")}
        with open(paths["code"], "wb") as f:
            f.write(data)
        with (open(paths["code"], "rb") as code_in, open(paths["stdout"], "wb") as out,
              open(paths["stderr"], "wb") as err, open(paths["result"], "wb") as res):
            # Tasks: RLIMIT_NPROC counts the user's on the whole host where no user namespace counts
            # the sandbox's alone, so unsafe-local keeps it at 0 (no threads; nothing for root).
            tasks = isolation.MAX_TASKS if sandbox.mode == "isolated" else 0
            config = {"memory_mb": memory_mb, "cpu_s": math.ceil(timeout_s) + 1, "max_tasks": tasks,
                      "max_output_bytes": max_output_bytes, "result_fd": res.fileno()}
            launch = _launch_isolated if sandbox.mode == "isolated" else _launch_local
            returncode, timed_out = launch(json.dumps(config), {"stdin": code_in, "stdout": out, "stderr": err},
                                           res.fileno(), timeout_s, sandbox, root)
        stdout, stdout_full = _read_capped(paths["stdout"], max_output_bytes)
        stderr, _ = _read_capped(paths["stderr"], max_output_bytes)
        result = _read_result(paths["result"])
    error = _error(returncode, result, timed_out, timeout_s, stdout_full, max_output_bytes)
    exit_code = result.get("exit_code", returncode) if returncode == 0 or result else returncode
    return ExecutionResult(stdout, stderr, result.get("return_value"), error, timed_out, exit_code,
                           round(time.monotonic() - started, 4))


def _launch_isolated(config: str, streams: dict, result_fd: int, timeout_s: float, sandbox: Sandbox,
                     root: str) -> tuple[int, bool]:
    """Run the bootstrap under bwrap; on timeout kill its PID 1, which takes the whole namespace down."""
    proc, pid = isolation.spawn(sandbox.isolation().path, _BOOTSTRAP, [config], disk_mb=sandbox.disk_mb,
                                pass_fds=(result_fd,), env=isolation.environment(root), cwd=root, **streams)
    pidfd = _open_pid(pid)
    try:
        timed_out = not _exited(proc, timeout_s)
    finally:
        if pidfd is not None:
            _kill_and_wait(pidfd)
        _kill_group(proc.pid)
        proc.wait()
    return proc.returncode, timed_out


def _launch_local(config: str, streams: dict, result_fd: int, timeout_s: float, sandbox: Sandbox,
                  root: str) -> tuple[int, bool]:
    """Run the bootstrap as a plain child in its own session and an empty working directory (unsafe-local)."""
    workdir = os.path.join(root, "work")
    os.mkdir(workdir, 0o700)
    proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOTSTRAP, config], pass_fds=(result_fd,), cwd=workdir,
                            env=isolation.environment(workdir), start_new_session=True, **streams)
    try:
        timed_out = not _exited(proc, timeout_s)
    finally:
        _kill_group(proc.pid)
        proc.wait()
    return proc.returncode, timed_out


def _exited(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Whether `proc` ends within `timeout_s`; woken by a pidfd the moment it does (Popen.wait polls,
    sleeping up to 50 ms between looks, which once was most of a run's cost)."""
    if not hasattr(os, "pidfd_open"):
        try:
            proc.wait(timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    pidfd = os.pidfd_open(proc.pid)
    try:
        return isolation.readable(pidfd, timeout_s)
    finally:
        os.close(pidfd)


def _open_pid(pid: int | None) -> int | None:
    try:
        return None if pid is None else os.pidfd_open(pid)
    except ProcessLookupError:  # already gone
        return None


def _kill_and_wait(pidfd: int) -> None:
    """SIGKILL through a pidfd (never a recycled PID), then wait until it is gone; PID 1's exit
    makes the kernel kill everything else in its namespace first."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        isolation.readable(pidfd, 5.0)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_capped(path: str, limit: int) -> tuple[str, bool]:
    """The file's text (at most `limit` bytes) and whether it reached the limit."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    return data[:limit].decode("utf-8", "replace"), len(data) >= limit


def _read_result(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            result = json.loads(f.read(1 << 16) or b"{}")
    except ValueError:
        return {}
    return result if isinstance(result, dict) else {}


def _error(returncode: int, result: dict, timed_out: bool, timeout_s: float, output_full: bool,
           max_output_bytes: int) -> str | None:
    if timed_out:
        return f"timed out after {timeout_s:g} s; the sandbox was killed"
    if output_full:
        return f"output limit exceeded ({max_output_bytes} bytes); output truncated"
    if result.get("error"):
        return result["error"]
    if returncode < 0:
        return _SIGNALS.get(-returncode, f"killed by signal {-returncode}")
    if returncode != 0 and not result:
        return f"exited with status {returncode} without a result"
    return None


def python_tool(sandbox: Sandbox) -> Callable[[str], dict]:
    """The agentic judge's `execute_python` tool, running code in `sandbox`."""

    def execute_python(code: str) -> dict:
        """Run Python code in the sandbox (5 s, 512 MB, no network, no files outside a temporary folder).

        Returns stdout, stderr, the value of the final expression (as repr), and the error if it failed.
        Print what you need to see; sympy, math, fractions, statistics, itertools and Bio are importable.
        """
        result = run_python(code, sandbox=sandbox)
        return {key: result.to_dict()[key] for key in ("stdout", "stderr", "return_value", "error")}

    return execute_python


execute_python = python_tool(Sandbox())
