"""run_python: useful code runs with its limits; without isolation, code is refused unless the spec opts out.

Escape attempts (the sandbox as a boundary) are in test_escapes.py.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nanoflux.verify import ExecutionResult, run_python
from nanoflux.verify.isolation import SANDBOX_UID, probe
from nanoflux.verify.sandbox import Sandbox, python_tool
from tests.support import ROOT
from tests.verify.attacks import HOOK_BYPASS, requires_isolation

UNSAFE = Sandbox(mode="unsafe-local")


@requires_isolation
def test_printed_output_and_the_final_expression_come_back():
    result = run_python("import math\nprint('choosing')\nmath.comb(10, 5)")
    assert result.ok and result.stdout == "choosing\n" and result.return_value == "252"
    assert result.exit_code == 0 and not result.timed_out


@requires_isolation
def test_a_final_statement_has_no_return_value():
    assert run_python("x = 1").return_value is None


@requires_isolation
def test_the_scientific_libraries_are_importable():
    code = ("import sympy, math, fractions, statistics, itertools\nfrom Bio.Seq import Seq\n"
            "x = sympy.symbols('x')\n(sorted(sympy.solve(x**2 - 4, x)), str(Seq('ATGGCC').translate()),"
            " statistics.mean([1, 2, 3]))")
    result = run_python(code, timeout_s=20)
    assert result.ok, result.stderr
    assert result.return_value == "([-2, 2], 'MA', 2)"


@requires_isolation
def test_an_exception_is_reported_with_the_code_traceback():
    result = run_python("def f():\n    return 1 / 0\nf()")
    assert result.error == "ZeroDivisionError: division by zero"
    assert "return 1 / 0" in result.stderr and "hook" not in result.stderr
    assert result.exit_code == 1


@requires_isolation
def test_a_syntax_error_is_reported():
    assert run_python("def (").error.startswith("SyntaxError")


@requires_isolation
def test_sys_exit_sets_the_exit_code():
    result = run_python("import sys\nsys.exit(3)")
    assert result.exit_code == 3 and result.error == "SystemExit: 3"


@requires_isolation
@pytest.mark.parametrize("code", ["while True:\n    pass", "import time\ntime.sleep(60)"])
def test_code_that_never_ends_is_killed_at_the_wall_clock_limit(code):
    started = time.monotonic()
    result = run_python(code, timeout_s=1)
    assert result.timed_out and "timed out" in result.error
    assert time.monotonic() - started < 3


@requires_isolation
@pytest.mark.parametrize("code", ["x = bytearray(2 * 1024**3)", "x = []\nwhile True:\n    x.append(' ' * 10**6)"])
def test_a_memory_bomb_hits_the_memory_limit(code):
    result = run_python(code, memory_mb=256, timeout_s=10)
    assert result.error == "MemoryError: the memory limit was exceeded"


@requires_isolation
def test_endless_output_is_capped():
    result = run_python("while True:\n    print('x' * 1000)", max_output_bytes=10_000)
    assert "output limit exceeded" in result.error
    assert len(result.stdout) <= 10_000


def test_too_much_code_is_refused_before_anything_starts():
    result = run_python("x = 1\n" * 200_000)
    assert "code too long" in result.error and result.exit_code is None


@requires_isolation
def test_the_working_directory_is_writable_and_nothing_survives_into_the_next_run():
    first = run_python("import os\nopen('notes.txt', 'w').write('kept?')\nos.listdir('.')")
    assert first.ok and first.return_value == "['notes.txt']"
    assert run_python("import os\nos.listdir('.')").return_value == "[]"


@requires_isolation
def test_the_result_serialises_and_the_caller_survives_many_hostile_runs():
    before = os.getpid()
    for code in ("import os\nos._exit(9)", "raise SystemExit('bye')", "import sys\nsys.stdout.close()"):
        result = run_python(code)
        assert isinstance(result, ExecutionResult)
        json.dumps(result.to_dict())
    assert os.getpid() == before


def test_without_bubblewrap_code_is_refused_with_how_to_enable_it(tmp_path: Path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    missing = Sandbox(bwrap=str(tmp_path / "no-such-bwrap"))
    result = run_python(code, sandbox=missing)
    assert not marker.exists() and result.exit_code is None
    assert "not installed" in result.error and "apt-get install bubblewrap" in result.error
    assert "unprivileged_userns_clone=1" in result.error and "sandbox: unsafe-local" in result.error
    assert missing.record() == {"mode": "isolated", "isolation_available": False,
                                "isolation": missing.isolation().detail, "disk_mb": 64,
                                "sympy_worker_isolated": probe().available}  # the workers use bwrap on PATH
    assert run_python(HOOK_BYPASS + code, sandbox=UNSAFE).ok and marker.read_text() == "ran"  # it does run unsafely


def test_a_bubblewrap_that_cannot_start_is_refused_with_what_it_said(tmp_path: Path):
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    broken.chmod(0o755)
    result = run_python("print(1)", sandbox=Sandbox(bwrap=str(broken)))
    assert result.stdout == "" and "setting up uid map: Permission denied" in result.error


def test_the_probe_runs_once_per_executable(tmp_path: Path):
    counter = tmp_path / "count"
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\necho x >> {counter}\nexit 1\n")
    fake.chmod(0o755)
    for _ in range(3):
        assert not probe(str(fake)).available
    assert counter.read_text() == "x\n"


def test_the_unsafe_local_runner_still_has_its_limits():
    assert run_python("import math\nmath.comb(10, 5)", sandbox=UNSAFE).return_value == "252"
    assert run_python("while True:\n    pass", timeout_s=1, sandbox=UNSAFE).timed_out
    result = run_python("x = bytearray(2 * 1024**3)", memory_mb=256, sandbox=UNSAFE)
    assert result.error == "MemoryError: the memory limit was exceeded"


@requires_isolation
def test_the_agent_tool_runs_in_the_sandbox_it_was_given(tmp_path: Path):
    refused = python_tool(Sandbox(bwrap=str(tmp_path / "missing")))("print(6 * 7)")
    assert refused["stdout"] == "" and "apt-get install bubblewrap" in refused["error"]
    assert python_tool(Sandbox())("print(6 * 7)") == {"stdout": "42\n", "stderr": "", "return_value": None,
                                                      "error": None}


def test_code_and_sympy_still_run_when_the_caller_holds_more_than_1024_descriptors():
    """A long run (sockets, caches, Ray) holds many descriptors; select() fails on those above 1023."""
    from nanoflux.verify import check_answer
    from nanoflux.verify.worker import POOL

    POOL.close()  # the next sympy worker starts with its pipes above 1023
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert held[-1] > 1024
        assert run_python("print(6 * 7)").stdout == "42\n"
        assert check_answer("x^2", "x*x").verdict == "match"
    finally:
        for fd in held:
            os.close(fd)


# A caller started through a symlinked venv: its sys.executable and prefix are paths the sandbox does not bind.
THROUGH_A_LINK = """
import json, sys
from nanoflux.verify import check_answer, run_python
from nanoflux.verify.worker import POOL
result = run_python(sys.argv[1])
assert check_answer("x^2", "x*x").verdict == "match"
print(json.dumps({"prefix": sys.prefix, "result": result.to_dict(), "worker": POOL._idle[-1].pid}), flush=True)
sys.stdin.read()  # the worker stays alive until the test has looked at it
"""


@requires_isolation
def test_a_venv_reached_through_a_symlink_runs_code_and_sympy_isolated(tmp_path: Path):
    link = tmp_path / "venv"
    link.symlink_to(os.path.realpath(sys.prefix))
    marker = tmp_path / "escaped"
    code = HOOK_BYPASS + f"try:\n    open({str(marker)!r}, 'w').write('x')\nexcept OSError:\n    pass\nprint(6 * 7)\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    caller = subprocess.Popen([str(link / "bin" / Path(sys.executable).name), "-c", THROUGH_A_LINK, code], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        seen = json.loads(caller.stdout.readline())
        worker = Path(f"/proc/{seen['worker']}")
        assert os.readlink(worker / "ns" / "pid") != os.readlink("/proc/self/ns/pid")  # in a sandbox of its own
        assert (worker / "status").read_text().split("Uid:")[1].split()[:4] == [str(SANDBOX_UID)] * 4  # not root
    finally:
        caller.communicate("")
    assert seen["prefix"] == str(link) and caller.returncode == 0
    assert seen["result"]["stdout"] == "42\n" and seen["result"]["error"] is None
    assert not marker.exists()
