"""Novelty: a candidate question is rejected when it is too close to one already accepted.

Accepted questions live in a chromadb collection (cosine space) in the run directory's ``novelty/``
folder, so a resumed run keeps its memory and later runs can check against it (``against``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import EMBEDDING_MODEL
from nanoflux.base.paths import COLLECTION_STORE, EMBEDDING_CACHE, NOVELTY_DIR, RunDir
from nanoflux.engine.curation.embeddings import Embedder
from nanoflux.engine.journal import RoundRecord
from nanoflux.spec.model import CurationSpec

if TYPE_CHECKING:
    from chromadb import Collection

COLLECTION = "accepted"
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
        other_dirs = {_novelty_dir(Path(run)).resolve() for run in against} - {self.path.resolve()}
        others = (open_collection(path, model, create=False) for path in sorted(other_dirs))
        self._others = [c for c in others if c is not None]

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
        self._collection.upsert(
            ids=[item_id],
            embeddings=[self.embedder.embed(text)],
            documents=[text],
            metadatas=[metadata] if metadata else None,
        )

    def rebuild(self, accepted: Sequence[RoundRecord]) -> None:
        """Make this run's collection hold exactly the journal's accepted rounds (the journal is the truth).

        A question added by a round that was killed before its journal line was written is dropped,
        so the replayed round is not judged a duplicate of itself.
        """
        keep = {str(record["round_id"]): record for record in accepted}
        stale = [item_id for item_id in self._collection.get(include=[])["ids"] if item_id not in keep]
        for start in range(0, len(stale), 5000):
            self._collection.delete(ids=stale[start : start + 5000])
        if keep:
            self.embed_many([record["question"] for record in keep.values()])  # one batch, mostly cache hits
        for item_id, record in keep.items():
            self.add(item_id, record["question"], {"topic": record["topic"]})

    def nearest(self, text: str, k: int = 3) -> list[str]:
        """The ``k`` accepted questions closest to ``text``: the attacker is shown them to steer away."""
        return [hit_text for _, _, hit_text in self._query(text, k)]

    def clear(self) -> None:
        """Forget this run's accepted questions (re-curation), keeping the embedding cache."""
        ids = self._collection.get(include=[])["ids"]
        for start in range(0, len(ids), 5000):
            self._collection.delete(ids=ids[start : start + 5000])

    def __len__(self) -> int:
        return self._collection.count()

    def _query(self, text: str, k: int) -> list[tuple[float, str, str]]:
        """(similarity, id, text) of the ``k`` nearest accepted questions over all collections, best first."""
        embedding = self.embedder.embed(text)
        hits: list[tuple[float, str, str]] = []
        for collection in (self._collection, *self._others):
            found = collection.query(
                query_embeddings=[embedding], n_results=k, include=["documents", "distances"]
            )
            hits += [
                (min(1.0, 1.0 - distance), item_id, document)  # float error can give 1.0000007
                for item_id, document, distance in zip(
                    found["ids"][0], found["documents"][0], found["distances"][0], strict=True
                )
            ]
        return sorted(hits, key=lambda hit: hit[0], reverse=True)[:k]
