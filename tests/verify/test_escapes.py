"""Escape attempts against the sandbox, each judged by the world outside it, never by what it reports.

Every attack starts with the audit-hook bypass (`attacks.HOOK_BYPASS`), so what holds is the
operating-system boundary alone. Markers live in places the caller can see (its temp folder, its
working directory, its home, site-packages); a leaked marker is removed again so a failure stays local.
"""

import contextlib
import json
import os
import platform
import shutil
import signal
import site
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from nanoflux.verify import run_python, sandbox
from nanoflux.verify.isolation import MAX_TASKS, WORKDIR, python_roots
from tests.support import ROOT
from tests.verify.attacks import HOOK_BYPASS, requires_isolation

pytestmark = requires_isolation

SECRET = "hunter2-" + uuid.uuid4().hex


def attack(code: str, **limits) -> dict:
    """Run hook bypass + `code`; everything the sandbox handed back, as one JSON text to search."""
    return run_python(HOOK_BYPASS + code, **limits).to_dict()


def gone(*paths: Path) -> bool:
    """None of `paths` exists (any that does is removed, so one escape does not leak into other tests)."""
    found = [p for p in paths if p.exists()]
    for p in found:
        p.unlink()
    return not found


def processes_named(name: str) -> list[int]:
    """PIDs of every process on this machine whose name (comm) is `name`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def rename_self(name: str) -> str:
    """Code that names its process `name` (so the test can look for it from outside)."""
    return f"import ctypes\nctypes.CDLL(None).prctl(15, ctypes.c_char_p({name.encode()!r}), 0, 0, 0)\n"


def test_the_bypass_switches_the_audit_hook_off_and_only_python_is_visible_behind_it():
    assert "listing '/' is not allowed" in run_python("import os\nos.listdir('/')").error
    seen = attack(f"import os\n(sorted(os.listdir('/')), [os.path.exists(p) for p in {[__file__, '/etc/passwd']!r}])")
    assert seen["error"] is None
    top, visible = eval(seen["return_value"])
    python = {Path(root).parts[1] for root in python_roots()}
    assert set(top) <= {"bin", "dev", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "usr", WORKDIR[1:]} | python
    assert visible == [False, False]  # not this repository (even with a .venv inside it), not /etc


@pytest.mark.parametrize("shell", ["import os\nos.system({command!r})",
                                   "import ctypes\nctypes.CDLL(None).system({command!r}.encode())",
                                   "import subprocess\nsubprocess.run({command!r}, shell=True)",
                                   "import os\nos.execv('/bin/sh', ['sh', '-c', {command!r}])"])
def test_a_shell_writes_nothing_outside(shell, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    attack(shell.format(command=f"mkdir -p {tmp_path}; touch {marker}; touch pwned-in-cwd"))
    assert gone(marker, tmp_path / "pwned-in-cwd")


# A caller with a secret in its real environment (what /proc/PID/environ shows), running one attack.
CALLER = """
import json, os, sys
from nanoflux.verify.sandbox import Sandbox, run_python
code = sys.stdin.read().replace("CALLER_PID", str(os.getpid()))
print(json.dumps(run_python(code, sandbox=Sandbox(mode=sys.argv[1])).to_dict()))
"""


def run_as_caller_with_a_secret(code: str, mode: str = "isolated") -> str:
    env = {**os.environ, "NANOFLUX_TEST_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CALLER, mode], input=HOOK_BYPASS + code, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_the_callers_environment_reaches_no_output():
    code = ("import os, glob\nprint(dict(os.environ))\n"
            "for path in ['/proc/CALLER_PID/environ', *glob.glob('/proc/*/environ')]:\n"
            "    try:\n        print(open(path, 'rb').read())\n    except OSError as exc:\n        print(exc)\n")
    assert SECRET not in run_as_caller_with_a_secret(code)
    assert SECRET in run_as_caller_with_a_secret(code, "unsafe-local")  # what the boundary prevents


def test_files_of_the_caller_cannot_be_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    code = f"print(open({str(secret)!r}).read())\n"
    assert SECRET not in json.dumps(attack(code))
    assert secret.read_text() == SECRET


def test_nothing_is_written_into_site_packages_the_repository_home_cwd_or_tmp(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"nanoflux-escape-{uuid.uuid4().hex}"
    targets = [Path(p) / f"{name}.pth" for p in {*site.getsitepackages(), sys.prefix}]
    targets += [Path.home() / name, tmp_path / name, Path("/tmp") / name, Path(os.getcwd()) / f"{name}.cwd",
                ROOT / name]  # and this repository
    code = "import os\n" + "".join(
        f"try:\n    os.makedirs({str(t.parent)!r}, exist_ok=True)\n    open({str(t)!r}, 'w').write('import os')\n"
        "except OSError as exc:\n    print(exc)\n" for t in targets)
    attack(code)
    assert gone(*targets)


def test_a_signal_to_the_caller_its_group_or_everyone_is_never_received():
    """SIGWINCH: ignored by default, so were it to escape to other processes (kill -1) it would harm none."""
    received = []
    previous = signal.signal(signal.SIGWINCH, lambda *_: received.append(True))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
    try:
        code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                f"for pid in ({os.getpid()}, -{os.getpgrp()}, -1):\n"
                "    try:\n        os.kill(pid, 28)\n    except OSError as exc:\n        print(exc)\n"
                "    print(libc.kill(pid, 28), ctypes.get_errno())\n")
        attack(code)
        pending = signal.sigpending()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGWINCH})
        signal.signal(signal.SIGWINCH, previous)
    assert signal.SIGWINCH not in pending and not received


def test_no_descriptor_of_the_caller_reaches_the_code(tmp_path: Path):
    """Not even one the caller left inheritable (an open journal, a lock file): writes through it go nowhere."""
    journal = tmp_path / "rounds.jsonl"
    fd = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    os.set_inheritable(fd, True)
    try:
        code = ("import os\nfor fd in range(3, 1024):\n"
                "    try:\n        os.write(fd, b'pwned')\n    except OSError:\n        pass\n"
                "for fd in os.listdir('/proc/self/fd'):\n"
                "    try:\n        print(os.readlink(f'/proc/self/fd/{fd}'))\n    except OSError:\n        pass\n")
        result = attack(code)
    finally:
        os.close(fd)
    assert journal.read_bytes() == b""
    assert str(journal) not in json.dumps(result)


def test_a_daemonised_child_does_not_outlive_the_call(tmp_path: Path):
    name, marker = uuid.uuid4().hex[:15], tmp_path / "late"
    code = rename_self(name) + (
        "import os, time\n"
        "def daemon():\n"
        "    if os.fork():\n        os._exit(0)\n"
        "    os.setsid()\n"
        "    if os.fork():\n        os._exit(0)\n"
        f"    time.sleep(0.5)\n    os.makedirs({str(tmp_path)!r}, exist_ok=True)\n"
        f"    open({str(marker)!r}, 'w').write('x')\n"
        "try:\n    daemon()\nexcept OSError as exc:\n    print(exc)\n")
    attack(code, timeout_s=3)
    assert processes_named(name) == []
    deadline = time.monotonic() + 1.5  # give a survivor time to write; none may
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.1)
    assert gone(marker) and processes_named(name) == []


# A caller running code from a thread of its own, as the runner does, until it is killed.
BUSY_CALLER = """
import sys, threading
from nanoflux.verify.sandbox import run_python
threading.Thread(target=run_python, args=(sys.stdin.read(),), kwargs={"timeout_s": 120}).start()
threading.Event().wait()
"""


def test_a_caller_killed_mid_run_leaves_no_process_behind():
    name = uuid.uuid4().hex[:15]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    caller = subprocess.Popen([sys.executable, "-c", BUSY_CALLER], stdin=subprocess.PIPE, env=env)
    try:
        caller.stdin.write((HOOK_BYPASS + rename_self(name) + "while True:\n    pass\n").encode())
        caller.stdin.close()
        deadline = time.monotonic() + 30
        while not processes_named(name):  # until the code runs
            assert time.monotonic() < deadline and caller.poll() is None
            time.sleep(0.05)
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 10
    while processes_named(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = processes_named(name)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []


def test_a_fork_bomb_ends_with_the_call_and_leaves_no_process(tmp_path: Path):
    name = uuid.uuid4().hex[:15]
    started = time.monotonic()
    result = attack(rename_self(name) + "import os\nwhile True:\n    os.fork()\n", timeout_s=3)
    assert result["error"] and time.monotonic() - started < 6
    assert processes_named(name) == []


def test_a_disk_fill_stops_at_the_cap_wherever_it_writes_and_costs_the_host_no_disk():
    before = {path: shutil.disk_usage(path).free for path in ("/", "/tmp")}
    code = ("import os\nwritten = 0\n"
            "for folder in ('/tmp', '/', '/dev', '/dev/shm', '/root', os.path.expanduser('~')):\n"
            "    try:\n        for i in range(600):\n"
            "            with open(f'{folder}/fill{written}', 'wb') as f:\n                f.write(b'x' * (1 << 20))\n"
            "            written += 1\n"
            "    except OSError as exc:\n        print(folder, exc)\n"
            "print(written)\n")
    result = attack(code, timeout_s=20)
    assert "No space left on device" in result["stdout"]
    assert int(result["stdout"].split()[-1]) <= 64  # MiB, of the 3,600 it tried
    for path, free in before.items():  # tmpfs: none of the 3.5 GiB tried reached a disk (slack: other processes)
        assert free - shutil.disk_usage(path).free < 512 << 20


def test_the_network_cannot_reach_a_listener_on_the_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        code = ("import ctypes, struct\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                "fd = libc.socket(2, 1, 0)\n"
                f"address = struct.pack('<H', 2) + struct.pack('>H', {port}) + bytes([127, 0, 0, 1]) + bytes(8)\n"
                "print(fd, libc.connect(fd, address, 16), ctypes.get_errno())\n"
                f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n")
        attack(code)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # no connection is waiting to be accepted
            listener.accept()


def test_kernel_settings_of_the_host_stay_as_they_were():
    setting = Path("/proc/sys/kernel/printk_ratelimit")  # global and harmless; restored if an attack got through
    before = setting.read_text()
    code = ("import glob\nfor path in ['/proc/sys/kernel/printk_ratelimit', '/proc/sysrq-trigger']:\n"
            f"    try:\n        open(path, 'w').write({str(int(before) + 1)!r} if 'printk' in path else '')\n"
            "    except OSError as exc:\n        print(exc)\n")
    try:
        attack(code)
        assert setting.read_text() == before
    finally:
        if setting.read_text() != before:
            setting.write_text(before)


def tasks_of(name: str) -> int:
    """How many tasks (threads included) the processes named `name` have, counted in the host's /proc."""
    count = 0
    for pid in processes_named(name):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


