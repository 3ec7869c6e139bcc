"""Which benchmark item each question is most similar to, where only a similarity at or above a threshold counts.

Decontamination asks one thing of a question's embedding: is some item at least `threshold` close
(cosine)? Up to APPROXIMATE_FROM items the answer comes from an exact search, a float32 matrix product
over every item. Past it, the product grows with the items (100 times the items cost 12 times the time a
question), so a random-hyperplane index (SimHash LSH) proposes the candidates and only they are scored,
exactly: a question's similarity to a candidate is the same number the exact search gives, so the index
can miss a match but never invent one.

The index's parameters follow from the threshold alone: an item at similarity s to a question falls on
the same side of a random hyperplane with probability 1 - arccos(s) / pi, so with `bits` hyperplanes a
table and `tables` tables, an item exactly at the threshold is proposed with probability
1 - (1 - p**bits)**tables, set to RECALL; an item closer is proposed more often. That holds for any
vectors, random ones included, where graph indexes (HNSW) lose recall. Below the threshold the index
looks at nothing it need not: the nearest item it returns then is not the exact nearest, and need not be.
A threshold under about 0.8 would need more than MAX_TABLES tables, and is searched exactly.

chromadb's HNSW (the novelty filter's) was measured and left: over 1 ms a query through its client
whatever the collection's size, 5 times the exact search's at 1,000 items.
"""

from __future__ import annotations

import math

import numpy as np

APPROXIMATE_FROM = 20_000  # items: below, the exact search is about as fast
RECALL = 0.999  # the probability that an item exactly at the threshold is a candidate
MAX_TABLES = 128  # tables at most: 128 of 2**16 buckets keep 34 MB of bucket starts
_BITS = range(8, 17)  # hyperplanes a table: a table keeps where each of its 2**bits buckets starts
_GATHER = 20.0  # a candidate's similarity (a row gathered from memory) costs this many multiply-adds a dimension
_TABLE = 4_000  # a table's fixed cost a question (looking up a bucket, joining its ids), in multiply-adds
_ITEMS = 4096  # items per matrix product: 256 x 4096 similarities (4 MB) stay in the CPU's cache
_PAIRS = 16_384  # (query, candidate) pairs scored at once: 2 x 25 MB of gathered rows at 384 dimensions
_FEW = 8  # rows a product takes by einsum rather than BLAS (`_product`)
_SEED = 0  # the hyperplanes are the same in every process, so a decision is the same in every run


