"""How far rounds scale on Ray actors, and what limits one driver (issue 9).

Prints:
  1. with a stand-in LM of fixed latency (200 ms a call, `calls_per_round` calls a round), rounds/s
     with 1, 2, 4 and 8 Ray actors (one round at a time each) on a local Ray instance, each right
     after the thread executor with the same concurrency, and each one's efficiency against the
     ideal bound concurrency / (calls per round x latency), then Ray's efficiency minus the
     threads'. Rates run from the first round handed out to the last one journaled, so actor
     start-up (shown apart) is left out (`--parts throughput`: this part alone);
  2. the driver's cost per journaled round when it embeds each question itself, one round at a time
     (a player that attaches no embedding; the whole cost before issue 25), timed directly:
     `NoveltyFilter.nearest` (the attacker's "avoid" list as a round is handed out), `Curator.decide`
     (embedding, novelty query, adding an accepted question) and `Journal.append` (write + fsync),
     replayed over records of part 1 in a fresh run directory, each question made new so it is
     embedded again, once with torch on one thread and once with torch's default (one thread per core);
  3. the rate at which that cost saturates one driver: 1 / (driver cost per round);
  4. one driver's sustained rate through the real `run_rounds`: pre-played rounds (records of part 1,
     each question new, its embedding attached as `RoundPlayer` attaches it) returned by an executor
     the moment they are handed out, `--batches` at a time, at the spec's novelty threshold and at 1.0
     (every question accepted); no LM, so only the driver is timed;
  5. the stand-in LM on `--ray-actors` Ray actors playing `--ray-threads` rounds at once each, and how
     busy the driver was.

Where the driver embeds (part 2), on a machine where other work holds the cores, torch's default
intra-op threads spin against it and one embedding took 745 ms (median) against 36 ms on one
thread (2 shared cores), so the driver runs with torch on `--torch-threads` (default 1).

Run: .venv/bin/python benchmarks/scale.py   (about 5 minutes on 2 cores; `--parts driver` alone about 1)
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray workers import this checkout (the stand-in LM's factory) when they unpickle the LM factory.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

import ray  # noqa: E402
import torch  # noqa: E402

from benchmarks.driver import DriverProbe, calls_per_round  # noqa: E402
from nanoflux import load_spec  # noqa: E402
from nanoflux.base.paths import JOURNAL_NAME, RunDir  # noqa: E402
from nanoflux.engine.curation.decide import Curator  # noqa: E402
from nanoflux.engine.curation.embeddings import encode  # noqa: E402
from nanoflux.engine.curation.novelty import NoveltyFilter  # noqa: E402
from nanoflux.engine.executors import ThreadExecutor  # noqa: E402
from nanoflux.engine.executors.ray import RayExecutor  # noqa: E402
from nanoflux.engine.journal import Journal, read_journal  # noqa: E402
from nanoflux.engine.runner import QUESTION_EMBEDDING, run_rounds  # noqa: E402
from nanoflux.jobs.compile import compile_spec  # noqa: E402
from nanoflux.spec.model import Spec  # noqa: E402
from nanoflux.testing import ScriptedEngine, default_answers, scripted_roles  # noqa: E402

LATENCY_S = 0.2
ROUNDS_PER_SLOT = 4  # rounds per unit of concurrency: 4 waves of rounds in each run
REPLAYED = 40  # records replayed per torch setting in part 2
PARTS = ("throughput", "replay", "driver", "ray")


class StandIn:
    """A picklable `spec -> RoleLMs`: each process (every Ray actor) builds its own fixed-latency stand-in."""

    def __init__(self, latency: float):
        self.latency = latency

    def __call__(self, spec: Spec) -> Any:
        # Questions numbered from a per-process offset: no two actors ask the same text, so the driver
        # embeds every question, as in a real run, instead of finding most in its cache.
        first = 10_000 * os.getpid()
        return scripted_roles(ScriptedEngine(default_answers(itertools.count(first)), latency=self.latency))


def timed_run(spec: Spec, executor: Any, concurrency: int, work: Path, label: str) -> dict[str, float]:
    rounds = ROUNDS_PER_SLOT * concurrency
    probe = DriverProbe()
    start = time.perf_counter()
    with probe.installed():
        result = compile_spec(spec, rounds=rounds, out=work / label, cache_dir=work / "cache",
                              lms=StandIn(LATENCY_S), executor=executor, progress=False)
    assert result.progress.played == rounds, (label, result.progress)
    assert probe.first_handout and probe.last_append
    (wall0, cpu0), (wall1, cpu1) = probe.first_handout, probe.last_append
    rate = rounds / (wall1 - wall0)
    ideal = concurrency / (calls_per_round(spec) * LATENCY_S)
    return {"rounds": rounds, "rate": rate, "ideal": ideal, "efficiency": rate / ideal, "start": wall0 - start,
            "driver_ms": 1000 * sum(probe.spent.values()) / rounds, "cpu_ms": 1000 * (cpu1 - cpu0) / rounds,
            "accepted": result.progress.accepted}


def throughput(spec: Spec, work: Path, concurrencies: list[int]) -> None:
    print(f"stand-in LM, {LATENCY_S * 1000:.0f} ms a call, {calls_per_round(spec)} calls a round, "
          f"{ROUNDS_PER_SLOT} rounds per unit of concurrency:")
    print(f"  {'executor':<22}{'rounds':>7}{'rounds/s':>10}{'ideal':>8}{'effic.':>8}{'start s':>9}"
          f"{'driver ms/round':>17}{'driver CPU ms/round':>21}")

    def show(label: str, row: dict[str, float]) -> None:
        print(f"  {label:<22}{row['rounds']:>7}{row['rate']:>10.2f}{row['ideal']:>8.2f}{row['efficiency']:>8.2f}"
              f"{row['start']:>9.1f}{row['driver_ms']:>17.1f}{row['cpu_ms']:>21.1f}", flush=True)

    # Each concurrency's thread run and Ray run back to back, so both meet the same load on shared cores.
    ray.init(num_cpus=max(concurrencies), include_dashboard=False, object_store_memory=80 * 1024**2,
             log_to_driver=False)
    gaps = []
    try:
        for n in concurrencies:
            on_threads = timed_run(spec, ThreadExecutor(n), n, work, f"threads-{n}")
            show(f"threads={n}", on_threads)
            on_ray = timed_run(spec, RayExecutor(workers=n, threads=1), n, work, f"ray-{n}")
            show(f"ray {n} actor(s) x 1", on_ray)
            gaps.append(f"{n}: {on_ray['efficiency'] - on_threads['efficiency']:+.2f}")
    finally:
        ray.shutdown()
    print(f"  Ray's efficiency minus the threads' at the same concurrency: {', '.join(gaps)}")
    print("  driver ms/round: time inside nearest + decide + append per round, in the run (contended);\n"
          "  driver CPU ms/round: the driver process's CPU time per round (threads: includes playing the rounds).")


def replay_driver_cost(spec: Spec, work: Path, threads: int) -> float:
    """Per-round driver cost, torch on `threads`: records of the runs above replayed into a fresh run directory."""
    runs = [run for run in sorted(work.iterdir())
            if (run / JOURNAL_NAME).exists() and not run.name.startswith("replay")]
    records = [record for run in runs for record in read_journal(run / JOURNAL_NAME)][-REPLAYED:]
    torch.set_num_threads(threads)
    replay = work / f"replay-{threads}"
    novelty = NoveltyFilter(replay / "novelty", threshold=spec.curation.novelty, model=spec.curation.embedding_model)
    curator = Curator(spec.curation.quality_band, novelty, complexity=spec.curation.complexity,
                      require_verified_reference=spec.curation.require_verified_reference)
    journal = Journal(replay / JOURNAL_NAME)
    times: dict[str, list[float]] = defaultdict(list)
    decide_by_outcome: dict[bool, list[float]] = defaultdict(list)
    for round_id, record in enumerate(records):
        record = {**record, "round_id": round_id, "question": f"{record['question']} (Round {round_id}, {threads}.)"}
        record.pop("curation", None)  # each question is new text: embedded again, as in a real run
        t0 = time.perf_counter()
        novelty.nearest(record["topic"], k=3)
        t1 = time.perf_counter()
        record["curation"] = curator.decide(record)
        t2 = time.perf_counter()
        journal.append(record)
        t3 = time.perf_counter()
        times["nearest"].append(t1 - t0)
        times["decide"].append(t2 - t1)
        times["append"].append(t3 - t2)
        times["total"].append(t3 - t0)
        decide_by_outcome[record["curation"]["accepted"]].append(t2 - t1)

    def ms(values: list[float]) -> str:
        if not values:
            return "n/a"
        return f"mean {1000 * statistics.fmean(values):.1f} ms, median {1000 * statistics.median(values):.1f} ms"

    accepted = len(decide_by_outcome[True])
    print(f"driver cost per journaled round, embedding its questions itself, torch on {threads} thread(s), "
          f"replayed over {len(records)} records "
          f"({accepted} accepted, collection growing to {len(novelty)} questions):")
    print(f"  novelty.nearest (hand-out)   {ms(times['nearest'])}")
    print(f"  Curator.decide               {ms(times['decide'])}  "
          f"(accepted: {ms(decide_by_outcome[True])}; rejected: {ms(decide_by_outcome[False])})")
    print(f"  Journal.append (fsync)       {ms(times['append'])}")
    cost = statistics.fmean(times["total"])
    worst = (statistics.fmean(times["nearest"]) + statistics.fmean(times["append"])
             + statistics.fmean(decide_by_outcome[True] or times["decide"]))
    print(f"  total                        {ms(times['total'])}; every round accepted: {1000 * worst:.1f} ms")
    print(f"embedding each question itself, one driver saturates at 1 / {1000 * cost:.1f} ms = {1 / cost:.0f} rounds/s "
          f"({3600 / cost:,.0f} rounds/h); every round accepted: {1 / worst:.0f} rounds/s")
    return cost


class PlayedAlready:
    """An executor for measuring the driver alone: rounds come back the moment they are handed out.

    Each task pulled gets its pre-played record (a record of part 1 with a question of its own and that
    question's embedding attached, as a `RoundPlayer` attaches it), `batch` tasks at a time, refill
    first (`Feed.finished` before the next tasks are pulled), as a cluster whose rounds finish
    together would deliver them. No round is played: what is timed is the real `run_rounds` path.
    """

    def __init__(self, records: list[dict[str, Any]], batch: int):
        self.records = records
        self.batch = batch

    def run(self, play: Any, tasks: Any) -> Any:
        def pull() -> list[dict[str, Any]]:
            return list(itertools.islice(tasks, self.batch))

        pulled = pull()
        while pulled:
            records = [{**self.records[task["round_id"]], **task} for task in pulled]
            tasks.finished(records)
            pulled = pull()
            yield from records


def pre_played(work: Path, spec: Spec, rounds: int) -> list[dict[str, Any]]:
    """`rounds` played rounds made from the journals of part 1 (without part 1: of a quick run for the purpose),
    each question new (a number of its own), with its embedding attached as the players attach it (computed here,
    in batches, before any timing)."""
    if not any((run / JOURNAL_NAME).exists() for run in work.iterdir() if run.name.startswith(("threads", "ray"))):
        compile_spec(spec, rounds=24, threads=8, out=work / "threads-source", cache_dir=work / "cache",
                     lms=StandIn(0.0), progress=False)
    source = [record for run in sorted(work.iterdir()) if (run / JOURNAL_NAME).exists()
              for record in read_journal(run / JOURNAL_NAME) if record["status"] == "ok"]
    records = []
    for round_id in range(rounds):
        record = {key: value for key, value in source[round_id % len(source)].items()
                  if key not in ("curation", "attempt")}
        record["question"] = f"{record['question']} (Lot {round_id * 7919 % 100_003}.)"
        records.append(record)
    model = spec.curation.embedding_model
    vectors = encode(model, [record["question"] for record in records])
    for record, vector in zip(records, vectors, strict=True):
        record[QUESTION_EMBEDDING] = {"model": model, "vector": vector}
    return records


def driver_rate(spec: Spec, work: Path, rounds: int, batches: list[int]) -> None:
    """Rounds a second one driver journals through `run_rounds` when the rounds come back as fast as it takes them."""
    records = pre_played(work, spec, rounds)
    print(f"one driver's sustained rate: {rounds} pre-played rounds each, returned the moment they are handed out "
          "(no LM: the executor hands back records of part 1, each question new, its embedding attached as a "
          "worker attaches it), through run_rounds into a fresh run directory:")
    print(f"  {'threshold':>9}{'batch':>7}{'rounds/s':>10}{'accepted':>10}{'rounds/fsync':>14}"
          f"{'nearest ms':>12}{'decide ms':>11}{'append ms':>11}{'other ms':>10}")
    for threshold in (spec.curation.novelty, 1.0):  # 1.0: every new question accepted, the collection grows most
        for batch in batches:
            run_spec = Spec.model_validate({**spec.model_dump(mode="json"), "rounds": rounds,
                                            "curation": {**spec.curation.model_dump(mode="json"), "size": rounds,
                                                         "novelty": threshold}})
            run = RunDir(work / f"driver-{threshold}-{batch}")
            novelty = NoveltyFilter(run.novelty, threshold=threshold, model=spec.curation.embedding_model)
            curator = Curator(run_spec.curation.quality_band, novelty, complexity=run_spec.curation.complexity,
                              require_verified_reference=run_spec.curation.require_verified_reference)
            probe = DriverProbe()
            with probe.installed():
                state = run_rounds(run_spec, lambda task: task, Journal(run.journal), curator,
                                   executor=PlayedAlready(records, batch), progress=False, run_id="driver")
            assert state.played == rounds == len(read_journal(run.journal)), state
            assert probe.first_handout and probe.last_append
            wall = probe.last_append[0] - probe.first_handout[0]
            per_round = {name: 1000 * spent / rounds for name, spent in probe.spent.items()}
            other = 1000 * wall / rounds - sum(per_round.values())
            print(f"  {threshold:>9}{batch:>7}{rounds / wall:>10.0f}{state.accepted:>10}"
                  f"{rounds / probe.calls['append_many']:>14.1f}{per_round['nearest']:>12.2f}"
                  f"{per_round['decide']:>11.2f}{per_round['append_many']:>11.2f}{other:>10.2f}", flush=True)
    print("  batch: rounds the executor returns together (they share one fsync when they are next in round order);\n"
          "  nearest/decide/append: the driver's time in NoveltyFilter.nearest (hand-out), Curator.decide and\n"
          "  Journal.append_many per round; other: the rest of run_rounds (feed, counting, collection flushes).")


def ray_rate(spec: Spec, work: Path, actors: int, threads: int) -> None:
    """The stand-in LM on many Ray actors, each playing `threads` rounds at once (questions embedded there)."""
    spec = Spec.model_validate({**spec.model_dump(mode="json"),
                                "curation": {**spec.curation.model_dump(mode="json"), "size": 100_000}})
    ray.init(num_cpus=actors, include_dashboard=False, object_store_memory=80 * 1024**2, log_to_driver=False)
    try:
        row = timed_run(spec, RayExecutor(workers=actors, threads=threads), actors * threads, work,
                        f"ray-{actors}x{threads}")
    finally:
        ray.shutdown()
    print(f"stand-in LM ({LATENCY_S * 1000:.0f} ms a call) on {actors} Ray actors x {threads} rounds at once: "
          f"{row['rounds']} rounds at {row['rate']:.1f} rounds/s (ideal {row['ideal']:.1f}, efficiency "
          f"{row['efficiency']:.2f}); the driver's own time {row['driver_ms']:.2f} ms/round, busy "
          f"{row['driver_ms'] * row['rate'] / 1000:.0%} of the run: the actors' CPUs bound this rate, not the driver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="actors (each one round at a time) and, alike, threads")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads of the driver in part 1")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run")
    parser.add_argument("--driver-rounds", type=int, default=2000, help="rounds per run in part 4")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64],
                        help="rounds returned together in part 4")
    parser.add_argument("--ray-actors", type=int, default=4, help="Ray actors in part 5")
    parser.add_argument("--ray-threads", type=int, default=16, help="rounds each actor plays at once in part 5")
    args = parser.parse_args()
    spec = load_spec(ROOT / "specs" / "math.yaml")
    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    print(f"machine: {os.cpu_count()} CPU cores, Ray {ray.__version__}; driver's torch threads in part 1: "
          f"{args.torch_threads} (default {default_threads})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Warm-up: the driver's embedding model loads once per process; every figure below is after it.
        compile_spec(spec, rounds=1, out=work / "warm-up", cache_dir=work / "cache", lms=StandIn(0.0), progress=False)
        if "throughput" in args.parts:
            throughput(spec, work, args.concurrency)
        if "replay" in args.parts:
            for threads in sorted({1, default_threads}):
                replay_driver_cost(spec, work, threads)
        if "driver" in args.parts:
            driver_rate(spec, work, args.driver_rounds, args.batches)
        if "ray" in args.parts:
            ray_rate(spec, work, args.ray_actors, args.ray_threads)

if __name__ == "__main__":
    main()
