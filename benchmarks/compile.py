"""Throughput of the main job.

Prints:
  1. rounds per minute with the embedded SmolLM2 model on specs/math.yaml;
  2. with a stand-in LM of fixed latency (200 ms a call), measured rounds/s against the ideal
     bound threads / (calls per round x latency) for several thread counts: the framework's own
     overhead (journal, curation, novelty embeddings) keeps that ratio near 1;
  3. the embedded LM's tokens/s inside NanoFlux against bare llama-cpp-python (benchmarks/embedded_lm.py).

Run: .venv/bin/python benchmarks/compile.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.embedded_lm import compare as compare_embedded_lm  # noqa: E402
from nanoflux import load_spec  # noqa: E402
from nanoflux.journal import read_journal  # noqa: E402
from nanoflux.pipeline import compile_spec  # noqa: E402
from nanoflux.testing import ScriptedEngine, scripted_roles  # noqa: E402

CALLS_PER_ROUND = 3
LATENCY_S = 0.2


def embedded_rounds_per_minute(rounds: int, work: Path) -> None:
    spec = load_spec(ROOT / "specs" / "math.yaml")
    start = time.perf_counter()
    result = compile_spec(spec, rounds=rounds, out=work / "embedded", cache_dir=work / "cache", progress=False)
    elapsed = time.perf_counter() - start
    counts = result.manifest["counts"]
    print(f"embedded SmolLM2-135M: {counts['rounds_played']} rounds in {elapsed:.1f} s = "
          f"{60 * counts['rounds_played'] / elapsed:.1f} rounds/min "
          f"({counts['failed']} failed, parse-failure rate {counts['parse_failure_rate']:.0%})")


def stand_in_throughput(work: Path) -> None:
    spec = load_spec(ROOT / "specs" / "math.yaml")
    print(f"stand-in LM, {LATENCY_S * 1000:.0f} ms a call, {CALLS_PER_ROUND} calls a round:")
    # Warm-up: the embedding model loads once per process; the figures below are steady state.
    compile_spec(spec, rounds=1, out=work / "warm-up", cache_dir=work / "cache", lms=scripted_roles(), progress=False)
    for threads in (1, 4, 8):
        rounds = 6 * threads
        start = time.perf_counter()
        result = compile_spec(spec, rounds=rounds, threads=threads, out=work / f"stand-in-{threads}",
                              cache_dir=work / "cache", lms=scripted_roles(ScriptedEngine(latency=LATENCY_S)),
                              progress=False)
        whole = rounds / (time.perf_counter() - start)
        steady = rounds / rounds_span(result.run_dir)
        ideal = threads / (CALLS_PER_ROUND * LATENCY_S)
        print(f"  threads={threads}: {steady:.2f} rounds/s while playing (ratio {steady / ideal:.2f} of the ideal "
              f"{ideal:.2f}); {whole:.2f} rounds/s with set-up, export and report")


def rounds_span(run_dir: Path) -> float:
    """Seconds from the first round's start to the last round's end, from the journal's own timestamps."""
    records = read_journal(run_dir / "rounds.jsonl")
    starts = [datetime.fromisoformat(r["started_at"]).timestamp() for r in records]
    ends = [start + r["seconds"] for start, r in zip(starts, records, strict=True)]
    return max(ends) - min(starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="embedded-model rounds to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stand_in_throughput(work)
        embedded_rounds_per_minute(args.rounds, work)
    print("embedded LM through NanoFlux against bare llama-cpp-python, same prompts:")
    compare_embedded_lm()


if __name__ == "__main__":
    main()
