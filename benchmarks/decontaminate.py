"""How decontamination scales: time to check one question against 1,000, 10,000 and 100,000 benchmark items.

The benchmark items are synthetic questions (random words, 20-60 each) written to a JSONL file and
read and indexed by `load_benchmark`, as a real benchmark is; their embeddings, and the questions',
are random unit vectors (dimension 384, as all-MiniLM-L6-v2's), because embedding 100,000 items with
the real model would take an hour on 2 cores. So the figures are the check itself (normalising, 8-gram
look-up, the embedding search, the bookkeeping), not the model; the model's throughput is
`benchmarks/novelty.py`'s. A third of the questions copy 12 words of an item (the n-gram path), a third
paraphrase one (a vector at similarity between the threshold and 1 to the item's, words of their own),
a third neither. Random vectors are the hardest case for an approximate index (no structure to find),
and the paraphrases are what it must not miss.

Two ways a question is checked: in a batch (`Decontaminator.prepare`, what `nanoflux curate` and
`nanoflux decontaminate` do, one search per 256 questions) and one at a time (`check`, what a run
does as each round finishes). From `similar.APPROXIMATE_FROM` items the search goes through the
random-hyperplane index: at those sizes the exact search is timed too, with the index's build time
and its recall against the exact search (of the paraphrased items, of every item at or above the
threshold, of the decisions, and of the nearest item of a random question, which the index does not
look for below the threshold), on paraphrases anywhere from the threshold to 1 and on ones just above it,
the hardest to find.

    python benchmarks/decontaminate.py [--sizes 1000 10000 100000] [--questions 256] [--recall 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanoflux.engine.curation.decontaminate import DEFAULT_THRESHOLD, Decontaminator, load_benchmark
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.similar import APPROXIMATE_FROM, ExactSearch, HyperplaneIndex

DIM = 384
VOCABULARY = [f"w{i}" for i in range(5000)]


class StandIn:
    """The stand-in encoder: a random unit vector per text, the same each time it is asked, except the
    paraphrases planted at a chosen similarity to an item's vector."""

    def __init__(self, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self.vectors]
        self.vectors.update(zip(missing, unit(self.rng.standard_normal((len(missing), DIM), dtype=np.float32)),
                                strict=True))
        return np.stack([self.vectors[text] for text in texts])

    def plant(self, text: str, item: np.ndarray, similarity: float) -> None:
        """`text`'s vector at `similarity` to the unit vector `item`, in a random direction from it."""
        away = self.rng.standard_normal(DIM).astype(np.float32)
        away = unit((away - (away @ item) * item)[None])[0]
        self.vectors[text] = (similarity * item + np.sqrt(1 - similarity**2) * away).astype(np.float32)


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_items(path: Path, count: int, rng: np.random.Generator) -> list[str]:
    items = [" ".join(rng.choice(VOCABULARY, size=rng.integers(20, 61))) + "?" for _ in range(count)]
    path.write_text("".join(json.dumps({"problem": item}) + "\n" for item in items))
    return items


def questions_for(items: list[str], matrix: np.ndarray, count: int, rng: np.random.Generator, encoder: StandIn,
                  kinds: str = "cpn", closest: float = 1.0) -> list[str]:
    """`count` questions of 20 words of their own, in turn of each kind: c copies 12 words of an item,
    p paraphrases one (its vector planted at a similarity between the threshold and `closest` to the
    item's), n does neither."""
    questions = []
    for index in range(count):
        text = f"Question {index} {rng.integers(1 << 62)}: {' '.join(rng.choice(VOCABULARY, size=20))}"
        kind, item = kinds[index % len(kinds)], int(rng.integers(len(items)))
        if kind == "c":
            words = items[item].split()
            start = rng.integers(len(words) - 12)
            text = f"{text} {' '.join(words[start : start + 12])}"
        elif kind == "p":
            encoder.plant(f"{text}?", matrix[item], float(rng.uniform(DEFAULT_THRESHOLD, closest)))
        questions.append(f"{text}?")
    return questions


def time_batched(decontaminator: Decontaminator, questions: list[str]) -> float:
    """Seconds per question when all are checked in one `prepare` (a fresh memo)."""
    fresh = Decontaminator(decontaminator.benchmarks, decontaminator.embedder, decontaminator.threshold,
                           decontaminator.approximate_from)
    start = time.perf_counter()
    fresh.prepare(questions)
    return (time.perf_counter() - start) / len(questions)


