"""Document vectors kept on disk by text, for the retrieval benchmarks: a rerun, or a store whose
chunks are partly the same, runs the model only on texts it has not seen.

`CachedEmbedder` wraps the real model (queries always go to the model). `seed_from_stores` fills the
cache from the `embeddings` tables of stores an earlier run left behind (read-only), keeping a store's
vectors only when the model, run now on a sample of its texts, gives the same vectors: a store made
by another version of the model or of the conversion is ignored.
"""

import hashlib
import random
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlm_mcp.embedding.model import FastEmbedder

SEED_CHECK_TEXTS = 4  # texts of each store re-embedded before its vectors are trusted
SEED_MIN_COSINE = 0.99999  # the model is deterministic per text (one text per call, no padding)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cache_path(folder: Path, model_id: str) -> Path:
    return folder / f"vectors-{model_id}.npz"


class CachedEmbedder:
    """The real model with its document vectors kept on disk by text hash."""

    def __init__(self, inner: FastEmbedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.cache: dict[str, bytes] = {}
        self.computed = 0
        if path.exists():
            data = np.load(path)
            self.cache = {k: data[k].tobytes() for k in data.files}

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def load(self) -> None:
        self.inner.load()

    def embed_documents(self, texts: Sequence[str]) -> Any:
        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        if missing:
            matrix = self.inner.embed_documents([texts[i] for i in missing])
            for row, i in enumerate(missing):
                self.cache[keys[i]] = matrix[row].astype(np.float32).tobytes()
            self.computed += len(missing)
        return np.stack([np.frombuffer(self.cache[k], dtype=np.float32) for k in keys])

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.frombuffer(v, dtype=np.float32) for k, v in self.cache.items()}
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(self.path)


def _store_vectors(db: Path, model_id: str) -> list[tuple[str, bytes]]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        rows = conn.execute(
            "SELECT c.text, e.vector FROM chunks c JOIN embeddings e "
            "ON e.content_hash = c.content_hash AND e.model = ?",
            (model_id,),
        ).fetchall()
    except sqlite3.Error:  # not a store of ours, or an older schema
        return []
    finally:
        conn.close()
    return [(str(text), bytes(vector)) for text, vector in rows]


def seed_from_stores(embedder: CachedEmbedder, stores: Iterable[Path], log: Any = print) -> int:
    """Add the vectors of `stores` (rlm.db files) for `embedder`'s model; returns how many were new."""
    added = 0
    for db in stores:
        pairs = {text_key(t): (t, v) for t, v in _store_vectors(db, embedder.model_id)}
        fresh = [k for k in pairs if k not in embedder.cache]
        if not fresh:
            continue
        sample = random.Random(0).sample(sorted(pairs), min(SEED_CHECK_TEXTS, len(pairs)))
        now = embedder.inner.embed_documents([pairs[k][0] for k in sample])
        stored = np.stack([np.frombuffer(pairs[k][1], dtype=np.float32) for k in sample])
        cosine = float(np.min(np.sum(now * stored, axis=1)))
        if cosine < SEED_MIN_COSINE:
            log(f"  {db}: {len(fresh)} vectors ignored (cosine {cosine:.6f} to the model run now)")
            continue
        for k in fresh:
            embedder.cache[k] = pairs[k][1]
        added += len(fresh)
        log(f"  {db}: {len(fresh)} vectors taken (checked on {len(sample)} texts, cosine >= {cosine:.6f})")
    return added
