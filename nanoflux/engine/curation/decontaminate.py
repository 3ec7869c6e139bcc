"""Decontamination: a question that copies or paraphrases an item of a benchmark you will report on is rejected.

Two tests, either enough. A shared word 8-gram after normalisation (lowercase, punctuation and
whitespace collapsed) catches copies, as open-r1's `scripts/decontaminate.py` (after s1) does: an item
or question shorter than 8 words has no 8-gram, so only the second test sees it. An embedding at least
`curation.decontaminate_threshold` close (cosine, the novelty filter's embedder and cache) catches
paraphrases an n-gram filter misses.

Each benchmark file is indexed once per process: its 8-grams hashed into one sorted array (a few bytes
per n-gram, where a dict of strings would take a hundred), its items' embeddings in one float32 matrix
searched exactly by a matrix product, or for a large benchmark through a random-hyperplane index whose
candidates are scored exactly (`similar`), batched over questions where the caller has many (`prepare`).

    checker = Decontaminator([load_benchmark("bench/math500.jsonl")], Embedder())
    checker.check("Find the sum of all integers n such that ...")   # [] when clean
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nanoflux.base.errors import MAX_PROBLEMS, QUOTE_CHARS, NanofluxError, quoted
from nanoflux.base.io import jsonl_rows, read_input
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.curation.similar import APPROXIMATE_FROM, ExactSearch, HyperplaneIndex, Search
from nanoflux.engine.journal import Contamination, RoundRecord
from nanoflux.spec.model import BenchmarkFile, CurationSpec

NGRAM = 8  # open-r1's (and s1's) n
QUESTION_FIELDS = ("question", "problem", "prompt")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
DEFAULT_THRESHOLD: float = CurationSpec.model_fields["decontaminate_threshold"].default
WORST = 5  # matches per benchmark a summary shows
_QUESTIONS = 256  # questions searched together: each block of items is read once for all of them
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so the hash of a window mixes every word's id
MAX_BENCHMARK_BYTES = 512 << 20  # read whole into memory; MATH's 12,500 problems are 10 MB
_READABLE = ("pass the path of a local JSONL, JSON, CSV or Parquet file of the benchmark's questions (save a hub "
             "dataset as one with `datasets`: load_dataset(...).to_json('bench.jsonl'))")
_CACHED = 8  # benchmark files kept indexed in this process
_INDEXED: dict[tuple[str, str, str | None, str], Benchmark] = {}  # (path, format, field, sha256) -> Benchmark
_NAME_FIELD = "name the question column with --field COLUMN, or `field:` in the spec's curation.decontaminate entry"


def words(text: str) -> list[str]:
    """`text` lowercased, punctuation turned into spaces, split on whitespace: what n-grams are made of."""
    return _PUNCTUATION.sub(" ", text.lower()).split()


class NgramIndex:
    """Which items hold a word n-gram: every n-gram of every item hashed into one sorted array, beside its item.

    Words become ids (one dict), and n-grams' hashes are computed by numpy over many texts at once, so
    100,000 items index in seconds and a batch of questions costs little more than reading its words. A
    hash hit is confirmed against the item's own words, so a collision can never reject a question.
    """

    def __init__(self, texts: Sequence[str], n: int = NGRAM):
        self.n = n
        self._texts = texts
        self._vocabulary: dict[str, int] = {}
        items, _, keys = self._ngrams([words(text) for text in texts], grow=True)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._items = items[order]

    def find(self, text: str) -> tuple[int, str] | None:
        """The item sharing the most n-grams with `text` (the first such item on a tie) and the first n-gram
        they share, or None."""
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[tuple[int, str] | None]:
        """`find` for each of `texts`, in one pass."""
        tokens = [words(text) for text in texts]
        owners, positions, keys = self._ngrams(tokens, grow=False)
        order = np.argsort(keys)  # needles in order: each search starts where the last ended, not at the top
        lows, highs = np.empty_like(order), np.empty_like(order)
        lows[order] = np.searchsorted(self._keys, keys[order], side="left")
        highs[order] = np.searchsorted(self._keys, keys[order], side="right")
        shared: list[dict[int, dict[str, None]]] = [{} for _ in texts]  # item -> the n-grams it shares, in order
        normalised: dict[int, str] = {}
        for hit in np.flatnonzero(highs > lows).tolist():
            owner, position = int(owners[hit]), int(positions[hit])
            gram = " ".join(tokens[owner][position : position + self.n])
            for item in self._items[lows[hit] : highs[hit]].tolist():
                if item not in normalised:
                    normalised[item] = f" {' '.join(words(self._texts[item]))} "
                if f" {gram} " in normalised[item]:
                    shared[owner].setdefault(item, {})[gram] = None
        return [_most_shared(found) for found in shared]

    def _ngrams(self, tokens: Sequence[list[str]], *, grow: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every n-gram of each text's words: which text, where in it it starts, and its hash.

        With `grow`, new words join the vocabulary; otherwise an n-gram with a word no item has is left out
        (it cannot match).
        """
        vocabulary = self._vocabulary
        ids: list[int] = []
        owners: list[int] = []
        for owner, text in enumerate(tokens):
            ids += ([vocabulary.setdefault(word, len(vocabulary)) for word in text] if grow
                    else [vocabulary.get(word, -1) for word in text])
            owners += [owner] * len(text)
        count = len(ids) - self.n + 1
        if count < 1:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
        word_ids, text_of = np.array(ids, dtype=np.int64), np.array(owners, dtype=np.int64)
        keys = np.zeros(count, dtype=np.uint64)
        known = text_of[:count] == text_of[self.n - 1 :]  # inside one text, not across two
        for offset in range(self.n):  # a polynomial hash, wrapping at 2**64
            window = word_ids[offset : offset + count]
            keys = keys * _MULTIPLIER + window.astype(np.uint64) + np.uint64(1)
            known &= window >= 0
        starts = np.flatnonzero(known)
        texts = text_of[starts]
        return texts, starts - np.searchsorted(text_of, texts), keys[known]


