"""The settings and the store one process works on, opened on first use.

The MCP server and the CLI both hold one `Workspace`; nothing is read or opened until a command or
tool needs it, so the server answers its first request before touching the database.
"""

import threading
from collections.abc import Callable

from .config import Settings, load_settings
from .store import Store, open_store


class Workspace:
    """Settings and the store, opened lazily and once (thread-safe: MCP tools run in worker threads)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._store: Store | None = None
        self._lock = threading.Lock()
        self.on_store_open: list[Callable[[Workspace], None]] = []

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.db_path)
                    for hook in self.on_store_open:
                        hook(self)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