def time_single(decontaminator: Decontaminator, questions: list[str]) -> float:
    """Median seconds of one `check` of a question not seen before."""
    times = []
    for question in questions:
        start = time.perf_counter()
        decontaminator.check(question)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def recall(index: HyperplaneIndex, paraphrases: np.ndarray, random: np.ndarray) -> dict[str, float]:
    """The index against the exact search: the share of the items at or above the threshold that it proposes
    (every such item of every question), of the questions whose nearest item it names (those with one at or
    above the threshold; then the random ones, whose nearest is far below), and of the decisions it keeps."""
    exact = ExactSearch(index.matrix)
    queries = np.concatenate([paraphrases, random])
    (where, best), (found, closest) = exact.nearest(queries), index.nearest(queries)
    owners, items = index.candidates(queries)
    proposed = set(zip(owners.tolist(), items.tolist(), strict=True))
    above: list[tuple[int, int]] = []
    for start in range(0, len(queries), 256):
        rows, columns = np.nonzero(queries[start : start + 256] @ index.matrix.T >= DEFAULT_THRESHOLD)
        above += zip((rows + start).tolist(), columns.tolist(), strict=True)
    hit = best >= DEFAULT_THRESHOLD
    far = np.arange(len(queries)) >= len(paraphrases)
    return {"pairs": sum(pair in proposed for pair in above) / len(above), "above": len(above),
            "hits": float(np.mean(found[hit] == where[hit])), "questions_hit": int(hit.sum()),
            "decisions": float(np.mean((closest >= DEFAULT_THRESHOLD) == hit)),
            "top1_random": float(np.mean(found[far] == where[far])),
            "candidates": len(items) / len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--questions", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--recall", type=int, default=2000, help="paraphrases (and random questions) for recall")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    encoder = StandIn()
    embedder = Embedder("random-unit-vectors", cache=None, encoder=encoder)
    checkers: list[tuple[int, str, Decontaminator, list[str]]] = []  # (size, search, checker, items)
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(args.sizes):
            path = Path(tmp) / f"bench-{size}.jsonl"
            items = write_items(path, size, rng)
            start = time.perf_counter()
            benchmark = load_benchmark(path)
            indexed = time.perf_counter() - start
            matrix = benchmark.vectors(embedder)
            start = time.perf_counter()
            checker = Decontaminator([benchmark], embedder)
            built = time.perf_counter() - start
            search = benchmark.search(embedder, checker.threshold)
            questions = questions_for(items, matrix, args.questions, rng, encoder)
            matched = sum(bool(checker.check(q)) for q in questions)
            print(f"{size:>7,} items: read and 8-gram index {indexed:.1f} s; {matched}/{len(questions)} matched, of "
                  f"{len(questions) - len(questions) // 3} copies and paraphrases", flush=True)
            checkers.append((size, "default", checker, items))
            if isinstance(search, HyperplaneIndex):
                print(f"  index of {search.tables} tables of {search.bits} bits, built in {built:.1f} s", flush=True)
                random = unit(rng.standard_normal((args.recall, DIM), dtype=np.float32))
                for closest in (1.0, DEFAULT_THRESHOLD + 0.01):
                    paraphrases = encoder(questions_for(items, matrix, args.recall, rng, encoder, "p", closest))
                    measured = recall(search, paraphrases, random)
                    print(f"  recall against exact search, paraphrases at {DEFAULT_THRESHOLD}-{closest:.2f}: "
                          f"{measured['pairs']:.4f} of the {measured['above']} (question, item) pairs at or above "
                          f"{DEFAULT_THRESHOLD}; nearest item named for {measured['hits']:.4f} of the "
                          f"{measured['questions_hit']} questions with one there; decisions {measured['decisions']:.4f}"
                          f"; nearest item of a random question {measured['top1_random']:.3f} (not looked for below "
                          f"the threshold); {measured['candidates']:.0f} candidates a question", flush=True)
                checkers.append((size, "exact", Decontaminator([benchmark], embedder, approximate_from=sys.maxsize),
                                 items))
        times: dict[tuple[int, str], list[tuple[float, float]]] = {(size, name): [] for size, name, _, _ in checkers}
        for _ in range(args.repeats):  # the sizes in turn, so a change in the machine's load reaches them all
            for size, name, checker, items in checkers:
                matrix = checker.benchmarks[0].vectors(embedder)
                times[size, name].append((time_batched(checker, questions_for(items, matrix, args.questions, rng,
                                                                              encoder)),
                                          time_single(checker, questions_for(items, matrix, 64, rng, encoder))))
    medians = {key: (statistics.median(b for b, _ in runs), statistics.median(s for _, s in runs))
               for key, runs in times.items()}
    (base_size, _), (base_batched, base_single) = next(iter(medians.items()))
    for (size, name), (batched, single) in medians.items():
        search = "exact" if name == "exact" or size < APPROXIMATE_FROM else "index"
        ratio = (f"  ({batched / base_batched:.1f}x and {single / base_single:.1f}x {base_size:,} items', for "
                 f"{size / base_size:.0f}x the items)" if size != base_size else "")
        print(f"{size:>7,} items, {search}: {batched * 1e3:6.3f} ms a question in batches, {single * 1e3:7.3f} ms one "
              f"at a time{ratio}")
    print(f"(cpu cores: {os.cpu_count()}, load average over the last 5 min: {os.getloadavg()[1]:.1f})")


if __name__ == "__main__":
    main()