def _most_shared(found: dict[int, dict[str, None]]) -> tuple[int, str] | None:
    """The item with the most shared n-grams (the first on a tie) and the first of them."""
    if not found:
        return None
    item = min(found, key=lambda i: (-len(found[i]), i))
    return item, next(iter(found[item]))


@dataclasses.dataclass(eq=False)
class Benchmark:
    """One benchmark file's items and their n-gram index; embeddings are computed on first use, per model.

    Attributes:
        path: the file as the spec (or `--against`) names it; decisions and manifests name it so.
        field: the column the questions were read from.
        rows: each item's row in the file, from 0 (rows without a question are left out).
        texts: each item's question.
        sha256: the file's digest, so a manifest says which version of the benchmark was checked.
    """

    path: str
    field: str
    rows: list[int]
    texts: list[str]
    sha256: str
    index: NgramIndex = dataclasses.field(init=False, repr=False)
    _vectors: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, init=False, repr=False)
    _searches: dict[tuple[str, float | None], Search] = dataclasses.field(default_factory=dict, init=False,
                                                                          repr=False)

    def __post_init__(self) -> None:
        self.index = NgramIndex(self.texts)

    def vectors(self, embedder: Embedder) -> np.ndarray:
        """The items' unit embeddings, (items, dim) float32, from `embedder` (and its cache) once per model."""
        if embedder.model not in self._vectors:
            self._vectors[embedder.model] = np.ascontiguousarray(embedder.embed_many(self.texts), dtype=np.float32)
        return self._vectors[embedder.model]

    def search(self, embedder: Embedder, threshold: float, approximate_from: int = APPROXIMATE_FROM) -> Search:
        """The search over `vectors(embedder)`, built once per model (and threshold, for an index): exact
        under `approximate_from` items or where the threshold is too low for an index
        (`HyperplaneIndex.for_threshold`), the index otherwise."""
        approximate = len(self.texts) >= approximate_from
        key = (embedder.model, threshold if approximate else None)
        if key not in self._searches:
            matrix = self.vectors(embedder)
            index = HyperplaneIndex.for_threshold(matrix, threshold) if approximate else None
            self._searches[key] = index or ExactSearch(matrix)
        return self._searches[key]


def load_benchmark(path: str | Path, field: str | None = None) -> Benchmark:
    """Read and index a benchmark file, once per process while its content is unchanged.

    `field` names the question column; None takes the first of `question`, `problem`, `prompt` the
    file has. The format is the one the name given says (`bench.csv` is read as CSV even where it is
    a symlink to `bench.txt`); the file is a regular one of MAX_BENCHMARK_BYTES at most
    (`nanoflux.base.io.read_input`), read once. A missing or unreadable file, an unknown format or a
    missing column is a NanofluxError that says the fix.
    """
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise NanofluxError(f"benchmark file {path}: unknown format {Path(path).suffix or '(no extension)'!r}; use a "
                            f"{', '.join(FORMATS)} file (pandas and datasets write each: to_json, to_csv, to_parquet)")
    data = read_input(path, what="benchmark file", fix=_READABLE, limit=MAX_BENCHMARK_BYTES)
    key = (str(path), kind, field, hashlib.sha256(data).hexdigest())
    if key not in _INDEXED:
        _INDEXED[key] = _index(data, *key)
        while len(_INDEXED) > _CACHED:
            del _INDEXED[next(iter(_INDEXED))]  # the oldest
    return _INDEXED[key]