def nearest_rows(queries: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's most similar row of `matrix` (the first on a tie) and that similarity, exactly.

    The product runs over blocks of rows, each read once for all queries and kept in the CPU's cache,
    which makes a batch 2-3x faster than one product over the whole matrix at 100,000 rows.
    """
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    where = np.zeros(len(queries), dtype=np.int64)
    every = np.arange(len(queries))
    for start in range(0, len(matrix), _ITEMS):
        similarities = queries @ matrix[start : start + _ITEMS].T
        index = similarities.argmax(axis=1)
        value = similarities[every, index]
        better = value > best
        best[better], where[better] = value[better], index[better] + start
    return where, best


class ExactSearch:
    """Every item scored: the nearest row is the exact one, whatever its similarity."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = matrix

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query's nearest item and its similarity (`nearest_rows`)."""
        return nearest_rows(queries, self.matrix)


class HyperplaneIndex:
    """Random-hyperplane LSH over unit rows, its candidates scored exactly (`for_threshold` sizes it).

    Each table sorts the items by their `bits`-bit code (which side of each of its hyperplanes a row lies
    on) and keeps where each code's items start, so a query's bucket is one slice; at the default
    threshold 0.9, 100,000 items in 79 tables of 16 bits take 52 MB beside the 154 MB of their embeddings.

    Args:
        matrix: the items' unit embeddings, (items, dim) float32.
        bits: hyperplanes a table.
        tables: tables; a row is a candidate when it shares a code with the query in any of them.
    """

    def __init__(self, matrix: np.ndarray, bits: int, tables: int):
        self.matrix = matrix
        self.bits, self.tables = bits, tables
        rng = np.random.default_rng(_SEED)
        self._planes = rng.standard_normal((bits * tables, matrix.shape[1]), dtype=np.float32)
        self._weights = (1 << np.arange(bits, dtype=np.int32))[::-1]
        codes = np.concatenate([self._codes(matrix[start : start + _ITEMS])
                                for start in range(0, len(matrix), _ITEMS)]).T.copy()  # (tables, items)
        self._ids = np.argsort(codes, axis=1, kind="stable").astype(np.int32).ravel()  # table after table
        buckets = 1 << bits
        counts = np.bincount((codes + (np.arange(tables) * buckets)[:, None]).ravel(), minlength=tables * buckets)
        self._starts = np.zeros((tables, buckets + 1), dtype=np.int32)  # where a code's items start in a table
        np.cumsum(counts.reshape(tables, buckets), axis=1, out=self._starts[:, 1:])

    @classmethod
    def for_threshold(cls, matrix: np.ndarray, threshold: float) -> HyperplaneIndex | None:
        """The cheapest index that proposes an item at `threshold` with RECALL, or None where every fitting
        one needs more than MAX_TABLES tables (a low threshold: search exactly)."""
        fitting = [(cost, bits, tables) for bits in _BITS
                   if (tables := tables_needed(threshold, bits)) <= MAX_TABLES
                   and (cost := _cost(len(matrix), matrix.shape[1], bits, tables)) is not None]
        if not fitting:
            return None
        _, bits, tables = min(fitting)
        return cls(matrix, bits, tables)

    def _codes(self, rows: np.ndarray) -> np.ndarray:
        """Each row's code in each table, (rows, tables) int32."""
        sides = (_product(rows, self._planes) > 0).reshape(len(rows), self.tables, self.bits)
        return sides.astype(np.int32) @ self._weights

    def candidates(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (query, item) pairs sharing a bucket in some table, each once, sorted by query then item."""
        codes = self._codes(queries)  # (queries, tables)
        tables = np.arange(self.tables)
        starts = self._starts[tables, codes]
        lengths = (self._starts[tables, codes + 1] - starts).ravel()
        offsets = (starts + tables * len(self.matrix)).ravel()  # into the flattened (tables, items) ids
        total = int(lengths.sum())
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)
        items = self._ids[np.arange(total) - first + np.repeat(offsets, lengths)].astype(np.int64)
        owners = np.repeat(np.repeat(np.arange(len(queries)), self.tables), lengths)
        pairs = np.unique(owners * len(self.matrix) + items)
        return pairs // len(self.matrix), pairs % len(self.matrix)

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query's most similar candidate (the first on a tie) and that similarity, exact; item 0 and
        -inf for a query without candidates. The candidates of every query are scored together, in slices
        of _PAIRS pairs: a loop over the queries cost more than the scoring itself."""
        where = np.zeros(len(queries), dtype=np.int64)
        best = np.full(len(queries), -np.inf, dtype=np.float32)
        owners, items = self.candidates(queries)
        similarities = np.concatenate([np.einsum("ij,ij->i", queries[owners[start : start + _PAIRS]],
                                                 self.matrix[items[start : start + _PAIRS]])
                                       for start in range(0, len(owners), _PAIRS)] or [np.zeros(0, np.float32)])
        order = np.lexsort((items, -similarities, owners))  # by query, then best first, then lowest item
        firsts = order[np.flatnonzero(np.diff(owners[order], prepend=-1))]  # each query's best pair
        where[owners[firsts]], best[owners[firsts]] = items[firsts], similarities[firsts]
        return where, best


def _product(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """rows @ matrix.T; for a few rows by numpy's own loop (einsum), not BLAS, whose threads a product of one
    row wakes from sleep: 20 ms on a loaded machine, where einsum takes 0.07 ms for a code's 1,264 planes."""
    return np.einsum("ij,kj->ik", rows, matrix) if len(rows) <= _FEW else rows @ matrix.T


def tables_needed(threshold: float, bits: int, recall: float = RECALL) -> int:
    """Tables of `bits` hyperplanes that propose an item at `threshold` with probability `recall`."""
    together = (1 - math.acos(min(1.0, threshold)) / math.pi) ** bits  # one table's chance
    return math.ceil(math.log(1 - recall) / math.log1p(-together)) if together < 1 else 1


def _cost(items: int, dim: int, bits: int, tables: int) -> float | None:
    """A question's estimated cost in multiply-adds: coding it, the tables' look-ups, scoring the candidates
    (a random item shares a code with probability 2**-bits); None where that is no cheaper than exact."""
    cost = bits * tables * dim + tables * _TABLE + tables * items * 2.0**-bits * dim * _GATHER
    return cost if cost < items * dim else None


Search = ExactSearch | HyperplaneIndex