# Threads (raw clone() threads, which need no memory of their own, then Python's on the smallest
# stacks) and processes, 5,000 of each asked for; each one left waiting so that it can be counted.
TASK_BOMB = """
import ctypes, mmap, os, threading, time
libc = ctypes.CDLL(None, use_errno=True)
counts = {"clones": 0, "threads": 0, "forks": 0}
stacks = mmap.mmap(-1, 5000 * 16384)
base = ctypes.addressof(ctypes.c_char.from_buffer(stacks))
pause = ctypes.cast(libc.pause, ctypes.c_void_p).value
libc.clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
THREAD = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000  # VM FS FILES SIGHAND THREAD SYSVSEM
for i in range(5000):
    counts["clones"] += libc.clone(pause, base + (i + 1) * 16384, THREAD, None) > 0
threading.stack_size(32768)
hold = threading.Event()
try:
    for _ in range(5000):
        threading.Thread(target=hold.wait, daemon=True).start()
        counts["threads"] += 1
except RuntimeError:
    pass
for _ in range(5000):
    try:
        if os.fork() == 0:
            time.sleep(10)
            os._exit(0)
        counts["forks"] += 1
    except OSError:
        pass
print(counts, flush=True)
time.sleep(2)
"""


def test_threads_and_processes_stop_at_the_task_limit_whoever_the_caller_is():
    """As root the caller is exempt from RLIMIT_NPROC; the sandbox's code must not be."""
    name = uuid.uuid4().hex[:15]
    done: dict = {}
    started = time.monotonic()
    runner = threading.Thread(target=lambda: done.update(attack(rename_self(name) + TASK_BOMB, timeout_s=20)))
    runner.start()
    seen = 0
    while runner.is_alive():
        seen = max(seen, tasks_of(name))
        time.sleep(0.01)
    runner.join()
    assert time.monotonic() - started < 20  # it ended by itself, not at the wall clock
    assert 1 <= seen <= MAX_TASKS, seen
    assert processes_named(name) == []
    counts = eval(done["stdout"])
    assert 1 + sum(counts.values()) <= MAX_TASKS and counts["forks"] == 0, counts


