"""The operating-system boundary around model-written code: a bubblewrap (`bwrap`) command line.

Each sandboxed process gets new user, PID, network, IPC, UTS and cgroup namespaces; uid/gid 65534
inside with no capabilities; a read-only view of only /usr (with the /bin, /lib... links) and the
Python installation (prefix, base prefix, the venv's site-packages); its own /proc without
/proc/sys, and a minimal /dev; a size-capped tmpfs on /sandbox as its working directory and only
writable place; an empty environment; and a seccomp filter that refuses new processes (threads
stay allowed), new namespaces, keyrings and ptrace. The model of this is
anthropics/sandbox-runtime's Linux runner.

Whether bwrap can start here is probed once per executable and cached (`probe`).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import select
import shutil
import site
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_DISK_MB = 64
SANDBOX_UID = 65534  # "nobody"
WORKDIR = "/sandbox"  # not /tmp: binds of a Python installation under /tmp would show up in it
PROBE_TIMEOUT_S = 20.0
INFO_TIMEOUT_S = 10.0  # how long bwrap may take to report its child's PID
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class Isolation:
    """The probe's finding: whether bwrap starts here (`path`: the executable), and if not, what it said."""

    available: bool
    detail: str
    path: str | None = None


def refusal(detail: str) -> str:
    """The one message a user sees when code cannot be isolated: why, and how to fix it."""
    return (f"the sandbox cannot start here ({detail}), so model-written code is not run. "
            "Install bubblewrap (`apt-get install bubblewrap`) and allow user namespaces "
            "(`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04+ also "
            "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`); macOS and Windows are not supported. "
            "To run it without isolation anyway, set `sandbox: unsafe-local` in the spec (unsafe: the code "
            "runs as you, with your files and network).")


