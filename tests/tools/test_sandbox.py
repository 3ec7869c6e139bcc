"""run_python: useful code runs; hostile code is stopped, reported, and leaves the caller untouched."""

import ast
import json
import os
import time
from pathlib import Path

import pytest

from nanoflux.tools import ExecutionResult, run_python


def test_printed_output_and_the_final_expression_come_back():
    result = run_python("import math\nprint('choosing')\nmath.comb(10, 5)")
    assert result.ok and result.stdout == "choosing\n" and result.return_value == "252"
    assert result.exit_code == 0 and not result.timed_out


def test_a_final_statement_has_no_return_value():
    assert run_python("x = 1").return_value is None


def test_the_scientific_libraries_are_importable():
    code = ("import sympy, math, fractions, statistics, itertools\nfrom Bio.Seq import Seq\n"
            "x = sympy.symbols('x')\n(sorted(sympy.solve(x**2 - 4, x)), str(Seq('ATGGCC').translate()),"
            " statistics.mean([1, 2, 3]))")
    result = run_python(code, timeout_s=20)
    assert result.ok, result.stderr
    assert result.return_value == "([-2, 2], 'MA', 2)"


def test_an_exception_is_reported_with_the_code_traceback():
    result = run_python("def f():\n    return 1 / 0\nf()")
    assert result.error == "ZeroDivisionError: division by zero"
    assert "return 1 / 0" in result.stderr and "hook" not in result.stderr
    assert result.exit_code == 1


def test_a_syntax_error_is_reported():
    assert run_python("def (").error.startswith("SyntaxError")


def test_sys_exit_sets_the_exit_code():
    result = run_python("import sys\nsys.exit(3)")
    assert result.exit_code == 3 and result.error == "SystemExit: 3"


@pytest.mark.parametrize("code", ["while True:\n    pass", "import time\ntime.sleep(60)"])
def test_code_that_never_ends_is_killed_at_the_wall_clock_limit(code):
    started = time.monotonic()
    result = run_python(code, timeout_s=1)
    assert result.timed_out and "timed out" in result.error
    assert time.monotonic() - started < 3


def test_a_fork_bomb_is_stopped():
    result = run_python("import os\nwhile True:\n    os.fork()", timeout_s=2)
    assert not result.ok and "os.fork" in result.error


@pytest.mark.parametrize("code, event", [
    ("import os\nos.system('echo pwned')", "os.system"),
    ("import subprocess\nsubprocess.run(['echo', 'pwned'])", "subprocess.Popen"),
    ("import os\nos.execv('/bin/echo', ['echo', 'pwned'])", "os.exec"),
    ("import _posixsubprocess\n_posixsubprocess.fork_exec()", "fork_exec"),
    ("import os\nos.kill(1, 9)", "os.kill"),
    ("import ctypes\nctypes.CDLL(None).system(b'echo pwned')", "ctypes"),
])
def test_starting_processes_is_refused(code, event):
    result = run_python(code)
    assert event in result.error and "pwned" not in result.stdout


@pytest.mark.parametrize("code", [
    "import socket\nsocket.create_connection(('127.0.0.1', 9))",
    "import socket\nsocket.socket().bind(('0.0.0.0', 8765))",
    "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=1)",
])
def test_the_network_is_unreachable(code):
    result = run_python(code)
    assert not result.ok and "network access" in result.error


@pytest.mark.parametrize("code", ["x = bytearray(2 * 1024**3)", "x = []\nwhile True:\n    x.append(' ' * 10**6)"])
def test_a_memory_bomb_hits_the_memory_limit(code):
    result = run_python(code, memory_mb=256, timeout_s=10)
    assert result.error == "MemoryError: the memory limit was exceeded"


def test_endless_output_is_capped():
    result = run_python("while True:\n    print('x' * 1000)", max_output_bytes=10_000)
    assert "output limit exceeded" in result.error
    assert len(result.stdout) <= 10_000


def test_the_callers_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("NANOFLUX_TEST_SECRET", "hunter2")
    result = run_python("import os\nsorted(os.environ)")
    assert "NANOFLUX_TEST_SECRET" not in result.return_value
    assert "hunter2" not in json.dumps(result.to_dict())


@pytest.mark.parametrize("template", [
    "import os\nopen(os.path.expanduser('~/../../pwned'), 'w').write('x')",
    "open({target!r}, 'w').write('x')",
    "import os\nos.symlink({target!r}, 'link')\nopen('link', 'w').write('x')",
    "import shutil\nshutil.rmtree({folder!r})",
])
def test_nothing_outside_the_working_directory_can_be_written(template, tmp_path):
    target, folder = tmp_path / "pwned", tmp_path / "keep"
    folder.mkdir()
    result = run_python(template.format(target=str(target), folder=str(folder)))
    assert not result.ok and "outside the working directory" in result.error
    assert not target.exists() and folder.exists()


def test_files_outside_the_python_installation_cannot_be_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    result = run_python(f"open({str(secret)!r}).read()")
    assert "reading" in result.error and "hunter2" not in result.stdout + result.stderr


def test_the_callers_process_environment_cannot_be_read_through_proc(monkeypatch):
    monkeypatch.setenv("NANOFLUX_TEST_SECRET", "hunter2")
    result = run_python(f"open('/proc/{os.getpid()}/environ', 'rb').read()")
    assert "reading" in result.error and "hunter2" not in (result.return_value or "")


def test_the_working_directory_is_private_writable_and_removed_afterwards():
    result = run_python("import os\nopen('notes.txt', 'w').write('kept?')\n(os.getcwd(), os.listdir('.'))")
    workdir, listing = ast.literal_eval(result.return_value)
    assert listing == ["notes.txt"]
    assert not Path(workdir).exists()


def test_the_result_serialises_and_the_caller_survives_many_hostile_runs():
    before = os.getpid()
    for code in ("import os\nos._exit(9)", "raise SystemExit('bye')", "import sys\nsys.stdout.close()"):
        result = run_python(code)
        assert isinstance(result, ExecutionResult)
        json.dumps(result.to_dict())
    assert os.getpid() == before
