"""Seconds from Ctrl-C (SIGINT) to the exit of `nanoflux compile`, with rounds journaled and one in flight.

The real CLI runs in its own process with its role LMs swapped for the scripted engine (`nanoflux.testing`),
as tests/base/test_rundir.py runs it; nothing else is touched. Two cases, each `--repeats` times:

  1. quick calls (0.2 s each): SIGINT once 2 rounds are journaled, while the next round plays;
  2. a hung call (each call sleeps 600 s): SIGINT once 2 rounds are journaled and round 2's first call
     is waiting, as on a server that stopped answering or a long generation.

Prints the median and the slowest exit per case, the rounds journaled and the exit codes. Before issue 23
the first case took 5-6 s on an idle machine (8 s reported, 11-15 s at load 6): the report's plots (1-2 s),
the interpreter's last garbage collection (3-4 s) and the wait for the round in flight; the second took as
long as the call (73 s with 15 s calls).

Run: .venv/bin/python benchmarks/interrupt.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nanoflux.engine.journal import read_journal  # noqa: E402
from nanoflux.testing import SCRIPTED_SPEC  # noqa: E402

# Each call sleeps `quick` seconds until `hang_after` calls were made, then `slow` seconds.
CLI = textwrap.dedent("""
    import sys, time, itertools
    import nanoflux.jobs.compile
    from nanoflux.testing import ScriptedEngine, scripted_roles

    class Engine(ScriptedEngine):
        calls_made = itertools.count()
        def complete(self, request):
            self.latency = {quick} if next(self.calls_made) < {hang_after} else {slow}
            return super().complete(request)

    nanoflux.jobs.compile.build_role_lms = lambda spec: scripted_roles(Engine())
    nanoflux.jobs.compile.check_reachable = lambda lm: None
    from nanoflux.cli import main
    main(sys.argv[1:])
""")
CALLS_PER_ROUND = 6  # attacker, defender, judge and 3 solves


def exit_seconds(slow: float, work: Path) -> tuple[float, int, int]:
    """(seconds from SIGINT to exit, rounds journaled, exit code) of one compile interrupted after 2 rounds."""
    spec, run = work / "spec.yaml", work / "run"
    spec.write_text(SCRIPTED_SPEC)
    code = CLI.format(quick=0.2, slow=slow, hang_after=2 * CALLS_PER_ROUND + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, "compile", str(spec), "--out", str(run), "--rounds", "50",
                             "--cache-dir", str(work / "cache")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while len(read_journal(run / "rounds.jsonl")) < 2:
            if proc.poll() is not None:
                raise SystemExit(f"the compile exited ({proc.returncode}) before 2 rounds")
            time.sleep(0.02)
        time.sleep(1.0)  # the next round is in flight (and, with slow calls, waiting on its first one)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=max(120, 2 * slow))
        return time.monotonic() - sent, len(read_journal(run / "rounds.jsonl")), proc.returncode
    finally:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, slow in (("quick calls (0.2 s)", 0.2), ("a hung call (600 s)", 600.0)):
        seconds, rounds, codes = [], set(), set()
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as work:
                took, journaled, code = exit_seconds(slow, Path(work))
            seconds.append(took)
            rounds.add(journaled)
            codes.add(code)
        print(f"{name}: exit after SIGINT median {statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s; "
              f"rounds journaled {sorted(rounds)}, exit codes {sorted(codes)}")


if __name__ == "__main__":
    main()