def _index(data: bytes, path: str, kind: str, field: str | None, digest: str) -> Benchmark:
    columns, rows = _read_rows(data, path, kind, field)
    chosen = field or next((name for name in QUESTION_FIELDS if name in columns), None)
    if chosen is None or chosen not in columns:
        wanted = f"no column {quoted(field)}" if field else f"none of the columns {', '.join(QUESTION_FIELDS)}"
        shown = ", ".join(name[:QUOTE_CHARS] for name in columns[:MAX_PROBLEMS])
        more = f" and {len(columns) - MAX_PROBLEMS} more" if len(columns) > MAX_PROBLEMS else ""
        raise NanofluxError(f"benchmark file {path} has {wanted} (its columns: {shown or 'none'}{more}); "
                            f"{_NAME_FIELD}")
    numbers, texts = [], []
    for number, row in enumerate(rows):
        value = row.get(chosen)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise NanofluxError(f"benchmark file {path}: column {quoted(chosen)} of row {number} holds a "
                                f"{type(value).__name__}, not a question's text; {_NAME_FIELD}")
        numbers.append(number)
        texts.append(value)
    if not texts:
        raise NanofluxError(f"benchmark file {path} has no question text in column {quoted(chosen)}; {_NAME_FIELD}")
    return Benchmark(path, chosen, numbers, texts, digest)


def _read_rows(data: bytes, path: str, kind: str, field: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The file's column names and its rows as mappings (a Parquet file: only the question column's)."""
    if kind == "parquet":
        return _read_parquet(data, path, field)
    if kind == "jsonl":
        fix = "a JSONL benchmark file holds one JSON object per item"
        rows = [row for _, row in jsonl_rows(data, path, fix=fix)]
    elif kind == "csv":
        try:
            rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise NanofluxError(f"benchmark file {path} is not a UTF-8 CSV file ({exc}); save it as one") from None
    else:
        rows = _json_rows(data, path)
    columns = list(dict.fromkeys(name for row in rows for name in row if name is not None))  # None: CSV extras
    return columns, rows


def _json_rows(data: bytes, path: str) -> list[dict[str, Any]]:
    """A JSON file's items: a list of objects, or an object holding one such list (`{"data": [...]}`)."""
    fix = "a JSON benchmark file holds a list of objects, one per item (or JSONL: one object a line)"
    try:
        items = json.loads(data)
    except ValueError as exc:
        raise NanofluxError(f"benchmark file {path} is not JSON ({exc}); {fix}") from None
    if isinstance(items, dict):
        lists = [value for value in items.values() if isinstance(value, list)]
        items = lists[0] if len(lists) == 1 else items
    if not isinstance(items, list) or not all(isinstance(row, dict) for row in items):
        raise NanofluxError(f"benchmark file {path}: {fix}")
    return items


