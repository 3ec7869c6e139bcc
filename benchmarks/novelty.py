"""How the novelty filter scales: time to check one candidate against 1k, 10k and 100k accepted
questions, embedding throughput of the real model, and the driver's one-question embedding with
torch on one thread against torch's default (one thread per core), alternating, as ratios.

The driver of a run embeds one new question at a time; torch's intra-op threads gain nothing on
so small a batch and, on cores other processes hold, spin against them (`nanoflux compile` runs
torch on one thread unless OMP_NUM_THREADS is set).

The large collections hold random unit vectors (inserted directly, in batches) so the benchmark
takes a few minutes on 2 cores; only the check is timed, with its embedding already cached.

    python benchmarks/novelty.py [--sizes 1000 10000 100000] [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import chromadb
import numpy as np
import torch
from chromadb.config import Settings

from nanoflux.base.names import EMBEDDING_MODEL
from nanoflux.engine.curation.embeddings import load_embedder
from nanoflux.engine.curation.novelty import COLLECTION, NoveltyFilter

CANDIDATE = "How does the proofreading activity of DNA polymerase lower the mutation rate?"
INSERT_BATCH = 5000  # below chromadb's maximum batch size


def create_for_bulk_load(path: Path) -> None:
    """Create the filter's collection with the index written to disk once per 1M adds, not per 1,000.

    Chroma rewrites the whole HNSW file at every sync, which makes filling 100k vectors quadratic;
    the sync interval changes nothing about how the index is searched, which is what is timed.
    """
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    client.create_collection(
        COLLECTION,
        configuration={"hnsw": {"space": "cosine", "sync_threshold": 1_000_000}},
        metadata={"model": EMBEDDING_MODEL},
        embedding_function=None,
    )


def fill(path: Path, start: int, stop: int, dim: int, rng: np.random.Generator) -> None:
    """Grow the collection in ``path`` to ``stop`` random unit vectors."""
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(COLLECTION, embedding_function=None)
    for lo in range(start, stop, INSERT_BATCH):
        hi = min(lo + INSERT_BATCH, stop)
        vectors = rng.standard_normal((hi - lo, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        collection.add(
            ids=[f"q{i}" for i in range(lo, hi)],
            embeddings=vectors,
            documents=[f"random question {i}" for i in range(lo, hi)],
        )


def time_check(novelty: NoveltyFilter, repeats: int) -> float:
    """Median seconds for one ``check`` (the candidate's embedding is cached before timing)."""
    novelty.check(CANDIDATE)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        novelty.check(CANDIDATE)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(n: int = 512) -> float:
    """Sentences per second of the real model on distinct sentences, after one warm-up batch."""
    model = load_embedder(EMBEDDING_MODEL)
    sentences = [
        f"{CANDIDATE} (variant {i}: in a cell of organism number {i * 7919 % 1000})" for i in range(n)
    ]
    model.encode(sentences[:64], batch_size=64)
    start = time.perf_counter()
    model.encode(sentences, batch_size=64)
    return n / (time.perf_counter() - start)


def one_at_a_time(repeats: int = 200) -> dict[int, list[float]]:
    """Seconds to embed one new question, torch on 1 thread and on its default, alternating call by call."""
    model = load_embedder(EMBEDDING_MODEL)
    default = torch.get_num_threads()
    times: dict[int, list[float]] = {1: [], default: []}
    try:
        for i in range(repeats):
            for threads in (1, default) if i % 2 else (default, 1):
                torch.set_num_threads(threads)
                start = time.perf_counter()
                model.encode([f"{CANDIDATE} (question {i} on {threads} threads)"])
                times[threads].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(default)
    return times


def report_one_at_a_time(repeats: int) -> None:
    times = one_at_a_time(repeats)
    for threads, values in sorted(times.items()):
        cuts = statistics.quantiles(values, n=10)
        print(f"one question, torch on {threads} thread(s): median {1e3 * statistics.median(values):.1f} ms, "
              f"p90 {1e3 * cuts[-1]:.1f} ms, mean {1e3 * statistics.fmean(values):.1f} ms")
    if len(times) > 1:
        (_, one), (_, default) = sorted(times.items())
        print(f"default / one thread: median {statistics.median(default) / statistics.median(one):.2f}x, "
              f"mean {statistics.fmean(default) / statistics.fmean(one):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    results: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "novelty"
        create_for_bulk_load(path)
        novelty = NoveltyFilter(path)
        dim = novelty.embed_many([CANDIDATE]).shape[1]
        size = 0
        for target in sorted(args.sizes):
            start = time.perf_counter()
            fill(path, size, target, dim, rng)
            filled = time.perf_counter() - start
            size = target
            seconds = time_check(novelty, args.repeats)
            results.append((size, seconds))
            print(
                f"check vs {size:>7,} accepted: {seconds * 1e3:7.3f} ms   (filled in {filled:.1f} s)",
                flush=True,
            )
    base_size, base = results[0]
    for size, seconds in results[1:]:
        print(f"ratio {size:,} / {base_size:,}: {seconds / base:.2f}x time for {size / base_size:.0f}x size")
    print(f"embedding throughput ({EMBEDDING_MODEL}, cpu): {throughput():.0f} sentences/s")
    report_one_at_a_time(args.repeats)
    print(f"(cpu cores: {os.cpu_count()}, load average over the last 5 min: {os.getloadavg()[1]:.1f})")


if __name__ == "__main__":
    main()
