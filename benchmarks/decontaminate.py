"""How decontamination scales: time to check one question against 1,000, 10,000 and 100,000 benchmark items.

The benchmark items are synthetic questions (random words, 20-60 each) written to a JSONL file and
read and indexed by `load_benchmark`, as a real benchmark is; their embeddings, and the questions',
are random unit vectors (dimension 384, as all-MiniLM-L6-v2's), because embedding 100,000 items with
the real model would take an hour on 2 cores and the search costs the same for any vectors. So the
figures are the check itself (normalising, 8-gram look-up, exact cosine search by a float32 matrix
product, the bookkeeping), not the model; the model's throughput is `benchmarks/novelty.py`'s. Half
the questions copy 12 words of an item, so the n-gram path is exercised on hits as well as misses.

Two ways a question is checked: in a batch (`Decontaminator.prepare`, what `nanoflux curate` and
`nanoflux decontaminate` do, one matrix product per 64 questions) and one at a time (`check`, what a
run does as each round finishes).

    python benchmarks/decontaminate.py [--sizes 1000 10000 100000] [--questions 256]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanoflux.engine.curation.decontaminate import Decontaminator, load_benchmark
from nanoflux.engine.curation.embeddings import Embedder

DIM = 384
VOCABULARY = [f"w{i}" for i in range(5000)]


def random_unit_vectors(texts: Sequence[str]) -> np.ndarray:
    """The stand-in encoder: one random unit vector per text."""
    rng = np.random.default_rng(len(texts))
    vectors = rng.standard_normal((len(texts), DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_items(path: Path, count: int, rng: np.random.Generator) -> list[str]:
    items = [" ".join(rng.choice(VOCABULARY, size=rng.integers(20, 61))) + "?" for _ in range(count)]
    path.write_text("".join(json.dumps({"problem": item}) + "\n" for item in items))
    return items


def questions_for(items: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """Half copy 12 words of an item inside words of their own; half share none of its 8-grams."""
    questions = []
    for index in range(count):
        own = " ".join(rng.choice(VOCABULARY, size=20))
        if index % 2:
            words = items[rng.integers(len(items))].split()
            start = rng.integers(len(words) - 12)
            own = f"{own} {' '.join(words[start : start + 12])}"
        questions.append(f"Question {index}: {own}?")
    return questions


def time_batched(decontaminator: Decontaminator, questions: list[str], repeats: int) -> float:
    """Median seconds per question when all are checked in one `prepare` (a fresh memo each time)."""
    times = []
    for _ in range(repeats):
        fresh = Decontaminator(decontaminator.benchmarks, decontaminator.embedder, decontaminator.threshold)
        start = time.perf_counter()
        fresh.prepare(questions)
        times.append((time.perf_counter() - start) / len(questions))
    return statistics.median(times)


def time_single(decontaminator: Decontaminator, questions: list[str]) -> float:
    """Median seconds of one `check` of a question not seen before."""
    times = []
    for question in questions:
        start = time.perf_counter()
        decontaminator.check(question)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--questions", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    embedder = Embedder("random-unit-vectors", cache=None, encoder=random_unit_vectors)
    results: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(args.sizes):
            path = Path(tmp) / f"bench-{size}.jsonl"
            items = write_items(path, size, rng)
            start = time.perf_counter()
            benchmark = load_benchmark(path)
            indexed = time.perf_counter() - start
            decontaminator = Decontaminator([benchmark], embedder)
            questions = questions_for(items, args.questions, rng)
            matched = sum(bool(decontaminator.check(q)) for q in questions)  # warms up; also checks the copies
            batched = time_batched(decontaminator, questions, args.repeats)
            single = time_single(decontaminator, questions_for(items, 64, rng))
            results.append((size, batched, single))
            print(f"{size:>7,} items: {batched * 1e3:7.3f} ms a question in batches, {single * 1e3:7.3f} ms one at a "
                  f"time  (read and 8-gram index {indexed:.1f} s; {matched}/{len(questions)} copies found)",
                  flush=True)
    base_size, base_batched, base_single = results[0]
    for size, batched, single in results[1:]:
        print(f"ratio {size:,} / {base_size:,} items: {batched / base_batched:.1f}x in batches, "
              f"{single / base_single:.1f}x one at a time, for {size / base_size:.0f}x the items")
    print(f"(cpu cores: {os.cpu_count()}, load average over the last 5 min: {os.getloadavg()[1]:.1f})")


if __name__ == "__main__":
    main()
