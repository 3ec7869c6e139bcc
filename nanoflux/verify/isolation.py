"""The operating-system boundary around model-written code: a bubblewrap (`bwrap`) command line.

Each sandboxed process gets new user, PID, network, IPC, UTS and cgroup namespaces; uid/gid 65534
with no capabilities, and that uid is not root on the host either (see `spawn`), so the kernel
holds it to `MAX_TASKS` tasks; a read-only view of only /usr (with the /bin, /lib... links) and the
Python installation (prefix, base prefix, the venv's site-packages, every directory on the
interpreter's symlink chain, all resolved); its own /proc without /proc/sys, and a minimal /dev; a
size-capped tmpfs on /sandbox as its working directory and only writable place; an empty
environment; and a seccomp filter that refuses new processes (threads stay allowed), new
namespaces, keyrings and ptrace. The Python process is the namespace's PID 1 (`--as-pid-1`): no
bwrap process inside shares its uid without its limits. The model of this is
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
from pathlib import Path

DEFAULT_DISK_MB = 64
SANDBOX_UID = 65534  # "nobody", inside the sandbox and, when the caller is root, on the host
MAX_TASKS = 16  # processes and threads of one sandbox (RLIMIT_NPROC, per user namespace)
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
               userns_block_fd: int | None = None, one_shot: bool = True) -> list[str]:
    """The bwrap command line that runs `command` isolated.

    With `userns_block_fd` (a root caller, see `spawn`) bwrap starts the command as uid 0 of a user
    namespace whose maps the caller writes, keeping only CAP_SETUID and CAP_SETGID to become
    `SANDBOX_UID` (`python_command`); otherwise bwrap maps `SANDBOX_UID` to the caller's own (non-root) uid and
    forbids nested user namespaces (`--disable-userns`, which bwrap cannot combine with the block;
    seccomp refuses them either way).

    Every sandbox gets `--die-with-parent`, which the kernel ties to the *thread* that started bwrap:
    a one-shot run's thread waits for it, and a long-lived worker must be started from a thread that
    lives as long as the process (`worker.py` has one). `one_shot` runs also get `--new-session`; a
    worker stays in bwrap's process group instead, so one `killpg` ends it (and the namespace with it).
    """
    argv = [bwrap, "--unshare-all", "--unshare-user"]
    if userns_block_fd is None:
        argv += ["--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    else:
        argv += ["--userns-block-fd", str(userns_block_fd), "--uid", "0", "--gid", "0", "--cap-drop", "ALL",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_LINKS:
        path = "/" + name
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    # A root caller's sandbox is host root until the code starts, and the kernel would let root write global
    # settings under /proc/sys (core_pattern: a host command) and /proc/sysrq-trigger: hide both anyway.
    argv += ["--proc", "/proc", "--tmpfs", "/proc/sys"]
    if os.path.exists("/proc/sysrq-trigger"):
        argv += ["--ro-bind", "/dev/null", "/proc/sysrq-trigger"]
    # 1777: created by uid 0 of a root caller's sandbox, written by SANDBOX_UID.
    argv += ["--dev", "/dev", "--perms", "1777", "--size", str(disk_mb << 20), "--tmpfs", WORKDIR]
    # After the tmpfs: a Python installation under the working directory's path must not be hidden by it.
    # Its parents first, as --dir (0755): bwrap 0.8 makes a bind's missing parents 0700, closed to SANDBOX_UID.
    binds = _outermost([*python_roots(), *ro_binds])
    for path in _parents(binds):
        argv += ["--dir", path]
    for path in binds:
        argv += ["--ro-bind", path, path]
    # bwrap's own root and /dev are tmpfs without a size: read-only, so WORKDIR stays the one capped writable place.
    argv += ["--remount-ro", "/proc/sys", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORKDIR, "--clearenv"]
    for key, value in environment().items():
        argv += ["--setenv", key, value]
    # --as-pid-1: otherwise bwrap's reaper is PID 1, under none of the code's limits and with the same
    # uid, so the code could write its /proc/1/mem and run its own code there (past the output cap).
    argv += ["--die-with-parent", "--as-pid-1", *(["--new-session"] if one_shot else [])]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    return [*argv, "--", *command]


# The start of every sandboxed Python's code: at most MAX_TASKS tasks (RLIMIT_NPROC, which the kernel
# counts per user namespace, that is per sandbox, and enforces for any uid but host root).
_LIMIT_TASKS = f"import resource\nresource.setrlimit(resource.RLIMIT_NPROC, ({MAX_TASKS}, {MAX_TASKS}))\n"
# A root caller's sandbox starts as uid 0, host root (bwrap must be root to read a Python installation
# under /root); before any code runs it becomes SANDBOX_UID, which `_map_ids` maps to the same host uid.
# The uid change clears the parent-death signal that --die-with-parent set: armed again at once (bwrap's
# death in the instant between would leave the sandbox to its own limits).
_DROP_ROOT = f"""import os, _ctypes
class _Int(_ctypes._SimpleCData):
    _type_ = "i"
