"""Stand-ins the `Workspace` takes instead of the real model and the real time (the `embedder` and
`clock` fixtures in conftest): deterministic, and counting what they were asked."""

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

START = 1_800_000_000.0  # a fixed epoch second: fake-clock tests never depend on today's date


class FakeEmbedder:
    """Bag of hashed words → a unit vector: shared words make vectors close; counts every text it embeds."""

    def __init__(self, model_id: str = "fake", dim: int = 384) -> None:
        self.model_id = model_id
        self.dim = dim
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> NDArray[np.float32]:
        return self._vector(text)

    def _vector(self, text: str) -> NDArray[np.float32]:
        vector = np.full(self.dim, 1e-3, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        return (vector / np.linalg.norm(vector)).astype(np.float32)


class FakeClock:
    """Seconds since the epoch that move only when a test calls `advance` (leases, ETAs, timestamps)."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
