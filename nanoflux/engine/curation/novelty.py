"""Novelty: a candidate question is rejected when it is too close to one already accepted.

Accepted questions are stored in a chromadb collection (cosine space) in the run directory's ``novelty/``
folder, so a resumed run keeps its memory and later runs can check against it (``against``); lookups
search a copy of them in memory (`NoveltyFilter`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import ThreadpoolController

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import EMBEDDING_MODEL
from nanoflux.base.paths import COLLECTION_STORE, EMBEDDING_CACHE, NOVELTY_DIR, RunDir
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.journal import RoundRecord
from nanoflux.spec.model import CurationSpec

if TYPE_CHECKING:
    from chromadb import Collection

logger = logging.getLogger(__name__)

COLLECTION = "accepted"
UPSERT_BATCH = 5000  # ids per chromadb call, under its batch limit
DEFAULT_THRESHOLD: float = CurationSpec.model_fields["novelty"].default


@dataclasses.dataclass(frozen=True)
class NoveltyResult:
    """The verdict on one candidate and the accepted question it came closest to.

    Attributes:
        novel: ``similarity`` is below the threshold (or nothing has been accepted yet).
        similarity: cosine similarity to the nearest accepted question; ``None`` when none exists.
        nearest_id: id of that question (as given to :meth:`NoveltyFilter.add`).
        nearest_text: its text, so a rejection can be shown next to what it repeats.
    """

    novel: bool
    similarity: float | None = None
    nearest_id: str | None = None
    nearest_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def open_collection(path: Path, model: str, *, create: bool = True) -> Collection | None:
    """The collection of accepted questions stored in ``path`` (``None`` if absent and not ``create``).

    The collection records the embedding model that filled it: vectors from two models are not
    comparable, so opening it with another model is an error rather than a silent wrong answer.
    """
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    if create:
        collection = client.get_or_create_collection(
            COLLECTION,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"model": model},
            embedding_function=None,
        )
    elif COLLECTION in {c.name for c in client.list_collections()}:
        collection = client.get_collection(COLLECTION, embedding_function=None)
    else:
        return None
    stored = (collection.metadata or {}).get("model")
    if stored != model:
        raise NanofluxError(
            f"the novelty collection in {path} was built with embedding model {stored!r}, not {model!r}; "
            f"pass model={stored!r} or use a fresh run directory."
        )
    return collection


def _novelty_dir(run: Path) -> Path:
    """Accept a run directory or its ``novelty/`` folder, whichever the user has at hand."""
    for candidate in (RunDir(run).novelty, run):
        if (candidate / COLLECTION_STORE).is_file():
            return candidate
    raise NanofluxError(
        f"no novelty collection in {run}: pass a run directory that has been curated "
        f"(it contains {NOVELTY_DIR}/{COLLECTION_STORE}), or drop it from `against`."
    )


class NoveltyFilter:
    """Rejects candidates whose cosine similarity to an accepted question reaches ``threshold``.

    Lookups run on an in-memory matrix of the accepted questions' unit-length embeddings (this run's
    and the ``against`` runs'): an exact search, 0.03 ms a query at a thousand questions and about
    1 ms at ten thousand, where a chromadb query cost 1.4 ms and an upsert 10-20 ms. The chromadb collection stays the
    persisted store (resume, ``against``): ``add`` writes to it at once, or, inside ``deferred()``,
    in batches (`flush`), about 0.3 ms a question. The journal is the truth either way: `rebuild`
    makes the collection match it.

    Args:
        path: the folder holding this run's collection and embedding cache (``<run>/novelty``).
        threshold: similarity at or above which a candidate counts as a repeat. With
            all-MiniLM-L6-v2, real rewordings of a question scored 0.70-0.95 (most above 0.82) and
            different questions on the same topic 0.20-0.79, with a few one-word variants
            ("community-" vs "hospital-acquired pneumonia") up to 0.93. 0.80 catches most rewordings
            and costs an occasional extra round; 0.85 let half the rewordings through.
        model: the sentence-transformers model (see :func:`~nanoflux.engine.curation.embeddings.load_embedder`).
        against: other run directories whose accepted questions also count, read-only.
        embedder: the embedder to use (e.g. one sharing another run's cache); by default one of
            `model` caching in `path`.

    Example::

        novelty = NoveltyFilter(RunDir(run_dir).novelty)
        if novelty.check(question).novel:
            novelty.add(round_id, question)
    """

    def __init__(
        self,
        path: Path,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        model: str = EMBEDDING_MODEL,
        against: Sequence[Path] = (),
        embedder: Embedder | None = None,
    ):
        if not 0.0 < threshold <= 1.0:
            raise NanofluxError(f"novelty threshold must be in (0, 1], got {threshold}")
        self.path = Path(path)
        self.threshold = threshold
        self.path.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder or Embedder(model, cache=self.path / EMBEDDING_CACHE)
        self._collection = open_collection(self.path, model)
        self._own = _Questions.of(self._collection, self.embedder)
        other_dirs = {_novelty_dir(Path(run)).resolve() for run in against} - {self.path.resolve()}
        others = (open_collection(path, model, create=False) for path in sorted(other_dirs))
        self._others = _Questions.joined([_Questions.of(c, self.embedder) for c in others if c is not None])
        self._unsaved: dict[str, tuple[str, dict[str, Any] | None]] = {}  # id -> text, metadata: not yet upserted
        self._deferred = False

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch ahead of checking its items one by one: one model pass instead of many."""
        return self.embedder.embed_many(texts)

    def check(self, text: str) -> NoveltyResult:
        """Compare ``text`` with the nearest question accepted here or in the ``against`` runs."""
        hits = self._query(text, 1)
        if not hits:
            return NoveltyResult(novel=True)
        similarity, item_id, nearest_text = hits[0]
        return NoveltyResult(similarity < self.threshold, similarity, item_id, nearest_text)

    def add(self, item_id: str, text: str, metadata: dict[str, Any] | None = None) -> None:
        """Accept ``text``; adding an id again replaces it, so replaying a journal is harmless."""
        self._own.put(item_id, text, self.embedder.embed(text))
        self._unsaved[item_id] = (text, metadata)
        if not self._deferred:
            self.flush()

    @contextmanager
    def deferred(self) -> Iterator[NoveltyFilter]:
        """Within it, `add` keeps questions in memory (every lookup sees them) and the collection takes them
        when the caller calls `flush`, or at the end: one upsert for many questions."""
        self._deferred = True
        try:
            yield self
        finally:
            self._deferred = False
            self.flush()

    def flush(self, at_least: int = 1) -> None:
        """Write the accepted questions not yet in the collection, and the embeddings the embedder was given
        (`Embedder.remember`) to its cache, each once at least ``at_least`` wait."""
        if len(self._unsaved) >= at_least:
            for labelled in (True, False):  # chromadb takes metadata for every item of a call or for none
                ids = [item_id for item_id, (_, metadata) in self._unsaved.items() if bool(metadata) is labelled]
                for start in range(0, len(ids), UPSERT_BATCH):
                    chunk = ids[start : start + UPSERT_BATCH]
                    self._collection.upsert(ids=chunk, embeddings=self._own.vectors_of(chunk),
                                            documents=[self._unsaved[item_id][0] for item_id in chunk],
                                            metadatas=[self._unsaved[item_id][1] for item_id in chunk]  # type: ignore[misc]
                                            if labelled else None)
            self._unsaved.clear()
        self.embedder.flush(at_least)

    def rebuild(self, accepted: Sequence[RoundRecord]) -> None:
        """Make this run's collection hold exactly the journal's accepted rounds (the journal is the truth).

        A question added by a round that was killed before its journal line was written is dropped,
        so the replayed round is not judged a duplicate of itself; one the collection lacks (a run killed
        before a deferred `flush`) is added.
        """
        keep = {str(record["round_id"]): record for record in accepted}
        stored = self._collection.get(include=["documents"])
        held = dict(zip(stored["ids"], stored["documents"] or [], strict=True))
        stale = [item_id for item_id in held if item_id not in keep]
        for start in range(0, len(stale), UPSERT_BATCH):
            self._collection.delete(ids=stale[start : start + UPSERT_BATCH])
        vectors = self.embed_many([record["question"] for record in keep.values()])  # one batch, mostly cache hits
        self._own = _Questions()
        self._unsaved.clear()
        for (item_id, record), vector in zip(keep.items(), vectors, strict=True):
            self._own.put(item_id, record["question"], vector)
            if held.get(item_id) != record["question"]:
                self._unsaved[item_id] = (record["question"], {"topic": record["topic"]})
        self.flush()

    def nearest(self, text: str, k: int = 3) -> list[str]:
        """The ``k`` accepted questions closest to ``text``: the attacker is shown them to steer away."""
        return [hit_text for _, _, hit_text in self._query(text, k)]

    def clear(self) -> None:
        """Forget this run's accepted questions (re-curation), keeping the embedding cache."""
        ids = self._collection.get(include=[])["ids"]
        for start in range(0, len(ids), UPSERT_BATCH):
            self._collection.delete(ids=ids[start : start + UPSERT_BATCH])
        self._own = _Questions()
        self._unsaved.clear()

    def __len__(self) -> int:
        return len(self._own)

    def _query(self, text: str, k: int) -> list[tuple[float, str, str]]:
        """(similarity, id, text) of the ``k`` nearest accepted questions over all collections, best first."""
        embedding = self.embedder.embed(text)
        hits = self._own.nearest(embedding, k) + self._others.nearest(embedding, k)
        return sorted(hits, key=lambda hit: hit[0], reverse=True)[:k]


class _Questions:
    """Accepted questions as rows of a growing matrix of unit-length embeddings, searched exactly."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.rows: dict[str, int] = {}
        self.matrix = np.empty((0, 0), np.float32)  # capacity rows; the first len(self) hold questions

    @classmethod
    def of(cls, collection: Collection, embedder: Embedder) -> _Questions:
        """The questions a chromadb collection holds, with the vectors it stored or, where it cannot give them
        (a collection whose process was killed can hold a question its vector index lacks), `embedder`'s."""
        from chromadb.errors import ChromaError

        questions = cls()
        try:
            stored = collection.get(include=["embeddings", "documents"])
            vectors = stored["embeddings"] if stored["embeddings"] is not None else []
        except ChromaError as exc:
            logger.info("the novelty collection gives no vectors (%s); its questions are embedded again", exc)
            stored = collection.get(include=["documents"])
            vectors = embedder.embed_many(stored["documents"] or [])
        for item_id, text, vector in zip(stored["ids"], stored["documents"] or [], vectors, strict=True):
            questions.put(item_id, text, np.asarray(vector, np.float32))
        return questions

    @classmethod
    def joined(cls, parts: list[_Questions]) -> _Questions:
        """Several runs' questions as one (ids may repeat across runs: each keeps its own row)."""
        questions = cls()
        for part in parts:
            for item_id, text, row in zip(part.ids, part.texts, part.matrix, strict=False):
                questions.append(item_id, text, row)
        return questions

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, item_id: str, text: str, vector: np.ndarray) -> None:
        """Add a question, or replace the one with this id."""
        if (row := self.rows.get(item_id)) is not None:
            self.texts[row] = text
            self.matrix[row] = _unit(vector)
        else:
            self.rows[item_id] = len(self.ids)
            self.append(item_id, text, vector)

    def append(self, item_id: str, text: str, vector: np.ndarray) -> None:
        if len(self.ids) == len(self.matrix):
            grown = np.zeros((max(64, 2 * len(self.matrix)), len(vector)), np.float32)
            if self.ids:
                grown[: len(self.ids)] = self.matrix[: len(self.ids)]
            self.matrix = grown
        self.matrix[len(self.ids)] = _unit(vector)
        self.ids.append(item_id)
        self.texts.append(text)

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        return self.matrix[[self.rows[item_id] for item_id in ids]]

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[float, str, str]]:
        """(similarity, id, text) of the ``k`` questions most similar to ``vector``, best first."""
        if not self.ids or k < 1:
            return []
        with _blas().limit(limits=1, user_api="blas"):
            similarities = self.matrix[: len(self.ids)] @ vector
        best = np.argpartition(-similarities, k - 1)[:k] if k < len(self.ids) else np.arange(len(self.ids))
        best = best[np.argsort(-similarities[best], kind="stable")]
        # float error can give 1.0000001 for a question against itself
        return [(min(1.0, float(similarities[row])), self.ids[row], self.texts[row]) for row in best]


@functools.cache
def _blas() -> ThreadpoolController:
    """numpy's BLAS, held to one thread for a lookup: a matrix-vector product over a few thousand questions took
    17 ms on BLAS's threads on 2 busy cores (they spin against other work), 0.17 ms on one; the limit costs 9 us."""
    return ThreadpoolController()


def _unit(vector: np.ndarray) -> np.ndarray:
    """The vector at unit length (the embedder's already are; chromadb's cosine space normalised them too)."""
    vector = np.asarray(vector, np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
