"""Throughput of the main job against a real OpenAI-compatible server, and seconds per round on the embedded model.

Prints:
  1. specs/math.yaml played against a stand-in server on 127.0.0.1 (benchmarks/standin_server.py,
     in its own process, answering every request after a fixed latency L) at 1, 8, 32 and 64
     threads, `--waves` rounds per thread: rounds/s as the share of the ideal bound
     threads / (3 calls x L), measured while playing (first round's start to last round's end, from
     the journal) and from the first round handed out to the last one journaled; the server's
     requests per round (3: every call reached it); and the driver's own cost per round (time in
     `NoveltyFilter.nearest`, `Curator.decide` and `Journal.append`, contended). Each thread count
     gets a fresh run and cache directory; the role LMs run without DSPy's cache, so no call is
     answered without a request whatever the rounds ask;
  2. seconds per round of specs/math.yaml on the embedded model next to each round's token bound
     (`benchmarks/embedded_lm.py`).

The latency, 4 s by default: the bound must be reachable by the machine, not only by the driver.
Every round also costs CPU outside the wait: DSPy formatting and parsing three calls, the HTTP
client, the judge's tool checks (sympy workers), the driver's embedding and novelty query, and the
server's own handling; the round threads and the driver share one interpreter lock. On 2 cores
under load (5-8), 64 threads at 2 s a request played 8.2 rounds/s, 0.77 of the bound of 10.7: about
what the cores give. At 4 s the bound at 64 threads is 5.3 rounds/s, which leaves them headroom, so
the shortfall measured is NanoFlux's; a shorter latency measures the cores. A bigger machine
reaches the bound at a shorter latency (`--latency`).

Run: .venv/bin/python benchmarks/compile.py [--latency 4] [--waves 3] [--threads 1 8 32 64] [--embedded-rounds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from benchmarks.driver import DriverProbe, calls_per_round  # noqa: E402
from benchmarks.embedded_lm import rounds_against_bound  # noqa: E402
from nanoflux import load_spec  # noqa: E402
from nanoflux.base.names import ROLES  # noqa: E402
from nanoflux.base.paths import RunDir  # noqa: E402
from nanoflux.engine.compiler import role_lm  # noqa: E402
from nanoflux.engine.journal import read_journal  # noqa: E402
from nanoflux.jobs.compile import compile_spec  # noqa: E402
from nanoflux.modules import RoleLMs  # noqa: E402
from nanoflux.spec.model import Spec  # noqa: E402


@contextmanager
def standin_server(latency: float) -> Iterator[str]:
    """The stand-in server in a process of its own; yields its api_base."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "standin_server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


def served(api_base: str) -> int:
    with urllib.request.urlopen(f"{api_base}/stats", timeout=10) as response:
        return json.load(response)["served"]


def standin_spec(api_base: str, rounds: int) -> Spec:
    """specs/math.yaml with every role on the server, and a dataset size no run fills."""
    data = load_spec(ROOT / "specs" / "math.yaml").model_dump(mode="json")
    for role in ROLES:
        if data["roles"].get(role) is not None:  # an unset solver plays on the judge's settings
            data["roles"][role].update(model="openai/standin", api_base=api_base, structured_output=True, timeout=600)
    data["curation"]["size"] = rounds + 1
    return Spec.model_validate(data)


def uncached_lms(spec: Spec) -> RoleLMs:
    return RoleLMs(**{role: role_lm(spec.roles.settings(role), cache=False) for role in ROLES},
                   alternate=spec.roles.alternate)


def measure(api_base: str, latency: float, threads: int, rounds: int, work: Path) -> None:
    spec = standin_spec(api_base, rounds)
    probe, before = DriverProbe(), served(api_base)
    with probe.installed():
        result = compile_spec(spec, rounds=rounds, threads=threads, out=work / f"run-{threads}",
                              cache_dir=work / f"cache-{threads}", lms=uncached_lms, progress=False)
    requests = served(api_base) - before
    assert result.progress.played == rounds, result.progress
    assert probe.first_handout and probe.last_append
    ideal = threads / (calls_per_round(spec) * latency)
    playing = rounds / rounds_span(result.run_dir) / ideal
    handed = rounds / (probe.last_append[0] - probe.first_handout[0]) / ideal
    driver_ms = 1000 * sum(probe.spent.values()) / rounds
    print(f"  {threads:>7}{rounds:>7}{ideal:>8.2f}{playing:>10.2f}{handed:>12.2f}{requests / rounds:>11.2f}"
          f"{driver_ms:>11.1f}   ({result.progress.accepted} accepted)", flush=True)


def rounds_span(run_dir: Path) -> float:
    """Seconds from the first round's start to the last round's end, from the journal's own timestamps."""
    records = read_journal(RunDir(run_dir).journal)
    starts = [datetime.fromisoformat(r["started_at"]).timestamp() for r in records]
    ends = [start + r["seconds"] for start, r in zip(starts, records, strict=True)]
    return max(ends) - min(starts)


def standin_throughput(latency: float, waves: int, thread_counts: list[int]) -> None:
    calls = calls_per_round(load_spec(ROOT / "specs" / "math.yaml"))
    print(f"stand-in server, {latency:g} s a request, {calls} requests a round, {waves} rounds per thread; "
          f"share of the ideal bound threads / ({calls} x {latency:g} s):")
    print(f"  {'threads':>7}{'rounds':>7}{'ideal/s':>8}{'playing':>10}{'handed out':>12}{'req/round':>11}"
          f"{'driver ms':>11}")
    with standin_server(latency) as api_base, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Warm-up, not shown: the embedding model and the sympy workers load once per process.
        compile_spec(standin_spec(api_base, 1), rounds=1, out=work / "warm-up", cache_dir=work / "cache-warm-up",
                     lms=uncached_lms, progress=False)
        for threads in thread_counts:
            measure(api_base, latency, threads, waves * threads, work)
    print("  playing: first round's start to last round's end; handed out: first round handed out to last one "
          "journaled;\n  driver ms: per round, in nearest + decide + append, while the rounds play.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=4.0, help="seconds the stand-in server takes per request")
    parser.add_argument("--waves", type=int, default=3, help="rounds per thread in each measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--embedded-rounds", type=int, default=8, help="rounds on the embedded model (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as `nanoflux compile` runs the driver
    print(f"machine: {len(os.sched_getaffinity(0))} cores available, load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    standin_throughput(args.latency, args.waves, args.threads)
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.embedded_rounds:
        rounds_against_bound(args.embedded_rounds)


if __name__ == "__main__":
    main()