def _read_parquet(data: bytes, path: str, field: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        columns = pq.read_schema(pa.BufferReader(data)).names
        chosen = field or next((name for name in QUESTION_FIELDS if name in columns), None)
        if chosen not in columns:
            return columns, []
        values = pq.read_table(pa.BufferReader(data), columns=[chosen]).column(chosen).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise NanofluxError(f"benchmark file {path} is not a readable Parquet file ({exc}); "
                            "write it again, e.g. with pandas' to_parquet") from None
    return columns, [{chosen: value} for value in values]


@dataclasses.dataclass
class Decontaminator:
    """Checks questions against benchmark files: what each copies (an 8-gram) or paraphrases (an embedding).

    Args:
        benchmarks: the indexed benchmark files (`load_benchmark`).
        embedder: embeds the questions and the items (the run's novelty embedder, so both share its cache).
        threshold: cosine similarity to an item at which a question is contaminated.
        approximate_from: items from which a benchmark's embeddings are searched through an index
            (`similar.HyperplaneIndex`: a match missed with probability 1 - `similar.RECALL` at most);
            `sys.maxsize` searches every benchmark exactly.
    """

    benchmarks: Sequence[Benchmark]
    embedder: Embedder
    threshold: float = DEFAULT_THRESHOLD
    approximate_from: int = APPROXIMATE_FROM
    _found: dict[str, list[Contamination]] = dataclasses.field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise NanofluxError(f"the decontamination threshold must be in (0, 1], got {self.threshold}")
        for benchmark in self.benchmarks:
            # built now: a model that cannot load fails before a run, and the index is not built mid-run
            benchmark.search(self.embedder, self.threshold, self.approximate_from)

    @classmethod
    def load(cls, benchmarks: Sequence[BenchmarkFile], embedder: Embedder,
             threshold: float = DEFAULT_THRESHOLD) -> Decontaminator | None:
        """The spec's benchmark entries (`curation.decontaminate`) read and indexed; None when there are none."""
        if not benchmarks:
            return None
        return cls([load_benchmark(entry.path, entry.field) for entry in benchmarks], embedder, threshold)

    def prepare(self, questions: Sequence[str]) -> None:
        """Check many questions in one batch (one embedding pass, one search per 256); `check` then answers
        them from memory."""
        todo = [text for text in dict.fromkeys(questions) if text not in self._found]
        if not todo:
            return
        queries = self.embedder.embed_many(todo)
        found: dict[str, list[Contamination]] = {text: [] for text in todo}
        for benchmark in self.benchmarks:
            search = benchmark.search(self.embedder, self.threshold, self.approximate_from)
            for start in range(0, len(todo), _QUESTIONS):
                batch = queries[start : start + _QUESTIONS]
                texts = todo[start : start + _QUESTIONS]
                nearest, closest = search.nearest(batch)
                for text, vector, copied, item, similarity in zip(texts, batch, benchmark.index.find_many(texts),
                                                                  nearest.tolist(), closest.tolist(), strict=True):
                    if copied is not None:  # the item it copies, which need not be the nearest embedding
                        similar = float(search.matrix[copied[0]] @ vector)
                        found[text].append({**self._item(benchmark, copied[0], similar), "method": "ngram",
                                            "ngram": copied[1]})
                    elif similarity >= self.threshold:
                        found[text].append({**self._item(benchmark, item, similarity), "method": "embedding"})
        for text, matches in found.items():
            self._found[text] = sorted(matches, key=lambda match: -match["similarity"])

    def check(self, question: str) -> list[Contamination]:
        """The benchmark items `question` matches, one per benchmark, most similar first; [] when clean."""
        if question not in self._found:
            self.prepare([question])
        return self._found[question]

    @staticmethod
    def _item(benchmark: Benchmark, item: int, similarity: float) -> dict[str, Any]:
        return {"benchmark": benchmark.path, "item": benchmark.rows[item], "text": benchmark.texts[item],
                "similarity": min(1.0, similarity)}  # float error can give 1.0000001

    def summary(self, checked: Iterable[tuple[int, str, list[Contamination]]], worst: int = WORST) -> dict[str, Any]:
        """The manifest's `decontamination`: per benchmark, the questions checked and matched (by method), and
        the `worst` matches, most similar first, each with its round and question beside the item.

        `checked` holds (round id, question, its matches) for every question checked (`journaled`).
        """
        rows = {benchmark.path: {"path": benchmark.path, "field": benchmark.field, "items": len(benchmark.texts),
                                 "sha256": benchmark.sha256, "checked": 0, "matched": 0,
                                 "methods": Counter[str](), "worst": []}
                for benchmark in self.benchmarks}
        for round_id, question, matches in checked:
            for row in rows.values():
                row["checked"] += 1
            for match in matches:
                if (row := rows.get(match["benchmark"])) is not None:
                    row["matched"] += 1
                    row["methods"][match["method"]] += 1
                    row["worst"].append({"round_id": round_id, "question": question, **match})
        for row in rows.values():
            row["methods"] = dict(sorted(row["methods"].items()))
            row["worst"] = sorted(row["worst"], key=lambda match: -match["similarity"])[:worst]
        return {"threshold": self.threshold, "ngram": NGRAM, "embedding_model": self.embedder.model,
                "benchmarks": list(rows.values())}


def journaled(records: Iterable[RoundRecord]) -> list[tuple[int, str, list[Contamination]]]:
    """(round id, question, matches) of each journaled round whose decision recorded a contamination check."""
    return [(record["round_id"], record["question"], record["curation"]["contamination"])
            for record in records if "contamination" in record["curation"]]

