"""Run untrusted Python (attacker solutions, judge checks) in a separate, limited process.

Each run gets a fresh `python -I` process in its own session, an empty temporary working directory
(removed afterwards), an environment with nothing of the caller's in it, CPU/memory/file-size/
process/descriptor limits, a wall-clock timeout that kills the whole process group, capped output,
and an audit hook against processes, sockets and file access outside the working directory (see
`_sandbox_child.py`). Where `unshare` works (root, or user namespaces) the run also gets its own
network namespace (no interfaces) and PID namespace (every descendant dies with it).

Limits are applied by the child itself before it reads the code rather than in a `preexec_fn`,
which is unsafe in a threaded caller (the runner is one) and would forbid the fast vfork path.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_OUTPUT_BYTES = 1 << 20
MAX_CODE_BYTES = 1 << 20
_BOOTSTRAP = (Path(__file__).with_name("_sandbox_child.py")).read_text()
_SIGNALS = {signal.SIGXCPU: "CPU time limit exceeded", signal.SIGKILL: "killed",
            signal.SIGSEGV: "crashed (segmentation fault)"}


@dataclass(frozen=True)
class ExecutionResult:
    """What a sandboxed run produced.

    `return_value` is the repr of the code's final expression (as in a REPL), or None; `error` says
    why the run failed (exception, limit, timeout) and is None on success; `exit_code` is the
    process status (negative: killed by that signal).
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


def run_python(code: str, *, timeout_s: float = 5, memory_mb: int = 512,
               max_output_bytes: int = MAX_OUTPUT_BYTES) -> ExecutionResult:
    """Run `code` in the sandbox and report its output, final value and any failure.

    Never raises for anything the code does; sympy, math, fractions, statistics, itertools and
    Bio are importable inside.

        >>> run_python("import math\\nmath.comb(10, 5)").return_value
        '252'
    """
    started = time.monotonic()
    data = code.encode("utf-8", "replace")
    if len(data) > MAX_CODE_BYTES:
        return ExecutionResult("", "", None, f"code too long ({len(data)} bytes > {MAX_CODE_BYTES})", False, None, 0.0)
    with tempfile.TemporaryDirectory(prefix="nanoflux-sandbox-", ignore_cleanup_errors=True) as root:
        workdir = os.path.join(root, "work")
        os.mkdir(workdir, 0o700)
        paths = {name: os.path.join(root, name) for name in ("stdout", "stderr", "result")}
        with open(paths["stdout"], "wb") as out, open(paths["stderr"], "wb") as err, open(paths["result"], "wb") as res:
            config = {"memory_mb": memory_mb, "cpu_s": math.ceil(timeout_s) + 1,
                      "max_output_bytes": max_output_bytes, "result_fd": res.fileno()}
            proc = subprocess.Popen(
                [*_isolation_prefix(), sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(config)],
                stdin=subprocess.PIPE, stdout=out, stderr=err, pass_fds=(res.fileno(),), cwd=workdir,
                env=_environment(workdir), start_new_session=True,
            )
            timed_out = False
            try:
                proc.communicate(data, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)
                proc.wait()
        stdout, stdout_full = _read_capped(paths["stdout"], max_output_bytes)
        stderr, _ = _read_capped(paths["stderr"], max_output_bytes)
        result = _read_result(paths["result"])
    error = _error(proc.returncode, result, timed_out, timeout_s, stdout_full, max_output_bytes)
    exit_code = result.get("exit_code", proc.returncode) if proc.returncode == 0 or result else proc.returncode
    return ExecutionResult(stdout, stderr, result.get("return_value"), error, timed_out, exit_code,
                           round(time.monotonic() - started, 4))


def _environment(workdir: str) -> dict[str, str]:
    """Nothing from the caller's environment (keys, tokens) reaches the code."""
    return {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": workdir}


@functools.cache
def _isolation_prefix() -> tuple[str, ...]:
    """`unshare` for private network and PID namespaces when this machine allows it, else nothing."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for flags in (("--net", "--pid", "--fork", "--kill-child"),
                  ("--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child")):
        probe = subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10)
        if probe.returncode == 0:
            return (unshare, *flags, "--")
    return ()


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
        return f"timed out after {timeout_s:g} s; the process group was killed"
    if output_full:
        return f"output limit exceeded ({max_output_bytes} bytes); output truncated"
    if result.get("error"):
        return result["error"]
    if returncode < 0:
        return _SIGNALS.get(-returncode, f"killed by signal {-returncode}")
    if returncode != 0 and not result:
        return f"exited with status {returncode} without a result"
    return None


def execute_python(code: str) -> dict:
    """Run Python code in the sandbox (5 s, 512 MB, no network, no files outside a temporary folder).

    Returns stdout, stderr, the value of the final expression (as repr), and the error if it failed.
    Print what you need to see; sympy, math, fractions, statistics, itertools and Bio are importable.
    """
    result = run_python(code)
    return {key: result.to_dict()[key] for key in ("stdout", "stderr", "return_value", "error")}
