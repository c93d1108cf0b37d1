"""A connection per thread, opened on first use and closed together: what both stores hold (MCP runs
sync tools in worker threads, and a driver connection must not be shared between them)."""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

C = TypeVar("C")


class PerThread(Generic[C]):
    """`open_` makes a connection; `usable` says whether a thread's connection may still be used
    (a Postgres connection the server dropped is replaced); `close` closes one, quietly."""

    def __init__(
        self,
        open_: Callable[[], C],
        close: Callable[[C], None],
        usable: Callable[[C], bool] = lambda _: True,
    ) -> None:
        self._open, self._close, self._usable = open_, close, usable
        self._local = threading.local()
        self._all: list[C] = []
        self._lock = threading.Lock()

    def get(self) -> C:
        conn: C | None = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            if conn is not None:
                self.release()
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def count(self) -> int:
        """How many connections are open (one per thread that used the store)."""
        with self._lock:
            return len(self._all)

    def release(self) -> None:
        """Close this thread's connection (a worker thread that ends calls this)."""
        conn: C | None = getattr(self._local, "conn", None)
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            self._close(conn)
            self._local.conn = None

    def close_all(self) -> None:
        with self._lock:
            for conn in self._all:
                self._close(conn)
            self._all.clear()
        self._local = threading.local()