class _Call(_ctypes.CFuncPtr):
    _flags_, _restype_ = _ctypes.FUNCFLAG_CDECL, _Int
_prctl = _Call(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
os.setgroups([]); os.setresgid(*[{SANDBOX_UID}] * 3); os.setresuid(*[{SANDBOX_UID}] * 3)
_prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
del _Int, _Call, _prctl
"""


def python_command(code: str, *args: str, as_root: bool = False) -> list[str]:
    """The command that runs `code` in the sandbox's Python, with `args` as sys.argv[1:]; `as_root`:
    in a root caller's sandbox (see `spawn`), which it leaves first."""
    return [interpreter(), "-I", "-c", (_DROP_ROOT if as_root else "") + _LIMIT_TASKS + code, *args]


def spawn(path: str, code: str, args: Sequence[str] = (), *, disk_mb: int = DEFAULT_DISK_MB,
          ro_binds: Iterable[str] = (), one_shot: bool = True, pass_fds: Sequence[int] = (),
          **popen) -> tuple[subprocess.Popen, int | None]:
    """Start Python `code` (see `python_command`) under the bwrap at `path` in a new session of its own.

    Returns bwrap's Popen and the host PID of the sandbox's Python (PID 1 inside; None if bwrap
    failed before it started): killing that PID ends everything inside the sandbox. Raises OSError
    when the sandbox's user namespace cannot be set up (bwrap is killed first).

    A root caller's sandbox waits for `_map_ids` before it starts (bwrap's --userns-block-fd).
    """
    as_root = os.geteuid() == 0
    seccomp = seccomp_pipe()
    info_read, info_write = os.pipe()
    block_read, block_write = os.pipe() if as_root else (None, None)
    ours = tuple(fd for fd in (info_write, seccomp, block_read) if fd is not None)
    try:
        argv = bwrap_argv(path, python_command(code, *args, as_root=as_root), disk_mb=disk_mb, ro_binds=ro_binds,
                          seccomp_fd=seccomp, info_fd=info_write, userns_block_fd=block_read, one_shot=one_shot)
        proc = subprocess.Popen(argv, pass_fds=(*pass_fds, *ours), start_new_session=True, **popen)
    except BaseException:
        for fd in (info_read, block_write):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in ours:
            os.close(fd)
    with os.fdopen(info_read, "rb") as info:
        pid = _child_pid(info)
    if block_write is not None:
        try:
            if pid is not None:  # else bwrap failed, or is too slow, and its child fails at setresuid (nothing mapped)
                _map_ids(pid)
        except OSError:
            proc.kill()  # its child dies with it (--die-with-parent)
            proc.wait()
            raise
        finally:
            os.close(block_write)  # bwrap waits for this before its child goes on
    return proc, pid


def _map_ids(pid: int) -> None:
    """The user namespace of a root caller's sandbox: uid/gid 0 is root (for bwrap's setup and the
    start of Python, never the code), SANDBOX_UID the same unprivileged id on the host."""
    ids = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n"
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(ids)


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
def interpreter() -> str:
    """This Python's executable with its directories resolved: the path it has inside the sandbox,
    where only resolved paths are bound (a venv reached through a symlink is not there by that name).
    The file itself stays a link: a venv's python must be started by its own path to find the venv."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


@functools.cache
def python_roots() -> tuple[str, ...]:
    """What Python and its libraries need, outside /usr: the (venv) prefix, base prefix, site-packages
    and the directory of every link from `interpreter()` to the real executable, all resolved."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
             *(os.path.dirname(link) for link in _links(interpreter()))}
    return tuple(p for p in (os.path.realpath(p) for p in paths) if os.path.isdir(p) and not _under(p, "/usr"))


def _links(path: str) -> list[str]:
    """`path` and every path its symlinks lead through, up to the real file."""
    chain = [path]
    while os.path.islink(chain[-1]) and len(chain) < 40:
        target = os.path.join(os.path.dirname(chain[-1]), os.readlink(chain[-1]))
        chain.append(os.path.join(os.path.realpath(os.path.dirname(target)), os.path.basename(target)))
    return chain


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _parents(paths: Iterable[str]) -> list[str]:
    """The directories above `paths` that the sandbox's root does not have, parents first."""
    above = {str(parent) for path in paths for parent in Path(path).parents}
    return sorted(p for p in above if p != "/" and not _under(p, "/usr") and not _under(p, WORKDIR))


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
    try:
        proc, _ = spawn(path, "pass", env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    except OSError as exc:
        return Isolation(False, f"{path} could not run: {exc}")
    try:
        _, stderr = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Isolation(False, f"{path} could not run: no answer within {PROBE_TIMEOUT_S:g} s")
    if proc.returncode != 0:
        said = stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        return Isolation(False, f"{path} failed: {said[-500:]}")
    return Isolation(True, f"{path}: namespaces, read-only system, private tmpfs, {MAX_TASKS} tasks"
                           + (", seccomp" if seccomp_filter() is not None else ""), path)
