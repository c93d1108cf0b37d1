"""Everything one process holds while it works on a store: settings, the store, the embedder, the
embedding worker, the caches and the clock — opened on first use, closed together.

The MCP server (through the SDK's lifespan) and the CLI each hold one `Workspace` and pass its parts
to the core, which keeps no state of its own between calls. Nothing is read or opened until a command
or tool needs it, so the server answers its first request before touching the database; the embedding
model loads later still. Tests build one with a fake embedder and a fake clock.
"""

import sys
import threading
import time
from typing import TYPE_CHECKING

from .config import Settings, load_settings

if TYPE_CHECKING:  # numpy and the model runtime load with the first search or embedding, not before;
    # the store, jobs and synthesis with the first tool call (never before the server's first answer)
    from .embedding import EmbeddingWorker
    from .embedding.model import Embedder
    from .jobs import Clock
    from .search.quantized import BitIndexCache
    from .store import Store
    from .synthesis import ThemesCache


class Workspace:
    """Settings, store, embedder, embedding worker, caches and clock, each made once (thread-safe:
    MCP tools run in worker threads)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: "Embedder | None" = None,
        clock: "Clock" = time.time,
        background: bool = False,
    ) -> None:
        """`background`: start the embedding worker when the store opens (the server; the CLI embeds
        in the foreground). `embedder`, `clock`: what tests pass instead of the model and the time."""
        self._settings = settings
        self._store: Store | None = None
        self._embedder = embedder
        self._bit_indexes: BitIndexCache | None = None
        self._themes: ThemesCache | None = None
        self.clock = clock
        self.worker: EmbeddingWorker | None = None
        self.background = background
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> "Store":
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from .store import open_backend

                    settings = self.settings
                    self._store = open_backend(settings.db_path, settings.db_url, settings.project_key)
                    if self.background and self.settings.embed_in_background:
                        self._start_worker(self._store)
        return self._store

    @property
    def embedder(self) -> "Embedder":
        """The configured model (RLM_EMBED_MODEL), loaded on its first embedding, once per process."""
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from .embedding.model import FastEmbedder

                    self._embedder = FastEmbedder(self.settings.embed_model)
        return self._embedder

    @property
    def bit_indexes(self) -> "BitIndexCache":
        if self._bit_indexes is None:
            with self._lock:
                if self._bit_indexes is None:
                    from .search.quantized import BitIndexCache

                    self._bit_indexes = BitIndexCache()
        return self._bit_indexes

    @property
    def themes(self) -> "ThemesCache":
        """Synthesis' cache of folded themes, kept between pages of one job's synthesis."""
        if self._themes is None:
            with self._lock:
                if self._themes is None:
                    from .synthesis import ThemesCache

                    self._themes = ThemesCache()
        return self._themes

    def _start_worker(self, store: "Store") -> None:
        """Embeddings follow in the background (unless RLM_EMBED_BACKGROUND=0); a model that cannot
        load is reported by the worker (status shows it) and search answers with BM25."""
        from .embedding import EmbeddingWorker

        self.worker = EmbeddingWorker(store, self.embedder)
        self.worker.start()

    def wake_embedding(self) -> None:
        """After a load: the worker (if this process has one) embeds the new chunks now."""
        if self.worker is not None:
            self.worker.notify()

    def close(self) -> bool:
        """Stop and join the worker (bounded; its unfinished batch is released), close the store.
        True when everything stopped; False when the worker thread is still inside the model."""
        with self._lock:
            stopped = self.worker.stop() if self.worker is not None else True
            self.worker = None
            bm25 = sys.modules.get("rlm_mcp.search.bm25_read_ahead")  # loaded only if a search ran
            if bm25 is not None:
                bm25.stop_read_ahead()  # its thread reads through the store about to close
            if self._store is not None:
                self._store.close()
                self._store = None
            if self._themes is not None:
                self._themes.clear()
            if self._bit_indexes is not None:
                self._bit_indexes.clear()
        return stopped