def sizes_on_the_host(code: str, tmp_path: Path, monkeypatch, cap: int) -> dict[str, int]:
    """Run hook bypass + `code` with output capped at `cap`; the size of every file the run left in its
    folder on the host (kept past the run: the folder is made here instead of a TemporaryDirectory)."""
    folder = tmp_path / "run"

    @contextlib.contextmanager
    def kept(**_):
        folder.mkdir()
        yield str(folder)

    monkeypatch.setattr(sandbox.tempfile, "TemporaryDirectory", kept)
    attack(code, timeout_s=3, max_output_bytes=cap)
    return {path.name: path.stat().st_size for path in folder.iterdir()}


# Machine code that writes 4 KiB to descriptor 1 forever, written over the instruction where every
# other process the code can see is waiting: bwrap's own PID 1 was one, under none of the limits.
INJECTION = """
import os
LOOP = bytes.fromhex("b801000000" "bf01000000" "4889e6" "ba00100000" "0f05" "ebea")  # write(1, rsp, 4096); jmp
for pid in {"1", *filter(str.isdigit, os.listdir("/proc"))} - {str(os.getpid())}:
    try:
        pc = int(open(f"/proc/{pid}/syscall").read().split()[-1], 16)
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as memory:
            memory.seek(pc)
            memory.write(LOOP)
        print("injected into", pid)
    except (OSError, ValueError, IndexError) as exc:
        print(pid, exc)
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the injected code is x86-64")
def test_code_injected_into_another_process_of_the_sandbox_writes_nothing_past_the_cap(tmp_path: Path, monkeypatch):
    cap = 64 << 10
    sizes = sizes_on_the_host(INJECTION, tmp_path, monkeypatch, cap)
    assert sizes and max(sizes.values()) <= cap, sizes


# Every descriptor the code holds, written far past the cap: at an offset, by truncating, allocating,
# reopening it through /proc (as a new, unlimited-looking file), and from a thread.
OVERSIZE = """
import os, threading
def attempt(what, action):
    try:
        action()
        print(what, "worked")
    except OSError as exc:
        print(what, exc)
def everything():
    for fd in map(int, os.listdir("/proc/self/fd")):
        attempt(f"pwrite {fd}", lambda: os.pwrite(fd, b"x", 100 << 20))
        attempt(f"truncate {fd}", lambda: os.ftruncate(fd, 1 << 30))
        attempt(f"fallocate {fd}", lambda: os.posix_fallocate(fd, 0, 1 << 30))
        attempt(f"write {fd}", lambda: os.write(fd, b"x" * (4 << 20)))
        def reopen():
            with open(f"/proc/self/fd/{fd}", "r+b") as again:
                again.seek(50 << 20)
                again.write(b"x")
        attempt(f"reopen {fd}", reopen)
everything()
thread = threading.Thread(target=everything)
thread.start()
thread.join()
"""


def test_no_descriptor_trick_writes_past_the_cap(tmp_path: Path, monkeypatch):
    cap = 64 << 10
    sizes = sizes_on_the_host(OVERSIZE, tmp_path, monkeypatch, cap)
    assert sizes and max(sizes.values()) <= cap, sizes