def bwrap_argv(bwrap: str, command: Sequence[str], *, disk_mb: int = DEFAULT_DISK_MB,
               ro_binds: Iterable[str] = (), seccomp_fd: int | None = None, info_fd: int | None = None,
               one_shot: bool = True) -> list[str]:
    """The bwrap command line that runs `command` isolated.

    Every sandbox gets `--die-with-parent`, which the kernel ties to the *thread* that started bwrap:
    a one-shot run's thread waits for it, and a long-lived worker must be started from a thread that
    lives as long as the process (`worker.py` has one). `one_shot` runs also get `--new-session`; a
    worker runs as PID 1 of its namespace in bwrap's process group instead, so one `killpg` ends it
    (and the namespace with it).
    """
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_LINKS:
        path = "/" + name
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    # Run by root, bwrap maps uid 65534 inside to root outside, and the kernel lets that write global
    # settings under /proc/sys (core_pattern: a host command) and /proc/sysrq-trigger: hide both.
    argv += ["--proc", "/proc", "--tmpfs", "/proc/sys"]
    if os.path.exists("/proc/sysrq-trigger"):
        argv += ["--ro-bind", "/dev/null", "/proc/sysrq-trigger"]
    argv += ["--dev", "/dev", "--size", str(disk_mb << 20), "--tmpfs", WORKDIR]
    # After the tmpfs: a Python installation under the working directory's path must not be hidden by it.
    for path in _outermost([*python_roots(), *ro_binds]):
        argv += ["--ro-bind", path, path]
    # bwrap's own root and /dev are tmpfs without a size: read-only, so WORKDIR stays the one capped writable place.
    argv += ["--remount-ro", "/proc/sys", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORKDIR, "--clearenv"]
    for key, value in environment().items():
        argv += ["--setenv", key, value]
    argv += ["--die-with-parent", "--new-session" if one_shot else "--as-pid-1"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    return [*argv, "--", *command]


def spawn(path: str, command: Sequence[str], *, disk_mb: int = DEFAULT_DISK_MB, ro_binds: Iterable[str] = (),
          one_shot: bool = True, pass_fds: Sequence[int] = (), **popen) -> tuple[subprocess.Popen, int | None]:
    """Start `command` under the bwrap at `path` in a new session of its own.

    Returns bwrap's Popen and the host PID of the sandbox's first process (PID 1 inside; None if
    bwrap failed before it started): killing that PID ends everything inside the sandbox.
    """
    seccomp = seccomp_pipe()
    info_read, info_write = os.pipe()
    ours = (info_write,) if seccomp is None else (info_write, seccomp)
    try:
        argv = bwrap_argv(path, command, disk_mb=disk_mb, ro_binds=ro_binds, seccomp_fd=seccomp, info_fd=info_write,
                          one_shot=one_shot)
        proc = subprocess.Popen(argv, pass_fds=(*pass_fds, *ours), start_new_session=True, **popen)
    except BaseException:
        os.close(info_read)
        raise
    finally:
        for fd in ours:
            os.close(fd)
    with os.fdopen(info_read, "rb") as info:
        return proc, _child_pid(info)


def _child_pid(info) -> int | None:
    """The `child-pid` of `bwrap --info-fd`'s JSON, read until bwrap closes the descriptor."""
    data, deadline = b"", time.monotonic() + INFO_TIMEOUT_S
    while (remaining := deadline - time.monotonic()) > 0 and readable(info.fileno(), remaining):
        chunk = os.read(info.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


def readable(fd: int, timeout_s: float) -> bool:
    """Whether `fd` becomes readable (or hung up) within `timeout_s`. poll, not select: select fails on
    descriptors above 1023, which a long run (sockets, caches, Ray) reaches."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(timeout_s, 0) * 1000))


def environment(home: str = WORKDIR) -> dict[str, str]:
    """The sandboxed process's whole environment: nothing of the caller's (keys, tokens) passes in."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": home}


@functools.cache
def python_roots() -> tuple[str, ...]:
    """What Python and its libraries need, outside /usr: the (venv) prefix, base prefix and site-packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
             os.path.dirname(os.path.realpath(sys.executable))}
    return tuple(p for p in (os.path.realpath(p) for p in paths) if os.path.isdir(p) and not _under(p, "/usr"))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those already inside another one, sorted (a parent is bound before its child)."""
    unique = sorted({os.path.realpath(p) for p in paths})
    return [p for p in unique if not any(q != p and _under(p, q) for q in unique)]


# seccomp: refuse fork/vfork/clone (except threads), new namespaces, the kernel keyrings (mapped to root
# outside, the sandbox would reach root's) and ptrace / process_vm_writev (into another process of the
# sandbox, bwrap's PID 1 included); clone3 answers ENOSYS so that glibc falls back to clone for threads.
# Another architecture's syscalls (i386 on x86-64) kill the process.
_ARCHES = {  # machine: (AUDIT_ARCH, clone, clone3, refused: [fork, vfork,] unshare, setns, add_key,
    #                                                  request_key, keyctl, ptrace, process_vm_writev)
    "x86_64": (0xC000003E, 56, 435, (57, 58, 272, 308, 248, 249, 250, 101, 311)),
    "aarch64": (0xC00000B7, 220, 435, (97, 268, 217, 218, 219, 117, 271)),
}
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_EPERM, _ENOSYS, _CLONE_THREAD, _X32_BIT = 1, 38, 0x00010000, 0x40000000


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """The compiled BPF program for `bwrap --seccomp`, or None on an architecture without a table."""
    table = _ARCHES.get(machine or platform.machine())
    if table is None:
        return None
    arch, clone, clone3, refused = table
    # (code, k, jump-if-true label, jump-if-false label); labels resolve to relative offsets below.
    program: list[tuple[int, int, str | None, str | None]] = [
        (_LD_ABS, 4, None, None), (_JEQ, arch, None, "kill"), (_LD_ABS, 0, None, None)]
    if arch == 0xC000003E:
        program.append((_JGE, _X32_BIT, "kill", None))
    program.append((_JEQ, clone, "clone", None))
    program += [(_JEQ, nr, "eperm", None) for nr in refused]
    program += [(_JEQ, clone3, "enosys", None), (_RET, _ALLOW, None, None)]
    labels = {"clone": len(program)}
    program += [(_LD_ABS, 16, None, None), (_JSET, _CLONE_THREAD, "allow", "eperm")]
    for name, value in (("allow", _ALLOW), ("eperm", _ERRNO | _EPERM), ("enosys", _ERRNO | _ENOSYS),
                        ("kill", _KILL)):
        labels[name] = len(program)
        program.append((_RET, value, None, None))

    def offset(index: int, label: str | None) -> int:
        return 0 if label is None else labels[label] - index - 1

    return b"".join(struct.pack("=HBBI", code, offset(i, jt), offset(i, jf), k)
                    for i, (code, k, jt, jf) in enumerate(program))


def seccomp_pipe() -> int | None:
    """A readable descriptor holding the filter (bwrap reads it whole), or None without a filter."""
    program = seccomp_filter()
    if program is None:
        return None
    read, write = os.pipe()
    os.write(write, program)  # a few hundred bytes: far below the pipe's buffer
    os.close(write)
    return read


def probe(bwrap: str = "bwrap") -> Isolation:
    """Can `bwrap` (a name on PATH or a path) start an isolated Python here? Tried once per executable."""
    if sys.platform != "linux":
        return Isolation(False, f"bubblewrap isolation needs Linux, this is {sys.platform}")
    path = shutil.which(bwrap)
    if path is None:
        return Isolation(False, f"bubblewrap ({bwrap!r}) is not installed or not on PATH")
    return _probe(os.path.realpath(path))


@functools.cache
def _probe(path: str) -> Isolation:
    seccomp = seccomp_pipe()
    try:
        argv = bwrap_argv(path, [sys.executable, "-I", "-S", "-c", "pass"], seccomp_fd=seccomp)
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, env=environment(),
                              pass_fds=() if seccomp is None else (seccomp,), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation(False, f"{path} could not run: {exc}")
    finally:
        if seccomp is not None:
            os.close(seccomp)
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        return Isolation(False, f"{path} failed: {said[-500:]}")
    return Isolation(True, f"{path}: namespaces, read-only system, private tmpfs"
                           + (", seccomp" if seccomp is not None else ""), path)
