"""Bootstrap of one sandboxed run; `sandbox.py` passes this file's source to `python -I -c`.

In the child, before any untrusted code runs: apply resource limits, read the code from stdin,
then install an audit hook that refuses processes, signals to others, sockets, native calls,
reads outside the Python installation and the working directory, and writes outside the working
directory. The hook only turns honest mistakes into readable errors; code can switch it off
(PEP 578: audit hooks are not a sandbox). The boundary is bubblewrap around this process
(`isolation.py`), or nothing under `sandbox: unsafe-local`.
"""

import ast
import json
import linecache
import os
import resource
import signal
import sys
import traceback

PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill"}
NATIVE_EVENTS = {"ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.cdata",
                 "ctypes.string_at", "ctypes.wstring_at", "gc.get_objects", "gc.get_referrers", "gc.get_referents"}
PATH_EVENTS = {"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
               "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
               "shutil.move", "os.setxattr", "os.removexattr", "os.chflags", "os.mkfifo", "os.mknod"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def limit_resources(config):
    mb = config["memory_mb"] << 20
    cpu = config["cpu_s"]
    for limit, value in ((resource.RLIMIT_AS, (mb, mb)), (resource.RLIMIT_CPU, (cpu, cpu + 1)),
                         (resource.RLIMIT_FSIZE, (config["max_output_bytes"],) * 2), (resource.RLIMIT_NOFILE, (64, 64)),
                         (resource.RLIMIT_NPROC, (config["max_tasks"],) * 2), (resource.RLIMIT_CORE, (0, 0))):
        resource.setrlimit(limit, value)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with an error instead of a kill


def install_guard(workdir):
    """Install the audit hook; it keeps its own references, so later monkeypatching cannot loosen it."""
    realpath, fsdecode, startswith = os.path.realpath, os.fsdecode, str.startswith
    workdir = realpath(workdir) + os.sep
    read_roots = tuple({realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path) if p})
    read_roots += (workdir, "/dev/null", "/dev/urandom")

    def inside(path, roots):
        if isinstance(path, int):
            return True  # an already-open descriptor
        resolved = realpath(fsdecode(path))
        return any(startswith(resolved + os.sep, root) or resolved == root for root in roots)

    def refuse(what):
        raise PermissionError(f"sandbox: {what} is not allowed")

    def hook(event, args):
        if event in PROCESS_EVENTS:
            refuse(f"starting or signalling processes ({event})")
        if event.startswith("socket."):
            refuse(f"network access ({event})")
        if event in NATIVE_EVENTS or (event == "ctypes.dlopen" and args[0] is not None):
            refuse(f"native code access ({event})")
        if event == "import" and args[0] == "_posixsubprocess":
            refuse("reloading _posixsubprocess")
        if event == "open":
            path, mode, flags = args
            writes = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & WRITE_FLAGS)
            if writes and not inside(path, (workdir,)):
                refuse(f"writing {fsdecode(path)!r} outside the working directory")
            if not writes and not inside(path, read_roots):
                refuse(f"reading {fsdecode(path)!r} outside the working directory")
        if event in ("os.listdir", "os.scandir") and args[0] is not None and not inside(args[0], read_roots):
            refuse(f"listing {fsdecode(args[0])!r}")
        if event in PATH_EVENTS:
            for path in args:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path, (workdir,)):
                    refuse(f"changing {fsdecode(path)!r} outside the working directory ({event})")

    sys.addaudithook(hook)


def run(code, result_fd):
    """Execute `code` as __main__; the value of a final expression is reported like a REPL would."""
    write, dumps = os.write, json.dumps
    result = {"return_value": None, "error": None, "exit_code": 0}
    linecache.cache["<sandbox>"] = (len(code), None, code.splitlines(True), "<sandbox>")
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        tree = ast.parse(code, "<sandbox>")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<sandbox>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<sandbox>", "eval"), namespace)
            result["return_value"] = None if value is None else repr(value)[:10_000]
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        result.update(exit_code=status, error=None if status == 0 else f"SystemExit: {exc.code}")
    except BaseException as exc:  # noqa: BLE001 - everything the code raises is the code's result, not ours
        report = traceback.TracebackException.from_exception(exc)
        report.stack = traceback.StackSummary.from_list([f for f in report.stack if f.filename != "<string>"])
        sys.stderr.write("".join(report.format()))  # the code's own frames, not this bootstrap's
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, MemoryError):
            message = "MemoryError: the memory limit was exceeded"
        result.update(exit_code=1, error=message[:2000])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # the output limit was hit; the parent reports it
            pass
    write(result_fd, dumps(result).encode())
    os._exit(result["exit_code"])


def refuse_fork_exec(*args):
    raise PermissionError("sandbox: starting processes (fork_exec) is not allowed")


def main():
    config = json.loads(sys.argv[1])
    limit_resources(config)
    code = sys.stdin.read()
    import _posixsubprocess  # a direct fork_exec would bypass the subprocess.Popen audit event

    _posixsubprocess.fork_exec = refuse_fork_exec
    install_guard(os.getcwd())
    run(code, config["result_fd"])


main()
